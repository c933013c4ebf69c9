//! The rollback screen's data and the news its flow receives (the transitions are in
//! `rollback_flow.rs`). Pure data: nothing here knows `State`, `Msg` or `Effect`.
//!
//! Every cluster step is an `Effect` the runtime carries out (`runtime/rollback.rs`), whose result
//! comes back as a `Msg::Rollback` carrying the [`FlowId`] of the attempt that asked.
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

use crate::flow::FlowId;
use crate::history::PolicyKey;
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
pub(super) enum Awaits {
    Plan,
    DryRun,
    /// The apply's end (or a refusal, which the dry-run step also reports as an end).
    Outcome,
    Nothing,
}

impl Stage {
    pub(super) fn awaits(&self) -> Awaits {
        match self {
            Stage::Preparing => Awaits::Plan,
            Stage::DryRunning(_) => Awaits::DryRun,
            Stage::Applying(_) => Awaits::Outcome,
            _ => Awaits::Nothing,
        }
    }

    /// The write step in flight, for the audit of an operator who leaves: (attempt, what).
    pub(super) fn in_flight(&self) -> Option<(&Attempt, &'static str)> {
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
    /// A NetworkPolicy or a cluster-scoped tier policy.
    pub policy: PolicyKey,
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
    pub fn new(flow: FlowId, policy: PolicyKey, kind: RollbackKind) -> RollbackScreen {
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
    pub(super) fn confirmed(&self) -> Option<Result<Confirmation, String>> {
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
}
