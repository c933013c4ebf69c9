//! Rows of the list screens, filtered and sorted: one function feeds both `update` (to move the
//! selection) and `view` (to draw), so they always agree.

use super::fuzzy;
use super::screen::TableScreen;
use super::state::State;
use crate::history::PolicyKey;
use crate::isolation::findings::Finding;
use crate::model::{Directions, ObjectRef};

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRow {
    pub key: String,
    pub id: ObjectRef,
    pub tenant: String,
    /// `None` until the first analysis.
    pub pods: Option<usize>,
    pub directions: Directions,
    /// When the policy last changed (RFC 3339), empty when unknown.
    pub changed: String,
    pub generation: i64,
}

pub const POLICY_COLUMNS: [&str; 6] = [
    "NAMESPACE",
    "NAME",
    "TENANT",
    "PODS",
    "DIRECTIONS",
    "CHANGED",
];

pub fn policy_rows(state: &State, table: &TableScreen) -> Vec<PolicyRow> {
    let mut rows: Vec<PolicyRow> = state
        .cluster
        .policies
        .values()
        .filter(|p| fuzzy::matches(&table.filter, &p.id.to_string()))
        .map(|p| {
            let ns_labels = state
                .cluster
                .namespaces
                .get(&p.id.namespace)
                .map(|n| n.labels.clone())
                .unwrap_or_default();
            PolicyRow {
                key: p.id.to_string(),
                tenant: state
                    .tenant_rules
                    .group_of(&p.id.namespace, &ns_labels)
                    .label()
                    .to_string(),
                pods: state
                    .analysis
                    .as_ref()
                    .and_then(|a| a.policy_pods.get(&p.id).copied()),
                directions: p.directions(),
                changed: changed_label(state, &PolicyKey::Network(p.id.clone()), p.last_change()),
                generation: p.object.metadata.generation.unwrap_or(0),
                id: p.id.clone(),
            }
        })
        .collect();
    match table.sort % POLICY_COLUMNS.len() {
        1 => rows.sort_by(|a, b| a.id.name.cmp(&b.id.name).then(a.id.cmp(&b.id))),
        2 => rows.sort_by(|a, b| a.tenant.cmp(&b.tenant).then(a.id.cmp(&b.id))),
        3 => rows.sort_by(|a, b| b.pods.cmp(&a.pods).then(a.id.cmp(&b.id))),
        4 => rows.sort_by_key(|r| (!r.directions.egress, !r.directions.ingress, r.id.clone())),
        5 => rows.sort_by(|a, b| b.changed.cmp(&a.changed).then(a.id.cmp(&b.id))),
        _ => {} // namespace/name: the snapshot's order
    }
    rows
}

pub const FINDING_COLUMNS: [&str; 4] = ["SEVERITY", "ID", "OBJECT", "MESSAGE"];

pub fn finding_key(f: &Finding) -> String {
    format!("{} {} {}", f.id, f.object, f.message)
}

pub fn finding_rows<'a>(state: &'a State, table: &TableScreen) -> Vec<&'a Finding> {
    let Some(analysis) = &state.analysis else {
        return Vec::new();
    };
    let mut rows: Vec<&Finding> = analysis
        .findings
        .iter()
        .filter(|f| {
            fuzzy::matches(
                &table.filter,
                &format!("{} {} {}", f.id, f.object, f.message),
            )
        })
        .collect();
    match table.sort % FINDING_COLUMNS.len() {
        1 => rows.sort_by(|a, b| a.id.cmp(b.id).then(a.object.cmp(&b.object))),
        2 => rows.sort_by(|a, b| a.object.cmp(&b.object)),
        3 => rows.sort_by(|a, b| a.message.cmp(&b.message)),
        _ => {} // severity, worst first: the analysis' order
    }
    rows
}

/// The keys of the rows a table screen lists, in order.
pub fn table_keys(state: &State, table: &TableScreen) -> Vec<String> {
    use super::screen::Screen;
    use super::telemetry_rows::{agent_key, agent_rows, latency_rows, violation_rows};
    match &state.screen {
        Screen::Policies(_) => policy_rows(state, table)
            .into_iter()
            .map(|r| r.key)
            .collect(),
        Screen::Findings(_) => finding_rows(state, table)
            .into_iter()
            .map(finding_key)
            .collect(),
        Screen::Violations(_) => violation_rows(state, table)
            .into_iter()
            .map(|v| v.key())
            .collect(),
        Screen::Latency(_) => latency_rows(state, table)
            .into_iter()
            .map(|r| r.key)
            .collect(),
        Screen::Agents(_) => agent_rows(state, table)
            .into_iter()
            .map(agent_key)
            .collect(),
        _ => Vec::new(),
    }
}

/// Index of the selected row (by key), or the first row.
pub fn selected_index(keys: &[String], selected: Option<&String>) -> usize {
    selected
        .and_then(|s| keys.iter().position(|k| k == s))
        .unwrap_or(0)
}

/// The CHANGED cell of a NetworkPolicy or a tier policy: the journal's newest revision when it
/// has one, else the API's own managedFields time.
pub fn changed_label(state: &State, id: &PolicyKey, fallback: Option<String>) -> String {
    match state.journal.changes.get(id) {
        Some(change) => format!(
            "{} r{}{}",
            change.observed_at.get(..19).unwrap_or(&change.observed_at),
            change.number,
            change
                .manager
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default()
        ),
        None => fallback.unwrap_or_default(),
    }
}
