//! `palisade flows`, the real binary, against the demo server's relay found through its Service
//! and a port-forward (no `--hubble-relay`): flows the test publishes into the demo's feed come
//! back with palisade's verdict and drift; filters, text and JSON; no source, exit 1.
//!
//! The demo's own dataplane is off (`agents: false`), so the only flows are the test's.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::config::KubeConfigOptions;
use kube::{Client, Config, ResourceExt};
use palisade::flows::{DataplaneVerdict, FlowEndpoint, FlowRecord, FlowSourceKind, Name};
use palisade::policy::{Direction, Protocol};
use palisade::sim::flow_feed::FeedItem;
use palisade::sim::{DemoServer, Scenario, ServerOptions};
use support::BINARY;

async fn palisade(kubeconfig: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(BINARY);
    command.env("KUBECONFIG", kubeconfig).args(args);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("palisade flows ends")
        .expect("palisade runs")
}

/// One pod of `namespace` whose name starts with `prefix`, with its IP.
async fn pod(client: &Client, namespace: &str, prefix: &str) -> (String, Option<IpAddr>) {
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .expect("list pods");
    let pod = pods
        .items
        .iter()
        .find(|p| p.name_any().starts_with(prefix))
        .unwrap_or_else(|| panic!("a {prefix} pod in {namespace}"));
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok());
    (pod.name_any(), ip)
}

fn flow(
    src: (&str, &str),
    dst: (&str, &str),
    port: u16,
    verdict: DataplaneVerdict,
    direction: Direction,
) -> FlowRecord {
    let end = |(ns, pod): (&str, &str)| FlowEndpoint {
        namespace: Some(Name::from(ns)),
        pod: Some(Name::from(pod)),
        ..FlowEndpoint::default()
    };
    FlowRecord {
        time: SystemTime::now(),
        source_kind: FlowSourceKind::Hubble,
        node: Some("demo-node-a".into()),
        src: end(src),
        dst: end(dst),
        protocol: Some(Protocol::Udp),
        port: Some(port),
        verdict,
        reason: (verdict == DataplaneVerdict::Dropped).then(|| Name::from("POLICY_DENIED")),
        direction: Some(direction),
        policies: Vec::new(),
        is_reply: Some(false),
        count: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_come_back_with_palisades_verdict_and_drift() {
    let server = DemoServer::start_with(
        Scenario::builtin(),
        ServerOptions {
            agents: false,
            ..ServerOptions::default()
        },
    )
    .await
    .expect("server starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let (web, _) = pod(&client, "acme-web", "storefront").await;
    let (dns, _) = pod(&client, "kube-system", "coredns").await;
    let (db, _) = pod(&client, "globex-data", "postgres").await;

    // acme-web's allow-dns admits UDP/53 to kube-dns: a drop of it is drift. globex-data's
    // default-deny denies acme's probe: a drop of it is expected.
    let feed = server.flow_feed();
    let drift = flow(
        ("acme-web", &web),
        ("kube-system", &dns),
        53,
        DataplaneVerdict::Dropped,
        Direction::Egress,
    );
    let expected = flow(
        ("acme-web", &web),
        ("globex-data", &db),
        5432,
        DataplaneVerdict::Dropped,
        Direction::Ingress,
    );
    let forwarded = flow(
        ("acme-web", &web),
        ("kube-system", &dns),
        53,
        DataplaneVerdict::Forwarded,
        Direction::Egress,
    );
    for f in [&drift, &expected, &forwarded] {
        feed.publish(FeedItem::Flow(Box::new(f.clone())));
    }

    let out = palisade(&kubeconfig, &["flows", "--verdict", "all", "-o", "json"]).await;
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let dns_drop = &lines[0];
    assert_eq!(dns_drop["verdict"], "dropped");
    assert_eq!(dns_drop["palisade"]["verdict"], "allowed");
    assert!(
        dns_drop["palisade"]["by"]
            .as_str()
            .unwrap()
            .contains("acme-web/allow-dns"),
        "{dns_drop}"
    );
    assert_eq!(dns_drop["drift"], "dropped_but_allowed");
    assert_eq!(dns_drop["source"]["tenant"], "acme");
    assert_eq!(lines[1]["palisade"]["verdict"], "denied");
    assert!(lines[1]["drift"].is_null());
    assert_eq!(lines[2]["verdict"], "forwarded");
    assert!(lines[2]["drift"].is_null());

    // The default shows drops only; --verdict drift only the drift, in text.
    let out = palisade(&kubeconfig, &["flows"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    let out = palisade(&kubeconfig, &["flows", "--verdict", "drift"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("dropped POLICY_DENIED") && text.contains("DRIFT: dropped by the dataplane"),
        "{text}"
    );
    // Filters: a port, a tenant nobody in these flows belongs to.
    let out = palisade(
        &kubeconfig,
        &["flows", "--verdict", "all", "--port", "5432"],
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let out = palisade(
        &kubeconfig,
        &["flows", "--verdict", "all", "--tenant", "initech"],
    )
    .await;
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 0);

    // No source: said, exit 1. A relay address nothing listens on: said, exit 1.
    let out = palisade(&kubeconfig, &["flows", "--no-flows"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("flows are off"),
        "{out:?}"
    );
    let out = palisade(&kubeconfig, &["flows", "--hubble-relay", "127.0.0.1:1"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    server.shutdown().await;
}
