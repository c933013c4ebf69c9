//! Rows of the list screens, filtered and sorted: one function feeds both `update` (to move the
//! selection) and `view` (to draw), so they always agree.

use super::fuzzy;
use super::screen::TableScreen;
use super::state::State;
use crate::history::PolicyKey;
use crate::isolation::findings::Finding;
use crate::model::{Directions, NativeRef, TierRef};

/// The row key of a policy: `NAMESPACE/NAME`, `tier:cnp/NAME` or `native:ciliumnp/NS/NAME` (a
/// colon never appears in a namespace name, so they cannot collide).
pub fn policy_row_key(id: &PolicyKey) -> String {
    match id {
        PolicyKey::Network(id) => id.to_string(),
        PolicyKey::Tier(id) => format!("tier:{id}"),
        PolicyKey::Native(id) => native_row_key(id),
    }
}

/// The row key of a Cilium policy: `native:ciliumnp/NS/NAME` or `native:ccnp/NAME`.
pub fn native_row_key(id: &NativeRef) -> String {
    format!("native:{id}")
}

/// The policy a row key stands for.
pub fn policy_of_row_key(key: &str) -> Option<PolicyKey> {
    if let Some(native) = key.strip_prefix("native:") {
        return NativeRef::parse(native).map(PolicyKey::Native);
    }
    match key.strip_prefix("tier:") {
        Some(tier) => TierRef::parse(tier).map(PolicyKey::Tier),
        None => key
            .split_once('/')
            .map(|(ns, name)| PolicyKey::network(ns, name)),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRow {
    pub key: String,
    /// The journal's key of a policy the analysis counts pods for; `None` for a CNI policy (its
    /// key is in `key`, see [`policy_of_row_key`]).
    pub id: Option<PolicyKey>,
    /// The NAMESPACE and NAME cells: `cluster` and `cnp/NAME` for a tier policy, `ciliumnp/NAME`
    /// or `cluster` and `ccnp/NAME` for Cilium's.
    pub namespace: String,
    pub name: String,
    /// `Admin` or `Baseline`; `None` for a NetworkPolicy.
    pub tier: Option<String>,
    pub priority: Option<i64>,
    pub tenant: String,
    /// `None` until the first analysis.
    pub pods: Option<usize>,
    pub directions: Directions,
    /// When the policy last changed (RFC 3339), empty when unknown.
    pub changed: String,
    pub generation: i64,
}

pub const POLICY_COLUMNS: [&str; 8] = [
    "NAMESPACE",
    "NAME",
    "TIER",
    "PRIORITY",
    "TENANT",
    "PODS",
    "DIRECTIONS",
    "CHANGED",
];

/// Every policy, tier policies first (in evaluation order), filtered and sorted. Tier rows come
/// from the tree's cluster node (built once per settle), so a frame does no compiling.
pub fn policy_rows(state: &State, table: &TableScreen) -> Vec<PolicyRow> {
    let mut rows = tier_rows(state, table);
    rows.extend(netpol_rows(state, table));
    rows.extend(native_rows(state, table));
    match table.sort % POLICY_COLUMNS.len() {
        1 => rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.key.cmp(&b.key))),
        // The evaluation order: Admin, NetworkPolicies, Baseline; then priority.
        2 => rows.sort_by_key(|r| (tier_rank(r.tier.as_deref()), r.priority, r.key.clone())),
        3 => rows.sort_by_key(|r| (r.priority.is_none(), r.priority, r.key.clone())),
        4 => rows.sort_by(|a, b| a.tenant.cmp(&b.tenant).then(a.key.cmp(&b.key))),
        5 => rows.sort_by(|a, b| b.pods.cmp(&a.pods).then(a.key.cmp(&b.key))),
        6 => rows.sort_by_key(|r| (!r.directions.egress, !r.directions.ingress, r.key.clone())),
        7 => rows.sort_by(|a, b| b.changed.cmp(&a.changed).then(a.key.cmp(&b.key))),
        // Tier policies in evaluation order, NetworkPolicies by namespace/name, then Cilium's.
        _ => {}
    }
    rows
}

fn tier_rank(tier: Option<&str>) -> u8 {
    match tier {
        Some("Admin") => 0,
        None => 1,
        _ => 2,
    }
}

/// The filter's text for a row: what the NAMESPACE and NAME cells show, joined by `/`.
pub fn policy_filter_text(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn tier_rows(state: &State, table: &TableScreen) -> Vec<PolicyRow> {
    let Some(cluster) = &state.tree.cluster else {
        return Vec::new();
    };
    // The groups each tier policy selects pods of, from the tree's groups.
    let mut groups: std::collections::HashMap<&TierRef, Vec<&str>> = Default::default();
    for group in &state.tree.groups {
        for tier in &group.tiers {
            groups
                .entry(&tier.policy)
                .or_default()
                .push(group.group.label());
        }
    }
    cluster
        .tiers
        .iter()
        .filter_map(|t| {
            let name = t.policy.to_string();
            if !fuzzy::matches(&table.filter, &policy_filter_text("cluster", &name)) {
                return None;
            }
            let info = state.cluster.tiers.get(&t.policy)?;
            let tenant = match groups.get(&t.policy).map(Vec::as_slice) {
                None | Some([]) => "—".to_string(),
                Some([one]) => one.to_string(),
                Some(many) => format!("{} groups", many.len()),
            };
            let id = PolicyKey::Tier(t.policy.clone());
            Some(PolicyRow {
                key: policy_row_key(&id),
                id: Some(id),
                namespace: "cluster".into(),
                name,
                tier: Some(t.tier.clone()),
                priority: t.priority,
                tenant,
                pods: state
                    .analysis
                    .as_ref()
                    .map(|a| a.tier_reach.get(&t.policy).map_or(0, |r| r.pods)),
                directions: t.directions,
                changed: last_change(&info.object.metadata).unwrap_or_default(),
                generation: info.object.metadata.generation.unwrap_or(0),
            })
        })
        .collect()
}

/// The newest managedFields time, else the creation time.
fn last_change(meta: &kube::api::ObjectMeta) -> Option<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter_map(|entry| entry.time.as_ref().map(|t| t.0))
        .max()
        .or(meta.creation_timestamp.as_ref().map(|t| t.0))
        .map(|time| time.to_string())
}

fn netpol_rows(state: &State, table: &TableScreen) -> Vec<PolicyRow> {
    state
        .cluster
        .policies
        .values()
        .filter(|p| fuzzy::matches(&table.filter, &p.id.to_string()))
        .map(|p| PolicyRow {
            key: p.id.to_string(),
            namespace: p.id.namespace.clone(),
            name: p.id.name.clone(),
            tier: None,
            priority: None,
            tenant: state.group_label(&p.id.namespace),
            pods: state
                .analysis
                .as_ref()
                .and_then(|a| a.policy_pods.get(&p.id).copied()),
            directions: p.directions(),
            changed: changed_label(state, &PolicyKey::Network(p.id.clone()), p.last_change()),
            generation: p.object.metadata.generation.unwrap_or(0),
            id: Some(PolicyKey::Network(p.id.clone())),
        })
        .collect()
}

/// The CNIs' own policies, by kind, namespace and name; PODS once the analysis has counted
/// them.
fn native_rows(state: &State, table: &TableScreen) -> Vec<PolicyRow> {
    let nodes = state
        .tree
        .groups
        .iter()
        .flat_map(|g| &g.namespaces)
        .flat_map(|ns| &ns.natives)
        .chain(state.tree.cluster.iter().flat_map(|c| &c.natives));
    let directions: std::collections::HashMap<&NativeRef, Directions> =
        nodes.map(|n| (&n.policy, n.directions)).collect();
    state
        .cluster
        .natives
        .values()
        .filter_map(|info| {
            let id = &info.id;
            let namespace = match id.kind.namespaced() {
                true => id.namespace.clone(),
                false => "cluster".to_string(),
            };
            let name = format!("{}/{}", id.kind.short_name(), id.name);
            if !fuzzy::matches(&table.filter, &policy_filter_text(&namespace, &name)) {
                return None;
            }
            let tenant = match id.kind.namespaced() {
                true => state.group_label(&id.namespace),
                false => "—".to_string(),
            };
            let (tier, priority) = calico_tier_order(info);
            Some(PolicyRow {
                key: native_row_key(id),
                id: None,
                namespace,
                name,
                tier,
                priority,
                tenant,
                pods: state
                    .analysis
                    .as_ref()
                    .and_then(|a| a.native_pods.get(id).copied()),
                directions: directions.get(id).copied().unwrap_or_default(),
                changed: changed_label(
                    state,
                    &PolicyKey::Native(id.clone()),
                    last_change(&info.object.metadata),
                ),
                generation: info.object.metadata.generation.unwrap_or(0),
            })
        })
        .collect()
}

/// A Calico row's TIER and ORDER (in the PRIORITY column): the policy's `spec.tier`
/// (`default` when unset), a Tier its own name; `spec.order` (Calico's orders may have a
/// fraction: shown truncated). `None` for Cilium's.
fn calico_tier_order(info: &crate::model::NativePolicyInfo) -> (Option<String>, Option<i64>) {
    use crate::model::{NativeFamily, NativeKind};
    if info.id.kind.family() != NativeFamily::Calico {
        return (None, None);
    }
    let spec = info.object.data.get("spec");
    let order = spec
        .and_then(|s| s.get("order"))
        .and_then(serde_json::Value::as_f64)
        .map(|o| o as i64);
    let tier = match info.id.kind {
        NativeKind::CalicoTier => info.id.name.clone(),
        // Staged Kubernetes policies sit in the default tier, as Kubernetes' do.
        _ => spec
            .and_then(|s| s.get("tier"))
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .unwrap_or("default")
            .to_string(),
    };
    (Some(tier), order)
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
