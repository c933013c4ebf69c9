//! Rows of the violations, latency and agents screens, filtered and sorted; shared by `update`
//! (selection) and `view` (drawing), like `rows.rs`.

use super::denials::DenialSource;
use super::fuzzy;
use super::screen::TableScreen;
use super::state::State;
use super::telemetry::{Violation, clock};
use crate::metrics::{AgentStatus, LatencyFigure};

pub const VIOLATION_COLUMNS: [&str; 8] = [
    "TIME",
    "TENANTS",
    "SOURCE",
    "DESTINATION",
    "REASON",
    "NODE",
    "COUNT",
    "POLICY",
];

/// The violations as listed: the flows dropped by policy per workload pair while a flow
/// source is live, else the agents' feed; newest first unless sorted otherwise.
pub fn violation_rows<'a>(state: &'a State, table: &TableScreen) -> Vec<&'a Violation> {
    let all: Box<dyn Iterator<Item = &Violation>> = match state.denial_source() {
        DenialSource::Flows(_) => Box::new(state.flows.denials.violations.iter()),
        DenialSource::Counters => Box::new(state.telemetry.feed.iter()),
    };
    let mut rows: Vec<&Violation> = all
        .filter(|v| fuzzy::matches(&table.filter, &violation_filter_parts(v).join(" ")))
        .collect();
    match table.sort % VIOLATION_COLUMNS.len() {
        1 => rows.sort_by_key(|v| v.tenant_pair()),
        2 => rows.sort_by(|a, b| a.source_namespace.cmp(&b.source_namespace)),
        3 => rows.sort_by(|a, b| a.destination_namespace.cmp(&b.destination_namespace)),
        4 => rows.sort_by(|a, b| a.reason.cmp(&b.reason)),
        5 => rows.sort_by(|a, b| a.node.cmp(&b.node)),
        6 => rows.sort_by(|a, b| b.count.total_cmp(&a.count)),
        7 => rows.sort_by(|a, b| b.policy.cmp(&a.policy)),
        _ => {} // newest first: the feed's order
    }
    rows
}

pub const AGENT_COLUMNS: [&str; 8] = [
    "CNI", "NODE", "TARGET", "STATE", "LAST OK", "TOOK", "POLICIES", "ERROR",
];

/// What a violation's `/` filter matches, joined by spaces; the view highlights each part.
pub fn violation_filter_parts(v: &Violation) -> [&str; 6] {
    [
        &v.source_tenant,
        &v.destination_tenant,
        v.source_namespace.as_deref().unwrap_or(""),
        v.destination_namespace.as_deref().unwrap_or(""),
        &v.reason,
        v.node.as_deref().unwrap_or(""),
    ]
}

/// What an agent's `/` filter matches, joined by spaces: CNI, target, node, error.
pub fn agent_filter_parts(a: &AgentStatus) -> [&str; 4] {
    [
        a.agent.cni.name(),
        &a.agent.target,
        a.agent.node.as_deref().unwrap_or(""),
        a.error.as_deref().unwrap_or(""),
    ]
}

pub fn agent_key(a: &AgentStatus) -> String {
    format!("{} {}", a.agent.cni, a.agent.target)
}

/// `up`, `down` or `stale` (up once, but not within three intervals).
pub fn agent_state(state: &State, a: &AgentStatus) -> &'static str {
    if a.up() {
        "up"
    } else if a.last_ok.is_some() && !state.telemetry.is_stale(a.last_ok) {
        "retrying"
    } else if a.last_ok.is_some() {
        "stale"
    } else {
        "down"
    }
}

pub fn agent_rows<'a>(state: &'a State, table: &TableScreen) -> Vec<&'a AgentStatus> {
    let Some(reading) = &state.telemetry.latest else {
        return Vec::new();
    };
    let mut rows: Vec<&AgentStatus> = reading
        .agents
        .iter()
        .filter(|a| fuzzy::matches(&table.filter, &agent_filter_parts(a).join(" ")))
        .collect();
    match table.sort % AGENT_COLUMNS.len() {
        1 => rows.sort_by(|a, b| a.agent.node.cmp(&b.agent.node)),
        2 => rows.sort_by(|a, b| a.agent.target.cmp(&b.agent.target)),
        3 | 7 => rows.sort_by_key(|a| (a.up(), agent_key(a))),
        4 => rows.sort_by_key(|a| a.last_ok),
        5 => rows.sort_by_key(|a| std::cmp::Reverse(a.duration)),
        6 => rows.sort_by(|a, b| b.policy_count().total_cmp_opt(a.policy_count())),
        _ => {} // cni, then target: the reading's order
    }
    rows
}

trait TotalCmpOpt {
    fn total_cmp_opt(self, other: Self) -> std::cmp::Ordering;
}

impl TotalCmpOpt for Option<f64> {
    fn total_cmp_opt(self, other: Self) -> std::cmp::Ordering {
        match (self, other) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (a, b) => a.is_some().cmp(&b.is_some()),
        }
    }
}

pub const LATENCY_COLUMNS: [&str; 6] = ["METRIC", "SCOPE", "P50", "P95", "P99", "N"];

/// A latency row: an agent figure, or the console's own watch lag.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRow {
    pub key: String,
    pub metric: String,
    pub scope: String,
    /// Seconds; `None` when nothing was observed in the window.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub observations: Option<f64>,
}

pub const WATCH_LAG: &str = "palisade watch lag (event → screen)";

fn figure_row(f: &LatencyFigure) -> LatencyRow {
    let scope = match (&f.node, f.from_summary) {
        (Some(node), true) => format!("{node} (agent's own window; p95 may be p90)"),
        (Some(node), false) => node.clone(),
        (None, _) => "all agents".into(),
    };
    LatencyRow {
        key: format!("{} {scope}", f.metric),
        metric: f.metric.clone(),
        p50: f.quantiles.map(|q| q.p50),
        p95: f.quantiles.map(|q| q.p95),
        p99: f.quantiles.map(|q| q.p99),
        observations: Some(f.observations),
        scope,
    }
}

pub fn latency_rows(state: &State, table: &TableScreen) -> Vec<LatencyRow> {
    let mut rows: Vec<LatencyRow> = state
        .telemetry
        .latest
        .iter()
        .flat_map(|r| r.latency.iter().map(figure_row))
        .collect();
    if let Some((p50, p95)) = state.telemetry.watch_lag {
        rows.push(LatencyRow {
            key: WATCH_LAG.into(),
            metric: WATCH_LAG.into(),
            scope: "this console".into(),
            p50: Some(p50.as_secs_f64()),
            p95: Some(p95.as_secs_f64()),
            p99: None,
            observations: None,
        });
    }
    for (name, stats) in state.telemetry.analyst.iter().flat_map(|a| a.paths()) {
        let secs = |q| {
            stats
                .quantile(q)
                .map(|d: std::time::Duration| d.as_secs_f64())
        };
        rows.push(LatencyRow {
            key: name.into(),
            metric: name.into(),
            scope: "this console".into(),
            p50: secs(0.5),
            p95: secs(0.95),
            p99: None,
            observations: Some(stats.count as f64),
        });
    }
    rows.retain(|r| fuzzy::matches(&table.filter, &r.key));
    let worst = |r: &LatencyRow| r.p99.or(r.p95).unwrap_or(-1.0);
    match table.sort % LATENCY_COLUMNS.len() {
        1 => rows.sort_by(|a, b| a.scope.cmp(&b.scope)),
        2..=4 => rows.sort_by(|a, b| worst(b).total_cmp(&worst(a))),
        5 => rows.sort_by(|a, b| b.observations.total_cmp_opt(a.observations)),
        _ => {}
    }
    rows
}

/// A duration in seconds for tables: `850ms`, `1.20s`, `—` when unknown.
pub fn seconds(value: Option<f64>) -> String {
    match value {
        None => "—".into(),
        Some(s) if s < 1.0 => format!("{:.0}ms", s * 1000.0),
        Some(s) => format!("{s:.2}s"),
    }
}

/// `LAST OK` cell: the time of the last successful scrape, or `never`.
pub fn last_ok(a: &AgentStatus) -> String {
    a.last_ok.map_or_else(|| "never".into(), clock)
}
