//! The audit trail: one record per rollback attempt, whatever its outcome, appended in one
//! transaction to the journal's `audit` table (with the revision a successful rollback wrote)
//! and then to `<journal stem>.audit.jsonl`, an append-only JSON-lines file (O_APPEND, one
//! write and an fsync per record).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::last_applied;
use super::plan::{Plan, PlanError, RollbackKind, plan};
use crate::history::store::{deleted_in, key_params, observe_in};
use crate::history::{Error, Journal, Operation, PolicyKey, PolicyObject, Result, Revision, stamp};

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied (the object was written).
    Done,
    /// Refused before any write: read-only, forbidden, GitOps owner not acknowledged, no
    /// confirmation.
    Refused,
    /// The object changed since it was planned (409): nothing was written.
    Conflict,
    /// The API server or the network failed.
    Failed,
    /// Stopped after the server-side dry run, as asked.
    DryRun,
    /// The operator left the console's flow while its dry run or apply was in flight; an apply
    /// in flight still audits its own outcome in a record of its own.
    Abandoned,
}

impl super::ApplyError {
    /// How a failed dry run or apply is audited.
    pub fn outcome(&self) -> Outcome {
        match self {
            super::ApplyError::Conflict { .. } => Outcome::Conflict,
            super::ApplyError::Forbidden(_) => Outcome::Refused,
            super::ApplyError::Failed(_) => Outcome::Failed,
        }
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Conflict => "conflict",
            Outcome::Failed => "failed",
            Outcome::DryRun => "dry-run",
            Outcome::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        [
            Outcome::Done,
            Outcome::Refused,
            Outcome::Conflict,
            Outcome::Failed,
            Outcome::DryRun,
            Outcome::Abandoned,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// One rollback attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// The row id in the journal's `audit` table, once appended.
    pub id: Option<i64>,
    /// RFC 3339 UTC, milliseconds.
    pub at: String,
    /// Who: the SelfSubjectReview user name, else the kubeconfig user.
    pub actor: String,
    pub context: String,
    /// The API server URL.
    pub cluster: String,
    /// The policy: `{"kind", "namespace", "name"}` in the JSON line (a tier policy's namespace
    /// is empty; lines written before tier policies have no kind and are NetworkPolicies).
    pub object: PolicyKey,
    /// revert, restore, remove, undo.
    pub kind: String,
    /// The journal revision of the live object before (none when absent or unknown).
    pub from_revision: Option<u32>,
    /// The revision whose content was restored (none for a removal).
    pub to_revision: Option<u32>,
    /// The live resourceVersion before (none: the policy was absent).
    pub from_resource_version: Option<String>,
    /// The resourceVersion the apply produced (none: not applied, or deleted).
    pub to_resource_version: Option<String>,
    /// The journal revision (operation `rollback`) a successful rollback recorded.
    pub journal_revision: Option<u32>,
    pub reason: String,
    /// The GitOps owner the operator acknowledged, e.g. "Flux Kustomization flux-system/apps".
    pub acknowledged_owner: Option<String>,
    /// The dry run's result as shown to the operator ("not run" when it was not).
    pub dry_run: String,
    /// The apply's result, or why it was not attempted.
    pub apply: String,
    pub outcome: Outcome,
    /// 128 random bits in hex, given when the record is made: the same record in this machine's
    /// journal and in the team's (records written before version 4 have none).
    #[serde(default)]
    pub uid: Option<String>,
    /// The uid of the record this one belongs with, e.g. the GitOps suspension a rollback
    /// needed.
    #[serde(default)]
    pub linked_to: Option<String>,
}

impl AuditRecord {
    /// A record for an attempt at `plan`; the caller fills in results and the outcome.
    pub fn for_plan(
        plan: &Plan,
        actor: &str,
        cluster: &str,
        context: &str,
        reason: &str,
        at: Timestamp,
    ) -> AuditRecord {
        AuditRecord {
            id: None,
            at: stamp(at),
            actor: actor.to_string(),
            context: context.to_string(),
            cluster: cluster.to_string(),
            object: plan.target.clone(),
            kind: plan.kind.name().to_string(),
            from_revision: plan.live_revision,
            to_revision: plan.to_revision,
            from_resource_version: plan.live_resource_version().map(str::to_string),
            to_resource_version: None,
            journal_revision: None,
            reason: reason.to_string(),
            acknowledged_owner: None,
            dry_run: "not run".to_string(),
            apply: "not attempted".to_string(),
            outcome: Outcome::Failed,
            uid: Some(new_uid()),
            linked_to: None,
        }
    }
}

/// 128 bits from the operating system's generator, as 32 hex digits.
pub fn new_uid() -> String {
    let mut bytes = [0u8; 16];
    // A failing system generator is beyond repair here; fall back to the clock and the pid
    // rather than refuse to audit.
    if rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a successful rollback left on the cluster, to journal as a `rollback` revision.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The object as the API server returned it after the replace or create.
    Object(PolicyObject),
    /// The policy was deleted; the last object.
    Deleted(PolicyObject),
}

/// `<dir>/<journal stem>.audit.jsonl`.
pub fn audit_path(journal: &Path) -> PathBuf {
    let stem = journal
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".to_string());
    journal.with_file_name(format!("{stem}.audit.jsonl"))
}

const COLUMNS: &str = "id, at, actor, cluster, context, namespace, name, kind, from_revision, \
    to_revision, reason, dry_run_result, apply_result, outcome, from_resource_version, \
    to_resource_version, acknowledged_owner, journal_revision, object_kind, uid, linked_to";

/// Appends `record` (setting its id, and `journal_revision` when `written` was journalled):
/// the `rollback` revision and the audit row in one transaction, then one line to the JSON-lines
/// file next to the journal. Returns the journalled revision.
pub fn append(
    journal: &mut Journal,
    record: &mut AuditRecord,
    written: Option<&Written>,
) -> Result<Option<Revision>> {
    let (cluster, context) = {
        let (cluster, context) = journal.source();
        (cluster.to_string(), context.to_string())
    };
    let now = Timestamp::now();
    let tx = journal.write_transaction()?;
    let revision = match written {
        None => None,
        Some(Written::Object(object)) => {
            observe_in(&tx, &cluster, &context, object, now, Operation::Rollback)?
        }
        Some(Written::Deleted(last)) => deleted_in(
            &tx,
            &cluster,
            &context,
            &record.object,
            Some(last),
            now,
            Operation::Rollback,
        )?,
    };
    record.journal_revision = revision.as_ref().map(|r| r.number);
    tx.execute(
        "INSERT INTO audit (at, actor, cluster, context, namespace, name, kind, from_revision, \
         to_revision, reason, dry_run_result, apply_result, outcome, from_resource_version, \
         to_resource_version, acknowledged_owner, journal_revision, object_kind, uid, linked_to) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
         ?19, ?20)",
        params![
            record.at,
            record.actor,
            record.cluster,
            record.context,
            record.object.namespace(),
            record.object.name(),
            record.kind,
            record.from_revision,
            record.to_revision,
            record.reason,
            record.dry_run,
            record.apply,
            record.outcome.as_str(),
            record.from_resource_version,
            record.to_resource_version,
            record.acknowledged_owner,
            record.journal_revision,
            record.object.kind().as_str(),
            record.uid,
            record.linked_to,
        ],
    )?;
    record.id = Some(tx.last_insert_rowid());
    tx.commit()?;
    append_line(&audit_path(journal.path()), record)?;
    Ok(revision)
}

/// One JSON line, one `write`, then fsync: concurrent writers never interleave within a line.
fn append_line(path: &Path, record: &AuditRecord) -> Result<()> {
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", path.display()),
            ))
        })?;
    file.write_all(&line)?;
    file.sync_data()?;
    Ok(())
}

/// Audit records, oldest first: of one policy, or all.
pub fn records(journal: &Journal, object: Option<&PolicyKey>) -> Result<Vec<AuditRecord>> {
    let conn = journal.connection();
    let rows = match object {
        Some(key) => {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM audit WHERE object_kind = ?1 AND namespace = ?2 \
                 AND name = ?3 ORDER BY id"
            ))?;
            statement
                .query_map(key_params(key), row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
        None => {
            let mut statement =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM audit ORDER BY id"))?;
            statement
                .query_map([], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(rows)
}

/// The newest successful (applied) rollback of a policy: what undo reverses.
pub fn last_rollback(journal: &Journal, object: &PolicyKey) -> Result<Option<AuditRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit WHERE object_kind = ?1 AND namespace = ?2 AND name = ?3 \
         AND outcome = 'done' ORDER BY id DESC LIMIT 1"
    );
    Ok(journal
        .connection()
        .query_row(&sql, key_params(object), row)
        .optional()?)
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<AuditRecord> {
    let outcome: String = r.get(13)?;
    let object_kind: String = r.get(18)?;
    let (namespace, name): (String, String) = (r.get(5)?, r.get(6)?);
    let object = PolicyKey::from_columns(&object_kind, &namespace, &name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            18,
            rusqlite::types::Type::Text,
            format!("unknown policy kind `{object_kind}`").into(),
        )
    })?;
    Ok(AuditRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        cluster: r.get(3)?,
        context: r.get(4)?,
        object,
        kind: r.get(7)?,
        from_revision: r.get(8)?,
        to_revision: r.get(9)?,
        reason: r.get(10)?,
        dry_run: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
        apply: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
        outcome: Outcome::parse(&outcome).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                13,
                rusqlite::types::Type::Text,
                format!("unknown outcome `{outcome}`").into(),
            )
        })?,
        from_resource_version: r.get(14)?,
        to_resource_version: r.get(15)?,
        acknowledged_owner: r.get(16)?,
        journal_revision: r.get(17)?,
        uid: r.get(19)?,
        linked_to: r.get(20)?,
    })
}

/// Why a plan could not be made from the journal: the journal failed, or the plan itself.
#[derive(Debug, thiserror::Error)]
pub enum JournalPlanError {
    #[error("journal: {0}")]
    Journal(#[from] Error),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// The plan for `target` as the journal knows it, after the journal has caught up with the live
/// object (so the plan knows the live revision). Shared by the console and `palisade rollback`.
pub fn plan_from_journal(
    journal: &mut Journal,
    kind: RollbackKind,
    target: &PolicyKey,
    live: Option<&PolicyObject>,
    now: Timestamp,
) -> std::result::Result<Plan, JournalPlanError> {
    match live {
        Some(object) => journal.observe_object(object, now)?,
        None => journal.deleted_object(target, None, now)?,
    };
    let mut revisions = journal.revisions_of(target)?;
    if kind
        == (RollbackKind::Revert {
            to: last_applied::NUMBER,
        })
        && let Some(object) = live
    {
        let (cluster, context) = journal.source();
        let no = |why: &str| PlanError::NoLastApplied {
            target: target.clone(),
            why: why.to_string(),
        };
        let revision = last_applied::of_object(object, cluster, context)
            .map_err(|note| no(&note))?
            .ok_or_else(|| {
                no("its kubectl.kubernetes.io/last-applied-configuration is absent or the same as live")
            })?;
        // Oldest first: number 0 goes before the journal's revisions.
        revisions.insert(0, revision);
    }
    let last = last_rollback(journal, target)?;
    Ok(plan(kind, target, &revisions, live, last.as_ref())?)
}
