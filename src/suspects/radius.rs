//! What a change closes: for every namespace pair with an end in the policy's reach, the
//! connections some pod pair had before and no longer has after, from the engines of
//! `rollback::blast::engines` on the current snapshot. Opening things is not closing them: a
//! change that only widens access has an empty radius here.

use std::collections::BTreeMap;

use super::PolicyChange;
use crate::isolation::config::AnalysisConfig;
use crate::model::ClusterSnapshot;
use crate::policy::{ConnSet, Peer, Protocol};
use crate::rollback::blast::{engines, pods_by_joint};

/// Connections closed from one namespace to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub from_namespace: String,
    pub to_namespace: String,
    /// The namespaces' groups (tenant, `platform`, `unassigned`).
    pub from_group: String,
    pub to_group: String,
    pub closed: ConnSet,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Radius {
    /// In namespace order.
    pub closures: Vec<Closure>,
}

impl Radius {
    /// Namespace pairs closed, and ports closed over them: how broad the change is.
    pub fn breadth(&self) -> (usize, u128) {
        let ports = self
            .closures
            .iter()
            .map(|c| {
                Protocol::ALL
                    .iter()
                    .flat_map(|p| c.closed.port_set(*p).ranges())
                    .map(|(lo, hi)| hi - lo + 1)
                    .sum::<u128>()
            })
            .sum();
        (self.closures.len(), ports)
    }
}

/// The radius of `change` on `snapshot` (costly: two engines and the pod class pairs in reach).
pub fn radius(
    snapshot: &ClusterSnapshot,
    config: &AnalysisConfig,
    change: &PolicyChange,
) -> Radius {
    let rules = &config.tenant_rules;
    let (before, after) = engines(
        snapshot,
        config,
        &change.policy,
        change.before.as_ref(),
        change.after.as_ref(),
    );
    // Pods grouped by their class in both engines: one representative namespace per joint.
    let mut joints: BTreeMap<(usize, usize, String), ()> = BTreeMap::new();
    for (pod, (b, a)) in pods_by_joint(&before, &after) {
        joints.insert((b, a, pod.namespace.clone()), ());
    }
    let joints: Vec<(usize, usize, String)> = joints.into_keys().collect();
    let in_reach = |ns: &str| change.policy.namespace_opt().is_none_or(|own| own == ns);
    let group = |ns: &str| rules.group_in(snapshot, ns).label().to_string();
    let mut closed: BTreeMap<(String, String), ConnSet> = BTreeMap::new();
    for (sb, sa, sns) in &joints {
        for (db, da, dns) in &joints {
            if !in_reach(sns) && !in_reach(dns) {
                continue;
            }
            let was = before.allowed(&Peer::Class(*sb), &Peer::Class(*db));
            if was.is_empty() {
                continue;
            }
            let now = after.allowed(&Peer::Class(*sa), &Peer::Class(*da));
            let lost = was.subtract(&now);
            if !lost.is_empty() {
                closed
                    .entry((sns.clone(), dns.clone()))
                    .or_default()
                    .union_with(&lost);
            }
        }
    }
    Radius {
        closures: closed
            .into_iter()
            .map(|((from, to), closed)| Closure {
                from_group: group(&from),
                to_group: group(&to),
                from_namespace: from,
                to_namespace: to,
                closed,
            })
            .collect(),
    }
}
