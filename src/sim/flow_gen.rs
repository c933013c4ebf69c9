//! The demo's dataplane flows, pure: every pod pair of the traffic plan with what each end's
//! agent decides for it ([`Decisions`], from the same engine and evaluation as the counters),
//! the evaluations kept with their times ([`Timeline`]), and the flows Hubble would report
//! ([`FlowGenerator`]).
//!
//! Flows are exact functions of time, like the counters: flow number `n` happens at `n / rate`
//! seconds after the agents started, on the pod pair a low-discrepancy sequence picks from the
//! latest evaluation, weighted by the pairs' packet rates, so any window holds the same flows
//! however it is cut. A lagging node decides with the evaluation that was in force `lag`
//! seconds earlier.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::flows::aggregate::workload_of_pod;
use crate::flows::{
    DataplanePolicy, DataplaneVerdict, FlowEndpoint, FlowRecord, FlowSourceKind, Interner, Name,
};
use crate::model::ObjectRef;
use crate::policy::explain::{DecidedBy, SideExplanation};
use crate::policy::tier::Action;
use crate::policy::{Cni, Direction, Engine, Explanation, Peer, Protocol, explain};

use super::flow_trace::calico_trace;
use super::traffic::Flow;

/// Hubble's drop reason for a packet a policy denied.
pub const POLICY_DENIED: &str = "POLICY_DENIED";
/// The fractional part of the golden ratio: successive multiples of it spread evenly over
/// `[0, 1)`, so every pair gets its share of any long enough run of flows.
const GOLDEN: f64 = 0.618_033_988_749_894_9;

/// A pod at one end of the demo's flows, named as Hubble names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEnd {
    pub namespace: Name,
    pub pod: Name,
    pub workload: Name,
    pub ip: Option<IpAddr>,
    pub node: Name,
}

impl PodEnd {
    fn endpoint(&self) -> FlowEndpoint {
        FlowEndpoint {
            namespace: Some(self.namespace.clone()),
            pod: Some(self.pod.clone()),
            workload: Some(self.workload.clone()),
            ip: self.ip,
            entity: None,
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.namespace, &self.pod)
    }
}

/// What one end's agent decides for one flow between two pods.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SideVerdict {
    pub allowed: bool,
    /// The policies Cilium names: those that allowed it, or a tier rule that denied it; none
    /// for a default deny (Cilium names only deny rules).
    pub policies: Vec<DataplanePolicy>,
}

/// One pod pair of one plan flow: indices into [`Decisions`]' tables.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pair {
    flow: u32,
    src: u32,
    dst: u32,
    egress: u32,
    ingress: u32,
}

/// Every pod pair of the plan's flows with both sides' verdicts, from one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    /// Protocol and port of each plan flow.
    services: Vec<(Protocol, u16)>,
    pods: Vec<PodEnd>,
    sides: Vec<SideVerdict>,
    /// Sorted by flow, then source and destination (namespace, name), for lookups by pod.
    pairs: Vec<Pair>,
    /// Running sum of the pairs' packets per second: a pair's share of the flows.
    cumulative: Vec<f64>,
}

impl Decisions {
    #[cfg(test)]
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Packets per second over every pair.
    pub fn total_rate(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    fn order(&self, a: &Pair, flow: u32, src: &PodEnd, dst: &PodEnd) -> Ordering {
        let (s, d) = (&self.pods[a.src as usize], &self.pods[a.dst as usize]);
        (a.flow, s.key(), d.key()).cmp(&(flow, src.key(), dst.key()))
    }

    /// This evaluation's decision for the same pods of the same flow, if it had them.
    fn find(&self, flow: u32, src: &PodEnd, dst: &PodEnd) -> Option<&Pair> {
        let i = self
            .pairs
            .binary_search_by(|p| self.order(p, flow, src, dst))
            .ok()?;
        Some(&self.pairs[i])
    }

    /// Only the pairs with an end on one of `nodes` (what a lagging agent looks back at), to
    /// keep old evaluations small.
    fn touching(&self, nodes: &[Name]) -> Decisions {
        let on = |i: u32| nodes.contains(&self.pods[i as usize].node);
        Decisions {
            services: self.services.clone(),
            pods: self.pods.clone(),
            sides: self.sides.clone(),
            pairs: self
                .pairs
                .iter()
                .filter(|p| on(p.src) || on(p.dst))
                .copied()
                .collect(),
            cumulative: Vec::new(),
        }
    }
}

/// Decides every pod pair of every flow with `engine` (Cilium's settings, as the agents use
/// it): `members[w]` are workload `w`'s current pods.
pub fn decide(flows: &[Flow], engine: &Engine, members: &[Vec<ObjectRef>]) -> Decisions {
    let mut builder = Builder {
        engine,
        interner: Interner::new(usize::MAX),
        decisions: Decisions::default(),
        pod_ids: HashMap::new(),
        side_ids: HashMap::new(),
        sides: HashMap::new(),
        explained: HashMap::new(),
    };
    let mut total = 0.0;
    for (i, f) in flows.iter().enumerate() {
        builder.decisions.services.push((f.protocol, f.port));
        let count = members[f.src].len() * members[f.dst].len()
            - members[f.src]
                .iter()
                .filter(|s| members[f.dst].contains(s))
                .count();
        let per_pair = f.rate / count.max(1) as f64;
        let mut pairs: Vec<Pair> = Vec::new();
        for s in &members[f.src] {
            for d in members[f.dst].iter().filter(|d| *d != s) {
                if let Some(pair) = builder.pair(i as u32, s, d, f) {
                    pairs.push(pair);
                }
            }
        }
        let d = &builder.decisions;
        pairs.sort_by(|a, b| {
            let (sa, da) = (&d.pods[a.src as usize], &d.pods[a.dst as usize]);
            d.order(b, a.flow, sa, da).reverse()
        });
        for pair in pairs {
            total += per_pair;
            builder.decisions.pairs.push(pair);
            builder.decisions.cumulative.push(total);
        }
    }
    builder.decisions
}

struct Builder<'a> {
    engine: &'a Engine,
    interner: Interner,
    decisions: Decisions,
    pod_ids: HashMap<ObjectRef, u32>,
    side_ids: HashMap<SideVerdict, u32>,
    sides: HashMap<(usize, usize, Direction, Protocol, u16), u32>,
    explained: HashMap<(usize, usize), Explanation>,
}

impl Builder<'_> {
    fn pair(&mut self, flow: u32, s: &ObjectRef, d: &ObjectRef, f: &Flow) -> Option<Pair> {
        let (cs, cd) = (self.engine.class_of(s)?, self.engine.class_of(d)?);
        let (src, dst) = (self.pod(s)?, self.pod(d)?);
        Some(Pair {
            flow,
            src,
            dst,
            egress: self.side(Direction::Egress, cs, cd, f),
            ingress: self.side(Direction::Ingress, cd, cs, f),
        })
    }

    fn pod(&mut self, id: &ObjectRef) -> Option<u32> {
        if let Some(i) = self.pod_ids.get(id) {
            return Some(*i);
        }
        let pod = self.engine.snapshot().pods.get(id)?;
        let end = PodEnd {
            namespace: self.interner.name(&id.namespace),
            pod: self.interner.name(&id.name),
            workload: self.interner.name(workload_of_pod(&id.name)),
            ip: pod.ips.iter().find_map(|ip| ip.parse().ok()),
            node: self.interner.name(pod.node.as_deref()?),
        };
        let i = self.decisions.pods.len() as u32;
        self.decisions.pods.push(end);
        self.pod_ids.insert(id.clone(), i);
        Some(i)
    }

    /// `subject`'s side of a flow with `other`: the engine's verdict (as the counters take it)
    /// and the policies that decided.
    fn side(&mut self, dir: Direction, subject: usize, other: usize, f: &Flow) -> u32 {
        let key = (subject, other, dir, f.protocol, f.port);
        if let Some(i) = self.sides.get(&key) {
            return *i;
        }
        let verdict = match self.engine.row(subject, dir) {
            None => SideVerdict {
                allowed: true,
                policies: Vec::new(),
            },
            Some(row) => {
                let allowed = row.get(other).contains(f.protocol, f.port);
                let (src, dst) = match dir {
                    Direction::Egress => (subject, other),
                    Direction::Ingress => (other, subject),
                };
                let engine = self.engine;
                let explanation = self
                    .explained
                    .entry((src, dst))
                    .or_insert_with(|| explain(engine, &Peer::Class(src), &Peer::Class(dst)));
                let side = match dir {
                    Direction::Egress => &explanation.egress,
                    Direction::Ingress => &explanation.ingress,
                };
                // Calico reports its walk (Goldmane's policy trace); Cilium the deciding rules.
                let calico = match engine.settings().cni {
                    Cni::Calico => calico_trace(
                        engine,
                        dir,
                        subject,
                        other,
                        side,
                        f.protocol,
                        f.port,
                        &mut self.interner,
                    ),
                    Cni::Cilium | Cni::Generic => None,
                };
                let policies =
                    calico.unwrap_or_else(|| named(side, f.protocol, f.port, &mut self.interner));
                SideVerdict { allowed, policies }
            }
        };
        let next = self.side_ids.len() as u32;
        let i = *self.side_ids.entry(verdict.clone()).or_insert_with(|| {
            self.decisions.sides.push(verdict);
            next
        });
        self.sides.insert(key, i);
        i
    }
}

/// The policies Cilium would name for `protocol/port` on one side: the NetworkPolicies or the
/// tier rule that allowed it, or the tier rule that denied it.
fn named(
    side: &SideExplanation,
    protocol: Protocol,
    port: u16,
    interner: &mut Interner,
) -> Vec<DataplanePolicy> {
    let part = side.parts.iter().find(|p| {
        p.conns.contains(protocol, port)
            && !matches!(
                p.by,
                DecidedBy::TierRule {
                    action: Action::Pass,
                    ..
                }
            )
    });
    let Some(part) = part else {
        return Vec::new();
    };
    match &part.by {
        DecidedBy::TierRule { policy, action, .. } => vec![DataplanePolicy {
            kind: interner.name(policy.kind.kind()),
            namespace: None,
            name: interner.name(&policy.name),
            tier: None,
            action: Some(interner.name(if *action == Action::Deny {
                "Deny"
            } else {
                "Allow"
            })),
            rule: None,
        }],
        DecidedBy::NetworkPolicies { allowed: true } => side
            .policies
            .iter()
            .filter(|p| p.allowed.contains(protocol, port))
            .map(|p| DataplanePolicy {
                kind: interner.name("NetworkPolicy"),
                namespace: Some(interner.name(&p.policy.namespace)),
                name: interner.name(&p.policy.name),
                tier: None,
                action: Some(interner.name("Allow")),
                rule: None,
            })
            .collect(),
        DecidedBy::NetworkPolicies { allowed: false } | DecidedBy::Default => Vec::new(),
    }
}

/// The evaluations still needed, with the time (seconds since the agents started) each took
/// effect, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    evaluations: VecDeque<(f64, Arc<Decisions>)>,
}

impl Timeline {
    /// Adds an evaluation that took effect at `at`, forgetting those no lag reaches any more.
    /// Earlier evaluations are kept only for `lagging` nodes' pairs.
    pub fn push(&mut self, at: f64, decisions: Decisions, lagging: &[(Name, f64)]) {
        let keep = lagging.iter().map(|(_, lag)| *lag).fold(0.0, f64::max);
        let nodes: Vec<Name> = lagging.iter().map(|(n, _)| n.clone()).collect();
        if let Some((then, last)) = self.evaluations.pop_back()
            && keep > 0.0
        {
            self.evaluations
                .push_back((then, Arc::new(last.touching(&nodes))));
        }
        self.evaluations.push_back((at, Arc::new(decisions)));
        // The oldest one stays while it is the one in force `keep` seconds ago.
        while self.evaluations.len() > 1 && self.evaluations[1].0 <= at - keep {
            self.evaluations.pop_front();
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.evaluations.len()
    }

    /// The latest evaluation.
    pub fn current(&self) -> Option<&Decisions> {
        self.evaluations.back().map(|(_, d)| d.as_ref())
    }

    /// The evaluation in force at `t`: the last to take effect by then (the oldest kept one
    /// for earlier times).
    fn at(&self, t: f64) -> Option<&Decisions> {
        let i = self.evaluations.partition_point(|(at, _)| *at <= t);
        self.evaluations
            .get(i.saturating_sub(1))
            .map(|(_, d)| d.as_ref())
    }
}

/// Turns evaluations into the flows Hubble would report.
#[derive(Debug, Clone)]
pub struct FlowGenerator {
    /// Flows per second over the whole demo.
    pub rate: f64,
    /// Where the sequence of pairs starts, in `[0, 1)`.
    pub seed: f64,
    /// Nodes whose agent decides with old evaluations, and how old (seconds).
    pub lagging: Vec<(Name, f64)>,
    /// Wall-clock time of the agents' start: flow times are this plus seconds.
    pub epoch: SystemTime,
}

impl FlowGenerator {
    /// Numbers of the flows that happen in `[from, to)` (seconds since the start).
    pub fn due(&self, from: f64, to: f64) -> std::ops::Range<u64> {
        let index = |t: f64| (t.max(0.0) * self.rate).ceil() as u64;
        index(from)..index(to).max(index(from))
    }

    /// The flows that happen in `[from, to)`: pairs picked from the latest evaluation, each
    /// side decided as its node's agent has it (a lagging one, as it was `lag` seconds before
    /// the flow). Call it for windows after the latest evaluation took effect.
    pub fn flows(&self, timeline: &Timeline, from: f64, to: f64) -> Vec<FlowRecord> {
        self.due(from, to)
            .filter_map(|n| self.flow(timeline, n))
            .collect()
    }

    /// Flow number `n`.
    pub fn flow(&self, timeline: &Timeline, n: u64) -> Option<FlowRecord> {
        let t = n as f64 / self.rate;
        let now = timeline.current()?;
        let total = now.total_rate();
        if total <= 0.0 {
            return None;
        }
        let u = (self.seed + n as f64 * GOLDEN).fract() * total;
        let i = now
            .cumulative
            .partition_point(|c| *c <= u)
            .min(now.pairs.len() - 1);
        let pair = &now.pairs[i];
        let (src, dst) = (&now.pods[pair.src as usize], &now.pods[pair.dst as usize]);
        let egress = self.side(timeline, now, t, pair, &src.node, |p| p.egress);
        let ingress = self.side(timeline, now, t, pair, &dst.node, |p| p.ingress);
        let (verdict, direction, observed) = if !egress.allowed {
            (DataplaneVerdict::Dropped, Direction::Egress, egress)
        } else if !ingress.allowed {
            (DataplaneVerdict::Dropped, Direction::Ingress, ingress)
        } else if n.is_multiple_of(2) {
            // Hubble reports a forwarded flow at both ends; each record here is one of them.
            (DataplaneVerdict::Forwarded, Direction::Egress, egress)
        } else {
            (DataplaneVerdict::Forwarded, Direction::Ingress, ingress)
        };
        let node = match direction {
            Direction::Egress => &src.node,
            Direction::Ingress => &dst.node,
        };
        let (protocol, port) = now.services[pair.flow as usize];
        Some(FlowRecord {
            time: self.epoch + Duration::from_secs_f64(t),
            source_kind: FlowSourceKind::Hubble,
            node: Some(node.clone()),
            src: src.endpoint(),
            dst: dst.endpoint(),
            protocol: Some(protocol),
            port: Some(port),
            verdict,
            reason: (verdict == DataplaneVerdict::Dropped).then(|| Name::from(POLICY_DENIED)),
            direction: Some(direction),
            policies: observed.policies.clone(),
            is_reply: Some(false),
            count: 1,
        })
    }

    /// One side's verdict as `node`'s agent has it at `t`: its lag old, for a lagging node.
    fn side<'a>(
        &self,
        timeline: &'a Timeline,
        now: &'a Decisions,
        t: f64,
        pair: &Pair,
        node: &Name,
        which: impl Fn(&Pair) -> u32,
    ) -> &'a SideVerdict {
        let current = &now.sides[which(pair) as usize];
        let Some((_, lag)) = self.lagging.iter().find(|(n, _)| n == node) else {
            return current;
        };
        let Some(then) = timeline.at(t - lag) else {
            return current;
        };
        if std::ptr::eq(then, now) {
            return current;
        }
        let (src, dst) = (&now.pods[pair.src as usize], &now.pods[pair.dst as usize]);
        match then.find(pair.flow, src, dst) {
            Some(old) => &then.sides[which(old) as usize],
            // Pods the lagging agent did not know yet: it has their current policy already.
            None => current,
        }
    }
}

#[cfg(test)]
#[path = "flow_gen_tests.rs"]
mod tests;
