//! Rollback of a cluster-scoped tier policy: the plan writes the tier kind with no namespace,
//! the typed confirmation is `cnp/NAME` and nothing else, and the access review asks about the
//! cluster-scoped resource.

use std::collections::BTreeMap;

use serde_json::json;

use super::consent::{Confirmation, DryRunPassed};
use super::plan::{Plan, RollbackKind, Verb, confirmation_matches, plan};
use super::preflight::{Access, Preflight, resource_attributes};
use crate::flow::FlowId;
use crate::history::{Operation, PolicyKey, PolicyKind, PolicyObject, Revision};
use crate::model::{TierKind, TierPolicyInfo, TierRef};

fn target() -> PolicyKey {
    PolicyKey::parse("cnp/tenant-isolation").unwrap()
}

fn spec(action: &str) -> serde_json::Value {
    json!({
        "tier": "Admin", "priority": 10,
        "subject": {"namespaces": {"matchLabels": {"tenant": "a"}}},
        "ingress": [{"name": "others", "action": action,
                     "from": [{"namespaces": {"matchLabels": {"tenant": "b"}}}]}]
    })
}

fn rev(number: u32, action: &str, deleted: bool) -> Revision {
    Revision {
        cluster: "https://c".into(),
        context: "ctx".into(),
        kind: PolicyKind::Tier(TierKind::ClusterNetworkPolicy),
        namespace: String::new(),
        name: "tenant-isolation".into(),
        number,
        resource_version: Some(format!("{number}0")),
        generation: Some(i64::from(number)),
        observed_at: format!("2026-05-01T10:0{number}:00.000Z"),
        manager: None,
        operation: if deleted {
            Operation::Deleted
        } else {
            Operation::Observed
        },
        deleted,
        spec: None,
        tier_spec: Some(spec(action)),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

fn live(action: &str, rv: &str) -> PolicyObject {
    let object = serde_json::from_value(json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "tenant-isolation", "resourceVersion": rv, "uid": "u-1",
                     "creationTimestamp": "2026-05-01T10:00:30Z"},
        "spec": spec(action)
    }))
    .unwrap();
    PolicyObject::Tier(TierPolicyInfo {
        id: TierRef::new(TierKind::ClusterNetworkPolicy, "tenant-isolation"),
        object,
    })
}

/// Revision 1 Denies, 2 (live, resourceVersion 20) Accepts: the plan that reverts to 1.
fn revert_to_deny() -> Plan {
    let history = [rev(1, "Deny", false), rev(2, "Accept", false)];
    plan(
        RollbackKind::Revert { to: 1 },
        &target(),
        &history,
        Some(&live("Accept", "20")),
        None,
    )
    .unwrap()
}

fn action(object: &PolicyObject) -> serde_json::Value {
    object.spec_value()["ingress"][0]["action"].clone()
}

#[test]
fn revert_writes_the_tier_kind_cluster_wide_under_the_live_resource_version() {
    let p = revert_to_deny();
    assert_eq!((p.live_revision, p.to_revision), (Some(2), Some(1)));
    assert_eq!(p.verb(), Verb::Update);
    let desired = p.desired.as_ref().unwrap();
    assert_eq!(action(desired), json!("Deny"));
    let PolicyObject::Tier(tier) = desired else {
        panic!("a tier policy is written as one: {desired:?}")
    };
    let types = tier.object.types.as_ref().unwrap();
    assert_eq!(
        (types.api_version.as_str(), types.kind.as_str()),
        ("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy")
    );
    assert_eq!(tier.object.metadata.namespace, None);
    assert_eq!(tier.object.metadata.resource_version.as_deref(), Some("20"));
    assert_eq!(
        p.summary(),
        "revert ClusterNetworkPolicy cnp/tenant-isolation: replace with revision 1 (live is revision 2)"
    );
    let diff = p.diff.to_text();
    assert!(
        diff.contains("-  - action: [-Accept-]") && diff.contains("+  - action: {+Deny+}"),
        "{diff}"
    );
}

#[test]
fn restore_and_remove_of_a_tier_policy() {
    let deleted = [rev(1, "Deny", false), rev(2, "Deny", true)];
    let p = plan(
        RollbackKind::Restore { revision: None },
        &target(),
        &deleted,
        None,
        None,
    )
    .unwrap();
    assert_eq!((p.verb(), p.to_revision), (Verb::Create, Some(1)));
    let desired = p.desired.as_ref().unwrap();
    assert_eq!(desired.meta().resource_version, None);
    assert_eq!(desired.key(), Some(target()));

    let p = plan(
        RollbackKind::Remove,
        &target(),
        &[rev(1, "Deny", false)],
        Some(&live("Deny", "10")),
        None,
    )
    .unwrap();
    assert_eq!(
        (p.verb(), p.live_resource_version()),
        (Verb::Delete, Some("10"))
    );
}

#[test]
fn only_the_kind_prefixed_name_confirms_a_tier_rollback() {
    let p = revert_to_deny();
    assert!(confirmation_matches(&p, "cnp/tenant-isolation"));
    assert!(confirmation_matches(&p, "  cnp/tenant-isolation \n"));
    for wrong in [
        "tenant-isolation",
        "acme/tenant-isolation",
        "anp/tenant-isolation",
        "banp/tenant-isolation",
        "CNP/tenant-isolation",
        "clusternetworkpolicy/tenant-isolation",
        "/tenant-isolation",
        "",
    ] {
        assert!(
            !confirmation_matches(&p, wrong),
            "`{wrong}` must not confirm"
        );
        let refused = Confirmation::given(FlowId::HEADLESS, &p, wrong, "INC-1").unwrap_err();
        assert_eq!(refused, "type cnp/tenant-isolation to confirm");
    }
    let confirmed =
        Confirmation::given(FlowId::HEADLESS, &p, "cnp/tenant-isolation", "INC-1").unwrap();
    assert!(confirmed.covers(&p));

    // The same content under another kind is another write: the proofs do not carry over.
    let anp_key = PolicyKey::parse("anp/tenant-isolation").unwrap();
    let mut anp = p.clone();
    anp.target = anp_key;
    assert!(!confirmed.covers(&anp));
    let access = Access {
        allowed: true,
        reason: "test".into(),
    };
    let preflight = Preflight::new(&anp, None, access, None);
    let passed = DryRunPassed::for_tests(&anp, "update accepted");
    let refused = preflight.clear(false, &confirmed, &passed).unwrap_err();
    assert!(refused.contains("another plan"), "{refused}");
}

#[test]
fn the_access_review_asks_about_the_cluster_scoped_resource() {
    let attributes = resource_attributes(Verb::Update, &target());
    assert_eq!(
        attributes.group.as_deref(),
        Some("policy.networking.k8s.io")
    );
    assert_eq!(
        attributes.resource.as_deref(),
        Some("clusternetworkpolicies")
    );
    assert_eq!(attributes.namespace, None, "cluster-scoped: no namespace");
    assert_eq!(attributes.name.as_deref(), Some("tenant-isolation"));
    assert_eq!(attributes.verb.as_deref(), Some("update"));
    let create = resource_attributes(Verb::Create, &PolicyKey::parse("banp/default").unwrap());
    assert_eq!(
        (create.resource.as_deref(), create.name),
        (Some("baselineadminnetworkpolicies"), None)
    );
    // A NetworkPolicy keeps its namespace.
    let np = resource_attributes(Verb::Delete, &PolicyKey::network("acme", "p"));
    assert_eq!(
        (
            np.group.as_deref(),
            np.resource.as_deref(),
            np.namespace.as_deref()
        ),
        (
            Some("networking.k8s.io"),
            Some("networkpolicies"),
            Some("acme")
        )
    );

    let p = plan(
        RollbackKind::Remove,
        &target(),
        &[rev(1, "Deny", false)],
        Some(&live("Deny", "10")),
        None,
    )
    .unwrap();
    let denied = Access {
        allowed: false,
        reason: "RBAC: no".into(),
    };
    let preflight = Preflight::new(&p, None, denied, None);
    assert_eq!(
        preflight.refusal(false).unwrap(),
        "not allowed to delete clusternetworkpolicies (cluster-scoped): RBAC: no"
    );
    assert!(
        preflight.lines()[1]
            .starts_with("access: delete clusternetworkpolicies (cluster-scoped): DENIED")
    );
}
