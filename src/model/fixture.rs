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
        labels: labels(pairs).into(),
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

/// A tier policy (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) from
/// its YAML manifest.
pub fn tier(yaml: &str) -> ClusterObject {
    let object: kube::core::DynamicObject =
        crate::yaml::from_str(yaml).expect("fixture tier policy parses");
    let kind = object
        .types
        .as_ref()
        .and_then(|t| super::TierKind::from_kind(&t.kind))
        .expect("fixture tier policy has a tier kind");
    ClusterObject::Tier(super::TierPolicyInfo::new(kind, object).expect("fixture has a name"))
}

/// Admin: acme's ingress denied from other tenants (priority 10), DNS always allowed (20);
/// Baseline: tenants' ingress from other tenants denied where no NetworkPolicy decides.
pub const TIER_FIXTURES: [&str; 3] = [
    "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: tenant-isolation}\nspec:\n  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {tenant: acme}}}\n  ingress:\n  - name: pass-same-tenant\n    action: Pass\n    from: [{namespaces: {matchLabels: {tenant: acme}}}]\n  - name: deny-others\n    action: Deny\n    from: [{namespaces: {matchExpressions: [{key: tenant, operator: NotIn, values: [acme]}]}}]\n",
    "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: dns}\nspec:\n  tier: Admin\n  priority: 20\n  subject: {namespaces: {}}\n  egress:\n  - name: accept-dns\n    action: Accept\n    to: [{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}}]\n    protocols: [{udp: {destinationPort: {number: 53}}}]\n",
    "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: baseline-deny}\nspec:\n  tier: Baseline\n  priority: 100\n  subject: {namespaces: {matchExpressions: [{key: tenant, operator: Exists}]}}\n  ingress:\n  - name: deny-from-tenants\n    action: Deny\n    from: [{namespaces: {matchExpressions: [{key: tenant, operator: Exists}]}}]\n",
];

/// The small cluster with the tier fixtures.
pub fn tier_cluster() -> Vec<ClusterObject> {
    let mut objects = small_cluster();
    objects.extend(TIER_FIXTURES.iter().map(|yaml| tier(yaml)));
    objects
}
