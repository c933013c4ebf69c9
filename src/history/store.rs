//! The journal database: schema, recording and queries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use super::content::{Content, Observed};
pub(super) use super::rows::{COLUMNS, decode, insert, raw};
use super::schema::migrate;
use super::{Change, Error, Operation, Result, Revision, stamp, summarize};
use crate::model::ObjectRef;
use crate::progress::Phase;

const SEEDING: &str = "seeding the journal";

/// The provenance written into revisions, borrowed apart from the connection so a transaction
/// can be open at the same time.
struct Source<'a> {
    cluster: &'a str,
    context: &'a str,
}

impl Source<'_> {
    fn observe(
        &self,
        tx: &Transaction,
        policy: &NetworkPolicy,
        at: Timestamp,
    ) -> Result<Option<Revision>> {
        observe_in(
            tx,
            self.cluster,
            self.context,
            policy,
            at,
            Operation::Observed,
        )
    }

    fn deleted(
        &self,
        tx: &Transaction,
        namespace: &str,
        name: &str,
        last: Option<&NetworkPolicy>,
        at: Timestamp,
    ) -> Result<Option<Revision>> {
        deleted_in(
            tx,
            self.cluster,
            self.context,
            namespace,
            name,
            last,
            at,
            Operation::Deleted,
        )
    }
}

/// A read-only connection to the journal at `path`, at this palisade's schema version; `None`
/// when the journal has an older one.
///
/// A reader of a WAL journal needs its `-shm` file, and creates it (and `-wal`) when they are
/// missing, which a read-only directory refuses. Then the journal is opened as immutable: no
/// process can be writing it there, and a journal closed cleanly has no WAL content left, so the
/// file alone is the whole journal.
fn read_only_connection(path: &Path) -> Result<Option<Connection>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let open = |target: &Path| -> Result<(Connection, i64)> {
        let conn = Connection::open_with_flags(target, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok((conn, version))
    };
    let (conn, version) = match open(path) {
        Ok(opened) => opened,
        Err(Error::Sqlite(rusqlite::Error::SqliteFailure(failure, _)))
            if matches!(
                failure.code,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly
            ) =>
        {
            open(&immutable_uri(path))?
        }
        Err(err) => return Err(err),
    };
    match version {
        v if v == super::schema::SCHEMA_VERSION => Ok(Some(conn)),
        v if v < super::schema::SCHEMA_VERSION => Ok(None),
        found => Err(Error::Schema {
            path: path.display().to_string(),
            found,
            known: super::schema::SCHEMA_VERSION,
        }),
    }
}

/// `file:PATH?immutable=1`, with the bytes a URI reserves, and non-ASCII ones, escaped.
pub(super) fn immutable_uri(path: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii() && !matches!(byte, b'%' | b'?' | b'#') {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    PathBuf::from(uri + "?immutable=1")
}

/// One watch event for [`Journal::record_all`].
#[derive(Debug, Clone, PartialEq)]
pub enum JournalEvent {
    Observed(NetworkPolicy),
    Deleted {
        namespace: String,
        name: String,
        last: Option<NetworkPolicy>,
    },
}

/// An open journal. Writes take `&mut self`: each is one immediate transaction.
pub struct Journal {
    pub(super) conn: Connection,
    path: PathBuf,
    /// Provenance written into new revisions: the cluster's API server URL and the context.
    cluster: String,
    context: String,
}

impl Journal {
    /// Opens (creating it and its directory when needed) the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
                path: dir.display().to_string(),
                source,
            })?;
        }
        // Created here, owner-only, before SQLite opens it: SQLite gives the -wal and -shm files
        // the journal's mode, and would create the journal itself with the umask's (0644).
        match crate::private_file::create_new(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(Error::Directory {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
        let mut conn = Connection::open(path)?;
        // WAL: readers (the console, `palisade history`) never block the recorder. FULL: every
        // commit is fsynced before it returns, so a recorded revision survives a power cut as well
        // as a kill -9 (NORMAL with WAL is crash-safe for the process but may lose the last
        // commits on power loss). Policy changes are rare; the fsync costs little (docs/history.md).
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            return Err(Error::Sqlite(rusqlite::Error::InvalidParameterName(
                format!("journal_mode {mode} (WAL not supported on this filesystem?)"),
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn, path)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
            cluster: String::new(),
            context: String::new(),
        })
    }

    /// Opens a journal that must already exist, read-only (for reading history): nothing is
    /// created or migrated, so it works on a read-only mount (see [`read_only_connection`]).
    pub fn open_existing(path: &Path) -> Result<Journal> {
        if !path.exists() {
            return Err(Error::Missing(path.display().to_string()));
        }
        let Some(conn) = read_only_connection(path)? else {
            // An older schema: migrated once, which needs write access.
            return Journal::open(path);
        };
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
            cluster: String::new(),
            context: String::new(),
        })
    }

    /// Sets the provenance (cluster URL, context) that new revisions carry.
    pub fn with_source(mut self, cluster: &str, context: &str) -> Journal {
        self.cluster = cluster.to_string();
        self.context = context.to_string();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The provenance (cluster URL, context) new revisions carry.
    pub fn source(&self) -> (&str, &str) {
        (&self.cluster, &self.context)
    }

    /// One immediate (write-locked) transaction, for the rollback's audit writes.
    pub(crate) fn write_transaction(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Read access for the rollback's audit queries.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// An immediate transaction, and the provenance to write with it.
    fn begin(&mut self) -> Result<(Transaction<'_>, Source<'_>)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let source = Source {
            cluster: &self.cluster,
            context: &self.context,
        };
        Ok((tx, source))
    }

    /// Records `policy` as observed at `at`. A new revision only when its resourceVersion differs
    /// from the newest stored one *and* its spec, labels or annotations differ (or it was deleted
    /// before): relists and resyncs add nothing.
    pub fn observe(&mut self, policy: &NetworkPolicy, at: Timestamp) -> Result<Option<Revision>> {
        let (tx, source) = self.begin()?;
        let revision = source.observe(&tx, policy, at)?;
        tx.commit()?;
        Ok(revision)
    }

    /// Records the deletion of a policy as a tombstone carrying its last spec: `last`'s when the
    /// deleted object is known (a watch DELETED event), else the newest stored revision's.
    /// Nothing is recorded when the journal already has it deleted, or knows nothing of it.
    pub fn deleted(
        &mut self,
        namespace: &str,
        name: &str,
        last: Option<&NetworkPolicy>,
        at: Timestamp,
    ) -> Result<Option<Revision>> {
        let (tx, source) = self.begin()?;
        let revision = source.deleted(&tx, namespace, name, last, at)?;
        tx.commit()?;
        Ok(revision)
    }

    /// Start-up: records the cluster's current policies (as `observe` does) and tombstones for
    /// the policies the journal has alive but the cluster no longer has. One transaction.
    pub fn seed(&mut self, policies: &[NetworkPolicy], at: Timestamp) -> Result<Vec<Revision>> {
        self.seed_reporting(policies, at, &mut |_| {})
    }

    /// As [`Journal::seed`], reporting `seeding the journal done/total` every few policies.
    pub fn seed_reporting(
        &mut self,
        policies: &[NetworkPolicy],
        at: Timestamp,
        on_phase: &mut dyn FnMut(&Phase),
    ) -> Result<Vec<Revision>> {
        let (tx, source) = self.begin()?;
        let mut recorded = Vec::new();
        let mut live = BTreeSet::new();
        let total = policies.len() as u64;
        for (done, policy) in policies.iter().enumerate() {
            if done.is_multiple_of(256) {
                on_phase(&Phase::counted(SEEDING, done as u64, Some(total)));
            }
            let observed = Observed::of(policy)?;
            live.insert((observed.namespace.to_string(), observed.name.to_string()));
            recorded.extend(source.observe(&tx, policy, at)?);
        }
        for (namespace, name) in alive_in(&tx)? {
            if !live.contains(&(namespace.clone(), name.clone())) {
                recorded.extend(source.deleted(&tx, &namespace, &name, None, at)?);
            }
        }
        on_phase(&Phase::counted(SEEDING, total, Some(total)));
        tx.commit()?;
        Ok(recorded)
    }

    /// Records a burst of watch events in one transaction (one fsync instead of one per event),
    /// in order. The console uses it so a churning cluster cannot outrun the journal.
    pub fn record_all(&mut self, events: &[JournalEvent], at: Timestamp) -> Result<Vec<Revision>> {
        let (tx, source) = self.begin()?;
        let mut recorded = Vec::new();
        for event in events {
            recorded.extend(match event {
                JournalEvent::Observed(policy) => source.observe(&tx, policy, at)?,
                JournalEvent::Deleted {
                    namespace,
                    name,
                    last,
                } => source.deleted(&tx, namespace, name, last.as_ref(), at)?,
            });
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// Every revision of a policy, oldest first.
    pub fn revisions(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions WHERE namespace = ?1 AND name = ?2 ORDER BY number"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(params![namespace, name], raw)?;
        rows.map(|row| decode(row?)).collect()
    }

    /// One revision by number.
    pub fn revision(&self, namespace: &str, name: &str, number: u32) -> Result<Option<Revision>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions WHERE namespace = ?1 AND name = ?2 AND number = ?3"
        );
        let raw = self
            .conn
            .query_row(&sql, params![namespace, name, number], raw)
            .optional()?;
        raw.map(decode).transpose()
    }

    /// The newest revision of a policy.
    pub fn latest(&self, namespace: &str, name: &str) -> Result<Option<Revision>> {
        latest_in(&self.conn, namespace, name)
    }

    /// The newest revision of a policy in short, with what it changed.
    pub fn latest_change(&self, namespace: &str, name: &str) -> Result<Option<Change>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions WHERE namespace = ?1 AND name = ?2 \
             ORDER BY number DESC LIMIT 2"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows: Vec<Revision> = statement
            .query_map(params![namespace, name], raw)?
            .map(|row| decode(row?))
            .collect::<Result<_>>()?;
        Ok(rows.first().map(|latest| change(rows.get(1), latest)))
    }

    /// [`Journal::latest_change`] for every policy the journal knows, in one query (the console's
    /// CHANGED column).
    pub fn latest_changes(&self) -> Result<BTreeMap<ObjectRef, Change>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions r WHERE number >= (SELECT MAX(number) - 1 FROM \
             revisions m WHERE m.namespace = r.namespace AND m.name = r.name) \
             ORDER BY namespace, name, number"
        );
        let mut statement = self.conn.prepare(&sql)?;
        let mut out = BTreeMap::new();
        let mut previous: Option<Revision> = None;
        for row in statement.query_map([], raw)? {
            let revision = decode(row?)?;
            let before = previous
                .take()
                .filter(|p| p.namespace == revision.namespace && p.name == revision.name);
            let id = ObjectRef::new(revision.namespace.clone(), revision.name.clone());
            out.insert(id, change(before.as_ref(), &revision));
            previous = Some(revision);
        }
        Ok(out)
    }

    /// Every policy the journal has a revision of.
    pub fn policies(&self) -> Result<Vec<ObjectRef>> {
        let mut statement = self
            .conn
            .prepare("SELECT DISTINCT namespace, name FROM revisions ORDER BY namespace, name")?;
        let rows = statement.query_map([], |r| {
            Ok(ObjectRef::new(
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The (cluster, context) pairs that recorded the journal's revisions.
    pub fn sources(&self) -> Result<Vec<(String, String)>> {
        let mut statement = self
            .conn
            .prepare("SELECT DISTINCT cluster, context FROM revisions ORDER BY cluster, context")?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many revisions the journal holds.
    pub fn count(&self) -> Result<u64> {
        let count: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM revisions", [], |r| r.get(0))?;
        Ok(count.unsigned_abs())
    }
}

fn change(previous: Option<&Revision>, latest: &Revision) -> Change {
    Change {
        number: latest.number,
        observed_at: latest.observed_at.clone(),
        manager: latest.manager.clone(),
        operation: latest.operation,
        deleted: latest.deleted,
        summary: summarize(previous, latest),
    }
}

pub(crate) fn observe_in(
    tx: &Transaction,
    cluster: &str,
    context: &str,
    policy: &NetworkPolicy,
    at: Timestamp,
    operation: Operation,
) -> Result<Option<Revision>> {
    let observed = Observed::of(policy)?;
    let latest = latest_in(tx, observed.namespace, observed.name)?;
    let content = Content::of_policy(policy);
    if let Some(latest) = &latest
        && !latest.deleted
        && (latest.resource_version.as_deref() == observed.resource_version
            || Content::of_revision(latest) == content)
    {
        return Ok(None);
    }
    let revision = Revision {
        cluster: cluster.to_string(),
        context: context.to_string(),
        namespace: observed.namespace.to_string(),
        name: observed.name.to_string(),
        number: latest.as_ref().map_or(1, |l| l.number + 1),
        resource_version: observed.resource_version.map(str::to_string),
        generation: observed.generation,
        observed_at: stamp(at),
        manager: observed.manager,
        operation,
        deleted: false,
        spec: policy.spec.clone(),
        labels: policy.metadata.labels.clone().unwrap_or_default(),
        annotations: policy.metadata.annotations.clone().unwrap_or_default(),
    };
    insert(tx, &revision)?;
    Ok(Some(revision))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn deleted_in(
    tx: &Transaction,
    cluster: &str,
    context: &str,
    namespace: &str,
    name: &str,
    last: Option<&NetworkPolicy>,
    at: Timestamp,
    operation: Operation,
) -> Result<Option<Revision>> {
    let latest = latest_in(tx, namespace, name)?;
    if latest.as_ref().is_some_and(|l| l.deleted) {
        return Ok(None);
    }
    let number = latest.as_ref().map_or(1, |l| l.number + 1);
    let mut revision = match (last, latest) {
        (Some(policy), _) => {
            let observed = Observed::of(policy)?;
            Revision {
                cluster: String::new(),
                context: String::new(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                number,
                resource_version: observed.resource_version.map(str::to_string),
                generation: observed.generation,
                observed_at: String::new(),
                manager: observed.manager,
                operation: Operation::Deleted,
                deleted: true,
                spec: policy.spec.clone(),
                labels: policy.metadata.labels.clone().unwrap_or_default(),
                annotations: policy.metadata.annotations.clone().unwrap_or_default(),
            }
        }
        (None, Some(latest)) => Revision {
            number,
            // Deleted while nobody watched: who deleted it, and at which version, is unknown.
            resource_version: None,
            manager: None,
            ..latest
        },
        (None, None) => return Ok(None),
    };
    revision.cluster = cluster.to_string();
    revision.context = context.to_string();
    revision.observed_at = stamp(at);
    revision.operation = operation;
    revision.deleted = true;
    insert(tx, &revision)?;
    Ok(Some(revision))
}

/// Policies whose newest revision is not a tombstone.
fn alive_in(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut statement = conn.prepare(
        "SELECT namespace, name FROM revisions r WHERE number = (SELECT MAX(number) FROM \
         revisions m WHERE m.namespace = r.namespace AND m.name = r.name) AND deleted = 0",
    )?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn latest_in(
    conn: &Connection,
    namespace: &str,
    name: &str,
) -> Result<Option<Revision>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM revisions WHERE namespace = ?1 AND name = ?2 \
         ORDER BY number DESC LIMIT 1"
    );
    let raw = conn
        .prepare_cached(&sql)?
        .query_row(params![namespace, name], raw)
        .optional()?;
    raw.map(decode).transpose()
}
