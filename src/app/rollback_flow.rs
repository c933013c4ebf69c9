//! The rollback flow's transitions (its screen's data is in `rollback.rs`):
//!
//! ```text
//! Preparing ──Prepared──> Review ──typed name + reason, enter──> DryRunning ──DryRan──> Confirmed
//!     ^                     │ (refused: enter audits the refusal)          │ enter
//!     └──── r, or Conflict ─┴───────────────────────────────────── Applying <┘ ──Finished──> Done
//! ```
//!
//! With the GitOps suspension chosen (the `suspend-gitops` key on the review stage), enter on
//! Confirmed goes through `Suspending` first: `Suspended` moves on to `Applying`; a failed
//! suspension ends the attempt (`Finished`) with the policy not written.
//!
//! Every opening of the screen, `r` and every re-plan after a conflict starts a new flow. A
//! reply is applied only to the rollback screen of its own flow (shown, or further back on the
//! breadcrumb trail) and only at the stage that waits for it; any other reply is dropped, with a
//! notice, and a passed dry run that nobody can act on any more is audited. The write itself
//! needs proofs the state machine cannot forge: a `Confirmation` of this plan (typed name and
//! reason, checked when made) and a `DryRunPassed` that only the server's dry run produces.

use super::msg::Effect;
use super::nav::{Navigation, Step};
use super::rollback::{Attempt, Awaits, Field, RollbackNews, RollbackScreen, Stage};
use super::screen::Screen;
use super::state::State;
use crate::config::keys::{KeyCodeName, KeyPress};
use crate::flow::{FlowId, FlowIds};
use crate::history::PolicyKey;
use crate::rollback::RollbackKind;

/// The effect that starts (or restarts) planning.
fn prepare(screen: &RollbackScreen) -> Effect {
    Effect::PrepareRollback {
        flow: screen.flow,
        policy: screen.policy.clone(),
        kind: screen.kind,
    }
}

/// Back to the start under a new flow: nothing typed survives into another plan.
fn restart(screen: &mut RollbackScreen, flow: FlowId) -> Effect {
    *screen = RollbackScreen::new(flow, screen.policy.clone(), screen.kind);
    prepare(screen)
}

/// Opens the flow for a policy from the history screen: revert to the selected revision, restore
/// a deleted policy, remove (`x`) or undo (`u`) the last rollback.
pub fn open(flows: &mut FlowIds, policy: PolicyKey, kind: RollbackKind) -> Step {
    let screen = RollbackScreen::new(flows.issue(), policy, kind);
    let effect = prepare(&screen);
    Step::to(
        Navigation::Show(Screen::Rollback(Box::new(screen))),
        vec![effect],
    )
}

/// The rollback screen of `flow`: on screen, or further back on the trail.
fn screen_of(state: &mut State, flow: FlowId) -> Option<&mut RollbackScreen> {
    std::iter::once(&mut state.screen)
        .chain(state.back.iter_mut())
        .find_map(|screen| match screen {
            Screen::Rollback(r) if r.flow == flow => Some(&mut **r),
            _ => None,
        })
}

pub fn news(state: &mut State, flow: FlowId, news: RollbackNews) -> Vec<Effect> {
    let Some(screen) = screen_of(state, flow) else {
        return dropped(state, flow, news, "the operator left it");
    };
    match (screen.stage.awaits(), news) {
        (Awaits::Plan, RollbackNews::Prepared(prepared)) => {
            screen.prepared = Some(prepared);
            screen.stage = Stage::Review;
        }
        (Awaits::Plan, RollbackNews::PrepareFailed(why)) => screen.stage = Stage::Failed(why),
        (Awaits::Suspension, RollbackNews::Suspended { attempt, passed }) => {
            // The owner is suspended: now the rollback, and the reminder of the suspension.
            screen.stage = Stage::Applying(attempt.clone());
            return vec![
                Effect::ApplyRollback { attempt, passed },
                Effect::LoadGitOpsReminders,
            ];
        }
        (Awaits::DryRun, RollbackNews::DryRan { attempt, result }) => {
            screen.stage = match result {
                Ok(passed) => Stage::Confirmed { attempt, passed },
                Err(why) => Stage::Done {
                    outcome: "dry run rejected".into(),
                    detail: why,
                },
            };
        }
        (
            Awaits::DryRun | Awaits::Outcome,
            RollbackNews::Finished {
                outcome,
                detail,
                replan: true,
            },
        ) => {
            // Nothing was written: plan again from the live state, as a new flow.
            let next = state.session.flows.issue();
            let effect = screen_of(state, flow).map(|screen| restart(screen, next));
            state.notice = Some(format!("{outcome}: {detail} — review the new diff"));
            return effect.into_iter().collect();
        }
        (
            Awaits::DryRun | Awaits::Suspension | Awaits::Outcome,
            RollbackNews::Finished {
                outcome, detail, ..
            },
        ) => {
            screen.stage = Stage::Done { outcome, detail };
        }
        (_, news) => return dropped(state, flow, news, "its screen moved to another step"),
    }
    Vec::new()
}

/// A reply for a flow that is no longer current: never applied to another screen. The steps
/// that wrote (or refused to) audited themselves; a passed dry run nobody can act on any more
/// is audited here, so the trail shows it answered.
fn dropped(state: &mut State, flow: FlowId, news: RollbackNews, why: &str) -> Vec<Effect> {
    match news {
        RollbackNews::Prepared(_) | RollbackNews::PrepareFailed(_) => Vec::new(),
        RollbackNews::DryRan { attempt, result } => {
            let target = &attempt.prepared.plan.target;
            match result {
                Ok(passed) => {
                    state.notice = Some(format!(
                        "the dry run of {target} ({flow}) answered after {why}: nothing applied"
                    ));
                    vec![Effect::AuditDroppedDryRun {
                        attempt,
                        dry_run: passed.summary().to_string(),
                        why: format!("the dry run answered after {why} ({flow})"),
                    }]
                }
                Err(rejected) => {
                    state.notice = Some(format!(
                        "the dry run of {target} ({flow}) was rejected after {why}: {rejected}"
                    ));
                    Vec::new()
                }
            }
        }
        RollbackNews::Suspended { attempt, .. } => {
            let summary = attempt
                .suspension
                .as_ref()
                .map_or("the GitOps suspension", |s| s.suspension.summary.as_str());
            state.notice = Some(format!(
                "{summary} ({flow}) was written after {why}: the rollback was not applied"
            ));
            vec![Effect::LoadGitOpsReminders]
        }
        RollbackNews::Finished {
            outcome, detail, ..
        } => {
            state.notice = Some(format!(
                "a rollback ({flow}) finished after {why}: {outcome}: {detail}"
            ));
            Vec::new()
        }
    }
}

/// Keys on the rollback screen, which it owns while shown. Typing goes to the focused field on
/// the review stage; esc leaves at any stage (a dry run already made, or a step in flight, is
/// audited). `None`: the key is not the flow's, and the keymap handles it (`:` commands, help,
/// quit). `suspend_key`: the keymap binds this key to `suspend-gitops` on the rollback screen.
pub fn key(
    screen: &mut RollbackScreen,
    flows: &mut FlowIds,
    key: KeyPress,
    suspend_key: bool,
) -> Option<Step> {
    let plain = |code: KeyCodeName| key == KeyPress::plain(code);
    if plain(KeyCodeName::Esc) {
        return Some(Step::to(Navigation::Back, leaving(screen)));
    }
    let effects = match screen.stage.clone() {
        Stage::Review if suspend_key => {
            // Offered only when the owner reconciles; then it stands in for the acknowledgement.
            if screen.offered_suspension().is_some() {
                screen.suspend_owner = !screen.suspend_owner;
            }
            Vec::new()
        }
        Stage::Review => review_key(screen, key),
        Stage::Confirmed { attempt, passed }
            if plain(KeyCodeName::Enter) && attempt.suspension.is_some() =>
        {
            // The suspension first: a rollback the controller would revert at once helps nobody.
            screen.stage = Stage::Suspending {
                attempt: attempt.clone(),
                passed: passed.clone(),
            };
            vec![Effect::SuspendOwner { attempt, passed }]
        }
        Stage::Confirmed { attempt, passed } if plain(KeyCodeName::Enter) => {
            screen.stage = Stage::Applying(attempt.clone());
            vec![Effect::ApplyRollback { attempt, passed }]
        }
        Stage::Failed(_) | Stage::Done { .. } if key == KeyPress::plain(KeyCodeName::Char('r')) => {
            vec![restart(screen, flows.issue())]
        }
        _ => return None,
    };
    Some(Step::effects(effects))
}

/// What leaving the screen audits: the dry run made and not applied, or the step in flight.
fn leaving(screen: &RollbackScreen) -> Vec<Effect> {
    if let Stage::Confirmed { attempt, passed } = &screen.stage {
        return vec![Effect::AbandonRollback {
            attempt: attempt.clone(),
            dry_run: passed.summary().to_string(),
            in_flight: None,
        }];
    }
    match screen.stage.in_flight() {
        Some((attempt, step)) => vec![Effect::AbandonRollback {
            attempt: Box::new(attempt.clone()),
            dry_run: match &screen.stage {
                Stage::Applying(_) | Stage::Suspending { .. } => "passed".into(),
                _ => "in flight".into(),
            },
            in_flight: Some(step.to_string()),
        }],
        None => Vec::new(),
    }
}

fn review_key(screen: &mut RollbackScreen, key: KeyPress) -> Vec<Effect> {
    let field = match screen.field {
        Field::Confirmation => &mut screen.confirmation,
        Field::Reason => &mut screen.reason,
    };
    match (key.code, key.ctrl) {
        (KeyCodeName::Tab | KeyCodeName::BackTab, _) => {
            screen.field = match screen.field {
                Field::Confirmation => Field::Reason,
                Field::Reason => Field::Confirmation,
            }
        }
        (KeyCodeName::Backspace, _) => {
            field.pop();
        }
        (KeyCodeName::Down, _) => screen.scroll = screen.scroll.saturating_add(1),
        (KeyCodeName::Up, _) => screen.scroll = screen.scroll.saturating_sub(1),
        (KeyCodeName::Enter, _) => return confirm(screen),
        // ctrl-a acknowledges a GitOps owner (a plain letter belongs to the text).
        (KeyCodeName::Char('a'), true) => screen.acknowledge_owner = !screen.acknowledge_owner,
        (KeyCodeName::Char('u'), true) => field.clear(),
        (KeyCodeName::Char(c), false) if !key.alt => field.push(c),
        _ => {}
    }
    Vec::new()
}

/// Enter on the review stage: with the confirmation and a reason, the dry run (or, when the
/// pre-flight refuses, the audited refusal).
fn confirm(screen: &mut RollbackScreen) -> Vec<Effect> {
    let confirmation = match screen.confirmed() {
        Some(Ok(confirmation)) => confirmation,
        Some(Err(_)) => {
            if screen.field == Field::Confirmation {
                screen.field = Field::Reason;
            }
            return Vec::new();
        }
        None => return Vec::new(),
    };
    let Some(prepared) = screen.prepared.clone() else {
        return Vec::new();
    };
    let attempt = Box::new(Attempt {
        flow: screen.flow,
        prepared,
        confirmation,
        acknowledge_owner: screen.acknowledge_owner,
        suspension: screen.chosen_suspension(),
    });
    screen.stage = Stage::DryRunning(attempt.clone());
    vec![Effect::DryRunRollback(attempt)]
}
