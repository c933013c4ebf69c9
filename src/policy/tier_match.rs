//! What a compiled tier policy says about concrete endpoints: whom its subject selects, whether
//! a rule's peers take in the other end, and which ports the rule covers towards it.

use super::compile::Direction;
use super::connset::ConnSet;
use super::decide::Matched;
use super::matching::{Endpoint, IpBlockPods, Target, container_protocol};
use super::tier::{CompiledTier, TierPeer, TierPort, TierRule, TierSubject};

pub fn tier_selects(policy: &CompiledTier, ep: &Endpoint) -> bool {
    match &policy.subject {
        TierSubject::Namespaces(ns) => ns.matches(&ep.ns_labels),
        TierSubject::Pods { namespaces, pods } => {
            namespaces.matches(&ep.ns_labels) && pods.matches(&ep.labels)
        }
    }
}

/// True when the policy has rules in `dir`: a tier policy without rules in a direction leaves
/// that direction alone.
pub fn applies(policy: &CompiledTier, dir: Direction) -> bool {
    !policy.rules(dir == Direction::Ingress).is_empty()
}

/// Whether one peer takes in the target. `networks` says whether CIDR peers match pod IPs.
pub fn tier_peer_matches(peer: &TierPeer, target: Target, networks: IpBlockPods) -> Matched {
    let yes = |b: bool| if b { Matched::Yes } else { Matched::No };
    match (peer, target) {
        (TierPeer::Namespaces(ns), Target::Pod(ep)) => yes(ns.matches(&ep.ns_labels)),
        (TierPeer::Pods { namespaces, pods }, Target::Pod(ep)) => {
            yes(namespaces.matches(&ep.ns_labels) && pods.matches(&ep.labels))
        }
        (TierPeer::Namespaces(_) | TierPeer::Pods { .. }, Target::External(_)) => Matched::No,
        (TierPeer::Networks { set, .. }, Target::External(r)) => yes(set.contains_range(r)),
        (TierPeer::Networks { set, .. }, Target::Pod(ep)) => {
            yes(networks == IpBlockPods::Match && ep.ips.iter().any(|ip| set.contains_addr(*ip)))
        }
        // Pods are not nodes (host-network pods are outside the API's subjects and peers).
        (TierPeer::Nodes(_) | TierPeer::DomainNames(_), Target::Pod(_)) => Matched::No,
        (TierPeer::Nodes(_) | TierPeer::DomainNames(_), Target::External(_)) => {
            Matched::Unknown(peer.undecidable_reason().unwrap_or("undecidable"))
        }
    }
}

/// Any peer that matches decides; otherwise an unknown one makes the rule unknown.
pub fn tier_rule_matches(rule: &TierRule, target: Target, networks: IpBlockPods) -> Matched {
    let mut out = Matched::No;
    for peer in &rule.peers {
        match tier_peer_matches(peer, target, networks) {
            Matched::Yes => return Matched::Yes,
            Matched::Unknown(r) => out = Matched::Unknown(r),
            Matched::No => {}
        }
    }
    out
}

/// Ports a rule covers towards `dst`; a named port needs a destination pod with a container
/// port of that name (any protocol), otherwise it covers nothing.
pub fn tier_rule_ports(rule: &TierRule, dst: Option<&Endpoint>) -> ConnSet {
    let Some(ports) = &rule.ports else {
        return ConnSet::all();
    };
    let mut out = ConnSet::none();
    for p in ports {
        match p {
            TierPort::Range { proto, lo, hi } => out.union_with(&ConnSet::ports(*proto, *lo, *hi)),
            TierPort::Named(name) => {
                for np in dst.map(|d| d.ports.as_slice()).unwrap_or_default() {
                    if np.name == *name
                        && let Some(proto) = container_protocol(np)
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

pub fn has_named_ports(rule: &TierRule) -> bool {
    rule.ports
        .iter()
        .flatten()
        .any(|p| matches!(p, TierPort::Named(_)))
}
