//! The journal with cluster-scoped tier policies: keyed by kind and name (no namespace), next to
//! NetworkPolicies; seeding per kind; summaries; export/import with the kind; and the migration
//! of a journal written by the schema before tier policies.

use rusqlite::Connection;
use serde_json::{Value, json};

use super::tests::{at, journal, policy};
use super::*;
use crate::model::{TierKind, TierPolicyInfo, TierRef};

/// A tier policy of `kind` named `name` at resourceVersion `rv`, Admin tier at `priority`, with
/// one ingress rule per entry of `actions`.
fn tier(kind: TierKind, name: &str, rv: u32, priority: u32, actions: &[&str]) -> PolicyObject {
    let ingress: Vec<Value> = actions
        .iter()
        .enumerate()
        .map(|(i, action)| {
            json!({"name": format!("r{i}"), "action": action,
                   "from": [{"namespaces": {"matchLabels": {"tenant": "b"}}}]})
        })
        .collect();
    let object = serde_json::from_value(json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(),
        "metadata": {
            "name": name, "resourceVersion": rv.to_string(), "generation": 1,
            "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update",
                               "time": "2026-02-01T00:00:00Z"}]
        },
        "spec": {
            "tier": "Admin", "priority": priority,
            "subject": {"namespaces": {"matchLabels": {"tenant": "a"}}},
            "ingress": ingress
        }
    }))
    .unwrap();
    PolicyObject::Tier(TierPolicyInfo {
        id: TierRef::new(kind, name),
        object,
    })
}

fn cnp(name: &str, rv: u32, priority: u32) -> PolicyObject {
    tier(
        TierKind::ClusterNetworkPolicy,
        name,
        rv,
        priority,
        &["Deny"],
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
fn tier_policies_are_journalled_by_kind_and_name_apart_from_network_policies() {
    let (_dir, mut j) = journal();
    j.observe_object(&cnp("x", 10, 10), at(0)).unwrap().unwrap();
    j.observe_object(&cnp("x", 11, 20), at(1)).unwrap().unwrap();
    let anp = tier(TierKind::AdminNetworkPolicy, "x", 12, 5, &["Pass"]);
    j.observe_object(&anp, at(2)).unwrap().unwrap();
    // A NetworkPolicy `x` in a namespace named like the short name is yet another policy.
    j.observe(&policy("cnp", "x", 13, 1, "kubectl"), at(3))
        .unwrap()
        .unwrap();
    assert_eq!(numbers(&j, "cnp/x"), [1, 2]);
    assert_eq!(numbers(&j, "anp/x"), [1]);
    assert_eq!(numbers(&j, "networkpolicy/cnp/x"), [1]);

    let stored = j.revision_of(&key("cnp/x"), 2).unwrap().unwrap();
    assert_eq!(
        stored.kind,
        PolicyKind::Tier(TierKind::ClusterNetworkPolicy)
    );
    assert_eq!((stored.namespace.as_str(), stored.name.as_str()), ("", "x"));
    assert_eq!(stored.spec, None);
    assert_eq!(stored.tier_spec.as_ref().unwrap()["priority"], json!(20));
    assert_eq!(stored.resource_version.as_deref(), Some("11"));
    assert_eq!(stored.manager.as_deref(), Some("kubectl-client-side-apply"));
    assert_eq!(
        summarize(j.revision_of(&key("cnp/x"), 1).unwrap().as_ref(), &stored),
        "priority 10→20"
    );
    // The object comes back as its kind, ready to apply.
    let restored = stored.to_object();
    let PolicyObject::Tier(info) = &restored else {
        panic!("{restored:?}")
    };
    let types = info.object.types.as_ref().unwrap();
    assert_eq!(
        (types.api_version.as_str(), types.kind.as_str()),
        ("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy")
    );
    assert_eq!(info.object.metadata.namespace, None);
    assert_eq!(restored.spec_value()["priority"], json!(20));

    // A resync (same content, new resourceVersion) adds nothing.
    assert!(
        j.observe_object(&cnp("x", 14, 20), at(4))
            .unwrap()
            .is_none()
    );
    let mut keys = j.policies().unwrap();
    keys.sort();
    let mut expected = vec![key("cnp/x"), key("anp/x"), key("networkpolicy/cnp/x")];
    expected.sort();
    assert_eq!(keys, expected);
    let changes = j.latest_changes().unwrap();
    assert_eq!(changes[&key("cnp/x")].number, 2);
    assert_eq!(changes[&key("anp/x")].number, 1);
}

#[test]
fn a_seed_tombstones_only_the_vanished_policies_of_its_own_kind() {
    let (_dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "m"), at(0)).unwrap();
    j.observe_object(&cnp("x", 2, 10), at(0)).unwrap();
    j.observe_object(&cnp("y", 3, 10), at(0)).unwrap();
    let anp = tier(TierKind::AdminNetworkPolicy, "z", 4, 5, &["Deny"]);
    j.observe_object(&anp, at(0)).unwrap();

    // The ClusterNetworkPolicy list has only `x`: `y` is gone, nothing else is.
    let kind = PolicyKind::Tier(TierKind::ClusterNetworkPolicy);
    let recorded = j
        .seed_reporting(kind, &[cnp("x", 2, 10)], at(1), &mut |_| {})
        .unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].key(), key("cnp/y"));
    assert!(recorded[0].deleted);
    assert_eq!(
        recorded[0].tier_spec.as_ref().unwrap()["priority"],
        json!(10),
        "the tombstone carries the last spec"
    );
    assert!(!j.latest_of(&key("anp/z")).unwrap().unwrap().deleted);
    assert!(!j.latest("a", "p").unwrap().unwrap().deleted);

    // A NetworkPolicy seed leaves the tier policies alone.
    j.seed(&[], at(2)).unwrap();
    assert!(j.latest("a", "p").unwrap().unwrap().deleted);
    assert!(!j.latest_of(&key("cnp/x")).unwrap().unwrap().deleted);
}

#[test]
fn a_deleted_tier_policy_is_a_tombstone_and_its_recreation_says_so() {
    let (_dir, mut j) = journal();
    j.record_all(&[JournalEvent::Observed(cnp("x", 1, 10))], at(0))
        .unwrap();
    let gone = j
        .record_all(
            &[JournalEvent::Deleted {
                key: key("cnp/x"),
                last: Some(cnp("x", 2, 30)),
            }],
            at(1),
        )
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert!(gone[0].deleted && gone[0].operation == Operation::Deleted);
    assert_eq!(gone[0].tier_spec.as_ref().unwrap()["priority"], json!(30));
    let back = j.observe_object(&cnp("x", 3, 10), at(2)).unwrap().unwrap();
    assert_eq!(back.number, 3);
    assert_eq!(
        summarize(Some(&gone[0]), &back),
        "re-created: tier Admin, priority 10, ingress rules 1, egress rules 0"
    );
}

#[test]
fn export_and_import_carry_the_kind_and_keep_network_policy_lines_as_before() {
    let (_dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "m"), at(0)).unwrap();
    j.observe_object(&cnp("x", 2, 10), at(1)).unwrap();
    let banp = tier(
        TierKind::BaselineAdminNetworkPolicy,
        "default",
        3,
        0,
        &["Deny"],
    );
    j.observe_object(&banp, at(2)).unwrap();
    let mut out = Vec::new();
    j.export(&mut out).unwrap();
    let lines: Vec<Value> = String::from_utf8(out.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    // A NetworkPolicy's line is format 1 without a kind: older palisades still read it.
    assert_eq!(lines[0]["journal_format"], json!(1));
    assert_eq!(lines[0].get("kind"), None);
    let tiers: Vec<(&Value, &Value, &Value)> = lines[1..]
        .iter()
        .map(|l| (&l["journal_format"], &l["kind"], &l["namespace"]))
        .collect();
    assert_eq!(
        tiers,
        [
            (&json!(2), &json!("BaselineAdminNetworkPolicy"), &json!("")),
            (&json!(2), &json!("ClusterNetworkPolicy"), &json!("")),
        ]
    );

    let (_dir2, mut other) = journal();
    let report = other.import(&mut out.as_slice()).unwrap();
    assert_eq!((report.read, report.imported), (3, 3));
    let back = other.revisions_of(&key("cnp/x")).unwrap();
    assert_eq!(back, j.revisions_of(&key("cnp/x")).unwrap());
    assert_eq!(other.revisions_of(&key("banp/default")).unwrap().len(), 1);
    // Again: nothing new.
    assert_eq!(other.import(&mut out.as_slice()).unwrap().imported, 0);
}

#[test]
fn import_refuses_tier_lines_that_do_not_say_what_they_are() {
    let (_dir, mut j) = journal();
    let line = |format: u32, kind: Option<&str>, namespace: &str| {
        let mut value = json!({
            "journal_format": format, "cluster": "c", "context": "x", "namespace": namespace,
            "name": "x", "revision": 1, "resource_version": "1", "generation": 1,
            "observed_at": "2026-05-28T20:26:40.000Z", "manager": null, "operation": "observed",
            "deleted": false, "spec": {"tier": "Admin", "priority": 1}
        });
        if let Some(kind) = kind {
            value["kind"] = json!(kind);
        }
        value.to_string() + "\n"
    };
    for (text, why) in [
        (
            line(1, Some("ClusterNetworkPolicy"), ""),
            "journal_format 1 lines have no kind",
        ),
        (line(2, None, ""), "journal_format 2 lines need a kind"),
        (
            line(2, Some("Pod"), ""),
            "unknown tier or CNI policy kind `Pod`",
        ),
        (
            line(2, Some("ClusterNetworkPolicy"), "acme"),
            "cluster-scoped",
        ),
        (line(1, None, ""), "empty namespace"),
    ] {
        let err = j.import(&mut text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(why), "{why}: {err}");
    }
    assert_eq!(j.count().unwrap(), 0, "nothing imported");
    let good = line(2, Some("ClusterNetworkPolicy"), "");
    assert_eq!(j.import(&mut good.as_bytes()).unwrap().imported, 1);
}

/// The schema as palisade wrote it before tier policies (version 2), literally.
const OLD_SCHEMA: &str = "
CREATE TABLE revisions (
    id INTEGER PRIMARY KEY, cluster TEXT NOT NULL, context TEXT NOT NULL,
    namespace TEXT NOT NULL, name TEXT NOT NULL, number INTEGER NOT NULL CHECK (number >= 1),
    resource_version TEXT, generation INTEGER, observed_at TEXT NOT NULL, manager TEXT,
    operation TEXT NOT NULL CHECK (operation IN ('observed', 'deleted', 'rollback')),
    deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    spec TEXT NOT NULL CHECK (json_valid(spec)), labels TEXT NOT NULL CHECK (json_valid(labels)),
    annotations TEXT NOT NULL CHECK (json_valid(annotations)),
    UNIQUE (namespace, name, number)
);
CREATE INDEX revisions_by_version ON revisions (namespace, name, resource_version);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, cluster TEXT NOT NULL,
    context TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    from_revision INTEGER, to_revision INTEGER, reason TEXT NOT NULL, dry_run_result TEXT,
    apply_result TEXT, outcome TEXT NOT NULL
);
ALTER TABLE audit ADD COLUMN from_resource_version TEXT;
ALTER TABLE audit ADD COLUMN to_resource_version TEXT;
ALTER TABLE audit ADD COLUMN acknowledged_owner TEXT;
ALTER TABLE audit ADD COLUMN journal_revision INTEGER;
CREATE INDEX audit_by_object ON audit (namespace, name, id);
INSERT INTO revisions (cluster, context, namespace, name, number, resource_version, generation,
    observed_at, manager, operation, deleted, spec, labels, annotations) VALUES
    ('https://old', 'old', 'acme', 'deny', 1, '5', 1, '2026-01-01T00:00:00.000Z', 'kubectl',
     'observed', 0, '{\"podSelector\":{}}', '{}', '{}'),
    ('https://old', 'old', 'acme', 'deny', 2, '6', 2, '2026-01-02T00:00:00.000Z', 'kubectl',
     'observed', 0, '{\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}', '{}', '{}');
INSERT INTO audit (at, actor, cluster, context, namespace, name, kind, from_revision,
    to_revision, reason, dry_run_result, apply_result, outcome, from_resource_version,
    to_resource_version, journal_revision) VALUES
    ('2026-01-03T00:00:00.000Z', 'alice', 'https://old', 'old', 'acme', 'deny', 'revert', 2, 1,
     'INC-1', 'update accepted', 'written', 'done', '6', '7', NULL);
PRAGMA user_version = 2;
";

#[test]
fn a_journal_written_before_tier_policies_opens_migrated_with_its_rows_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch(OLD_SCHEMA)
        .unwrap();

    // A reader migrates it once (that needs write access), then reads it.
    let j = Journal::open_existing(&path).unwrap();
    let version: i64 = j
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::SCHEMA_VERSION);
    let revisions = j.revisions("acme", "deny").unwrap();
    assert_eq!(revisions.len(), 2);
    assert!(
        revisions
            .iter()
            .all(|r| r.kind == PolicyKind::NetworkPolicy)
    );
    assert_eq!(revisions[1].resource_version.as_deref(), Some("6"));
    assert_eq!(
        summarize(Some(&revisions[0]), &revisions[1]),
        "policyTypes default→Ingress"
    );
    let audit = crate::rollback::audit::records(&j, Some(&key("acme/deny"))).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].object, key("acme/deny"));
    assert_eq!(audit[0].to_resource_version.as_deref(), Some("7"));
    assert_eq!(audit[0].uid, None, "rows from before version 4 have no uid");
    drop(j);

    // Written to after the migration: numbering goes on, and a tier policy of the same name
    // sits beside it.
    let mut j = Journal::open(&path)
        .unwrap()
        .with_source("https://new", "new");
    let mut next = policy("acme", "deny", 8, 2, "kubectl");
    next.metadata.labels = None;
    assert_eq!(j.observe(&next, at(0)).unwrap().unwrap().number, 3);
    assert_eq!(
        j.observe_object(&cnp("deny", 9, 1), at(0))
            .unwrap()
            .unwrap()
            .number,
        1
    );
    let integrity: String = j
        .connection()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn audit_records_keep_their_uid_and_link_and_a_uid_is_stored_once() {
    use crate::rollback::audit::{self, AuditRecord, new_uid};
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.sqlite"))
        .unwrap()
        .with_source("https://c", "ctx");
    let first = new_uid();
    assert_eq!(first.len(), 32);
    assert_ne!(first, new_uid(), "two uids drawn in a row differ");
    let mut record = AuditRecord {
        id: None,
        at: "2026-05-01T11:00:00.000Z".into(),
        actor: "alice".into(),
        context: "ctx".into(),
        cluster: "https://c".into(),
        object: key("acme/deny"),
        kind: "revert".into(),
        from_revision: None,
        to_revision: None,
        from_resource_version: None,
        to_resource_version: None,
        journal_revision: None,
        reason: "INC-1".into(),
        acknowledged_owner: None,
        dry_run: "not run".into(),
        apply: "not attempted".into(),
        outcome: crate::rollback::Outcome::Refused,
        uid: Some(first.clone()),
        linked_to: Some("suspension-uid".into()),
    };
    audit::append(&mut j, &mut record.clone(), None).unwrap();
    let stored = audit::records(&j, Some(&key("acme/deny"))).unwrap();
    assert_eq!(stored[0].uid.as_deref(), Some(first.as_str()));
    assert_eq!(stored[0].linked_to.as_deref(), Some("suspension-uid"));
    // The same record again (a retried append to the team's journal) is refused by the index.
    assert!(audit::append(&mut j, &mut record, None).is_err());
    assert_eq!(audit::records(&j, None).unwrap().len(), 1);
}
