//! What a watcher reports, already in Palisade's model. Produced by `cluster/` (the edge),
//! consumed by the console's `update` and by the headless commands; it depends on neither.

use k8s_openapi::jiff::Timestamp;

use super::{ClusterObject, ResourceKind, Unevaluated};

#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The watcher (re)started listing; the data shown may be stale until `Listed`.
    Restarted,
    /// A list is under way: `listed` objects so far, and the server's estimate of those still
    /// to come (`remainingItemCount`), when it sends one. Only progress: nothing changes yet.
    Listing {
        listed: usize,
        remaining: Option<u64>,
    },
    /// A complete list: replaces every object of the kind at once. The kind is live after it.
    Listed(Vec<ClusterObject>),
    Applied(Box<ClusterObject>),
    Deleted {
        namespace: Option<String>,
        name: String,
    },
    /// The watch's health changed (between two lists; a list is always followed by `Listed` or
    /// a `Reconnecting`). Times come from the watcher, never from the console's core.
    Health(Health),
    /// Discovery found that the cluster does not serve this (optional) kind: it is not watched,
    /// and nothing waits for it.
    NotServed,
}

/// Everything the watchers report: one kind's events, or the counts of the served policy kinds
/// Palisade does not evaluate (sent after discovery, then on each slow refresh).
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterNews {
    Watch {
        kind: ResourceKind,
        event: WatchEvent,
    },
    Unevaluated(Vec<Unevaluated>),
    /// The watchers found they see some namespaces only (asked, or the cluster-wide lists were
    /// forbidden): sent once, before the lists.
    Scope(super::NamespaceScope),
}

/// How much the console can trust what it shows of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The watch is open and the server answers.
    Live,
    /// Listing or watching failed at `since` and is being retried with backoff; `error` is the
    /// latest failure.
    Reconnecting { since: Timestamp, error: String },
    /// Nothing heard (no event, bookmark or probe answer) since `since`; `reason` says what the
    /// liveness probe found.
    Stale { since: Timestamp, reason: String },
    /// The server answered 403 Forbidden at `since`: the user may not list or watch the kind.
    /// Retried with the same backoff (a 403 right after a server restart is transient).
    Forbidden { since: Timestamp, error: String },
}
