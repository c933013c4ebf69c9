//! What a rollback will do, decided from the journal, the live object and the audit (pure).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::audit::AuditRecord;
use super::diff::Diff;
use super::owner::GitOpsOwner;
use crate::history::content::Content;
use crate::history::{PolicyKey, PolicyObject, Revision};

/// The four rollbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum RollbackKind {
    /// Put an earlier revision's spec (labels, annotations) back on the live policy.
    Revert { to: u32 },
    /// Re-create a deleted policy: its last spec, or the given revision's.
    Restore { revision: Option<u32> },
    /// Delete the live policy (typically a new deny that broke traffic).
    Remove,
    /// Reverse the last successful rollback of this policy.
    Undo,
}

impl RollbackKind {
    pub fn name(self) -> &'static str {
        match self {
            RollbackKind::Revert { .. } => "revert",
            RollbackKind::Restore { .. } => "restore",
            RollbackKind::Remove => "remove",
            RollbackKind::Undo => "undo",
        }
    }
}

/// A rollback ready for pre-flight: the object (a NetworkPolicy or a cluster-scoped tier
/// policy), its live state and what it should become.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: RollbackKind,
    pub target: PolicyKey,
    /// The object on the cluster when planned (`None`: absent).
    pub live: Option<PolicyObject>,
    /// The journal's revision of the live object (matched by resourceVersion, else by content).
    pub live_revision: Option<u32>,
    /// What to write: a replace (live present) or a create (absent); `None` = delete. A replace
    /// carries the live resourceVersion as its precondition.
    pub desired: Option<PolicyObject>,
    /// The journal revision whose content is restored (none for a delete).
    pub to_revision: Option<u32>,
    pub diff: Diff,
    /// The GitOps controller that owns the policy (live object, else the restored revision).
    pub owner: Option<GitOpsOwner>,
    /// Remove: the revision this incarnation of the policy started at (1, or right after a
    /// tombstone) when it was observed being created; `None` when the journal only ever saw it
    /// already existing (seeded) or has no history of it.
    pub created_revision: Option<u32>,
    /// Things the operator should read before confirming.
    pub notes: Vec<String>,
}

/// The API verb the plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Update,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Delete => "delete",
        }
    }
}

impl Plan {
    pub fn verb(&self) -> Verb {
        match (&self.live, &self.desired) {
            (_, None) => Verb::Delete,
            (Some(_), Some(_)) => Verb::Update,
            (None, Some(_)) => Verb::Create,
        }
    }

    /// The live resourceVersion (the apply's precondition).
    pub fn live_resource_version(&self) -> Option<&str> {
        self.live
            .as_ref()
            .and_then(|l| l.meta().resource_version.as_deref())
    }

    /// One line: "revert acme-web/default-deny: update to revision 3 (live is revision 5)"; a
    /// tier policy is named with its kind ("revert ClusterNetworkPolicy cnp/x: …").
    pub fn summary(&self) -> String {
        let live = match (self.live.is_some(), self.live_revision) {
            (false, _) => "absent on the cluster".to_string(),
            (true, Some(n)) => format!("live is revision {n}"),
            (true, None) => "live version not in the journal".to_string(),
        };
        let what = match (self.verb(), self.to_revision) {
            (Verb::Delete, _) => "delete the policy".to_string(),
            (Verb::Update, Some(super::last_applied::NUMBER)) => format!(
                "replace with revision {} ({})",
                super::last_applied::NUMBER,
                super::last_applied::LABEL
            ),
            (Verb::Update, Some(n)) => format!("replace with revision {n}"),
            (Verb::Create, Some(n)) => format!("re-create from revision {n}"),
            (verb, None) => verb.as_str().to_string(),
        };
        let target = match &self.target {
            PolicyKey::Network(id) => id.to_string(),
            tier => tier.describe(),
        };
        format!("{} {target}: {what} ({live})", self.kind.name())
    }
}

/// The typed confirmation: exactly `namespace/name` (a tier policy: `cnp/NAME`, `anp/NAME`,
/// `banp/NAME`), surrounding spaces ignored.
pub fn confirmation_matches(plan: &Plan, typed: &str) -> bool {
    typed.trim() == plan.target.to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the journal has no revisions of {0}: nothing to roll back to (is `palisade record` running?)"
    )]
    NoHistory(PolicyKey),
    #[error("{target} has no revision {number}; the journal has revisions 1 to {newest}")]
    NoSuchRevision {
        target: PolicyKey,
        number: u32,
        newest: u32,
    },
    #[error("revision {number} of {target} is a deletion (tombstone); pick the revision before it")]
    Tombstone { target: PolicyKey, number: u32 },
    #[error(
        "{0} does not exist on the cluster: nothing to revert or remove (restore it with --restore)"
    )]
    NotLive(PolicyKey),
    #[error(
        "{0} exists on the cluster, so restore makes no sense; revert it to a revision with --to REV"
    )]
    Live(PolicyKey),
    #[error("{target} already has the content of revision {number}: nothing to change")]
    Unchanged { target: PolicyKey, number: u32 },
    #[error("{target} offers no last-applied revision: {why}")]
    NoLastApplied { target: PolicyKey, why: String },
    #[error("no successful rollback of {0} in the audit: nothing to undo")]
    NothingToUndo(PolicyKey),
    #[error(
        "{target} changed after rollback #{audit_id} (live {live}, the rollback left {left}); undo would overwrite that change, revert explicitly with --to REV"
    )]
    ChangedSinceRollback {
        target: PolicyKey,
        audit_id: i64,
        live: String,
        left: String,
    },
    #[error("the state before rollback #{audit_id} (revision {revision}) is not in the journal")]
    UndoSourceMissing { audit_id: i64, revision: String },
}

/// Plans `kind` for a policy from its revisions (oldest first), the live object and, for undo,
/// the last successful rollback of the policy in the audit.
pub fn plan(
    kind: RollbackKind,
    target: &PolicyKey,
    revisions: &[Revision],
    live: Option<&PolicyObject>,
    last_rollback: Option<&AuditRecord>,
) -> Result<Plan, PlanError> {
    let newest = revisions.last().map_or(0, |r| r.number);
    let find = |number: u32| {
        revisions
            .iter()
            .find(|r| r.number == number)
            .ok_or_else(|| PlanError::NoSuchRevision {
                target: target.clone(),
                number,
                newest,
            })
    };
    let live_revision = live.and_then(|l| live_revision(revisions, l));
    let mut notes = Vec::new();
    let (desired, source): (Option<PolicyObject>, Option<&Revision>) = match kind {
        RollbackKind::Revert { to } => {
            let live = live.ok_or_else(|| PlanError::NotLive(target.clone()))?;
            if revisions.is_empty() {
                return Err(PlanError::NoHistory(target.clone()));
            }
            let revision = alive(find(to)?, target)?;
            if Content::of_object(live) == Content::of_revision(revision) {
                return Err(PlanError::Unchanged {
                    target: target.clone(),
                    number: to,
                });
            }
            (Some(replacement(live, revision)), Some(revision))
        }
        RollbackKind::Restore { revision } => {
            if live.is_some() {
                return Err(PlanError::Live(target.clone()));
            }
            let chosen = match revision {
                Some(number) => alive(find(number)?, target)?,
                None => revisions
                    .iter()
                    .rev()
                    .find(|r| !r.deleted)
                    .ok_or_else(|| PlanError::NoHistory(target.clone()))?,
            };
            if revisions.last().is_some_and(|r| !r.deleted) {
                notes.push(
                    "the journal has not recorded the deletion yet (its newest revision is alive)"
                        .to_string(),
                );
            }
            (Some(chosen.to_object()), Some(chosen))
        }
        RollbackKind::Remove => {
            if live.is_none() {
                return Err(PlanError::NotLive(target.clone()));
            }
            (None, None)
        }
        RollbackKind::Undo => {
            let record = last_rollback.ok_or_else(|| PlanError::NothingToUndo(target.clone()))?;
            let audit_id = record.id.unwrap_or_default();
            let live_rv = live.and_then(|l| l.meta().resource_version.clone());
            if live_rv != record.to_resource_version {
                let show = |rv: &Option<String>| match rv {
                    Some(rv) => format!("resourceVersion {rv}"),
                    None => "absent".to_string(),
                };
                return Err(PlanError::ChangedSinceRollback {
                    target: target.clone(),
                    audit_id,
                    live: show(&live_rv),
                    left: show(&record.to_resource_version),
                });
            }
            notes.push(format!(
                "undoes rollback #{audit_id} ({} at {} by {}: {})",
                record.kind, record.at, record.actor, record.reason
            ));
            match (&record.from_resource_version, record.from_revision) {
                (None, _) => (None, None),
                (Some(rv), number) => {
                    let before = revisions
                        .iter()
                        .find(|r| !r.deleted && r.resource_version.as_deref() == Some(rv))
                        .or_else(|| number.and_then(|n| revisions.iter().find(|r| r.number == n)))
                        .filter(|r| !r.deleted)
                        .ok_or_else(|| PlanError::UndoSourceMissing {
                            audit_id,
                            revision: number
                                .map_or_else(|| format!("rv {rv}"), |n| format!("#{n}")),
                        })?;
                    let desired = match live {
                        Some(live) => replacement(live, before),
                        None => before.to_object(),
                    };
                    (Some(desired), Some(before))
                }
            }
        }
    };
    if desired.is_some() && live.is_none() && live_revision.is_none() {
        notes.push("create fails if someone re-created the policy meanwhile".to_string());
    }
    let created_revision = match kind {
        RollbackKind::Remove => live.and_then(|l| creation(revisions, l, &mut notes)),
        _ => None,
    };
    if live.is_some() && live_revision.is_none() {
        notes.push("the live version is not in the journal yet".to_string());
    }
    let owner = live
        .and_then(GitOpsOwner::of_object)
        .or_else(|| desired.as_ref().and_then(GitOpsOwner::of_object));
    if let Some(owner) = &owner {
        notes.push(format!(
            "owned by {} ({}): it will reconcile the policy back unless suspended",
            owner.describe(),
            owner.evidence
        ));
    }
    Ok(Plan {
        kind,
        target: target.clone(),
        live: live.cloned(),
        live_revision,
        diff: Diff::of_objects(live, desired.as_ref()),
        desired,
        to_revision: source.map(|r| r.number),
        owner,
        created_revision,
        notes,
    })
}

fn alive<'a>(revision: &'a Revision, target: &PolicyKey) -> Result<&'a Revision, PlanError> {
    if revision.deleted {
        return Err(PlanError::Tombstone {
            target: target.clone(),
            number: revision.number,
        });
    }
    Ok(revision)
}

/// The journal revision of the live object: same resourceVersion, else the newest alive
/// revision when its content is the same.
fn live_revision(revisions: &[Revision], live: &PolicyObject) -> Option<u32> {
    let rv = live.meta().resource_version.as_deref();
    if let Some(found) = revisions
        .iter()
        .rev()
        .find(|r| !r.deleted && rv.is_some() && r.resource_version.as_deref() == rv)
    {
        return Some(found.number);
    }
    revisions
        .last()
        .filter(|r| !r.deleted && Content::of_revision(r) == Content::of_object(live))
        .map(|r| r.number)
}

/// The live object with the revision's spec, labels and annotations; keeps the live
/// resourceVersion (the precondition) and identity.
fn replacement(live: &PolicyObject, revision: &Revision) -> PolicyObject {
    let mut restored = revision.to_object();
    let (live, meta) = (live.meta(), restored.meta_mut());
    *meta = ObjectMeta {
        name: live.name.clone(),
        namespace: live.namespace.clone(),
        resource_version: live.resource_version.clone(),
        uid: live.uid.clone(),
        labels: meta.labels.take(),
        annotations: meta.annotations.take(),
        ..ObjectMeta::default()
    };
    restored
}

/// How long after the policy's creationTimestamp its first revision may have been observed for
/// the journal to count as having seen it being created.
const CREATION_WINDOW_SECS: i64 = 300;

/// Remove: the revision this incarnation of the policy started at, when the journal saw it being
/// created (re-created after a tombstone, or a first revision observed within minutes of the
/// object's creationTimestamp), with a note either way.
fn creation(revisions: &[Revision], live: &PolicyObject, notes: &mut Vec<String>) -> Option<u32> {
    let start = revisions
        .iter()
        .rposition(|r| r.deleted)
        .map_or(0, |i| i + 1);
    let Some(first) = revisions.get(start) else {
        notes.push(
            "the journal has no history of this policy: a removal cannot be undone from it"
                .to_string(),
        );
        return None;
    };
    let later = revisions.len() - start - 1;
    if start > 0 {
        notes.push(format!(
            "created at revision {} ({}, re-created after a deletion), {later} change(s) since",
            first.number, first.observed_at
        ));
        return Some(first.number);
    }
    let observed: Option<k8s_openapi::jiff::Timestamp> = first.observed_at.parse().ok();
    let created = live.meta().creation_timestamp.as_ref().map(|t| t.0);
    let seen_created = match (observed, created) {
        (Some(observed), Some(created)) => {
            let delay = observed.as_second() - created.as_second();
            (0..=CREATION_WINDOW_SECS).contains(&delay)
        }
        _ => false,
    };
    if seen_created {
        notes.push(format!(
            "created at revision 1 ({}), {later} change(s) since",
            first.observed_at
        ));
        Some(first.number)
    } else {
        notes.push(format!(
            "not a new policy as far as the journal knows: it already existed when first seen at revision 1 ({}), {later} change(s) since",
            first.observed_at
        ));
        None
    }
}
