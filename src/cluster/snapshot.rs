//! A one-shot snapshot of the cluster for the headless commands, through the same watchers as
//! the console: they list (paginated) and the first complete list of every kind is the snapshot.

use std::collections::BTreeSet;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use tokio::sync::mpsc;

use super::{Connection, Watchers};
use crate::model::{ClusterSnapshot, Health, ResourceKind, WatchEvent};
use crate::progress::Phase;

/// How long a headless command waits for the initial lists.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn fetch_snapshot(connection: &Connection) -> Result<ClusterSnapshot> {
    fetch_snapshot_reporting(connection, &mut |_| {}).await
}

/// As [`fetch_snapshot`], reporting each page of the lists as a [`Phase`]
/// (`listing pods 40,000/100,000`, the total from the server's `remainingItemCount`).
pub async fn fetch_snapshot_reporting(
    connection: &Connection,
    on_phase: &mut dyn FnMut(&Phase),
) -> Result<ClusterSnapshot> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _watchers = Watchers::spawn(&connection.client, move |kind, event| {
        tx.send((kind, event)).is_ok()
    });
    let mut snapshot = ClusterSnapshot::default();
    let mut listed = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + LIST_TIMEOUT;
    while listed.len() < ResourceKind::ALL.len() {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| {
                eyre!(
                    "listing the cluster took longer than {} s",
                    LIST_TIMEOUT.as_secs()
                )
            })?;
        let Some((kind, event)) = msg else {
            return Err(eyre!("the watchers stopped before listing the cluster"));
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
                snapshot.replace_kind(kind, objects);
                listed.insert(kind);
            }
            // Headless: the first failure is the answer (a 403 on namespaces, say), not a retry.
            WatchEvent::Health(Health::Reconnecting { error, .. }) => {
                return Err(eyre!(
                    "cannot list {} (context `{}`): {error}",
                    kind.short_name(),
                    connection.context
                ));
            }
            _ => {}
        }
    }
    Ok(snapshot)
}

/// The phase's words for listing one kind.
pub fn listing_label(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Namespace => "listing namespaces",
        ResourceKind::Pod => "listing pods",
        ResourceKind::NetworkPolicy => "listing policies",
        ResourceKind::Tier(_) => "listing tier policies",
    }
}
