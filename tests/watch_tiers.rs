//! The tier kinds' watchers against the in-process demo server: a kind forbidden to the user
//! is retried with backoff (never in a hot loop) and does not hold the analysis back; a served
//! kind converges with the server like the others.

mod watch_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use palisade::app::state::SyncState;
use palisade::cluster::Timing;
use palisade::model::{Health, ResourceKind, TierKind, WatchEvent};
use palisade::sim::{Fault, NO_TIERS_CONTEXT, ServerOptions};
use watch_support::{
    Console, converged, eventually, fast_options, fast_timing, plain_client, server,
};

const CONVERGE: Duration = Duration::from_secs(15);
const CNP: ResourceKind = ResourceKind::Tier(TierKind::ClusterNetworkPolicy);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_tier_kind_is_retried_with_backoff_and_the_analysis_goes_on() {
    let server = server(ServerOptions {
        tiers: true,
        tiers_forbidden_user: true,
        ..fast_options(None)
    })
    .await;
    let timing = fast_timing();
    let console = Console::start_in(&server, Some(NO_TIERS_CONTEXT), timing, |_, _, _| {}).await;
    // `all_listed` is what lets the console's settle start an analysis.
    eventually(
        "cnp forbidden and enough listed to analyse",
        CONVERGE,
        || async {
            let state = console.state();
            let forbidden = matches!(state.sync.get(&CNP), Some(SyncState::Forbidden { .. }));
            (forbidden && state.all_listed()).then_some(())
        },
    )
    .await;
    // Over two seconds the backoff (50 ms doubling to 500 ms) allows about eight attempts; a
    // hot loop would make hundreds.
    let from = console.log_len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = console
        .log_since(from)
        .iter()
        .filter(|(kind, event)| {
            *kind == CNP && matches!(event, WatchEvent::Health(Health::Forbidden { .. }))
        })
        .count();
    assert!((2..=10).contains(&attempts), "{attempts} attempts in 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_tier_kinds_are_listed_and_converge_with_the_server() {
    let server = server(ServerOptions {
        tiers: true,
        ..fast_options(None)
    })
    .await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    converged(&console, &client, CONVERGE).await;
    let state = console.state();
    assert!(
        !state.cluster.tiers.is_empty(),
        "the scenario's tier policies"
    );
    for tier in TierKind::ALL {
        assert_eq!(
            state.sync.get(&ResourceKind::Tier(tier)),
            Some(&SyncState::Live)
        );
    }
}

/// The counts of the kinds Palisade does not evaluate come again when a watch reconnects, not
/// only every `count_every`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_not_evaluated_are_counted_again_after_a_reconnect() {
    let server = server(ServerOptions {
        foreign: "MultiNetworkPolicy=12".parse().unwrap(),
        ..fast_options(None)
    })
    .await;
    let timing = Timing {
        count_every: Duration::from_secs(3600),
        ..fast_timing()
    };
    let console = Console::start(&server, timing).await;
    let counted = console.counted.clone();
    eventually("every kind live and the first count", CONVERGE, || async {
        (console.all_live() && counted.load(Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    let line = "not evaluated: 12 MultiNetworkPolicy";
    assert!(console.state().coverage().lines()[0].starts_with(line));
    let before = counted.load(Ordering::SeqCst);
    // A one-second cut: the watches fail, reconnect and come back live.
    server.inject(Fault::Drop(Duration::from_secs(1)));
    eventually("a count after the reconnect", CONVERGE, || async {
        (counted.load(Ordering::SeqCst) > before).then_some(())
    })
    .await;
}
