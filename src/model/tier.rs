//! Cluster-scoped policy tiers (kubernetes-sigs/network-policy-api): ClusterNetworkPolicy
//! (`v1alpha2`) and its predecessors AdminNetworkPolicy and BaselineAdminNetworkPolicy
//! (`v1alpha1`). The model keeps the API object as served; `policy::tier` compiles it.

use kube::core::DynamicObject;

/// The three cluster-scoped policy kinds of `policy.networking.k8s.io`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum TierKind {
    ClusterNetworkPolicy,
    AdminNetworkPolicy,
    BaselineAdminNetworkPolicy,
}

pub const TIER_GROUP: &str = "policy.networking.k8s.io";

impl TierKind {
    pub const ALL: [TierKind; 3] = [
        Self::ClusterNetworkPolicy,
        Self::AdminNetworkPolicy,
        Self::BaselineAdminNetworkPolicy,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            Self::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            Self::AdminNetworkPolicy => "AdminNetworkPolicy",
            Self::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
        }
    }

    /// kubectl's short name, also the prefix of the typed confirmation (`cnp/NAME`).
    pub fn short_name(self) -> &'static str {
        match self {
            Self::ClusterNetworkPolicy => "cnp",
            Self::AdminNetworkPolicy => "anp",
            Self::BaselineAdminNetworkPolicy => "banp",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Self::ClusterNetworkPolicy => "clusternetworkpolicies",
            Self::AdminNetworkPolicy => "adminnetworkpolicies",
            Self::BaselineAdminNetworkPolicy => "baselineadminnetworkpolicies",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Self::ClusterNetworkPolicy => "v1alpha2",
            Self::AdminNetworkPolicy | Self::BaselineAdminNetworkPolicy => "v1alpha1",
        }
    }

    pub fn api_version(self) -> String {
        format!("{TIER_GROUP}/{}", self.version())
    }

    pub fn from_kind(kind: &str) -> Option<TierKind> {
        Self::ALL.into_iter().find(|k| k.kind() == kind)
    }

    pub fn from_short_name(short: &str) -> Option<TierKind> {
        Self::ALL.into_iter().find(|k| k.short_name() == short)
    }
}

/// The identity of a cluster-scoped tier policy: its kind and name (no namespace).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TierRef {
    pub kind: TierKind,
    pub name: String,
}

impl TierRef {
    pub fn new(kind: TierKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }

    /// Parses `cnp/NAME`, `anp/NAME` or `banp/NAME`.
    pub fn parse(text: &str) -> Option<TierRef> {
        let (short, name) = text.split_once('/')?;
        let kind = TierKind::from_short_name(short)?;
        (!name.is_empty() && !name.contains('/')).then(|| TierRef::new(kind, name))
    }
}

impl std::fmt::Display for TierRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind.short_name(), self.name)
    }
}

/// A tier policy as served: the whole object (managedFields reduced to the newest entry), whose
/// `data["spec"]` the engine compiles.
#[derive(Debug, Clone, PartialEq)]
pub struct TierPolicyInfo {
    pub id: TierRef,
    pub object: DynamicObject,
}

impl TierPolicyInfo {
    /// Builds the info from an object of a known kind; `None` without a name.
    pub fn new(kind: TierKind, object: DynamicObject) -> Option<TierPolicyInfo> {
        let name = object.metadata.name.clone().filter(|n| !n.is_empty())?;
        Some(TierPolicyInfo {
            id: TierRef::new(kind, name),
            object,
        })
    }

    pub fn spec(&self) -> Option<&serde_json::Value> {
        self.object.data.get("spec")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_print_and_parse_as_kubectl_short_names() {
        let r = TierRef::new(TierKind::ClusterNetworkPolicy, "tenant-isolation");
        assert_eq!(r.to_string(), "cnp/tenant-isolation");
        assert_eq!(TierRef::parse("cnp/tenant-isolation"), Some(r));
        assert_eq!(
            TierRef::parse("banp/default").map(|r| r.kind),
            Some(TierKind::BaselineAdminNetworkPolicy)
        );
        assert_eq!(TierRef::parse("netpol/x"), None);
        assert_eq!(TierRef::parse("cnp/"), None);
        assert_eq!(TierRef::parse("cnp/a/b"), None);
    }
}
