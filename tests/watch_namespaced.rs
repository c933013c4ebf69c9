//! A user whose Role covers some namespaces only (the demo's `palisade-demo-acme`), through the
//! real watchers against the demo server: the cluster-wide lists are forbidden, so the
//! kubeconfig context's namespace (or the asked ones) are watched, and nothing else; the
//! console learns what it cannot see.

mod watch_support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use palisade::app::state::SyncState;
use palisade::cluster::connect::ClusterSource;
use palisade::model::{ResourceKind, ScopeReason};
use palisade::sim::{SCOPED_CONTEXT, SCOPED_NAMESPACE};
use watch_support::{Console, eventually, fast_options, fast_timing, server};

const CONVERGE: Duration = Duration::from_secs(15);

async fn scoped_connection(server: &palisade::sim::DemoServer) -> palisade::cluster::Connection {
    palisade::cluster::connect(
        ClusterSource::Kubeconfig(Box::new(server.kubeconfig())),
        Some(SCOPED_CONTEXT),
    )
    .await
    .expect("the scoped user connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_cluster_falls_back_to_the_context_namespace_and_watches_only_it() {
    let server = server(fast_options(None)).await;
    let connection = scoped_connection(&server).await;
    // What a real API server answers this user: 403 on the cluster-wide list.
    let all: Api<Pod> = Api::all(connection.client.clone());
    let refused = all.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.code == 403 && s.message.contains("at the cluster scope")),
        "{refused:?}"
    );
    let console = Console::start_on(&connection, fast_timing(), |_, _, _| {});
    eventually("listed in its namespace", CONVERGE, || async {
        let state = console.state();
        state.all_listed().then_some(())
    })
    .await;
    let state = console.state();
    let scope = state.scope.clone().expect("the console knows its scope");
    assert_eq!(scope.namespaces, [SCOPED_NAMESPACE]);
    assert!(matches!(scope.reason, ScopeReason::ClusterForbidden(_)));
    assert!(
        !scope.labels_known,
        "a Role cannot grant get on Namespace objects"
    );
    assert!(
        state.coverage().lines()[0].starts_with("you can see 1 of ? namespaces (acme-web)"),
        "{:?}",
        state.coverage().lines()
    );
    // Only its namespace's objects, and the core kinds live (not "Loading namespaces…").
    assert!(!state.cluster.pods.is_empty());
    assert!(
        state
            .cluster
            .pods
            .keys()
            .all(|id| id.namespace == SCOPED_NAMESPACE)
    );
    assert!(
        state
            .cluster
            .policies
            .keys()
            .all(|id| id.namespace == SCOPED_NAMESPACE)
    );
    assert_eq!(
        state.cluster.namespaces.keys().collect::<Vec<_>>(),
        [SCOPED_NAMESPACE]
    );
    for kind in ResourceKind::ALL {
        assert_eq!(state.sync.get(&kind), Some(&SyncState::Live), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_namespaces_are_access_reviewed_and_watched_together() {
    let server = server(fast_options(None)).await;
    let mut connection = scoped_connection(&server).await;
    connection.scope.ask(
        &[
            "acme-web".to_string(),
            "acme-api".to_string(),
            "globex-web".to_string(),
        ],
        &[],
    );
    let console = Console::start_on(&connection, fast_timing(), |_, _, _| {});
    eventually("listed in its namespaces", CONVERGE, || async {
        console.state().all_listed().then_some(())
    })
    .await;
    let state = console.state();
    let scope = state.scope.clone().expect("scoped");
    assert_eq!(scope.namespaces, ["acme-api", "acme-web"]);
    assert_eq!(scope.reason, ScopeReason::Asked);
    // The access review refused the namespace outside the Role, with the server's reason.
    assert_eq!(scope.refused.len(), 1, "{:?}", scope.refused);
    assert_eq!(scope.refused[0].0, "globex-web");
    let namespaces: Vec<&String> = state.cluster.pods.keys().map(|id| &id.namespace).collect();
    assert!(namespaces.iter().any(|ns| *ns == "acme-api"));
    assert!(namespaces.iter().any(|ns| *ns == "acme-web"));
    assert!(namespaces.iter().all(|ns| ns.starts_with("acme-")));
}

/// The rollback's pre-flight access review, as the scoped user: a write in its namespace is
/// allowed, one outside is refused with the server's reason (before anything is written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollback_access_review_refuses_writes_outside_the_role() {
    use palisade::rollback::preflight::access_review_for;
    let server = server(fast_options(None)).await;
    let connection = scoped_connection(&server).await;
    let client = &connection.client;
    let review = |namespace: &'static str| {
        access_review_for(
            client,
            "patch",
            "networking.k8s.io",
            "networkpolicies",
            Some(namespace),
            Some("default-deny"),
        )
    };
    assert!(review("acme-web").await.allowed);
    let outside = review("globex-web").await;
    assert!(!outside.allowed);
    assert!(
        outside.reason.contains("acme-* namespaces only"),
        "{outside:?}"
    );
}
