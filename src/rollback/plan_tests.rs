//! The plan, from hand-made revisions, live objects and audit records.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::json;

use super::audit::{AuditRecord, Outcome};
use super::plan::{PlanError, RollbackKind, Verb, confirmation_matches, plan};
use crate::history::{Operation, PolicyKey, PolicyKind, PolicyObject, Revision};

fn target() -> PolicyKey {
    PolicyKey::network("shop", "deny")
}

fn spec(port: u16) -> k8s_openapi::api::networking::v1::NetworkPolicySpec {
    serde_json::from_value(json!({"podSelector": {}, "ingress": [{"ports": [{"port": port}]}]}))
        .unwrap()
}

/// Revision `number` allowing `port`, at resourceVersion `rv`; a tombstone when `deleted`.
fn rev(number: u32, port: u16, rv: &str, deleted: bool) -> Revision {
    Revision {
        cluster: "https://c".into(),
        context: "ctx".into(),
        kind: PolicyKind::NetworkPolicy,
        namespace: "shop".into(),
        name: "deny".into(),
        number,
        resource_version: Some(rv.into()),
        generation: Some(i64::from(number)),
        observed_at: format!("2026-05-01T10:0{number}:00.000Z"),
        manager: None,
        operation: if deleted {
            Operation::Deleted
        } else {
            Operation::Observed
        },
        deleted,
        spec: Some(spec(port)),
        tier_spec: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

fn live(port: u16, rv: &str, created: &str) -> PolicyObject {
    let policy: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "deny", "namespace": "shop", "resourceVersion": rv, "uid": "u-1",
                     "creationTimestamp": created},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": port}]}]}
    }))
    .unwrap();
    policy.into()
}

fn port(policy: &PolicyObject) -> serde_json::Value {
    policy.spec_value()["ingress"][0]["ports"][0]["port"].clone()
}

fn history() -> Vec<Revision> {
    vec![
        rev(1, 80, "10", false),
        rev(2, 81, "11", false),
        rev(3, 82, "12", false),
    ]
}

const CREATED: &str = "2026-05-01T10:00:30Z";

#[test]
fn revert_replaces_the_live_policy_with_the_revision_under_its_resource_version() {
    let live = live(82, "12", CREATED);
    let p = plan(
        RollbackKind::Revert { to: 1 },
        &target(),
        &history(),
        Some(&live),
        None,
    )
    .unwrap();
    assert_eq!(p.verb(), Verb::Update);
    assert_eq!((p.live_revision, p.to_revision), (Some(3), Some(1)));
    let desired = p.desired.as_ref().unwrap();
    assert_eq!(port(desired), json!(80));
    assert_eq!(desired.meta().resource_version.as_deref(), Some("12"));
    assert_eq!(p.diff.counts(), (1, 1));
    assert_eq!(
        p.summary(),
        "revert shop/deny: replace with revision 1 (live is revision 3)"
    );
    assert!(confirmation_matches(&p, " shop/deny\n"));
    assert!(!confirmation_matches(&p, "shop/other"));
}

#[test]
fn revert_errors_say_what_is_wrong() {
    let live = live(82, "12", CREATED);
    let err = |kind, revisions: &[Revision], live: Option<&PolicyObject>| {
        plan(kind, &target(), revisions, live, None)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(RollbackKind::Revert { to: 9 }, &history(), Some(&live)),
        "shop/deny has no revision 9; the journal has revisions 1 to 3"
    );
    assert!(err(RollbackKind::Revert { to: 1 }, &history(), None).contains("does not exist"));
    assert!(
        err(RollbackKind::Revert { to: 3 }, &history(), Some(&live)).contains("nothing to change")
    );
    let mut deleted = history();
    deleted.push(rev(4, 82, "13", true));
    assert!(err(RollbackKind::Revert { to: 4 }, &deleted, Some(&live)).contains("tombstone"));
    assert!(err(RollbackKind::Revert { to: 1 }, &[], Some(&live)).contains("no revisions"));
}

#[test]
fn restore_recreates_the_last_alive_spec_or_the_given_revision() {
    let mut revisions = history();
    revisions.push(rev(4, 82, "13", true));
    let p = plan(
        RollbackKind::Restore { revision: None },
        &target(),
        &revisions,
        None,
        None,
    )
    .unwrap();
    assert_eq!(p.verb(), Verb::Create);
    assert_eq!(p.to_revision, Some(3));
    assert_eq!(port(p.desired.as_ref().unwrap()), json!(82));
    assert_eq!(p.desired.as_ref().unwrap().meta().resource_version, None);
    let p = plan(
        RollbackKind::Restore { revision: Some(1) },
        &target(),
        &revisions,
        None,
        None,
    )
    .unwrap();
    assert_eq!(port(p.desired.as_ref().unwrap()), json!(80));
    let live = live(82, "14", CREATED);
    assert_eq!(
        plan(
            RollbackKind::Restore { revision: None },
            &target(),
            &revisions,
            Some(&live),
            None
        ),
        Err(PlanError::Live(target()))
    );
}

#[test]
fn remove_says_whether_the_journal_saw_the_policy_created() {
    let revisions = vec![rev(1, 80, "10", false)];
    // Revision 1 observed at 10:01:00, 30 s after creation: a new policy.
    let new = live(80, "10", CREATED);
    let p = plan(
        RollbackKind::Remove,
        &target(),
        &revisions,
        Some(&new),
        None,
    )
    .unwrap();
    assert_eq!((p.verb(), p.created_revision), (Verb::Delete, Some(1)));
    assert!(p.desired.is_none() && p.to_revision.is_none());
    // Created a year before the journal first saw it: seeded, not new.
    let old = live(80, "10", "2025-05-01T10:00:00Z");
    let p = plan(
        RollbackKind::Remove,
        &target(),
        &revisions,
        Some(&old),
        None,
    )
    .unwrap();
    assert_eq!(p.created_revision, None);
    assert!(
        p.notes.iter().any(|n| n.contains("already existed")),
        "{:?}",
        p.notes
    );
    // Re-created after a deletion.
    let mut revisions = history();
    revisions.push(rev(4, 82, "13", true));
    revisions.push(rev(5, 90, "20", false));
    let p = plan(
        RollbackKind::Remove,
        &target(),
        &revisions,
        Some(&old),
        None,
    )
    .unwrap();
    assert_eq!(p.created_revision, Some(5));
    assert_eq!(
        plan(RollbackKind::Remove, &target(), &revisions, None, None),
        Err(PlanError::NotLive(target()))
    );
}

fn done(
    kind: &str,
    from: Option<(u32, &str)>,
    to: Option<u32>,
    to_rv: Option<&str>,
) -> AuditRecord {
    AuditRecord {
        id: Some(7),
        at: "2026-05-01T11:00:00.000Z".into(),
        actor: "alice".into(),
        context: "ctx".into(),
        cluster: "https://c".into(),
        object: target(),
        kind: kind.into(),
        from_revision: from.map(|f| f.0),
        to_revision: to,
        from_resource_version: from.map(|f| f.1.to_string()),
        to_resource_version: to_rv.map(str::to_string),
        journal_revision: None,
        reason: "INC-1".into(),
        acknowledged_owner: None,
        dry_run: "ok".into(),
        apply: "ok".into(),
        outcome: Outcome::Done,
        uid: None,
        linked_to: None,
    }
}

#[test]
fn undo_reverses_the_last_rollback_found_by_resource_version() {
    // Revert from #3 (rv 12) to #1, which wrote rv 13 as #4. An import renumbered nothing here,
    // but the record's number is wrong on purpose: the resourceVersion wins.
    let mut revisions = history();
    revisions.push(rev(4, 80, "13", false));
    let live = live(80, "13", CREATED);
    let record = done("revert", Some((99, "12")), Some(1), Some("13"));
    let p = plan(
        RollbackKind::Undo,
        &target(),
        &revisions,
        Some(&live),
        Some(&record),
    )
    .unwrap();
    assert_eq!((p.verb(), p.to_revision), (Verb::Update, Some(3)));
    assert_eq!(port(p.desired.as_ref().unwrap()), json!(82));
    assert!(p.notes[0].contains("undoes rollback #7"), "{:?}", p.notes);
    // Changed since the rollback: refused.
    let moved = live_with_rv("14");
    let err = plan(
        RollbackKind::Undo,
        &target(),
        &revisions,
        Some(&moved),
        Some(&record),
    );
    assert!(
        matches!(err, Err(PlanError::ChangedSinceRollback { .. })),
        "{err:?}"
    );
    assert_eq!(
        plan(RollbackKind::Undo, &target(), &revisions, Some(&live), None),
        Err(PlanError::NothingToUndo(target()))
    );
    // Undo of a restore (the policy was absent before) deletes it.
    let record = done("restore", None, Some(3), Some("13"));
    let p = plan(
        RollbackKind::Undo,
        &target(),
        &revisions,
        Some(&live),
        Some(&record),
    )
    .unwrap();
    assert_eq!(p.verb(), Verb::Delete);
    // Undo of a remove re-creates what was removed.
    let record = done("remove", Some((3, "12")), None, None);
    let p = plan(
        RollbackKind::Undo,
        &target(),
        &revisions,
        None,
        Some(&record),
    )
    .unwrap();
    assert_eq!(p.verb(), Verb::Create);
    assert_eq!(port(p.desired.as_ref().unwrap()), json!(82));
}

fn live_with_rv(rv: &str) -> PolicyObject {
    live(80, rv, CREATED)
}

#[test]
fn gitops_owners_are_noted() {
    let mut owned = live(82, "12", CREATED);
    owned.meta_mut().labels = Some(BTreeMap::from([(
        "argocd.argoproj.io/instance".to_string(),
        "shop".to_string(),
    )]));
    let p = plan(
        RollbackKind::Revert { to: 1 },
        &target(),
        &history(),
        Some(&owned),
        None,
    )
    .unwrap();
    assert_eq!(
        p.owner.as_ref().unwrap().describe(),
        "Argo CD Application shop"
    );
    assert!(p.notes.iter().any(|n| n.contains("reconcile")));
}
