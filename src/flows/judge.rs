//! Palisade's own verdict on a flow the dataplane reported, from the engine, and **drift**
//! where the two disagree: a flow dropped by policy that the policies allow, or one forwarded
//! that they deny. Drift means an agent behind the API server, a policy kind palisade does not
//! evaluate, or a bug on one side.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::net::IpAddr;

use super::aggregate::workload_of_pod;
use super::record::{DataplaneVerdict, FlowEndpoint, FlowRecord};
use crate::model::ObjectRef;
use crate::policy::explain::{CalicoVerdict, DecidedBy, SideExplanation};
use crate::policy::ipset::{Family, IpRange};
use crate::policy::{Direction, Engine, Peer, Protocol, explain};

/// What the policies say about one flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prediction {
    Allowed {
        by: String,
    },
    Denied {
        by: String,
    },
    /// Decided by a rule on DNS names or node addresses, which objects alone cannot settle.
    Undecided {
        by: String,
    },
    /// Palisade cannot place an end of the flow or has no words for its protocol.
    Unknown {
        reason: String,
    },
}

impl Prediction {
    /// `allowed`, `denied`, `undecided`, `unknown`.
    pub fn word(&self) -> &'static str {
        match self {
            Prediction::Allowed { .. } => "allowed",
            Prediction::Denied { .. } => "denied",
            Prediction::Undecided { .. } => "undecided",
            Prediction::Unknown { .. } => "unknown",
        }
    }

    /// The deciding policy or rule, or why there is no verdict; empty for a forwarded flow the
    /// policies allow when the judge was not asked for details ([`Judge::detailed`]).
    pub fn detail(&self) -> &str {
        match self {
            Prediction::Allowed { by }
            | Prediction::Denied { by }
            | Prediction::Undecided { by } => by,
            Prediction::Unknown { reason } => reason,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drift {
    /// The dataplane dropped it by policy; the policies allow it.
    DroppedButAllowed,
    /// The dataplane forwarded it; the policies deny it.
    ForwardedButDenied,
}

impl Drift {
    pub fn describe(self) -> &'static str {
        match self {
            Drift::DroppedButAllowed => "dropped by the dataplane, allowed by the policies",
            Drift::ForwardedButDenied => "forwarded by the dataplane, denied by the policies",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub prediction: Prediction,
    pub drift: Option<Drift>,
    /// The engine's ends, for explain (`None` when an end could not be placed).
    pub peers: Option<(Peer, Peer)>,
}

/// Judges flows against one engine. Built once per analysis: it indexes pod addresses.
pub struct Judge<'a> {
    engine: &'a Engine,
    /// Pod addresses, indexed on first need (most flows name their pods).
    by_ip: OnceCell<HashMap<IpAddr, &'a ObjectRef>>,
    /// Name the deciding policy for every flow, not only for denials and drift.
    detailed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Allowed,
    Denied,
    Undecided,
}

impl<'a> Judge<'a> {
    pub fn new(engine: &'a Engine) -> Judge<'a> {
        Judge {
            engine,
            by_ip: OnceCell::new(),
            detailed: false,
        }
    }

    /// A judge that names the deciding policy for every flow (`palisade flows`, explain);
    /// the plain one leaves `Prediction::Allowed::by` empty for a forwarded flow the policies
    /// allow, which is most traffic.
    pub fn detailed(engine: &'a Engine) -> Judge<'a> {
        Judge {
            detailed: true,
            ..Judge::new(engine)
        }
    }

    fn pod_at(&self, ip: IpAddr) -> Option<&'a ObjectRef> {
        let engine = self.engine;
        if let Some(pod) = engine.kept_pod_at(ip) {
            return Some(pod);
        }
        self.by_ip
            .get_or_init(|| {
                engine
                    .snapshot()
                    .pods
                    .values()
                    .flat_map(|pod| {
                        pod.ips
                            .iter()
                            .filter_map(|ip| ip.parse::<IpAddr>().ok())
                            .map(move |ip| (ip, &pod.id))
                    })
                    .collect()
            })
            .get(&ip)
            .copied()
    }

    /// The engine's end for a flow's end: the pod by name, a pod of the same workload when the
    /// named one is gone (or when Goldmane gave only a name prefix), the pod by address, or an
    /// external address. `Err` says why none fits.
    pub fn peer(&self, end: &FlowEndpoint, dir: Direction) -> Result<Peer, String> {
        if let (Some(ns), Some(pod)) = (&end.namespace, &end.pod) {
            if let Some(class) = self
                .engine
                .class_of(&ObjectRef::new(ns.as_ref(), pod.as_ref()))
            {
                return Ok(Peer::Class(class));
            }
            if let Some(class) = self.same_workload(ns, pod) {
                return Ok(Peer::Class(class));
            }
        }
        if let Some(ip) = end.ip {
            if let Some(pod) = self.pod_at(ip)
                && let Some(class) = self.engine.class_of(pod)
            {
                return Ok(Peer::Class(class));
            }
            if end.namespace.is_none() {
                return self.external(ip, dir);
            }
        }
        Err(match (&end.namespace, &end.pod) {
            (Some(ns), Some(pod)) => format!("pod {ns}/{pod} is not in the cluster any more"),
            _ => format!("{} is neither a pod nor an address", end.label()),
        })
    }

    /// The engine's external range holding `ip`: the engine cuts the address space where the
    /// policies' CIDRs do, and every address of a range is treated alike. `dir` is the end's
    /// role: a flow's source is cut by ingress blocks, its destination by egress ones.
    fn external(&self, ip: IpAddr, dir: Direction) -> Result<Peer, String> {
        let (family, v) = match ip {
            IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
            IpAddr::V6(a) => (Family::V6, u128::from(a)),
        };
        let externals = self.engine.externals();
        let ranges = match dir {
            Direction::Egress => &externals.sources,
            Direction::Ingress => &externals.destinations,
        };
        ranges
            .iter()
            .find(|r: &&IpRange| r.family == family && r.lo <= v && v <= r.hi)
            .map(|r| Peer::External(*r))
            .ok_or_else(|| format!("no external range holds {ip}"))
    }

    /// A pod of `namespace` of the workload `pod` (a name or a generate-name prefix) belongs to.
    /// Read from the classes: a read-only engine (the console's) keeps no pod objects.
    fn same_workload(&self, namespace: &str, pod: &str) -> Option<usize> {
        let workload = workload_of_pod(pod);
        let classes = self.engine.classes();
        // The workload's first pod in pod order, over the namespace's classes.
        (classes.by_namespace.get(namespace)?.iter())
            .filter_map(|&c| {
                let members = &classes.classes[c].members;
                let from = members.partition_point(|id| id.name.as_str() < workload);
                (members[from..].iter())
                    .take_while(|id| id.name.starts_with(workload))
                    .find(|id| workload_of_pod(&id.name) == workload)
                    .map(|id| (id, c))
            })
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, class)| class)
    }

    pub fn judge(&self, flow: &FlowRecord) -> Judgement {
        let unknown = |reason: String| Judgement {
            prediction: Prediction::Unknown { reason },
            drift: None,
            peers: None,
        };
        let ends = (
            self.peer(&flow.src, Direction::Egress),
            self.peer(&flow.dst, Direction::Ingress),
        );
        let (src, dst) = match ends {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => return unknown(e),
        };
        let (Some(protocol), Some(port)) = (flow.protocol, flow.port) else {
            return Judgement {
                peers: Some((src, dst)),
                ..unknown(format!(
                    "{} has no NetworkPolicy protocol and port",
                    flow.service()
                ))
            };
        };
        // A flow observed at one end's hook was judged by that end's policies only.
        let sides: &[Direction] = match flow.direction {
            Some(Direction::Egress) => &[Direction::Egress],
            Some(Direction::Ingress) => &[Direction::Ingress],
            None => &[Direction::Egress, Direction::Ingress],
        };
        let verdict_of = |dir: Direction| match dir {
            Direction::Egress => self.engine.side_verdict(dir, &src, &dst),
            Direction::Ingress => self.engine.side_verdict(dir, &dst, &src),
        };
        // The quick answer from the engine's sides; the words (which policy decided) come from
        // explain, asked only when there is something to say: a denial, an undecided rule,
        // drift. A forwarded flow the policies allow, the common case, costs no explain.
        let mut word = Word::Allowed;
        for dir in sides {
            let v = verdict_of(*dir);
            if v.undecided.contains(protocol, port) {
                word = Word::Undecided;
                break;
            }
            if !v.allowed.contains(protocol, port) {
                word = Word::Denied;
                break;
            }
        }
        let drift = match (word, flow.verdict) {
            (Word::Allowed, _) if flow.policy_drop() => Some(Drift::DroppedButAllowed),
            (Word::Denied, DataplaneVerdict::Forwarded) if flow.is_reply != Some(true) => {
                Some(Drift::ForwardedButDenied)
            }
            _ => None,
        };
        let prediction = if word == Word::Allowed && drift.is_none() && !self.detailed {
            Prediction::Allowed { by: String::new() }
        } else {
            let explanation = explain(self.engine, &src, &dst);
            let explained: Vec<&SideExplanation> = sides
                .iter()
                .map(|dir| match dir {
                    Direction::Egress => &explanation.egress,
                    Direction::Ingress => &explanation.ingress,
                })
                .collect();
            predict(&explained, protocol, port)
        };
        Judgement {
            prediction,
            drift,
            peers: Some((src, dst)),
        }
    }
}

fn predict(sides: &[&SideExplanation], protocol: Protocol, port: u16) -> Prediction {
    for side in sides {
        if side
            .undecided
            .iter()
            .any(|u| u.conns.contains(protocol, port))
        {
            let u = side
                .undecided
                .iter()
                .find(|u| u.conns.contains(protocol, port))
                .expect("just found");
            return Prediction::Undecided {
                by: format!("{}, {} ({})", u.policy_text, u.rule_text, u.reason),
            };
        }
        if !side.allowed.contains(protocol, port) {
            return Prediction::Denied {
                by: deciding(side, protocol, port),
            };
        }
    }
    let by = sides
        .iter()
        .find(|s| !s.external && (s.isolated() || s.tiered()))
        .map(|s| deciding(s, protocol, port))
        .unwrap_or_else(|| "no policy selects either end".to_string());
    Prediction::Allowed { by }
}

/// What decided `protocol/port` on one side, in words. The policy names come first: a list
/// column cut short still shows which policies to look at.
fn deciding(side: &SideExplanation, protocol: Protocol, port: u16) -> String {
    let dir = side.direction.as_str().to_ascii_lowercase();
    // Calico's walk: the step that decided, after any Pass on the way.
    if let Some(calico) = &side.calico
        && let Some((_, text, _)) = calico.parts.iter().find(|(conns, _, verdict)| {
            *verdict != CalicoVerdict::Passed && conns.contains(protocol, port)
        })
    {
        return format!("{text} (Calico)");
    }
    let Some(part) = side.parts.iter().find(|p| p.conns.contains(protocol, port)) else {
        return format!("{dir}: no policy applies");
    };
    match &part.by {
        DecidedBy::TierRule {
            policy_text,
            rule_text,
            ..
        } => format!("{policy_text}, {rule_text}"),
        DecidedBy::NetworkPolicies { allowed: true } => {
            let mut names: Vec<String> = side
                .policies
                .iter()
                .filter(|p| p.allowed.contains(protocol, port))
                .map(|p| p.policy.to_string())
                .collect();
            names.extend(
                side.natives
                    .iter()
                    .filter(|hit| !hit.deny && hit.conns.contains(protocol, port))
                    .map(|hit| hit.policy.to_string()),
            );
            format!("{} allow {dir} ({})", names.join(", "), kinds_word(side))
        }
        DecidedBy::NetworkPolicies { allowed: false } => {
            // A Cilium deny beats every allow of the tier: it alone is the reason.
            if let Some(hit) = side
                .natives
                .iter()
                .find(|hit| hit.deny && hit.conns.contains(protocol, port))
            {
                return format!(
                    "{}, {}: denies {dir}, over every allow (Cilium)",
                    hit.policy, hit.rule_text
                );
            }
            let mut names: Vec<String> =
                side.policies.iter().map(|p| p.policy.to_string()).collect();
            names.extend(
                side.native_policies
                    .iter()
                    .filter(|(_, isolates)| *isolates)
                    .map(|(text, _)| text.clone()),
            );
            format!(
                "{}: {dir} isolated, no rule allows it ({})",
                names.join(", "),
                kinds_word(side)
            )
        }
        DecidedBy::Default => format!("{dir}: no policy selects it"),
    }
}

/// Which kinds of the NetworkPolicy tier select the end: "NetworkPolicy", "Cilium" or both.
fn kinds_word(side: &SideExplanation) -> &'static str {
    match (side.policies.is_empty(), side.native_policies.is_empty()) {
        (false, true) | (true, true) => "NetworkPolicy",
        (true, false) => "Cilium",
        (false, false) => "NetworkPolicy and Cilium",
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
