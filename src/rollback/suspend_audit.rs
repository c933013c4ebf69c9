//! The GitOps suspension's part of a rollback (`palisade rollback --suspend-gitops`, and the
//! console's toggle): its audit record (linked to the rollback's both ways), its pre-flight and
//! the warning without it.

use crate::rollback::audit::new_uid;
use crate::rollback::preflight::Access;
use crate::rollback::suspend::{self, Suspension};
use crate::rollback::{AuditRecord, GitOpsOwner, GitOpsTool, Preflight};

/// The suspension's audit record, from the rollback's: kind `suspend`, the same policy, actor
/// and reason, the owner named; each record's `linked_to` is the other's uid.
pub fn record_for(rollback: &mut AuditRecord, suspension: &Suspension) -> AuditRecord {
    let mut record = rollback.clone();
    record.kind = suspend::AUDIT_KIND.to_string();
    record.uid = Some(new_uid());
    record.linked_to = rollback.uid.clone();
    record.acknowledged_owner = Some(suspend::resolved(&suspension.owner).describe());
    record.from_revision = None;
    record.to_revision = None;
    record.from_resource_version = None;
    record.to_resource_version = None;
    rollback.linked_to = record.uid.clone();
    record
}

/// "kustomizations.kustomize.toolkit.fluxcd.io in flux-system: allowed (…)".
pub fn access_text(access: &Access) -> String {
    format!(
        "{} ({})",
        if access.allowed { "allowed" } else { "DENIED" },
        access.reason
    )
}

/// Why the suspension may not be written: read-only, or the access review said no.
pub fn refusal(checks: &Preflight, access: &Access) -> Option<String> {
    if let Some(why) = &checks.read_only {
        return Some(format!("read-only: {why}"));
    }
    (!access.allowed).then(|| {
        format!(
            "not allowed to suspend the GitOps owner (patch): {}",
            access.reason
        )
    })
}

/// Said when a GitOps-owned policy is rolled back without suspending its owner.
pub fn revert_warning(owner: &GitOpsOwner) -> String {
    let namespace = suspend::namespace(owner);
    let by_hand = match owner.tool {
        GitOpsTool::Flux => format!("flux suspend kustomization {} -n {namespace}", owner.name),
        GitOpsTool::ArgoCd => format!(
            "kubectl patch applications.argoproj.io {} -n {namespace} --type merge -p '{{\"spec\":{{\"syncPolicy\":{{\"automated\":null}}}}}}'",
            owner.name
        ),
    };
    format!(
        "warning: {} will revert this rollback at its next reconciliation; suspend it first with \
         --suspend-gitops (or by hand: {by_hand})",
        owner.describe()
    )
}
