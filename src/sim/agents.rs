//! Simulated CNI agents: one Cilium agent pod per node, as a Cilium DaemonSet would create them.
//!
//! The pods are ordinary demo-cluster pods in `kube-system` (label `k8s-app: cilium`, host
//! network, container ports `prometheus` 9962 and `hubble-metrics` 9965). What they serve through
//! the API server's pod proxy comes from the traffic model (`traffic.rs`, `telemetry.rs`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::meta::str_at;
use super::store::name_suffix;

/// Namespace of the agent pods.
pub const NAMESPACE: &str = "kube-system";
/// The label real Cilium DaemonSets put on their pods.
pub const LABEL_KEY: &str = "k8s-app";
pub const LABEL_VALUE: &str = "cilium";
/// `cilium-agent` metrics (`--prometheus-serve-addr=:9962`).
pub const AGENT_PORT: u16 = 9962;
pub const AGENT_PORT_NAME: &str = "prometheus";
/// Hubble metrics (`--hubble-metrics-server=:9965`).
pub const HUBBLE_PORT: u16 = 9965;
pub const HUBBLE_PORT_NAME: &str = "hubble-metrics";
pub const IMAGE: &str = "quay.io/cilium/cilium:v1.16.3";

/// What an agent port serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Agent,
    Hubble,
    /// Felix's Prometheus metrics on a `calico-node` pod.
    Felix,
}

/// FNV-1a, stable across runs and platforms.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One agent pod per node, named `cilium-<5 characters>` from a hash of the node name (unique
/// within the list). The pods carry no status: placement puts each on its `spec.nodeName` and,
/// since they use the host network, gives them the node's address.
pub fn agent_pods(nodes: &[String]) -> Vec<Value> {
    let mut taken = BTreeSet::new();
    let revision = name_suffix(stable_hash("cilium-ds"));
    nodes
        .iter()
        .map(|node| {
            let mut salt = 0u64;
            let name = loop {
                let candidate = format!("cilium-{}", name_suffix(stable_hash(node) + salt));
                if taken.insert(candidate.clone()) {
                    break candidate;
                }
                salt += 1;
            };
            json!({
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "labels": {
                        LABEL_KEY: LABEL_VALUE,
                        "app.kubernetes.io/name": "cilium-agent",
                        "app.kubernetes.io/part-of": "cilium",
                        "controller-revision-hash": revision,
                        "pod-template-generation": "1",
                    },
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": "cilium",
                        "uid": "5e1a0000-0000-4000-8000-c111a0000001",
                        "controller": true,
                        "blockOwnerDeletion": true,
                    }],
                },
                "spec": {
                    "nodeName": node,
                    "hostNetwork": true,
                    "serviceAccountName": "cilium",
                    "containers": [{
                        "name": "cilium-agent",
                        "image": IMAGE,
                        "ports": [
                            {"name": AGENT_PORT_NAME, "containerPort": AGENT_PORT, "hostPort": AGENT_PORT, "protocol": "TCP"},
                            {"name": HUBBLE_PORT_NAME, "containerPort": HUBBLE_PORT, "hostPort": HUBBLE_PORT, "protocol": "TCP"},
                        ],
                    }],
                },
            })
        })
        .collect()
}

/// Calico's agents (`palisade demo --cni calico`): `calico-node` pods, as its DaemonSet in
/// `kube-system` creates them (manifest installs), Felix's metrics port declared.
pub const CALICO_LABEL_VALUE: &str = "calico-node";
pub const CALICO_IMAGE: &str = "docker.io/calico/node:v3.29.1";
/// Felix's Prometheus port (`FELIX_PROMETHEUSMETRICSPORT`, 9091 by default).
pub const FELIX_PORT: u16 = 9091;
pub const FELIX_PORT_NAME: &str = "felix-metrics";

/// One `calico-node-<5 characters>` pod per node.
pub fn calico_node_pods(nodes: &[String]) -> Vec<Value> {
    agent_pods(nodes)
        .into_iter()
        .map(|mut pod| {
            let name = str_at(&pod, "/metadata/name").replacen("cilium-", "calico-node-", 1);
            pod["metadata"]["name"] = json!(name);
            pod["metadata"]["labels"] = json!({
                LABEL_KEY: CALICO_LABEL_VALUE,
                "controller-revision-hash": name_suffix(stable_hash("calico-node-ds")),
                "pod-template-generation": "1",
            });
            pod["metadata"]["ownerReferences"][0]["name"] = json!("calico-node");
            pod["spec"]["serviceAccountName"] = json!("calico-node");
            pod["spec"]["containers"] = json!([{
                "name": "calico-node",
                "image": CALICO_IMAGE,
                "ports": [{"name": FELIX_PORT_NAME, "containerPort": FELIX_PORT,
                    "hostPort": FELIX_PORT, "protocol": "TCP"}],
            }]);
            pod
        })
        .collect()
}

/// Whether a pod object is one of the simulated agents (Cilium's or Calico's).
pub fn is_agent(pod: &Value) -> bool {
    str_at(pod, "/metadata/namespace") == NAMESPACE
        && matches!(
            pod.pointer(&format!("/metadata/labels/{LABEL_KEY}"))
                .and_then(Value::as_str),
            Some(LABEL_VALUE | CALICO_LABEL_VALUE)
        )
}

/// What an agent pod serves on `port`, if anything: a Cilium agent its two metrics ports, a
/// `calico-node` pod Felix's.
pub fn endpoint(pod: &Value, port: u16) -> Option<Endpoint> {
    let calico = pod
        .pointer(&format!("/metadata/labels/{LABEL_KEY}"))
        .and_then(Value::as_str)
        == Some(CALICO_LABEL_VALUE);
    match (calico, port) {
        (false, AGENT_PORT) => Some(Endpoint::Agent),
        (false, HUBBLE_PORT) => Some(Endpoint::Hubble),
        (true, FELIX_PORT) => Some(Endpoint::Felix),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stable_uniquely_named_agent_per_node() {
        let nodes: Vec<String> = (0..500).map(|i| format!("node-{i:04}")).collect();
        let pods = agent_pods(&nodes);
        assert_eq!(pods.len(), 500);
        let names: BTreeSet<&str> = pods.iter().map(|p| str_at(p, "/metadata/name")).collect();
        assert_eq!(names.len(), 500);
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("cilium-") && n.len() == 12)
        );
        assert_eq!(pods, agent_pods(&nodes), "deterministic");
        let calico = calico_node_pods(&nodes[..3]);
        assert!(calico.iter().all(|p| is_agent(p)
            && str_at(p, "/metadata/name").starts_with("calico-node-")
            && str_at(p, "/metadata/labels/k8s-app") == "calico-node"));
        // Each kind of agent serves its own ports only.
        assert_eq!(endpoint(&calico[0], FELIX_PORT), Some(Endpoint::Felix));
        assert_eq!(endpoint(&calico[0], AGENT_PORT), None);
        assert_eq!(endpoint(&pods[0], FELIX_PORT), None);
        assert_eq!(endpoint(&pods[0], HUBBLE_PORT), Some(Endpoint::Hubble));
        for (pod, node) in pods.iter().zip(&nodes) {
            assert!(is_agent(pod));
            assert_eq!(str_at(pod, "/spec/nodeName"), node);
            let k8s: k8s_openapi::api::core::v1::Pod = serde_json::from_value(pod.clone()).unwrap();
            let ports = &k8s.spec.unwrap().containers[0].ports.clone().unwrap();
            assert_eq!(ports[0].name.as_deref(), Some("prometheus"));
            assert_eq!(ports[1].container_port, 9965);
        }
    }
}
