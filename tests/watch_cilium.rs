//! Cilium's policy kinds' watchers against the in-process demo server: served, they are listed
//! and followed like the tier kinds (through an expired history too); forbidden, the analysis
//! goes on without them and says so; not served, nothing is said of them.

mod watch_support;

use std::time::Duration;

use kube::api::{DeleteParams, DynamicObject, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client};
use palisade::app::state::SyncState;
use palisade::model::{NativeKind, NativeRef, ResourceKind};
use palisade::sim::{Fault, NO_TIERS_CONTEXT, Scenario, ServerOptions};
use watch_support::{
    Console, converged, eventually, fast_options, fast_timing, plain_client, server,
};

const CONVERGE: Duration = Duration::from_secs(15);
const CILIUMNP: ResourceKind = ResourceKind::Native(NativeKind::CiliumNetworkPolicy);
const CCNP: ResourceKind = ResourceKind::Native(NativeKind::CiliumClusterwideNetworkPolicy);

fn api(client: &Client, kind: NativeKind, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: kind.group().into(),
        version: kind.version().into(),
        api_version: kind.api_version(),
        kind: kind.kind().into(),
        plural: kind.plural().into(),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

fn deny_world(name: &str) -> DynamicObject {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": "acme-api"},
        "spec": {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_cilium_kinds_are_listed_and_followed_through_an_expired_history() {
    let server = server(fast_options(None)).await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    converged(&console, &client, CONVERGE).await;
    {
        let state = console.state();
        assert_eq!(
            state.cluster.natives.len(),
            Scenario::builtin().cilium_count()
        );
        assert!(
            state
                .cluster
                .natives
                .keys()
                .any(|id| id.kind == NativeKind::CiliumClusterwideNetworkPolicy)
        );
        for kind in [CILIUMNP, CCNP] {
            assert_eq!(state.sync.get(&kind), Some(&SyncState::Live), "{kind:?}");
        }
        assert!(
            state.coverage().lines().is_empty(),
            "evaluated, not counted"
        );
    }

    let cnps = api(&client, NativeKind::CiliumNetworkPolicy, "acme-api");
    cnps.create(&PostParams::default(), &deny_world("e2e-deny-world"))
        .await
        .expect("created");
    let id = NativeRef::new(
        NativeKind::CiliumNetworkPolicy,
        "acme-api",
        "e2e-deny-world",
    );
    eventually("the console sees the new policy", CONVERGE, || async {
        console
            .state()
            .cluster
            .natives
            .contains_key(&id)
            .then_some(())
    })
    .await;
    // The history is compacted: the watches get 410 and relist, missing nothing.
    server.inject(Fault::Expire);
    cnps.delete("e2e-deny-world", &DeleteParams::default())
        .await
        .expect("deleted");
    converged(&console, &client, CONVERGE).await;
    assert!(!console.state().cluster.natives.contains_key(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_cilium_kinds_do_not_hold_the_analysis_back_and_are_said_plainly() {
    let server = server(ServerOptions {
        tiers_forbidden_user: true,
        ..fast_options(None)
    })
    .await;
    let console =
        Console::start_in(&server, Some(NO_TIERS_CONTEXT), fast_timing(), |_, _, _| {}).await;
    eventually(
        "Cilium's kinds forbidden and enough listed to analyse",
        CONVERGE,
        || async {
            let state = console.state();
            let forbidden = [CILIUMNP, CCNP]
                .iter()
                .all(|k| matches!(state.sync.get(k), Some(SyncState::Forbidden { .. })));
            (forbidden && state.all_listed()).then_some(())
        },
    )
    .await;
    let coverage = console.state().coverage();
    assert!(!coverage.trustworthy());
    assert!(
        coverage.lines().contains(
            &"CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy are served but forbidden to you: the matrix cannot be trusted"
                .to_string()
        ),
        "{:?}",
        coverage.lines()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_cilium_says_nothing_of_its_kinds() {
    let server = server(ServerOptions {
        cilium: false,
        ..fast_options(None)
    })
    .await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    converged(&console, &client, CONVERGE).await;
    let state = console.state();
    assert!(state.cluster.natives.is_empty());
    assert!(
        state
            .sync
            .keys()
            .all(|k| !matches!(k, ResourceKind::Native(_)))
    );
    assert!(
        NativeKind::CILIUM
            .iter()
            .all(|k| state.not_served_natives.contains(k))
    );
    assert!(state.coverage().lines().is_empty());
}
