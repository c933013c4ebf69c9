//! Policy kinds of the CNIs themselves, evaluated with NetworkPolicy and the tiers: Cilium's
//! CiliumNetworkPolicy (namespaced) and CiliumClusterwideNetworkPolicy (`cilium.io/v2`), and
//! Calico's NetworkPolicy, GlobalNetworkPolicy, Tier and staged kinds (`projectcalico.org/v3`,
//! or the `crd.projectcalico.org/v1` CRDs a cluster may serve instead). The model keeps the API
//! object as served; `policy::cilium` and `policy::calico` compile it.

use kube::core::DynamicObject;

/// A CNI's own policy kind.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum NativeKind {
    CiliumNetworkPolicy,
    CiliumClusterwideNetworkPolicy,
    /// Calico's namespaced `NetworkPolicy` (same kind name as Kubernetes', another group).
    CalicoNetworkPolicy,
    CalicoGlobalNetworkPolicy,
    /// Orders Calico policies: `order` and `defaultAction`. Not a policy itself.
    CalicoTier,
    /// Staged kinds are not enforced: palisade shows what they would change.
    CalicoStagedNetworkPolicy,
    CalicoStagedGlobalNetworkPolicy,
    CalicoStagedKubernetesNetworkPolicy,
}

/// The project a native kind belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NativeFamily {
    Cilium,
    Calico,
}

impl NativeKind {
    /// The kinds palisade watches and reads from manifests: Cilium's, then Calico's.
    pub const ALL: [NativeKind; 8] = [
        Self::CiliumNetworkPolicy,
        Self::CiliumClusterwideNetworkPolicy,
        Self::CalicoNetworkPolicy,
        Self::CalicoGlobalNetworkPolicy,
        Self::CalicoTier,
        Self::CalicoStagedNetworkPolicy,
        Self::CalicoStagedGlobalNetworkPolicy,
        Self::CalicoStagedKubernetesNetworkPolicy,
    ];

    pub const CILIUM: [NativeKind; 2] = [
        Self::CiliumNetworkPolicy,
        Self::CiliumClusterwideNetworkPolicy,
    ];

    pub const CALICO: [NativeKind; 6] = [
        Self::CalicoNetworkPolicy,
        Self::CalicoGlobalNetworkPolicy,
        Self::CalicoTier,
        Self::CalicoStagedNetworkPolicy,
        Self::CalicoStagedGlobalNetworkPolicy,
        Self::CalicoStagedKubernetesNetworkPolicy,
    ];

    pub fn family(self) -> NativeFamily {
        match self {
            Self::CiliumNetworkPolicy | Self::CiliumClusterwideNetworkPolicy => {
                NativeFamily::Cilium
            }
            _ => NativeFamily::Calico,
        }
    }

    /// The API's kind name (Calico's `NetworkPolicy` shares Kubernetes' name).
    pub fn kind(self) -> &'static str {
        match self {
            Self::CiliumNetworkPolicy => "CiliumNetworkPolicy",
            Self::CiliumClusterwideNetworkPolicy => "CiliumClusterwideNetworkPolicy",
            Self::CalicoNetworkPolicy => "NetworkPolicy",
            Self::CalicoGlobalNetworkPolicy => "GlobalNetworkPolicy",
            Self::CalicoTier => "Tier",
            Self::CalicoStagedNetworkPolicy => "StagedNetworkPolicy",
            Self::CalicoStagedGlobalNetworkPolicy => "StagedGlobalNetworkPolicy",
            Self::CalicoStagedKubernetesNetworkPolicy => "StagedKubernetesNetworkPolicy",
        }
    }

    /// The group of the API palisade prefers (Calico's API server, `projectcalico.org/v3`).
    pub fn group(self) -> &'static str {
        match self.family() {
            NativeFamily::Cilium => "cilium.io",
            NativeFamily::Calico => "projectcalico.org",
        }
    }

    pub fn version(self) -> &'static str {
        match self.family() {
            NativeFamily::Cilium => "v2",
            NativeFamily::Calico => "v3",
        }
    }

    /// Where a Calico cluster without the API server serves the same objects (the datastore's
    /// CRDs); `None` for Cilium.
    pub fn crd_group_version(self) -> Option<(&'static str, &'static str)> {
        match self.family() {
            NativeFamily::Cilium => None,
            NativeFamily::Calico => Some(("crd.projectcalico.org", "v1")),
        }
    }

    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    pub fn plural(self) -> &'static str {
        match self {
            Self::CiliumNetworkPolicy => "ciliumnetworkpolicies",
            Self::CiliumClusterwideNetworkPolicy => "ciliumclusterwidenetworkpolicies",
            Self::CalicoNetworkPolicy => "networkpolicies",
            Self::CalicoGlobalNetworkPolicy => "globalnetworkpolicies",
            Self::CalicoTier => "tiers",
            Self::CalicoStagedNetworkPolicy => "stagednetworkpolicies",
            Self::CalicoStagedGlobalNetworkPolicy => "stagedglobalnetworkpolicies",
            Self::CalicoStagedKubernetesNetworkPolicy => "stagedkubernetesnetworkpolicies",
        }
    }

    /// The lower-case singular of the kind, as discovery lists it.
    pub fn singular(self) -> &'static str {
        match self {
            Self::CiliumNetworkPolicy => "ciliumnetworkpolicy",
            Self::CiliumClusterwideNetworkPolicy => "ciliumclusterwidenetworkpolicy",
            Self::CalicoNetworkPolicy => "networkpolicy",
            Self::CalicoGlobalNetworkPolicy => "globalnetworkpolicy",
            Self::CalicoTier => "tier",
            Self::CalicoStagedNetworkPolicy => "stagednetworkpolicy",
            Self::CalicoStagedGlobalNetworkPolicy => "stagedglobalnetworkpolicy",
            Self::CalicoStagedKubernetesNetworkPolicy => "stagedkubernetesnetworkpolicy",
        }
    }

    /// kubectl's short name, also the prefix of `:history` and the typed confirmation.
    /// (`cnp`, Cilium's other short name, is ClusterNetworkPolicy's here; Calico's
    /// `NetworkPolicy` is `caliconp`, so `networkpolicy` stays Kubernetes'.)
    pub fn short_name(self) -> &'static str {
        match self {
            Self::CiliumNetworkPolicy => "ciliumnp",
            Self::CiliumClusterwideNetworkPolicy => "ccnp",
            Self::CalicoNetworkPolicy => "caliconp",
            Self::CalicoGlobalNetworkPolicy => "gnp",
            Self::CalicoTier => "tier",
            Self::CalicoStagedNetworkPolicy => "snp",
            Self::CalicoStagedGlobalNetworkPolicy => "sgnp",
            Self::CalicoStagedKubernetesNetworkPolicy => "sknp",
        }
    }

    pub fn namespaced(self) -> bool {
        matches!(
            self,
            Self::CiliumNetworkPolicy
                | Self::CalicoNetworkPolicy
                | Self::CalicoStagedNetworkPolicy
                | Self::CalicoStagedKubernetesNetworkPolicy
        )
    }

    /// Whether the dataplane enforces it (staged kinds are rehearsals; a Tier orders, it
    /// does not select).
    pub fn enforced(self) -> bool {
        !matches!(
            self,
            Self::CalicoTier
                | Self::CalicoStagedNetworkPolicy
                | Self::CalicoStagedGlobalNetworkPolicy
                | Self::CalicoStagedKubernetesNetworkPolicy
        )
    }

    fn every() -> impl Iterator<Item = NativeKind> {
        Self::ALL.into_iter()
    }

    /// The kind's name as people qualify it where the bare name reads as Kubernetes' own
    /// (`NetworkPolicy.projectcalico.org`).
    pub fn label(self) -> String {
        match self {
            Self::CalicoNetworkPolicy => format!("{}.{}", self.kind(), self.group()),
            _ => self.kind().to_string(),
        }
    }

    /// A kind from its group (either of Calico's) and kind name.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<NativeKind> {
        Self::every().find(|k| {
            k.kind() == kind
                && (k.group() == group || k.crd_group_version().is_some_and(|(g, _)| g == group))
        })
    }

    /// A kind from its name alone: only the names no other group uses (not Calico's
    /// `NetworkPolicy`); use [`Self::from_group_kind`] where the group is known.
    pub fn from_kind(kind: &str) -> Option<NativeKind> {
        Self::every().find(|k| k.kind() == kind && kind != "NetworkPolicy")
    }

    pub fn from_short_name(short: &str) -> Option<NativeKind> {
        Self::every().find(|k| k.short_name() == short)
    }
}

/// The identity of a native policy: kind, namespace (empty for a cluster-scoped kind) and name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct NativeRef {
    pub kind: NativeKind,
    pub namespace: String,
    pub name: String,
}

impl NativeRef {
    pub fn new(kind: NativeKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses `ciliumnp/NAMESPACE/NAME` or `ccnp/NAME` (and Calico's: `caliconp/NS/NAME`,
    /// `gnp/NAME`, `tier/NAME`, ...).
    pub fn parse(text: &str) -> Option<NativeRef> {
        let (short, rest) = text.split_once('/')?;
        let kind = NativeKind::from_short_name(short)?;
        let (namespace, name) = match kind.namespaced() {
            true => rest.split_once('/')?,
            false => ("", rest),
        };
        let valid = |s: &str| !s.is_empty() && !s.contains('/');
        (valid(name) && (valid(namespace) || !kind.namespaced()))
            .then(|| NativeRef::new(kind, namespace, name))
    }
}

impl std::fmt::Display for NativeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind.namespaced() {
            true => write!(
                f,
                "{}/{}/{}",
                self.kind.short_name(),
                self.namespace,
                self.name
            ),
            false => write!(f, "{}/{}", self.kind.short_name(), self.name),
        }
    }
}

/// A native policy as served: the whole object, whose `spec`/`specs` the engine compiles.
#[derive(Debug, Clone, PartialEq)]
pub struct NativePolicyInfo {
    pub id: NativeRef,
    pub object: DynamicObject,
}

impl NativePolicyInfo {
    /// The `apiVersion` the object was served in (Calico's `projectcalico.org/v3` or its
    /// `crd.projectcalico.org/v1` CRDs): where a write of it goes.
    pub fn api_version(&self) -> String {
        self.object
            .types
            .as_ref()
            .map(|t| t.api_version.clone())
            .unwrap_or_else(|| self.id.kind.api_version())
    }

    /// Builds the info from an object of a known kind; `None` without a name, or without a
    /// namespace for a namespaced kind.
    pub fn new(kind: NativeKind, object: DynamicObject) -> Option<NativePolicyInfo> {
        let name = object.metadata.name.clone().filter(|n| !n.is_empty())?;
        let namespace = match kind.namespaced() {
            true => object
                .metadata
                .namespace
                .clone()
                .filter(|n| !n.is_empty())?,
            false => String::new(),
        };
        Some(NativePolicyInfo {
            id: NativeRef::new(kind, namespace, name),
            object,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_print_and_parse_with_kubectl_short_names() {
        let r = NativeRef::new(NativeKind::CiliumNetworkPolicy, "acme-web", "allow-dns");
        assert_eq!(r.to_string(), "ciliumnp/acme-web/allow-dns");
        assert_eq!(NativeRef::parse("ciliumnp/acme-web/allow-dns"), Some(r));
        let c = NativeRef::new(NativeKind::CiliumClusterwideNetworkPolicy, "", "world");
        assert_eq!(c.to_string(), "ccnp/world");
        assert_eq!(NativeRef::parse("ccnp/world"), Some(c));
        for bad in ["ciliumnp/x", "ccnp/a/b", "ccnp/", "cnp/x", "ciliumnp//x"] {
            assert_eq!(NativeRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn calico_kinds_are_found_by_either_group_and_never_by_the_kubernetes_name_alone() {
        use NativeKind::*;
        let gv = |g: &str, k: &str| NativeKind::from_group_kind(g, k);
        assert_eq!(
            gv("projectcalico.org", "NetworkPolicy"),
            Some(CalicoNetworkPolicy)
        );
        assert_eq!(
            gv("crd.projectcalico.org", "NetworkPolicy"),
            Some(CalicoNetworkPolicy)
        );
        assert_eq!(gv("networking.k8s.io", "NetworkPolicy"), None);
        assert_eq!(NativeKind::from_kind("NetworkPolicy"), None);
        assert_eq!(
            NativeKind::from_kind("GlobalNetworkPolicy"),
            Some(CalicoGlobalNetworkPolicy)
        );
        assert_eq!(
            NativeRef::parse("gnp/deny-egress"),
            Some(NativeRef::new(CalicoGlobalNetworkPolicy, "", "deny-egress"))
        );
        assert_eq!(
            NativeRef::parse("caliconp/acme-web/allow").map(|r| r.to_string()),
            Some("caliconp/acme-web/allow".into())
        );
        assert!(!CalicoStagedGlobalNetworkPolicy.enforced() && CalicoNetworkPolicy.enforced());
    }
}
