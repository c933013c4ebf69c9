//! Equivalence classes of pods: pods that no policy can tell apart share one class, so the
//! engine works on classes (a handful per workload) instead of individual pods.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use super::compile::{CompiledPolicy, PeerSpec};
use super::ipset::IpSet;
use super::matching::Endpoint;
use super::tier::{CompiledTier, TierPeer};
use crate::model::{ClusterSnapshot, Labels, NamedPort, ObjectRef, PodInfo};

pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone, PartialEq)]
pub struct PodClass {
    /// Representative endpoint: any member would give the same answers. Shared, so copying
    /// the classes to move a pod copies the members only.
    pub endpoint: Arc<Endpoint>,
    /// In pod order. Shared too: a change copies only the lists of the classes it touches.
    pub members: Arc<Vec<ObjectRef>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classes {
    pub classes: Vec<PodClass>,
    pub by_namespace: BTreeMap<String, Vec<usize>>,
    /// The distinct CIDR sets that split classes (ipBlocks and tier networks that match pods
    /// under the settings).
    pub ip_blocks: Vec<IpSet>,
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

/// What decides a pod's class: pods with equal keys share one.
#[derive(PartialEq, Eq, Hash)]
struct Key<'a> {
    namespace: &'a str,
    labels: &'a Labels,
    ports: Vec<NamedPort>,
    ip_signature: Vec<bool>,
}

impl<'a> Key<'a> {
    fn of_pod(pod: &'a PodInfo, ips: &[IpAddr], ip_blocks: &[IpSet]) -> Key<'a> {
        Key {
            namespace: &pod.id.namespace,
            labels: &pod.labels,
            ports: sorted_ports(pod),
            ip_signature: ip_signature(ip_blocks, ips),
        }
    }

    /// The key of a class's pods, from its representative.
    fn of_class(endpoint: &'a Endpoint, ip_blocks: &[IpSet]) -> Key<'a> {
        Key {
            namespace: &endpoint.namespace,
            labels: &endpoint.labels,
            ports: endpoint.ports.clone(),
            ip_signature: ip_signature(ip_blocks, &endpoint.ips),
        }
    }
}

fn sorted_ports(pod: &PodInfo) -> Vec<NamedPort> {
    let mut ports = pod.ports.clone();
    ports.sort();
    ports.dedup();
    ports
}

fn addresses(pod: &PodInfo) -> Vec<IpAddr> {
    super::addresses::addresses(pod).collect()
}

/// A class's representative: the endpoint of its first pod.
fn representative(pod: &PodInfo, ns_labels: Arc<Labels>, ips: Vec<IpAddr>) -> Arc<Endpoint> {
    Arc::new(Endpoint {
        namespace: pod.id.namespace.clone(),
        ns_labels,
        labels: pod.labels.clone(),
        ports: sorted_ports(pod),
        ips,
    })
}

/// Which of the splitting CIDR sets hold one of the addresses.
fn ip_signature(ip_blocks: &[IpSet], ips: &[IpAddr]) -> Vec<bool> {
    ip_blocks
        .iter()
        .map(|b| ips.iter().any(|ip| b.contains_addr(*ip)))
        .collect()
}

/// Classes of the snapshot's pods; `ip_blocks` are the CIDR sets that tell pods apart by IP.
/// Classes are numbered in the order of their first pod, members kept in pod order.
pub fn build_classes(snapshot: &ClusterSnapshot, ip_blocks: Vec<IpSet>) -> Classes {
    let mut ns_labels: HashMap<&str, Arc<Labels>> = HashMap::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut out = Classes::default();
    for pod in snapshot.pods.values() {
        let ns = pod.id.namespace.as_str();
        let ips = addresses(pod);
        let key = Key::of_pod(pod, &ips, &ip_blocks);
        let next = out.classes.len();
        let idx = *index.entry(key).or_insert(next);
        if idx == next {
            let labels = ns_labels
                .entry(ns)
                .or_insert_with(|| Arc::new(namespace_labels(snapshot, ns)))
                .clone();
            out.classes.push(PodClass {
                endpoint: representative(pod, labels, ips),
                members: Arc::default(),
            });
            out.by_namespace
                .entry(ns.to_string())
                .or_default()
                .push(idx);
        }
        Arc::make_mut(&mut out.classes[idx].members).push(pod.id.clone());
    }
    out.ip_blocks = ip_blocks;
    out
}

/// How [`Classes::reshape`] renumbered the classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Reshape {
    /// Each former class's new number; `None` for the classes left empty.
    pub former: Vec<Option<usize>>,
    /// The numbers of the classes formed anew, ascending.
    pub formed: Vec<usize>,
}

impl Reshape {
    /// Whether the pods only moved between the classes there were: none formed or dropped.
    pub fn only_moved(&self) -> bool {
        self.formed.is_empty() && self.former.iter().enumerate().all(|(c, to)| *to == Some(c))
    }
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

    /// `labels` of namespace `ns`, as the map its classes already share when it is the same.
    fn shared_ns_labels(&self, labels: Labels, ns: &str) -> Arc<Labels> {
        let existing = (self.by_namespace.get(ns))
            .and_then(|classes| classes.first())
            .map(|c| &self.classes[*c].endpoint.ns_labels);
        match existing {
            Some(shared) if **shared == labels => shared.clone(),
            _ => Arc::new(labels),
        }
    }

    /// The existing class a pod belongs in (the one `build_classes` would put it in), if any.
    pub fn find(&self, pod: &PodInfo) -> Option<usize> {
        let candidates = self.by_namespace.get(&pod.id.namespace)?;
        let key = Key::of_pod(pod, &addresses(pod), &self.ip_blocks);
        (candidates.iter().copied())
            .find(|&c| Key::of_class(&self.classes[c].endpoint, &self.ip_blocks) == key)
    }

    /// Places changed pods (already in `snapshot`, or gone from it) as `build_classes` would:
    /// pods that fit no class form new ones, classes left empty go, and the classes are
    /// numbered by their first member again. `None`, with `self` half-updated, when that would
    /// change the order of the classes that stay (the caller then builds them again): their
    /// rows list classes in order, and a renumbering that keeps it is what lets them be kept.
    pub fn reshape(
        &mut self,
        changed: &[ObjectRef],
        snapshot: &ClusterSnapshot,
    ) -> Option<Reshape> {
        let before = self.classes.len();
        let mut touched = Vec::new();
        for id in changed {
            if let Some(from) = self.class_of(id) {
                let members = Arc::make_mut(&mut self.classes[from].members);
                if let Ok(at) = members.binary_search(id) {
                    members.remove(at);
                }
                touched.push(from);
            }
        }
        for pod in changed.iter().filter_map(|id| snapshot.pods.get(id)) {
            let to = match self.find(pod) {
                Some(to) => to,
                None => {
                    let ns = pod.id.namespace.as_str();
                    let ns_labels = self.shared_ns_labels(namespace_labels(snapshot, ns), ns);
                    self.classes.push(PodClass {
                        endpoint: representative(pod, ns_labels, addresses(pod)),
                        members: Arc::default(),
                    });
                    let new = self.classes.len() - 1;
                    self.by_namespace
                        .entry(ns.to_string())
                        .or_default()
                        .push(new);
                    new
                }
            };
            if let Err(at) = self.classes[to].members.binary_search(&pod.id) {
                Arc::make_mut(&mut self.classes[to].members).insert(at, pod.id.clone());
            }
            touched.push(to);
        }
        // Representatives are first members.
        touched.sort_unstable();
        touched.dedup();
        for &c in &touched {
            let Some(first) = self.classes[c].members.first() else {
                continue;
            };
            let ips = addresses(snapshot.pods.get(first)?);
            if self.classes[c].endpoint.ips != ips {
                Arc::make_mut(&mut self.classes[c].endpoint).ips = ips;
            }
        }
        let mut order: Vec<usize> = (0..self.classes.len())
            .filter(|&c| !self.classes[c].members.is_empty())
            .collect();
        order.sort_by(|a, b| self.classes[*a].members[0].cmp(&self.classes[*b].members[0]));
        let kept_in_order = (order.iter().filter(|&&c| c < before)).is_sorted();
        if !kept_in_order {
            return None;
        }
        let mut former = vec![None; before];
        let mut formed = Vec::new();
        for (to, &from) in order.iter().enumerate() {
            match former.get_mut(from) {
                Some(slot) => *slot = Some(to),
                None => formed.push(to),
            }
        }
        let reshape = Reshape { former, formed };
        if reshape.only_moved() {
            return Some(reshape);
        }
        let mut classes: Vec<Option<PodClass>> = std::mem::take(&mut self.classes)
            .into_iter()
            .map(Some)
            .collect();
        self.classes = order.iter().filter_map(|&c| classes[c].take()).collect();
        self.by_namespace.clear();
        for (c, class) in self.classes.iter().enumerate() {
            (self.by_namespace.entry(class.endpoint.namespace.clone()))
                .or_default()
                .push(c);
        }
        Some(reshape)
    }

    /// The class of a pod, searched among its namespace's classes.
    pub fn class_of(&self, pod: &ObjectRef) -> Option<usize> {
        (self.by_namespace.get(&pod.namespace)?.iter().copied())
            .find(|&c| self.classes[c].members.binary_search(pod).is_ok())
    }

    /// Every pod with its class, class by class.
    pub fn pods(&self) -> impl Iterator<Item = (&ObjectRef, usize)> {
        (self.classes.iter().enumerate())
            .flat_map(|(c, class)| class.members.iter().map(move |pod| (pod, c)))
    }
}
