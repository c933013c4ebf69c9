//! The exposition of a simulated `calico-node` pod's Felix on port 9091: the families
//! open-source Felix exports that palisade reads (`metrics::adapters::calico`), and a few
//! health gauges beside them. No deny counters: open-source Felix has none
//! (`calico_denied_packets` is Calico Enterprise's); its denials are Goldmane flows.

use super::exposition::{Exposition, Summary};
use crate::metrics::adapters::calico;

/// What one node's Felix knows, taken from the agents' telemetry.
pub struct FelixView<'a> {
    pub hosts: usize,
    pub local_endpoints: usize,
    pub cluster_endpoints: usize,
    /// The cluster's enforced policies, NetworkPolicies and Calico's (Felix renders both; not
    /// the staged kinds): the demo does not work out which select a local endpoint, so every
    /// node counts them all as active.
    pub policies: usize,
    pub apply_time: Option<&'a Summary>,
}

/// Felix's resync state once it is in sync with the datastore (1 waiting, 2 resyncing).
const IN_SYNC: f64 = 3.0;

pub fn render(view: &FelixView<'_>) -> String {
    let mut e = Exposition::new();
    let gauges = [
        (
            "felix_active_local_endpoints",
            "Number of active endpoints on this host.",
            view.local_endpoints,
        ),
        (
            calico::ACTIVE_POLICIES,
            "Number of active policies on this host.",
            view.policies,
        ),
        (
            "felix_cluster_num_hosts",
            "Total number of Calico hosts in the cluster.",
            view.hosts,
        ),
        (
            "felix_cluster_num_policies",
            "Total number of policies in the cluster.",
            view.policies,
        ),
        (
            "felix_cluster_num_workload_endpoints",
            "Total number of workload endpoints cluster-wide.",
            view.cluster_endpoints,
        ),
    ];
    for (name, help, value) in gauges {
        e.family(name, "gauge", help);
        e.sample(name, &[], value as f64);
    }
    e.family(
        calico::APPLY_TIME,
        "summary",
        "Time in seconds that it took to apply a dataplane update.",
    );
    e.summary(
        calico::APPLY_TIME,
        &[],
        view.apply_time.unwrap_or(&Summary::default()),
    );
    e.family(
        "felix_int_dataplane_failures",
        "counter",
        "Number of times dataplane updates failed and will be retried.",
    );
    e.sample("felix_int_dataplane_failures", &[], 0.0);
    e.family("felix_resync_state", "gauge", "Current datastore state.");
    e.sample("felix_resync_state", &[], IN_SYNC);
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Cni, extract, parse::parse};

    #[test]
    fn the_calico_adapter_reads_what_felix_serves() {
        let mut apply = Summary::default();
        for ms in [3.0, 4.0, 5.0, 40.0] {
            apply.observe(ms / 1000.0);
        }
        let text = render(&FelixView {
            hosts: 3,
            local_endpoints: 7,
            cluster_endpoints: 20,
            policies: 31,
            apply_time: Some(&apply),
        });
        let scrape = parse(&text).unwrap();
        assert!(scrape.errors.is_empty(), "{:?}\n{text}", scrape.errors);
        assert_eq!(scrape.duplicates, 0);
        let m = extract(Cni::Calico, &scrape, Some("n1"));
        assert!(m.drops.is_empty(), "open-source Felix counts no denials");
        assert_eq!(m.health[0].value, 31.0);
        let h = &m.latencies[0];
        assert_eq!(h.quantiles, vec![(0.5, 0.004), (0.9, 0.04), (0.99, 0.04)]);
        assert_eq!(h.count, 4.0);
        assert!(!text.contains("calico_denied_packets"));
        assert!(text.contains("felix_active_local_endpoints 7\n"));
        assert!(text.contains("felix_cluster_num_hosts 3\n"));
    }
}
