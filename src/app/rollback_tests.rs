use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::json;

use super::msg::JournalNews;
use super::rollback::{Attempt, Prepared, RollbackNews, Stage};
use super::screen::Screen;
use super::testing::{analysed, press, type_text};
use super::{Effect, Msg, State, update};
use crate::flow::FlowId;
use crate::history::{Operation, PolicyKey, PolicyKind, Revision};
use crate::rollback::{Access, DryRunPassed, Preflight, RollbackKind, plan};

/// Opens the rollback flow of `policy`, as `R`/`x`/`u` on its history do.
pub(super) fn open(s: &mut State, policy: PolicyKey, kind: RollbackKind) -> Vec<Effect> {
    let step = super::rollback_flow::open(&mut s.session.flows, policy, kind);
    super::nav::take(s, step)
}

pub(super) fn policy() -> PolicyKey {
    PolicyKey::network("acme-web", "allow-dns")
}

fn revision(number: u32, port: u16) -> Revision {
    Revision {
        cluster: "http://127.0.0.1".into(),
        context: "demo".into(),
        kind: PolicyKind::NetworkPolicy,
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
        tier_spec: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

/// What the runtime would prepare for `kind` on acme-web/allow-dns (live: revision 2).
fn prepared_for(kind: RollbackKind, allowed: bool) -> Box<Prepared> {
    let live: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "allow-dns", "namespace": "acme-web", "resourceVersion": "20"},
        "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 5353}]}]}
    }))
    .unwrap();
    let revisions = [revision(1, 53), revision(2, 5353)];
    let plan = plan(kind, &policy(), &revisions, Some(&live.into()), None).unwrap();
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
        suspension: None,
    })
}

pub(super) fn prepared(allowed: bool) -> Box<Prepared> {
    prepared_for(RollbackKind::Revert { to: 1 }, allowed)
}

/// The flow and kind of the one planning request among `effects`.
pub(super) fn planning(effects: &[Effect]) -> (FlowId, RollbackKind) {
    match effects {
        [Effect::PrepareRollback { flow, kind, .. }] => (*flow, *kind),
        other => panic!("expected planning, got {other:?}"),
    }
}

pub(super) fn answer(s: &mut State, flow: FlowId, news: RollbackNews) -> Vec<Effect> {
    update(s, Msg::Rollback { flow, news })
}

/// The server's answer to a dry run the console asked for.
pub(super) fn dry_ran(attempt: &Attempt) -> RollbackNews {
    RollbackNews::DryRan {
        attempt: Box::new(attempt.clone()),
        result: Ok(DryRunPassed::for_tests(
            &attempt.prepared.plan,
            "update accepted",
        )),
    }
}

/// On the rollback screen of acme-web/allow-dns, planned; and its flow.
fn reviewing_flow() -> (State, FlowId) {
    let mut s = analysed();
    let effects = open(&mut s, policy(), RollbackKind::Revert { to: 1 });
    let (flow, kind) = planning(&effects);
    assert_eq!(kind, RollbackKind::Revert { to: 1 });
    answer(&mut s, flow, RollbackNews::Prepared(prepared(true)));
    (s, flow)
}

fn reviewing() -> State {
    reviewing_flow().0
}

pub(super) fn stage(s: &State) -> Stage {
    match &s.screen {
        Screen::Rollback(r) => r.stage.clone(),
        other => panic!("not on the rollback screen: {other:?}"),
    }
}

/// Types the confirmation and a reason and presses enter; the dry run asked for.
fn confirm(s: &mut State, typed: &str, reason: &str) -> Box<Attempt> {
    type_text(s, typed);
    press(s, "tab");
    type_text(s, reason);
    match press(s, "enter").as_slice() {
        [Effect::DryRunRollback(attempt)] => attempt.clone(),
        other => panic!("expected the dry run, got {other:?}"),
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
    let [Effect::DryRunRollback(attempt)] = effects.as_slice() else {
        panic!("expected the dry run, got {effects:?}");
    };
    assert_eq!(attempt.confirmation.reason(), "INC-7 dns");
    assert!(attempt.confirmation.covers(&attempt.prepared.plan));
    assert!(matches!(stage(&s), Stage::DryRunning(_)));
}

#[test]
fn typed_letters_are_text_not_commands() {
    let mut s = reviewing();
    // q, j and : would quit, move or open the command line elsewhere.
    type_text(&mut s, "q:j");
    assert!(!s.session.quitting);
    assert!(s.input.is_none());
    let Screen::Rollback(r) = &s.screen else {
        panic!()
    };
    assert_eq!(r.confirmation, "q:j");
}

/// What a confirmed revert of flow `flow` sends to the dry run.
fn confirmed_attempt(flow: FlowId) -> Attempt {
    let prepared = prepared(true);
    let confirmation =
        crate::rollback::Confirmation::given(flow, &prepared.plan, "acme-web/allow-dns", "why")
            .unwrap();
    Attempt {
        flow,
        prepared,
        confirmation,
        acknowledge_owner: false,
        suspension: None,
    }
}

/// Confirmed and dry-run: enter applies.
fn confirmed() -> (State, FlowId) {
    let (mut s, flow) = reviewing_flow();
    let attempt = confirm(&mut s, "acme-web/allow-dns", "why");
    answer(&mut s, flow, dry_ran(&attempt));
    (s, flow)
}

#[test]
fn the_apply_needs_a_second_enter_after_the_dry_run() {
    let (mut s, flow) = confirmed();
    assert!(matches!(stage(&s), Stage::Confirmed { .. }));
    let effects = press(&mut s, "enter");
    let [Effect::ApplyRollback { attempt, passed }] = effects.as_slice() else {
        panic!("expected the apply, got {effects:?}");
    };
    assert_eq!(passed.summary(), "update accepted");
    assert_eq!(attempt.flow, flow);
    assert_eq!(attempt.confirmation.reason(), "why");
    assert!(matches!(stage(&s), Stage::Applying(_)));
    answer(
        &mut s,
        flow,
        RollbackNews::Finished {
            outcome: "done".into(),
            detail: "audit #1".into(),
            replan: false,
        },
    );
    assert!(matches!(stage(&s), Stage::Done { outcome, .. } if outcome == "done"));
    // Once done, the keymap is back: `:` opens the command line.
    press(&mut s, ":");
    assert!(s.input.is_some());
}

#[test]
fn leaving_after_the_dry_run_is_audited() {
    let (mut s, _) = confirmed();
    let effects = press(&mut s, "esc");
    assert!(matches!(
        effects.as_slice(),
        [Effect::AbandonRollback {
            in_flight: None,
            ..
        }]
    ));
    assert!(!matches!(s.screen, Screen::Rollback(_)));
}

#[test]
fn a_conflict_plans_again_from_the_live_state_as_a_new_flow() {
    let (mut s, flow) = confirmed();
    press(&mut s, "enter");
    let effects = answer(
        &mut s,
        flow,
        RollbackNews::Finished {
            outcome: "conflict".into(),
            detail: "changed since it was planned".into(),
            replan: true,
        },
    );
    let (replan, kind) = planning(&effects);
    assert_ne!(replan, flow, "a new plan is a new flow");
    assert_eq!(kind, RollbackKind::Revert { to: 1 });
    assert_eq!(stage(&s), Stage::Preparing);
    assert!(s.notice.as_deref().unwrap().contains("conflict"));
    // What was typed for the old plan does not carry over.
    let Screen::Rollback(r) = &s.screen else {
        panic!()
    };
    assert!(r.confirmation.is_empty() && r.reason.is_empty());
}

#[test]
fn a_refused_preflight_is_shown_and_the_attempt_still_goes_to_the_runtime_for_audit() {
    let mut s = analysed();
    let (flow, _) = planning(&open(&mut s, policy(), RollbackKind::Revert { to: 1 }));
    answer(&mut s, flow, RollbackNews::Prepared(prepared(false)));
    let Screen::Rollback(r) = &s.screen else {
        panic!()
    };
    let refusal = r.prepared.as_ref().unwrap().preflight.refusal(false);
    assert!(refusal.unwrap().contains("not allowed"));
    // The runtime refuses (and audits) instead of running the dry run.
    confirm(&mut s, "acme-web/allow-dns", "why");
}

#[test]
fn news_for_a_flow_that_was_left_is_ignored() {
    let (mut s, flow) = reviewing_flow();
    press(&mut s, "esc");
    let before = s.screen.clone();
    let attempt = confirmed_attempt(flow);
    answer(&mut s, flow, dry_ran(&attempt));
    assert_eq!(s.screen, before);
}

#[test]
fn a_dry_run_answer_before_the_operator_confirmed_is_dropped() {
    // A reply out of order within one flow: nothing was asked at the review stage.
    let (mut s, flow) = reviewing_flow();
    let attempt = confirmed_attempt(flow);
    answer(&mut s, flow, dry_ran(&attempt));
    assert_eq!(stage(&s), Stage::Review);
    assert!(press(&mut s, "enter").is_empty());
}

// The defect of issue 11, as the hostile run found it: a dry run held by a slow admission
// webhook answers after the operator left its flow and started another one.

/// The history screen of acme-web/allow-dns, loaded with revisions 1 and 2.
fn on_history() -> State {
    let mut s = analysed();
    // The policy is live (so `R` reverts rather than restores).
    update(
        &mut s,
        Msg::Watch {
            kind: crate::model::ResourceKind::NetworkPolicy,
            event: super::WatchEvent::Applied(Box::new(crate::model::fixture::policy(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-dns, namespace: acme-web}\nspec:\n  podSelector: {}\n  egress: [{ports: [{port: 5353}]}]\n",
            ))),
        },
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    press(&mut s, ":");
    type_text(&mut s, "history acme-web/allow-dns");
    let effects = press(&mut s, "enter");
    let [Effect::LoadHistory { flow, .. }] = effects.as_slice() else {
        panic!("expected the history load, got {effects:?}");
    };
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow: *flow,
            policy: policy(),
            revisions: Ok(vec![revision(1, 53), revision(2, 5353)]),
        }),
    );
    s
}

/// `:history`, `j`, `R`, typed name, tab, reason, enter: the first flow's dry run in flight.
fn first_dry_run_in_flight() -> (State, Box<Attempt>) {
    let mut s = on_history();
    press(&mut s, "j");
    let (flow, kind) = planning(&press(&mut s, "R"));
    answer(
        &mut s,
        flow,
        RollbackNews::Prepared(prepared_for(kind, true)),
    );
    let attempt = confirm(&mut s, "acme-web/allow-dns", "INC-9 dns broken");
    (s, attempt)
}

/// esc, then `key` on the history screen: a second flow, planned, at review.
fn second_flow(s: &mut State, key: &str) -> FlowId {
    let effects = press(s, "esc");
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::AbandonRollback { in_flight: Some(step), .. }, Effect::LoadHistory { .. }]
                if step.contains("dry run")
        ),
        "leaving during the dry run is audited with what was in flight: {effects:?}"
    );
    assert!(matches!(s.screen, Screen::History(_)));
    let (flow, kind) = planning(&press(s, key));
    answer(s, flow, RollbackNews::Prepared(prepared_for(kind, true)));
    assert_eq!(stage(s), Stage::Review);
    flow
}

fn assert_untouched_review(s: &State, flow: FlowId) {
    let Screen::Rollback(r) = &s.screen else {
        panic!("left the rollback screen: {:?}", s.screen)
    };
    assert_eq!(r.flow, flow);
    assert_eq!(r.stage, Stage::Review);
    assert!(r.confirmation.is_empty() && r.reason.is_empty());
}

fn no_write(effects: &[Effect]) -> bool {
    !effects
        .iter()
        .any(|e| matches!(e, Effect::ApplyRollback { .. } | Effect::DryRunRollback(_)))
}

#[test]
fn a_late_dry_run_does_not_confirm_a_new_revert() {
    let (mut s, first) = first_dry_run_in_flight();
    let second = second_flow(&mut s, "R");
    assert_ne!(first.flow, second);
    let effects = answer(&mut s, first.flow, dry_ran(&first));
    assert_untouched_review(&s, second);
    // The late answer is audited (a dry run nobody acted on), never applied.
    assert!(matches!(
        effects.as_slice(),
        [Effect::AuditDroppedDryRun { attempt, .. }] if attempt.flow == first.flow
    ));
    assert!(s.notice.as_deref().unwrap().contains("nothing applied"));
    // Enter with nothing typed: nothing happens.
    assert!(no_write(&press(&mut s, "enter")));
    assert!(no_write(&press(&mut s, "enter")));
}

#[test]
fn a_late_dry_run_does_not_confirm_a_removal_that_was_never_dry_run() {
    let (mut s, first) = first_dry_run_in_flight();
    let second = second_flow(&mut s, "x");
    answer(&mut s, first.flow, dry_ran(&first));
    assert_untouched_review(&s, second);
    let Screen::Rollback(r) = &s.screen else {
        panic!()
    };
    assert_eq!(r.kind, RollbackKind::Remove);
    assert!(no_write(&press(&mut s, "enter")));
}

#[test]
fn a_late_dry_run_does_not_reach_another_policys_flow() {
    let (mut s, first) = first_dry_run_in_flight();
    press(&mut s, "esc"); // the flow, audited
    press(&mut s, "esc"); // the history
    press(&mut s, ":");
    type_text(&mut s, "history acme-web/deny-all");
    let effects = press(&mut s, "enter");
    let [Effect::LoadHistory { flow, policy }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let mut revisions = vec![revision(1, 53)];
    revisions[0].name = "deny-all".into();
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow: *flow,
            policy: policy.clone(),
            revisions: Ok(revisions),
        }),
    );
    let (second, _) = planning(&press(&mut s, "x"));
    answer(&mut s, first.flow, dry_ran(&first));
    let Screen::Rollback(r) = &s.screen else {
        panic!()
    };
    assert_eq!((r.flow, &r.stage), (second, &Stage::Preparing));
    assert!(no_write(&press(&mut s, "enter")));
}

#[test]
fn a_late_apply_result_does_not_finish_another_flow() {
    let (mut s, first) = first_dry_run_in_flight();
    answer(&mut s, first.flow, dry_ran(&first));
    assert!(matches!(
        press(&mut s, "enter").as_slice(),
        [Effect::ApplyRollback { .. }]
    ));
    // esc while the apply is in flight: audited, naming the apply.
    let effects = press(&mut s, "esc");
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::AbandonRollback { in_flight: Some(step), .. }, Effect::LoadHistory { .. }]
                if step.contains("apply")
        ),
        "the abandonment is audited and the history shown again reloads: {effects:?}"
    );
    let (second, kind) = planning(&press(&mut s, "R"));
    answer(
        &mut s,
        second,
        RollbackNews::Prepared(prepared_for(kind, true)),
    );
    answer(
        &mut s,
        first.flow,
        RollbackNews::Finished {
            outcome: "done".into(),
            detail: "written (audit #3)".into(),
            replan: false,
        },
    );
    assert_untouched_review(&s, second);
    let notice = s.notice.clone().unwrap();
    assert!(
        notice.contains("finished") && notice.contains("done"),
        "{notice}"
    );
}

#[test]
fn a_flow_further_back_on_the_trail_still_gets_its_answer() {
    // The operator looks at the matrix while the dry run runs, then comes back.
    let (mut s, first) = first_dry_run_in_flight();
    press(&mut s, ":");
    type_text(&mut s, "matrix");
    press(&mut s, "enter");
    assert!(matches!(s.screen, Screen::Matrix(_)));
    answer(&mut s, first.flow, dry_ran(&first));
    press(&mut s, "esc");
    assert!(matches!(stage(&s), Stage::Confirmed { .. }));
}
