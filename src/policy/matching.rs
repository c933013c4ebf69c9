//! What a compiled policy says about concrete endpoints: selection, peer matching and port
//! resolution. Everything the reachability and explain code needs, and nothing more.

use std::net::IpAddr;
use std::sync::Arc;

use super::compile::{CompiledPolicy, NamespaceMatch, PeerSpec, PortSpec, Rule};
use super::connset::{ConnSet, Protocol};
use super::ipset::IpRange;
use crate::model::{Labels, NamedPort};

/// Whether ipBlock peers also match pods by their IPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpBlockPods {
    /// Calico/Antrea behaviour (upstream e2e tests expect it).
    Match,
    /// Cilium and netpol-analyzer behaviour: ipBlocks only match addresses outside the cluster.
    #[default]
    Ignore,
}

/// A pod (or a class of equivalent pods) as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub namespace: String,
    /// Shared by the classes of one namespace.
    pub ns_labels: Arc<Labels>,
    /// The pods' own map (`model::LabelSets`), shared, not copied per class.
    pub labels: Arc<Labels>,
    pub ports: Vec<NamedPort>,
    pub ips: Vec<IpAddr>,
}

/// The other end of a connection, as seen from a policy's rule.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Pod(&'a Endpoint),
    External(&'a IpRange),
}

pub fn selects(policy: &CompiledPolicy, ep: &Endpoint) -> bool {
    ep.namespace == policy.namespace() && policy.pod_selector.matches(&ep.labels)
}

pub fn peer_matches(
    peer: &PeerSpec,
    policy_ns: &str,
    target: Target,
    ip_block_pods: IpBlockPods,
) -> bool {
    match (peer, target) {
        (PeerSpec::Pods { namespaces, pods }, Target::Pod(ep)) => {
            let ns_ok = match namespaces {
                NamespaceMatch::Own => ep.namespace == policy_ns,
                NamespaceMatch::Selector(s) => s.matches(&ep.ns_labels),
            };
            ns_ok && pods.matches(&ep.labels)
        }
        (PeerSpec::Pods { .. }, Target::External(_)) => false,
        (PeerSpec::IpBlock { set, .. }, Target::External(r)) => set.contains_range(r),
        (PeerSpec::IpBlock { set, .. }, Target::Pod(ep)) => {
            ip_block_pods == IpBlockPods::Match && ep.ips.iter().any(|ip| set.contains_addr(*ip))
        }
    }
}

/// True when the rule's peer list admits the target (no list = everyone, pods and externals).
pub fn rule_peer_matches(
    rule: &Rule,
    policy_ns: &str,
    target: Target,
    ip_block_pods: IpBlockPods,
) -> bool {
    match &rule.peers {
        None => true,
        Some(peers) => peers
            .iter()
            .any(|p| peer_matches(p, policy_ns, target, ip_block_pods)),
    }
}

/// Ports a rule opens towards `dst`; named ports need a destination pod whose container port
/// has the same name and protocol, otherwise they open nothing.
pub fn rule_ports(rule: &Rule, dst: Option<&Endpoint>) -> ConnSet {
    let Some(ports) = &rule.ports else {
        return ConnSet::all();
    };
    let mut out = ConnSet::none();
    for p in ports {
        match p {
            PortSpec::Range { proto, lo, hi } => out.union_with(&ConnSet::ports(*proto, *lo, *hi)),
            PortSpec::Named { proto, name } => {
                for np in dst.map(|d| d.ports.as_slice()).unwrap_or_default() {
                    if np.name == *name
                        && container_protocol(np) == Some(*proto)
                        && let Ok(port) = u16::try_from(np.port)
                    {
                        out.union_with(&ConnSet::ports(*proto, port, port));
                    }
                }
            }
        }
    }
    out
}

/// A containerPort's protocol defaults to TCP.
pub fn container_protocol(np: &NamedPort) -> Option<Protocol> {
    if np.protocol.is_empty() {
        Some(Protocol::Tcp)
    } else {
        Protocol::parse(&np.protocol)
    }
}
