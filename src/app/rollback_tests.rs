use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::json;

use super::rollback::{Prepared, RollbackNews, Stage};
use super::screen::Screen;
use super::testing::{analysed, press, type_text};
use super::{Effect, Msg, State, update};
use crate::history::{Operation, Revision};
use crate::model::ObjectRef;
use crate::rollback::{Access, Preflight, RollbackKind, plan};

fn policy() -> ObjectRef {
    ObjectRef::new("acme-web", "allow-dns")
}

fn revision(number: u32, port: u16) -> Revision {
    Revision {
        cluster: "http://127.0.0.1".into(),
        context: "demo".into(),
        namespace: "acme-web".into(),
        name: "allow-dns".into(),
        number,
        resource_version: Some(format!("{number}0")),
        generation: Some(i64::from(number)),
        observed_at: format!("2026-11-24T01:0{number}:00.000Z"),
        manager: None,
        operation: Operation::Observed,
        deleted: false,
        spec: serde_json::from_value(
            json!({"podSelector": {}, "egress": [{"ports": [{"port": port}]}]}),
        )
        .ok(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

fn prepared(allowed: bool) -> Box<Prepared> {
    let live: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "allow-dns", "namespace": "acme-web", "resourceVersion": "20"},
        "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 5353}]}]}
    }))
    .unwrap();
    let revisions = [revision(1, 53), revision(2, 5353)];
    let plan = plan(
        RollbackKind::Revert { to: 1 },
        &policy(),
        &revisions,
        Some(&live),
        None,
    )
    .unwrap();
    let access = Access {
        allowed,
        reason: "test".into(),
    };
    let preflight = Preflight::new(&plan, None, access, None);
    Box::new(Prepared {
        plan,
        blast: Err("not computed in this test".into()),
        preflight,
        actor: "tester".into(),
    })
}

/// On the rollback screen of acme-web/allow-dns, planned.
fn reviewing() -> State {
    let mut s = analysed();
    let effects = super::rollback::open(&mut s, policy(), RollbackKind::Revert { to: 1 });
    assert_eq!(
        effects,
        vec![Effect::PrepareRollback {
            policy: policy(),
            kind: RollbackKind::Revert { to: 1 }
        }]
    );
    update(
        &mut s,
        Msg::Rollback(RollbackNews::Prepared(prepared(true))),
    );
    s
}

fn stage(s: &State) -> Stage {
    match &s.screen {
        Screen::Rollback(r) => r.stage.clone(),
        other => panic!("not on the rollback screen: {other:?}"),
    }
}

#[test]
fn nothing_runs_without_the_typed_name_and_a_reason() {
    let mut s = reviewing();
    assert_eq!(stage(&s), Stage::Review);
    assert!(press(&mut s, "enter").is_empty(), "no confirmation yet");
    // enter moved to the reason; go back and type a wrong name.
    press(&mut s, "tab");
    type_text(&mut s, "acme-web/allow-dn");
    assert!(press(&mut s, "enter").is_empty(), "wrong name");
    press(&mut s, "tab");
    type_text(&mut s, "s");
    press(&mut s, "tab");
    assert!(press(&mut s, "enter").is_empty(), "no reason yet");
    type_text(&mut s, "INC-7 dns");
    let effects = press(&mut s, "enter");
    let [Effect::DryRunRollback { reason, .. }] = effects.as_slice() else {
        panic!("expected the dry run, got {effects:?}");
    };
    assert_eq!(reason, "INC-7 dns");
    assert_eq!(stage(&s), Stage::DryRunning);
}

#[test]
fn typed_letters_are_text_not_commands() {
    let mut s = reviewing();
    // q, j and : would quit, move or open the command line elsewhere.
    type_text(&mut s, "q:j");
    assert!(!s.quitting);
    assert!(s.input.is_none());
    let Screen::Rollback(r) = &s.screen else {
        panic!()
    };
    assert_eq!(r.confirmation, "q:j");
}

fn confirmed() -> State {
    let mut s = reviewing();
    type_text(&mut s, "acme-web/allow-dns");
    press(&mut s, "tab");
    type_text(&mut s, "why");
    press(&mut s, "enter");
    update(
        &mut s,
        Msg::Rollback(RollbackNews::DryRan(Ok("update accepted".into()))),
    );
    s
}

#[test]
fn the_apply_needs_a_second_enter_after_the_dry_run() {
    let mut s = confirmed();
    assert_eq!(
        stage(&s),
        Stage::Confirmed {
            dry_run: "update accepted".into()
        }
    );
    let effects = press(&mut s, "enter");
    let [Effect::ApplyRollback { dry_run, .. }] = effects.as_slice() else {
        panic!("expected the apply, got {effects:?}");
    };
    assert_eq!(dry_run, "update accepted");
    assert_eq!(stage(&s), Stage::Applying);
    update(
        &mut s,
        Msg::Rollback(RollbackNews::Finished {
            outcome: "done".into(),
            detail: "audit #1".into(),
            replan: false,
        }),
    );
    assert!(matches!(stage(&s), Stage::Done { outcome, .. } if outcome == "done"));
    // Once done, the keymap is back: `:` opens the command line.
    press(&mut s, ":");
    assert!(s.input.is_some());
}

#[test]
fn leaving_after_the_dry_run_is_audited() {
    let mut s = confirmed();
    let effects = press(&mut s, "esc");
    assert!(matches!(
        effects.as_slice(),
        [Effect::AbandonRollback { .. }]
    ));
    assert!(!matches!(s.screen, Screen::Rollback(_)));
}

#[test]
fn a_conflict_plans_again_from_the_live_state() {
    let mut s = confirmed();
    press(&mut s, "enter");
    let effects = update(
        &mut s,
        Msg::Rollback(RollbackNews::Finished {
            outcome: "conflict".into(),
            detail: "changed since it was planned".into(),
            replan: true,
        }),
    );
    assert_eq!(
        effects,
        vec![Effect::PrepareRollback {
            policy: policy(),
            kind: RollbackKind::Revert { to: 1 }
        }]
    );
    assert_eq!(stage(&s), Stage::Preparing);
    assert!(s.notice.as_deref().unwrap().contains("conflict"));
}

#[test]
fn a_refused_preflight_is_shown_and_the_attempt_still_goes_to_the_runtime_for_audit() {
    let mut s = analysed();
    super::rollback::open(&mut s, policy(), RollbackKind::Revert { to: 1 });
    update(
        &mut s,
        Msg::Rollback(RollbackNews::Prepared(prepared(false))),
    );
    let Screen::Rollback(r) = &s.screen else {
        panic!()
    };
    let refusal = r.prepared.as_ref().unwrap().preflight.refusal(false);
    assert!(refusal.unwrap().contains("not allowed"));
    type_text(&mut s, "acme-web/allow-dns");
    press(&mut s, "tab");
    type_text(&mut s, "why");
    // The runtime refuses (and audits) instead of running the dry run.
    assert!(matches!(
        press(&mut s, "enter").as_slice(),
        [Effect::DryRunRollback { .. }]
    ));
}

#[test]
fn news_for_a_flow_that_was_left_is_ignored() {
    let mut s = reviewing();
    press(&mut s, "esc");
    let before = s.screen.clone();
    update(
        &mut s,
        Msg::Rollback(RollbackNews::DryRan(Ok("late".into()))),
    );
    assert_eq!(s.screen, before);
}
