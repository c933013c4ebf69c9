//! Antrea agent metrics (`antrea-agent` `/metrics`).
//!
//! The deny counter has no labels at all, so drops are per node only: no reason detail,
//! no direction and no tenant attribution.

use super::{AgentMetrics, Drop, MetricSpec, Use, family_samples, health, latency};
use crate::metrics::parse::Scrape;

pub const DENIED: &str = "antrea_agent_denied_connection_count";
pub const FLOW_OPS_LATENCY: &str = "antrea_agent_ovs_flow_ops_latency_milliseconds";
pub const POLICY_COUNT: &str = "antrea_agent_networkpolicy_count";

pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: DENIED,
        kind: "counter",
        labels: &[],
        used_for: Use::Drops,
        meaning: "Connections denied by network policy on this node",
    },
    MetricSpec {
        name: FLOW_OPS_LATENCY,
        kind: "histogram (milliseconds; Palisade converts to seconds)",
        labels: &["operation"],
        used_for: Use::Latency,
        meaning: "Latency of OVS flow operations, the step that enforces policy rules",
    },
    MetricSpec {
        name: POLICY_COUNT,
        kind: "gauge",
        labels: &[],
        used_for: Use::Health,
        meaning: "NetworkPolicies applied on this node",
    },
];

pub fn extract(scrape: &Scrape, node: Option<&str>) -> AgentMetrics {
    let drops = family_samples(scrape, DENIED)
        .iter()
        .filter(|s| s.name == DENIED)
        .map(|s| Drop {
            metric: DENIED,
            node: node.map(str::to_string),
            reason: "denied connection".to_string(),
            direction: None,
            source_namespace: None,
            destination_namespace: None,
            policy: None,
            count: s.value,
        })
        .collect();
    AgentMetrics {
        drops,
        latencies: latency(scrape, FLOW_OPS_LATENCY, 0.001),
        health: health(scrape, POLICY_COUNT).into_iter().collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse::parse;

    const FIXTURE: &str = r#"# HELP antrea_agent_denied_connection_count Number of denied connections detected by Flow Exporter deny connections tracking.
# TYPE antrea_agent_denied_connection_count counter
antrea_agent_denied_connection_count 318
# TYPE antrea_agent_ovs_flow_ops_latency_milliseconds histogram
antrea_agent_ovs_flow_ops_latency_milliseconds_bucket{operation="add",le="1"} 10
antrea_agent_ovs_flow_ops_latency_milliseconds_bucket{operation="add",le="10"} 19
antrea_agent_ovs_flow_ops_latency_milliseconds_bucket{operation="add",le="+Inf"} 20
antrea_agent_ovs_flow_ops_latency_milliseconds_sum{operation="add"} 75
antrea_agent_ovs_flow_ops_latency_milliseconds_count{operation="add"} 20
# TYPE antrea_agent_networkpolicy_count gauge
antrea_agent_networkpolicy_count 9
"#;

    #[test]
    fn denies_latency_in_seconds_and_health() {
        let m = extract(&parse(FIXTURE).unwrap(), Some("worker-4"));
        assert_eq!(m.drops.len(), 1);
        assert_eq!(m.drops[0].count, 318.0);
        assert_eq!(m.drops[0].source_namespace, None);
        let h = &m.latencies[0];
        assert_eq!(
            h.buckets,
            vec![(0.001, 10.0), (0.01, 19.0), (f64::INFINITY, 20.0)]
        );
        assert_eq!((h.sum, h.count), (0.075, 20.0));
        assert_eq!(m.health[0].value, 9.0);
    }
}
