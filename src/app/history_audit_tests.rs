//! The history screen shows who rolled the policy back, when and why: the local journal's audit
//! and the team recorder's, each record once, a marker on the revision a rollback went to.

use super::history_tests::{command, journal_open, load_flow, revision};
use super::msg::JournalNews;
use super::screen::Screen;
use super::testing::{analysed, rendered};
use super::{Msg, State, update};
use crate::flow::FlowId;
use crate::history::{Operation, PolicyKey};
use crate::rollback::{AuditRecord, Outcome};

fn policy() -> PolicyKey {
    PolicyKey::network("acme-web", "deny-all")
}

fn record(uid: &str, at: &str, actor: &str, reason: &str, to: u32) -> AuditRecord {
    AuditRecord {
        id: None,
        at: at.into(),
        actor: actor.into(),
        context: "demo".into(),
        cluster: "https://demo".into(),
        object: policy(),
        kind: "revert".into(),
        from_revision: Some(3),
        to_revision: Some(to),
        from_resource_version: Some("103".into()),
        to_resource_version: Some("104".into()),
        journal_revision: None,
        reason: reason.into(),
        acknowledged_owner: None,
        dry_run: "update accepted".into(),
        apply: "written".into(),
        outcome: Outcome::Done,
        uid: Some(uid.into()),
        linked_to: None,
    }
}

/// `:history acme-web/deny-all` answered with three revisions; its flow.
fn history() -> (State, FlowId) {
    let mut s = analysed();
    journal_open(&mut s);
    let flow = load_flow(&command(&mut s, "history acme-web/deny-all"));
    let revisions = (1..=3).map(|n| revision(n, Operation::Observed)).collect();
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: policy(),
            revisions: Ok(revisions),
        }),
    );
    (s, flow)
}

fn audit(s: &mut State, flow: FlowId, policy: PolicyKey, records: Vec<AuditRecord>) {
    update(
        s,
        Msg::Journal(JournalNews::Audit {
            flow,
            policy,
            records,
        }),
    );
}

fn shown(s: &State) -> Vec<(String, String)> {
    match &s.screen {
        Screen::History(h) => h
            .audit
            .iter()
            .map(|r| (r.actor.clone(), r.reason.clone()))
            .collect(),
        other => panic!("not on the history screen: {other:?}"),
    }
}

#[test]
fn the_local_and_the_team_audit_merge_once_each_in_time_order() {
    let (mut s, flow) = history();
    let mine = record("a", "2026-11-24T01:05:00.000Z", "me", "INC-2 mine", 2);
    audit(&mut s, flow, policy(), vec![mine.clone()]);
    // The team has the same record (its actor named by the API server) and alice's, earlier.
    let mut mine_on_team = mine.clone();
    mine_on_team.actor = "palisade-demo".into();
    let alice = record("b", "2026-11-24T01:04:00.000Z", "alice", "INC-1 alice's", 1);
    audit(&mut s, flow, policy(), vec![mine_on_team, alice]);
    assert_eq!(
        shown(&s),
        [
            ("alice".to_string(), "INC-1 alice's".to_string()),
            ("me".to_string(), "INC-2 mine".to_string()),
        ]
    );
    // The local audit again after a reload: nothing twice.
    audit(&mut s, flow, policy(), vec![mine]);
    assert_eq!(shown(&s).len(), 2);
}

#[test]
fn audit_for_another_flow_or_policy_is_ignored() {
    let (mut s, flow) = history();
    let other = record("c", "2026-11-24T01:05:00.000Z", "eve", "elsewhere", 1);
    audit(&mut s, FlowId::HEADLESS, policy(), vec![other.clone()]);
    audit(
        &mut s,
        flow,
        PolicyKey::network("acme-web", "other"),
        vec![other],
    );
    assert!(shown(&s).is_empty());
}

#[test]
fn the_revision_a_rollback_went_to_is_marked_and_the_detail_lists_who_when_why() {
    let (mut s, flow) = history();
    let mut failed = record("f", "2026-11-24T01:06:00.000Z", "bob", "INC-3 retry", 2);
    failed.outcome = Outcome::Failed;
    audit(
        &mut s,
        flow,
        policy(),
        vec![
            record(
                "a",
                "2026-11-24T01:05:00.000Z",
                "alice",
                "INC-77 dns broken",
                1,
            ),
            failed,
        ],
    );
    let view = rendered(&s, 200, 30);
    let marked: Vec<&str> = view.lines().filter(|l| l.contains("↶")).collect();
    assert_eq!(marked.len(), 1, "only r1, a done rollback's target: {view}");
    assert!(marked[0].contains("r1↶"), "{view}");
    assert!(view.contains("Rollbacks (audit, team and local)"), "{view}");
    assert!(
        view.contains("2026-11-24 01:05:00 alice revert r3→r1 done"),
        "{view}"
    );
    assert!(view.contains("why: INC-77 dns broken"), "{view}");
    assert!(
        view.contains("2026-11-24 01:06:00 bob revert r3→r2 failed"),
        "{view}"
    );
    assert!(view.contains("why: INC-3 retry"), "{view}");
    // On r1, the spec's title says who rolled back to it.
    super::testing::press(&mut s, "G");
    let view = rendered(&s, 200, 30);
    assert!(
        view.contains("r1 spec — ↶ rolled back here by alice"),
        "{view}"
    );
}

#[test]
fn without_audit_records_the_detail_is_the_spec_alone() {
    let (s, _) = history();
    let view = rendered(&s, 200, 30);
    assert!(!view.contains("Rollbacks (audit"), "{view}");
    assert!(!view.contains("↶"), "{view}");
}
