//! The journal with the CNIs' own policies: keyed by kind, namespace (none for a clusterwide
//! kind) and name, next to NetworkPolicies and tier policies; Calico's NetworkPolicy never taken
//! for Kubernetes'; the stored body without status or server metadata; seeding per kind;
//! summaries; export/import with the kind.

use serde_json::{Value, json};

use super::tests::{at, journal, policy};
use super::*;
use crate::model::{NativeKind, NativePolicyInfo, NativeRef};

/// A native policy of `kind` (namespace `ns`, empty for a clusterwide kind) at resourceVersion
/// `rv`, with `spec`, a status and managedFields, as a server serves it.
fn native(kind: NativeKind, ns: &str, name: &str, rv: u32, spec: Value) -> PolicyObject {
    let mut metadata = json!({
        "name": name, "resourceVersion": rv.to_string(), "generation": 1,
        "uid": format!("uid-{name}"),
        "managedFields": [{"manager": "kubectl-patch", "operation": "Update",
                           "time": "2026-02-01T00:00:00Z"}]
    });
    if kind.namespaced() {
        metadata["namespace"] = json!(ns);
    }
    let object = serde_json::from_value(json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(),
        "metadata": metadata,
        "spec": spec,
        "status": {"conditions": [{"type": "Valid", "status": "True", "rv": rv}]}
    }))
    .unwrap();
    PolicyObject::Native(NativePolicyInfo::new(kind, object).unwrap())
}

/// A CiliumNetworkPolicy in `acme-web` selecting `app=web`, with `denies` world egress denies.
fn cnp(name: &str, rv: u32, denies: usize) -> PolicyObject {
    let deny: Vec<Value> = (0..denies)
        .map(|i| json!({"toEntities": ["world"], "toPorts": [{"ports": [{"port": (443 + i).to_string()}]}]}))
        .collect();
    native(
        NativeKind::CiliumNetworkPolicy,
        "acme-web",
        name,
        rv,
        json!({"endpointSelector": {"matchLabels": {"app": "web"}},
               "egress": [{"toEndpoints": [{}]}], "egressDeny": deny}),
    )
}

fn key(text: &str) -> PolicyKey {
    PolicyKey::parse(text).unwrap()
}

fn numbers(journal: &Journal, text: &str) -> Vec<u32> {
    let revisions = journal.revisions_of(&key(text)).unwrap();
    revisions.iter().map(|r| r.number).collect()
}

#[test]
fn native_keys_parse_print_and_keep_their_kind_in_the_journal_columns() {
    let np = key("ciliumnp/acme-web/storefront-to-world");
    assert_eq!(
        np,
        PolicyKey::Native(NativeRef::new(
            NativeKind::CiliumNetworkPolicy,
            "acme-web",
            "storefront-to-world"
        ))
    );
    assert_eq!(np.to_string(), "ciliumnp/acme-web/storefront-to-world");
    assert_eq!(np.kind().as_str(), "CiliumNetworkPolicy");
    assert_eq!(
        (np.namespace(), np.scope().as_str()),
        ("acme-web", "in acme-web")
    );
    let ccnp = key("ccnp/dns-visibility");
    assert_eq!(
        (ccnp.namespace(), ccnp.scope().as_str()),
        ("", "(cluster-scoped)")
    );
    assert_eq!(ccnp.kind().as_str(), "CiliumClusterwideNetworkPolicy");
    // Calico's NetworkPolicy is stored with its group: never Kubernetes' kind.
    let calico = key("caliconp/acme-web/allow");
    assert_eq!(calico.kind().as_str(), "NetworkPolicy.projectcalico.org");
    assert_eq!(
        PolicyKey::from_columns("NetworkPolicy.projectcalico.org", "acme-web", "allow"),
        Some(calico.clone())
    );
    assert_eq!(
        PolicyKey::from_columns("NetworkPolicy", "acme-web", "allow"),
        Some(PolicyKey::network("acme-web", "allow"))
    );
    assert_eq!(key("gnp/deny-all").kind().group(), "projectcalico.org");
    // A NetworkPolicy in a namespace named like a short name keeps its long form.
    assert_eq!(
        PolicyKey::parse("networkpolicy/gnp/deny-all"),
        Some(PolicyKey::network("gnp", "deny-all"))
    );
    // And through the audit's JSON form.
    let text = serde_json::to_string(&calico).unwrap();
    assert_eq!(serde_json::from_str::<PolicyKey>(&text).unwrap(), calico);
    for bad in [
        "ciliumnp/acme-web",
        "ciliumnp/Acme/x",
        "ccnp/a/b",
        "ccnp/",
        "caliconp/x",
        "ciliumnp//x",
    ] {
        assert_eq!(PolicyKey::parse(bad), None, "{bad}");
    }
}

#[test]
fn native_policies_are_journalled_by_kind_namespace_and_name() {
    let (_dir, mut j) = journal();
    j.observe_object(&cnp("x", 10, 0), at(0)).unwrap().unwrap();
    j.observe_object(&cnp("x", 11, 1), at(1)).unwrap().unwrap();
    let calico = native(
        NativeKind::CalicoNetworkPolicy,
        "acme-web",
        "x",
        12,
        json!({"order": 100, "selector": "app == 'web'", "types": ["Ingress"],
               "ingress": [{"action": "Deny"}]}),
    );
    j.observe_object(&calico, at(2)).unwrap().unwrap();
    let ccnp = native(
        NativeKind::CiliumClusterwideNetworkPolicy,
        "",
        "x",
        13,
        json!({"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]}),
    );
    j.observe_object(&ccnp, at(3)).unwrap().unwrap();
    // A NetworkPolicy with the same namespace and name is yet another policy.
    j.observe(&policy("acme-web", "x", 14, 1, "kubectl"), at(4))
        .unwrap()
        .unwrap();
    assert_eq!(numbers(&j, "ciliumnp/acme-web/x"), [1, 2]);
    assert_eq!(numbers(&j, "caliconp/acme-web/x"), [1]);
    assert_eq!(numbers(&j, "ccnp/x"), [1]);
    assert_eq!(numbers(&j, "acme-web/x"), [1]);

    let stored = j
        .revision_of(&key("ciliumnp/acme-web/x"), 2)
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.kind,
        PolicyKind::Native(NativeKind::CiliumNetworkPolicy)
    );
    assert_eq!(
        (stored.namespace.as_str(), stored.name.as_str()),
        ("acme-web", "x")
    );
    assert_eq!(stored.spec, None);
    let body = stored.tier_spec.as_ref().unwrap();
    assert_eq!(
        body["spec"]["egressDeny"][0]["toEntities"],
        json!(["world"])
    );
    assert_eq!(body.get("status"), None, "status is not the policy");
    assert_eq!(stored.manager.as_deref(), Some("kubectl-patch"));
    assert_eq!(
        summarize(
            j.revision_of(&key("ciliumnp/acme-web/x"), 1)
                .unwrap()
                .as_ref(),
            &stored
        ),
        "egressDeny rules 0→1"
    );
    let calico_stored = j.latest_of(&key("caliconp/acme-web/x")).unwrap().unwrap();
    assert_eq!(
        summarize(None, &calico_stored),
        "first seen: order 100, ingress rules 1"
    );

    // The object comes back as its kind, in its namespace, ready to apply.
    let restored = stored.to_object();
    let PolicyObject::Native(info) = &restored else {
        panic!("{restored:?}")
    };
    let types = info.object.types.as_ref().unwrap();
    assert_eq!(
        (types.api_version.as_str(), types.kind.as_str()),
        ("cilium.io/v2", "CiliumNetworkPolicy")
    );
    assert_eq!(info.object.metadata.namespace.as_deref(), Some("acme-web"));
    assert_eq!(info.object.metadata.resource_version, None);
    assert_eq!(restored.key(), Some(key("ciliumnp/acme-web/x")));
    let PolicyObject::Native(clusterwide) =
        j.latest_of(&key("ccnp/x")).unwrap().unwrap().to_object()
    else {
        panic!("a ccnp is native")
    };
    assert_eq!(clusterwide.object.metadata.namespace, None);

    // A resync (same spec, new resourceVersion, another status) adds nothing.
    assert!(j.observe_object(&cnp("x", 15, 1), at(5)).unwrap().is_none());
    let mut keys = j.policies().unwrap();
    keys.sort();
    let mut expected = vec![
        key("ciliumnp/acme-web/x"),
        key("caliconp/acme-web/x"),
        key("ccnp/x"),
        key("acme-web/x"),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    let changes = j.latest_changes().unwrap();
    assert_eq!(changes[&key("ciliumnp/acme-web/x")].number, 2);
}

#[test]
fn a_seed_tombstones_only_the_vanished_policies_of_its_own_native_kind() {
    let (_dir, mut j) = journal();
    j.observe(&policy("acme-web", "p", 1, 1, "m"), at(0))
        .unwrap();
    j.observe_object(&cnp("x", 2, 1), at(0)).unwrap();
    j.observe_object(&cnp("y", 3, 0), at(0)).unwrap();
    let calico = native(
        NativeKind::CalicoNetworkPolicy,
        "acme-web",
        "y",
        4,
        json!({"selector": "all()"}),
    );
    j.observe_object(&calico, at(0)).unwrap();

    let kind = PolicyKind::Native(NativeKind::CiliumNetworkPolicy);
    let recorded = j
        .seed_reporting(kind, &[cnp("x", 2, 1)], at(1), &mut |_| {})
        .unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].key(), key("ciliumnp/acme-web/y"));
    assert!(recorded[0].deleted);
    assert_eq!(
        recorded[0].tier_spec.as_ref().unwrap()["spec"]["endpointSelector"],
        json!({"matchLabels": {"app": "web"}}),
        "the tombstone carries the last body"
    );
    // Calico's policy of the same name and the NetworkPolicies are untouched.
    assert!(
        !j.latest_of(&key("caliconp/acme-web/y"))
            .unwrap()
            .unwrap()
            .deleted
    );
    assert!(!j.latest("acme-web", "p").unwrap().unwrap().deleted);
    j.seed(&[], at(2)).unwrap();
    assert!(
        !j.latest_of(&key("ciliumnp/acme-web/x"))
            .unwrap()
            .unwrap()
            .deleted
    );
}

#[test]
fn a_deleted_native_policy_is_a_tombstone_and_its_recreation_says_so() {
    let (_dir, mut j) = journal();
    j.record_all(&[JournalEvent::Observed(cnp("x", 1, 2))], at(0))
        .unwrap();
    let gone = j
        .record_all(
            &[JournalEvent::Deleted {
                key: key("ciliumnp/acme-web/x"),
                last: Some(cnp("x", 2, 2)),
            }],
            at(1),
        )
        .unwrap();
    assert!(gone[0].deleted && gone[0].operation == Operation::Deleted);
    let back = j.observe_object(&cnp("x", 3, 2), at(2)).unwrap().unwrap();
    assert_eq!(back.number, 3);
    assert_eq!(
        summarize(Some(&gone[0]), &back),
        "re-created: egress rules 1, egressDeny rules 2"
    );
}

#[test]
fn export_and_import_carry_the_native_kind_and_scope() {
    let (_dir, mut j) = journal();
    j.observe_object(&cnp("x", 2, 1), at(1)).unwrap();
    let gnp = native(
        NativeKind::CalicoGlobalNetworkPolicy,
        "",
        "deny-egress",
        3,
        json!({"order": 10, "selector": "all()", "types": ["Egress"]}),
    );
    j.observe_object(&gnp, at(2)).unwrap();
    let calico = native(
        NativeKind::CalicoNetworkPolicy,
        "acme-web",
        "allow",
        4,
        json!({"selector": "all()"}),
    );
    j.observe_object(&calico, at(3)).unwrap();
    let mut out = Vec::new();
    j.export(&mut out).unwrap();
    let lines: Vec<Value> = String::from_utf8(out.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut said: Vec<(Value, Value, Value)> = lines
        .iter()
        .map(|l| {
            (
                l["journal_format"].clone(),
                l["kind"].clone(),
                l["namespace"].clone(),
            )
        })
        .collect();
    said.sort_by_key(|s| s.1.to_string());
    assert_eq!(
        said,
        [
            (json!(2), json!("CiliumNetworkPolicy"), json!("acme-web")),
            (json!(2), json!("GlobalNetworkPolicy"), json!("")),
            (
                json!(2),
                json!("NetworkPolicy.projectcalico.org"),
                json!("acme-web")
            ),
        ]
    );

    let (_dir2, mut other) = journal();
    let report = other.import(&mut out.as_slice()).unwrap();
    assert_eq!((report.read, report.imported), (3, 3));
    for text in [
        "ciliumnp/acme-web/x",
        "gnp/deny-egress",
        "caliconp/acme-web/allow",
    ] {
        assert_eq!(
            other.revisions_of(&key(text)).unwrap(),
            j.revisions_of(&key(text)).unwrap(),
            "{text}"
        );
    }
    // A Calico policy never arrives as a Kubernetes NetworkPolicy.
    assert!(
        other
            .revisions_of(&key("acme-web/allow"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(other.import(&mut out.as_slice()).unwrap().imported, 0);
}

#[test]
fn import_refuses_native_lines_in_the_wrong_scope() {
    let (_dir, mut j) = journal();
    let line = |kind: &str, namespace: &str| {
        json!({
            "journal_format": 2, "cluster": "c", "context": "x", "kind": kind,
            "namespace": namespace, "name": "x", "revision": 1, "resource_version": "1",
            "generation": 1, "observed_at": "2026-05-28T20:26:40.000Z", "manager": null,
            "operation": "observed", "deleted": false, "spec": {"spec": {"endpointSelector": {}}}
        })
        .to_string()
            + "\n"
    };
    for (text, why) in [
        (
            line("CiliumClusterwideNetworkPolicy", "acme"),
            "cluster-scoped",
        ),
        (line("CiliumNetworkPolicy", ""), "empty namespace"),
        (line("NetworkPolicy.example.org", "acme"), "policy kind"),
    ] {
        let err = j.import(&mut text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(why), "{why}: {err}");
    }
    assert_eq!(j.count().unwrap(), 0, "nothing imported");
    let good = line("CiliumNetworkPolicy", "acme");
    assert_eq!(j.import(&mut good.as_bytes()).unwrap().imported, 1);
    assert_eq!(numbers(&j, "ciliumnp/acme/x"), [1]);
}
