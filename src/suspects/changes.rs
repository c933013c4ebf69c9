//! A policy's journal revisions as changes: revision N replacing revision N-1. A policy's first
//! revision is no change: the journal cannot tell a creation from a policy first seen when it
//! was seeded, and there is no revision before it to go back to.

use k8s_openapi::jiff::Timestamp;

use crate::history::{Operation, PolicyKey, PolicyObject, Revision};
use crate::rollback::RollbackKind;

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyChange {
    pub policy: PolicyKey,
    /// The revision it replaced (the one a rollback goes back to).
    pub from_revision: u32,
    pub to_revision: u32,
    pub at: Timestamp,
    /// The newest managedFields manager (`kubectl-patch`), when the object named one.
    pub manager: Option<String>,
    pub operation: Operation,
    /// The policy before and after (`None`: absent, deleted).
    pub before: Option<PolicyObject>,
    pub after: Option<PolicyObject>,
}

impl PolicyChange {
    /// The rollback that undoes exactly this change: back to the revision before it.
    pub fn rollback_kind(&self) -> RollbackKind {
        match (&self.before, &self.after) {
            (Some(_), Some(_)) => RollbackKind::Revert {
                to: self.from_revision,
            },
            (Some(_), None) => RollbackKind::Restore {
                revision: Some(self.from_revision),
            },
            (None, _) => RollbackKind::Remove,
        }
    }

    /// The key of its cached radius.
    pub fn id(&self) -> (PolicyKey, u32) {
        (self.policy.clone(), self.to_revision)
    }
}

fn object(revision: &Revision) -> Option<PolicyObject> {
    (!revision.deleted).then(|| revision.to_object())
}

/// The changes among one policy's revisions (oldest first) seen at or after `since`. A revision
/// with an unreadable time is left out.
pub fn changes_in(revisions: &[Revision], since: Timestamp) -> Vec<PolicyChange> {
    revisions
        .windows(2)
        .filter_map(|pair| {
            let (previous, revision) = (&pair[0], &pair[1]);
            let at: Timestamp = revision.observed_at.parse().ok()?;
            (at >= since).then(|| PolicyChange {
                policy: revision.key(),
                from_revision: previous.number,
                to_revision: revision.number,
                at,
                manager: revision.manager.clone(),
                operation: revision.operation,
                before: object(previous),
                after: object(revision),
            })
        })
        .collect()
}

/// Every change the journal saw at or after `since`, oldest first.
pub fn from_journal(
    journal: &crate::history::Journal,
    since: Timestamp,
) -> crate::history::Result<Vec<PolicyChange>> {
    let mut out = Vec::new();
    for policy in journal.changed_since(&crate::history::stamp(since))? {
        out.extend(changes_in(&journal.revisions_of(&policy)?, since));
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.policy.cmp(&b.policy)));
    Ok(out)
}

/// The newest of the journal's changes at or after `since`, oldest first, at most `at_most` of
/// them; and how many older ones were left out.
pub fn recent_from_journal(
    journal: &crate::history::Journal,
    since: Timestamp,
    at_most: usize,
) -> crate::history::Result<(Vec<PolicyChange>, usize)> {
    let (pairs, total) = journal.recent_replacements(&crate::history::stamp(since), at_most)?;
    let mut out: Vec<PolicyChange> = pairs
        .into_iter()
        .flat_map(|(previous, revision)| changes_in(&[previous, revision], since))
        .collect();
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.policy.cmp(&b.policy)));
    Ok((out, total.saturating_sub(at_most)))
}
