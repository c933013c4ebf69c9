//! Small clusters for tests, written as data.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::ObjectMeta;

use super::{ClusterObject, Labels, NamedPort, NamespaceInfo, ObjectRef, PodInfo, PolicyInfo};

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn namespace(name: &str, pairs: &[(&str, &str)]) -> ClusterObject {
    let labels = labels(pairs);
    ClusterObject::Namespace(NamespaceInfo {
        name: name.into(),
        labels: labels.clone(),
        object: Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        },
    })
}

pub fn pod(namespace: &str, name: &str, pairs: &[(&str, &str)]) -> ClusterObject {
    ClusterObject::Pod(PodInfo {
        id: ObjectRef::new(namespace, name),
        labels: labels(pairs),
        ips: vec![],
        ports: vec![NamedPort {
            name: "http".into(),
            port: 8080,
            protocol: "TCP".into(),
        }],
        phase: "Running".into(),
        node: None,
    })
}

/// A policy from its YAML manifest (namespace and name are taken from it).
pub fn policy(yaml: &str) -> ClusterObject {
    let object: NetworkPolicy = crate::yaml::from_str(yaml).expect("fixture policy parses");
    let id = ObjectRef::new(
        object.metadata.namespace.clone().unwrap_or_default(),
        object.metadata.name.clone().unwrap_or_default(),
    );
    ClusterObject::Policy(PolicyInfo { id, object })
}

/// Two tenants and kube-system: acme is fully isolated, globex only on ingress.
pub fn small_cluster() -> Vec<ClusterObject> {
    vec![
        namespace("acme-web", &[("tenant", "acme")]),
        namespace("acme-db", &[("tenant", "acme")]),
        namespace("globex-app", &[("tenant", "globex")]),
        namespace("kube-system", &[]),
        pod("acme-web", "web-1", &[("app", "web")]),
        pod("acme-web", "web-2", &[("app", "web")]),
        pod("acme-db", "db-0", &[("app", "db")]),
        pod("globex-app", "app-1", &[("app", "app")]),
        pod("kube-system", "coredns-1", &[("k8s-app", "kube-dns")]),
        policy(DENY_ALL_ACME_WEB),
        policy(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: acme-db}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
        ),
        policy(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-ingress, namespace: globex-app}\nspec:\n  podSelector: {}\n",
        ),
        policy(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-web, namespace: globex-app}\nspec:\n  podSelector: {matchLabels: {app: app}}\n  ingress:\n  - ports: [{port: http}]\n",
        ),
    ]
}

pub const DENY_ALL_ACME_WEB: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: acme-web}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";
