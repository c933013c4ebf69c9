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
use crate::rollback::suspend::Suspension;
use crate::rollback::{
    Access, BlastRadius, Confirmation, DryRunPassed, Plan, Preflight, RollbackKind,
};

/// What the runtime found out before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub plan: Plan,
    /// `Err` when the snapshot could not be analysed.
    pub blast: Result<BlastRadius, String>,
    pub preflight: Preflight,
    /// Who the audit will name.
    pub actor: String,
    /// The policy's GitOps owner, when it has one: its suspension as it could be offered.
    pub suspension: Option<OwnerSuspension>,
}

/// Suspending the policy's GitOps owner before the rollback, as prepared.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnerSuspension {
    /// It reconciles: what suspending it writes, and whether the operator may (`patch`).
    Offered {
        suspension: Suspension,
        access: Access,
    },
    /// Nothing to offer: it does not reconcile, or it cannot be read.
    Unavailable(String),
}

impl OwnerSuspension {
    pub fn offered(&self) -> Option<&Suspension> {
        match self {
            OwnerSuspension::Offered { suspension, .. } => Some(suspension),
            OwnerSuspension::Unavailable(_) => None,
        }
    }
}

/// The suspension an attempt writes first, and what its steps learnt of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspendStep {
    pub suspension: Suspension,
    pub access: Access,
    /// The server's dry run of the suspension (set by the dry-run step).
    pub dry_run: Option<String>,
    /// Set once the suspension is written: the audit uids that link the two records, and what
    /// the screen says of it.
    pub written: Option<SuspensionWritten>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SuspensionWritten {
    pub rollback_uid: Option<String>,
    pub suspension_uid: Option<String>,
    pub note: String,
}

/// One confirmed attempt: what the dry-run and apply effects carry, and what a dry run's reply
/// brings back, so that a reply is matched to its flow and a dropped one can still be audited.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub flow: FlowId,
    pub prepared: Box<Prepared>,
    pub confirmation: Confirmation,
    pub acknowledge_owner: bool,
    /// The operator asked to suspend the GitOps owner first.
    pub suspension: Option<SuspendStep>,
}

impl Attempt {
    /// Whether the GitOps owner is taken care of: acknowledged, or suspended first.
    pub fn owner_handled(&self) -> bool {
        self.acknowledge_owner || self.suspension.is_some()
    }
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
    /// The GitOps owner is suspended (audited): the rollback's apply comes next.
    Suspended {
        attempt: Box<Attempt>,
        passed: DryRunPassed,
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
    /// Suspending the GitOps owner, before the apply (which needs the dry run passed).
    Suspending {
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
    /// The suspension's end: written (the apply comes next), or failed (the attempt ends).
    Suspension,
    /// The apply's end (or a refusal, which the dry-run step also reports as an end).
    Outcome,
    Nothing,
}

impl Stage {
    pub(super) fn awaits(&self) -> Awaits {
        match self {
            Stage::Preparing => Awaits::Plan,
            Stage::DryRunning(_) => Awaits::DryRun,
            Stage::Suspending { .. } => Awaits::Suspension,
            Stage::Applying(_) => Awaits::Outcome,
            _ => Awaits::Nothing,
        }
    }

    /// The write step in flight, for the audit of an operator who leaves: (attempt, what).
    pub(super) fn in_flight(&self) -> Option<(&Attempt, &'static str)> {
        match self {
            Stage::DryRunning(attempt) => Some((attempt, "the server-side dry run")),
            Stage::Suspending { attempt, .. } => Some((attempt, "the GitOps suspension")),
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
    /// Suspend the GitOps owner before the rollback (only when one is offered).
    pub suspend_owner: bool,
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
            suspend_owner: false,
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

    /// The suspension offered for this plan's GitOps owner, if any.
    pub fn offered_suspension(&self) -> Option<&Suspension> {
        self.prepared.as_ref()?.suspension.as_ref()?.offered()
    }

    /// The suspension the operator chose to write first, with its access review.
    pub(super) fn chosen_suspension(&self) -> Option<SuspendStep> {
        if !self.suspend_owner {
            return None;
        }
        match self.prepared.as_ref()?.suspension.as_ref()? {
            OwnerSuspension::Offered { suspension, access } => Some(SuspendStep {
                suspension: suspension.clone(),
                access: access.clone(),
                dry_run: None,
                written: None,
            }),
            OwnerSuspension::Unavailable(_) => None,
        }
    }

    /// What the typed confirmation stands for: the rollback, and the suspension first when the
    /// operator chose it.
    pub fn confirmation_prompt(&self) -> String {
        match self.offered_suspension().filter(|_| self.suspend_owner) {
            Some(s) => format!(
                "type {} to confirm BOTH writes, 1. {} 2. roll back {}:",
                self.policy, s.summary, self.policy
            ),
            None => format!("type {} to confirm:", self.policy),
        }
    }

    /// Whether enter on the review stage may go on to the dry run, and if not, why.
    pub fn blocker(&self) -> Option<String> {
        self.confirmed()?.err()
    }
}
