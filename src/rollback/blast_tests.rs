//! The blast radius on a tiny cluster, with the expected pairs worked out by hand.
//!
//! Namespaces `a` (tenant a) and `b` (tenant b), one pod each: `a/web`, `b/client`. No policies
//! before, so everything is open. A deny-all-ingress policy in `a` closes exactly what goes *into*
//! `a/web`: from `b/client`, from `a/web` itself, and from outside the cluster.

use serde_json::json;

use super::blast::blast_radius;
use super::diff::Diff;
use super::plan::{Plan, RollbackKind};
use crate::history::{PolicyKey, PolicyObject};
use crate::isolation::config::AnalysisConfig;
use crate::model::fixture::{namespace, pod};
use crate::model::{ClusterSnapshot, TierKind, TierPolicyInfo, TierRef};

fn cluster() -> ClusterSnapshot {
    let mut snapshot = ClusterSnapshot::default();
    for object in [
        namespace("a", &[("tenant", "a")]),
        namespace("b", &[("tenant", "b")]),
        pod("a", "web", &[("app", "web")]),
        pod("b", "client", &[("app", "client")]),
    ] {
        snapshot.upsert(object);
    }
    snapshot
}

fn np(object: serde_json::Value) -> PolicyObject {
    PolicyObject::Network(serde_json::from_value(object).unwrap())
}

fn plan_to(desired: serde_json::Value) -> Plan {
    Plan {
        kind: RollbackKind::Revert { to: 1 },
        target: PolicyKey::network("a", "p"),
        live: None,
        live_revision: None,
        desired: Some(np(desired)),
        to_revision: Some(1),
        diff: Diff::default(),
        owner: None,
        created_revision: None,
        notes: Vec::new(),
    }
}

fn pairs(list: &[super::PairChange]) -> Vec<(String, String, String, String)> {
    list.iter()
        .map(|p| {
            (
                p.from.clone(),
                p.to.clone(),
                p.before.clone(),
                p.after.clone(),
            )
        })
        .collect()
}

fn four(a: &str, b: &str, c: &str, d: &str) -> (String, String, String, String) {
    (a.into(), b.into(), c.into(), d.into())
}

#[test]
fn deny_all_ingress_closes_what_goes_into_the_namespace() {
    let plan = plan_to(json!({
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
    }));
    let blast = blast_radius(&cluster(), &AnalysisConfig::default(), &plan);
    assert_eq!(
        pairs(&blast.workload_pairs),
        vec![
            four("a/web", "a/web", "All Connections", "No Connections"),
            four("b/client", "a/web", "All Connections", "No Connections"),
        ]
    );
    assert_eq!(blast.workload_pairs_total, 2);
    assert_eq!(blast.pods_selected, Some((0, 1)));
    let tenants: Vec<(String, String)> = blast
        .tenant_pairs
        .iter()
        .map(|p| (p.from.clone(), p.to.clone()))
        .collect();
    assert_eq!(
        tenants,
        vec![
            ("a".to_string(), "a".to_string()),
            ("b".to_string(), "a".to_string()),
            ("external".to_string(), "a".to_string()),
        ]
    );
    assert_eq!(
        blast.tenant_pairs[1].before,
        "All Connections (open, 1/1 pairs)"
    );
    assert_eq!(
        blast.tenant_pairs[1].after,
        "No Connections (closed, 0/1 pairs)"
    );
    assert!(blast.tenant_pairs[2].after.starts_with("No Connections"));
    assert!(
        blast
            .summary()
            .contains("b/client => a/web: All Connections -> No Connections")
    );
}

#[test]
fn a_port_allowance_from_the_other_tenant_narrows_only_that_pair() {
    let plan = plan_to(json!({
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"tenant": "b"}}}],
            "ports": [{"port": 8080}]}]}
    }));
    let blast = blast_radius(&cluster(), &AnalysisConfig::default(), &plan);
    assert_eq!(
        pairs(&blast.workload_pairs),
        vec![
            four("a/web", "a/web", "All Connections", "No Connections"),
            four("b/client", "a/web", "All Connections", "TCP 8080"),
        ]
    );
    // The reverse plan (remove it again) reports the same pairs the other way round.
    let mut reverse = plan.clone();
    reverse.live = plan.desired.clone();
    reverse.desired = None;
    let back = blast_radius(&cluster(), &AnalysisConfig::default(), &reverse);
    assert_eq!(
        pairs(&back.workload_pairs),
        vec![
            four("a/web", "a/web", "No Connections", "All Connections"),
            four("b/client", "a/web", "TCP 8080", "All Connections"),
        ]
    );
}

#[test]
fn an_unchanged_policy_has_no_blast_radius() {
    let policy = json!({
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
    });
    let mut plan = plan_to(policy.clone());
    plan.live = Some(np(policy));
    let blast = blast_radius(&cluster(), &AnalysisConfig::default(), &plan);
    assert!(blast.is_empty(), "{blast:?}");
}

/// An Admin-tier ClusterNetworkPolicy denying tenant b's traffic into tenant a.
fn deny_b_into_a() -> PolicyObject {
    let object = serde_json::from_value(json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "isolate-a"},
        "spec": {
            "tier": "Admin",
            "priority": 10,
            "subject": {"namespaces": {"matchLabels": {"tenant": "a"}}},
            "ingress": [{
                "name": "deny-b",
                "action": "Deny",
                "from": [{"namespaces": {"matchLabels": {"tenant": "b"}}}]
            }]
        }
    }))
    .unwrap();
    PolicyObject::Tier(TierPolicyInfo {
        id: TierRef::new(TierKind::ClusterNetworkPolicy, "isolate-a"),
        object,
    })
}

#[test]
fn removing_a_tier_deny_reopens_what_it_closed_across_namespaces() {
    let id = TierRef::new(TierKind::ClusterNetworkPolicy, "isolate-a");
    let live = deny_b_into_a();
    let mut snapshot = cluster();
    snapshot
        .tiers
        .insert(id.clone(), live.as_tier().unwrap().clone());
    let plan = Plan {
        kind: RollbackKind::Remove,
        target: PolicyKey::Tier(id),
        live: Some(live),
        desired: None,
        to_revision: None,
        ..plan_to(json!({}))
    };
    let blast = blast_radius(&snapshot, &AnalysisConfig::default(), &plan);
    assert_eq!(
        blast.pods_selected, None,
        "a tier policy has no podSelector"
    );
    assert_eq!(
        pairs(&blast.workload_pairs),
        vec![four(
            "b/client",
            "a/web",
            "No Connections",
            "All Connections"
        )]
    );
}
