//! What the console keeps of the dataplane's flows (Hubble Relay, Goldmane): the bounded ring,
//! the aggregates, the sources' states, palisade's verdict per aggregate (cached until the next
//! analysis), the `:flows` list (filtered, pausable) and the dropped-by-policy counts the
//! violations view, the tree and the matrix show while a source is live. Pure: derived parts
//! are rebuilt at `Msg::Settle` (once per frame) or on the key that changes them.

use std::collections::{BTreeMap, HashMap};

use super::fuzzy;
use super::state::State;
use super::telemetry::{UNATTRIBUTED, Violation};
use crate::flows::{
    AggregateKey, Aggregates, FlowNews, FlowQuery, FlowRecord, FlowRing, FlowSourceKind, Gap,
    Judge, Judgement, RingLimits, SourceStatus, VerdictFilter,
};
use crate::isolation::tenants::TenantRules;
use crate::model::ClusterSnapshot;
use crate::policy::ReadOnlyEngine;

/// Judgements kept before the cache starts afresh (a few aggregates' worth: rows of flows whose
/// aggregate was shed are judged too).
const JUDGEMENTS_KEPT: usize = 4 * Aggregates::DEFAULT_ENTRIES;

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
        self.changed = true;
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
        let labels = self
            .cluster
            .namespaces
            .get(ns)
            .map(|n| n.labels.clone())
            .unwrap_or_default();
        let label = self.rules.group_of(ns, &labels).label().to_string();
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

/// Judges what is not judged yet: lazily builds one `Judge` (it indexes the pods' addresses)
/// per call, only when some flow needs it.
struct Judging<'e> {
    engine: Option<&'e ReadOnlyEngine>,
    judge: Option<Judge<'e>>,
}

impl<'e> Judging<'e> {
    fn judge(
        &mut self,
        cache: &mut HashMap<AggregateKey, Judgement>,
        key: AggregateKey,
        flow: &FlowRecord,
    ) {
        let Some(engine) = self.engine else {
            return;
        };
        if cache.contains_key(&key) {
            return;
        }
        if cache.len() >= JUDGEMENTS_KEPT {
            cache.clear();
        }
        let judge = self.judge.get_or_insert_with(|| Judge::new(engine));
        cache.insert(key, judge.judge(flow));
    }
}

/// Once per frame: judge the new aggregates, count drift and drops, rebuild the list when
/// `:flows` is on screen (and not paused).
pub fn settle(state: &mut State) {
    if !std::mem::take(&mut state.flows.changed) {
        return;
    }
    recount(state);
    if matches!(state.screen, super::screen::Screen::Flows) {
        rebuild(state);
    }
}

fn recount(state: &mut State) {
    let State {
        flows,
        analysis,
        cluster,
        tenant_rules,
        ..
    } = state;
    let mut judging = Judging {
        engine: analysis.as_deref().map(|a| &*a.engine),
        judge: None,
    };
    let mut drift = 0;
    let tenants = Tenants::new(cluster, tenant_rules);
    let mut denials = Denials::default();
    for (key, stats) in flows.aggregates.iter() {
        judging.judge(&mut flows.judgements, key.clone(), &stats.sample);
        if flows.judgements.get(key).is_some_and(|j| j.drift.is_some()) {
            drift += stats.count;
        }
        if !stats.sample.policy_drop() {
            continue;
        }
        let (src_ns, dst_ns) = (key.src.namespace.as_deref(), key.dst.namespace.as_deref());
        let (from, to) = (tenants.of(src_ns), tenants.of(dst_ns));
        *denials
            .groups
            .entry((from.clone(), to.clone()))
            .or_default() += stats.count;
        let ns = |n: Option<&str>| n.unwrap_or(UNATTRIBUTED).to_string();
        *denials
            .namespaces
            .entry((ns(src_ns), ns(dst_ns)))
            .or_default() += stats.count;
        let sample = &stats.sample;
        denials.violations.push(Violation {
            at: stats.last,
            node: stats.nodes.iter().next().map(ToString::to_string),
            reason: format!(
                "{} {} {} → {}",
                sample.reason.as_deref().unwrap_or("denied"),
                sample.service(),
                key.src.name,
                key.dst.name
            ),
            direction: sample.direction.map(|d| d.as_str().to_ascii_lowercase()),
            source_namespace: src_ns.map(str::to_string),
            destination_namespace: dst_ns.map(str::to_string),
            source_tenant: from,
            destination_tenant: to,
            policy: sample.policies.first().map(ToString::to_string),
            count: stats.count as f64,
            per_second: 0.0,
        });
    }
    denials
        .violations
        .sort_by(|a, b| b.at.cmp(&a.at).then(a.reason.cmp(&b.reason)));
    flows.drift = drift;
    flows.denials = denials;
}

/// Rebuilds the `:flows` rows from the ring (unless paused), judging the flows the drift filter
/// needs, and keeps the cursor on its flow (or at the top, following the newest).
pub fn rebuild(state: &mut State) {
    if state.flows.paused.is_some() {
        return;
    }
    let State {
        flows,
        analysis,
        cluster,
        tenant_rules,
        ..
    } = state;
    let previous = match flows.rows.get(flows.cursor) {
        Some(FlowRow::Flow(seq)) if flows.cursor > 0 => Some(*seq),
        _ => None,
    };
    let mut judging = Judging {
        engine: analysis.as_deref().map(|a| &*a.engine),
        judge: None,
    };
    let tenants = Tenants::new(cluster, tenant_rules);
    let first_seq = flows.ring.received.saturating_sub(flows.ring.len() as u64);
    let mut gaps = flows.ring.gaps().peekable();
    let mut rows = Vec::new();
    for (i, flow) in flows.ring.newest_first().enumerate() {
        while let Some(gap) = gaps.next_if(|g| g.at > flow.time) {
            rows.push(FlowRow::Gap(gap.clone()));
        }
        let key = AggregateKey::of(flow);
        if flows.query.verdict == VerdictFilter::Drift {
            judging.judge(&mut flows.judgements, key.clone(), flow);
        }
        let judgement = flows.judgements.get(&key);
        let passes = flows
            .query
            .matches(flow, judgement, |ns| Some(tenants.of(Some(ns))));
        if passes
            && (flows.filter.is_empty()
                || fuzzy::matches(&flows.filter, &filter_text(flow, &tenants)))
        {
            let seq = flows.ring.received - 1 - i as u64;
            debug_assert!(seq >= first_seq);
            rows.push(FlowRow::Flow(seq));
        }
    }
    rows.extend(gaps.cloned().map(FlowRow::Gap));
    flows.cursor = previous
        .and_then(|seq| rows.iter().position(|r| *r == FlowRow::Flow(seq)))
        .unwrap_or(flows.cursor)
        .min(rows.len().saturating_sub(1));
    flows.rows = rows;
}

/// Freezes the list (copying its flows out of the ring), or resumes.
pub fn toggle_pause(state: &mut State) {
    let flows = &mut state.flows;
    if flows.paused.take().is_some() {
        rebuild(state);
        return;
    }
    let copied = flows
        .rows
        .iter()
        .filter_map(|r| match r {
            FlowRow::Flow(seq) => flows.flow(*seq).map(|f| (*seq, f.clone())),
            FlowRow::Gap(_) => None,
        })
        .collect();
    flows.paused = Some(Paused {
        received: flows.ring.received,
        flows: copied,
    });
}

/// `4,212`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
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
    title.push_str(&format!(
        " · {} flows kept",
        thousands(flows.ring.len() as u64)
    ));
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
