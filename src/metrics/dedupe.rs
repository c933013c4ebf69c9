//! Each denial counted once. One denied flow shows up in several families of the same agent:
//! Hubble's flow drops, Hubble's policy verdicts and the Cilium agent's per-node packet counter.
//! Summing them would double or triple every figure, so per node only the most attributable
//! family present in the reading is kept: Hubble drops (they carry namespaces and reasons), then
//! Hubble verdicts, then the agents' own counters (Cilium, Calico, Antrea), which name no
//! workloads.

use std::collections::HashMap;

use super::adapters::{antrea, calico, cilium, hubble};
use super::math::DropRate;

/// Most attributable first.
const PREFERENCE: [&str; 5] = [
    hubble::DROPS,
    hubble::VERDICTS,
    cilium::DROPS,
    calico::DENIED,
    antrea::DENIED,
];

fn rank(metric: &str) -> usize {
    PREFERENCE
        .iter()
        .position(|m| *m == metric)
        .unwrap_or(PREFERENCE.len())
}

/// Keeps, for every node, only the series of the best family the node reported.
pub fn count_once(drops: Vec<DropRate>) -> Vec<DropRate> {
    let mut best: HashMap<Option<String>, usize> = HashMap::new();
    for d in &drops {
        let r = rank(d.metric);
        best.entry(d.node.clone())
            .and_modify(|b| *b = (*b).min(r))
            .or_insert(r);
    }
    drops
        .into_iter()
        .filter(|d| best.get(&d.node) == Some(&rank(d.metric)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(metric: &'static str, node: &str, per_second: f64) -> DropRate {
        DropRate {
            metric,
            node: Some(node.into()),
            reason: "x".into(),
            direction: None,
            source_namespace: None,
            destination_namespace: None,
            policy: None,
            per_second,
        }
    }

    #[test]
    fn the_most_attributable_family_wins_per_node() {
        let kept = count_once(vec![
            rate(cilium::DROPS, "a", 9.0),
            rate(hubble::VERDICTS, "a", 3.0),
            rate(hubble::DROPS, "a", 3.0),
            rate(hubble::DROPS, "a", 1.0),
            // Node b has no Hubble: its agent counter is all there is.
            rate(cilium::DROPS, "b", 4.0),
        ]);
        let summary: Vec<(&str, &str, f64)> = kept
            .iter()
            .map(|d| (d.metric, d.node.as_deref().unwrap(), d.per_second))
            .collect();
        assert_eq!(
            summary,
            [
                (hubble::DROPS, "a", 3.0),
                (hubble::DROPS, "a", 1.0),
                (cilium::DROPS, "b", 4.0)
            ]
        );
    }

    #[test]
    fn verdicts_stand_in_when_drops_are_not_exported() {
        let kept = count_once(vec![
            rate(cilium::DROPS, "a", 9.0),
            rate(hubble::VERDICTS, "a", 3.0),
        ]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].metric, hubble::VERDICTS);
    }
}
