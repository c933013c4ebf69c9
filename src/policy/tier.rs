//! Cluster-scoped tier policies compiled into one form: ClusterNetworkPolicy (`v1alpha2`) and
//! AdminNetworkPolicy/BaselineAdminNetworkPolicy (`v1alpha1`). Field names differ between the
//! versions; their meaning does not, so both compile to [`CompiledTier`]. Validation follows the
//! CRDs' schemas: an object they would reject is left out and reported. See `docs/semantics.md`.

use super::connset::Protocol;
use super::ipset::IpSet;
use super::selector::Selector;
use crate::model::{TierKind, TierRef};

pub use super::tier_compile::{compile_tier, max_rules};

/// The tier a policy belongs to; Admin is evaluated before NetworkPolicies, Baseline after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Admin,
    Baseline,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Admin => "Admin",
            Tier::Baseline => "Baseline",
        }
    }
}

/// A rule's action. `v1alpha1`'s `Allow` is `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Accept,
    Deny,
    Pass,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "Accept",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        }
    }
}

/// The pods a tier policy applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TierSubject {
    /// Every pod of the selected namespaces.
    Namespaces(Selector),
    Pods {
        namespaces: Selector,
        pods: Selector,
    },
}

/// One entry of a rule's `from`/`to`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TierPeer {
    Namespaces(Selector),
    Pods {
        namespaces: Selector,
        pods: Selector,
    },
    /// CIDRs; they match pod IPs too unless the settings say otherwise.
    Networks {
        cidrs: Vec<String>,
        set: IpSet,
    },
    /// Node IPs: undecidable without Node objects, so never silently matched or missed.
    Nodes(Selector),
    /// DNS names: undecidable from objects.
    DomainNames(Vec<String>),
}

impl TierPeer {
    /// Peers whose matches cannot be decided from the objects palisade reads.
    pub fn undecidable_reason(&self) -> Option<&'static str> {
        match self {
            TierPeer::Nodes(_) => Some("depends on node IPs"),
            TierPeer::DomainNames(_) => Some("depends on DNS names"),
            _ => None,
        }
    }
}

/// Ports of a rule entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TierPort {
    Range {
        proto: Protocol,
        lo: u16,
        hi: u16,
    },
    /// A container port name on the destination; `v1alpha2` and `v1alpha1` name no protocol,
    /// so the container port's own protocol applies.
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TierRule {
    /// Position in the policy's `ingress` or `egress` list.
    pub index: usize,
    /// The rule's `name`, possibly empty.
    pub name: String,
    pub action: Action,
    pub peers: Vec<TierPeer>,
    /// `None`: every port of every protocol.
    pub ports: Option<Vec<TierPort>>,
}

impl TierRule {
    /// `ingress rule "deny-other-tenants" #0`, for explanations.
    pub fn describe(&self, ingress: bool) -> String {
        let dir = if ingress { "ingress" } else { "egress" };
        match self.name.is_empty() {
            true => format!("{dir} rule #{}", self.index),
            false => format!("{dir} rule `{}` #{}", self.name, self.index),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompiledTier {
    pub id: TierRef,
    pub tier: Tier,
    /// `None` for BaselineAdminNetworkPolicy, which has no priority (a singleton).
    pub priority: Option<i32>,
    pub subject: TierSubject,
    pub ingress: Vec<TierRule>,
    pub egress: Vec<TierRule>,
}

impl CompiledTier {
    /// Evaluation order within and across tiers: tier, then priority (lower first; a
    /// BaselineAdminNetworkPolicy after every Baseline ClusterNetworkPolicy), then kind and
    /// name. Same-priority policies have no order in the API; the name makes ours stable and
    /// the linter reports the ambiguity.
    pub fn order_key(&self) -> (Tier, i32, TierKind, &str) {
        (
            self.tier,
            self.priority.unwrap_or(i32::MAX),
            self.id.kind,
            &self.id.name,
        )
    }

    pub fn rules(&self, ingress: bool) -> &[TierRule] {
        match ingress {
            true => &self.ingress,
            false => &self.egress,
        }
    }

    /// `ClusterNetworkPolicy `tenant-isolation` (Admin, priority 10)`.
    pub fn describe(&self) -> String {
        let priority = match self.priority {
            Some(p) => format!(", priority {p}"),
            None => String::new(),
        };
        format!(
            "{} `{}` ({}{priority})",
            self.id.kind.kind(),
            self.id.name,
            self.tier.as_str()
        )
    }
}
