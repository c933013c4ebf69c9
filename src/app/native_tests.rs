//! The console's views of Cilium's policies: a namespace's CiliumNetworkPolicies in the tree
//! after its NetworkPolicies, the clusterwide ones under the cluster node, both in the policies
//! table with their kind, and `:history` opening their history.

use super::rows::{policy_of_row_key, policy_rows};
use super::screen::Screen;
use super::testing::{analysed_with, press, type_text};
use super::tree::{CLUSTER_NODE, NodeTarget};
use crate::model::fixture::small_cluster;
use crate::model::{ClusterObject, NativeKind, NativePolicyInfo, NativeRef};

fn native(
    kind: NativeKind,
    namespace: Option<&str>,
    name: &str,
    spec: serde_json::Value,
) -> ClusterObject {
    let mut metadata = serde_json::json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = ns.into();
    }
    let object = serde_json::from_value(serde_json::json!({
        "apiVersion": "cilium.io/v2", "kind": kind.kind(), "metadata": metadata, "spec": spec,
    }))
    .unwrap();
    ClusterObject::Native(NativePolicyInfo::new(kind, object).unwrap())
}

fn with_cilium() -> Vec<ClusterObject> {
    let mut objects = small_cluster();
    objects.push(native(
        NativeKind::CiliumNetworkPolicy,
        Some("acme-web"),
        "web-to-world",
        serde_json::json!({"endpointSelector": {}, "egress": [{"toEntities": ["world"]}]}),
    ));
    objects.push(native(
        NativeKind::CiliumClusterwideNetworkPolicy,
        None,
        "deny-world-in",
        serde_json::json!({"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]}),
    ));
    objects
}

#[test]
fn namespaces_list_their_cilium_policies_and_the_cluster_node_the_clusterwide_ones() {
    let s = analysed_with(with_cilium());
    let acme_web = s
        .tree
        .groups
        .iter()
        .flat_map(|g| &g.namespaces)
        .find(|ns| ns.name == "acme-web")
        .unwrap();
    let natives: Vec<String> = acme_web
        .natives
        .iter()
        .map(|n| n.policy.to_string())
        .collect();
    assert_eq!(natives, ["ciliumnp/acme-web/web-to-world"]);
    assert!(acme_web.natives[0].directions.egress && !acme_web.natives[0].directions.ingress);
    // After the NetworkPolicies, so their places do not move.
    let last = acme_web.child_ids().last().unwrap();
    assert_eq!(last, &acme_web.natives[0].id);
    let group = s
        .tree
        .groups
        .iter()
        .find(|g| g.namespaces.iter().any(|n| n.name == "acme-web"));
    let path = vec![group.unwrap().id.clone(), acme_web.id.clone(), last.clone()];
    assert!(
        matches!(s.tree.find(&path), Some(NodeTarget::Native(n)) if n.policy.name == "web-to-world")
    );

    let cluster = s
        .tree
        .cluster
        .as_ref()
        .expect("a cluster node for the clusterwide policy");
    assert!(cluster.tiers.is_empty());
    let ccnp = &cluster.natives[0];
    assert_eq!(ccnp.policy.to_string(), "ccnp/deny-world-in");
    assert!(ccnp.directions.ingress && !ccnp.directions.egress);
    let path = vec![CLUSTER_NODE.to_string(), ccnp.id.clone()];
    assert!(matches!(s.tree.find(&path), Some(NodeTarget::Native(_))));
    assert!(s.tree.has_children(&[CLUSTER_NODE.to_string()]));
    // The tree's filter finds them by name.
    let filtered = s.tree.filtered("world");
    let names: Vec<String> = filtered
        .groups
        .iter()
        .flat_map(|g| &g.namespaces)
        .flat_map(|ns| &ns.natives)
        .chain(filtered.cluster.iter().flat_map(|c| &c.natives))
        .map(|n| n.policy.to_string())
        .collect();
    assert_eq!(
        names,
        ["ciliumnp/acme-web/web-to-world", "ccnp/deny-world-in"]
    );
}

#[test]
fn the_policies_table_lists_them_with_their_kind_and_opens_their_history() {
    let mut s = analysed_with(with_cilium());
    let table = Default::default();
    let rows = policy_rows(&s, &table);
    let cilium: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| r.id.is_none())
        .map(|r| (r.namespace.as_str(), r.name.as_str(), r.key.as_str()))
        .collect();
    assert_eq!(
        cilium,
        [
            (
                "acme-web",
                "ciliumnp/web-to-world",
                "native:ciliumnp/acme-web/web-to-world"
            ),
            ("cluster", "ccnp/deny-world-in", "native:ccnp/deny-world-in"),
        ]
    );
    assert_eq!(
        policy_of_row_key("native:ccnp/deny-world-in"),
        crate::history::PolicyKey::parse("ccnp/deny-world-in")
    );
    assert!(
        rows.iter().filter(|r| r.id.is_some()).count() > 0,
        "NetworkPolicies still listed"
    );

    s.journal.path = Some("/tmp/journal.sqlite".into());
    type_text(&mut s, ":history ciliumnp/acme-web/web-to-world");
    press(&mut s, "enter");
    let id = NativeRef::new(NativeKind::CiliumNetworkPolicy, "acme-web", "web-to-world");
    assert!(
        matches!(&s.screen, Screen::History(h) if h.policy == crate::history::PolicyKey::Native(id.clone())),
        "{:?} {:?}",
        s.screen,
        s.notice
    );
    assert!(s.cluster.natives.contains_key(&id));
}

/// PODS counts what each policy's endpointSelector takes in: a CNP's in its own namespace, a
/// CCNP's across the cluster, and 0 for a selector that matches nothing.
#[test]
fn the_policies_table_counts_the_pods_each_native_policy_selects() {
    let mut objects = with_cilium();
    objects.push(native(
        NativeKind::CiliumNetworkPolicy,
        Some("acme-web"),
        "typo",
        serde_json::json!({"endpointSelector": {"matchLabels": {"app": "wbe"}}, "ingress": [{}]}),
    ));
    let s = analysed_with(objects);
    let rows = policy_rows(&s, &Default::default());
    let pods = |key: &str| rows.iter().find(|r| r.key == key).and_then(|r| r.pods);
    assert_eq!(pods("native:ciliumnp/acme-web/web-to-world"), Some(2));
    assert_eq!(pods("native:ccnp/deny-world-in"), Some(5), "every pod");
    assert_eq!(pods("native:ciliumnp/acme-web/typo"), Some(0));
}

fn calico(
    kind: NativeKind,
    namespace: Option<&str>,
    name: &str,
    spec: serde_json::Value,
) -> ClusterObject {
    let mut metadata = serde_json::json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = ns.into();
    }
    let object = serde_json::from_value(serde_json::json!({
        "apiVersion": "projectcalico.org/v3", "kind": kind.kind(), "metadata": metadata,
        "spec": spec,
    }))
    .unwrap();
    ClusterObject::Native(NativePolicyInfo::new(kind, object).unwrap())
}

fn with_calico() -> Vec<ClusterObject> {
    let mut objects = small_cluster();
    objects.push(calico(
        NativeKind::CalicoTier,
        None,
        "security",
        serde_json::json!({"order": 100}),
    ));
    objects.push(calico(
        NativeKind::CalicoGlobalNetworkPolicy,
        None,
        "security.isolate",
        serde_json::json!({"tier": "security", "order": 10, "types": ["Ingress"],
            "ingress": [{"action": "Deny"}]}),
    ));
    // No `types`: Calico defaults them from the rule lists (egress rules only: Egress).
    objects.push(calico(
        NativeKind::CalicoNetworkPolicy,
        Some("acme-web"),
        "web-egress",
        serde_json::json!({"order": 100.5, "egress": [{"action": "Allow"}]}),
    ));
    objects.push(calico(
        NativeKind::CalicoStagedNetworkPolicy,
        Some("acme-web"),
        "would-deny",
        serde_json::json!({"ingress": [{"action": "Deny"}]}),
    ));
    objects
}

/// Calico's namespaced kinds sit in their namespace (enforced and staged), the Tier and the
/// global policies under the cluster node; `:policies` shows each row's TIER and ORDER (in the
/// PRIORITY column), `default` for a policy without a tier.
#[test]
fn calico_policies_sit_in_the_tree_and_the_policies_table_shows_tier_and_order() {
    let s = analysed_with(with_calico());
    let acme_web = s
        .tree
        .groups
        .iter()
        .flat_map(|g| &g.namespaces)
        .find(|ns| ns.name == "acme-web")
        .unwrap();
    let natives: Vec<(String, bool, bool)> = acme_web
        .natives
        .iter()
        .map(|n| {
            (
                n.policy.to_string(),
                n.directions.ingress,
                n.directions.egress,
            )
        })
        .collect();
    assert_eq!(
        natives,
        [
            ("caliconp/acme-web/web-egress".to_string(), false, true),
            ("snp/acme-web/would-deny".to_string(), true, false),
        ]
    );
    let cluster = s.tree.cluster.as_ref().expect("a cluster node");
    let global: Vec<String> = cluster
        .natives
        .iter()
        .map(|n| n.policy.to_string())
        .collect();
    assert_eq!(global, ["gnp/security.isolate", "tier/security"]);

    let rows = policy_rows(&s, &Default::default());
    let calico: Vec<(&str, &str, Option<&str>, Option<i64>)> = rows
        .iter()
        .filter(|r| r.id.is_none())
        .map(|r| {
            (
                r.namespace.as_str(),
                r.name.as_str(),
                r.tier.as_deref(),
                r.priority,
            )
        })
        .collect();
    assert_eq!(
        calico,
        [
            (
                "acme-web",
                "caliconp/web-egress",
                Some("default"),
                Some(100)
            ),
            (
                "cluster",
                "gnp/security.isolate",
                Some("security"),
                Some(10)
            ),
            ("cluster", "tier/security", Some("security"), Some(100)),
            ("acme-web", "snp/would-deny", Some("default"), None),
        ]
    );
}
