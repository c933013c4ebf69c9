//! API objects → Palisade's model, and trimming of what the console never reads.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use kube::api::DynamicObject;

use super::slim_pod::SlimPod;
use crate::model::{
    ClusterObject, NamedPort, NamespaceInfo, NativeKind, NativePolicyInfo, NativeRef, ObjectRef,
    PodInfo, PolicyInfo, TierKind, TierPolicyInfo, TierRef,
};

/// managedFields are large and never shown; dropping them roughly halves an object's size.
pub fn strip_managed_fields<K: ResourceExt>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Policies keep their newest managedFields entry: who changed the policy last, and when (the
/// policies table's CHANGED column). The rest is dropped like everywhere else.
pub fn keep_latest_managed_field<K: ResourceExt>(object: &mut K) {
    let meta = object.meta_mut();
    let latest = meta.managed_fields.take().and_then(|entries| {
        entries.into_iter().max_by(|a, b| {
            a.time
                .as_ref()
                .map(|t| t.0)
                .cmp(&b.time.as_ref().map(|t| t.0))
        })
    });
    meta.managed_fields = latest.map(|entry| vec![entry]);
}

pub fn namespace(ns: &Namespace) -> ClusterObject {
    ClusterObject::Namespace(NamespaceInfo {
        name: ns.name_any(),
        labels: ns.labels().clone(),
        object: ns.clone(),
    })
}

pub fn pod(pod: &SlimPod) -> ClusterObject {
    let ports = pod
        .spec
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .filter_map(|p| {
            Some(NamedPort {
                name: p.name.clone()?,
                port: p.container_port,
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            })
        })
        .collect();
    let mut ips: Vec<String> = pod.status.pod_ips.iter().map(|ip| ip.ip.clone()).collect();
    if ips.is_empty()
        && let Some(ip) = pod.status.pod_ip.clone()
    {
        ips.push(ip);
    }
    ClusterObject::Pod(PodInfo {
        id: ObjectRef::new(pod.namespace().unwrap_or_default(), pod.name_any()),
        labels: std::sync::Arc::new(pod.labels().clone()),
        ips,
        ports,
        phase: pod.status.phase.clone().unwrap_or_default(),
        node: pod.spec.node_name.clone(),
    })
}

pub fn policy(policy: &NetworkPolicy) -> ClusterObject {
    ClusterObject::Policy(PolicyInfo {
        id: ObjectRef::new(policy.namespace().unwrap_or_default(), policy.name_any()),
        object: policy.clone(),
    })
}

/// The conversion of one tier kind's objects (a plain function, as the watch loop takes).
pub fn tier_converter(kind: TierKind) -> fn(&DynamicObject) -> ClusterObject {
    match kind {
        TierKind::ClusterNetworkPolicy => |o| tier(TierKind::ClusterNetworkPolicy, o),
        TierKind::AdminNetworkPolicy => |o| tier(TierKind::AdminNetworkPolicy, o),
        TierKind::BaselineAdminNetworkPolicy => |o| tier(TierKind::BaselineAdminNetworkPolicy, o),
    }
}

/// A tier policy as served (cluster-scoped: keyed by kind and name). The served object's
/// `apiVersion`/`kind` are kept when the server sent them, else set from the kind.
pub fn tier(kind: TierKind, object: &DynamicObject) -> ClusterObject {
    let mut object = object.clone();
    if object.types.is_none() {
        object.types = Some(kube::core::TypeMeta {
            api_version: kind.api_version(),
            kind: kind.kind().to_string(),
        });
    }
    ClusterObject::Tier(TierPolicyInfo {
        id: TierRef::new(kind, object.name_any()),
        object,
    })
}

/// The conversion of one native kind, as a plain function for [`KindWatch`](super::informer).
pub fn native_converter(kind: NativeKind) -> fn(&DynamicObject) -> ClusterObject {
    match kind {
        NativeKind::CiliumNetworkPolicy => |o| native(NativeKind::CiliumNetworkPolicy, o),
        NativeKind::CiliumClusterwideNetworkPolicy => {
            |o| native(NativeKind::CiliumClusterwideNetworkPolicy, o)
        }
        NativeKind::CalicoNetworkPolicy => |o| native(NativeKind::CalicoNetworkPolicy, o),
        NativeKind::CalicoGlobalNetworkPolicy => {
            |o| native(NativeKind::CalicoGlobalNetworkPolicy, o)
        }
        NativeKind::CalicoTier => |o| native(NativeKind::CalicoTier, o),
        NativeKind::CalicoStagedNetworkPolicy => {
            |o| native(NativeKind::CalicoStagedNetworkPolicy, o)
        }
        NativeKind::CalicoStagedGlobalNetworkPolicy => {
            |o| native(NativeKind::CalicoStagedGlobalNetworkPolicy, o)
        }
        NativeKind::CalicoStagedKubernetesNetworkPolicy => {
            |o| native(NativeKind::CalicoStagedKubernetesNetworkPolicy, o)
        }
    }
}

/// As [`native_converter`], for a Calico kind served by its `crd.projectcalico.org/v1` CRD.
pub fn native_crd_converter(kind: NativeKind) -> fn(&DynamicObject) -> ClusterObject {
    use NativeKind::*;
    match kind {
        CalicoNetworkPolicy => |o| native_crd(CalicoNetworkPolicy, o),
        CalicoGlobalNetworkPolicy => |o| native_crd(CalicoGlobalNetworkPolicy, o),
        CalicoTier => |o| native_crd(CalicoTier, o),
        CalicoStagedNetworkPolicy => |o| native_crd(CalicoStagedNetworkPolicy, o),
        CalicoStagedGlobalNetworkPolicy => |o| native_crd(CalicoStagedGlobalNetworkPolicy, o),
        CalicoStagedKubernetesNetworkPolicy => {
            |o| native_crd(CalicoStagedKubernetesNetworkPolicy, o)
        }
        // Cilium has no second group.
        CiliumNetworkPolicy | CiliumClusterwideNetworkPolicy => native_converter(kind),
    }
}

fn native_crd(kind: NativeKind, object: &DynamicObject) -> ClusterObject {
    let api_version = kind
        .crd_group_version()
        .map(|(group, version)| format!("{group}/{version}"))
        .unwrap_or_else(|| kind.api_version());
    native_in(kind, &api_version, object)
}

/// A native policy as served, keyed by kind, namespace (empty for the clusterwide kind) and
/// name; `apiVersion`/`kind` set from the kind when the server left them out.
pub fn native(kind: NativeKind, object: &DynamicObject) -> ClusterObject {
    native_in(kind, &kind.api_version(), object)
}

fn native_in(kind: NativeKind, api_version: &str, object: &DynamicObject) -> ClusterObject {
    let mut object = object.clone();
    if object.types.is_none() {
        object.types = Some(kube::core::TypeMeta {
            api_version: api_version.to_string(),
            kind: kind.kind().to_string(),
        });
    }
    let namespace = match kind.namespaced() {
        true => object.namespace().unwrap_or_default(),
        false => String::new(),
    };
    ClusterObject::Native(NativePolicyInfo {
        id: NativeRef::new(kind, namespace, object.name_any()),
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClusterObject;

    #[test]
    fn policies_keep_their_newest_change() {
        let mut policy: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [
                    {"manager": "kubectl", "operation": "Update", "time": "2026-03-01T10:00:00Z"},
                    {"manager": "flux", "operation": "Apply", "time": "2026-05-02T12:30:00Z"},
                    {"manager": "old", "operation": "Update", "time": "2026-02-01T00:00:00Z"}]},
            "spec": {"podSelector": {}}
        }))
        .unwrap();
        keep_latest_managed_field(&mut policy);
        let kept = policy.metadata.managed_fields.as_ref().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].manager.as_deref(), Some("flux"));
        let ClusterObject::Policy(info) = super::policy(&policy) else {
            panic!("a policy")
        };
        assert_eq!(info.last_change().as_deref(), Some("2026-05-02T12:30:00Z"));
        policy.metadata.managed_fields = None;
        let ClusterObject::Policy(info) = super::policy(&policy) else {
            panic!("a policy")
        };
        assert_eq!(
            info.last_change().as_deref(),
            Some("2026-01-01T00:00:00Z"),
            "creation time otherwise"
        );
    }

    #[test]
    fn tier_policies_keep_their_newest_change_and_are_keyed_by_kind_and_name() {
        let mut object: DynamicObject = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "tenant-isolation",
                "managedFields": [
                    {"manager": "old", "operation": "Update", "time": "2026-02-01T00:00:00Z"},
                    {"manager": "kubectl", "operation": "Apply", "time": "2026-05-02T12:30:00Z"}]},
            "spec": {"tier": "Admin", "priority": 10}
        }))
        .unwrap();
        keep_latest_managed_field(&mut object);
        let ClusterObject::Tier(info) = tier_converter(TierKind::ClusterNetworkPolicy)(&object)
        else {
            panic!("a tier policy")
        };
        assert_eq!(info.id.to_string(), "cnp/tenant-isolation");
        let kept = info.object.metadata.managed_fields.as_ref().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].manager.as_deref(), Some("kubectl"));
        assert_eq!(info.spec().unwrap()["priority"], 10);
        let types = info.object.types.as_ref().unwrap();
        assert_eq!(
            (types.api_version.as_str(), types.kind.as_str()),
            ("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy")
        );
    }
}
