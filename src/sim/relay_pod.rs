//! The demo cluster's Hubble Relay: one pod of a `hubble-relay` Deployment in `kube-system` and
//! the Service in front of it, as the Cilium Helm chart installs them. Clients reach it through
//! the API server's port-forward (`portforward.rs`); what answers there is whatever address a
//! test or the demo registered as the pod's forward target.

use serde_json::{Value, json};

use super::store::name_suffix;

pub const NAMESPACE: &str = "kube-system";
/// The Service's name, and the Deployment's.
pub const NAME: &str = "hubble-relay";
pub const LABEL_KEY: &str = "k8s-app";
pub const LABEL_VALUE: &str = "hubble-relay";
/// The relay's gRPC port (`--listen-address=:4245`) and its container port name.
pub const PORT: u16 = 4245;
pub const PORT_NAME: &str = "grpc";
/// The Service's port (the chart's default without TLS).
pub const SERVICE_PORT: u16 = 80;
pub const IMAGE: &str = "quay.io/cilium/hubble-relay:v1.16.3";

fn labels() -> Value {
    json!({
        LABEL_KEY: LABEL_VALUE,
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/part-of": "cilium",
    })
}

/// The relay pod, named like a Deployment's (`hubble-relay-<template hash>-<suffix>`). It carries
/// no status: the store's placement gives it a node, an IP and the Running phase.
pub fn pod() -> Value {
    let template_hash = format!("{}{}", name_suffix(0x4245), name_suffix(0x4245 >> 7));
    let name = format!("{NAME}-{template_hash}-{}", name_suffix(0x4246));
    let mut labels = labels();
    labels["pod-template-hash"] = json!(template_hash);
    json!({
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": format!("{NAME}-{template_hash}"),
                "uid": "5e1a0000-0000-4000-8000-4e1a40000001",
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "serviceAccountName": NAME,
            "containers": [{
                "name": NAME,
                "image": IMAGE,
                "args": ["serve"],
                "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
            }],
        },
    })
}

/// The Service: port 80 to the named container port `grpc`, selecting the relay pods.
pub fn service() -> Value {
    json!({
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": {LABEL_KEY: LABEL_VALUE},
            "ports": [{"protocol": "TCP", "port": SERVICE_PORT, "targetPort": PORT_NAME}],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_selects_the_pod_and_names_its_port() {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(pod()).unwrap();
        let service: k8s_openapi::api::core::v1::Service =
            serde_json::from_value(service()).unwrap();
        let name = pod.metadata.name.clone().unwrap();
        assert!(
            name.starts_with("hubble-relay-") && name.len() == 29,
            "{name}"
        );
        let selector = service.spec.as_ref().unwrap().selector.clone().unwrap();
        let labels = pod.metadata.labels.clone().unwrap();
        assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
        let ports = pod.spec.unwrap().containers[0].ports.clone().unwrap();
        assert_eq!(
            (ports[0].name.as_deref(), ports[0].container_port),
            (Some(PORT_NAME), 4245)
        );
    }
}
