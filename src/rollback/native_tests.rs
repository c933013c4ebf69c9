//! Rollback of a CNI's own policy: the plan writes the native kind in its namespace (none for a
//! clusterwide kind) under the live resourceVersion, the typed confirmation is the kind-prefixed
//! name and nothing else, the access review asks about the kind's group and resource (the one
//! the live object is served from), and the blast radius is the engine's with the policy
//! replaced.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::blast::blast_radius;
use super::consent::Confirmation;
use super::plan::{Plan, RollbackKind, Verb, confirmation_matches, plan};
use super::preflight::{Access, Preflight, plan_attributes, resource_attributes};
use crate::flow::FlowId;
use crate::history::{Operation, PolicyKey, PolicyKind, PolicyObject, Revision};
use crate::isolation::config::AnalysisConfig;
use crate::model::fixture::{namespace, pod};
use crate::model::{ClusterSnapshot, NativeKind, NativePolicyInfo};

const NAME: &str = "storefront-to-world";

fn target() -> PolicyKey {
    PolicyKey::parse("ciliumnp/acme-web/storefront-to-world").unwrap()
}

/// A CiliumNetworkPolicy body whose world egress allows `port`.
fn body(port: &str) -> Value {
    json!({"spec": {
        "endpointSelector": {"matchLabels": {"app": "storefront"}},
        "egress": [{"toEntities": ["world"], "toPorts": [{"ports": [{"port": port, "protocol": "TCP"}]}]}]
    }})
}

fn rev(number: u32, port: &str, deleted: bool) -> Revision {
    Revision {
        cluster: "https://c".into(),
        context: "ctx".into(),
        kind: PolicyKind::Native(NativeKind::CiliumNetworkPolicy),
        namespace: "acme-web".into(),
        name: NAME.into(),
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
        tier_spec: Some(body(port)),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

/// The live object of `kind` served at `api_version`, named like the target.
fn served(
    kind: NativeKind,
    api_version: &str,
    namespace: &str,
    body: Value,
    rv: &str,
) -> PolicyObject {
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind.kind(),
        "metadata": {"name": NAME, "resourceVersion": rv, "uid": "u-1", "generation": 2,
                     "creationTimestamp": "2026-05-01T10:00:30Z"},
        "status": {"conditions": []}
    });
    if kind.namespaced() {
        object["metadata"]["namespace"] = json!(namespace);
    }
    for (field, value) in body.as_object().unwrap() {
        object[field] = value.clone();
    }
    let object = serde_json::from_value(object).unwrap();
    PolicyObject::Native(NativePolicyInfo::new(kind, object).unwrap())
}

fn live(port: &str, rv: &str) -> PolicyObject {
    served(
        NativeKind::CiliumNetworkPolicy,
        "cilium.io/v2",
        "acme-web",
        body(port),
        rv,
    )
}

/// Revision 1 allows 443, 2 (live, resourceVersion 20) 8443: the plan that reverts to 1.
fn revert_to_443() -> Plan {
    let history = [rev(1, "443", false), rev(2, "8443", false)];
    plan(
        RollbackKind::Revert { to: 1 },
        &target(),
        &history,
        Some(&live("8443", "20")),
        None,
    )
    .unwrap()
}

fn port(object: &PolicyObject) -> Value {
    object.spec_value()["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"].clone()
}

#[test]
fn revert_writes_the_native_kind_in_its_namespace_under_the_live_resource_version() {
    let p = revert_to_443();
    assert_eq!((p.live_revision, p.to_revision), (Some(2), Some(1)));
    assert_eq!(p.verb(), Verb::Update);
    let desired = p.desired.as_ref().unwrap();
    assert_eq!(port(desired), json!("443"));
    let PolicyObject::Native(native) = desired else {
        panic!("a CiliumNetworkPolicy is written as one: {desired:?}")
    };
    let types = native.object.types.as_ref().unwrap();
    assert_eq!(
        (types.api_version.as_str(), types.kind.as_str()),
        ("cilium.io/v2", "CiliumNetworkPolicy")
    );
    assert_eq!(
        native.object.metadata.namespace.as_deref(),
        Some("acme-web")
    );
    assert_eq!(
        native.object.metadata.resource_version.as_deref(),
        Some("20")
    );
    assert_eq!(
        native.object.data.get("status"),
        None,
        "status is never written"
    );
    assert_eq!(
        p.summary(),
        "revert CiliumNetworkPolicy ciliumnp/acme-web/storefront-to-world: replace with revision 1 (live is revision 2)"
    );
    let diff = p.diff.to_text();
    assert!(
        diff.contains(r#"port: [-"8443"-]"#) && diff.contains(r#"port: {+"443"+}"#),
        "{diff}"
    );
    assert!(
        !diff.contains("spec:\n  spec:"),
        "the body is not nested: {diff}"
    );
}

#[test]
fn restore_and_remove_of_a_native_policy() {
    let deleted = [rev(1, "443", false), rev(2, "443", true)];
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
        &[rev(1, "443", false)],
        Some(&live("443", "10")),
        None,
    )
    .unwrap();
    assert_eq!(
        (p.verb(), p.live_resource_version()),
        (Verb::Delete, Some("10"))
    );
}

#[test]
fn only_the_kind_prefixed_name_confirms_a_native_rollback() {
    let p = revert_to_443();
    assert!(confirmation_matches(
        &p,
        "ciliumnp/acme-web/storefront-to-world"
    ));
    for wrong in [
        NAME,
        "acme-web/storefront-to-world",
        "ccnp/storefront-to-world",
        "caliconp/acme-web/storefront-to-world",
        "ciliumnp/storefront-to-world",
        "",
    ] {
        assert!(
            !confirmation_matches(&p, wrong),
            "`{wrong}` must not confirm"
        );
        let refused = Confirmation::given(FlowId::HEADLESS, &p, wrong, "INC-1").unwrap_err();
        assert_eq!(
            refused,
            "type ciliumnp/acme-web/storefront-to-world to confirm"
        );
    }
}

#[test]
fn the_access_review_asks_about_the_native_resource_where_it_is_served() {
    let attributes = plan_attributes(&revert_to_443());
    assert_eq!(
        (
            attributes.group.as_deref(),
            attributes.resource.as_deref(),
            attributes.namespace.as_deref(),
            attributes.name.as_deref(),
            attributes.verb.as_deref()
        ),
        (
            Some("cilium.io"),
            Some("ciliumnetworkpolicies"),
            Some("acme-web"),
            Some(NAME),
            Some("update")
        )
    );
    let clusterwide = resource_attributes(Verb::Delete, &PolicyKey::parse("ccnp/x").unwrap());
    assert_eq!(
        (clusterwide.resource.as_deref(), clusterwide.namespace),
        (Some("ciliumclusterwidenetworkpolicies"), None)
    );

    // A Calico GlobalNetworkPolicy served as the datastore's CRD: the review names that group.
    let gnp = PolicyKey::parse("gnp/storefront-to-world").unwrap();
    let calico_body = |action: &str| {
        json!({"spec": {"order": 10, "selector": "all()",
        "types": ["Egress"], "egress": [{"action": action}]}})
    };
    let live = served(
        NativeKind::CalicoGlobalNetworkPolicy,
        "crd.projectcalico.org/v1",
        "",
        calico_body("Deny"),
        "7",
    );
    let mut history = vec![rev(1, "", false), rev(2, "", false)];
    for (r, action) in history.iter_mut().zip(["Allow", "Deny"]) {
        r.kind = PolicyKind::Native(NativeKind::CalicoGlobalNetworkPolicy);
        r.namespace = String::new();
        r.tier_spec = Some(calico_body(action));
    }
    let p = plan(
        RollbackKind::Revert { to: 1 },
        &gnp,
        &history,
        Some(&live),
        None,
    )
    .unwrap();
    let attributes = plan_attributes(&p);
    assert_eq!(
        (
            attributes.group.as_deref(),
            attributes.resource.as_deref(),
            attributes.namespace.as_deref()
        ),
        (
            Some("crd.projectcalico.org"),
            Some("globalnetworkpolicies"),
            None
        )
    );
    assert_eq!(p.live_revision, Some(2));
    assert!(confirmation_matches(&p, "gnp/storefront-to-world"));

    let denied = Access {
        allowed: false,
        reason: "RBAC: no".into(),
    };
    let preflight = Preflight::new(&revert_to_443(), None, denied, None);
    assert_eq!(
        preflight.refusal(false).unwrap(),
        "not allowed to update ciliumnetworkpolicies in acme-web: RBAC: no"
    );
}

/// Namespaces `a` and `b`, one pod each; the CiliumNetworkPolicy `a/p` selects every pod of `a`.
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

fn cnp_in_a(spec: Value) -> PolicyObject {
    let object = serde_json::from_value(json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "p", "namespace": "a"}, "spec": spec
    }))
    .unwrap();
    PolicyObject::Native(NativePolicyInfo::new(NativeKind::CiliumNetworkPolicy, object).unwrap())
}

#[test]
fn the_blast_radius_is_the_engines_with_the_native_policy_replaced() {
    // Live: ingress from the own namespace only; the revision rolled back to adds an ingress
    // deny from everywhere.
    let same_namespace = json!({"endpointSelector": {}, "ingress": [{"fromEndpoints": [{}]}]});
    let live = cnp_in_a(same_namespace.clone());
    let mut snapshot = cluster();
    let id = live.as_native().unwrap().id.clone();
    snapshot
        .natives
        .insert(id.clone(), live.as_native().unwrap().clone());
    let mut deny_all = same_namespace;
    deny_all["ingressDeny"] = json!([{"fromEntities": ["all"]}]);
    let plan = Plan {
        kind: RollbackKind::Revert { to: 1 },
        target: PolicyKey::Native(id),
        live: Some(live),
        live_revision: Some(2),
        desired: Some(cnp_in_a(deny_all)),
        to_revision: Some(1),
        diff: Default::default(),
        owner: None,
        created_revision: None,
        notes: Vec::new(),
    };
    let blast = blast_radius(&snapshot, &AnalysisConfig::default(), &plan);
    let pairs: Vec<(String, String, String, String)> = blast
        .workload_pairs
        .iter()
        .map(|p| {
            (
                p.from.clone(),
                p.to.clone(),
                p.before.clone(),
                p.after.clone(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [(
            "a/web".to_string(),
            "a/web".to_string(),
            "All Connections".to_string(),
            "No Connections".to_string()
        )]
    );
    assert_eq!(
        blast.pods_selected, None,
        "counted for NetworkPolicies only"
    );
    assert!(blast.invalid.is_empty(), "{:?}", blast.invalid);

    // A rollback to a spec the engine refuses says why.
    let mut broken = plan.clone();
    broken.desired = Some(cnp_in_a(json!({"endpointSelector": {}, "ingress": "all"})));
    let blast = blast_radius(&snapshot, &AnalysisConfig::default(), &broken);
    assert!(!blast.invalid.is_empty(), "{blast:?}");
}

#[test]
fn kubectls_last_applied_configuration_of_a_cilium_policy_is_a_revision_of_its_body() {
    use super::last_applied;
    // Applied with port 443, then patched to 8443: the annotation still says 443.
    let applied = json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": NAME, "namespace": "acme-web"}})
    .as_object()
    .unwrap()
    .clone();
    let mut applied = Value::Object(applied);
    applied["spec"] = body("443")["spec"].clone();
    let mut live = live("8443", "20");
    live.meta_mut().annotations = Some(BTreeMap::from([(
        last_applied::ANNOTATION.to_string(),
        applied.to_string(),
    )]));
    let revision = last_applied::of_object(&live, "https://c", "ctx")
        .unwrap()
        .expect("the applied body differs from the live one");
    assert_eq!(
        revision.kind,
        PolicyKind::Native(NativeKind::CiliumNetworkPolicy)
    );
    assert_eq!(
        revision.tier_spec,
        Some(body("443")),
        "the body alone: {revision:?}"
    );
    let p = plan(
        RollbackKind::Revert {
            to: last_applied::NUMBER,
        },
        &target(),
        &[revision],
        Some(&live),
        None,
    )
    .unwrap();
    assert_eq!(port(p.desired.as_ref().unwrap()), json!("443"));

    // The annotation saying what is live offers nothing.
    let mut same = live.clone();
    let mut now = applied.clone();
    now["spec"] = body("8443")["spec"].clone();
    same.meta_mut()
        .annotations
        .as_mut()
        .unwrap()
        .insert(last_applied::ANNOTATION.to_string(), now.to_string());
    assert_eq!(last_applied::of_object(&same, "https://c", "ctx"), Ok(None));
}
