//! The console's rollback of a GitOps-owned policy with the owner's suspension chosen: the
//! toggle, the confirmation naming both writes, the suspension before the apply, a failed
//! suspension ending the attempt, and replies for other flows ignored.

use super::rollback::{Attempt, OwnerSuspension, Prepared, RollbackNews, Stage, SuspensionWritten};
use super::rollback_tests::{answer, dry_ran, open, planning, policy, prepared, stage};
use super::screen::Screen;
use super::testing::{analysed, press, rendered, type_text};
use super::{Effect, State};
use crate::flow::FlowId;
use crate::rollback::suspend::Suspension;
use crate::rollback::{Access, GitOpsOwner, GitOpsTool, Preflight, RollbackKind};

fn flux() -> GitOpsOwner {
    GitOpsOwner {
        tool: GitOpsTool::Flux,
        name: "globex-policies".into(),
        namespace: Some("flux-system".into()),
        evidence: "kustomize.toolkit.fluxcd.io/name=globex-policies".into(),
    }
}

const SUMMARY: &str = "suspend Flux Kustomization flux-system/globex-policies (spec.suspend: true)";

/// A revert of a Flux-owned policy, its suspension offered (or not).
fn owned(offered: bool) -> Box<Prepared> {
    let mut prepared = prepared(true);
    prepared.plan.owner = Some(flux());
    prepared.preflight = Preflight::new(
        &prepared.plan,
        None,
        Access {
            allowed: true,
            reason: "test".into(),
        },
        None,
    );
    prepared.suspension = Some(if offered {
        OwnerSuspension::Offered {
            suspension: Suspension {
                owner: flux(),
                namespace: "flux-system".into(),
                patch: serde_json::json!({"spec": {"suspend": true}}),
                before: serde_json::json!(false),
                summary: SUMMARY.into(),
            },
            access: Access {
                allowed: true,
                reason: "rbac: allowed".into(),
            },
        }
    } else {
        OwnerSuspension::Unavailable("it is not reconciling: nothing to suspend".into())
    });
    prepared
}

fn reviewing(offered: bool) -> (State, FlowId) {
    let mut s = analysed();
    let (flow, _) = planning(&open(&mut s, policy(), RollbackKind::Revert { to: 1 }));
    answer(&mut s, flow, RollbackNews::Prepared(owned(offered)));
    (s, flow)
}

fn screen(s: &State) -> &super::rollback::RollbackScreen {
    match &s.screen {
        Screen::Rollback(r) => r,
        other => panic!("not on the rollback screen: {other:?}"),
    }
}

/// Types the confirmation and reason, presses enter: the dry run asked for.
fn confirm(s: &mut State) -> Box<Attempt> {
    type_text(s, "acme-web/allow-dns");
    press(s, "tab");
    type_text(s, "INC-9");
    match press(s, "enter").as_slice() {
        [Effect::DryRunRollback(attempt)] => attempt.clone(),
        other => panic!("expected the dry run, got {other:?}"),
    }
}

#[test]
fn the_toggle_chooses_the_suspension_and_the_confirmation_names_both_writes() {
    let (mut s, _) = reviewing(true);
    assert!(!screen(&s).suspend_owner);
    assert_eq!(
        screen(&s).confirmation_prompt(),
        "type acme-web/allow-dns to confirm:"
    );
    let view = rendered(&s, 160, 30);
    assert!(view.contains("[ ] ctrl-o: also suspend"), "{view}");
    assert!(
        view.contains("ctrl-o suspend-gitops"),
        "the hint bar: {view}"
    );

    assert!(press(&mut s, "ctrl-o").is_empty());
    assert!(screen(&s).suspend_owner);
    let prompt = screen(&s).confirmation_prompt();
    assert!(
        prompt.contains(SUMMARY) && prompt.contains("roll back acme-web/allow-dns"),
        "{prompt}"
    );
    assert!(rendered(&s, 160, 30).contains("[x] ctrl-o: also suspend"));
    // The key is not text: nothing was typed into the confirmation.
    assert!(screen(&s).confirmation.is_empty());

    press(&mut s, "ctrl-o");
    assert!(!screen(&s).suspend_owner, "the key toggles it off again");
}

#[test]
fn nothing_to_toggle_when_the_owner_does_not_reconcile() {
    let (mut s, _) = reviewing(false);
    press(&mut s, "ctrl-o");
    assert!(!screen(&s).suspend_owner);
    assert!(rendered(&s, 160, 30).contains("nothing to suspend"));
    // Without the suspension or the acknowledgement, the attempt is still a refusal to audit.
    let attempt = confirm(&mut s);
    assert!(attempt.suspension.is_none() && !attempt.owner_handled());
}

#[test]
fn the_suspension_is_written_first_then_the_rollback_then_the_reminder() {
    let (mut s, flow) = reviewing(true);
    press(&mut s, "ctrl-o");
    let attempt = confirm(&mut s);
    let step = attempt
        .suspension
        .as_ref()
        .expect("the suspension is chosen");
    assert_eq!(step.suspension.summary, SUMMARY);
    assert!(attempt.owner_handled());
    assert!(rendered(&s, 160, 30).contains("of both writes: 1. suspend Flux Kustomization"));

    answer(&mut s, flow, dry_ran(&attempt));
    assert!(rendered(&s, 160, 30).contains("enter: APPLY BOTH writes"));
    let effects = press(&mut s, "enter");
    let [Effect::SuspendOwner { attempt, passed }] = effects.as_slice() else {
        panic!("the suspension comes first, alone: {effects:?}");
    };
    assert!(matches!(stage(&s), Stage::Suspending { .. }));

    let mut suspended = attempt.clone();
    suspended.suspension.as_mut().unwrap().written = Some(SuspensionWritten {
        rollback_uid: Some("r-1".into()),
        suspension_uid: Some("s-1".into()),
        note: "suspended".into(),
    });
    let effects = answer(
        &mut s,
        flow,
        RollbackNews::Suspended {
            attempt: suspended.clone(),
            passed: passed.clone(),
        },
    );
    match effects.as_slice() {
        [
            Effect::ApplyRollback { attempt, .. },
            Effect::LoadGitOpsReminders,
        ] => assert_eq!(attempt, &suspended, "the apply carries the audit link"),
        other => panic!("expected the apply then the reminder, got {other:?}"),
    }
    assert!(matches!(stage(&s), Stage::Applying(_)));
}

#[test]
fn a_failed_suspension_ends_the_attempt_without_the_apply() {
    let (mut s, flow) = reviewing(true);
    press(&mut s, "ctrl-o");
    let attempt = confirm(&mut s);
    answer(&mut s, flow, dry_ran(&attempt));
    press(&mut s, "enter");
    let effects = answer(
        &mut s,
        flow,
        RollbackNews::Finished {
            outcome: "failed".into(),
            detail: "the suspension failed: forbidden; the policy was NOT written".into(),
            replan: false,
        },
    );
    assert!(effects.is_empty(), "{effects:?}");
    assert!(matches!(stage(&s), Stage::Done { outcome, .. } if outcome == "failed"));
    assert!(rendered(&s, 160, 30).contains("the policy was NOT written"));
}

#[test]
fn a_stale_suspension_reply_does_not_apply_anything() {
    let (mut s, flow) = reviewing(true);
    press(&mut s, "ctrl-o");
    let attempt = confirm(&mut s);
    answer(&mut s, flow, dry_ran(&attempt));
    let effects = press(&mut s, "enter");
    let [Effect::SuspendOwner { attempt, passed }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    let reply = RollbackNews::Suspended {
        attempt: attempt.clone(),
        passed: passed.clone(),
    };
    // Another flow's reply, at the stage that waits for one: dropped.
    let other = answer(&mut s, FlowId::HEADLESS, reply.clone());
    assert!(
        !other
            .iter()
            .any(|e| matches!(e, Effect::ApplyRollback { .. })),
        "{other:?}"
    );
    assert!(matches!(stage(&s), Stage::Suspending { .. }));
    // The operator leaves while it is in flight (audited), then the reply arrives: no apply,
    // only the reminder of what was suspended.
    let left = press(&mut s, "esc");
    assert!(matches!(
        left.as_slice(),
        [Effect::AbandonRollback { in_flight: Some(step), .. }] if step == "the GitOps suspension"
    ));
    let late = answer(&mut s, flow, reply);
    assert_eq!(late, vec![Effect::LoadGitOpsReminders]);
    assert!(
        s.notice
            .as_deref()
            .unwrap()
            .contains("the rollback was not applied")
    );
}

#[test]
fn a_suspension_reply_before_the_apply_was_asked_is_dropped() {
    let (mut s, flow) = reviewing(true);
    press(&mut s, "ctrl-o");
    let attempt = confirm(&mut s);
    answer(&mut s, flow, dry_ran(&attempt));
    // Confirmed, enter not pressed: a Suspended reply is not what this stage waits for.
    let passed = match stage(&s) {
        Stage::Confirmed { passed, .. } => passed,
        other => panic!("{other:?}"),
    };
    let effects = answer(&mut s, flow, RollbackNews::Suspended { attempt, passed });
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::ApplyRollback { .. })),
        "{effects:?}"
    );
    assert!(matches!(stage(&s), Stage::Confirmed { .. }));
}
