//! Observations from the two sources of denials (pure): the agents' denied rates per namespace
//! pair, and flows dropped by policy; and when a pair's current run of denials began, from the
//! console's log of readings.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use super::{Evidence, Observation};
use crate::flows::FlowRecord;
use crate::metrics::DropRate;
use crate::policy::Protocol;
use crate::timeline::PairReading;

/// One observation per namespace pair the counters show denying (rate above zero), started at
/// `started` (counters say nothing of when a denial began: their first reading). Drops whose
/// namespaces the agent does not name are left out: no change can be matched to them.
pub fn from_drops(
    drops: &[DropRate],
    started: Timestamp,
    group_of: &dyn Fn(&str) -> String,
) -> Vec<Observation> {
    let mut pairs: BTreeMap<(String, String), f64> = BTreeMap::new();
    for drop in drops {
        if let (Some(from), Some(to)) = (&drop.source_namespace, &drop.destination_namespace)
            && drop.per_second.is_finite()
            && drop.per_second > 0.0
        {
            *pairs.entry((from.clone(), to.clone())).or_default() += drop.per_second;
        }
    }
    pairs
        .into_keys()
        .map(|(from, to)| Observation {
            from: group_of(&from),
            to: group_of(&to),
            from_namespace: Some(from),
            to_namespace: Some(to),
            port: None,
            started,
            evidence: Evidence::Counters,
        })
        .collect()
}

/// One observation per namespace pair, protocol and port with flows dropped by policy at or
/// after `since`, started at its first such flow.
pub fn from_flows(
    flows: &[FlowRecord],
    since: Timestamp,
    group_of: &dyn Fn(&str) -> String,
) -> Vec<Observation> {
    type Key = (String, String, Option<(Protocol, u16)>);
    let mut first: BTreeMap<Key, Timestamp> = BTreeMap::new();
    for flow in flows.iter().filter(|f| f.policy_drop()) {
        let (Some(from), Some(to)) = (&flow.src.namespace, &flow.dst.namespace) else {
            continue;
        };
        let Ok(at) = Timestamp::try_from(flow.time) else {
            continue;
        };
        if at < since {
            continue;
        }
        let port = flow.protocol.zip(flow.port);
        let key = (from.to_string(), to.to_string(), port);
        first
            .entry(key)
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    first
        .into_iter()
        .map(|((from, to, port), started)| Observation {
            from: group_of(&from),
            to: group_of(&to),
            from_namespace: Some(from),
            to_namespace: Some(to),
            port,
            started,
            evidence: Evidence::Flows,
        })
        .collect()
}

/// When the pair's current denials began, as of `until`: the latest reading (at or before
/// `until`) where its rate rose above zero, or above `spike` after being at or below it. `None`
/// when the log has no rise for the pair.
pub fn spike_start<'a>(
    log: impl IntoIterator<Item = &'a PairReading>,
    from: &str,
    to: &str,
    until: Timestamp,
    spike: f64,
) -> Option<Timestamp> {
    let mut readings: Vec<&PairReading> = log
        .into_iter()
        .filter(|r| r.from == from && r.to == to && r.at <= until)
        .collect();
    readings.sort_by_key(|r| r.at);
    let mut previous = 0.0;
    let mut start = None;
    for r in readings {
        if (previous <= 0.0 && r.value > 0.0) || (previous <= spike && r.value > spike) {
            start = Some(r.at);
        }
        previous = r.value;
    }
    start
}
