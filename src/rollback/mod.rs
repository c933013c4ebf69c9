//! Emergency rollback of one NetworkPolicy: plan, diff, blast radius, pre-flight, guarded apply,
//! verification and audit (see `docs/runbooks/emergency-rollback.md`).
//!
//! Pure parts: [`plan()`] (`plan.rs`), [`Diff`] (`diff.rs`), [`blast_radius`] (`blast.rs`),
//! [`GitOpsOwner::of`] (`owner.rs`). IO: [`preflight()`] and [`who_am_i`] (`preflight.rs`),
//! [`dry_run`], [`apply`] and [`verify`] (`apply.rs`), and the audit trail (`audit.rs`). The
//! console's flow and the headless `palisade rollback` (`commands/rollback.rs`) both use them.
//!
//! The console's flow, in order:
//!
//! ```text
//! journal.revisions(ns, name)?  +  audit::last_rollback(&journal, &id)?  +  the live object
//! plan(kind, &id, &revisions, live.as_ref(), last.as_ref())?     -> Plan (with its Diff)
//! blast_radius(&snapshot, &rules, &plan)                          (spawn_blocking)
//! preflight(&client, &plan, read_only_reason(flag, ctx, &contexts)).await -> Preflight
//! Confirmation::given(flow, &plan, typed, reason)?              -> Confirmation
//! dry_run(&client, &plan).await?                                  -> DryRun { passed, .. }
//! preflight.clear(acknowledged, &confirmation, &passed)?         -> Clearance
//! apply(&client, &plan, &clearance).await?                        -> Applied | ApplyError
//! verify(&client, &plan, &applied, deadline).await
//! audit::append(&mut journal, &mut record, written)?              (every attempt, any outcome)
//! ```

pub mod apply;
pub mod audit;
pub mod blast;
pub mod consent;
pub mod diff;
pub mod event;
pub mod last_applied;
pub mod owner;
pub mod plan;
pub mod preflight;
pub mod reminders;
pub mod suspend;
pub mod suspend_audit;

#[cfg(test)]
mod blast_tests;
#[cfg(test)]
mod native_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tier_tests;

pub use apply::{Applied, ApplyError, DryRun, Verified, VerifyError, apply, dry_run, verify};
pub use audit::{AuditRecord, Outcome, Written, audit_path};
pub use blast::{BlastRadius, PairChange, blast_radius};
pub use consent::{Confirmation, DryRunPassed, PlanKey};
pub use diff::{Diff, DiffLine, LineKind};
pub use owner::{GitOpsOwner, GitOpsTool};
pub use plan::{Plan, PlanError, RollbackKind, confirmation_matches, plan};
pub use preflight::{
    Access, Clearance, Preflight, access_review, preflight, read_only_reason, who_am_i,
};
