//! The cluster as the console sees it: compact, owned copies of the objects the views and the
//! engine need. The cluster layer converts API objects into these; everything downstream is pure.

pub mod coverage;
#[cfg(test)]
pub mod fixture;
mod label_sets;
mod native;
mod objects;
pub mod scope;
mod tier;
mod watch;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;

pub use coverage::{CniNote, Count, Coverage, Unevaluated};
pub use label_sets::LabelSets;
pub use native::{NativeFamily, NativeKind, NativePolicyInfo, NativeRef};
pub use objects::Objects;
pub use scope::{NAME_LABEL as NAME_LABEL_KEY, NamespaceScope, ScopeReason};
pub use tier::{TIER_GROUP, TierKind, TierPolicyInfo, TierRef};
pub use watch::{ClusterNews, Health, WatchEvent};

pub type Labels = BTreeMap<String, String>;

/// The resource kinds Palisade watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Namespace,
    Pod,
    NetworkPolicy,
    /// A cluster-scoped tier kind; watched only when the cluster serves it.
    Tier(TierKind),
    /// A CNI's own policy kind; watched only when the cluster serves it.
    Native(NativeKind),
}

impl ResourceKind {
    /// The kinds every cluster serves and the console always watches.
    pub const ALL: [ResourceKind; 3] = [Self::Namespace, Self::Pod, Self::NetworkPolicy];

    /// Short name, as kubectl users know it.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Namespace => "ns",
            Self::Pod => "pods",
            Self::NetworkPolicy => "netpol",
            Self::Tier(kind) => kind.short_name(),
            Self::Native(kind) => kind.short_name(),
        }
    }
}

/// Namespace and name of a namespaced object; the stable identity used across updates.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectRef {
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceInfo {
    pub name: String,
    pub labels: Labels,
    /// The API object (managedFields stripped), for the detail view.
    pub object: Namespace,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    pub name: String,
    pub port: i32,
    pub protocol: String,
}

/// A pod reduced to what isolation analysis needs; pods are the bulk of a large cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub id: ObjectRef,
    /// Shared by the console's pods with the same labels ([`LabelSets`]).
    pub labels: std::sync::Arc<Labels>,
    pub ips: Vec<String>,
    pub ports: Vec<NamedPort>,
    pub phase: String,
    pub node: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInfo {
    pub id: ObjectRef,
    /// The API object (managedFields stripped): the engine reads its spec, the detail view shows it.
    pub object: NetworkPolicy,
}

impl PolicyInfo {
    /// Directions this policy applies to, with the API's defaulting: Ingress always unless
    /// policyTypes says otherwise; Egress when listed or when egress rules are present.
    pub fn directions(&self) -> Directions {
        let Some(spec) = self.object.spec.as_ref() else {
            return Directions {
                ingress: true,
                egress: false,
            };
        };
        match &spec.policy_types {
            Some(types) if !types.is_empty() => Directions {
                ingress: types.iter().any(|t| t == "Ingress"),
                egress: types.iter().any(|t| t == "Egress"),
            },
            _ => Directions {
                ingress: true,
                egress: spec.egress.is_some(),
            },
        }
    }

    /// When the policy last changed, as far as the API object tells: the newest managedFields
    /// time, else its creation time. RFC 3339, so it sorts as text.
    pub fn last_change(&self) -> Option<String> {
        let meta = &self.object.metadata;
        meta.managed_fields
            .iter()
            .flatten()
            .filter_map(|entry| entry.time.as_ref().map(|t| t.0))
            .max()
            .or(meta.creation_timestamp.as_ref().map(|t| t.0))
            .map(|time| time.to_string())
    }

    /// True when the policy's podSelector is empty, i.e. it selects every pod of its namespace.
    pub fn selects_whole_namespace(&self) -> bool {
        let selector = self
            .object
            .spec
            .as_ref()
            .and_then(|spec| spec.pod_selector.as_ref());
        selector.is_none_or(|s| {
            s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Directions {
    pub ingress: bool,
    pub egress: bool,
}

/// Everything the console knows about the cluster, keyed by stable identities. A clone is
/// O(1) and shares every object ([`Objects`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterSnapshot {
    pub namespaces: Objects<String, NamespaceInfo>,
    pub pods: Objects<ObjectRef, PodInfo>,
    pub policies: Objects<ObjectRef, PolicyInfo>,
    /// Cluster-scoped tier policies (ClusterNetworkPolicy, AdminNetworkPolicy,
    /// BaselineAdminNetworkPolicy), when the cluster serves them.
    pub tiers: Objects<TierRef, TierPolicyInfo>,
    /// The CNIs' own policies (Cilium's), when the cluster serves their kinds.
    pub natives: Objects<NativeRef, NativePolicyInfo>,
}

/// One object of any watched kind.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterObject {
    Namespace(NamespaceInfo),
    Pod(PodInfo),
    Policy(PolicyInfo),
    Tier(TierPolicyInfo),
    Native(NativePolicyInfo),
}

impl ClusterObject {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Self::Namespace(_) => ResourceKind::Namespace,
            Self::Pod(_) => ResourceKind::Pod,
            Self::Policy(_) => ResourceKind::NetworkPolicy,
            Self::Tier(t) => ResourceKind::Tier(t.id.kind),
            Self::Native(n) => ResourceKind::Native(n.id.kind),
        }
    }
}

impl ClusterSnapshot {
    /// Whether both are the very same version, every map shared (not only equal): O(1).
    pub fn same_version(&self, other: &Self) -> bool {
        self.namespaces.same_version(&other.namespaces)
            && self.pods.same_version(&other.pods)
            && self.policies.same_version(&other.policies)
            && self.tiers.same_version(&other.tiers)
            && self.natives.same_version(&other.natives)
    }

    pub fn upsert(&mut self, object: ClusterObject) {
        match object {
            ClusterObject::Namespace(ns) => {
                self.namespaces.insert(ns.name.clone(), ns);
            }
            ClusterObject::Pod(pod) => {
                self.pods.insert(pod.id.clone(), pod);
            }
            ClusterObject::Policy(policy) => {
                self.policies.insert(policy.id.clone(), policy);
            }
            ClusterObject::Tier(tier) => {
                self.tiers.insert(tier.id.clone(), tier);
            }
            ClusterObject::Native(native) => {
                self.natives.insert(native.id.clone(), native);
            }
        }
    }

    pub fn remove(&mut self, kind: ResourceKind, namespace: Option<&str>, name: &str) {
        match kind {
            ResourceKind::Namespace => {
                self.namespaces.remove(name);
            }
            ResourceKind::Pod => {
                self.pods
                    .remove(&ObjectRef::new(namespace.unwrap_or_default(), name));
            }
            ResourceKind::NetworkPolicy => {
                self.policies
                    .remove(&ObjectRef::new(namespace.unwrap_or_default(), name));
            }
            ResourceKind::Tier(kind) => {
                self.tiers.remove(&TierRef::new(kind, name));
            }
            ResourceKind::Native(kind) => {
                let namespace = namespace.filter(|_| kind.namespaced()).unwrap_or_default();
                self.natives.remove(&NativeRef::new(kind, namespace, name));
            }
        }
    }

    /// Replace every object of one kind at once (a watcher's initial list or relist).
    pub fn replace_kind(&mut self, kind: ResourceKind, objects: Vec<ClusterObject>) {
        match kind {
            ResourceKind::Namespace => self.namespaces.clear(),
            ResourceKind::Pod => self.pods.clear(),
            ResourceKind::NetworkPolicy => self.policies.clear(),
            ResourceKind::Tier(kind) => self.tiers.retain(|id, _| id.kind != kind),
            ResourceKind::Native(kind) => self.natives.retain(|id, _| id.kind != kind),
        }
        for object in objects.into_iter().filter(|o| o.kind() == kind) {
            self.upsert(object);
        }
    }

    pub fn pods_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a PodInfo> + 'a {
        let start = ObjectRef::new(namespace, "");
        self.pods
            .range(start..)
            .take_while(move |(id, _)| id.namespace == namespace)
            .map(|(_, pod)| pod)
    }

    pub fn policies_in<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a PolicyInfo> + 'a {
        let start = ObjectRef::new(namespace, "");
        self.policies
            .range(start..)
            .take_while(move |(id, _)| id.namespace == namespace)
            .map(|(_, policy)| policy)
    }
}
