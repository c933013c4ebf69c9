//! The console's watchers against the demo server's faults: the status tells the truth while a
//! fault lasts, and afterwards the console's namespaces, pods and policies equal the server's.
//! Timings are the defaults scaled down (see `watch_support::fast_timing`).

mod watch_support;

use std::time::Duration;

use palisade::app::state::SyncState;
use palisade::model::{Health, ResourceKind, WatchEvent};
use palisade::sim::{Fault, Restart};
use watch_support::{
    Console, converged, create_namespace, eventually, fast_options, fast_timing, plain_client,
    relabel_namespace, server,
};

const CONVERGE: Duration = Duration::from_secs(15);

async fn live(console: &Console) {
    eventually("every kind live", CONVERGE, || async {
        console.all_live().then_some(())
    })
    .await;
}

/// Finding 1: after a 1-second cut, every kind said "stale" for good although events flowed
/// again (the watch resumed without a relist, and only a list made a kind live).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_cut_is_reconnecting_then_live_again_without_a_relist() {
    let server = server(fast_options(None)).await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    live(&console).await;
    let from = console.log_len();
    server.inject(Fault::Drop(Duration::from_secs(1)));
    eventually("a kind reconnecting", CONVERGE, || async {
        console
            .sync()
            .values()
            .any(|s| matches!(s, SyncState::Reconnecting { .. }))
            .then_some(())
    })
    .await;
    live(&console).await;
    create_namespace(&client, "after-the-cut").await;
    converged(&console, &client, CONVERGE).await;
    let since: Vec<_> = console.log_since(from);
    assert!(
        !since.iter().any(|(_, e)| *e == WatchEvent::Restarted),
        "a cut resumes from the last resourceVersion, no relist: {since:?}"
    );
    for kind in ResourceKind::ALL {
        assert!(
            since
                .iter()
                .any(|(k, e)| *k == kind && *e == WatchEvent::Health(Health::Live)),
            "{kind:?} came back live by itself: {since:?}"
        );
    }
}

/// Finding 2: a stopped server (kill -STOP) was shown live the whole time. The status must
/// leave "live" within about the probe interval plus its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_stale_within_probe_interval_and_deadline() {
    let server = server(fast_options(None)).await;
    let client = plain_client(&server).await;
    let timing = fast_timing();
    let console = Console::start(&server, timing).await;
    live(&console).await;
    let stall = Duration::from_secs(4);
    server.inject(Fault::Stall(stall));
    let started = tokio::time::Instant::now();
    // The watch was last heard of at most one bookmark interval before the stall.
    let bound = timing.probe_every * 2 + timing.probe_deadline + Duration::from_millis(500);
    eventually("no kind live", bound, || async {
        console
            .sync()
            .values()
            .all(|s| matches!(s, SyncState::Stale { .. } | SyncState::Reconnecting { .. }))
            .then_some(())
    })
    .await;
    assert!(started.elapsed() < stall, "noticed while the stall lasted");
    let sync = console.sync();
    assert!(
        sync.values().any(
            |s| matches!(s, SyncState::Stale { reason, .. } if reason.contains("probe failed"))
        ),
        "{sync:?}"
    );
    // Afterwards: live again, and what changed meanwhile arrives.
    live(&console).await;
    create_namespace(&client, "after-the-stall").await;
    converged(&console, &client, CONVERGE).await;
}

/// Finding 3: a server replaced by one with lower resourceVersions never converged: the resumed
/// watches, from versions the new server had not reached, stayed open and silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_server_with_lower_versions_is_relisted_and_converges() {
    let server = server(fast_options(None)).await;
    let client = plain_client(&server).await;
    // Writes that add no object: after renumbering, the new server's versions are lower.
    for i in 0..20 {
        relabel_namespace(&client, "acme-web", &i.to_string()).await;
    }
    let console = Console::start(&server, fast_timing()).await;
    live(&console).await;
    let before = server.resource_version();
    let lists_before = console.lists(ResourceKind::Namespace);
    server.inject(Fault::Restart(Restart {
        hang: Duration::from_secs(3),
        down: Duration::from_millis(500),
        forbidden: Duration::from_millis(300),
    }));
    assert!(
        server.resource_version() < before,
        "the versions restarted lower"
    );
    // The new server changes while the console's old watches hang.
    let new_client = plain_client(&server).await;
    eventually("the new server answering", CONVERGE, || async {
        watch_support::server_truth(&new_client).await.ok()
    })
    .await;
    create_namespace(&new_client, "after-the-restart").await;
    converged(&console, &new_client, CONVERGE).await;
    assert!(
        console.lists(ResourceKind::Namespace) > lists_before,
        "namespaces were listed again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_history_makes_every_kind_relist_and_converge() {
    let server = server(fast_options(None)).await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    live(&console).await;
    let lists: Vec<usize> = ResourceKind::ALL.map(|k| console.lists(k)).to_vec();
    server.inject(Fault::Expire);
    create_namespace(&client, "after-expiry").await;
    converged(&console, &client, CONVERGE).await;
    eventually("every kind relisted", CONVERGE, || async {
        ResourceKind::ALL
            .iter()
            .zip(&lists)
            .all(|(k, before)| console.lists(*k) > *before)
            .then_some(())
    })
    .await;
}

/// 429 (with Retry-After), 500 and the 403 a restarting server answers at first are all
/// transient: the watchers retry and converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_failing_and_forbidden_requests_are_retried() {
    let server = server(fast_options(None)).await;
    let client = plain_client(&server).await;
    // So that the restart's renumbering ends lower than the console's versions.
    for i in 0..5 {
        relabel_namespace(&client, "acme-web", &i.to_string()).await;
    }
    let console = Console::start(&server, fast_timing()).await;
    live(&console).await;
    for (fault, name) in [
        (Fault::Throttle(6), "after-429"),
        (Fault::Error(6), "after-500"),
        (
            Fault::Restart(Restart {
                hang: Duration::ZERO,
                down: Duration::ZERO,
                forbidden: Duration::from_millis(800),
            }),
            "after-403",
        ),
    ] {
        // A cut first, so the watchers have to come back through the fault.
        server.inject(Fault::Drop(Duration::ZERO));
        server.inject(fault);
        eventually("the fault over", CONVERGE, || async {
            watch_support::server_truth(&client).await.ok()
        })
        .await;
        create_namespace(&client, name).await;
        converged(&console, &client, CONVERGE).await;
    }
}
