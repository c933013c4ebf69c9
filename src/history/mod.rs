//! The revision journal: every observed version of every NetworkPolicy, every cluster-scoped
//! tier policy (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) and every
//! CNI policy (Cilium's and Calico's kinds, `model::NativeKind`), in an SQLite file that operators can open with `sqlite3` (see `docs/history.md`).
//!
//! * [`Journal`] (`store.rs`): open, record (`observe`, `deleted`, `seed`) and query revisions.
//!   Every write is one transaction; the file is in WAL mode with `synchronous=FULL`, so a
//!   `kill -9` at any moment leaves whole revisions or none.
//! * `key.rs`: what a revision is of ([`PolicyKey`]: `NS/NAME` or `cnp/NAME`) and the API object
//!   of either kind ([`PolicyObject`]).
//! * `content.rs`: what a revision keeps of a policy, and the one-line summary of what changed.
//! * `exchange.rs`: export and import as JSON lines (one revision per line, versioned).
//! * `location.rs`: where the journal lives, keyed by cluster and context, resolvable from the
//!   kubeconfig alone (no cluster needed to read history).
//! * `record.rs`: the headless recorder behind `palisade record` (a kube-rs watcher into the
//!   journal).
//!
//! The `audit` table (shape in `schema.rs` and `docs/history.md`) is written by
//! `rollback::audit`, one row per rollback attempt, next to an append-only JSON-lines file.
//!
//! The `record` and `history` commands (arguments in `cli/`, runners in `commands/`) use this
//! library; nothing here parses the command line.

pub mod content;
pub mod exchange;
pub mod key;
pub mod location;
pub mod record;
mod rows;
pub mod schema;
pub mod store;

#[cfg(test)]
mod exchange_tests;
#[cfg(test)]
mod native_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tier_tests;

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

pub use content::summarize;
pub use exchange::{ExportReport, ImportReport};
pub use key::{PolicyKey, PolicyKind, PolicyObject};
pub use location::{JournalIdentity, default_journal_path, identity_from_source, journal_key};
pub use store::{Journal, JournalEvent};

/// What happened to the policy in a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Seen on the cluster (created, changed, or first seen when the journal was seeded).
    Observed,
    /// Deleted: the revision is a tombstone carrying the last spec.
    Deleted,
    /// Written by a Palisade rollback (reserved for the rollback work).
    Rollback,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Observed => "observed",
            Operation::Deleted => "deleted",
            Operation::Rollback => "rollback",
        }
    }

    pub fn parse(text: &str) -> Option<Operation> {
        match text {
            "observed" => Some(Operation::Observed),
            "deleted" => Some(Operation::Deleted),
            "rollback" => Some(Operation::Rollback),
            _ => None,
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored version of one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The cluster (API server URL) and context that observed it: provenance only. A journal
    /// file belongs to one cluster; revisions of a policy are keyed by kind, namespace and name.
    pub cluster: String,
    pub context: String,
    pub kind: PolicyKind,
    /// Empty for a cluster-scoped policy.
    pub namespace: String,
    pub name: String,
    /// Per policy: 1, 2, 3, … with no gaps.
    pub number: u32,
    pub resource_version: Option<String>,
    pub generation: Option<i64>,
    /// RFC 3339, UTC, millisecond precision (sorts as text).
    pub observed_at: String,
    /// The newest managedFields manager, where the object carried one.
    pub manager: Option<String>,
    pub operation: Operation,
    /// A tombstone: the policy was deleted; `spec`, `labels` and `annotations` are its last ones.
    pub deleted: bool,
    /// A NetworkPolicy's spec (`None` for a tier policy).
    pub spec: Option<NetworkPolicySpec>,
    /// A tier policy's spec as served, or a native policy's body (`history::key::native_body`:
    /// every field but metadata and status); `None` for a NetworkPolicy.
    pub tier_spec: Option<serde_json::Value>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl Revision {
    pub fn key(&self) -> PolicyKey {
        match self.kind {
            PolicyKind::NetworkPolicy => PolicyKey::network(&self.namespace, &self.name),
            PolicyKind::Tier(kind) => PolicyKey::Tier(crate::model::TierRef::new(kind, &self.name)),
            PolicyKind::Native(kind) => PolicyKey::Native(crate::model::NativeRef::new(
                kind,
                &self.namespace,
                &self.name,
            )),
        }
    }

    /// The object as this revision knew it, ready to be applied (no resourceVersion, uid or
    /// managedFields): what a rollback restores.
    pub fn to_object(&self) -> PolicyObject {
        match self.kind {
            PolicyKind::NetworkPolicy => PolicyObject::Network(self.to_policy()),
            PolicyKind::Tier(kind) => PolicyObject::tier(
                kind,
                ObjectMeta {
                    name: Some(self.name.clone()),
                    labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                    annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                    ..ObjectMeta::default()
                },
                self.tier_spec.clone(),
            ),
            PolicyKind::Native(kind) => PolicyObject::native(
                kind,
                ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: kind.namespaced().then(|| self.namespace.clone()),
                    labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                    annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                    ..ObjectMeta::default()
                },
                self.tier_spec.clone(),
            ),
        }
    }

    /// The spec as JSON, of either kind (`null`: none recorded).
    pub fn spec_value(&self) -> serde_json::Value {
        match self.kind {
            PolicyKind::NetworkPolicy => {
                serde_json::to_value(&self.spec).unwrap_or(serde_json::Value::Null)
            }
            PolicyKind::Tier(_) | PolicyKind::Native(_) => {
                self.tier_spec.clone().unwrap_or(serde_json::Value::Null)
            }
        }
    }

    /// A NetworkPolicy revision as the object it recorded (see [`Revision::to_object`]).
    pub fn to_policy(&self) -> NetworkPolicy {
        NetworkPolicy {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                ..ObjectMeta::default()
            },
            spec: self.spec.clone(),
        }
    }
}

/// The newest revision of a policy in short: the console's CHANGED column.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub number: u32,
    pub observed_at: String,
    pub manager: Option<String>,
    pub operation: Operation,
    pub deleted: bool,
    /// What changed against the previous revision, e.g. "ingress rules 2→3, podSelector changed".
    pub summary: String,
}

/// Journal errors. Import errors name the line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the journal directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("no journal at {0} yet: run `palisade record`, or `palisade history import FILE`")]
    Missing(String),
    #[error(
        "journal {path} has schema version {found}; this palisade knows up to {known} (upgrade palisade)"
    )]
    Schema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("stored revision {policy} #{number} is unreadable: {message}")]
    Corrupt {
        policy: String,
        number: i64,
        message: String,
    },
    #[error("line {line}: {message}")]
    Import { line: usize, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a policy without {0}")]
    Incomplete(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A timestamp as the journal stores it: RFC 3339, UTC, always millisecond precision, so that the
/// text sorts like the time.
pub fn stamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
