//! What the console keeps of the agent readings: the latest reading, a feed of recent
//! violations attributed to tenants, and short histories for sparklines and charts. Pure.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;

use super::tenant_traffic::{TenantTraffic, fold};
use crate::metrics::dedupe::count_once;
use crate::metrics::{LatencyFigure, Quantiles, Reading};
use crate::timeline::{Event, PairReading, latency_breach_events, spike_events};

/// Feed entries kept, newest first.
pub const FEED_LIMIT: usize = 500;
/// Points kept per sparkline or chart (at the default 5 s interval, five minutes).
pub const HISTORY_POINTS: usize = 60;
/// The label used for a side of a drop whose namespace the agent's labels do not carry.
pub const UNATTRIBUTED: &str = "?";

/// One denied-flow series over one reading's interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub at: SystemTime,
    pub node: Option<String>,
    pub reason: String,
    pub direction: Option<String>,
    pub source_namespace: Option<String>,
    pub destination_namespace: Option<String>,
    /// Tenant (or platform/unassigned group) of each side; `UNATTRIBUTED` when unknown.
    pub source_tenant: String,
    pub destination_tenant: String,
    pub policy: Option<String>,
    /// Denied packets or flows in the interval (rate × interval).
    pub count: f64,
    pub per_second: f64,
    /// Flows: the aggregate's first flow (when the denial began) and its protocol and port;
    /// counters know neither.
    pub first_seen: Option<SystemTime>,
    pub port: Option<(crate::policy::Protocol, u16)>,
}

impl Violation {
    /// A stable key for list selection.
    pub fn key(&self) -> String {
        let secs = self
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!(
            "{secs} {} {} {} {} {}",
            self.node.as_deref().unwrap_or("-"),
            self.reason,
            self.source_namespace.as_deref().unwrap_or("-"),
            self.destination_namespace.as_deref().unwrap_or("-"),
            self.direction.as_deref().unwrap_or("-"),
        )
    }

    pub fn tenant_pair(&self) -> (String, String) {
        (self.source_tenant.clone(), self.destination_tenant.clone())
    }
}

/// Where the figures come from, for titles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SourceKind {
    #[default]
    Off,
    /// Agent pods found by the rules, scraped through the API server's pod proxy.
    Direct,
    /// The agents at the `--metrics-url`s (redacted), scraped directly.
    Urls(Vec<String>),
    Prometheus(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Telemetry {
    pub latest: Option<Reading>,
    /// The latest reading's L7 figures by tenant pair, folded when it arrived.
    pub traffic: TenantTraffic,
    pub feed: VecDeque<Violation>,
    /// Denied flows per second per (source tenant, destination tenant), one point per reading.
    pub pair_history: BTreeMap<(String, String), VecDeque<f64>>,
    /// Latency quantiles per metric (all agents), one point per reading.
    pub latency_history: BTreeMap<String, VecDeque<Option<Quantiles>>>,
    /// `(done, total)` while a round is under way.
    pub progress: Option<(usize, usize)>,
    /// The console's own watch lag (event received → frame drawn), p50 and p95 over recent frames.
    pub watch_lag: Option<(Duration, Duration)>,
    /// The runtime's analyst: how many analyses were full builds, how many incremental.
    pub analyst: Option<super::changes::AnalystReport>,
    /// Every reading's rate per tenant pair, for the timeline's violation spikes.
    pub rate_log: VecDeque<PairReading>,
    /// Every reading's p99 per latency metric (in ms, as `platform → metric`), for breaches.
    pub latency_log: VecDeque<PairReading>,
}

impl Telemetry {
    /// Folds in a reading; `tenant_of` maps a namespace to its tenant or group label.
    pub fn apply(&mut self, mut reading: Reading, tenant_of: &dyn Fn(&str) -> String) {
        self.progress = None;
        reading.drops = count_once(std::mem::take(&mut reading.drops));
        let side = |ns: &Option<String>| ns.as_deref().map_or(UNATTRIBUTED.into(), tenant_of);
        let interval = reading.interval.as_secs_f64();
        let mut now_by_pair: BTreeMap<(String, String), f64> = BTreeMap::new();
        let mut fresh: Vec<Violation> = reading
            .drops
            .iter()
            .filter(|d| d.per_second > 0.0 && d.per_second.is_finite())
            .map(|d| Violation {
                at: reading.at,
                node: d.node.clone(),
                reason: d.reason.clone(),
                direction: d.direction.clone(),
                source_tenant: side(&d.source_namespace),
                destination_tenant: side(&d.destination_namespace),
                source_namespace: d.source_namespace.clone(),
                destination_namespace: d.destination_namespace.clone(),
                policy: d.policy.clone(),
                count: d.per_second * interval,
                per_second: d.per_second,
                first_seen: None,
                port: None,
            })
            .collect();
        for v in &fresh {
            *now_by_pair.entry(v.tenant_pair()).or_default() += v.per_second;
        }
        fresh.sort_by(|a, b| b.per_second.total_cmp(&a.per_second));
        for v in fresh.into_iter().rev() {
            self.feed.push_front(v);
        }
        self.feed.truncate(FEED_LIMIT);
        for pair in now_by_pair.keys() {
            self.pair_history.entry(pair.clone()).or_default();
        }
        for (pair, points) in &mut self.pair_history {
            push_bounded(points, now_by_pair.get(pair).copied().unwrap_or(0.0));
        }
        // Pairs quiet for a whole history drop out.
        self.pair_history
            .retain(|_, points| points.iter().any(|p| *p > 0.0));
        for figure in reading.latency.iter().filter(|f| f.node.is_none()) {
            self.latency_history
                .entry(figure.metric.clone())
                .or_default();
        }
        let at = Timestamp::try_from(reading.at).unwrap_or(Timestamp::UNIX_EPOCH);
        for ((from, to), points) in &self.pair_history {
            let value = points.back().copied().unwrap_or(0.0);
            let (from, to) = (from.clone(), to.clone());
            push_log(
                &mut self.rate_log,
                PairReading {
                    at,
                    from,
                    to,
                    value,
                },
            );
        }
        for figure in reading.latency.iter().filter(|f| f.node.is_none()) {
            if let Some(q) = figure.quantiles {
                let reading = PairReading {
                    at,
                    from: "platform".into(),
                    to: figure.metric.clone(),
                    value: q.p99 * 1000.0,
                };
                push_log(&mut self.latency_log, reading);
            }
        }
        for (metric, points) in &mut self.latency_history {
            let q = all_agents(&reading.latency, metric).and_then(|f| f.quantiles);
            push_bounded(points, q);
        }
        self.traffic = fold(&reading, tenant_of);
        self.latest = Some(reading);
    }

    /// Current denied rate from one group to another (by label), from the latest reading.
    pub fn pair_rate(&self, from: &str, to: &str) -> f64 {
        self.pair_history
            .get(&(from.to_string(), to.to_string()))
            .and_then(|p| p.back().copied())
            .unwrap_or(0.0)
    }

    /// The (from, to) group pairs whose current denied rate is above zero.
    pub fn denied_pairs(&self) -> Vec<(String, String)> {
        (self.pair_history.iter())
            .filter(|(_, p)| p.back().is_some_and(|rate| *rate > 0.0))
            .map(|(pair, _)| pair.clone())
            .collect()
    }

    /// Current denied rate into and out of a group.
    pub fn group_rates(&self, group: &str) -> (f64, f64) {
        let latest = |p: &VecDeque<f64>| p.back().copied().unwrap_or(0.0);
        let into = self
            .pair_history
            .iter()
            .filter(|((_, to), _)| to == group)
            .map(|(_, p)| latest(p))
            .sum();
        let out = self
            .pair_history
            .iter()
            .filter(|((from, _), _)| from == group)
            .map(|(_, p)| latest(p))
            .sum();
        (into, out)
    }

    /// Current denied rate into and out of a namespace, from the latest reading.
    pub fn namespace_rates(&self, namespace: &str) -> (f64, f64) {
        let Some(reading) = &self.latest else {
            return (0.0, 0.0);
        };
        let sum = |side: fn(&crate::metrics::DropRate) -> &Option<String>| {
            reading
                .drops
                .iter()
                .filter(|d| d.per_second.is_finite() && side(d).as_deref() == Some(namespace))
                .map(|d| d.per_second)
                .sum()
        };
        (
            sum(|d| &d.destination_namespace),
            sum(|d| &d.source_namespace),
        )
    }

    /// Current denied rate from one namespace to another, from the latest reading.
    pub fn namespace_pair_rate(&self, from: &str, to: &str) -> f64 {
        self.latest.as_ref().map_or(0.0, |r| {
            r.drops
                .iter()
                .filter(|d| {
                    d.per_second.is_finite()
                        && d.source_namespace.as_deref() == Some(from)
                        && d.destination_namespace.as_deref() == Some(to)
                })
                .map(|d| d.per_second)
                .sum()
        })
    }

    /// Whether an agent's data is older than three intervals at the latest reading.
    pub fn is_stale(&self, last_ok: Option<SystemTime>) -> bool {
        let Some(reading) = &self.latest else {
            return false;
        };
        let limit = reading.interval.max(Duration::from_secs(1)) * 3;
        match last_ok {
            None => true,
            Some(t) => reading.at.duration_since(t).unwrap_or_default() > limit,
        }
    }
}

fn all_agents<'a>(figures: &'a [LatencyFigure], metric: &str) -> Option<&'a LatencyFigure> {
    figures
        .iter()
        .find(|f| f.metric == metric && f.node.is_none())
}

/// Readings kept for the timeline: two hours of ten busy pairs at the default interval.
pub const LOG_LIMIT: usize = 15_000;
/// A pair's denied rate above this is a violation spike (the alerting rules' per-pair level).
pub const SPIKE_PER_SECOND: f64 = 1.0;
/// An enforcement p99 above this is a latency breach (the alerting rules' SLO).
pub const LATENCY_SLO_MS: f64 = 1000.0;

fn push_log(log: &mut VecDeque<PairReading>, reading: PairReading) {
    log.push_back(reading);
    while log.len() > LOG_LIMIT {
        log.pop_front();
    }
}

impl Telemetry {
    /// The timeline's events from this session's readings: spikes and latency breaches.
    pub fn timeline_events(&self) -> Vec<Event> {
        let rates: Vec<PairReading> = self.rate_log.iter().cloned().collect();
        let latency: Vec<PairReading> = self.latency_log.iter().cloned().collect();
        let mut events = spike_events(&rates, SPIKE_PER_SECOND);
        events.extend(latency_breach_events(&latency, LATENCY_SLO_MS));
        events
    }
}

fn push_bounded<T>(points: &mut VecDeque<T>, value: T) {
    points.push_back(value);
    while points.len() > HISTORY_POINTS {
        points.pop_front();
    }
}

/// `HH:MM:SS` (UTC) of a time, for tables.
pub fn clock(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60)
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
