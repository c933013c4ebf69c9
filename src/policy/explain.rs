//! Why a connection is allowed or denied: which policies select each end, which rules admit the
//! other end and on which ports, and what each side leaves out.

use std::fmt::Write as _;

use super::compile::Direction;
use super::connset::ConnSet;
use super::engine::{Engine, Peer};
use super::matching::{Endpoint, Target, rule_peer_matches, rule_ports};
use crate::model::ObjectRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVerdict {
    /// Index in the policy's `ingress` or `egress` list.
    pub index: usize,
    /// Whether the rule's `from`/`to` admits the other end.
    pub peer_matches: bool,
    /// Ports the rule opens for this pair (empty when the peer does not match, or when only
    /// named ports were listed and the destination has none of them).
    pub ports: ConnSet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVerdict {
    pub policy: ObjectRef,
    pub rules: Vec<RuleVerdict>,
    pub allowed: ConnSet,
}

/// One end's side of the decision: egress of the source or ingress of the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideExplanation {
    pub direction: Direction,
    /// External addresses have no policies.
    pub external: bool,
    /// Policies selecting this end in this direction; empty means not isolated.
    pub policies: Vec<PolicyVerdict>,
    pub allowed: ConnSet,
}

impl SideExplanation {
    pub fn isolated(&self) -> bool {
        !self.policies.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub src: Peer,
    pub dst: Peer,
    pub egress: SideExplanation,
    pub ingress: SideExplanation,
    /// `egress.allowed ∩ ingress.allowed`.
    pub allowed: ConnSet,
}

fn endpoint(engine: &Engine, p: &Peer) -> Option<Endpoint> {
    match p {
        Peer::Class(c) => engine.classes().classes.get(*c).map(|c| c.endpoint.clone()),
        Peer::External(_) => None,
    }
}

fn side(engine: &Engine, dir: Direction, subject: &Peer, other: &Peer) -> SideExplanation {
    let (Peer::Class(c), Some(ep)) = (subject, endpoint(engine, subject)) else {
        return SideExplanation {
            direction: dir,
            external: true,
            policies: Vec::new(),
            allowed: ConnSet::all(),
        };
    };
    let other_ep = endpoint(engine, other);
    let target = match (other, &other_ep) {
        (Peer::External(r), _) => Target::External(r),
        (_, Some(e)) => Target::Pod(e),
        (Peer::Class(_), None) => {
            return SideExplanation {
                direction: dir,
                external: false,
                policies: Vec::new(),
                allowed: ConnSet::none(),
            };
        }
    };
    // Named ports resolve against the destination pod.
    let dst = match dir {
        Direction::Ingress => Some(&ep),
        Direction::Egress => other_ep.as_ref(),
    };
    let mut policies = Vec::new();
    let mut allowed = ConnSet::none();
    for id in engine.selecting(*c, dir) {
        let Some(p) = engine.policies().get(id) else {
            continue;
        };
        let mut verdict = PolicyVerdict {
            policy: id.clone(),
            rules: Vec::new(),
            allowed: ConnSet::none(),
        };
        for (index, rule) in p.rules(dir).unwrap_or_default().iter().enumerate() {
            let mode = engine.settings().ip_block_pods;
            let peer_matches = rule_peer_matches(rule, p.namespace(), target, mode);
            let ports = if peer_matches {
                rule_ports(rule, dst)
            } else {
                ConnSet::none()
            };
            verdict.allowed.union_with(&ports);
            verdict.rules.push(RuleVerdict {
                index,
                peer_matches,
                ports,
            });
        }
        allowed.union_with(&verdict.allowed);
        policies.push(verdict);
    }
    if policies.is_empty() {
        allowed = ConnSet::all();
    }
    SideExplanation {
        direction: dir,
        external: false,
        policies,
        allowed,
    }
}

pub fn explain(engine: &Engine, src: &Peer, dst: &Peer) -> Explanation {
    let egress = side(engine, Direction::Egress, src, dst);
    let ingress = side(engine, Direction::Ingress, dst, src);
    let allowed = egress.allowed.intersect(&ingress.allowed);
    Explanation {
        src: *src,
        dst: *dst,
        egress,
        ingress,
        allowed,
    }
}

fn render_side(out: &mut String, s: &SideExplanation, who: &str, other: &str) {
    let dir = s.direction.as_str();
    let key = dir.to_ascii_lowercase();
    if s.external {
        let _ = writeln!(out, "  {dir} of {who}: external address, no policies apply");
        return;
    }
    if !s.isolated() {
        let _ = writeln!(
            out,
            "  {dir} of {who}: not isolated (no NetworkPolicy selects it for {dir}), all allowed"
        );
        return;
    }
    let _ = writeln!(out, "  {dir} of {who}: isolated, allows {}", s.allowed);
    for p in &s.policies {
        let _ = writeln!(out, "    NetworkPolicy '{}' selects {who}", p.policy);
        if p.rules.is_empty() {
            let _ = writeln!(out, "      has no {dir} rules: denies all {key}");
        }
        for r in &p.rules {
            let line = match (r.peer_matches, r.ports.is_empty()) {
                (false, _) => format!("does not match {other}"),
                (true, true) => format!("matches {other}, but none of its ports apply"),
                (true, false) => format!("matches {other}, allows {}", r.ports),
            };
            let _ = writeln!(out, "      {key}[{}] {line}", r.index);
        }
    }
}

/// A readable rendering; `src_name`/`dst_name` are the display names of the two ends.
pub fn render_explanation(e: &Explanation, src_name: &str, dst_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Connections between {src_name} => {dst_name}:");
    let _ = writeln!(out, "Allowed: {}", e.allowed);
    render_side(&mut out, &e.egress, src_name, dst_name);
    render_side(&mut out, &e.ingress, dst_name, src_name);
    let denied = ConnSet::all().subtract(&e.allowed);
    if !denied.is_empty() {
        let _ = writeln!(out, "Denied: {denied}");
        for s in [&e.egress, &e.ingress] {
            let blocked = ConnSet::all().subtract(&s.allowed);
            if !blocked.is_empty() {
                let _ = writeln!(
                    out,
                    "  by {}: {} (not allowed by any {} rule of the selecting policies)",
                    s.direction.as_str(),
                    blocked,
                    s.direction.as_str()
                );
            }
        }
    }
    out
}
