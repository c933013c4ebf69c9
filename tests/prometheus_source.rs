//! The Prometheus source over real HTTP: a stand-in Prometheus on 127.0.0.1 (answers written
//! after the HTTP API's documented format, errors included), an unreachable one, and — when the
//! `prometheus` binary is installed — a real Prometheus scraping a stand-in Cilium agent.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use palisade::metrics::Reading;
use palisade::scrape::default_rules;
use palisade::scrape::prometheus::{Prometheus, queries};
use palisade::scrape::{Fetcher, ScrapeOptions};
use support::KillOnDrop;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TIMEOUT: Duration = Duration::from_secs(3);

fn fetcher() -> Fetcher {
    Fetcher::new(None, TIMEOUT, ScrapeOptions::default().limits.max_bytes)
}

/// Serves every connection with `respond(request line)` → (status line, body), then closes.
async fn serve(respond: impl Fn(&str, u64) -> (String, String) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let respond = Arc::new(respond);
    let count = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let respond = respond.clone();
            tokio::spawn(async move { answer(socket, n, &*respond).await });
        }
    });
    format!("http://{addr}")
}

async fn answer(
    mut socket: TcpStream,
    n: u64,
    respond: &(dyn Fn(&str, u64) -> (String, String) + Send + Sync),
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(k) => head.extend_from_slice(&buf[..k]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default().to_string();
    let (status, body) = respond(&line, n);
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// The PromQL of a `GET /api/v1/query?query=... HTTP/1.1` request line.
fn promql_of(request_line: &str) -> String {
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let encoded = target.split_once("query=").map_or("", |(_, q)| q);
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn vector(elements: &[(&str, &str)]) -> String {
    let result: Vec<String> = elements
        .iter()
        .map(|(metric, value)| format!(r#"{{"metric":{metric},"value":[1700000000.5,"{value}"]}}"#))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        result.join(",")
    )
}

#[tokio::test]
async fn a_stand_in_prometheus_gives_figures_and_located_errors() {
    let url = serve(|line, _| {
        let promql = promql_of(line);
        let ok = |body: String| ("200 OK".to_string(), body);
        if promql.contains("rate(cilium_drop_count_total[1m])") {
            ok(vector(&[(
                r#"{"node":"worker-1","instance":"10.0.0.1:9962","reason":"Policy denied","direction":"EGRESS"}"#,
                "1.5",
            )]))
        } else if promql == "up{job=~\".*cilium.*\"}" {
            ok(vector(&[(r#"{"__name__":"up","job":"cilium-agent","instance":"10.0.0.1:9962","node":"worker-1"}"#, "1")]))
        } else if promql.starts_with("histogram_quantile(") && promql.contains("cilium_policy_implementation_delay") {
            ok(vector(&[("{}", "NaN")]))
        } else if promql == "up{job=~\".*hubble.*\"}" {
            (
                "400 Bad Request".to_string(),
                r#"{"status":"error","errorType":"bad_data","error":"1:10: parse error: unexpected character"}"#.to_string(),
            )
        } else if promql.contains("felix_active_local_policies") {
            ok(r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#.to_string())
        } else {
            ok(vector(&[]))
        }
    })
    .await;
    let source = Prometheus::new(&format!("{url}/"), fetcher());
    let reading = source.round(&queries(&default_rules())).await;

    assert_eq!(reading.drops.len(), 1, "{:?}", reading.drops);
    let drop = &reading.drops[0];
    assert_eq!(drop.node.as_deref(), Some("worker-1"));
    assert_eq!(drop.direction.as_deref(), Some("egress"));
    assert_eq!(drop.per_second, 1.5);
    assert_eq!(reading.agents.len(), 1);
    assert!(reading.agents[0].up());
    assert!(
        reading.latency.is_empty(),
        "NaN and empty answers are no figure: {:?}",
        reading.latency
    );

    assert_eq!(reading.errors.len(), 2, "{:#?}", reading.errors);
    let shown = url.clone();
    assert_eq!(
        reading.errors[0],
        format!(
            "prometheus at {shown}: HTTP 400 Bad Request: bad_data: 1:10: parse error: unexpected character (`up{{job=~\".*hubble.*\"}}`)"
        )
    );
    assert_eq!(
        reading.errors[1],
        format!(
            "prometheus at {shown}: Prometheus error (timeout): query timed out in expression evaluation (`sum by (node, instance) (felix_active_local_policies)`)"
        )
    );
}

#[tokio::test]
async fn an_unreachable_prometheus_is_one_error_and_no_figures() {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source = Prometheus::new(&format!("http://user:secret@127.0.0.1:{port}"), fetcher());
    let all = queries(&default_rules());
    let started = Instant::now();
    let reading = source.round(&all).await;
    assert!(started.elapsed() < TIMEOUT * 2);
    assert_eq!(reading.errors.len(), 1, "{:#?}", reading.errors);
    let error = &reading.errors[0];
    assert!(
        error.starts_with(&format!(
            "prometheus at http://127.0.0.1:{port}: cannot connect: "
        )),
        "{error}"
    );
    assert!(
        error.ends_with(&format!("(all {} queries)", all.len())),
        "{error}"
    );
    assert!(!error.contains("secret"), "{error}");
    assert!(reading.drops.is_empty() && reading.agents.is_empty() && reading.latency.is_empty());
}

fn prometheus_installed() -> bool {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("PALISADE_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "prometheus is required (PALISADE_REQUIRE_TOOLS=1) but not installed; .ci/test installs it"
        );
        eprintln!("SKIPPED: prometheus is not installed (run .ci/test, which installs it)");
    }
    found
}

/// A Cilium agent stand-in: the drop counter and the policy histogram grow with every scrape.
async fn cilium_agent() -> String {
    let url = serve(|_, n| {
        let body = format!(
            "# TYPE cilium_drop_count_total counter\n\
             cilium_drop_count_total{{direction=\"INGRESS\",reason=\"Policy denied\"}} {drops}\n\
             # TYPE cilium_policy gauge\ncilium_policy 37\n\
             # TYPE cilium_policy_implementation_delay histogram\n\
             cilium_policy_implementation_delay_bucket{{source=\"k8s\",le=\"0.1\"}} {n}\n\
             cilium_policy_implementation_delay_bucket{{source=\"k8s\",le=\"+Inf\"}} {n}\n\
             cilium_policy_implementation_delay_sum{{source=\"k8s\"}} {sum}\n\
             cilium_policy_implementation_delay_count{{source=\"k8s\"}} {n}\n{l7}",
            drops = n * 10,
            sum = n as f64 * 0.05,
            l7 = hubble_l7(n),
        );
        ("200 OK".to_string(), body)
    })
    .await;
    url.trim_start_matches("http://").to_string()
}

/// Hubble's `httpV2` (`labelsContext=source_namespace,destination_namespace`) and `dns`
/// (`sourceContext=pod`) families after `n` scrapes: per scrape 9 requests answered 200 and 1
/// answered 503 from acme-web to globex-api, 8 of the 10 within 50 ms and all within 500 ms;
/// 4 DNS responses without error and 1 SERVFAIL for a pod of acme-web.
fn hubble_l7(n: u64) -> String {
    let pair = "source_namespace=\"acme-web\",destination_namespace=\"globex-api\"";
    let dns = "source=\"acme-web/web-1\",destination=\"kube-system/coredns-1\",qtypes=\"A\"";
    format!(
        "# TYPE hubble_http_requests_total counter\n\
         hubble_http_requests_total{{{pair},method=\"GET\",protocol=\"HTTP/1.1\",reporter=\"client\",status=\"200\"}} {ok}\n\
         hubble_http_requests_total{{{pair},method=\"GET\",protocol=\"HTTP/1.1\",reporter=\"client\",status=\"503\"}} {n}\n\
         # TYPE hubble_http_request_duration_seconds histogram\n\
         hubble_http_request_duration_seconds_bucket{{{pair},method=\"GET\",reporter=\"client\",le=\"0.05\"}} {fast}\n\
         hubble_http_request_duration_seconds_bucket{{{pair},method=\"GET\",reporter=\"client\",le=\"0.5\"}} {all}\n\
         hubble_http_request_duration_seconds_bucket{{{pair},method=\"GET\",reporter=\"client\",le=\"+Inf\"}} {all}\n\
         hubble_http_request_duration_seconds_sum{{{pair},method=\"GET\",reporter=\"client\"}} {sum}\n\
         hubble_http_request_duration_seconds_count{{{pair},method=\"GET\",reporter=\"client\"}} {all}\n\
         # TYPE hubble_dns_queries_total counter\n\
         hubble_dns_queries_total{{{dns},rcode=\"No Error\",ips_returned=\"0\"}} {queries}\n\
         # TYPE hubble_dns_responses_total counter\n\
         hubble_dns_responses_total{{{dns},rcode=\"No Error\",ips_returned=\"1\"}} {dns_ok}\n\
         hubble_dns_responses_total{{{dns},rcode=\"Server Failure\",ips_returned=\"0\"}} {n}\n",
        ok = n * 9,
        fast = n * 8,
        all = n * 10,
        sum = n as f64 * 0.6,
        queries = n * 5,
        dns_ok = n * 4,
    )
}

fn start_prometheus(dir: &Path, agent: &str) -> (KillOnDrop, String) {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: cilium-agent\n    static_configs:\n      - targets: ['{agent}']\n        labels:\n          node: worker-1\n"
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    (KillOnDrop(child), format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn a_real_prometheus_scraping_an_agent_gives_the_same_figures() {
    if !prometheus_installed() {
        return;
    }
    let agent = cilium_agent().await;
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, url) = start_prometheus(dir.path(), &agent);
    let source = Prometheus::new(&url, fetcher());
    let all = queries(&default_rules());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last: Option<Reading> = None;
    let reading = loop {
        let reading = source.round(&all).await;
        let ready = reading.errors.is_empty()
            && reading.drops.iter().any(|d| d.per_second > 0.0)
            && reading.latency.iter().any(|f| f.quantiles.is_some())
            && reading.l7.pairs.iter().any(|p| {
                p.requests_per_second.is_some_and(|r| r > 0.0)
                    && p.latency.as_ref().is_some_and(|h| h.count > 0.0)
            })
            && reading.l7.dns.iter().any(|d| d.responses_per_second > 0.0);
        if ready {
            break reading;
        }
        assert!(
            Instant::now() < deadline,
            "no figures from Prometheus within 60 s; last reading: {last:#?}"
        );
        last = Some(reading);
        tokio::time::sleep(Duration::from_millis(250)).await; // poll interval, not a wait for a condition
    };
    let drop = reading.drops.iter().find(|d| d.per_second > 0.0).unwrap();
    assert_eq!(
        drop.node.as_deref(),
        Some("worker-1"),
        "the node label from the scrape config"
    );
    assert_eq!(drop.reason, "Policy denied");
    assert_eq!(drop.direction.as_deref(), Some("ingress"));
    let agent_status = reading
        .agents
        .iter()
        .find(|a| a.agent.target == format!("cilium-agent/{agent}"))
        .expect("the agent from `up`");
    assert!(agent_status.up());
    assert_eq!(agent_status.agent.node.as_deref(), Some("worker-1"));
    assert_eq!(agent_status.policy_count(), Some(37.0));
    let latency = reading
        .latency
        .iter()
        .find(|f| f.metric == "cilium_policy_implementation_delay")
        .unwrap();
    let q = latency.quantiles.unwrap();
    assert!(q.p50 > 0.0 && q.p99 <= 0.1, "{q:?}");
    assert!(latency.observations > 0.0);
    // Hubble's L7 figures per namespace pair, as `:latency` folds them into tenant pairs.
    let l7 = &reading.l7;
    assert!(l7.http_seen && l7.dns_seen);
    let pair = l7
        .pairs
        .iter()
        .find(|p| p.source_namespace == "acme-web" && p.destination_namespace == "globex-api")
        .unwrap_or_else(|| panic!("no acme-web → globex-api pair: {l7:#?}"));
    let (requests, errors) = (
        pair.requests_per_second.unwrap(),
        pair.server_errors_per_second.unwrap(),
    );
    assert!((errors / requests - 0.1).abs() < 1e-9, "{pair:?}");
    let q = palisade::metrics::quantiles(pair.latency.as_ref().unwrap()).unwrap();
    assert!(q.p50 <= 0.05 && q.p99 > 0.05 && q.p99 <= 0.5, "{q:?}");
    let dns = l7.dns.iter().find(|d| d.namespace == "acme-web").unwrap();
    assert!(
        (dns.errors_per_second / dns.responses_per_second - 0.2).abs() < 1e-9,
        "{dns:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus scraping the demo cluster's simulated agents through the pod proxy, compared
// with the console's direct scraper reading the same agents.

/// Agent pods of the demo server: (pod, node, pod IP), found by the DaemonSet's label.
async fn demo_agents(client: &kube::Client) -> Vec<(String, String, String)> {
    use k8s_openapi::api::core::v1::Pod;
    let pods = kube::Api::<Pod>::namespaced(client.clone(), "kube-system")
        .list(&kube::api::ListParams::default().labels("k8s-app=cilium"))
        .await
        .expect("list agents");
    pods.items
        .iter()
        .map(|p| {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            let ip = p.status.as_ref().and_then(|s| s.pod_ip.clone());
            (
                kube::ResourceExt::name_any(p),
                node.expect("agents run on a node"),
                ip.expect("agents have an IP"),
            )
        })
        .collect()
}

/// The scrape targets the console would discover for these agent pods.
fn demo_targets(agents: &[(String, String, String)]) -> Vec<palisade::scrape::Target> {
    use palisade::model::{ClusterSnapshot, ObjectRef, PodInfo};
    let mut cluster = ClusterSnapshot::default();
    for (pod, node, ip) in agents {
        let info = PodInfo {
            id: ObjectRef::new("kube-system", pod),
            labels: std::sync::Arc::new([("k8s-app".to_string(), "cilium".to_string())].into()),
            ips: vec![ip.clone()],
            ports: vec![],
            phase: "Running".into(),
            node: Some(node.clone()),
        };
        cluster.pods.insert(info.id.clone(), info);
    }
    palisade::scrape::discover(&cluster, &default_rules())
}

/// Prometheus with one static target per agent port, each scraped through the demo server's pod
/// proxy (`__metrics_path__`), with `node` and `instance` (the pod) set as
/// docs/monitoring/README.md asks for the pod-proxy form.
fn start_prometheus_for_demo(
    dir: &Path,
    server: &palisade::sim::DemoServer,
    agents: &[(String, String, String)],
) -> (KillOnDrop, String) {
    let api_server = server.addr().to_string();
    // The demo serves TLS with its own CA and wants the admin's token, like a real API server.
    let ca_path = dir.join("demo-ca.pem");
    std::fs::write(&ca_path, server.ca_pem()).unwrap();
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for (job, port) in [("cilium-agent", 9962), ("hubble", 9965)] {
        config.push_str(&format!(
            "  - job_name: {job}\n    scheme: https\n    authorization:\n      credentials: {}\n    \
             tls_config:\n      ca_file: {}\n    static_configs:\n",
            server.admin_token(),
            ca_path.display()
        ));
        for (pod, node, _) in agents {
            config.push_str(&format!(
                "      - targets: ['{api_server}']\n        labels:\n          \
                 __metrics_path__: /api/v1/namespaces/kube-system/pods/{pod}:{port}/proxy/metrics\n          \
                 instance: {pod}\n          node: {node}\n"
            ));
        }
    }
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    (KillOnDrop(child), format!("http://127.0.0.1:{port}"))
}

/// Polls `check` every 100 ms until it gives a value; fails with `what` and the last state
/// after `deadline`.
async fn poll<T, F: std::future::Future<Output = Result<T, String>>>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(
                started.elapsed() < deadline,
                "timed out after {deadline:?} waiting for {what}; last: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }
}

/// A drop's identity within one namespace pair: (node, reason, direction).
type DropIdentity = (Option<String>, String, Option<String>);

/// The drops from `ns` to `ns`, per identity (summed, in case a source splits one identity).
fn pair_drops(reading: &Reading, ns: &str) -> std::collections::BTreeMap<DropIdentity, f64> {
    let mut out = std::collections::BTreeMap::new();
    for d in &reading.drops {
        if d.source_namespace.as_deref() == Some(ns)
            && d.destination_namespace.as_deref() == Some(ns)
        {
            *out.entry((d.node.clone(), d.reason.clone(), d.direction.clone()))
                .or_insert(0.0) += d.per_second;
        }
    }
    out
}

/// (CNI, node, up) of every agent in a reading, sorted.
fn agents_up(reading: &Reading) -> Vec<(palisade::metrics::Cni, Option<String>, bool)> {
    let mut out: Vec<_> = reading
        .agents
        .iter()
        .map(|a| (a.agent.cni, a.agent.node.clone(), a.up()))
        .collect();
    out.sort();
    out
}

/// The latest direct reading so far (the scraper task's messages, drained).
fn latest_direct(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<palisade::scrape::MetricsEvent>,
    latest: &mut Option<Reading>,
    count: &mut usize,
) {
    while let Ok(msg) = rx.try_recv() {
        if let palisade::scrape::MetricsEvent::Reading(reading) = msg {
            *latest = Some(*reading);
            *count += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_direct_scraping_agree_on_the_demo_agents() {
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use palisade::scrape::scraper;

    if !prometheus_installed() {
        return;
    }
    const DEADLINE: Duration = Duration::from_secs(30);
    let test_started = Instant::now();
    // Ten namespaces, four policies: t0001-* have no policy, so a deny-all breaks their traffic.
    let scenario = palisade::sim::Scenario::generated("10,80,4".parse().expect("scale"));
    let server = palisade::sim::DemoServer::start(scenario)
        .await
        .expect("server starts");
    let source =
        palisade::cluster::connect::ClusterSource::Kubeconfig(Box::new(server.kubeconfig()));
    let connection = palisade::cluster::connect(source, None)
        .await
        .expect("the console connects");
    let agents = demo_agents(&connection.client).await;
    assert!(agents.len() >= 3, "{agents:?}");
    let targets = demo_targets(&agents);
    assert_eq!(
        targets.len(),
        agents.len() * 2,
        "cilium and hubble per agent"
    );

    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, url) = start_prometheus_for_demo(dir.path(), &server, &agents);
    let prometheus = Prometheus::new(&url, fetcher());
    let all = queries(&default_rules());

    // The console's direct scraper on the same agents, every second.
    let options = ScrapeOptions {
        interval: Duration::from_secs(1),
        ..ScrapeOptions::default()
    };
    let scrape_fetcher = Fetcher::new(
        Some(connection.scrape_client.clone()),
        options.timeout,
        options.limits.max_bytes,
    );
    let (targets_tx, targets_rx) = tokio::sync::watch::channel(Vec::new());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let scraper = tokio::spawn(scraper::run(scrape_fetcher, targets_rx, options, tx));
    targets_tx.send_replace(targets.clone());

    // Ready: Prometheus has every target up and has seen the agents' first policy evaluation
    // (their revision counts the four seeded policies); the direct scraper has two readings.
    let everyone_up: Vec<_> = {
        let mut v: Vec<_> = targets
            .iter()
            .map(|t| (t.id.cni, t.id.node.clone(), true))
            .collect();
        v.sort();
        v
    };
    poll("Prometheus to have every agent up", DEADLINE, || async {
        let reading = prometheus.round(&all).await;
        let evaluated = prometheus
            .query("min(cilium_policy_max_revision)")
            .await
            .ok()
            .and_then(|v| v.first().map(|s| s.value))
            .is_some_and(|v| v >= 4.0);
        if agents_up(&reading) == everyone_up && reading.errors.is_empty() && evaluated {
            Ok(())
        } else {
            Err(format!("{:?} {:?}", agents_up(&reading), reading.errors))
        }
    })
    .await;
    let ready_at = test_started.elapsed();
    let (mut direct, mut direct_count) = (None, 0);
    let baseline_count = poll("two direct readings", DEADLINE, || {
        latest_direct(&mut rx, &mut direct, &mut direct_count);
        let n = direct_count;
        async move {
            if n >= 2 {
                Ok(n)
            } else {
                Err(format!("{n} readings"))
            }
        }
    })
    .await;
    let ns = "t0001-api";
    let baseline = direct.clone().unwrap();
    assert_eq!(agents_up(&baseline), everyone_up, "{:#?}", baseline.agents);
    assert!(
        pair_drops(&baseline, ns).is_empty(),
        "nothing denied in {ns} yet"
    );

    // The change: a deny-all on ingress in t0001-api.
    let deny: NetworkPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all-ingress"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }))
    .unwrap();
    let before_create = Instant::now();
    kube::Api::<NetworkPolicy>::namespaced(connection.client.clone(), ns)
        .create(&kube::api::PostParams::default(), &deny)
        .await
        .expect("create");
    let after_create = Instant::now();

    // Compared once Prometheus holds ten samples of the new series (see the tolerance below),
    // and the direct scraper has a reading with its rates.
    let selector = format!(r#"source_namespace="{ns}",destination_namespace="{ns}""#);
    poll(
        "ten Prometheus samples of the pair's drops",
        DEADLINE,
        || async {
            let promql = format!("min(count_over_time(hubble_drop_total{{{selector}}}[1m]))");
            match prometheus.query(&promql).await {
                Ok(v) if v.first().is_some_and(|s| s.value >= 10.0) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let direct = poll("a direct reading with the pair's drops", DEADLINE, || {
        latest_direct(&mut rx, &mut direct, &mut direct_count);
        let found = direct
            .clone()
            .filter(|r| direct_count > baseline_count && !pair_drops(r, ns).is_empty());
        async move { found.ok_or_else(|| "no drops yet".to_string()) }
    })
    .await;
    let round_started = Instant::now();
    let via_prometheus = prometheus.round(&all).await;
    let round_ended = Instant::now();
    assert!(
        via_prometheus.errors.is_empty(),
        "{:?}",
        via_prometheus.errors
    );

    // Same pair, same identities (node, reason, direction): the nodes that drop it.
    let (d, p) = (pair_drops(&direct, ns), pair_drops(&via_prometheus, ns));
    assert_eq!(
        d.keys().collect::<Vec<_>>(),
        p.keys().collect::<Vec<_>>(),
        "direct {d:#?}\nprometheus {p:#?}"
    );
    // One figure per identity from either source (a source must not split one by a label the
    // identity does not carry, such as Hubble's `protocol`).
    for (name, reading, identities) in
        [("direct", &direct, &d), ("prometheus", &via_prometheus, &p)]
    {
        let figures = reading
            .drops
            .iter()
            .filter(|x| x.source_namespace.as_deref() == Some(ns))
            .filter(|x| x.destination_namespace.as_deref() == Some(ns))
            .count();
        assert_eq!(figures, identities.len(), "{name}: {:#?}", reading.drops);
    }
    // Denied by the destination's ingress policy (`hubble_drop_total` carries no direction).
    assert!(
        d.keys()
            .all(|(_, _, dir)| matches!(dir.as_deref(), Some("ingress") | None)),
        "{d:?}"
    );

    // Rates. The sim's counters grow at a constant rate r from the evaluation that follows the
    // change (t0: between the create call and about a second after it; allow 2 s), and are
    // served as whole packets (floored).
    // * Direct: the increase of the floored counter over one scrape interval dt, so within
    //   1/dt of r (a packet more or less), plus a few ms of request latency in dt (3 %).
    // * Prometheus: rate(..[1m]) is the increase over the last minute divided by 60 s. For a
    //   series younger than the window, whose first sample is within one interval of the
    //   counter's zero, rate() extrapolates back to t0 and forward to the evaluation time T:
    //       prometheus = r × (T − t0) / 60        while T − t0 < 60 s
    //   so a new pair ramps up over its first minute. With ten samples (T − t0 ≥ 10 s) the 2 s
    //   uncertainty of t0 is in the age bounds below; 5 % covers a late last scrape (rate() then
    //   extrapolates half an interval instead of the whole gap), and one packet over the
    //   window (1/60 per second) the flooring.
    let age_min = (round_started - after_create).as_secs_f64() - 2.0;
    let age_max = (round_ended - before_create).as_secs_f64();
    assert!(age_max < 60.0, "the series must be younger than the window");
    let dt = direct.interval.as_secs_f64();
    assert!(dt >= 0.9, "direct interval {dt}");
    for (identity, direct_rate) in &d {
        let prometheus_rate = p[identity];
        let r_low = (direct_rate - 1.0 / dt) * 0.97;
        let r_high = (direct_rate + 1.0 / dt) * 1.03;
        let low = r_low * age_min / 60.0 * 0.95 - 1.0 / 60.0;
        let high = r_high * age_max / 60.0 * 1.05 + 1.0 / 60.0;
        assert!(
            (low..=high).contains(&prometheus_rate),
            "{identity:?}: direct {direct_rate}/s over {dt:.2} s, Prometheus {prometheus_rate}/s, \
             expected {low}..{high} (age {age_min:.1}..{age_max:.1} s)"
        );
    }

    // Same agents, all up, from either source.
    assert_eq!(agents_up(&direct), everyone_up);
    assert_eq!(agents_up(&via_prometheus), everyone_up);

    // Enforcement latency: the change added one observation (20–600 ms) to every agent's
    // histogram; both sources have quantiles within that range.
    for (name, reading) in [("direct", &direct), ("prometheus", &via_prometheus)] {
        let figure = reading
            .latency
            .iter()
            .find(|f| f.metric == "cilium_policy_implementation_delay" && f.node.is_none())
            .unwrap_or_else(|| panic!("{name}: no policy delay figure: {:#?}", reading.latency));
        let q = figure
            .quantiles
            .unwrap_or_else(|| panic!("{name}: no quantiles after the change: {figure:?}"));
        assert!(
            q.p50 > 0.0 && q.p50 <= q.p95 && q.p95 <= q.p99 && q.p99 <= 1.0,
            "{name}: {q:?}"
        );
        assert!(figure.observations >= 1.0, "{name}: {figure:?}");
    }
    eprintln!(
        "ready after {ready_at:?}, compared after {:?}; direct {d:?}, prometheus {p:?}",
        test_started.elapsed()
    );
    scraper.abort();
    server.shutdown().await;
}
