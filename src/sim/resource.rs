//! The resource types the demo cluster serves, and their API metadata: the built-in kinds
//! (namespaces, pods, services, NetworkPolicies),
//! the tier kinds of `policy.networking.k8s.io` and Cilium's policy kinds of `cilium.io/v2`
//! (CRDs on a real cluster), and optionally other projects' policy CRDs (`foreign.rs`).

use crate::model::{NativeFamily, NativeKind, TIER_GROUP, TierKind};

use super::foreign::Foreign;

/// A resource type served by the demo API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Namespaces,
    Pods,
    Services,
    NetworkPolicies,
    /// Core v1 Events (what `kubectl get events` and `kubectl describe` read).
    Events,
    Tier(TierKind),
    /// Cilium's CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy, and Calico's kinds as
    /// its API server serves them (`projectcalico.org/v3`).
    Native(NativeKind),
    /// Calico's kinds as a cluster without its API server serves them: the datastore's CRDs
    /// (`crd.projectcalico.org/v1`, no short names).
    CalicoCrd(NativeKind),
    Foreign(Foreign),
    /// Flux Kustomizations and Argo CD Applications (CRDs on a real cluster), so the GitOps
    /// suspension before a rollback can be rehearsed.
    GitOps(GitOpsKind),
}

/// The GitOps controllers' kinds the demo serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GitOpsKind {
    /// `kustomize.toolkit.fluxcd.io/v1` Kustomization.
    Kustomization,
    /// `argoproj.io/v1alpha1` Application.
    Application,
}

/// Where a cluster without Calico's API server serves its kinds.
pub const CALICO_CRD_GROUP: &str = "crd.projectcalico.org";

/// A printer column of a custom resource (`additionalPrinterColumns`).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// A JSON pointer into the object.
    pub pointer: &'static str,
    pub kind: &'static str,
}

const AGE: Column = Column {
    name: "Age",
    pointer: "/metadata/creationTimestamp",
    kind: "date",
};

impl Resource {
    /// The built-in kinds, always served.
    pub const BUILTIN: [Resource; 5] = [
        Resource::Namespaces,
        Resource::Pods,
        Resource::Services,
        Resource::NetworkPolicies,
        Resource::Events,
    ];

    /// The GitOps kinds, always served.
    pub const GITOPS: [Resource; 2] = [
        Resource::GitOps(GitOpsKind::Kustomization),
        Resource::GitOps(GitOpsKind::Application),
    ];

    /// Plural name used in URLs.
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Namespaces => "namespaces",
            Resource::Pods => "pods",
            Resource::Services => "services",
            Resource::NetworkPolicies => "networkpolicies",
            Resource::Events => "events",
            Resource::GitOps(GitOpsKind::Kustomization) => "kustomizations",
            Resource::GitOps(GitOpsKind::Application) => "applications",
            Resource::Tier(kind) => kind.plural(),
            Resource::Native(kind) | Resource::CalicoCrd(kind) => kind.plural(),
            Resource::Foreign(f) => f.info().plural,
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Resource::Namespaces => "namespace",
            Resource::Pods => "pod",
            Resource::Services => "service",
            Resource::NetworkPolicies => "networkpolicy",
            Resource::Events => "event",
            Resource::GitOps(GitOpsKind::Kustomization) => "kustomization",
            Resource::GitOps(GitOpsKind::Application) => "application",
            Resource::Tier(TierKind::ClusterNetworkPolicy) => "clusternetworkpolicy",
            Resource::Tier(TierKind::AdminNetworkPolicy) => "adminnetworkpolicy",
            Resource::Tier(TierKind::BaselineAdminNetworkPolicy) => "baselineadminnetworkpolicy",
            Resource::Native(kind) | Resource::CalicoCrd(kind) => kind.singular(),
            Resource::Foreign(f) => f.info().singular,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Resource::Namespaces => "Namespace",
            Resource::Pods => "Pod",
            Resource::Services => "Service",
            Resource::NetworkPolicies => "NetworkPolicy",
            Resource::Events => "Event",
            Resource::GitOps(GitOpsKind::Kustomization) => "Kustomization",
            Resource::GitOps(GitOpsKind::Application) => "Application",
            Resource::Tier(kind) => kind.kind(),
            Resource::Native(kind) | Resource::CalicoCrd(kind) => kind.kind(),
            Resource::Foreign(f) => f.info().kind,
        }
    }

    pub fn list_kind(self) -> String {
        format!("{}List", self.kind())
    }

    /// API group; empty for the core group.
    pub fn group(self) -> &'static str {
        match self {
            Resource::NetworkPolicies => "networking.k8s.io",
            Resource::Tier(_) => TIER_GROUP,
            Resource::Native(kind) => kind.group(),
            Resource::CalicoCrd(_) => CALICO_CRD_GROUP,
            Resource::Foreign(f) => f.info().group,
            Resource::GitOps(GitOpsKind::Kustomization) => "kustomize.toolkit.fluxcd.io",
            Resource::GitOps(GitOpsKind::Application) => "argoproj.io",
            Resource::Namespaces | Resource::Pods | Resource::Services | Resource::Events => "",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Resource::Tier(kind) => kind.version(),
            Resource::Native(kind) => kind.version(),
            Resource::CalicoCrd(_) => "v1",
            Resource::Foreign(f) => f.info().version,
            Resource::GitOps(GitOpsKind::Application) => "v1alpha1",
            _ => "v1",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Resource::NetworkPolicies => "networking.k8s.io/v1",
            Resource::Tier(TierKind::ClusterNetworkPolicy) => "policy.networking.k8s.io/v1alpha2",
            Resource::Tier(_) => "policy.networking.k8s.io/v1alpha1",
            Resource::CalicoCrd(_) => "crd.projectcalico.org/v1",
            Resource::Native(kind) => match kind.family() {
                NativeFamily::Cilium => "cilium.io/v2",
                NativeFamily::Calico => "projectcalico.org/v3",
            },
            Resource::Foreign(f) => f.info().api_version,
            Resource::GitOps(GitOpsKind::Kustomization) => "kustomize.toolkit.fluxcd.io/v1",
            Resource::GitOps(GitOpsKind::Application) => "argoproj.io/v1alpha1",
            Resource::Namespaces | Resource::Pods | Resource::Services | Resource::Events => "v1",
        }
    }

    pub fn namespaced(self) -> bool {
        match self {
            Resource::Namespaces | Resource::Tier(_) => false,
            Resource::Native(kind) | Resource::CalicoCrd(kind) => kind.namespaced(),
            Resource::Foreign(f) => f.info().namespaced,
            Resource::Pods
            | Resource::Services
            | Resource::NetworkPolicies
            | Resource::Events
            | Resource::GitOps(_) => true,
        }
    }

    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Resource::Namespaces => &["ns"],
            Resource::Pods => &["po"],
            Resource::Services => &["svc"],
            Resource::NetworkPolicies => &["netpol"],
            Resource::Events => &["ev"],
            Resource::GitOps(GitOpsKind::Kustomization) => &["ks"],
            Resource::GitOps(GitOpsKind::Application) => &["app", "apps"],
            Resource::Tier(TierKind::ClusterNetworkPolicy) => &["cnp"],
            Resource::Tier(TierKind::AdminNetworkPolicy) => &["anp"],
            Resource::Tier(TierKind::BaselineAdminNetworkPolicy) => &["banp"],
            // Cilium's CRD also has `cnp`, left out: it would shadow ClusterNetworkPolicy's
            // `cnp` in kubectl when both are served.
            Resource::Native(NativeKind::CiliumNetworkPolicy) => &["ciliumnp"],
            Resource::Native(NativeKind::CiliumClusterwideNetworkPolicy) => &["ccnp"],
            // Calico's API server's short names; the CRDs have none.
            Resource::Native(NativeKind::CalicoNetworkPolicy) => &["caliconp"],
            Resource::Native(NativeKind::CalicoGlobalNetworkPolicy) => &["gnp"],
            Resource::Native(NativeKind::CalicoStagedGlobalNetworkPolicy) => &["sgnp"],
            Resource::Native(_) | Resource::CalicoCrd(_) => &[],
            Resource::Foreign(f) => f.info().short_names,
        }
    }

    /// Served from a CustomResourceDefinition on a real cluster: no strategic merge patch,
    /// printer columns from the CRD.
    pub fn custom(self) -> bool {
        matches!(
            self,
            Resource::Tier(_)
                | Resource::Native(_)
                | Resource::CalicoCrd(_)
                | Resource::Foreign(_)
                | Resource::GitOps(_)
        )
    }

    /// The CRD's printer columns after Name (custom resources only).
    pub fn columns(self) -> &'static [Column] {
        const TIER: Column = Column {
            name: "Tier",
            pointer: "/spec/tier",
            kind: "string",
        };
        const SUSPENDED: Column = Column {
            name: "Suspended",
            pointer: "/spec/suspend",
            kind: "boolean",
        };
        const PRIORITY: Column = Column {
            name: "Priority",
            pointer: "/spec/priority",
            kind: "string",
        };
        match self {
            Resource::Tier(TierKind::ClusterNetworkPolicy) => &[TIER, PRIORITY, AGE],
            Resource::Tier(TierKind::AdminNetworkPolicy) => &[PRIORITY, AGE],
            Resource::GitOps(GitOpsKind::Kustomization) => &[SUSPENDED, AGE],
            _ => &[AGE],
        }
    }

    /// "networkpolicies.networking.k8s.io" or "pods", as used in error messages.
    pub fn qualified(self) -> String {
        if self.group().is_empty() {
            self.plural().to_string()
        } else {
            format!("{}.{}", self.plural(), self.group())
        }
    }

    /// The kind as a custom resource's errors name it: "ClusterNetworkPolicy.policy.networking.k8s.io".
    pub fn qualified_kind(self) -> String {
        if self.custom() {
            format!("{}.{}", self.kind(), self.group())
        } else {
            self.kind().to_string()
        }
    }
}

/// A seeded Calico object as its CRD holds it (`crd.projectcalico.org/v1`); others unchanged.
pub fn as_calico_crd(
    (resource, namespace, mut object): (Resource, String, serde_json::Value),
) -> (Resource, String, serde_json::Value) {
    match resource {
        Resource::Native(kind) if kind.family() == NativeFamily::Calico => {
            object["apiVersion"] = "crd.projectcalico.org/v1".into();
            (Resource::CalicoCrd(kind), namespace, object)
        }
        _ => (resource, namespace, object),
    }
}

/// What one server serves: the built-in kinds, the tier group and Cilium's policy kinds
/// unless turned off, and the foreign kinds asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub tiers: bool,
    pub cilium: bool,
    /// Calico's kinds in `projectcalico.org/v3`, as its API server serves them.
    pub calico: bool,
    /// Calico's kinds in its `crd.projectcalico.org/v1` CRDs only (no API server).
    pub calico_crds: bool,
    pub foreign: Vec<Foreign>,
}

impl Default for Served {
    fn default() -> Self {
        Served {
            tiers: true,
            cilium: true,
            calico: false,
            calico_crds: false,
            foreign: Vec::new(),
        }
    }
}

impl Served {
    /// Every served resource, in discovery order.
    pub fn resources(&self) -> Vec<Resource> {
        let mut out = Resource::BUILTIN.to_vec();
        if self.tiers {
            out.extend(TierKind::ALL.map(Resource::Tier));
        }
        if self.cilium {
            out.extend(NativeKind::CILIUM.map(Resource::Native));
        }
        if self.calico {
            out.extend(NativeKind::CALICO.map(Resource::Native));
        }
        if self.calico_crds {
            out.extend(NativeKind::CALICO.map(Resource::CalicoCrd));
        }
        // Calico's kinds served natively are not also served as foreign ones.
        let native = |f: &&Foreign| {
            (self.calico || self.calico_crds) && f.info().group == "projectcalico.org"
        };
        out.extend(
            self.foreign
                .iter()
                .filter(|f| !native(f))
                .map(|f| Resource::Foreign(*f)),
        );
        out.extend(Resource::GITOPS);
        out
    }

    /// Looks up a resource by group, version and plural name from a URL.
    pub fn at_path(&self, group: &str, version: &str, plural: &str) -> Option<Resource> {
        self.resources()
            .into_iter()
            .find(|r| r.group() == group && r.version() == version && r.plural() == plural)
    }

    pub fn serves(&self, resource: Resource) -> bool {
        self.resources().contains(&resource)
    }
}
