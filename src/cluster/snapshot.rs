//! A one-shot snapshot of the cluster for the headless commands, through the same watchers as
//! the console: they list (paginated) and the first complete list of every kind is the snapshot.
//! The optional kinds count once discovery has settled them: a tier kind not served or
//! forbidden (a 403: analysed without it, and said so) does not hold the snapshot back.

use std::collections::BTreeSet;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use tokio::sync::mpsc;

use super::{Connection, Watchers};
use crate::model::{
    ClusterNews, ClusterSnapshot, Coverage, Health, NativeKind, ResourceKind, TierKind, WatchEvent,
};
use crate::progress::Phase;

/// How long a headless command waits for the initial lists.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

/// A live cluster's snapshot and what it could not see.
#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    pub snapshot: ClusterSnapshot,
    pub coverage: Coverage,
}

pub async fn fetch_snapshot(connection: &Connection) -> Result<ClusterSnapshot> {
    Ok(fetch_snapshot_reporting(connection, &mut |_| {})
        .await?
        .snapshot)
}

/// Every kind the snapshot waits for: the three always watched, and each tier and Cilium kind
/// until discovery says it is not served.
fn awaited() -> BTreeSet<ResourceKind> {
    ResourceKind::ALL
        .into_iter()
        .chain(TierKind::ALL.map(ResourceKind::Tier))
        .chain(NativeKind::ALL.map(ResourceKind::Native))
        .collect()
}

/// As [`fetch_snapshot`], with the coverage, reporting each page of the lists as a [`Phase`]
/// (`listing pods 40,000/100,000`, the total from the server's `remainingItemCount`).
pub async fn fetch_snapshot_reporting(
    connection: &Connection,
    on_phase: &mut dyn FnMut(&Phase),
) -> Result<LiveSnapshot> {
    Ok(list_and_keep_watching(connection, on_phase).await?.live)
}

/// The snapshot, and the watchers still running with what they report after it: a headless
/// command that follows the cluster (`palisade flows --follow`) applies the news to its
/// snapshot instead of listing again.
pub struct LiveCluster {
    pub live: LiveSnapshot,
    pub watchers: Watchers,
    pub news: mpsc::UnboundedReceiver<ClusterNews>,
}

impl LiveCluster {
    /// Applies an object change the watchers reported after the snapshot; true when the
    /// snapshot changed. Health and counts change nothing here.
    pub fn apply(snapshot: &mut ClusterSnapshot, news: ClusterNews) -> bool {
        let ClusterNews::Watch { kind, event } = news else {
            return false;
        };
        match event {
            WatchEvent::Listed(objects) => snapshot.replace_kind(kind, objects),
            WatchEvent::Applied(object) => snapshot.upsert(*object),
            WatchEvent::Deleted { namespace, name } => {
                snapshot.remove(kind, namespace.as_deref(), &name)
            }
            _ => return false,
        }
        true
    }
}

/// As [`fetch_snapshot_reporting`], keeping the watchers.
pub async fn list_and_keep_watching(
    connection: &Connection,
    on_phase: &mut dyn FnMut(&Phase),
) -> Result<LiveCluster> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watchers = Watchers::spawn_for(connection, move |news| tx.send(news).is_ok());
    let mut live = LiveSnapshot::default();
    let mut waiting = awaited();
    let mut counted = false;
    let deadline = tokio::time::Instant::now() + LIST_TIMEOUT;
    while !waiting.is_empty() || !counted {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| {
                eyre!(
                    "listing the cluster took longer than {} s",
                    LIST_TIMEOUT.as_secs()
                )
            })?;
        let (kind, event) = match msg {
            None => return Err(eyre!("the watchers stopped before listing the cluster")),
            Some(ClusterNews::Scope(scope)) => {
                live.coverage.scope = Some(scope);
                continue;
            }
            Some(ClusterNews::Unevaluated(counts)) => {
                live.coverage.unevaluated = counts;
                counted = true;
                continue;
            }
            Some(ClusterNews::Watch { kind, event }) => (kind, event),
        };
        match event {
            WatchEvent::Listing { listed, remaining } => {
                let listed = listed as u64;
                let total = remaining.map(|r| listed + r);
                on_phase(&Phase::counted(listing_label(kind), listed, total));
            }
            WatchEvent::Listed(objects) => {
                let count = objects.len() as u64;
                on_phase(&Phase::counted(listing_label(kind), count, Some(count)));
                live.snapshot.replace_kind(kind, objects);
                waiting.remove(&kind);
            }
            WatchEvent::NotServed => {
                waiting.remove(&kind);
            }
            // A served tier or Cilium kind the user may not read: analysed without it, and
            // said so.
            WatchEvent::Health(Health::Forbidden { .. })
                if matches!(kind, ResourceKind::Tier(_) | ResourceKind::Native(_))
                    && waiting.contains(&kind) =>
            {
                waiting.remove(&kind);
                match kind {
                    ResourceKind::Tier(tier) => live.coverage.forbidden.push(tier),
                    ResourceKind::Native(native) => live.coverage.forbidden_natives.push(native),
                    _ => {}
                }
            }
            // Headless: the first failure is the answer (a 403 on namespaces, say), not a retry.
            WatchEvent::Health(
                Health::Reconnecting { error, .. } | Health::Forbidden { error, .. },
            ) if waiting.contains(&kind) => {
                let hint = match &live.coverage.scope {
                    Some(scope) if scope.namespaces.is_empty() => format!("; {}", scope.line()),
                    _ => String::new(),
                };
                return Err(eyre!(
                    "cannot list {} (context `{}`): {error}{hint}",
                    kind.short_name(),
                    connection.context
                ));
            }
            _ => {}
        }
    }
    live.coverage.scope = (live.coverage.scope.take()).map(|s| s.with_selectors(&live.snapshot));
    live.coverage.forbidden.sort();
    live.coverage.forbidden_natives.sort();
    Ok(LiveCluster {
        live,
        watchers,
        news: rx,
    })
}

/// The phase's words for listing one kind.
pub fn listing_label(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Namespace => "listing namespaces",
        ResourceKind::Pod => "listing pods",
        ResourceKind::NetworkPolicy => "listing policies",
        ResourceKind::Tier(_) => "listing tier policies",
        ResourceKind::Native(_) => "listing CNI policies",
    }
}
