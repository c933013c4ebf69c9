//! Cilium agent metrics (`cilium-agent` `/metrics`).

use super::{AgentMetrics, Drop, MetricSpec, Use, family_samples, health, latency, owned};
use crate::metrics::parse::Scrape;

pub const DROPS: &str = "cilium_drop_count_total";
pub const POLICY_DELAY: &str = "cilium_policy_implementation_delay";
pub const PROPAGATION_DELAY: &str = "cilium_endpoint_propagation_delay_seconds";
pub const POLICY_COUNT: &str = "cilium_policy";

pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: DROPS,
        kind: "counter",
        labels: &["reason", "direction"],
        used_for: Use::Drops,
        meaning: "Packets dropped by the datapath on this node, by drop reason and direction",
    },
    MetricSpec {
        name: POLICY_DELAY,
        kind: "histogram (seconds)",
        labels: &["source"],
        used_for: Use::Latency,
        meaning: "Time from a policy change being seen to it being enforced in the datapath",
    },
    MetricSpec {
        name: PROPAGATION_DELAY,
        kind: "histogram (seconds)",
        labels: &[],
        used_for: Use::Latency,
        meaning: "Time for endpoint changes to be reflected on this node",
    },
    MetricSpec {
        name: POLICY_COUNT,
        kind: "gauge",
        labels: &[],
        used_for: Use::Health,
        meaning: "Number of policies loaded by the agent",
    },
];

pub fn extract(scrape: &Scrape, node: Option<&str>) -> AgentMetrics {
    let drops = family_samples(scrape, DROPS)
        .iter()
        .filter(|s| s.name == DROPS)
        .map(|s| Drop {
            metric: DROPS,
            node: node.map(str::to_string),
            reason: s.label("reason").unwrap_or("unknown").to_string(),
            direction: owned(s.label("direction")).map(|d| d.to_ascii_lowercase()),
            // Agent drop counters carry no workload labels.
            source_namespace: None,
            destination_namespace: None,
            policy: None,
            count: s.value,
        })
        .collect();
    let mut latencies = latency(scrape, POLICY_DELAY, 1.0);
    latencies.extend(latency(scrape, PROPAGATION_DELAY, 1.0));
    AgentMetrics {
        drops,
        latencies,
        health: health(scrape, POLICY_COUNT).into_iter().collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse::parse;

    const FIXTURE: &str = r#"# HELP cilium_drop_count_total Total dropped packets, tagged by drop reason and ingress/egress direction
# TYPE cilium_drop_count_total counter
cilium_drop_count_total{direction="INGRESS",reason="Policy denied"} 1287
cilium_drop_count_total{direction="EGRESS",reason="Policy denied"} 14
cilium_drop_count_total{direction="INGRESS",reason="Unsupported L3 protocol"} 2
# HELP cilium_policy Number of policies currently loaded
# TYPE cilium_policy gauge
cilium_policy 37
# TYPE cilium_policy_implementation_delay histogram
cilium_policy_implementation_delay_bucket{source="k8s",le="0.005"} 12
cilium_policy_implementation_delay_bucket{source="k8s",le="0.05"} 30
cilium_policy_implementation_delay_bucket{source="k8s",le="0.5"} 41
cilium_policy_implementation_delay_bucket{source="k8s",le="+Inf"} 42
cilium_policy_implementation_delay_sum{source="k8s"} 1.93
cilium_policy_implementation_delay_count{source="k8s"} 42
# TYPE cilium_endpoint_propagation_delay_seconds histogram
cilium_endpoint_propagation_delay_seconds_bucket{le="1"} 3
cilium_endpoint_propagation_delay_seconds_bucket{le="+Inf"} 3
cilium_endpoint_propagation_delay_seconds_sum 0.4
cilium_endpoint_propagation_delay_seconds_count 3
"#;

    #[test]
    fn drops_latency_and_health() {
        let m = extract(&parse(FIXTURE).unwrap(), Some("worker-1"));
        assert_eq!(m.drops.len(), 3);
        let d = &m.drops[0];
        assert_eq!(d.reason, "Policy denied");
        assert_eq!(d.direction.as_deref(), Some("ingress"));
        assert_eq!(d.node.as_deref(), Some("worker-1"));
        assert_eq!(d.count, 1287.0);
        assert_eq!(d.source_namespace, None);
        assert_eq!(m.latencies.len(), 2);
        let h = &m.latencies[0];
        assert_eq!(h.metric, POLICY_DELAY);
        assert_eq!(h.labels.get("source").map(String::as_str), Some("k8s"));
        assert_eq!(h.buckets.len(), 4);
        assert_eq!(h.buckets[3], (f64::INFINITY, 42.0));
        assert_eq!((h.sum, h.count), (1.93, 42.0));
        assert_eq!(m.health[0].value, 37.0);
    }

    #[test]
    fn empty_scrape_gives_nothing() {
        assert_eq!(extract(&parse("").unwrap(), None), AgentMetrics::default());
    }
}
