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
