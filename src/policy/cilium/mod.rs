//! Cilium's own policy kinds (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy), compiled
//! into rules the engine evaluates in the NetworkPolicy tier together with NetworkPolicies:
//! their allows join the NetworkPolicies' allows, their denies override every allow of the
//! tier. See `docs/semantics.md`, section "Cilium".

mod compile;
mod eval;
mod labels;

pub use compile::compile_native;
pub use eval::{
    NativeSide, RuleHit, has_named_ports, native_rule_ports, native_side, peer_match, rule_match,
};
pub use labels::EndpointSelector;

use super::compile::Direction;
use super::connset::Protocol;
use super::ipset::IpSet;
use crate::model::NativeRef;

/// A compiled CNP or CCNP: its rules (`spec` first as rule #0, then `specs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledNative {
    pub id: NativeRef,
    pub rules: Vec<CiliumRule>,
    /// What palisade does not evaluate, with the reason: host-policy rules, rules selecting by
    /// labels it does not know, ICMP parts of rules.
    pub not_evaluated: Vec<String>,
}

impl CompiledNative {
    /// "CiliumNetworkPolicy acme-web/allow-dns" or "CiliumClusterwideNetworkPolicy deny-world".
    pub fn describe(&self) -> String {
        match self.id.namespace.is_empty() {
            true => format!("{} {}", self.id.kind.kind(), self.id.name),
            false => format!(
                "{} {}/{}",
                self.id.kind.kind(),
                self.id.namespace,
                self.id.name
            ),
        }
    }

    /// The namespace that limits selection, `None` for a clusterwide policy.
    pub fn namespace(&self) -> Option<&str> {
        (!self.id.namespace.is_empty()).then_some(self.id.namespace.as_str())
    }
}

/// One rule of a policy (`spec` or an element of `specs`) whose subject is pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiliumRule {
    /// Position among the policy's rules (`spec` is #0 when present, then `specs`).
    pub index: usize,
    pub subject: EndpointSelector,
    pub ingress: Vec<PeerRule>,
    pub ingress_deny: Vec<PeerRule>,
    pub egress: Vec<PeerRule>,
    pub egress_deny: Vec<PeerRule>,
    /// Whether the rule puts its endpoints in default deny, per direction (ingress, egress).
    pub default_deny: [bool; 2],
}

impl CiliumRule {
    pub fn allows(&self, dir: Direction) -> &[PeerRule] {
        match dir {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    pub fn denies(&self, dir: Direction) -> &[PeerRule] {
        match dir {
            Direction::Ingress => &self.ingress_deny,
            Direction::Egress => &self.egress_deny,
        }
    }

    /// Whether the rule says anything in `dir` (allow or deny).
    pub fn applies(&self, dir: Direction) -> bool {
        !self.allows(dir).is_empty() || !self.denies(dir).is_empty()
    }

    /// Whether the rule isolates its endpoints in `dir` (default deny).
    pub fn isolates(&self, dir: Direction) -> bool {
        self.applies(dir) && self.default_deny[dir_index(dir)]
    }
}

pub(crate) fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// One element of `ingress`, `ingressDeny`, `egress` or `egressDeny`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRule {
    pub index: usize,
    /// `None`: no L3 peer given, the rule applies to every peer (an L4-only rule).
    pub peers: Option<Vec<CiliumPeer>>,
    /// `None`: every port.
    pub ports: Option<Vec<CiliumPort>>,
    /// `toPorts[].rules` present: enforced at L7 by Cilium's proxy, allowed here at L4.
    pub l7: bool,
    /// `icmps` present: ICMP is outside palisade's connection sets, not evaluated.
    pub icmp: bool,
}

/// A Cilium peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiliumPeer {
    /// `fromEndpoints`/`toEndpoints`: pods by their Cilium labels; `namespace` is the implicit
    /// limit of a namespaced policy's selector that names no namespace.
    Endpoints {
        selector: EndpointSelector,
        namespace: Option<String>,
    },
    Entity(Entity),
    /// `fromCIDR`/`fromCIDRSet`/`toCIDR`/`toCIDRSet` (minus `except`): never pods.
    Cidr {
        text: String,
        set: IpSet,
    },
    /// Peers palisade cannot resolve from objects (`toServices`, `toFQDNs`, CIDR groups,
    /// nodes): never guessed.
    Undecidable {
        what: &'static str,
        reason: &'static str,
        /// Whether the peer could be a pod.
        pods: bool,
    },
}

/// Cilium's entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    All,
    World,
    WorldV4,
    WorldV6,
    Cluster,
    Host,
    RemoteNode,
    KubeApiserver,
    Health,
    Init,
    Ingress,
    Unmanaged,
}

impl Entity {
    pub const NAMES: [(&'static str, Entity); 12] = [
        ("all", Entity::All),
        ("world", Entity::World),
        ("world-ipv4", Entity::WorldV4),
        ("world-ipv6", Entity::WorldV6),
        ("cluster", Entity::Cluster),
        ("host", Entity::Host),
        ("remote-node", Entity::RemoteNode),
        ("kube-apiserver", Entity::KubeApiserver),
        ("health", Entity::Health),
        ("init", Entity::Init),
        ("ingress", Entity::Ingress),
        ("unmanaged", Entity::Unmanaged),
    ];

    pub fn parse(s: &str) -> Option<Entity> {
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, e)| *e)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, e)| *e == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A port of `toPorts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CiliumPort {
    /// `protos` empty: `ICMP`-like protocols palisade does not model (covers nothing here).
    Range {
        protos: Vec<Protocol>,
        lo: u16,
        hi: u16,
    },
    /// A named port, resolved against the destination pod's container ports.
    Named { protos: Vec<Protocol>, name: String },
}
