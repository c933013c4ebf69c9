//! Flows summed per (source workload, destination workload, protocol and port, verdict,
//! reason): what an operator reads ("acme-web/frontend → kube-system/coredns UDP/53 dropped
//! POLICY_DENIED ×412"), and what palisade judges once instead of once per flow.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, SystemTime};

use super::record::{DataplaneVerdict, FlowEndpoint, FlowRecord, Name};
use crate::policy::Protocol;

/// Nodes remembered per aggregate.
const NODES_KEPT: usize = 8;

/// A workload as flows name it: the namespace and the owner's name (or, for an end that is not
/// a pod, the entity or the address).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadId {
    pub namespace: Option<Name>,
    pub name: Name,
}

impl fmt::Display for WorkloadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
const SUFFIX_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

fn generated(segment: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&segment.len()) && segment.chars().all(|c| SUFFIX_ALPHABET.contains(c))
}

/// The workload a pod name belongs to, by the shapes controllers give names: a Deployment's
/// `web-7d9f8b6c5d-x2k4q` and a Goldmane prefix `web-7d9f8b6c5d` are `web`; a StatefulSet's
/// `db-0` is `db`; a DaemonSet's or Job's `agent-x2k4q` is `agent`. Anything else is its own
/// name.
pub fn workload_of_pod(pod: &str) -> &str {
    let mut name = pod;
    if let Some((head, last)) = name.rsplit_once('-')
        && !head.is_empty()
        && (generated(last, 5..=5) || last.chars().all(|c| c.is_ascii_digit()))
    {
        name = head;
    }
    if let Some((head, last)) = name.rsplit_once('-')
        && !head.is_empty()
        && generated(last, 6..=10)
    {
        name = head;
    }
    name
}

impl WorkloadId {
    pub fn of(end: &FlowEndpoint) -> WorkloadId {
        let name: Name = if let Some(w) = &end.workload {
            w.clone()
        } else if let Some(pod) = &end.pod {
            let w = workload_of_pod(pod);
            if w.len() == pod.len() {
                pod.clone()
            } else {
                Name::from(w)
            }
        } else if let Some(entity) = &end.entity {
            entity.clone()
        } else if let Some(ip) = end.ip {
            Name::from(ip.to_string())
        } else {
            Name::from("?")
        };
        WorkloadId {
            namespace: end.namespace.clone(),
            name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggregateKey {
    pub src: WorkloadId,
    pub dst: WorkloadId,
    pub protocol: Option<Protocol>,
    pub port: Option<u16>,
    pub verdict: DataplaneVerdict,
    pub reason: Option<Name>,
}

impl AggregateKey {
    pub fn of(flow: &FlowRecord) -> AggregateKey {
        AggregateKey {
            src: WorkloadId::of(&flow.src),
            dst: WorkloadId::of(&flow.dst),
            protocol: flow.protocol,
            port: flow.port,
            verdict: flow.verdict,
            reason: flow.reason.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateStats {
    /// Flows (Goldmane aggregates count as their `count`).
    pub count: u64,
    pub first: SystemTime,
    pub last: SystemTime,
    pub nodes: BTreeSet<Name>,
    /// The newest flow of this aggregate: the pods, the dataplane's policies, the direction.
    pub sample: FlowRecord,
}

/// The aggregates of recent flows, bounded by count and by age (from the newest flow's time).
#[derive(Debug, Clone)]
pub struct Aggregates {
    max_entries: usize,
    max_age: Duration,
    entries: HashMap<AggregateKey, AggregateStats>,
    newest: Option<SystemTime>,
    /// Bumped on every change, so a view can tell its cached rows are out of date.
    pub generation: u64,
}

impl Aggregates {
    pub const DEFAULT_ENTRIES: usize = 5_000;

    pub fn new(max_entries: usize, max_age: Duration) -> Aggregates {
        Aggregates {
            max_entries: max_entries.max(1),
            max_age,
            entries: HashMap::new(),
            newest: None,
            generation: 0,
        }
    }

    pub fn add(&mut self, flow: &FlowRecord) {
        self.generation += 1;
        if self.newest.is_none_or(|n| flow.time > n) {
            self.newest = Some(flow.time);
        }
        let key = AggregateKey::of(flow);
        let count = flow.count.max(1);
        match self.entries.get_mut(&key) {
            Some(stats) => {
                stats.count = stats.count.saturating_add(count);
                stats.first = stats.first.min(flow.time);
                if flow.time >= stats.last {
                    stats.last = flow.time;
                    stats.sample = flow.clone();
                }
                if let Some(node) = &flow.node
                    && stats.nodes.len() < NODES_KEPT
                {
                    stats.nodes.insert(node.clone());
                }
            }
            None => {
                self.entries.insert(
                    key,
                    AggregateStats {
                        count,
                        first: flow.time,
                        last: flow.time,
                        nodes: flow.node.iter().cloned().collect(),
                        sample: flow.clone(),
                    },
                );
                if self.entries.len() > self.max_entries {
                    self.shed();
                }
            }
        }
    }

    pub fn extend<'a>(&mut self, flows: impl IntoIterator<Item = &'a FlowRecord>) {
        for flow in flows {
            self.add(flow);
        }
        self.expire();
    }

    /// Over the limit: drops the tenth least recently seen at once, so shedding costs one
    /// sort per many insertions rather than a scan per insertion.
    fn shed(&mut self) {
        let mut lasts: Vec<SystemTime> = self.entries.values().map(|s| s.last).collect();
        lasts.sort_unstable();
        let keep_from = lasts[(self.max_entries / 10).min(lasts.len() - 1)];
        self.entries.retain(|_, s| s.last > keep_from);
    }

    fn expire(&mut self) {
        if let Some(cutoff) = self.newest.and_then(|n| n.checked_sub(self.max_age)) {
            self.entries.retain(|_, s| s.last >= cutoff);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &AggregateKey) -> Option<&AggregateStats> {
        self.entries.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&AggregateKey, &AggregateStats)> {
        self.entries.iter()
    }

    /// Most recently seen first, then by key (a stable order for lists).
    pub fn newest_first(&self) -> Vec<(&AggregateKey, &AggregateStats)> {
        let mut rows: Vec<_> = self.entries.iter().collect();
        rows.sort_by(|a, b| b.1.last.cmp(&a.1.last).then_with(|| a.0.cmp(b.0)));
        rows
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.newest = None;
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::record::tests::test_flow;

    #[test]
    fn pod_names_map_to_their_workloads() {
        assert_eq!(workload_of_pod("frontend-7d9f8b6c5d-x2k4q"), "frontend");
        assert_eq!(workload_of_pod("frontend-7d9f8b6c5d"), "frontend");
        assert_eq!(workload_of_pod("postgres-0"), "postgres");
        assert_eq!(workload_of_pod("node-agent-x2k4q"), "node-agent");
        // Names a person chose stay whole: "api-server" has no generated suffix.
        assert_eq!(workload_of_pod("api-server"), "api-server");
        assert_eq!(workload_of_pod("web"), "web");
        // Vowels never appear in generated suffixes.
        assert_eq!(workload_of_pod("web-admin"), "web-admin");
    }

    fn flow(pod: &str, secs: u64) -> FlowRecord {
        let mut f = test_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
        f.src.namespace = Some("acme-web".into());
        f.src.pod = Some(pod.into());
        f.dst.namespace = Some("kube-system".into());
        f.dst.pod = Some("coredns-5d78c9869d-bcdfg".into());
        f.time = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        f.node = Some("worker-1".into());
        f
    }

    #[test]
    fn replicas_of_one_workload_sum_into_one_aggregate() {
        let mut agg = Aggregates::new(100, Duration::from_secs(600));
        let flows = [
            flow("frontend-7d9f8b6c5d-x2k4q", 10),
            flow("frontend-7d9f8b6c5d-q9z8w", 12),
            flow("frontend-7d9f8b6c5d-x2k4q", 11),
        ];
        agg.extend(&flows);
        assert_eq!(agg.len(), 1);
        let (key, stats) = agg.newest_first()[0];
        assert_eq!(key.src.to_string(), "acme-web/frontend");
        assert_eq!(key.dst.to_string(), "kube-system/coredns");
        assert_eq!(stats.count, 3);
        assert_eq!(
            stats.first,
            SystemTime::UNIX_EPOCH + Duration::from_secs(10)
        );
        // The sample is the newest flow, whatever order they came in.
        assert_eq!(
            stats.sample.src.pod.as_deref(),
            Some("frontend-7d9f8b6c5d-q9z8w")
        );
    }

    #[test]
    fn a_different_verdict_or_port_is_a_different_aggregate() {
        let mut agg = Aggregates::new(100, Duration::from_secs(600));
        let a = flow("frontend-7d9f8b6c5d-x2k4q", 1);
        let mut b = a.clone();
        b.verdict = DataplaneVerdict::Forwarded;
        b.reason = None;
        let mut c = a.clone();
        c.port = Some(5353);
        agg.extend([&a, &b, &c]);
        assert_eq!(agg.len(), 3);
    }

    #[test]
    fn bounded_by_entries_and_by_age() {
        let mut agg = Aggregates::new(10, Duration::from_secs(100));
        let flows: Vec<_> = (0..50)
            .map(|i| {
                let mut f = flow("frontend-7d9f8b6c5d-x2k4q", i);
                f.port = Some(1000 + i as u16);
                f
            })
            .collect();
        agg.extend(&flows);
        assert!(agg.len() <= 10, "{} entries", agg.len());
        // The newest survive.
        assert!(agg.iter().any(|(k, _)| k.port == Some(1049)));
        let mut late = flow("frontend-7d9f8b6c5d-x2k4q", 1_000);
        late.port = Some(1);
        agg.extend([&late]);
        assert_eq!(
            agg.len(),
            1,
            "everything 100 s older than the newest flow expired"
        );
    }
}
