//! The Calico flavour's simulated `calico-node` agents (`palisade demo --cni calico`): Felix's
//! Prometheus metrics on port 9091 through the API server's pod proxy, read with a real kube-rs
//! client, following the cluster as kubectl changes it; and the console's scraper discovering
//! and reading them as it does on a Calico cluster.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::Request;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use kube::{Client, ResourceExt};
use palisade::metrics::{Cni, extract, parse::parse};
use palisade::scrape::scraper::{self, ScrapeOptions};
use palisade::scrape::{Fetcher, MetricsEvent, default_rules, discover};
use palisade::sim::{DemoServer, Scenario, ServerOptions};
use serde_json::json;
use support::poll_until;
use tokio::sync::{mpsc, watch};

const DEADLINE: Duration = Duration::from_secs(30);
const APPLY_TIME: &str = "felix_int_dataplane_apply_time_seconds";

async fn start() -> (DemoServer, Client) {
    let options = ServerOptions {
        calico: true,
        cilium: false,
        ..ServerOptions::default()
    };
    support::demo_and_client(Scenario::builtin(), options).await
}

/// The calico-node pods, found by their DaemonSet's label.
async fn calico_nodes(client: &Client) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "kube-system")
        .list(&ListParams::default().labels("k8s-app=calico-node"))
        .await
        .expect("list calico-node pods")
        .items
}

async fn get(client: &Client, pod: &str, port: &str) -> Result<String, kube::Error> {
    let path = format!("/api/v1/namespaces/kube-system/pods/{pod}:{port}/proxy/metrics");
    let request = Request::get(path).body(vec![]).expect("request builds");
    client.request_text(request).await
}

/// One gauge per node: node → value.
async fn per_node(client: &Client, metric: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for pod in calico_nodes(client).await {
        let text = get(client, &pod.name_any(), "9091").await.expect("scraped");
        let scrape = parse(&text).expect("parses");
        let value = scrape
            .families
            .values()
            .flat_map(|f| &f.samples)
            .find(|s| s.name == metric)
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("{metric} missing:\n{text}"));
        let node = pod.spec.and_then(|s| s.node_name).expect("on a node");
        out.insert(node, value);
    }
    out
}

fn calico(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("projectcalico.org", "v3", kind),
        plural,
    )
}

/// The policies Felix enforces: the NetworkPolicies and Calico's (not the staged kinds, not
/// tiers).
async fn enforced_policies(client: &Client) -> f64 {
    let lp = ListParams::default();
    let netpols = Api::<NetworkPolicy>::all(client.clone())
        .list(&lp)
        .await
        .unwrap()
        .items
        .len();
    let mut calico_count = 0;
    for (kind, plural) in [
        ("NetworkPolicy", "networkpolicies"),
        ("GlobalNetworkPolicy", "globalnetworkpolicies"),
    ] {
        let api = Api::<DynamicObject>::all_with(client.clone(), &calico(kind, plural));
        calico_count += api.list(&lp).await.unwrap().items.len();
    }
    (netpols + calico_count) as f64
}

#[tokio::test]
async fn calico_node_pods_serve_felix_metrics_that_follow_the_policies() {
    let (server, client) = start().await;
    let pods = calico_nodes(&client).await;
    assert_eq!(pods.len(), 3, "one per node");
    let pod = pods[0].name_any();
    // The content type Felix sends, by number and by the container port's name.
    for port in ["9091", "felix-metrics"] {
        let path = format!("/api/v1/namespaces/kube-system/pods/{pod}:{port}/proxy/metrics");
        let request = Request::get(path).body(vec![]).expect("request");
        let response = client.send(request.map(Into::into)).await.expect("proxied");
        assert_eq!(response.status(), 200, "{port}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
    }
    // Cilium's ports are not a calico-node pod's: refused, as a real API server says.
    let err = get(&client, &pod, "9962").await.unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");

    // Every policy Felix enforces is active on each node (the demo counts them all).
    let want = enforced_policies(&client).await;
    assert!(want > 54.0, "NetworkPolicies and Calico's: {want}");
    let active = poll_until(
        "every node's Felix to load the policies",
        DEADLINE,
        || async {
            let active = per_node(&client, "felix_active_local_policies").await;
            active.values().all(|v| *v == want).then_some(active)
        },
    )
    .await;
    assert_eq!(active.len(), 3);
    for pod in calico_nodes(&client).await {
        let text = get(&client, &pod.name_any(), "9091").await.unwrap();
        let scrape = parse(&text).unwrap();
        assert!(scrape.errors.is_empty(), "{:?}", scrape.errors);
        assert_eq!(scrape.duplicates, 0);
        let m = extract(Cni::Calico, &scrape, None);
        assert!(
            m.drops.is_empty(),
            "open-source Felix exports no deny counter"
        );
        assert!(!text.contains("calico_denied_packets"));
        let apply = &m.latencies[0];
        assert_eq!(apply.metric, APPLY_TIME);
        assert_eq!(apply.quantiles.len(), 3, "0.5, 0.9, 0.99");
        assert!(
            apply.count >= want,
            "one apply per imported policy at least"
        );
    }
    let local = per_node(&client, "felix_active_local_endpoints").await;
    let cluster = per_node(&client, "felix_cluster_num_workload_endpoints").await;
    let total: f64 = local.values().sum();
    assert!(total > 0.0);
    assert!(
        cluster.values().all(|v| *v == total),
        "{local:?} {cluster:?}"
    );

    // A GlobalNetworkPolicy created: one more active policy on every node, and each node's Felix
    // applies it.
    let applies = per_node(&client, &format!("{APPLY_TIME}_count")).await;
    let gnps = Api::<DynamicObject>::all_with(
        client.clone(),
        &calico("GlobalNetworkPolicy", "globalnetworkpolicies"),
    );
    let gnp: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "security.felix-test"},
        "spec": {
            "tier": "security",
            "order": 500,
            "selector": "all()",
            "types": ["Ingress"],
            "ingress": [{"action": "Pass"}],
        },
    }))
    .unwrap();
    gnps.create(&PostParams::default(), &gnp)
        .await
        .expect("created");
    poll_until("Felix to count the new policy", DEADLINE, || async {
        let now = per_node(&client, "felix_active_local_policies").await;
        now.values().all(|v| *v == want + 1.0).then_some(())
    })
    .await;
    let after = per_node(&client, &format!("{APPLY_TIME}_count")).await;
    for (node, count) in &after {
        assert!(
            *count > applies[node],
            "{node}: {count} after {}",
            applies[node]
        );
    }
    gnps.delete("security.felix-test", &DeleteParams::default())
        .await
        .expect("deleted");
    poll_until("Felix to drop the deleted policy", DEADLINE, || async {
        let now = per_node(&client, "felix_active_local_policies").await;
        now.values().all(|v| *v == want).then_some(())
    })
    .await;
    server.shutdown().await;
}

/// The console's scraper on a Calico cluster: the built-in rules discover the calico-node pods
/// (port 9091 through the pod proxy), every agent is up, the policy count and Felix's apply
/// time come through per node.
#[tokio::test]
async fn the_scraper_discovers_and_reads_the_calico_node_agents() {
    let (server, client) = start().await;
    let mut cluster = palisade::model::ClusterSnapshot::default();
    for pod in calico_nodes(&client).await {
        let slim = serde_json::from_value(serde_json::to_value(&pod).unwrap()).unwrap();
        cluster.upsert(palisade::cluster::convert::pod(&slim));
    }
    let targets = discover(&cluster, &default_rules());
    assert_eq!(targets.len(), 3, "{targets:?}");
    assert!(targets.iter().all(|t| t.id.cni == Cni::Calico
        && t.id.target.starts_with("kube-system/calico-node-")
        && t.id.target.ends_with(":9091")));

    let want = enforced_policies(&client).await;
    let fetcher = Fetcher::new(Some(client.clone()), Duration::from_secs(3), 1 << 20);
    let (targets_tx, targets_rx) = watch::channel(Vec::new());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let options = ScrapeOptions {
        interval: Duration::from_millis(300),
        ..ScrapeOptions::default()
    };
    let task = tokio::spawn(scraper::run(fetcher, targets_rx, options, tx));
    targets_tx.send_replace(targets);
    let reading = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(MetricsEvent::Reading(reading)) = rx.recv().await
                && reading.agents.len() == 3
                && reading
                    .agents
                    .iter()
                    .all(|a| a.policy_count() == Some(want))
            {
                return reading;
            }
        }
    })
    .await
    .expect("a reading with every agent's policies");
    for agent in &reading.agents {
        assert!(agent.up(), "{agent:?}");
        assert_eq!(agent.line_errors, 0, "{agent:?}");
        assert_eq!(agent.agent.cni, Cni::Calico);
    }
    let apply: Vec<_> = reading
        .latency
        .iter()
        .filter(|l| l.metric == APPLY_TIME)
        .collect();
    assert_eq!(apply.len(), 3, "a summary per node: {:?}", reading.latency);
    assert!(apply.iter().all(|l| l.node.is_some()));
    assert!(
        reading.drops.is_empty(),
        "open-source Felix counts no drops"
    );
    task.abort();
    server.shutdown().await;
}
