//! The database schema, versioned with `PRAGMA user_version`, and its creation/migration.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{Error, Result};

/// The schema version this code writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 5;

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
pub(super) const SCHEMA_V2: &str = "
ALTER TABLE audit ADD COLUMN from_resource_version TEXT;
ALTER TABLE audit ADD COLUMN to_resource_version TEXT;
ALTER TABLE audit ADD COLUMN acknowledged_owner TEXT;
ALTER TABLE audit ADD COLUMN journal_revision INTEGER;
CREATE INDEX audit_by_object ON audit (namespace, name, id);
";

/// Version 3: revisions and audit rows name the policy's kind, so cluster-scoped tier policies
/// (stored with an empty namespace) sit next to NetworkPolicies: `cnp/x` and `anp/x` are two
/// policies. SQLite cannot change a UNIQUE constraint in place, so `revisions` is rebuilt (ids
/// kept) with `(kind, namespace, name, number)` unique; every existing row is a NetworkPolicy.
pub(super) const SCHEMA_V3: &str = "
CREATE TABLE revisions_v3 (
    id               INTEGER PRIMARY KEY,
    cluster          TEXT NOT NULL,
    context          TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'NetworkPolicy' CHECK (kind IN ('NetworkPolicy',
                         'ClusterNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy')),
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
    UNIQUE (kind, namespace, name, number)
);
INSERT INTO revisions_v3 (id, cluster, context, kind, namespace, name, number, resource_version,
    generation, observed_at, manager, operation, deleted, spec, labels, annotations)
    SELECT id, cluster, context, 'NetworkPolicy', namespace, name, number, resource_version,
    generation, observed_at, manager, operation, deleted, spec, labels, annotations FROM revisions;
DROP TABLE revisions;
ALTER TABLE revisions_v3 RENAME TO revisions;
CREATE INDEX revisions_by_version ON revisions (kind, namespace, name, resource_version);
ALTER TABLE audit ADD COLUMN object_kind TEXT NOT NULL DEFAULT 'NetworkPolicy';
DROP INDEX audit_by_object;
CREATE INDEX audit_by_object ON audit (object_kind, namespace, name, id);
";

/// Version 4: an audit record carries a unique id of its own (`uid`, 128 random bits in hex), the
/// same in every journal it reaches (this machine's and the team's recorder), and `linked_to`,
/// the uid of the record it belongs with (a GitOps suspension and the rollback it preceded).
/// Rows written before have neither.
pub(super) const SCHEMA_V4: &str = "
ALTER TABLE audit ADD COLUMN uid TEXT;
ALTER TABLE audit ADD COLUMN linked_to TEXT;
CREATE UNIQUE INDEX audit_by_uid ON audit (uid) WHERE uid IS NOT NULL;
";

/// Version 5: revisions of the CNIs' own policies (`model::NativeKind`: Cilium's and Calico's
/// kinds; Calico's NetworkPolicy as `NetworkPolicy.projectcalico.org`, never Kubernetes' kind).
/// The `kind` CHECK of version 3 cannot be changed in place, so `revisions` is rebuilt (ids kept)
/// with the wider list.
pub(super) const SCHEMA_V5: &str = "
CREATE TABLE revisions_v5 (
    id               INTEGER PRIMARY KEY,
    cluster          TEXT NOT NULL,
    context          TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'NetworkPolicy' CHECK (kind IN ('NetworkPolicy',
                         'ClusterNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy',
                         'CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy',
                         'NetworkPolicy.projectcalico.org', 'GlobalNetworkPolicy', 'Tier',
                         'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy',
                         'StagedKubernetesNetworkPolicy')),
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
    UNIQUE (kind, namespace, name, number)
);
INSERT INTO revisions_v5 (id, cluster, context, kind, namespace, name, number, resource_version,
    generation, observed_at, manager, operation, deleted, spec, labels, annotations)
    SELECT id, cluster, context, kind, namespace, name, number, resource_version,
    generation, observed_at, manager, operation, deleted, spec, labels, annotations FROM revisions;
DROP TABLE revisions;
ALTER TABLE revisions_v5 RENAME TO revisions;
CREATE INDEX revisions_by_version ON revisions (kind, namespace, name, resource_version);
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
        // Every step in order: a new journal is built exactly as an old one is migrated.
        0..SCHEMA_VERSION => {
            let steps = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];
            for step in &steps[usize::try_from(version).unwrap_or_default()..] {
                tx.execute_batch(step)?;
            }
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
