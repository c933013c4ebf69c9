//! API objects → Palisade's model, and trimming of what the console never reads.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;

use super::slim_pod::SlimPod;
use crate::model::{ClusterObject, NamedPort, NamespaceInfo, ObjectRef, PodInfo, PolicyInfo};

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
        labels: pod.labels().clone(),
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
}
