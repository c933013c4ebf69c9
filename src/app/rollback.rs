//! The emergency rollback flow in the console, as a state machine. Pure: every cluster step is
//! an `Effect` the runtime carries out (`runtime/rollback.rs`), whose result comes back as a
//! `Msg::Rollback`.
//!
//! ```text
//! Preparing ──Prepared──> Review ──typed name + reason, enter──> DryRunning ──DryRan──> Confirmed
//!     ^                     │ (refused: enter audits the refusal)          │ enter
//!     └──── r, or Conflict ─┴───────────────────────────────────── Applying <┘ ──Finished──> Done
//! ```

use super::msg::Effect;
use super::screen::Screen;
use super::state::State;
use crate::config::keys::{KeyCodeName, KeyPress};
use crate::model::ObjectRef;
use crate::rollback::{BlastRadius, Plan, Preflight, RollbackKind, confirmation_matches};

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

/// News from the runtime about the flow on screen.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackNews {
    Prepared(Box<Prepared>),
    /// Planning failed (no such revision, the API unreachable, …): nothing to confirm.
    PrepareFailed(String),
    /// The server's dry run: `Ok(summary)` or why it was rejected (audited then).
    DryRan(Result<String, String>),
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Preparing,
    Review,
    DryRunning,
    /// The dry run passed: enter applies for real.
    Confirmed {
        dry_run: String,
    },
    Applying,
    Done {
        outcome: String,
        detail: String,
    },
    Failed(String),
}

/// The rollback screen.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackScreen {
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
    pub fn new(policy: ObjectRef, kind: RollbackKind) -> RollbackScreen {
        RollbackScreen {
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

    /// Whether enter on the review stage may go on to the dry run, and if not, why.
    pub fn blocker(&self) -> Option<String> {
        let prepared = self.prepared.as_ref()?;
        if !confirmation_matches(&prepared.plan, &self.confirmation) {
            return Some(format!("type {} to confirm", self.policy));
        }
        if self.reason.trim().is_empty() {
            return Some("give a reason (free text or a ticket id)".into());
        }
        None
    }
}

/// The effect that starts (or restarts) planning.
fn prepare(screen: &RollbackScreen) -> Effect {
    Effect::PrepareRollback {
        policy: screen.policy.clone(),
        kind: screen.kind,
    }
}

/// Opens the flow for a policy from the history screen: revert to the selected revision, restore
/// a deleted policy, remove (`x`) or undo (`u`) the last rollback.
pub fn open(state: &mut State, policy: ObjectRef, kind: RollbackKind) -> Vec<Effect> {
    let screen = RollbackScreen::new(policy, kind);
    let effect = prepare(&screen);
    super::input::show(state, Screen::Rollback(Box::new(screen)));
    vec![effect]
}

pub fn news(state: &mut State, news: RollbackNews) -> Vec<Effect> {
    let Screen::Rollback(screen) = &mut state.screen else {
        return Vec::new(); // the operator left the flow; the audit has it already
    };
    match news {
        RollbackNews::Prepared(prepared) => {
            screen.prepared = Some(prepared);
            screen.stage = Stage::Review;
        }
        RollbackNews::PrepareFailed(why) => screen.stage = Stage::Failed(why),
        RollbackNews::DryRan(Ok(summary)) => screen.stage = Stage::Confirmed { dry_run: summary },
        RollbackNews::DryRan(Err(why)) => {
            screen.stage = Stage::Done {
                outcome: "dry run rejected".into(),
                detail: why,
            }
        }
        RollbackNews::Finished {
            outcome,
            detail,
            replan,
        } => {
            if replan {
                // Nothing was written: show the live state's plan and diff, from step 2.
                screen.stage = Stage::Preparing;
                screen.prepared = None;
                state.notice = Some(format!("{outcome}: {detail} — review the new diff"));
                return vec![prepare(screen)];
            }
            screen.stage = Stage::Done { outcome, detail };
        }
    }
    Vec::new()
}

/// Keys on the rollback screen. Typing goes to the focused field on the review stage; esc
/// leaves at any stage (a dry run already made is audited as such by the runtime). `None`: the
/// key is not the flow's, and the keymap handles it (`:` commands, help, quit).
pub fn key(state: &mut State, key: KeyPress) -> Option<Vec<Effect>> {
    let Screen::Rollback(screen) = &mut state.screen else {
        return None;
    };
    let plain = |code: KeyCodeName| key == KeyPress::plain(code);
    if plain(KeyCodeName::Esc) {
        let effects = match (&screen.stage, &screen.prepared) {
            (Stage::Confirmed { dry_run }, Some(prepared)) => vec![Effect::AbandonRollback {
                prepared: prepared.clone(),
                reason: screen.reason.trim().to_string(),
                dry_run: dry_run.clone(),
            }],
            _ => Vec::new(),
        };
        if let Some(previous) = state.back.pop() {
            state.screen = previous;
        }
        return Some(effects);
    }
    Some(match screen.stage.clone() {
        Stage::Review => review_key(screen, key),
        Stage::Confirmed { dry_run } if plain(KeyCodeName::Enter) => {
            screen.stage = Stage::Applying;
            match &screen.prepared {
                Some(prepared) => vec![Effect::ApplyRollback {
                    prepared: prepared.clone(),
                    reason: screen.reason.trim().to_string(),
                    acknowledge_owner: screen.acknowledge_owner,
                    dry_run,
                }],
                None => Vec::new(),
            }
        }
        Stage::Failed(_) | Stage::Done { .. } if key == KeyPress::plain(KeyCodeName::Char('r')) => {
            **screen = RollbackScreen::new(screen.policy.clone(), screen.kind);
            vec![prepare(screen)]
        }
        _ => return None,
    })
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
    if screen.blocker().is_some() {
        if screen.field == Field::Confirmation {
            screen.field = Field::Reason;
        }
        return Vec::new();
    }
    let Some(prepared) = screen.prepared.clone() else {
        return Vec::new();
    };
    screen.stage = Stage::DryRunning;
    vec![Effect::DryRunRollback {
        prepared,
        reason: screen.reason.trim().to_string(),
        acknowledge_owner: screen.acknowledge_owner,
    }]
}
