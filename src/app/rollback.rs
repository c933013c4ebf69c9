//! The emergency rollback flow in the console, as a state machine. Pure: every cluster step is
//! an `Effect` the runtime carries out (`runtime/rollback.rs`), whose result comes back as a
//! `Msg::Rollback` carrying the [`FlowId`] of the attempt that asked.
//!
//! ```text
//! Preparing ──Prepared──> Review ──typed name + reason, enter──> DryRunning ──DryRan──> Confirmed
//!     ^                     │ (refused: enter audits the refusal)          │ enter
//!     └──── r, or Conflict ─┴───────────────────────────────────── Applying <┘ ──Finished──> Done
//! ```
//!
//! Every opening of the screen, `r` and every re-plan after a conflict starts a new flow. A
//! reply is applied only to the rollback screen of its own flow (shown, or further back on the
//! breadcrumb trail) and only at the stage that waits for it; any other reply is dropped, with a
//! notice, and a passed dry run that nobody can act on any more is audited. The write itself
//! needs proofs the state machine cannot forge: a [`Confirmation`] of this plan (typed name and
//! reason, checked when made) and a [`DryRunPassed`] that only the server's dry run produces.

use super::msg::Effect;
use super::screen::Screen;
use super::state::State;
use crate::config::keys::{KeyCodeName, KeyPress};
use crate::flow::FlowId;
use crate::model::ObjectRef;
use crate::rollback::{BlastRadius, Confirmation, DryRunPassed, Plan, Preflight, RollbackKind};

/// What the runtime found out before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub plan: Plan,
    /// `Err` when the snapshot could not be analysed.
    pub blast: Result<BlastRadius, String>,
    pub preflight: Preflight,
    /// Who the audit will name.
    pub actor: String,
}

/// One confirmed attempt: what the dry-run and apply effects carry, and what a dry run's reply
/// brings back, so that a reply is matched to its flow and a dropped one can still be audited.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub flow: FlowId,
    pub prepared: Box<Prepared>,
    pub confirmation: Confirmation,
    pub acknowledge_owner: bool,
}

/// News from the runtime about one flow (`Msg::Rollback` names the flow).
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackNews {
    Prepared(Box<Prepared>),
    /// Planning failed (no such revision, the API unreachable, …): nothing to confirm.
    PrepareFailed(String),
    /// The server's dry run of the attempt: passed, or why it was rejected (audited then).
    DryRan {
        attempt: Box<Attempt>,
        result: Result<DryRunPassed, String>,
    },
    /// The attempt ended (applied and verified, refused, conflict, failed) and was audited.
    Finished {
        outcome: String,
        detail: String,
        /// Conflict: the policy changed since the plan; planning again shows the new diff.
        replan: bool,
    },
}

/// What the operator is typing on the review stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Confirmation,
    Reason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Preparing,
    Review,
    DryRunning(Box<Attempt>),
    /// The dry run passed: enter applies for real.
    Confirmed {
        attempt: Box<Attempt>,
        passed: DryRunPassed,
    },
    Applying(Box<Attempt>),
    Done {
        outcome: String,
        detail: String,
    },
    Failed(String),
}

/// Which reply a stage waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaits {
    Plan,
    DryRun,
    /// The apply's end (or a refusal, which the dry-run step also reports as an end).
    Outcome,
    Nothing,
}

impl Stage {
    fn awaits(&self) -> Awaits {
        match self {
            Stage::Preparing => Awaits::Plan,
            Stage::DryRunning(_) => Awaits::DryRun,
            Stage::Applying(_) => Awaits::Outcome,
            _ => Awaits::Nothing,
        }
    }

    /// The write step in flight, for the audit of an operator who leaves: (attempt, what).
    fn in_flight(&self) -> Option<(&Attempt, &'static str)> {
        match self {
            Stage::DryRunning(attempt) => Some((attempt, "the server-side dry run")),
            Stage::Applying(attempt) => Some((attempt, "the apply")),
            _ => None,
        }
    }
}

/// The rollback screen.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackScreen {
    /// The flow whose replies this screen accepts.
    pub flow: FlowId,
    pub policy: ObjectRef,
    pub kind: RollbackKind,
    pub stage: Stage,
    pub prepared: Option<Box<Prepared>>,
    pub confirmation: String,
    pub reason: String,
    pub field: Field,
    pub acknowledge_owner: bool,
    pub scroll: u16,
}

impl RollbackScreen {
    pub fn new(flow: FlowId, policy: ObjectRef, kind: RollbackKind) -> RollbackScreen {
        RollbackScreen {
            flow,
            policy,
            kind,
            stage: Stage::Preparing,
            prepared: None,
            confirmation: String::new(),
            reason: String::new(),
            field: Field::Confirmation,
            acknowledge_owner: false,
            scroll: 0,
        }
    }

    /// The confirmation of what is typed, or why enter may not go on to the dry run.
    fn confirmed(&self) -> Option<Result<Confirmation, String>> {
        let prepared = self.prepared.as_ref()?;
        Some(Confirmation::given(
            self.flow,
            &prepared.plan,
            &self.confirmation,
            &self.reason,
        ))
    }

    /// Whether enter on the review stage may go on to the dry run, and if not, why.
    pub fn blocker(&self) -> Option<String> {
        self.confirmed()?.err()
    }

    /// Back to the start under a new flow: nothing typed survives into another plan.
    fn restart(&mut self, flow: FlowId) -> Effect {
        *self = RollbackScreen::new(flow, self.policy.clone(), self.kind);
        prepare(self)
    }
}

/// The effect that starts (or restarts) planning.
fn prepare(screen: &RollbackScreen) -> Effect {
    Effect::PrepareRollback {
        flow: screen.flow,
        policy: screen.policy.clone(),
        kind: screen.kind,
    }
}

/// Opens the flow for a policy from the history screen: revert to the selected revision, restore
/// a deleted policy, remove (`x`) or undo (`u`) the last rollback.
pub fn open(state: &mut State, policy: ObjectRef, kind: RollbackKind) -> Vec<Effect> {
    let screen = RollbackScreen::new(state.flows.issue(), policy, kind);
    let effect = prepare(&screen);
    super::input::show(state, Screen::Rollback(Box::new(screen)));
    vec![effect]
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
            let next = state.flows.issue();
            let effect = screen_of(state, flow).map(|screen| screen.restart(next));
            state.notice = Some(format!("{outcome}: {detail} — review the new diff"));
            return effect.into_iter().collect();
        }
        (
            Awaits::DryRun | Awaits::Outcome,
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

/// Keys on the rollback screen. Typing goes to the focused field on the review stage; esc
/// leaves at any stage (a dry run already made, or a step in flight, is audited). `None`: the
/// key is not the flow's, and the keymap handles it (`:` commands, help, quit).
pub fn key(state: &mut State, key: KeyPress) -> Option<Vec<Effect>> {
    let Screen::Rollback(screen) = &mut state.screen else {
        return None;
    };
    let plain = |code: KeyCodeName| key == KeyPress::plain(code);
    if plain(KeyCodeName::Esc) {
        let effects = leaving(screen);
        if let Some(previous) = state.back.pop() {
            state.screen = previous;
        }
        return Some(effects);
    }
    Some(match screen.stage.clone() {
        Stage::Review => review_key(screen, key),
        Stage::Confirmed { attempt, passed } if plain(KeyCodeName::Enter) => {
            screen.stage = Stage::Applying(attempt.clone());
            vec![Effect::ApplyRollback { attempt, passed }]
        }
        Stage::Failed(_) | Stage::Done { .. } if key == KeyPress::plain(KeyCodeName::Char('r')) => {
            vec![screen.restart(state.flows.issue())]
        }
        _ => return None,
    })
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
                Stage::Applying(_) => "passed".into(),
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
    });
    screen.stage = Stage::DryRunning(attempt.clone());
    vec![Effect::DryRunRollback(attempt)]
}
