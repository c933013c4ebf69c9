//! The database schema, versioned with `PRAGMA user_version`, and its creation/migration.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{Error, Result};

/// The schema version this code writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// Version 1. `revisions` holds every stored version of every policy; `(namespace, name,
/// number)` is unique and numbers run 1, 2, 3, … per policy. JSON columns are checked with
/// `json_valid`, so a row is never stored with half a document.
///
/// `audit` (written by `rollback::audit`): one row per rollback attempt —
/// who (`actor`: SelfSubjectReview user, else the kubeconfig user), when (`at`, RFC 3339 UTC),
/// `cluster`/`context`, the object, the rollback `kind` (revert, restore, remove, undo),
/// `from_revision`/`to_revision` (numbers in `revisions`), the required `reason`, the dry-run and
/// apply results (JSON text, as the API server answered), and the `outcome` (refused, conflict,
/// failed, done, dry-run). Rows are only ever appended. Version 2 adds columns to it.
pub(super) const SCHEMA_V1: &str = "
CREATE TABLE revisions (
    id               INTEGER PRIMARY KEY,
    cluster          TEXT NOT NULL,
    context          TEXT NOT NULL,
    namespace        TEXT NOT NULL,
    name             TEXT NOT NULL,
    number           INTEGER NOT NULL CHECK (number >= 1),
    resource_version TEXT,
    generation       INTEGER,
    observed_at      TEXT NOT NULL,
    manager          TEXT,
    operation        TEXT NOT NULL CHECK (operation IN ('observed', 'deleted', 'rollback')),
    deleted          INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    spec             TEXT NOT NULL CHECK (json_valid(spec)),
    labels           TEXT NOT NULL CHECK (json_valid(labels)),
    annotations      TEXT NOT NULL CHECK (json_valid(annotations)),
    UNIQUE (namespace, name, number)
);
CREATE INDEX revisions_by_version ON revisions (namespace, name, resource_version);
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    cluster        TEXT NOT NULL,
    context        TEXT NOT NULL,
    namespace      TEXT NOT NULL,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    from_revision  INTEGER,
    to_revision    INTEGER,
    reason         TEXT NOT NULL,
    dry_run_result TEXT,
    apply_result   TEXT,
    outcome        TEXT NOT NULL
);
";

/// Version 2: the audit row also keeps the resourceVersions before and after (import can
/// renumber revisions; resourceVersions stay), the acknowledged GitOps owner, and the number of
/// the journal revision the rollback wrote.
const SCHEMA_V2: &str = "
ALTER TABLE audit ADD COLUMN from_resource_version TEXT;
ALTER TABLE audit ADD COLUMN to_resource_version TEXT;
ALTER TABLE audit ADD COLUMN acknowledged_owner TEXT;
ALTER TABLE audit ADD COLUMN journal_revision INTEGER;
CREATE INDEX audit_by_object ON audit (namespace, name, id);
";

/// Creates the schema in a new file; checks the version of an existing one. A journal already at
/// this version is only read here, so readers take no write lock.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    // Checked again under the write lock: two processes may create the same file at once.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA_V1)?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        1 => {
            tx.execute_batch(SCHEMA_V2)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        SCHEMA_VERSION => {}
        found => {
            return Err(Error::Schema {
                path: path.display().to_string(),
                found,
                known: SCHEMA_VERSION,
            });
        }
    }
    tx.commit()?;
    Ok(())
}
