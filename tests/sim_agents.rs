//! The demo cluster's simulated Cilium agents, scraped through the API server's pod proxy with a
//! real kube-rs client: their traffic follows the cluster's policies as they change.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::Request;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use palisade::metrics::{Cni, extract, parse::parse};
use palisade::sim::{Scenario, ServerOptions};
use serde_json::json;
use support::{demo_and_client, poll_until};

const DEADLINE: Duration = Duration::from_secs(30);

/// Agent pods (name, node), found the way a scraper would: by the DaemonSet's label.
async fn agents(client: &Client) -> Vec<(String, String)> {
    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default().labels("k8s-app=cilium"))
        .await
        .expect("list agents");
    pods.items
        .iter()
        .map(|p| {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            (p.name_any(), node.expect("agents run on a node"))
        })
        .collect()
}

fn proxy_path(pod: &str, port: &str, path: &str) -> String {
    format!("/api/v1/namespaces/kube-system/pods/{pod}:{port}/proxy/{path}")
}

async fn get(client: &Client, path: &str) -> Result<String, kube::Error> {
    let request = Request::get(path).body(vec![]).expect("request builds");
    client.request_text(request).await
}

async fn scrape(client: &Client, pod: &str, port: u16) -> String {
    get(client, &proxy_path(pod, &port.to_string(), "metrics"))
        .await
        .unwrap_or_else(|e| panic!("scraping {pod}:{port}: {e}"))
}

/// Everything the agents say now, per node: (Cilium text, Hubble text).
async fn scrape_all(client: &Client) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for (pod, node) in agents(client).await {
        let cilium = scrape(client, &pod, 9962).await;
        let hubble = scrape(client, &pod, 9965).await;
        out.insert(node, (cilium, hubble));
    }
    out
}

/// Hubble's dropped flows from `src` to `dst`, summed over nodes; `None` while no agent has the
/// series.
fn hubble_drops(scrapes: &BTreeMap<String, (String, String)>, src: &str, dst: &str) -> Option<f64> {
    let mut total = None;
    for (node, (_, hubble)) in scrapes {
        let scrape = parse(hubble).expect("parses");
        for d in extract(Cni::Hubble, &scrape, Some(node)).drops {
            let pair = (
                d.source_namespace.as_deref(),
                d.destination_namespace.as_deref(),
            );
            if d.reason == "POLICY_DENIED" && pair == (Some(src), Some(dst)) {
                *total.get_or_insert(0.0) += d.count;
            }
        }
    }
    total
}

/// A gauge or histogram count from the first agent's Cilium text.
fn cilium_value(scrapes: &BTreeMap<String, (String, String)>, sample: &str) -> f64 {
    let (_, (cilium, _)) = scrapes.iter().next().expect("an agent");
    let scrape = parse(cilium).expect("parses");
    scrape
        .families
        .values()
        .flat_map(|f| &f.samples)
        .find(|s| s.name == sample)
        .unwrap_or_else(|| panic!("{sample} missing"))
        .value
}

fn policy(name: &str, spec: serde_json::Value) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name}, "spec": spec,
    }))
    .expect("valid policy")
}

#[tokio::test]
async fn every_node_has_an_agent_serving_both_ports_in_prometheus_text() {
    let (server, client) = demo_and_client(Scenario::builtin(), ServerOptions::default()).await;
    let agents = agents(&client).await;
    let mut nodes: Vec<&str> = agents.iter().map(|(_, n)| n.as_str()).collect();
    nodes.sort_unstable();
    assert_eq!(nodes, ["demo-node-a", "demo-node-b", "demo-node-c"]);
    // The content type real agents send, through every form of the proxy path.
    let (pod, _) = &agents[0];
    for target in [
        format!("{pod}:9962"),
        format!("http:{pod}:9962"),
        format!("{pod}:prometheus"),
    ] {
        let path = format!("/api/v1/namespaces/kube-system/pods/{target}/proxy/metrics");
        let request = Request::get(path).body(vec![]).expect("request");
        let response = client.send(request.map(Into::into)).await.expect("proxied");
        assert_eq!(response.status(), 200, "{target}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
    }
    // The scenario's deliberate gap: initech allows DNS over UDP only, so TCP 53 is dropped.
    let scrapes = poll_until("initech's TCP DNS drops", DEADLINE, || async {
        let scrapes = scrape_all(&client).await;
        (hubble_drops(&scrapes, "initech-app", "kube-system")? > 0.0).then_some(scrapes)
    })
    .await;
    for (node, (cilium, hubble)) in &scrapes {
        for text in [cilium, hubble] {
            let parsed = parse(text).expect("parses");
            assert!(parsed.errors.is_empty(), "{node}: {:?}", parsed.errors);
            assert_eq!(parsed.duplicates, 0, "{node}");
        }
        let m = extract(Cni::Cilium, &parse(cilium).unwrap(), Some(node));
        assert_eq!(m.health[0].value, 54.0, "{node}: every policy loaded");
        let reasons: Vec<_> = m
            .drops
            .iter()
            .map(|d| (d.reason.as_str(), d.direction.as_deref()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("Policy denied", Some("egress")),
                ("Policy denied", Some("ingress"))
            ]
        );
        let delay = m
            .latencies
            .iter()
            .find(|h| h.metric == "cilium_policy_implementation_delay");
        assert_eq!(
            delay.expect("policy delay").count,
            54.0,
            "{node}: one per imported policy"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn drops_follow_a_deny_all_policy_and_stop_when_it_is_deleted() {
    // Ten namespaces, four policies: t0000-* have a default deny, t0001-* are unprotected.
    let scenario = Scenario::generated("10,80,4".parse().expect("scale"));
    let (server, client) = demo_and_client(scenario, ServerOptions::default()).await;
    let ns = "t0001-api";
    let baseline = poll_until("a first evaluation", DEADLINE, || async {
        let scrapes = scrape_all(&client).await;
        (cilium_value(&scrapes, "cilium_policy_max_revision") >= 4.0).then_some(scrapes)
    })
    .await;
    assert_eq!(
        hubble_drops(&baseline, ns, ns),
        None,
        "nothing denied in {ns} yet"
    );
    let delays_before = cilium_value(&baseline, "cilium_policy_implementation_delay_count");

    let api = Api::<NetworkPolicy>::namespaced(client.clone(), ns);
    let deny = policy(
        "deny-all-ingress",
        json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
    );
    api.create(&PostParams::default(), &deny)
        .await
        .expect("create");
    let first = poll_until("drops within the namespace", DEADLINE, || async {
        hubble_drops(&scrape_all(&client).await, ns, ns).filter(|v| *v > 0.0)
    })
    .await;
    poll_until("the drop counter to grow", DEADLINE, || async {
        hubble_drops(&scrape_all(&client).await, ns, ns).filter(|v| *v > first)
    })
    .await;

    api.delete("deny-all-ingress", &DeleteParams::default())
        .await
        .expect("delete");
    let frozen = poll_until("the deletion to be evaluated", DEADLINE, || async {
        let scrapes = scrape_all(&client).await;
        (cilium_value(&scrapes, "cilium_policy_max_revision") >= 6.0).then_some(scrapes)
    })
    .await;
    // A further, unrelated change, so the next scrape comes after one more evaluation.
    let other = Api::<NetworkPolicy>::namespaced(client.clone(), "t0000-web");
    let inert = policy(
        "select-nothing",
        json!({"podSelector": {"matchLabels": {"app": "none"}}}),
    );
    other
        .create(&PostParams::default(), &inert)
        .await
        .expect("create");
    let later = poll_until("the further change to be evaluated", DEADLINE, || async {
        let scrapes = scrape_all(&client).await;
        (cilium_value(&scrapes, "cilium_policy_max_revision") >= 7.0).then_some(scrapes)
    })
    .await;
    let (a, b) = (hubble_drops(&frozen, ns, ns), hubble_drops(&later, ns, ns));
    assert!(a.is_some_and(|a| a >= first), "{a:?}");
    assert_eq!(a, b, "the counter stopped once the policy was gone");
    let delays_after = cilium_value(&later, "cilium_policy_implementation_delay_count");
    assert_eq!(
        delays_after,
        delays_before + 3.0,
        "one observation per policy change"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_proxy_answers_like_an_api_server_for_other_pods_and_ports() {
    let (server, client) = demo_and_client(Scenario::builtin(), ServerOptions::default()).await;
    let (pod, _) = agents(&client).await.remove(0);
    let code = |result: Result<String, kube::Error>| match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason, status.message),
        other => panic!("expected a Status error, got {other:?}"),
    };
    let (status, reason, _) =
        code(get(&client, &proxy_path("cilium-nope", "9962", "metrics")).await);
    assert_eq!((status, reason.as_str()), (404, "NotFound"));
    // An agent port that serves nothing, and a pod that is no agent.
    let (status, reason, message) = code(get(&client, &proxy_path(&pod, "8080", "metrics")).await);
    assert_eq!((status, reason.as_str()), (503, "ServiceUnavailable"));
    assert!(
        message.starts_with("error trying to reach service: dial tcp 172.18.0."),
        "{message}"
    );
    assert!(
        message.ends_with(":8080: connect: connection refused"),
        "{message}"
    );
    let coredns = Api::<Pod>::namespaced(client.clone(), "kube-system")
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .expect("list")
        .items[0]
        .name_any();
    let path = format!("/api/v1/namespaces/kube-system/pods/{coredns}:9153/proxy/metrics");
    assert_eq!(code(get(&client, &path).await).0, 503);
    // A served port, but a path the agent does not serve: its own 404, passed through.
    let err = get(&client, &proxy_path(&pod, "9962", "healthz"))
        .await
        .expect_err("404");
    assert!(format!("{err:?}").contains("404"), "{err:?}");
    server.shutdown().await;

    // With the agents turned off, their pods are there but nothing answers.
    let options = ServerOptions {
        agents: false,
        ..ServerOptions::default()
    };
    let (server, client) = demo_and_client(Scenario::builtin(), options).await;
    let (pod, _) = agents(&client).await.remove(0);
    assert_eq!(
        code(get(&client, &proxy_path(&pod, "9962", "metrics")).await).0,
        503
    );
    server.shutdown().await;
}

/// The agents enforce the tier order: an Admin Deny on acme-web's DNS egress drops traffic that
/// acme-web's allow-dns NetworkPolicy admits, and the drops stop once the policy is deleted.
#[tokio::test]
async fn an_admin_deny_cluster_network_policy_drops_what_network_policies_allow() {
    let (server, client) = demo_and_client(Scenario::builtin(), ServerOptions::default()).await;
    let (src, dst) = ("acme-web", "kube-system");
    let seeded = Scenario::builtin().policy_count() as f64;
    let baseline = poll_until("a first evaluation", DEADLINE, || async {
        let scrapes = scrape_all(&client).await;
        (cilium_value(&scrapes, "cilium_policy_max_revision") >= seeded).then_some(scrapes)
    })
    .await;
    assert_eq!(hubble_drops(&baseline, src, dst), None, "DNS is allowed");

    let resource = kube::api::ApiResource {
        group: "policy.networking.k8s.io".into(),
        version: "v1alpha2".into(),
        api_version: "policy.networking.k8s.io/v1alpha2".into(),
        kind: "ClusterNetworkPolicy".into(),
        plural: "clusternetworkpolicies".into(),
    };
    let cnps = Api::<kube::api::DynamicObject>::all_with(client.clone(), &resource);
    let deny: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "no-dns-for-acme-web"},
        "spec": {
            "tier": "Admin", "priority": 0,
            "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": src}}},
            "egress": [{"name": "deny-dns", "action": "Deny",
                "to": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": dst}}}]}],
        },
    }))
    .expect("valid object");
    cnps.create(&PostParams::default(), &deny)
        .await
        .expect("create");
    let first = poll_until("DNS drops from acme-web", DEADLINE, || async {
        hubble_drops(&scrape_all(&client).await, src, dst).filter(|v| *v > 0.0)
    })
    .await;

    cnps.delete("no-dns-for-acme-web", &DeleteParams::default())
        .await
        .expect("delete");
    let frozen = poll_until("the deletion to be evaluated", DEADLINE, || async {
        let scrapes = scrape_all(&client).await;
        (cilium_value(&scrapes, "cilium_policy_max_revision") >= seeded + 2.0).then_some(scrapes)
    })
    .await;
    // A further, unrelated change, so the next scrape comes after one more evaluation.
    let inert = policy(
        "select-nothing",
        json!({"podSelector": {"matchLabels": {"app": "none"}}}),
    );
    Api::<NetworkPolicy>::namespaced(client.clone(), "globex-web")
        .create(&PostParams::default(), &inert)
        .await
        .expect("create");
    let later = poll_until("the further change to be evaluated", DEADLINE, || async {
        let scrapes = scrape_all(&client).await;
        (cilium_value(&scrapes, "cilium_policy_max_revision") >= seeded + 3.0).then_some(scrapes)
    })
    .await;
    let (a, b) = (
        hubble_drops(&frozen, src, dst),
        hubble_drops(&later, src, dst),
    );
    assert!(a.is_some_and(|a| a >= first), "{a:?}");
    assert_eq!(a, b, "the counter stopped once the policy was gone");
    server.shutdown().await;
}
