//! Calico's policy kinds' watchers against the in-process demo server (`--cni calico`'s
//! server: `projectcalico.org/v3` served as Calico's API server serves it): listed and followed
//! like Cilium's; served only as the `crd.projectcalico.org/v1` CRDs, watched there; forbidden,
//! the analysis goes on without them and says so in one sentence; not served (a Cilium
//! cluster), nothing is said of them.

mod watch_support;

use std::time::Duration;

use kube::api::{DeleteParams, DynamicObject, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client};
use palisade::app::state::SyncState;
use palisade::model::{NativeKind, NativeRef, ResourceKind};
use palisade::sim::{NO_TIERS_CONTEXT, Scenario, ServerOptions};
use watch_support::{
    Console, converged, eventually, fast_options, fast_timing, plain_client, server,
};

const CONVERGE: Duration = Duration::from_secs(15);

fn calico_options() -> ServerOptions {
    ServerOptions {
        cilium: false,
        calico: true,
        ..fast_options(None)
    }
}

fn gnps(client: &Client) -> Api<DynamicObject> {
    let kind = NativeKind::CalicoGlobalNetworkPolicy;
    let resource = ApiResource {
        group: kind.group().into(),
        version: kind.version().into(),
        api_version: kind.api_version(),
        kind: kind.kind().into(),
        plural: kind.plural().into(),
    };
    Api::all_with(client.clone(), &resource)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_calico_kinds_are_listed_and_followed() {
    let server = server(calico_options()).await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    converged(&console, &client, CONVERGE).await;
    {
        let state = console.state();
        assert_eq!(
            state.cluster.natives.len(),
            Scenario::builtin().calico_count()
        );
        for kind in NativeKind::CALICO.map(ResourceKind::Native) {
            assert_eq!(state.sync.get(&kind), Some(&SyncState::Live), "{kind:?}");
        }
        // No cilium.io on a Calico cluster.
        assert_eq!(state.not_served_natives.len(), 2);
        let tier = NativeRef::new(NativeKind::CalicoTier, "", "security");
        let info = &state.cluster.natives[&tier];
        assert_eq!(info.api_version(), "projectcalico.org/v3");
        assert!(
            state.coverage().lines().is_empty(),
            "evaluated, not counted"
        );
    }

    let gnp: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "security.e2e-deny"},
        "spec": {"tier": "security", "order": 30, "selector": "app == 'web'",
            "types": ["Ingress"], "ingress": [{"action": "Deny"}]},
    }))
    .unwrap();
    gnps(&client)
        .create(&PostParams::default(), &gnp)
        .await
        .expect("created");
    let id = NativeRef::new(
        NativeKind::CalicoGlobalNetworkPolicy,
        "",
        "security.e2e-deny",
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
    gnps(&client)
        .delete("security.e2e-deny", &DeleteParams::default())
        .await
        .expect("deleted");
    converged(&console, &client, CONVERGE).await;
    assert!(!console.state().cluster.natives.contains_key(&id));
}

/// A cluster without Calico's API server: its kinds only in the `crd.projectcalico.org/v1`
/// CRDs. Watched there, and the objects keep that apiVersion (where writes go).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calico_kinds_served_only_as_crds_are_watched_there() {
    let server = server(ServerOptions {
        cilium: false,
        calico_crds: true,
        ..fast_options(None)
    })
    .await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    eventually("Calico's kinds listed from the CRDs", CONVERGE, || async {
        let state = console.state();
        (state.is_live() && state.cluster.natives.len() == Scenario::builtin().calico_count())
            .then_some(())
    })
    .await;
    {
        let state = console.state();
        for kind in NativeKind::CALICO.map(ResourceKind::Native) {
            assert_eq!(state.sync.get(&kind), Some(&SyncState::Live), "{kind:?}");
        }
        assert!(
            state
                .cluster
                .natives
                .values()
                .all(|n| n.api_version() == "crd.projectcalico.org/v1")
        );
    }
    // The v3 group is not served; a policy written to the CRD shows up.
    let crd = ApiResource {
        group: "crd.projectcalico.org".into(),
        version: "v1".into(),
        api_version: "crd.projectcalico.org/v1".into(),
        kind: "GlobalNetworkPolicy".into(),
        plural: "globalnetworkpolicies".into(),
    };
    let (status, _) = match gnps(&client).list(&Default::default()).await {
        Err(kube::Error::Api(e)) => (e.code, ()),
        other => panic!("v3 served? {other:?}"),
    };
    assert_eq!(status, 404);
    let gnp: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "security.e2e-crd"},
        "spec": {"tier": "security", "order": 31, "selector": "all()"},
    }))
    .unwrap();
    Api::<DynamicObject>::all_with(client.clone(), &crd)
        .create(&PostParams::default(), &gnp)
        .await
        .expect("created");
    let id = NativeRef::new(
        NativeKind::CalicoGlobalNetworkPolicy,
        "",
        "security.e2e-crd",
    );
    eventually(
        "the console sees the CRD's new policy",
        CONVERGE,
        || async {
            console
                .state()
                .cluster
                .natives
                .contains_key(&id)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_calico_kinds_do_not_hold_the_analysis_back_and_are_said_plainly() {
    let server = server(ServerOptions {
        tiers_forbidden_user: true,
        ..calico_options()
    })
    .await;
    let console =
        Console::start_in(&server, Some(NO_TIERS_CONTEXT), fast_timing(), |_, _, _| {}).await;
    eventually(
        "Calico's kinds forbidden and enough listed to analyse",
        CONVERGE,
        || async {
            let state = console.state();
            let forbidden = NativeKind::CALICO
                .map(ResourceKind::Native)
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
            &"NetworkPolicy.projectcalico.org, GlobalNetworkPolicy, Tier, StagedNetworkPolicy, StagedGlobalNetworkPolicy and StagedKubernetesNetworkPolicy are served but forbidden to you: the matrix cannot be trusted"
                .to_string()
        ),
        "{:?}",
        coverage.lines()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_calico_says_nothing_of_its_kinds() {
    // The default demo: Cilium's kinds, no projectcalico.org.
    let server = server(fast_options(None)).await;
    let client = plain_client(&server).await;
    let console = Console::start(&server, fast_timing()).await;
    converged(&console, &client, CONVERGE).await;
    let state = console.state();
    assert!(
        state
            .cluster
            .natives
            .keys()
            .all(|id| id.kind.family() == palisade::model::NativeFamily::Cilium)
    );
    assert!(
        NativeKind::CALICO
            .iter()
            .all(|k| state.not_served_natives.contains(k)
                && !state.sync.contains_key(&ResourceKind::Native(*k)))
    );
    assert!(state.coverage().lines().is_empty());
}
