//! The demo cluster's traffic, pure: a fixed set of flows between workloads, chosen from the
//! cluster as it was seeded, and their verdicts under the cluster's current policies.
//!
//! A flow goes from one workload to another (or to itself, between replicas) on one protocol and
//! port, at a fixed packet rate spread evenly over the pod pairs the two workloads currently
//! have. Workloads are found again by labels, so pods replaced by `--churn` or by hand carry the
//! traffic on. Verdicts come from the real engine ([`crate::policy::Engine`]), built over every
//! namespace and policy and the pods the flows touch. A pair denied by its source's egress side
//! is dropped on the source's node; otherwise, if the destination's ingress side denies it, on
//! the destination's node.

use std::collections::BTreeMap;

use crate::model::{ClusterSnapshot, Labels, ObjectRef, Objects};
use crate::policy::{Cni, Direction, Engine, IpBlockPods, Protocol, Settings};

use super::agents;
use super::churn::CHURN_LABEL;
use super::flow_gen::{self, Decisions};

/// Flows kept at most (workload and DNS flows are thinned evenly beyond it), plus the probes.
pub const MAX_FLOWS: usize = 2000;
/// Cross-tenant probes: traffic the policies are expected to stop.
pub const PROBES: usize = 6;
/// Labels that differ between replicas of one workload or change under churn.
const PER_POD_LABELS: [&str; 2] = ["statefulset.kubernetes.io/pod-name", CHURN_LABEL];
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// Pods of one namespace that share their labels (less the per-pod ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub namespace: String,
    pub selector: Labels,
    /// The first named port of its pods, where other workloads connect.
    pub port: Option<(Protocol, u16)>,
    pub replicas: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// A workload's DNS lookups to kube-dns.
    Dns,
    /// Traffic between the workloads of a namespace, or between replicas of one.
    Workload,
    /// A connection attempt from one tenant to another.
    Probe,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub src: usize,
    pub dst: usize,
    pub protocol: Protocol,
    pub port: u16,
    /// Packets per second, over all pod pairs.
    pub rate: f64,
    pub kind: FlowKind,
}

/// One series of dropped traffic: where it was dropped, in which direction, between which
/// namespaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DropKey {
    pub node: String,
    pub direction: Direction,
    pub protocol: Protocol,
    pub source_namespace: String,
    pub destination_namespace: String,
}

/// What one evaluation found: packet rates per series, and a few gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    pub denied: BTreeMap<DropKey, f64>,
    /// Forwarded packets per second, counted on the destination's node.
    pub forwarded: BTreeMap<(String, Protocol), f64>,
    /// Endpoints (pods, agents left out) per node.
    pub endpoints: BTreeMap<String, usize>,
    /// Valid policies loaded.
    pub policies: usize,
    /// Calico's enforced policies (NetworkPolicy, GlobalNetworkPolicy; not the staged kinds).
    pub calico_policies: usize,
    /// Allowed packets per second between namespaces, counted on the source's node: what the
    /// simulated Hubble turns into HTTP requests and DNS responses.
    pub allowed: BTreeMap<AllowedKey, f64>,
}

/// One series of allowed traffic as Hubble's L7 metrics see it (the client's side).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllowedKey {
    pub node: String,
    pub source_namespace: String,
    pub destination_namespace: String,
    pub dns: bool,
}

/// The fixed flows of a demo cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficPlan {
    pub workloads: Vec<Workload>,
    pub flows: Vec<Flow>,
}

/// The part of a snapshot an evaluation needs: every namespace and policy, the flows' pods.
#[derive(Debug, Clone)]
pub struct Reduced {
    snapshot: ClusterSnapshot,
    members: Vec<Vec<ObjectRef>>,
    endpoints: BTreeMap<String, usize>,
    /// The agents' settings, from the whole cluster (the reduced one has no agent pods).
    settings: Settings,
}

/// FNV-1a mapped to `[0, 1)`: deterministic "randomness".
pub fn unit(text: &str) -> f64 {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A rate between `lo` and `hi` packets per second, in tenths, fixed by `seed`.
fn rate(seed: &str, lo: f64, hi: f64) -> f64 {
    ((lo + (hi - lo) * unit(seed)) * 10.0).round() / 10.0
}

fn selector(labels: &Labels) -> Labels {
    let mut labels = labels.clone();
    for key in PER_POD_LABELS {
        labels.remove(key);
    }
    labels
}

fn is_agent(namespace: &str, labels: &Labels) -> bool {
    namespace == agents::NAMESPACE
        && matches!(
            labels.get(agents::LABEL_KEY).map(String::as_str),
            Some(agents::LABEL_VALUE | agents::CALICO_LABEL_VALUE)
        )
}

/// The engine settings of the demo's agents: Calico's when its `calico-node` agents run
/// (`palisade demo --cni calico`: ipBlocks match pods, Calico's order), else Cilium's (CIDR
/// rules do not select cluster endpoints). Tier networks match pods either way.
pub fn agent_settings(snapshot: &ClusterSnapshot) -> Settings {
    let cni = match crate::isolation::cni::detect(snapshot).cni {
        Cni::Calico => Cni::Calico,
        Cni::Cilium | Cni::Generic => Cni::Cilium,
    };
    Settings {
        ip_block_pods: match cni {
            Cni::Cilium => IpBlockPods::Ignore,
            _ => IpBlockPods::Match,
        },
        tier_networks: IpBlockPods::Match,
        cni,
    }
}

impl TrafficPlan {
    /// Chooses the flows from a cluster: DNS (UDP and TCP 53) from every workload outside
    /// kube-system, each namespace's workloads in a ring (a lone workload with replicas talks to
    /// itself), then [`PROBES`] cross-tenant probes. Deterministic.
    pub fn from_snapshot(snapshot: &ClusterSnapshot) -> TrafficPlan {
        let mut index: BTreeMap<(String, Labels), Workload> = BTreeMap::new();
        for pod in snapshot.pods.values() {
            let ns = &pod.id.namespace;
            if pod.node.is_none() || is_agent(ns, &pod.labels) {
                continue;
            }
            let sel = selector(&pod.labels);
            let port = pod
                .ports
                .first()
                .and_then(|p| Some((Protocol::parse(&p.protocol)?, u16::try_from(p.port).ok()?)));
            index
                .entry((ns.clone(), sel.clone()))
                .or_insert_with(|| Workload {
                    namespace: ns.clone(),
                    selector: sel,
                    port,
                    replicas: 0,
                })
                .replicas += 1;
        }
        let workloads: Vec<Workload> = index.into_values().collect();
        let is_dns = |w: &Workload| {
            w.namespace == "kube-system"
                && w.selector.get(DNS_LABEL.0).map(String::as_str) == Some(DNS_LABEL.1)
        };
        let dns = workloads.iter().position(is_dns);
        let mut flows = Vec::new();
        let mut start = 0;
        while start < workloads.len() {
            let ns = &workloads[start].namespace;
            let end = start + workloads[start..].partition_point(|w| &w.namespace == ns);
            for i in start..end {
                if let Some(dns) = dns.filter(|_| ns != "kube-system") {
                    for (protocol, lo, hi) in [(Protocol::Udp, 1.0, 6.0), (Protocol::Tcp, 0.2, 0.8)]
                    {
                        flows.push(flow(
                            &workloads,
                            i,
                            dns,
                            protocol,
                            53,
                            (lo, hi),
                            FlowKind::Dns,
                        ));
                    }
                }
            }
            let ring = end - start;
            for i in start..end {
                let dst = start + (i - start + 1) % ring;
                let peers = ring > 1 || workloads[i].replicas > 1;
                if let (true, Some((protocol, port))) = (peers, workloads[dst].port) {
                    let kind = FlowKind::Workload;
                    flows.push(flow(&workloads, i, dst, protocol, port, (5.0, 40.0), kind));
                }
            }
            start = end;
        }
        if flows.len() > MAX_FLOWS {
            let len = flows.len();
            flows = (0..MAX_FLOWS)
                .map(|j| flows[j * len / MAX_FLOWS].clone())
                .collect();
        }
        flows.extend(probes(snapshot, &workloads));
        TrafficPlan { workloads, flows }
    }

    /// Picks the current pods of the flows' workloads.
    pub fn reduce(&self, snapshot: &ClusterSnapshot) -> Reduced {
        let mut used = vec![false; self.workloads.len()];
        for f in &self.flows {
            used[f.src] = true;
            used[f.dst] = true;
        }
        let mut pods = Objects::new();
        let members = self
            .workloads
            .iter()
            .zip(used)
            .map(|(w, used)| {
                if !used {
                    return Vec::new();
                }
                let current = snapshot.pods_in(&w.namespace).filter(|p| {
                    p.node.is_some()
                        && p.phase == "Running"
                        && w.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
                });
                current
                    .map(|p| {
                        pods.insert(p.id.clone(), p.clone());
                        p.id.clone()
                    })
                    .collect()
            })
            .collect();
        let mut endpoints = BTreeMap::new();
        for pod in snapshot.pods.values() {
            if let Some(node) = &pod.node
                && !is_agent(&pod.id.namespace, &pod.labels)
            {
                *endpoints.entry(node.clone()).or_default() += 1;
            }
        }
        let reduced = ClusterSnapshot {
            namespaces: snapshot.namespaces.clone(),
            pods,
            policies: snapshot.policies.clone(),
            tiers: snapshot.tiers.clone(),
            natives: snapshot.natives.clone(),
        };
        Reduced {
            snapshot: reduced,
            members,
            endpoints,
            settings: agent_settings(snapshot),
        }
    }

    /// Builds the engine (the agents' CNI: [`agent_settings`]) and decides every pod
    /// pair of every flow: the rates, and with `flows` each pair's decisions for the flow
    /// generator, from the same engine.
    pub fn evaluate_all(&self, reduced: Reduced, flows: bool) -> (Rates, Option<Decisions>) {
        let Reduced {
            snapshot,
            members,
            endpoints,
            settings,
        } = reduced;
        let engine = Engine::from_snapshot(snapshot, settings);
        let decisions = flows.then(|| flow_gen::decide(&self.flows, &engine, &members));
        let node = |pod: &ObjectRef| engine.snapshot().pods.get(pod).and_then(|p| p.node.clone());
        let allows = |dir: Direction, subject: usize, other: usize, f: &Flow| {
            engine
                .row(subject, dir)
                .is_none_or(|row| row.get(other).contains(f.protocol, f.port))
        };
        let mut rates = Rates {
            endpoints,
            policies: engine.policies().len(),
            calico_policies: engine.calico_policies().len(),
            ..Rates::default()
        };
        for f in &self.flows {
            let pairs: Vec<(&ObjectRef, &ObjectRef)> = members[f.src]
                .iter()
                .flat_map(|s| members[f.dst].iter().map(move |d| (s, d)))
                .filter(|(s, d)| s != d)
                .collect();
            let per_pair = f.rate / pairs.len().max(1) as f64;
            for (s, d) in pairs {
                let (Some(cs), Some(cd)) = (engine.class_of(s), engine.class_of(d)) else {
                    continue;
                };
                let (direction, at) = if !allows(Direction::Egress, cs, cd, f) {
                    (Direction::Egress, s)
                } else if !allows(Direction::Ingress, cd, cs, f) {
                    (Direction::Ingress, d)
                } else {
                    if let Some(n) = node(d) {
                        *rates.forwarded.entry((n, f.protocol)).or_default() += per_pair;
                    }
                    let dns = f.kind == FlowKind::Dns;
                    if let Some(n) = node(s).filter(|_| dns || f.protocol == Protocol::Tcp) {
                        let key = AllowedKey {
                            node: n,
                            source_namespace: s.namespace.clone(),
                            destination_namespace: d.namespace.clone(),
                            dns,
                        };
                        *rates.allowed.entry(key).or_default() += per_pair;
                    }
                    continue;
                };
                let Some(n) = node(at) else { continue };
                let key = DropKey {
                    node: n,
                    direction,
                    protocol: f.protocol,
                    source_namespace: s.namespace.clone(),
                    destination_namespace: d.namespace.clone(),
                };
                *rates.denied.entry(key).or_default() += per_pair;
            }
        }
        (rates, decisions)
    }

    /// [`TrafficPlan::reduce`] then [`TrafficPlan::evaluate_all`], rates only.
    #[cfg(test)]
    pub fn evaluate(&self, snapshot: &ClusterSnapshot) -> Rates {
        self.evaluate_all(self.reduce(snapshot), false).0
    }
}

fn flow(
    workloads: &[Workload],
    src: usize,
    dst: usize,
    protocol: Protocol,
    port: u16,
    (lo, hi): (f64, f64),
    kind: FlowKind,
) -> Flow {
    let name = |w: &Workload| format!("{}/{:?}", w.namespace, w.selector);
    let seed = format!(
        "{}>{}:{protocol}/{port}",
        name(&workloads[src]),
        name(&workloads[dst])
    );
    Flow {
        src,
        dst,
        protocol,
        port,
        rate: rate(&seed, lo, hi),
        kind,
    }
}

/// From tenant namespaces spread over the list, to the first workload with a port in the next
/// namespace (cyclically) that belongs to another tenant.
fn probes(snapshot: &ClusterSnapshot, workloads: &[Workload]) -> Vec<Flow> {
    let tenant = |ns: &str| snapshot.namespaces.get(ns)?.labels.get("tenant").cloned();
    let tenanted: Vec<(&str, String)> = snapshot
        .namespaces
        .keys()
        .filter_map(|ns| Some((ns.as_str(), tenant(ns)?)))
        .filter(|(ns, _)| workloads.iter().any(|w| w.namespace == *ns))
        .collect();
    let first = |ns: &str, with_port: bool| {
        workloads
            .iter()
            .position(|w| w.namespace == ns && (!with_port || w.port.is_some()))
    };
    let n = tenanted.len();
    let mut out: Vec<Flow> = Vec::new();
    for j in 0..PROBES.min(n) {
        let i = j * n / PROBES.min(n);
        let (src_ns, src_tenant) = &tenanted[i];
        let target = (1..n)
            .map(|k| &tenanted[(i + k * (j + 1)) % n])
            .find(|(ns, t)| t != src_tenant && first(ns, true).is_some());
        let (Some(src), Some((dst_ns, _))) = (first(src_ns, false), target) else {
            continue;
        };
        let Some(dst) = first(dst_ns, true) else {
            continue;
        };
        let Some((protocol, port)) = workloads[dst].port else {
            continue;
        };
        if !out.iter().any(|f| (f.src, f.dst) == (src, dst)) {
            out.push(flow(
                workloads,
                src,
                dst,
                protocol,
                port,
                (0.2, 1.0),
                FlowKind::Probe,
            ));
        }
    }
    out
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
