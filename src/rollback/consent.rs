//! The proofs the write path demands, so that no write happens unless *this* plan was confirmed
//! by the operator and dry-run by the server (defence in depth behind the console's state
//! machine):
//!
//! * [`Confirmation`]: the operator typed the plan's `namespace/name` (a tier policy's
//!   `cnp/NAME`, `anp/NAME`, `banp/NAME`) and gave a reason, in one flow. Only [`Confirmation::given`] makes one, and it checks both.
//! * [`DryRunPassed`]: the API server accepted a dry run of the plan. Only
//!   [`super::dry_run`] makes one.
//! * [`super::Clearance`]: the pre-flight passed for the plan, given a confirmation and a passed
//!   dry run of that same plan. Only [`super::Preflight::clear`] makes one, and
//!   [`super::apply`] refuses without it.
//!
//! Each proof names the plan by its [`PlanKey`], so a proof for one plan (an earlier flow, another
//! policy, another kind of rollback) is worthless for any other.

use super::plan::{Plan, RollbackKind, Verb, confirmation_matches};
use crate::flow::FlowId;
use crate::history::PolicyKey;

/// What a plan writes: the target, the kind and verb, the live resourceVersion it is conditioned
/// on, and the object. Two plans with equal keys write the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanKey {
    target: PolicyKey,
    kind: RollbackKind,
    verb: Verb,
    live_resource_version: Option<String>,
    /// The object to write, as JSON (none for a delete).
    desired: Option<String>,
}

impl PlanKey {
    pub fn of(plan: &Plan) -> PlanKey {
        PlanKey {
            target: plan.target.clone(),
            kind: plan.kind,
            verb: plan.verb(),
            live_resource_version: plan.live_resource_version().map(str::to_string),
            desired: plan.desired.as_ref().map(|d| d.to_json()),
        }
    }

    pub fn target(&self) -> &PolicyKey {
        &self.target
    }
}

/// Proof that the operator confirmed one plan in one flow: typed its `namespace/name` and gave a
/// non-empty reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    flow: FlowId,
    plan: PlanKey,
    reason: String,
}

impl Confirmation {
    /// The confirmation, if `typed` names the plan's target and `reason` says something.
    pub fn given(
        flow: FlowId,
        plan: &Plan,
        typed: &str,
        reason: &str,
    ) -> Result<Confirmation, String> {
        if !confirmation_matches(plan, typed) {
            return Err(format!("type {} to confirm", plan.target));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err("give a reason (free text or a ticket id)".into());
        }
        Ok(Confirmation {
            flow,
            plan: PlanKey::of(plan),
            reason: reason.to_string(),
        })
    }

    pub fn flow(&self) -> FlowId {
        self.flow
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub fn plan(&self) -> &PlanKey {
        &self.plan
    }

    /// Whether this confirmation was given for `plan` (the same write).
    pub fn covers(&self, plan: &Plan) -> bool {
        self.plan == PlanKey::of(plan)
    }
}

/// Proof that the API server accepted a dry run of one plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunPassed {
    plan: PlanKey,
    /// What the server answered, for the operator and the audit.
    summary: String,
}

impl DryRunPassed {
    /// Only the dry run itself vouches for a passed dry run.
    pub(super) fn new(plan: &Plan, summary: String) -> DryRunPassed {
        DryRunPassed {
            plan: PlanKey::of(plan),
            summary,
        }
    }

    pub fn summary(&self) -> &str {
        &self.summary
    }

    pub fn plan(&self) -> &PlanKey {
        &self.plan
    }

    /// A passed dry run for tests of code that holds one (the state machine); it vouches for
    /// nothing the server said.
    #[cfg(test)]
    pub fn for_tests(plan: &Plan, summary: &str) -> DryRunPassed {
        DryRunPassed::new(plan, summary.to_string())
    }
}
