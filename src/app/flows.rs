//! What the console keeps of the dataplane's flows (Hubble Relay, Goldmane): the bounded ring,
//! the aggregates, the sources' states, palisade's verdict per aggregate (cached until the next
//! analysis), the `:flows` list (filtered, pausable) and the dropped-by-policy counts the
//! violations view, the tree and the matrix show while a source is live. Data only: the derived
//! parts are rebuilt by `flows_settle.rs`.

use std::collections::{BTreeMap, HashMap};

use super::telemetry::{UNATTRIBUTED, Violation};
use crate::flows::{
    AggregateKey, Aggregates, FlowNews, FlowQuery, FlowRecord, FlowRing, FlowSourceKind, Gap,
    Judgement, RingLimits, SourceStatus,
};
use crate::isolation::tenants::TenantRules;
use crate::model::ClusterSnapshot;

/// Judgements kept before the cache starts afresh (a few aggregates' worth: rows of flows whose
/// aggregate was shed are judged too).
pub(super) const JUDGEMENTS_KEPT: usize = 4 * Aggregates::DEFAULT_ENTRIES;

/// One row of the `:flows` list: a flow (by its sequence number in the ring) or a gap.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowRow {
    Flow(u64),
    Gap(Gap),
}

/// The list frozen by `pause`: the listed flows copied out of the ring (which keeps moving).
#[derive(Debug, Clone, Default)]
pub struct Paused {
    /// `FlowRing::received` when paused: what came since is "new".
    pub received: u64,
    pub flows: HashMap<u64, FlowRecord>,
}

/// Flows dropped by policy over the ring's age, per tenant pair and per namespace pair, and as
/// the violations view's rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Denials {
    pub groups: HashMap<(String, String), u64>,
    pub namespaces: HashMap<(String, String), u64>,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone)]
pub struct FlowsState {
    pub ring: FlowRing,
    pub aggregates: Aggregates,
    /// What each source last said about itself.
    pub sources: BTreeMap<FlowSourceKind, SourceStatus>,
    /// Palisade's verdict per aggregate, from the latest analysis; emptied when one arrives.
    pub judgements: HashMap<AggregateKey, Judgement>,
    pub query: FlowQuery,
    /// The `/` filter (fuzzy).
    pub filter: String,
    /// The rows of `:flows`, newest first, as last built.
    pub rows: Vec<FlowRow>,
    pub cursor: usize,
    pub paused: Option<Paused>,
    pub denials: Denials,
    /// Flows whose aggregate drifts (palisade and the dataplane disagree).
    pub drift: u64,
    /// Something arrived since the derived parts were rebuilt.
    pub changed: bool,
    /// Flows arrived while `:flows` was not shown: its rows are rebuilt when it is again.
    pub rows_stale: bool,
}

impl FlowsState {
    pub fn new(limits: RingLimits) -> FlowsState {
        FlowsState {
            ring: FlowRing::new(limits),
            aggregates: Aggregates::new(Aggregates::DEFAULT_ENTRIES, limits.max_age),
            sources: BTreeMap::new(),
            judgements: HashMap::new(),
            query: FlowQuery::default(),
            filter: String::new(),
            rows: Vec::new(),
            cursor: 0,
            paused: None,
            denials: Denials::default(),
            drift: 0,
            changed: false,
            rows_stale: false,
        }
    }

    pub fn news(&mut self, news: FlowNews) {
        match news {
            FlowNews::Flows { flows, .. } => {
                if flows.is_empty() {
                    return;
                }
                self.aggregates.extend(&flows);
                self.ring.extend(flows);
            }
            FlowNews::Gap { gap, .. } => self.ring.push_gap(gap),
            FlowNews::Status { source, status } => {
                self.sources.insert(source, status);
            }
        }
        self.changed = true;
    }

    /// A new analysis: every judgement may have changed.
    pub fn analysis_changed(&mut self) {
        self.judgements.clear();
        // Nothing to judge again when no flow came yet: no frame is owed.
        self.changed |= !self.ring.is_empty() || !self.aggregates.is_empty();
    }

    /// The live source the counts come from, if any (one that reconnects keeps its flows).
    pub fn source_in_use(&self) -> Option<FlowSourceKind> {
        self.sources
            .iter()
            .find(|(_, status)| match status {
                SourceStatus::Live { .. } => true,
                SourceStatus::Reconnecting { .. } => !self.ring.is_empty(),
                _ => false,
            })
            .map(|(kind, _)| *kind)
    }

    /// Every source reported itself absent (or none was asked for): `Some(reasons)`.
    pub fn absent(&self) -> Option<Vec<String>> {
        let all_absent = !self.sources.is_empty()
            && self
                .sources
                .values()
                .all(|s| matches!(s, SourceStatus::Absent { .. }));
        all_absent.then(|| {
            self.sources
                .iter()
                .filter_map(|(kind, s)| match s {
                    SourceStatus::Absent { reason } => {
                        Some(format!("{}: {reason}", kind.display_name()))
                    }
                    _ => None,
                })
                .collect()
        })
    }

    /// Flows received since the list was paused.
    pub fn new_while_paused(&self) -> Option<u64> {
        self.paused
            .as_ref()
            .map(|p| self.ring.received.saturating_sub(p.received))
    }

    /// A flow of the list by sequence number: from the frozen copy while paused, else the ring.
    pub fn flow(&self, seq: u64) -> Option<&FlowRecord> {
        if let Some(paused) = &self.paused {
            return paused.flows.get(&seq);
        }
        let back = self.ring.received.checked_sub(seq + 1)?;
        self.ring.newest_first().nth(usize::try_from(back).ok()?)
    }

    /// Palisade's verdict on a flow, when judged.
    pub fn judgement(&self, flow: &FlowRecord) -> Option<&Judgement> {
        self.judgements.get(&AggregateKey::of(flow))
    }

    /// The flow under the cursor.
    pub fn selected(&self) -> Option<&FlowRecord> {
        match self.rows.get(self.cursor)? {
            FlowRow::Flow(seq) => self.flow(*seq),
            FlowRow::Gap(_) => None,
        }
    }
}

/// Who a namespace belongs to, memoised: a list of thousands of flows names few namespaces.
pub struct Tenants<'a> {
    cluster: &'a ClusterSnapshot,
    rules: &'a TenantRules,
    known: std::cell::RefCell<HashMap<String, String>>,
}

impl<'a> Tenants<'a> {
    pub fn new(cluster: &'a ClusterSnapshot, rules: &'a TenantRules) -> Tenants<'a> {
        Tenants {
            cluster,
            rules,
            known: Default::default(),
        }
    }

    pub fn of(&self, namespace: Option<&str>) -> String {
        let Some(ns) = namespace else {
            return UNATTRIBUTED.to_string();
        };
        if let Some(label) = self.known.borrow().get(ns) {
            return label.clone();
        }
        let label = self.rules.group_in(self.cluster, ns).label().to_string();
        self.known
            .borrow_mut()
            .insert(ns.to_string(), label.clone());
        label
    }
}

/// What the `/` filter matches of a flow, joined by spaces.
pub fn filter_text(flow: &FlowRecord, tenants: &Tenants) -> String {
    let policies: Vec<String> = flow.policies.iter().map(ToString::to_string).collect();
    format!(
        "{} {} {} {} {} {} {} {} {}",
        flow.src.label(),
        tenants.of(flow.src.namespace.as_deref()),
        flow.dst.label(),
        tenants.of(flow.dst.namespace.as_deref()),
        flow.service(),
        flow.verdict,
        flow.reason.as_deref().unwrap_or(""),
        flow.node.as_deref().unwrap_or(""),
        policies.join(" ")
    )
}

/// `4,212`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The list's title: the sources' states, what is kept, the filters, pause.
pub fn title(flows: &FlowsState) -> String {
    let sources: Vec<String> = flows
        .sources
        .iter()
        .filter(|(_, s)| !matches!(s, SourceStatus::Absent { .. }))
        .map(|(kind, s)| {
            let word = match s {
                SourceStatus::Absent { .. } => "absent",
                SourceStatus::Connecting { .. } => "connecting",
                SourceStatus::Live { .. } => "live",
                SourceStatus::Reconnecting { .. } => "reconnecting",
            };
            format!("{} · {word}", kind.display_name())
        })
        .collect();
    let mut title = if sources.is_empty() {
        "Flows".to_string()
    } else {
        sources.join(", ")
    };
    let kept = flows.ring.len() as u64;
    let noun = if kept == 1 { "flow" } else { "flows" };
    title.push_str(&format!(" · {} {noun} kept", thousands(kept)));
    let q = &flows.query;
    title.push_str(&format!(" · {}", q.verdict.as_str()));
    if let Some(t) = &q.tenant {
        title.push_str(&format!(" · tenant {t}"));
    }
    if let Some(n) = &q.namespace {
        title.push_str(&format!(" · ns {n}"));
    }
    if let Some(p) = q.port {
        title.push_str(&format!(" · port {p}"));
    }
    if !flows.filter.is_empty() {
        title.push_str(&format!(" · /{}", flows.filter));
    }
    if let Some(new) = flows.new_while_paused() {
        title.push_str(&format!(" · paused · {} new", thousands(new)));
    }
    title
}

/// Why the sources that reconnect do (` · Hubble Relay: connection refused`): after the rest
/// of a title, since errors are long.
pub fn troubles(flows: &FlowsState) -> String {
    flows
        .sources
        .iter()
        .filter_map(|(kind, status)| match status {
            SourceStatus::Reconnecting { error, .. } => {
                Some(format!(" · {}: {error}", kind.display_name()))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4212), "4,212");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
