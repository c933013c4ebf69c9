//! Rebuilding what derives from the flows, at `Msg::Settle` (once per frame) or on the key that
//! changes it: palisade's verdict on new aggregates (one `Judge` per rebuild, only when needed),
//! drift and drop counts, and the `:flows` rows. Pure.

use std::collections::HashMap;

use super::flows::{Denials, FlowRow, JUDGEMENTS_KEPT, Paused, Tenants, filter_text};
use super::fuzzy;
use super::state::State;
use super::telemetry::{UNATTRIBUTED, Violation};
use crate::flows::{AggregateKey, FlowRecord, Judge, Judgement, VerdictFilter};
use crate::policy::ReadOnlyEngine;

/// Judgements made per settle at most: each is an explain, so a new analysis (every second on
/// a churning cluster) must not re-judge thousands of aggregates in one frame. The rest follow
/// on the next frames.
pub(super) const JUDGED_PER_SETTLE: usize = 500;

/// Judges what is not judged yet: lazily builds one `Judge` (it indexes the pods' addresses)
/// per call, only when some flow needs it, and at most `budget` of them.
struct Judging<'e> {
    engine: Option<&'e ReadOnlyEngine>,
    judge: Option<Judge<'e>>,
    budget: usize,
    /// Some flow was left unjudged for want of budget.
    behind: bool,
}

impl<'e> Judging<'e> {
    fn new(engine: Option<&'e ReadOnlyEngine>) -> Judging<'e> {
        Judging {
            engine,
            judge: None,
            budget: JUDGED_PER_SETTLE,
            behind: false,
        }
    }
}

impl<'e> Judging<'e> {
    fn judge(
        &mut self,
        cache: &mut HashMap<AggregateKey, Judgement>,
        key: &AggregateKey,
        flow: &FlowRecord,
    ) {
        let Some(engine) = self.engine else {
            return;
        };
        if cache.contains_key(key) {
            return;
        }
        if self.budget == 0 {
            self.behind = true;
            return;
        }
        self.budget -= 1;
        if cache.len() >= JUDGEMENTS_KEPT {
            cache.clear();
        }
        let judge = self.judge.get_or_insert_with(|| Judge::new(engine));
        cache.insert(key.clone(), judge.judge(flow));
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
    } else {
        state.flows.rows_stale = true;
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
    let mut judging = Judging::new(analysis.as_deref().map(|a| &*a.engine));
    let mut drift = 0;
    let tenants = Tenants::new(cluster, tenant_rules);
    let mut denials = Denials::default();
    for (key, stats) in flows.aggregates.iter() {
        judging.judge(&mut flows.judgements, key, &stats.sample);
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
            first_seen: Some(stats.first),
            port: sample.protocol.zip(sample.port),
        });
    }
    denials
        .violations
        .sort_by(|a, b| b.at.cmp(&a.at).then(a.reason.cmp(&b.reason)));
    flows.drift = drift;
    // Judged in part: the next frame goes on (the counts grow as it does).
    flows.changed |= judging.behind;
    flows.denials = denials;
}

/// Rebuilds the `:flows` rows from the ring (unless paused), judging the flows the drift filter
/// needs, and keeps the cursor on its flow (or at the top, following the newest).
pub fn rebuild(state: &mut State) {
    if state.flows.paused.is_some() {
        return;
    }
    state.flows.rows_stale = false;
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
    let mut judging = Judging::new(analysis.as_deref().map(|a| &*a.engine));
    let tenants = Tenants::new(cluster, tenant_rules);
    let first_seq = flows.ring.received.saturating_sub(flows.ring.len() as u64);
    let mut gaps = flows.ring.gaps().peekable();
    let mut rows = Vec::new();
    for (i, flow) in flows.ring.newest_first().enumerate() {
        while let Some(gap) = gaps.next_if(|g| g.at > flow.time) {
            rows.push(FlowRow::Gap(gap.clone()));
        }
        // Only the drift filter needs palisade's verdict; the others spare the key's cost.
        let judgement = if flows.query.verdict == VerdictFilter::Drift {
            let key = AggregateKey::of(flow);
            judging.judge(&mut flows.judgements, &key, flow);
            flows.judgements.get(&key)
        } else {
            None
        };
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
    flows.changed |= judging.behind;
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
