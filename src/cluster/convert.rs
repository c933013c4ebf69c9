//! API objects → Palisade's model, and trimming of what the console never reads.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;

use crate::model::{ClusterObject, NamedPort, NamespaceInfo, ObjectRef, PodInfo, PolicyInfo};

/// managedFields are large and never shown; dropping them roughly halves an object's size.
pub fn strip_managed_fields<K: ResourceExt>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Pods are the bulk of a big cluster: keep only labels, ports, IPs, phase and node.
pub fn trim_pod(pod: &mut Pod) {
    strip_managed_fields(pod);
    pod.metadata.annotations = None;
    pod.metadata.owner_references = None;
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes = None;
        spec.init_containers = None;
        spec.tolerations = None;
        spec.affinity = None;
        for container in &mut spec.containers {
            container.env = None;
            container.env_from = None;
            container.volume_mounts = None;
            container.args = None;
            container.command = None;
            container.resources = None;
            container.liveness_probe = None;
            container.readiness_probe = None;
            container.startup_probe = None;
        }
    }
    if let Some(status) = pod.status.as_mut() {
        status.conditions = None;
        status.container_statuses = None;
        status.init_container_statuses = None;
    }
}

pub fn namespace(ns: &Namespace) -> ClusterObject {
    ClusterObject::Namespace(NamespaceInfo {
        name: ns.name_any(),
        labels: ns.labels().clone(),
        object: ns.clone(),
    })
}

pub fn pod(pod: &Pod) -> ClusterObject {
    let ports = pod
        .spec
        .iter()
        .flat_map(|spec| &spec.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            Some(NamedPort {
                name: p.name.clone()?,
                port: p.container_port,
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            })
        })
        .collect();
    let status = pod.status.as_ref();
    let mut ips: Vec<String> = status
        .and_then(|s| s.pod_ips.as_ref())
        .map(|ips| ips.iter().map(|ip| ip.ip.clone()).collect())
        .unwrap_or_default();
    if ips.is_empty()
        && let Some(ip) = status.and_then(|s| s.pod_ip.clone())
    {
        ips.push(ip);
    }
    ClusterObject::Pod(PodInfo {
        id: ObjectRef::new(pod.namespace().unwrap_or_default(), pod.name_any()),
        labels: pod.labels().clone(),
        ips,
        ports,
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
    })
}

pub fn policy(policy: &NetworkPolicy) -> ClusterObject {
    ClusterObject::Policy(PolicyInfo {
        id: ObjectRef::new(policy.namespace().unwrap_or_default(), policy.name_any()),
        object: policy.clone(),
    })
}
