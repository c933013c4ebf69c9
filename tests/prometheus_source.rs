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
             cilium_policy_implementation_delay_count{{source=\"k8s\"}} {n}\n",
            drops = n * 10,
            sum = n as f64 * 0.05,
        );
        ("200 OK".to_string(), body)
    })
    .await;
    url.trim_start_matches("http://").to_string()
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
            && reading.latency.iter().any(|f| f.quantiles.is_some());
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
}
