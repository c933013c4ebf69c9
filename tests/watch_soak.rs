//! Soak: fault after fault under `--churn`, then the console's namespaces, pods and policies
//! equal the server's (by content, resourceVersions included), and the revision journal, fed
//! from the console's watch as the console feeds it, lost nothing it could have seen.
//!
//! What "lost no revision" means (docs/architecture.md, "Watching, never polling"):
//! * every policy version the watch delivered is in the journal (or the journal already held
//!   that exact content: it records changes, not resyncs);
//! * the journal's newest revision of every policy is the server's current one;
//! * with faults the watch resumes from (cuts, 429, 500, stalls) every version the server
//!   produced is delivered and journalled. After a 410 or a replacement the watcher relists, and
//!   a version written and superseded inside that gap was never visible to any client.
//!
//! `PALISADE_SOAK_CYCLES` sets the number of faults (default 100); figures go to stderr
//! (`--nocapture`) and docs/performance.md.

mod watch_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use palisade::history::Journal;
use palisade::model::{ClusterObject, ObjectRef, ResourceKind, WatchEvent};
use palisade::sim::{Fault, Restart};
use watch_support::{Console, converged, eventually, fast_options, fast_timing, plain_client};

/// (namespace, name, resourceVersion)
type Version = (String, String, String);

#[derive(Default)]
struct Recorder {
    /// Every policy version the console's watch delivered (lists and events), with its spec.
    delivered: BTreeMap<Version, String>,
    errors: Vec<String>,
}

fn spec_text(policy: &NetworkPolicy) -> String {
    serde_json::to_string(&policy.spec).unwrap_or_default()
}

fn version(policy: &NetworkPolicy) -> Version {
    (
        policy.metadata.namespace.clone().unwrap_or_default(),
        policy.metadata.name.clone().unwrap_or_default(),
        policy.metadata.resource_version.clone().unwrap_or_default(),
    )
}

fn cycles() -> usize {
    std::env::var("PALISADE_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

struct Report {
    produced: usize,
    delivered: usize,
    journalled: usize,
    converge: Duration,
    total: Duration,
}

async fn soak(faults: &[Fault], cycles: usize, period: Duration) -> Report {
    let started = tokio::time::Instant::now();
    let mut server = watch_support::server(fast_options(Some(200))).await;
    let client = plain_client(&server).await;
    let mut writes = server.policy_writes();
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = Arc::new(Mutex::new(
        Journal::open(&dir.path().join("journal.sqlite"))
            .expect("journal opens")
            .with_source(&server.url(), "soak"),
    ));
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    // The console's journal feed (runtime/journal.rs): a list seeds, events are observed, a
    // deletion carries the object as the console last had it.
    let tap = {
        let (journal, recorder) = (journal.clone(), recorder.clone());
        move |state: &palisade::app::State, kind: ResourceKind, event: &WatchEvent| {
            if kind != ResourceKind::NetworkPolicy {
                return;
            }
            let mut journal = journal.lock().unwrap();
            let mut recorder = recorder.lock().unwrap();
            let now = Timestamp::now();
            let result = match event {
                WatchEvent::Listed(objects) => {
                    let policies: Vec<NetworkPolicy> = objects
                        .iter()
                        .filter_map(|o| match o {
                            ClusterObject::Policy(p) => Some(p.object.clone()),
                            _ => None,
                        })
                        .collect();
                    for p in &policies {
                        recorder.delivered.insert(version(p), spec_text(p));
                    }
                    journal.seed(&policies, now).map(|_| ())
                }
                WatchEvent::Applied(object) => match object.as_ref() {
                    ClusterObject::Policy(p) => {
                        recorder
                            .delivered
                            .insert(version(&p.object), spec_text(&p.object));
                        journal.observe(&p.object, now).map(|_| ())
                    }
                    _ => Ok(()),
                },
                WatchEvent::Deleted { namespace, name } => {
                    let id = ObjectRef::new(namespace.clone().unwrap_or_default(), name.clone());
                    let last = state.cluster.policies.get(&id).map(|p| &p.object);
                    journal
                        .deleted(&id.namespace, &id.name, last, now)
                        .map(|_| ())
                }
                _ => Ok(()),
            };
            if let Err(err) = result {
                recorder.errors.push(err.to_string());
            }
        }
    };
    let console = Console::start_with(&server, fast_timing(), tap).await;
    eventually("every kind live", Duration::from_secs(15), || async {
        console.all_live().then_some(())
    })
    .await;
    let mut ticker = tokio::time::interval(period);
    ticker.tick().await;
    for fault in faults.iter().cycle().take(cycles) {
        ticker.tick().await;
        server.inject(*fault);
    }
    // Let the last fault pass, then hold the cluster still and compare.
    server.stop_churn();
    let converge = converged(&console, &client, Duration::from_secs(30)).await;
    drop(console);

    let mut produced = BTreeSet::new();
    while let Ok(write) = writes.try_recv() {
        if !write.deleted {
            produced.insert((write.namespace, write.name, write.resource_version));
        }
    }
    let truth = watch_support::server_truth(&client)
        .await
        .expect("the server answers");
    server.shutdown().await;
    let recorder = std::mem::take(&mut *recorder.lock().unwrap());
    assert!(
        recorder.errors.is_empty(),
        "journal errors: {:?}",
        recorder.errors
    );
    let journal = journal.lock().unwrap();
    let mut journalled = 0;
    let mut revisions = BTreeMap::new();
    for ((ns, name, rv), spec) in &recorder.delivered {
        let of_policy = revisions
            .entry((ns.clone(), name.clone()))
            .or_insert_with(|| journal.revisions(ns, name).expect("revisions read"));
        let stored = of_policy
            .iter()
            .any(|r| r.resource_version.as_deref() == Some(rv.as_str()));
        let same_content = of_policy
            .iter()
            .any(|r| serde_json::to_string(&r.spec).unwrap_or_default() == *spec);
        assert!(
            stored || same_content,
            "delivered {ns}/{name} rv {rv} is not in the journal"
        );
        journalled += usize::from(stored);
    }
    // The journal's newest revision of each policy is the server's current version.
    for (id, policy) in &truth.policies {
        let latest = journal
            .latest(&id.namespace, &id.name)
            .expect("journal read")
            .unwrap_or_else(|| panic!("{id} is not in the journal"));
        assert!(!latest.deleted, "{id}");
        assert_eq!(
            serde_json::to_string(&latest.spec).unwrap(),
            spec_text(&policy.object),
            "{id}: the journal's newest revision is the server's"
        );
    }
    let delivered = recorder.delivered.len();
    let report = Report {
        produced: produced.len(),
        delivered,
        journalled,
        converge,
        total: started.elapsed(),
    };
    eprintln!(
        "soak: {cycles} faults every {period:?}: {} policy versions produced, {} delivered, {} journalled by resourceVersion; converged {:?} after the last fault; {:?} in all",
        report.produced, report.delivered, report.journalled, report.converge, report.total
    );
    // Only for faults the watch resumes from: nothing produced may be missed.
    if !faults
        .iter()
        .any(|f| matches!(f, Fault::Expire | Fault::Restart(_)))
    {
        let delivered: BTreeSet<&Version> = recorder.delivered.keys().collect();
        let missed: Vec<&Version> = produced.iter().filter(|v| !delivered.contains(v)).collect();
        assert!(
            missed.is_empty(),
            "{} of {} versions never reached the console: {:?}",
            missed.len(),
            produced.len(),
            &missed[..missed.len().min(5)]
        );
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_every_fault_under_churn() {
    let faults = [
        Fault::Drop(Duration::from_millis(200)),
        Fault::Throttle(3),
        Fault::Stall(Duration::from_millis(700)),
        Fault::Error(3),
        Fault::Expire,
        Fault::Restart(Restart {
            hang: Duration::from_millis(600),
            down: Duration::from_millis(100),
            forbidden: Duration::from_millis(300),
        }),
    ];
    let report = soak(&faults, cycles(), Duration::from_millis(400)).await;
    assert!(report.delivered > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_resumable_faults_lose_no_version() {
    let faults = [
        Fault::Drop(Duration::from_millis(200)),
        Fault::Throttle(3),
        Fault::Stall(Duration::from_millis(700)),
        Fault::Error(3),
    ];
    let report = soak(&faults, cycles() / 2, Duration::from_millis(400)).await;
    assert!(report.produced > 0 && report.journalled > 0);
}
