//! Calico Felix metrics (Prometheus endpoint on `calico-node`, port 9091 by default).
//!
//! `calico_denied_packets` names the denying policy and the source IP, not namespaces: the
//! policy label can be mapped to a namespace by the caller, the IP cannot be mapped here.
//!
//! `calico_denied_packets` is a Calico Enterprise metric: open-source Felix exports no deny
//! counters, and its violations exist only as Goldmane flows (`flowsrc::goldmane`).

use super::{AgentMetrics, Drop, MetricSpec, Use, family_samples, health, latency, owned};
use crate::metrics::parse::Scrape;

pub const DENIED: &str = "calico_denied_packets";
pub const APPLY_TIME: &str = "felix_int_dataplane_apply_time_seconds";
pub const ACTIVE_POLICIES: &str = "felix_active_local_policies";

pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: DENIED,
        kind: "gauge (cumulative packets per policy/source IP)",
        labels: &["policy", "srcIP"],
        used_for: Use::Drops,
        meaning: "Packets denied by a policy rule, per denying policy and source IP",
    },
    MetricSpec {
        name: APPLY_TIME,
        kind: "summary (seconds)",
        labels: &["quantile"],
        used_for: Use::Latency,
        meaning: "Time Felix takes to apply a batch of dataplane updates",
    },
    MetricSpec {
        name: ACTIVE_POLICIES,
        kind: "gauge",
        labels: &[],
        used_for: Use::Health,
        meaning: "Policies active on local endpoints of this node",
    },
];

pub fn extract(scrape: &Scrape, node: Option<&str>) -> AgentMetrics {
    let drops = family_samples(scrape, DENIED)
        .iter()
        .filter(|s| s.name == DENIED)
        .map(|s| Drop {
            metric: DENIED,
            node: node.map(str::to_string),
            reason: "denied by policy".to_string(),
            direction: None,
            source_namespace: None,
            destination_namespace: None,
            policy: owned(s.label("policy")),
            count: s.value,
        })
        .collect();
    AgentMetrics {
        drops,
        latencies: latency(scrape, APPLY_TIME, 1.0),
        health: health(scrape, ACTIVE_POLICIES).into_iter().collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse::parse;

    const FIXTURE: &str = r#"# HELP calico_denied_packets Total number of packets denied by calico policies.
# TYPE calico_denied_packets gauge
calico_denied_packets{policy="default|tenant-b/knp.default.deny-from-other-tenants|0|deny",srcIP="10.244.1.17"} 64
calico_denied_packets{policy="profile|kns.tenant-a|0|deny",srcIP="10.244.2.3"} 2
# HELP felix_int_dataplane_apply_time_seconds Time in seconds that it took to apply a dataplane update.
# TYPE felix_int_dataplane_apply_time_seconds summary
felix_int_dataplane_apply_time_seconds{quantile="0.5"} 0.0042
felix_int_dataplane_apply_time_seconds{quantile="0.9"} 0.011
felix_int_dataplane_apply_time_seconds{quantile="0.99"} 0.093
felix_int_dataplane_apply_time_seconds_sum 12.7
felix_int_dataplane_apply_time_seconds_count 1804
# TYPE felix_active_local_policies gauge
felix_active_local_policies 23
"#;

    #[test]
    fn denied_packets_summary_and_health() {
        let m = extract(&parse(FIXTURE).unwrap(), Some("worker-3"));
        assert_eq!(m.drops.len(), 2);
        let d = &m.drops[0];
        assert!(
            d.policy
                .as_deref()
                .unwrap()
                .contains("deny-from-other-tenants")
        );
        assert_eq!((d.source_namespace.clone(), d.count), (None, 64.0));
        assert_eq!(m.latencies.len(), 1);
        let h = &m.latencies[0];
        assert!(h.buckets.is_empty());
        assert_eq!(
            h.quantiles,
            vec![(0.5, 0.0042), (0.9, 0.011), (0.99, 0.093)]
        );
        assert_eq!((h.sum, h.count), (12.7, 1804.0));
        assert_eq!(m.health[0].value, 23.0);
    }
}
