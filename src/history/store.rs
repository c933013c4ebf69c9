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
use super::{
    Change, Error, Operation, PolicyKey, PolicyKind, PolicyObject, Result, Revision, stamp,
    summarize,
};
use crate::cluster::connect::server_url;
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
        object: &PolicyObject,
        at: Timestamp,
    ) -> Result<Option<Revision>> {
        observe_in(
            tx,
            self.cluster,
            self.context,
            object,
            at,
            Operation::Observed,
        )
    }

    fn deleted(
        &self,
        tx: &Transaction,
        key: &PolicyKey,
        last: Option<&PolicyObject>,
        at: Timestamp,
    ) -> Result<Option<Revision>> {
        deleted_in(
            tx,
            self.cluster,
            self.context,
            key,
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
    Observed(PolicyObject),
    /// A deletion; `last` is the object as last seen, when known.
    Deleted {
        key: PolicyKey,
        last: Option<PolicyObject>,
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
        self.observe_object(&PolicyObject::Network(policy.clone()), at)
    }

    /// [`Journal::observe`] for a policy of any kind.
    pub fn observe_object(
        &mut self,
        object: &PolicyObject,
        at: Timestamp,
    ) -> Result<Option<Revision>> {
        let (tx, source) = self.begin()?;
        let revision = source.observe(&tx, object, at)?;
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
        let last = last.map(|p| PolicyObject::Network(p.clone()));
        self.deleted_object(&PolicyKey::network(namespace, name), last.as_ref(), at)
    }

    /// [`Journal::deleted`] for a policy of any kind.
    pub fn deleted_object(
        &mut self,
        key: &PolicyKey,
        last: Option<&PolicyObject>,
        at: Timestamp,
    ) -> Result<Option<Revision>> {
        let (tx, source) = self.begin()?;
        let revision = source.deleted(&tx, key, last, at)?;
        tx.commit()?;
        Ok(revision)
    }

    /// Start-up: records the cluster's current NetworkPolicies (as `observe` does) and
    /// tombstones for the NetworkPolicies the journal has alive but the cluster no longer has.
    /// One transaction.
    pub fn seed(&mut self, policies: &[NetworkPolicy], at: Timestamp) -> Result<Vec<Revision>> {
        let objects: Vec<PolicyObject> = policies.iter().cloned().map(Into::into).collect();
        self.seed_reporting(PolicyKind::NetworkPolicy, &objects, at, &mut |_| {})
    }

    /// [`Journal::seed`] for a complete list of one kind: only policies of that kind missing
    /// from the list get tombstones (a list of ClusterNetworkPolicies says nothing of the rest).
    /// Reports `seeding the journal done/total` every few policies.
    pub fn seed_reporting(
        &mut self,
        kind: PolicyKind,
        objects: &[PolicyObject],
        at: Timestamp,
        on_phase: &mut dyn FnMut(&Phase),
    ) -> Result<Vec<Revision>> {
        self.seed_within(kind, None, objects, at, on_phase)
    }

    /// [`Journal::seed_reporting`] for the complete list of one kind in some namespaces
    /// (`Some`): only their policies missing from the list get tombstones, so a recorder or
    /// console watching a few namespaces leaves the others' histories alone.
    pub fn seed_within(
        &mut self,
        kind: PolicyKind,
        namespaces: Option<&[String]>,
        objects: &[PolicyObject],
        at: Timestamp,
        on_phase: &mut dyn FnMut(&Phase),
    ) -> Result<Vec<Revision>> {
        let (tx, source) = self.begin()?;
        let mut recorded = Vec::new();
        let mut live = BTreeSet::new();
        let total = objects.len() as u64;
        for (done, object) in objects.iter().enumerate() {
            if done.is_multiple_of(256) {
                on_phase(&Phase::counted(SEEDING, done as u64, Some(total)));
            }
            let observed = Observed::of(object)?;
            if observed.key.kind() != kind {
                continue;
            }
            live.insert(observed.key);
            recorded.extend(source.observe(&tx, object, at)?);
        }
        for key in alive_in(&tx, kind)? {
            let outside =
                namespaces.is_some_and(|within| !within.iter().any(|ns| ns == key.namespace()));
            if !outside && !live.contains(&key) {
                recorded.extend(source.deleted(&tx, &key, None, at)?);
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
                JournalEvent::Observed(object) => source.observe(&tx, object, at)?,
                JournalEvent::Deleted { key, last } => {
                    source.deleted(&tx, key, last.as_ref(), at)?
                }
            });
        }
        tx.commit()?;
        Ok(recorded)
    }

    /// Every revision of a NetworkPolicy, oldest first.
    pub fn revisions(&self, namespace: &str, name: &str) -> Result<Vec<Revision>> {
        self.revisions_of(&PolicyKey::network(namespace, name))
    }

    /// Every revision of a policy of any kind, oldest first.
    pub fn revisions_of(&self, key: &PolicyKey) -> Result<Vec<Revision>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions WHERE kind = ?1 AND namespace = ?2 AND name = ?3 \
             ORDER BY number"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(key_params(key), raw)?;
        rows.map(|row| decode(row?)).collect()
    }

    /// One revision of a NetworkPolicy by number.
    pub fn revision(&self, namespace: &str, name: &str, number: u32) -> Result<Option<Revision>> {
        self.revision_of(&PolicyKey::network(namespace, name), number)
    }

    /// One revision of a policy of any kind by number.
    pub fn revision_of(&self, key: &PolicyKey, number: u32) -> Result<Option<Revision>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions WHERE kind = ?1 AND namespace = ?2 AND name = ?3 \
             AND number = ?4"
        );
        let (kind, namespace, name) = key_params(key);
        let raw = self
            .conn
            .query_row(&sql, params![kind, namespace, name, number], raw)
            .optional()?;
        raw.map(decode).transpose()
    }

    /// The newest revision of a NetworkPolicy.
    pub fn latest(&self, namespace: &str, name: &str) -> Result<Option<Revision>> {
        latest_in(&self.conn, &PolicyKey::network(namespace, name))
    }

    /// The newest revision of a policy of any kind.
    pub fn latest_of(&self, key: &PolicyKey) -> Result<Option<Revision>> {
        latest_in(&self.conn, key)
    }

    /// The newest revision of a NetworkPolicy in short, with what it changed.
    pub fn latest_change(&self, namespace: &str, name: &str) -> Result<Option<Change>> {
        self.latest_change_of(&PolicyKey::network(namespace, name))
    }

    /// The newest revision of a policy of any kind in short, with what it changed.
    pub fn latest_change_of(&self, key: &PolicyKey) -> Result<Option<Change>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions WHERE kind = ?1 AND namespace = ?2 AND name = ?3 \
             ORDER BY number DESC LIMIT 2"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows: Vec<Revision> = statement
            .query_map(key_params(key), raw)?
            .map(|row| decode(row?))
            .collect::<Result<_>>()?;
        Ok(rows.first().map(|latest| change(rows.get(1), latest)))
    }

    /// [`Journal::latest_change_of`] for every policy the journal knows, in one query (the
    /// console's CHANGED column).
    pub fn latest_changes(&self) -> Result<BTreeMap<PolicyKey, Change>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions r WHERE number >= (SELECT MAX(number) - 1 FROM \
             revisions m WHERE m.kind = r.kind AND m.namespace = r.namespace AND m.name = r.name) \
             ORDER BY kind, namespace, name, number"
        );
        let mut statement = self.conn.prepare(&sql)?;
        let mut out = BTreeMap::new();
        let mut previous: Option<Revision> = None;
        for row in statement.query_map([], raw)? {
            let revision = decode(row?)?;
            let key = revision.key();
            let before = previous.take().filter(|p| p.key() == key);
            out.insert(key, change(before.as_ref(), &revision));
            previous = Some(revision);
        }
        Ok(out)
    }

    /// Every policy the journal has a revision of (a kind this palisade does not know is left
    /// out).
    pub fn policies(&self) -> Result<Vec<PolicyKey>> {
        let mut statement = self
            .conn
            .prepare("SELECT DISTINCT kind, namespace, name FROM revisions")?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut keys: Vec<PolicyKey> = rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter_map(|(kind, namespace, name)| PolicyKey::from_columns(&kind, &namespace, &name))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// The newest `at_most` revisions after a policy's first observed at or after `since` (a
    /// journal time, see [`super::stamp`]), newest first, each with the revision it replaced;
    /// and how many such revisions there are in all. What the console's suspects read on every
    /// burst of a busy cluster: a bounded read, not every revision of every policy changed.
    pub fn recent_replacements(
        &self,
        since: &str,
        at_most: usize,
    ) -> Result<(Vec<(Revision, Revision)>, usize)> {
        let total: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM revisions WHERE observed_at >= ?1 AND number > 1",
            [since],
            |r| r.get(0),
        )?;
        let sql = format!(
            "SELECT {COLUMNS} FROM revisions WHERE observed_at >= ?1 AND number > 1 \
             ORDER BY observed_at DESC, kind, namespace, name LIMIT ?2"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let limit = i64::try_from(at_most).unwrap_or(i64::MAX);
        let newest = statement
            .query_map(params![since, limit], raw)?
            .map(|row| decode(row?))
            .collect::<Result<Vec<Revision>>>()?;
        let mut pairs = Vec::with_capacity(newest.len());
        for revision in newest {
            // Numbers run 1, 2, 3, … per policy (schema version 1).
            if let Some(previous) = self.revision_of(&revision.key(), revision.number - 1)? {
                pairs.push((previous, revision));
            }
        }
        Ok((pairs, usize::try_from(total).unwrap_or_default()))
    }

    /// The policies with a revision after their first observed at or after `since` (a journal
    /// time, see [`super::stamp`]): those changed since then (`suspects`).
    pub fn changed_since(&self, since: &str) -> Result<Vec<PolicyKey>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT DISTINCT kind, namespace, name FROM revisions WHERE observed_at >= ?1 \
             AND number > 1 ORDER BY kind, namespace, name",
        )?;
        let rows = statement.query_map([since], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter_map(|(kind, namespace, name)| PolicyKey::from_columns(&kind, &namespace, &name))
            .collect())
    }

    /// The (cluster, context) pairs that recorded the journal's revisions, the cluster's URL
    /// as `cluster::connect::server_url` spells it (older consoles wrote a trailing slash).
    pub fn sources(&self) -> Result<Vec<(String, String)>> {
        let mut statement = self
            .conn
            .prepare("SELECT DISTINCT cluster, context FROM revisions ORDER BY cluster, context")?;
        let rows =
            statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let sources: BTreeSet<(String, String)> = rows
            .map(|row| {
                row.map(|(cluster, context)| {
                    let cluster = server_url(&cluster).unwrap_or(cluster);
                    (cluster, context)
                })
            })
            .collect::<rusqlite::Result<_>>()?;
        Ok(sources.into_iter().collect())
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

/// The `(kind, namespace, name)` parameters that address a policy's rows.
pub(crate) fn key_params(key: &PolicyKey) -> (&'static str, &str, &str) {
    (key.kind().as_str(), key.namespace(), key.name())
}

pub(crate) fn observe_in(
    tx: &Transaction,
    cluster: &str,
    context: &str,
    object: &PolicyObject,
    at: Timestamp,
    operation: Operation,
) -> Result<Option<Revision>> {
    let observed = Observed::of(object)?;
    let latest = latest_in(tx, &observed.key)?;
    let content = Content::of_object(object);
    if let Some(latest) = &latest
        && !latest.deleted
        && (latest.resource_version.as_deref() == observed.resource_version
            || Content::of_revision(latest) == content)
    {
        return Ok(None);
    }
    let mut revision = revision_of(object, &observed);
    revision.cluster = cluster.to_string();
    revision.context = context.to_string();
    revision.number = latest.as_ref().map_or(1, |l| l.number + 1);
    revision.observed_at = stamp(at);
    revision.operation = operation;
    insert(tx, &revision)?;
    Ok(Some(revision))
}

/// The revision `object` makes, before its number, time, operation and provenance are set.
fn revision_of(object: &PolicyObject, observed: &Observed) -> Revision {
    let meta = object.meta();
    let (spec, tier_spec) = match object {
        PolicyObject::Network(policy) => (policy.spec.clone(), None),
        PolicyObject::Tier(tier) => (None, tier.spec().cloned()),
        PolicyObject::Native(native) => (None, Some(super::key::native_body(&native.object))),
    };
    Revision {
        cluster: String::new(),
        context: String::new(),
        kind: observed.key.kind(),
        namespace: observed.key.namespace().to_string(),
        name: observed.key.name().to_string(),
        number: 0,
        resource_version: observed.resource_version.map(str::to_string),
        generation: observed.generation,
        observed_at: String::new(),
        manager: observed.manager.clone(),
        operation: Operation::Observed,
        deleted: false,
        spec,
        tier_spec,
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
    }
}

pub(crate) fn deleted_in(
    tx: &Transaction,
    cluster: &str,
    context: &str,
    key: &PolicyKey,
    last: Option<&PolicyObject>,
    at: Timestamp,
    operation: Operation,
) -> Result<Option<Revision>> {
    let latest = latest_in(tx, key)?;
    if latest.as_ref().is_some_and(|l| l.deleted) {
        return Ok(None);
    }
    let number = latest.as_ref().map_or(1, |l| l.number + 1);
    let mut revision = match (last, latest) {
        (Some(object), _) => {
            let observed = Observed::of(object)?;
            // The key the caller names wins: a deleted object may come back without metadata.
            Revision {
                kind: key.kind(),
                namespace: key.namespace().to_string(),
                name: key.name().to_string(),
                number,
                ..revision_of(object, &observed)
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

/// Policies of `kind` whose newest revision is not a tombstone.
fn alive_in(conn: &Connection, kind: PolicyKind) -> Result<Vec<PolicyKey>> {
    let mut statement = conn.prepare(
        "SELECT namespace, name FROM revisions r WHERE kind = ?1 AND number = (SELECT MAX(number) \
         FROM revisions m WHERE m.kind = r.kind AND m.namespace = r.namespace AND m.name = r.name) \
         AND deleted = 0",
    )?;
    let rows = statement.query_map(params![kind.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter_map(|(namespace, name)| PolicyKey::from_columns(kind.as_str(), &namespace, &name))
        .collect())
}

pub(super) fn latest_in(conn: &Connection, key: &PolicyKey) -> Result<Option<Revision>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM revisions WHERE kind = ?1 AND namespace = ?2 AND name = ?3 \
         ORDER BY number DESC LIMIT 1"
    );
    let raw = conn
        .prepare_cached(&sql)?
        .query_row(key_params(key), raw)
        .optional()?;
    raw.map(decode).transpose()
}
