//! The Goldmane client against the demo's simulated Goldmane, over mutual TLS: flows arrive
//! converted and aggregated, a client without a certificate or with one from another CA gets
//! a clear error, the stream comes back after the server restarts, and `palisade demo
//! --goldmane-listen` serves it with the client files written 0600.

mod support;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kube::config::{KubeConfigOptions, Kubeconfig};
use palisade::flows::{
    DataplaneVerdict, FlowEndpoint, FlowNews, FlowRecord, FlowSourceKind, Name, SourceStatus,
};
use palisade::flowsrc::goldmane::{self, GoldmaneSpec, GoldmaneTls, TlsPems};
use palisade::flowsrc::{FlowSink, TlsFiles};
use palisade::policy::{Direction, Protocol};
use palisade::sim::flow_feed::{FeedItem, FlowFeed};
use palisade::sim::goldmane::SimGoldmane;
use palisade::sim::goldmane_certs::GoldmaneCerts;
use palisade::sim::{DemoServer, Scenario, ServerOptions};

const DEADLINE: Duration = Duration::from_secs(20);
const WINDOW: Duration = Duration::from_millis(200);

/// Everything a client delivered, in order.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<FlowNews>>>);

impl Collected {
    fn sink(&self) -> FlowSink {
        let news = self.0.clone();
        Arc::new(move |n| news.lock().unwrap().push(n))
    }

    fn flows(&self) -> Vec<FlowRecord> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|n| match n {
                FlowNews::Flows { source, flows } => {
                    assert_eq!(*source, FlowSourceKind::Goldmane);
                    Some(flows.clone())
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn statuses(&self) -> Vec<SourceStatus> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|n| match n {
                FlowNews::Status { status, .. } => Some(status.clone()),
                _ => None,
            })
            .collect()
    }

    fn count_to(&self, namespace: &str) -> u64 {
        self.flows()
            .iter()
            .filter(|f| f.dst.namespace.as_deref() == Some(namespace))
            .map(|f| f.count)
            .sum()
    }
}

async fn eventually<T: Send + 'static>(
    what: &'static str,
    check: impl FnMut() -> Option<T> + Send + 'static,
) -> T {
    tokio::task::spawn_blocking(move || support::wait_until(what, DEADLINE, check))
        .await
        .expect("poll task")
}

/// A flow from an acme-web pod to `dst_namespace`'s DNS, dropped by a policy.
fn dropped_dns(dst_namespace: &str) -> FeedItem {
    FeedItem::Flow(Box::new(FlowRecord {
        time: SystemTime::now(),
        source_kind: FlowSourceKind::Goldmane,
        node: Some(Name::from("worker-1")),
        src: FlowEndpoint {
            namespace: Some(Name::from("acme-web")),
            pod: Some(Name::from("web-7d9f8b6c5d-x2k4q")),
            ..FlowEndpoint::default()
        },
        dst: FlowEndpoint {
            namespace: Some(Name::from(dst_namespace)),
            pod: Some(Name::from("coredns-668d6bf9bc-abcde")),
            ..FlowEndpoint::default()
        },
        protocol: Some(Protocol::Udp),
        port: Some(53),
        verdict: DataplaneVerdict::Dropped,
        reason: Some(Name::from("POLICY_DENIED")),
        direction: Some(Direction::Egress),
        policies: Vec::new(),
        is_reply: None,
        count: 1,
    }))
}

fn pems(ca: &GoldmaneCerts, client: &GoldmaneCerts) -> GoldmaneTls {
    GoldmaneTls::Pems(TlsPems {
        ca: ca.ca_pem.clone(),
        cert: client.client_cert_pem.clone(),
        key: client.client_key_pem.clone(),
        server_name: None,
    })
}

async fn demo_with_goldmane() -> DemoServer {
    DemoServer::start_with(
        Scenario::builtin(),
        ServerOptions {
            agents: false,
            goldmane_listen: Some("127.0.0.1:0".parse().unwrap()),
            goldmane_window: WINDOW,
            ..ServerOptions::default()
        },
    )
    .await
    .expect("demo server with Goldmane starts")
}

/// Publishes a flow every few milliseconds until the test ends.
fn keep_publishing(feed: Arc<FlowFeed>, namespace: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            feed.publish(dropped_dns(namespace));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

fn last_error(collected: &Collected) -> Option<String> {
    collected
        .statuses()
        .into_iter()
        .rev()
        .find_map(|s| match s {
            SourceStatus::Reconnecting { error, .. } => Some(error),
            SourceStatus::Absent { reason } => Some(reason),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_arrive_converted_and_aggregated_over_mutual_tls() {
    let server = demo_with_goldmane().await;
    let (addr, certs) = server.goldmane().expect("Goldmane is served");
    let collected = Collected::default();
    let client = goldmane::spawn(
        GoldmaneSpec {
            address: addr.to_string(),
            tls: pems(certs, certs),
        },
        collected.sink(),
    );
    let live = collected.clone();
    eventually("the client to go live", move || {
        live.statuses()
            .iter()
            .any(|s| matches!(s, SourceStatus::Live { .. }))
            .then_some(())
    })
    .await;
    // Ten flows of one key, published at once: Goldmane sums them per window.
    let feed = server.flow_feed();
    for _ in 0..10 {
        feed.publish(dropped_dns("kube-system"));
    }
    let seen = collected.clone();
    eventually("all ten flows, counted", move || {
        (seen.count_to("kube-system") == 10).then_some(())
    })
    .await;
    let flows = collected.flows();
    assert!(
        flows.len() < 10,
        "aggregated per window, not one record per flow: {}",
        flows.len()
    );
    let flow = &flows[0];
    assert_eq!(flow.source_kind, FlowSourceKind::Goldmane);
    assert_eq!(flow.verdict, DataplaneVerdict::Dropped);
    assert!(flow.policy_drop());
    assert_eq!(flow.src.namespace.as_deref(), Some("acme-web"));
    assert_eq!(
        flow.src.pod.as_deref(),
        Some("web-7d9f8b6c5d"),
        "Goldmane names the pods' generate-name prefix"
    );
    assert_eq!(flow.protocol, Some(Protocol::Udp));
    assert_eq!(flow.port, Some(53));
    assert_eq!(flow.node, None, "Goldmane aggregates across nodes");
    client.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_the_client_says_goldmane_needs_mutual_tls() {
    let server = demo_with_goldmane().await;
    let (addr, certs) = server.goldmane().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, &certs.ca_pem).unwrap();
    let collected = Collected::default();
    let client = goldmane::spawn(
        GoldmaneSpec {
            address: addr.to_string(),
            tls: GoldmaneTls::Files(TlsFiles {
                ca: Some(ca),
                ..TlsFiles::default()
            }),
        },
        collected.sink(),
    );
    client.await.expect("the client stops by itself");
    let statuses = collected.statuses();
    let [SourceStatus::Absent { reason }] = statuses.as_slice() else {
        panic!("one Absent status, got {statuses:?}");
    };
    assert!(reason.contains("requires mutual TLS"), "{reason}");
    assert!(
        reason.contains("client certificate, client key"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_another_ca_is_refused_clearly() {
    let server = demo_with_goldmane().await;
    let (addr, certs) = server.goldmane().unwrap();
    let stranger = GoldmaneCerts::generate().unwrap();
    let collected = Collected::default();
    let client = goldmane::spawn(
        GoldmaneSpec {
            address: addr.to_string(),
            tls: pems(certs, &stranger),
        },
        collected.sink(),
    );
    let seen = collected.clone();
    let error = eventually("a clear TLS error", move || last_error(&seen)).await;
    // The TLS alert, or (TLS 1.3 checks the client's certificate after the client's side of
    // the handshake) the connection closed before any answer: both name the certificate.
    assert!(
        error.contains("Goldmane refused the client certificate")
            || error.contains("is the client certificate signed by the tigera-operator's CA"),
        "{error}"
    );
    assert!(collected.flows().is_empty());
    client.abort();

    // The other way round: the server's certificate is not from the CA the client trusts.
    let collected = Collected::default();
    let client = goldmane::spawn(
        GoldmaneSpec {
            address: addr.to_string(),
            tls: pems(&stranger, certs),
        },
        collected.sink(),
    );
    let seen = collected.clone();
    let error = eventually("a clear TLS error", move || last_error(&seen)).await;
    assert!(error.contains("not signed by the given CA"), "{error}");
    client.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_comes_back_after_goldmane_restarts() {
    let server = DemoServer::start_with(
        Scenario::builtin(),
        ServerOptions {
            agents: false,
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    let certs = GoldmaneCerts::generate().unwrap();
    let feed = server.flow_feed();
    let sim = SimGoldmane::start(feed.clone(), "127.0.0.1:0".parse().unwrap(), &certs, WINDOW)
        .await
        .unwrap();
    let addr: SocketAddr = sim.addr();
    let collected = Collected::default();
    let client = goldmane::spawn(
        GoldmaneSpec {
            address: format!("https://{addr}"),
            tls: pems(&certs, &certs),
        },
        collected.sink(),
    );
    let before = keep_publishing(feed.clone(), "before-restart");
    let seen = collected.clone();
    eventually("flows before the restart", move || {
        (seen.count_to("before-restart") > 0).then_some(())
    })
    .await;
    before.abort();

    sim.shutdown().await;
    let seen = collected.clone();
    eventually("the client to notice", move || {
        matches!(
            seen.statuses().last(),
            Some(SourceStatus::Reconnecting { .. })
        )
        .then_some(())
    })
    .await;

    let sim = SimGoldmane::start(feed.clone(), addr, &certs, WINDOW)
        .await
        .expect("the same port again");
    let after = keep_publishing(feed.clone(), "after-restart");
    let seen = collected.clone();
    eventually("flows after the restart", move || {
        (seen.count_to("after-restart") > 0).then_some(())
    })
    .await;
    after.abort();
    let statuses = collected.statuses();
    let lives = statuses
        .iter()
        .filter(|s| matches!(s, SourceStatus::Live { .. }))
        .count();
    assert!(lives >= 2, "live again after the restart: {statuses:?}");
    client.abort();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_from_a_cluster_without_goldmane_give_a_clear_error() {
    let server = DemoServer::start_with(
        Scenario::builtin(),
        ServerOptions {
            agents: false,
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
            .await
            .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let error = goldmane::tls_from_cluster(client).await.unwrap_err();
    assert!(
        error.contains("calico-system/whisker-backend-key-pair"),
        "{error}"
    );
    assert!(error.contains("--goldmane-tls-cert"), "{error}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_goldmane_and_writes_private_client_files() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("goldmane");
    let kubeconfig = dir.path().join("kubeconfig");
    let addr = format!("127.0.0.1:{}", free_port());
    let _demo = support::KillOnDrop(
        Command::new(support::binary())
            .args(["demo", "--serve-only", "--goldmane-listen", &addr])
            .arg("--goldmane-certs-out")
            .arg(&certs)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("palisade demo starts"),
    );
    let key = certs.join("tls.key");
    eventually("the client files", move || key.exists().then_some(())).await;
    for name in ["ca.crt", "tls.crt", "tls.key"] {
        let mode = std::fs::metadata(certs.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let collected = Collected::default();
    let client = goldmane::spawn(
        GoldmaneSpec {
            address: addr.clone(),
            tls: GoldmaneTls::Files(TlsFiles {
                ca: Some(certs.join("ca.crt")),
                cert: Some(certs.join("tls.crt")),
                key: Some(certs.join("tls.key")),
                server_name: None,
            }),
        },
        collected.sink(),
    );
    let seen = collected.clone();
    eventually("the client to go live with the written files", move || {
        seen.statuses()
            .iter()
            .any(|s| matches!(s, SourceStatus::Live { .. }))
            .then_some(())
    })
    .await;
    client.abort();
    // The kubeconfig is written too, so the same demo serves kubectl.
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    Kubeconfig::from_yaml(&text).expect("a kubeconfig");
}

#[test]
fn the_demo_refuses_a_goldmane_address_off_loopback() {
    let out = support::run(Command::new(support::binary()).args([
        "demo",
        "--serve-only",
        "--goldmane-listen",
        "0.0.0.0:7443",
    ]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_message_is_refused_with_a_clear_status_and_the_client_stays_up() {
    let server = demo_with_goldmane().await;
    let (addr, certs) = server.goldmane().unwrap();
    let collected = Collected::default();
    let client = goldmane::spawn(
        GoldmaneSpec {
            address: addr.to_string(),
            tls: pems(certs, certs),
        },
        collected.sink(),
    );
    let FeedItem::Flow(mut huge) = dropped_dns("huge") else {
        unreachable!()
    };
    huge.src.pod = Some(Name::from("x".repeat(2 * goldmane::MAX_MESSAGE)));
    server.flow_feed().publish(FeedItem::Flow(huge));
    let seen = collected.clone();
    let error = eventually("the client to refuse the message", move || {
        last_error(&seen)
    })
    .await;
    assert!(error.contains("too large"), "{error}");
    assert_eq!(collected.count_to("huge"), 0);
    assert!(!client.is_finished(), "the client keeps retrying");
    client.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_returns_the_past_windows_page_by_page() {
    let server = DemoServer::start_with(
        Scenario::builtin(),
        ServerOptions {
            agents: false,
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    let feed = server.flow_feed();
    // 1,500 distinct keys (one namespace each) kept in the feed before Goldmane starts: its
    // history, more than one page of List.
    let names: Vec<String> = (0..1500).map(|i| format!("tenant-{i}")).collect();
    for name in &names {
        feed.publish(dropped_dns(name));
    }
    let certs = GoldmaneCerts::generate().unwrap();
    let sim = SimGoldmane::start(feed, "127.0.0.1:0".parse().unwrap(), &certs, WINDOW)
        .await
        .unwrap();
    let spec = GoldmaneSpec {
        address: sim.addr().to_string(),
        tls: pems(&certs, &certs),
    };
    let flows = eventually_async(|| goldmane::list(&spec, 600), |flows| flows.len() == 1500).await;
    let mut seen: Vec<&str> = flows
        .iter()
        .filter_map(|f| f.dst.namespace.as_deref())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 1500, "every key once, across pages");
    sim.shutdown().await;
}

/// Calls `fetch` until its answer satisfies `done`, or fails after `DEADLINE`.
async fn eventually_async<F, Fut>(
    mut fetch: F,
    done: impl Fn(&Vec<FlowRecord>) -> bool,
) -> Vec<FlowRecord>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<FlowRecord>, String>>,
{
    let start = std::time::Instant::now();
    loop {
        let answer = fetch().await.expect("List answers");
        if done(&answer) {
            return answer;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "List gave {} flows",
            answer.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
