//! Equivalence classes of pods: pods that no policy can tell apart share one class, so the
//! engine works on classes (a handful per workload) instead of individual pods.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::compile::{CompiledPolicy, PeerSpec};
use super::ipset::IpSet;
use super::matching::Endpoint;
use super::tier::{CompiledTier, TierPeer};
use crate::model::{ClusterSnapshot, Labels, NamedPort, ObjectRef};

pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone, PartialEq)]
pub struct PodClass {
    /// Representative endpoint: any member would give the same answers.
    pub endpoint: Endpoint,
    pub members: Vec<ObjectRef>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classes {
    pub classes: Vec<PodClass>,
    pub of_pod: BTreeMap<ObjectRef, usize>,
    pub by_namespace: BTreeMap<String, Vec<usize>>,
    /// The distinct CIDR sets that split classes (ipBlocks and tier networks that match pods
    /// under the settings).
    pub ip_blocks: Vec<IpSet>,
}

impl Classes {
    /// The classes of the namespaces whose representative endpoint passes `keep`, testing each
    /// namespace once (its labels are the same on all its classes), in namespace order.
    pub fn of_namespaces_where(&self, keep: impl Fn(&Endpoint) -> bool) -> Vec<usize> {
        (self.by_namespace.values())
            .filter(|members| {
                members
                    .first()
                    .is_some_and(|c| keep(&self.classes[*c].endpoint))
            })
            .flatten()
            .copied()
            .collect()
    }
}

/// Namespace labels as the API server keeps them: always with `kubernetes.io/metadata.name`.
pub fn namespace_labels(snapshot: &ClusterSnapshot, ns: &str) -> Labels {
    let mut labels = snapshot
        .namespaces
        .get(ns)
        .map(|n| n.labels.clone())
        .unwrap_or_default();
    labels
        .entry(NAME_LABEL.to_string())
        .or_insert_with(|| ns.to_string());
    labels
}

/// Distinct ipBlock sets of all policies; only they can tell pods apart by IP.
pub fn distinct_ip_blocks<'a>(policies: impl Iterator<Item = &'a CompiledPolicy>) -> Vec<IpSet> {
    let mut out: Vec<IpSet> = Vec::new();
    for p in policies {
        let rules = p.ingress.iter().flatten().chain(p.egress.iter().flatten());
        for peer in rules.flat_map(|r| r.peers.iter().flatten()) {
            if let PeerSpec::IpBlock { set, .. } = peer
                && !out.contains(set)
            {
                out.push(set.clone());
            }
        }
    }
    out
}

/// Distinct `networks` sets of all tier policies.
pub fn tier_networks<'a>(tiers: impl Iterator<Item = &'a CompiledTier>) -> Vec<IpSet> {
    let mut out: Vec<IpSet> = Vec::new();
    for t in tiers {
        for peer in t.ingress.iter().chain(&t.egress).flat_map(|r| &r.peers) {
            if let TierPeer::Networks { set, .. } = peer
                && !out.contains(set)
            {
                out.push(set.clone());
            }
        }
    }
    out
}

#[derive(PartialEq, Eq, Hash)]
struct Key<'a> {
    namespace: &'a str,
    labels: &'a Labels,
    ports: Vec<NamedPort>,
    ip_signature: Vec<bool>,
}

/// Classes of the snapshot's pods; `ip_blocks` are the CIDR sets that tell pods apart by IP.
pub fn build_classes(snapshot: &ClusterSnapshot, ip_blocks: Vec<IpSet>) -> Classes {
    let mut ns_labels: HashMap<&str, Labels> = HashMap::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut out = Classes::default();
    for pod in snapshot.pods.values() {
        let ns = pod.id.namespace.as_str();
        let ips: Vec<IpAddr> = pod.ips.iter().filter_map(|s| s.parse().ok()).collect();
        let mut ports = pod.ports.clone();
        ports.sort();
        ports.dedup();
        let key = Key {
            namespace: ns,
            labels: &pod.labels,
            ports,
            ip_signature: ip_blocks
                .iter()
                .map(|b| ips.iter().any(|ip| b.contains_addr(*ip)))
                .collect(),
        };
        let next = out.classes.len();
        let idx = *index.entry(key).or_insert(next);
        if idx == next {
            let labels = ns_labels
                .entry(ns)
                .or_insert_with(|| namespace_labels(snapshot, ns))
                .clone();
            let mut ports = pod.ports.clone();
            ports.sort();
            ports.dedup();
            out.classes.push(PodClass {
                endpoint: Endpoint {
                    namespace: ns.to_string(),
                    ns_labels: labels,
                    labels: pod.labels.clone(),
                    ports,
                    ips,
                },
                members: Vec::new(),
            });
            out.by_namespace
                .entry(ns.to_string())
                .or_default()
                .push(idx);
        }
        out.classes[idx].members.push(pod.id.clone());
        out.of_pod.insert(pod.id.clone(), idx);
    }
    out.ip_blocks = ip_blocks;
    out
}
