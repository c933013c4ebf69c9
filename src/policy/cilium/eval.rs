//! What the Cilium rules selecting one endpoint say about one other end, in one direction:
//! whether they isolate it, what they allow, what they deny, and which rules said so. Shared by
//! direct queries and explanations; the cached rows compute the same per class.

use super::super::compile::Direction;
use super::super::connset::ConnSet;
use super::super::decide::Matched;
use super::super::ipset::Family;
use super::super::matching::{Endpoint, Target, container_protocol};
use super::{CiliumPeer, CiliumPort, CiliumRule, CompiledNative, Entity, PeerRule};
use crate::model::NativeRef;

/// Whether one peer takes in the other end.
pub fn peer_match(peer: &CiliumPeer, target: Target) -> Matched {
    let yes = |b: bool| if b { Matched::Yes } else { Matched::No };
    match (peer, target) {
        (CiliumPeer::Endpoints { selector, .. }, Target::Pod(ep)) => selector.matches(ep),
        (CiliumPeer::Endpoints { .. }, Target::External(_)) => Matched::No,
        // CIDR rules never match endpoints managed by Cilium.
        (CiliumPeer::Cidr { .. }, Target::Pod(_)) => Matched::No,
        (CiliumPeer::Cidr { set, .. }, Target::External(r)) => yes(set.contains_range(r)),
        (CiliumPeer::Entity(e), target) => entity_match(*e, target),
        (CiliumPeer::Undecidable { reason, pods, .. }, Target::Pod(_)) => match pods {
            true => Matched::Unknown(reason),
            false => Matched::No,
        },
        (CiliumPeer::Undecidable { reason, .. }, Target::External(_)) => Matched::Unknown(reason),
    }
}

/// Palisade's external addresses are outside the cluster (`world`), but may hold node or
/// apiserver addresses it cannot tell apart: those entities are unknown there, never guessed.
fn entity_match(e: Entity, target: Target) -> Matched {
    match (e, target) {
        (Entity::All, _) => Matched::Yes,
        (Entity::World | Entity::WorldV4 | Entity::WorldV6, Target::Pod(_)) => Matched::No,
        (Entity::World, Target::External(_)) => Matched::Yes,
        (Entity::WorldV4, Target::External(r)) => match r.family {
            Family::V4 => Matched::Yes,
            Family::V6 => Matched::No,
        },
        (Entity::WorldV6, Target::External(r)) => match r.family {
            Family::V6 => Matched::Yes,
            Family::V4 => Matched::No,
        },
        (Entity::Cluster, Target::Pod(_)) => Matched::Yes,
        (Entity::Cluster, Target::External(_)) => {
            Matched::Unknown("the cluster entity includes nodes, whose IPs palisade does not know")
        }
        (Entity::Unmanaged, _) => Matched::Unknown(
            "whether an endpoint is managed by Cilium is not in the objects palisade reads",
        ),
        // Pods are none of these (host-network pods are outside palisade's model).
        (
            Entity::Host
            | Entity::RemoteNode
            | Entity::KubeApiserver
            | Entity::Health
            | Entity::Init
            | Entity::Ingress,
            Target::Pod(_),
        ) => Matched::No,
        (Entity::Host | Entity::RemoteNode, Target::External(_)) => {
            Matched::Unknown("depends on node IPs")
        }
        (Entity::KubeApiserver, Target::External(_)) => {
            Matched::Unknown("depends on the kube-apiserver's addresses")
        }
        (Entity::Health | Entity::Init | Entity::Ingress, Target::External(_)) => {
            Matched::Unknown("a Cilium-internal identity palisade cannot locate")
        }
    }
}

/// Any peer that matches decides; otherwise an unknown one makes the rule unknown. A rule
/// without L3 peers applies to every peer.
pub fn rule_match(rule: &PeerRule, target: Target) -> Matched {
    let Some(peers) = &rule.peers else {
        return Matched::Yes;
    };
    let mut out = Matched::No;
    for p in peers {
        match peer_match(p, target) {
            Matched::Yes => return Matched::Yes,
            Matched::Unknown(r) => out = Matched::Unknown(r),
            Matched::No => {}
        }
    }
    out
}

/// Ports a rule covers towards `dst` (named ports resolve against the destination pod).
pub fn native_rule_ports(rule: &PeerRule, dst: Option<&Endpoint>) -> ConnSet {
    let Some(ports) = &rule.ports else {
        return ConnSet::all();
    };
    let mut out = ConnSet::none();
    for p in ports {
        match p {
            CiliumPort::Range { protos, lo, hi } => {
                for proto in protos {
                    out.union_with(&ConnSet::ports(*proto, *lo, *hi));
                }
            }
            CiliumPort::Named { protos, name } => {
                for np in dst.map(|d| d.ports.as_slice()).unwrap_or_default() {
                    if np.name == *name
                        && let Some(proto) = container_protocol(np)
                        && protos.contains(&proto)
                        && let Ok(port) = u16::try_from(np.port)
                    {
                        out.union_with(&ConnSet::ports(proto, port, port));
                    }
                }
            }
        }
    }
    out
}

pub fn has_named_ports(rule: &PeerRule) -> bool {
    rule.ports
        .iter()
        .flatten()
        .any(|p| matches!(p, CiliumPort::Named { .. }))
}

/// One rule of a Cilium policy that matched the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    pub policy: NativeRef,
    /// "CiliumNetworkPolicy acme-web/allow-dns".
    pub policy_text: String,
    /// "ingress rule #0", "egressDeny rule #1" (the rule's position in its list), of the
    /// policy's rule `spec_index` (`spec`, then `specs`).
    pub rule_text: String,
    pub deny: bool,
    pub conns: ConnSet,
    pub l7: bool,
    pub icmp: bool,
    /// Set when the match is unknown: the connections are undecided.
    pub unknown: Option<&'static str>,
}

/// The Cilium rules' outcome on one side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NativeSide {
    /// Some selecting rule puts the endpoint in default deny in this direction.
    pub isolates: bool,
    pub allow: ConnSet,
    pub deny: ConnSet,
    /// Ports of allow and deny rules whose match is unknown.
    pub unknown_allow: ConnSet,
    pub unknown_deny: ConnSet,
    pub hits: Vec<RuleHit>,
}

pub fn rule_text(
    native: &CompiledNative,
    rule: &CiliumRule,
    dir: Direction,
    deny: bool,
    index: usize,
) -> String {
    let list = match (dir, deny) {
        (Direction::Ingress, false) => "ingress",
        (Direction::Ingress, true) => "ingressDeny",
        (Direction::Egress, false) => "egress",
        (Direction::Egress, true) => "egressDeny",
    };
    match native.rules.len() {
        1 => format!("{list} rule #{index}"),
        _ => format!("{list} rule #{index} of spec #{}", rule.index),
    }
}

/// Evaluates the rules (all selecting the subject and applying in `dir`) towards `target`;
/// `dst` is the destination pod, against which named ports resolve.
pub fn native_side(
    rules: &[(&CompiledNative, &CiliumRule)],
    dir: Direction,
    target: Target,
    dst: Option<&Endpoint>,
) -> NativeSide {
    let mut out = NativeSide::default();
    for &(native, rule) in rules {
        out.isolates |= rule.isolates(dir);
        for (deny, list) in [(false, rule.allows(dir)), (true, rule.denies(dir))] {
            for pr in list {
                let m = rule_match(pr, target);
                if m == Matched::No {
                    continue;
                }
                let conns = native_rule_ports(pr, dst);
                let unknown = match m {
                    Matched::Unknown(r) => Some(r),
                    _ => None,
                };
                match (deny, unknown.is_some()) {
                    (false, false) => out.allow.union_with(&conns),
                    (true, false) => out.deny.union_with(&conns),
                    (false, true) => out.unknown_allow.union_with(&conns),
                    (true, true) => out.unknown_deny.union_with(&conns),
                }
                out.hits.push(RuleHit {
                    policy: native.id.clone(),
                    policy_text: native.describe(),
                    rule_text: rule_text(native, rule, dir, deny, pr.index),
                    deny,
                    conns,
                    l7: pr.l7,
                    icmp: pr.icmp,
                    unknown,
                });
            }
        }
    }
    out
}
