//! The demo cluster's simulated dataplane flows, read from the demo server's flow feed while a
//! real kube-rs client changes the policies: a broken allow-dns makes acme-web's DNS flows
//! dropped within seconds, a rollback forwards them again, and a lagging node disagrees with
//! the policies for its lag, then agrees by itself.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::KubeConfigOptions;
use kube::{Client, Config, ResourceExt};
use palisade::flows::{DataplaneVerdict, FlowRecord};
use palisade::policy::Direction;
use palisade::sim::flow_feed::FeedItem;
use palisade::sim::{AgentLag, DemoServer, Scenario, ServerOptions};
use tokio::sync::broadcast;

const DEADLINE: Duration = Duration::from_secs(30);

async fn start(options: ServerOptions) -> (DemoServer, Client) {
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is usable");
    (server, Client::try_from(config).expect("client builds"))
}

/// Reads flows until `check` says it has seen enough, failing after the deadline.
async fn read_until(
    rx: &mut broadcast::Receiver<FeedItem>,
    what: &str,
    mut check: impl FnMut(&FlowRecord) -> bool,
) -> FlowRecord {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let item = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out after {DEADLINE:?} waiting for {what}"));
        match item {
            Ok(FeedItem::Flow(flow)) if check(&flow) => return *flow,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => panic!("the feed closed"),
        }
    }
}

/// acme-web's DNS lookups over UDP.
fn acme_web_dns(f: &FlowRecord) -> bool {
    f.src.namespace.as_deref() == Some("acme-web")
        && f.dst.namespace.as_deref() == Some("kube-system")
        && f.service() == "UDP/53"
}

fn dropped(f: &FlowRecord) -> bool {
    f.verdict == DataplaneVerdict::Dropped
}

/// acme-web's pods and their nodes, as the API server has them.
async fn acme_web_nodes(client: &Client) -> BTreeMap<String, String> {
    let pods = Api::<Pod>::namespaced(client.clone(), "acme-web")
        .list(&ListParams::default())
        .await
        .expect("list pods");
    pods.items
        .iter()
        .map(|p| {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            (p.name_any(), node.expect("placed on a node"))
        })
        .collect()
}

/// Deletes acme-web/allow-dns and gives back a copy to restore it with.
async fn break_allow_dns(api: &Api<NetworkPolicy>) -> NetworkPolicy {
    let mut policy = api.get("allow-dns").await.expect("get allow-dns");
    api.delete("allow-dns", &DeleteParams::default())
        .await
        .expect("delete allow-dns");
    policy.metadata.resource_version = None;
    policy.metadata.uid = None;
    policy.metadata.creation_timestamp = None;
    policy.metadata.managed_fields = None;
    policy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_allow_dns_drops_acme_webs_dns_flows_and_a_rollback_forwards_them_again() {
    let options = ServerOptions {
        flow_rate: 2000,
        agent_lag: AgentLag::Off,
        ..ServerOptions::default()
    };
    let (server, client) = start(options).await;
    let (_, mut rx) = server.flow_feed().subscribe();
    let nodes = acme_web_nodes(&client).await;
    read_until(&mut rx, "forwarded acme-web DNS flows", |f| {
        acme_web_dns(f) && f.verdict == DataplaneVerdict::Forwarded
    })
    .await;

    let api = Api::<NetworkPolicy>::namespaced(client.clone(), "acme-web");
    let saved = break_allow_dns(&api).await;
    let drop = read_until(&mut rx, "dropped acme-web DNS flows", |f| {
        acme_web_dns(f) && dropped(f)
    })
    .await;
    assert_eq!(drop.reason.as_deref(), Some("POLICY_DENIED"));
    assert_eq!(drop.direction, Some(Direction::Egress));
    let src = drop.src.pod.as_deref().expect("a pod");
    assert_eq!(drop.node.as_deref(), Some(nodes[src].as_str()));
    assert!(drop.policies.is_empty(), "a default deny names no policy");

    api.create(&PostParams::default(), &saved)
        .await
        .expect("restore allow-dns");
    let back = read_until(&mut rx, "forwarded acme-web DNS flows again", |f| {
        acme_web_dns(f) && f.verdict == DataplaneVerdict::Forwarded
    })
    .await;
    // Flows come in time order: after the first forwarded one, none is dropped.
    let mut seen = 0;
    read_until(&mut rx, "more acme-web DNS flows after the rollback", |f| {
        if acme_web_dns(f) {
            assert!(!dropped(f), "dropped after the rollback: {f:?}");
            assert!(f.time >= back.time);
            seen += 1;
        }
        seen == 40
    })
    .await;
    server.shutdown().await;
}

/// How far behind the lagging node's agent is: long enough that a loaded machine still reads
/// the lagging node's stale flows inside the window (3 s failed once while a release build ran
/// beside the tests).
const LAG: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_forwards_denied_flows_for_its_lag_then_drops_them() {
    let lagging = "demo-node-c";
    let options = ServerOptions {
        flow_rate: 2000,
        agent_lag: AgentLag::Nodes(vec![(lagging.into(), LAG)]),
        ..ServerOptions::default()
    };
    let (server, client) = start(options).await;
    let (_, mut rx) = server.flow_feed().subscribe();
    let nodes = acme_web_nodes(&client).await;
    assert!(nodes.values().any(|n| n == lagging));
    assert!(nodes.values().any(|n| n != lagging));
    let on_lagging = |f: &FlowRecord| nodes[f.src.pod.as_deref().unwrap()] == lagging;
    // The agents must have evaluated allow-dns before it goes: an agent that starts after the
    // change has no older state to lag behind (on a loaded machine the delete could land
    // before the simulated agents took their first look, and the test failed about one run
    // in five).
    read_until(&mut rx, "acme-web DNS forwarded before the change", |f| {
        acme_web_dns(f) && f.verdict == DataplaneVerdict::Forwarded
    })
    .await;
    let api = Api::<NetworkPolicy>::namespaced(client.clone(), "acme-web");
    break_allow_dns(&api).await;

    let first = read_until(&mut rx, "drops on the up-to-date nodes", |f| {
        acme_web_dns(f) && dropped(f)
    })
    .await;
    assert!(
        !on_lagging(&first),
        "the lagging node drops first: {first:?}"
    );
    // The lagging agent still enforces the old allow-dns at the source.
    let stale = read_until(
        &mut rx,
        "the lagging node forwarding after the change",
        |f| acme_web_dns(f) && on_lagging(f) && f.direction == Some(Direction::Egress),
    )
    .await;
    assert_eq!(stale.verdict, DataplaneVerdict::Forwarded, "{stale:?}");
    assert_eq!(stale.policies[0].name.as_ref(), "allow-dns");
    let caught_up = read_until(&mut rx, "the lagging node dropping too", |f| {
        acme_web_dns(f) && on_lagging(f) && dropped(f)
    })
    .await;
    let late = caught_up.time.duration_since(first.time).unwrap();
    assert!(
        late >= LAG - Duration::from_secs(1),
        "caught up after {late:?}"
    );
    server.shutdown().await;
}
