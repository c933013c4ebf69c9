//! Calico's own policy kinds (`projectcalico.org/v3`, or the `crd.projectcalico.org/v1` CRDs):
//! the selector language, NetworkPolicy and GlobalNetworkPolicy compiled into ordered rules,
//! Tiers, and the evaluation order Calico applies when it is the CNI (tiers by order, policies
//! by order within a tier, first Allow/Deny decides, Pass to the next tier, end of tier in its
//! `defaultAction`). See `docs/semantics.md`, section "Calico".

mod compile;
pub mod eval;
pub mod selector;
pub mod staged;

pub use compile::{compile_calico, compile_calico_tier, error_kind, staged_kubernetes_policy};
pub use eval::{Plan, PlanStep, PlanTier, StepOrigin, TraceStep, evaluate};

use std::fmt;

use super::compile::Direction;
use super::connset::Protocol;
use super::ipset::IpSet;
use crate::model::NativeRef;
use selector::Selector;

/// The tier a policy without `tier` belongs to.
pub const DEFAULT_TIER: &str = "default";
/// Order of the default tier when no Tier object says otherwise.
pub const DEFAULT_TIER_ORDER: f64 = 1_000_000.0;
/// Where Calico puts Kubernetes NetworkPolicies: the default tier, at this order.
pub const KUBERNETES_POLICY_ORDER: f64 = 1000.0;
/// Calico's tiers for the cluster tiers (AdminNetworkPolicy/ClusterNetworkPolicy Admin, and
/// Baseline), both ending in Pass.
pub const ADMIN_TIER: (&str, f64) = ("kube-admin", 1000.0);
pub const BASELINE_TIER: (&str, f64) = ("kube-baseline", 10_000_000.0);

/// A rule's action. `Log` records the packet and goes on to the next rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalicoAction {
    Allow,
    Deny,
    Pass,
    Log,
}

impl CalicoAction {
    pub fn parse(s: &str) -> Option<CalicoAction> {
        match s {
            "Allow" | "allow" => Some(Self::Allow),
            "Deny" | "deny" => Some(Self::Deny),
            "Pass" | "pass" | "next-tier" => Some(Self::Pass),
            "Log" | "log" => Some(Self::Log),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
            Self::Pass => "Pass",
            Self::Log => "Log",
        }
    }

    /// Whether the rule ends the evaluation of the tier for what it matches.
    pub fn decisive(self) -> bool {
        self != Self::Log
    }
}

impl fmt::Display for CalicoAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled Calico NetworkPolicy or GlobalNetworkPolicy.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledCalico {
    pub id: NativeRef,
    pub tier: String,
    /// `None`: applied last in its tier.
    pub order: Option<f64>,
    pub selector: Selector,
    pub selector_text: String,
    /// GlobalNetworkPolicy's `namespaceSelector` (over namespace labels).
    pub namespace_selector: Option<Selector>,
    /// `serviceAccountSelector` other than `all()`: pods' service accounts are not read, so
    /// the policy is not evaluated.
    pub service_account_selector: Option<String>,
    /// Directions the policy applies to (`types`, or its documented default).
    pub types: [bool; 2],
    pub ingress: Vec<CalicoRule>,
    pub egress: Vec<CalicoRule>,
    /// `doNotTrack` or `preDNAT`: host-endpoint policies, not evaluated for pods.
    pub host_only: bool,
    /// What palisade does not evaluate, with the reason.
    pub not_evaluated: Vec<String>,
}

impl CompiledCalico {
    /// "GlobalNetworkPolicy deny-cross-tenant", "NetworkPolicy acme-web/allow-frontend".
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

    pub fn namespace(&self) -> Option<&str> {
        (!self.id.namespace.is_empty()).then_some(self.id.namespace.as_str())
    }

    pub fn rules(&self, dir: Direction) -> &[CalicoRule] {
        match dir {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    pub fn applies(&self, dir: Direction) -> bool {
        self.types[dir_index(dir)]
    }

    /// Whether the policy takes part in the evaluation at all.
    pub fn evaluated(&self) -> bool {
        !self.host_only && self.service_account_selector.is_none()
    }

    /// Sort key within a tier: order (absent = last), then name.
    pub fn order_key(&self) -> (OrderKey, &str, &str) {
        (
            OrderKey(self.order.unwrap_or(f64::INFINITY)),
            self.id.name.as_str(),
            self.id.namespace.as_str(),
        )
    }
}

/// An `f64` order that sorts totally.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderKey(pub f64);

impl Eq for OrderKey {}

impl PartialOrd for OrderKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

pub(crate) fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// A protocol as Calico names it: the three palisade models, or another one (ICMP, UDPLite,
/// a number) whose connections are outside palisade's connection sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CalicoProtocol {
    Known(Protocol),
    Other(String),
}

/// One rule of `ingress` or `egress`.
#[derive(Debug, Clone, PartialEq)]
pub struct CalicoRule {
    /// Position in its list.
    pub index: usize,
    pub action: CalicoAction,
    pub protocol: Option<CalicoProtocol>,
    pub not_protocol: Option<CalicoProtocol>,
    pub source: EntityRule,
    pub destination: EntityRule,
    /// `http` match: enforced at L7 (application layer policy), allowed here at L4.
    pub http: bool,
    /// The match depends on what palisade cannot know (services, service accounts, source
    /// ports): what the rule would decide is reported as undecided.
    pub unknown: Option<&'static str>,
}

impl CalicoRule {
    /// The criteria on the other end of the connection: the source of an ingress rule, the
    /// destination of an egress rule.
    pub fn peer(&self, dir: Direction) -> &EntityRule {
        match dir {
            Direction::Ingress => &self.source,
            Direction::Egress => &self.destination,
        }
    }

    /// The criteria on the selected endpoint itself.
    pub fn own(&self, dir: Direction) -> &EntityRule {
        match dir {
            Direction::Ingress => &self.destination,
            Direction::Egress => &self.source,
        }
    }

    /// Whether the protocol is one palisade does not model (the rule covers no connection).
    pub fn other_protocol(&self) -> bool {
        matches!(self.protocol, Some(CalicoProtocol::Other(_)))
    }
}

/// `source` or `destination`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityRule {
    pub nets: Option<IpSet>,
    pub nets_text: Vec<String>,
    pub not_nets: Option<IpSet>,
    pub selector: Option<Selector>,
    pub not_selector: Option<Selector>,
    pub namespace_selector: Option<Selector>,
    pub ports: Vec<CalicoPort>,
    pub not_ports: Vec<CalicoPort>,
    pub service_accounts: bool,
    pub services: bool,
}

impl EntityRule {
    /// Whether it says nothing about which endpoint it is (ports aside).
    pub fn selects_any(&self) -> bool {
        self.nets.is_none()
            && self.not_nets.is_none()
            && self.selector.is_none()
            && self.not_selector.is_none()
            && self.namespace_selector.is_none()
            && !self.service_accounts
            && !self.services
    }
}

/// A port of `ports`/`notPorts`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CalicoPort {
    Range(u16, u16),
    Named(String),
}

/// A Tier object (or the implicit default tier).
#[derive(Debug, Clone, PartialEq)]
pub struct CalicoTier {
    pub name: String,
    pub order: Option<f64>,
    /// `defaultAction: Pass`; Deny otherwise.
    pub default_pass: bool,
}

impl CalicoTier {
    pub fn default_tier() -> CalicoTier {
        CalicoTier {
            name: DEFAULT_TIER.into(),
            order: Some(DEFAULT_TIER_ORDER),
            default_pass: false,
        }
    }

    pub fn order_key(&self) -> (OrderKey, &str) {
        (
            OrderKey(self.order.unwrap_or(f64::INFINITY)),
            self.name.as_str(),
        )
    }

    /// "tier platform (order 100)".
    pub fn describe(&self) -> String {
        match self.order {
            Some(o) => format!("tier {} (order {})", self.name, fmt_order(o)),
            None => format!("tier {} (no order: last)", self.name),
        }
    }
}

pub fn fmt_order(o: f64) -> String {
    if o.fract() == 0.0 && o.abs() < 1e15 {
        format!("{}", o as i64)
    } else {
        format!("{o}")
    }
}
