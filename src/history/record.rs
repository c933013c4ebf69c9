//! `palisade record`: a headless kube-rs watcher on NetworkPolicies that journals every change.
//!
//! The initial list (and every relist after a `410 Gone`) seeds the journal: unchanged policies
//! add nothing, policies gone while nobody watched get tombstones. Each watch event is one
//! transaction. SIGTERM and SIGINT are only looked at between events, so the recorder exits after
//! the current transaction has committed.

use futures::StreamExt;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::signal::unix::{SignalKind, signal};

use super::{Journal, Result, Revision};
use crate::cluster::convert::keep_latest_managed_field;
use crate::progress::{Phase, Progress};

const LISTING: &str = "listing policies";

/// How the recorder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM or SIGINT.
    Signal,
    /// The watch stream ended (it does not, short of the runtime shutting down).
    StreamEnded,
}

/// Watches every namespace's NetworkPolicies and journals them until a stop signal arrives.
/// `report` is called once per recorded revision, after its transaction committed (the command
/// prints it to stderr).
/// The list and the seeding are shown on `progress` (nothing once watching).
pub async fn record(
    client: Client,
    journal: &mut Journal,
    progress: &Progress,
    mut report: impl FnMut(&Journal, &Revision),
) -> Result<Stopped> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let api: Api<NetworkPolicy> = Api::all(client);
    let stream = watcher(api, watcher::Config::default().page_size(500))
        .default_backoff()
        .modify(keep_latest_managed_field);
    let mut stream = std::pin::pin!(stream);
    let mut listed: Vec<NetworkPolicy> = Vec::new();
    loop {
        let item = tokio::select! {
            biased;
            _ = sigterm.recv() => return Ok(Stopped::Signal),
            _ = sigint.recv() => return Ok(Stopped::Signal),
            item = stream.next() => item,
        };
        let Some(item) = item else {
            return Ok(Stopped::StreamEnded);
        };
        let now = Timestamp::now();
        let recorded = match item {
            Ok(Event::Init) => {
                listed.clear();
                progress.show(&Phase::counted(LISTING, 0, None));
                Vec::new()
            }
            Ok(Event::InitApply(policy)) => {
                listed.push(policy);
                if listed.len().is_multiple_of(100) {
                    progress.show(&Phase::counted(LISTING, listed.len() as u64, None));
                }
                Vec::new()
            }
            Ok(Event::InitDone) => {
                let seeded = journal.seed_reporting(&listed, now, &mut progress.observer());
                progress.finish();
                let revisions = seeded?;
                eprintln!(
                    "palisade record: listed {} policies, {} new revision(s); watching",
                    listed.len(),
                    revisions.len()
                );
                listed.clear();
                revisions
            }
            Ok(Event::Apply(policy)) => journal.observe(&policy, now)?.into_iter().collect(),
            Ok(Event::Delete(policy)) => journal
                .deleted(
                    &policy.namespace().unwrap_or_default(),
                    &policy.name_any(),
                    Some(&policy),
                    now,
                )?
                .into_iter()
                .collect(),
            Err(err) => {
                // kube-rs retries with backoff; the journal keeps what it has.
                progress.note(&format!("palisade record: watch error (retrying): {err}"));
                Vec::new()
            }
        };
        for revision in &recorded {
            report(journal, revision);
        }
    }
}

/// The stderr line for a recorded revision: object, number, operation, version, manager.
pub fn describe(revision: &Revision, previous: Option<&Revision>) -> String {
    format!(
        "recorded {}/{} #{} {} rv={} by {}: {}",
        revision.namespace,
        revision.name,
        revision.number,
        revision.operation,
        revision.resource_version.as_deref().unwrap_or("-"),
        revision.manager.as_deref().unwrap_or("unknown"),
        super::summarize(previous, revision)
    )
}
