//! Direct scraping against real HTTP servers on 127.0.0.1: one fast agent, one that never
//! answers, one that answers junk, one whose payload is too large, one that fails with 500.
//! Rounds must end within the timeout bound, the good agent's figures must come through, and
//! each bad agent must carry its own clear error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kube::config::KubeConfigOptions;
use palisade::metrics::{Cni, Limits, Reading};
use palisade::scrape::MetricsEvent;
use palisade::scrape::scraper::{self, ScrapeOptions};
use palisade::scrape::{Fetcher, How, Target, scrape_round, url_targets};
use palisade::sim::{DemoServer, Scenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

const TIMEOUT: Duration = Duration::from_secs(1);
const MAX_BYTES: usize = 256 << 10;
const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy)]
enum Behaviour {
    /// A Cilium payload whose drop counter grows by 10 per request.
    Fast,
    Silent,
    /// 200 with bytes that are not UTF-8.
    Junk,
    /// 200 with 1 MiB and no Content-Length (the limit must cut the read).
    Oversized,
    Fails,
}

/// A one-trick HTTP/1.0-style server: reads the request head, answers, closes.
async fn serve(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(answer(socket, behaviour, n));
        }
    });
    format!("http://{addr}/metrics")
}

async fn answer(mut socket: TcpStream, behaviour: Behaviour, n: u64) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(k) => head.extend_from_slice(&buf[..k]),
        }
    }
    let (status, body): (&str, Vec<u8>) = match behaviour {
        Behaviour::Fast => ("200 OK", fast_payload(n).into_bytes()),
        Behaviour::Silent => {
            // Hold the connection open and say nothing until the client gives up.
            let _ = socket.read(&mut buf).await;
            return;
        }
        Behaviour::Junk => ("200 OK", vec![0xff, 0xfe, 0x00, 0x9f, b'\n', 0xc3]),
        Behaviour::Oversized => ("200 OK", vec![b'#'; 1 << 20]),
        Behaviour::Fails => (
            "500 Internal Server Error",
            b"internal error: metrics registry is locked\nat main.go:12\n".to_vec(),
        ),
    };
    let length = match behaviour {
        Behaviour::Oversized => String::new(),
        _ => format!("content-length: {}\r\n", body.len()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\n{length}connection: close\r\n\r\n"
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(&body).await;
    let _ = socket.shutdown().await;
}

fn fast_payload(n: u64) -> String {
    format!(
        "# TYPE cilium_drop_count_total counter\n\
         cilium_drop_count_total{{direction=\"INGRESS\",reason=\"Policy denied\"}} {}\n\
         # TYPE cilium_policy gauge\n\
         cilium_policy 37\n",
        n * 10
    )
}

struct Agents {
    fast: String,
    silent: String,
    junk: String,
    oversized: String,
    fails: String,
}

async fn agents() -> Agents {
    Agents {
        fast: serve(Behaviour::Fast).await,
        silent: serve(Behaviour::Silent).await,
        junk: serve(Behaviour::Junk).await,
        oversized: serve(Behaviour::Oversized).await,
        fails: serve(Behaviour::Fails).await,
    }
}

fn targets(a: &Agents) -> Vec<Target> {
    url_targets(&[
        (Cni::Cilium, a.fast.clone()),
        (Cni::Cilium, a.silent.clone()),
        (Cni::Calico, a.junk.clone()),
        (Cni::Antrea, a.oversized.clone()),
        (Cni::Hubble, a.fails.clone()),
    ])
}

fn options() -> ScrapeOptions {
    ScrapeOptions {
        interval: Duration::from_millis(200),
        timeout: TIMEOUT,
        limits: Limits {
            max_bytes: MAX_BYTES,
            ..Limits::default()
        },
        ..ScrapeOptions::default()
    }
}

fn error_of<'a>(reading: &'a Reading, url: &str) -> Option<&'a str> {
    reading
        .agents
        .iter()
        .find(|a| a.agent.target == url)
        .unwrap_or_else(|| panic!("no status for {url}"))
        .error
        .as_deref()
}

#[tokio::test]
async fn one_round_ends_within_the_timeout_and_reports_each_agent() {
    let a = agents().await;
    let fetcher = Fetcher::new(None, TIMEOUT, MAX_BYTES);
    let list = targets(&a);
    let mut progress = Vec::new();
    let started = Instant::now();
    let scrapes = scrape_round(&fetcher, &list, &options(), |done, total| {
        progress.push((done, total))
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < TIMEOUT + Duration::from_millis(900),
        "round took {took:?}"
    );
    assert!(
        took >= TIMEOUT,
        "the silent agent holds the round to its deadline"
    );
    assert_eq!(progress.last(), Some(&(5, 5)));
    assert_eq!(progress.len(), 5);

    let outcome = |url: &str| {
        scrapes
            .iter()
            .find(|s| s.agent.target == url)
            .map(|s| s.outcome.clone())
            .unwrap()
    };
    let fast = outcome(&a.fast).expect("the fast agent answers");
    // Extracted as it arrived: the policy drop counter, read as Cilium's (direction lowercased).
    let drops: Vec<_> = (fast.metrics.drops.iter())
        .map(|d| (d.metric, d.reason.as_str(), d.direction.as_deref()))
        .collect();
    assert_eq!(
        drops,
        [("cilium_drop_count_total", "Policy denied", Some("ingress"))]
    );
    assert_eq!(fast.line_errors, 0);
    assert_eq!(outcome(&a.silent).unwrap_err(), "no answer within 1 s");
    assert_eq!(
        outcome(&a.junk).unwrap_err(),
        "the answer is not UTF-8 text, so not a metrics payload"
    );
    assert_eq!(
        outcome(&a.oversized).unwrap_err(),
        format!("payload is over the {MAX_BYTES}-byte limit")
    );
    assert_eq!(
        outcome(&a.fails).unwrap_err(),
        "HTTP 500 Internal Server Error: internal error: metrics registry is locked"
    );
    // The fast agent is not held back by the silent one.
    let fast_took = scrapes
        .iter()
        .find(|s| s.agent.target == a.fast)
        .unwrap()
        .duration;
    assert!(fast_took < TIMEOUT / 2, "fast agent took {fast_took:?}");
}

#[tokio::test]
async fn refused_connections_are_a_clear_error() {
    // Bind and drop: nothing listens on this port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fetcher = Fetcher::new(None, TIMEOUT, MAX_BYTES);
    let err = fetcher
        .fetch(&How::Url(format!("http://127.0.0.1:{port}/metrics")))
        .await
        .unwrap_err();
    assert!(err.starts_with("cannot connect: "), "{err}");
    assert!(err.to_lowercase().contains("refused"), "{err}");
}

#[tokio::test]
async fn the_task_sends_progress_then_readings_with_rates() {
    let a = agents().await;
    let (targets_tx, targets_rx) = watch::channel(Vec::new());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let fetcher = Fetcher::new(None, TIMEOUT, MAX_BYTES);
    let task = tokio::spawn(scraper::run(fetcher, targets_rx, options(), tx));
    targets_tx.send_replace(targets(&a));

    let mut readings: Vec<(Instant, Reading)> = Vec::new();
    let mut progress = 0;
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            match rx.recv().await.expect("the scraper keeps running") {
                MetricsEvent::Progress { done, total } => {
                    assert!(done <= total && total == 5);
                    progress += 1;
                }
                MetricsEvent::Reading(reading) => {
                    let has_rates = !reading.drops.is_empty();
                    readings.push((Instant::now(), *reading));
                    if has_rates {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no reading with drop rates within {DEADLINE:?}"
    );
    assert!(progress >= 2, "progress is reported during each round");
    let (_, last) = readings.last().unwrap();
    let drop = &last.drops[0];
    assert_eq!(drop.reason, "Policy denied");
    assert_eq!(drop.direction.as_deref(), Some("ingress"));
    assert!(drop.per_second > 0.0, "{drop:?}");
    assert!(
        last.interval >= TIMEOUT,
        "rounds are at least the silent agent's deadline apart"
    );
    assert_eq!(last.agents.len(), 5);
    let fast = last
        .agents
        .iter()
        .find(|s| s.agent.target == a.fast)
        .unwrap();
    assert!(fast.up());
    assert_eq!(fast.policy_count(), Some(37.0));
    assert_eq!(error_of(last, &a.silent), Some("no answer within 1 s"));
    assert!(error_of(last, &a.fails).unwrap().starts_with("HTTP 500"));
    // Rounds never overlap: a round lasts at least the timeout, so readings are that far apart.
    for pair in readings.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= TIMEOUT - Duration::from_millis(50));
    }
    task.abort();
}

#[tokio::test]
async fn no_targets_is_said_once_and_the_scraper_waits_for_agents() {
    let (targets_tx, targets_rx) = watch::channel(Vec::new());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let fetcher = Fetcher::new(None, TIMEOUT, MAX_BYTES);
    let task = tokio::spawn(scraper::run(fetcher, targets_rx, options(), tx));
    targets_tx.send_replace(Vec::new());
    let first = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .unwrap()
        .unwrap();
    let MetricsEvent::Reading(reading) = first else {
        panic!("expected a reading, got {first:?}");
    };
    assert!(reading.agents.is_empty());
    assert!(
        reading.errors[0].starts_with("no CNI agent pods found"),
        "{:?}",
        reading.errors
    );
    // Nothing more until the targets change.
    assert!(
        tokio::time::timeout(Duration::from_millis(600), rx.recv())
            .await
            .is_err()
    );
    let a = agents().await;
    targets_tx.send_replace(url_targets(&[(Cni::Cilium, a.fast.clone())]));
    let next = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(MetricsEvent::Reading(reading)) = rx.recv().await {
                return reading;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(next.agents.len(), 1);
    assert!(next.agents[0].up());
    task.abort();
}

#[tokio::test]
async fn pod_proxy_errors_carry_the_api_servers_status() {
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let config =
        kube::Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
            .await
            .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let fetcher = Fetcher::new(Some(client), TIMEOUT * 5, MAX_BYTES);
    let how = How::PodProxy {
        namespace: "kube-system".into(),
        pod: "no-such-agent".into(),
        port: 9962,
        scheme: palisade::scrape::Scheme::Http,
        path: "/metrics".into(),
    };
    let err = fetcher.fetch(&how).await.unwrap_err();
    assert!(err.starts_with("HTTP 404 Not Found"), "{err}");
    assert!(
        err.contains("(no such pod, or the agent does not serve this path)"),
        "{err}"
    );
    server.shutdown().await;
}

/// An agent that is down answers 503 through the pod proxy: the scrape must say so at once. The
/// console's API client keeps kube-rs' default retries (a 503 repeated up to 15 times with growing
/// backoff), which held such a scrape until its 3 s deadline and reported "no answer within 3 s";
/// the scraper gets `Connection::scrape_client`, the same connection without retries.
#[tokio::test]
async fn a_down_agent_through_the_consoles_client_is_a_prompt_503() {
    let options = palisade::sim::ServerOptions {
        agents: false,
        ..palisade::sim::ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let source =
        palisade::cluster::connect::ClusterSource::Kubeconfig(Box::new(server.kubeconfig()));
    let connection = palisade::cluster::connect(source, None)
        .await
        .expect("the console connects");
    let timeout = palisade::scrape::DEFAULT_TIMEOUT;
    let fetcher = Fetcher::new(Some(connection.scrape_client.clone()), timeout, MAX_BYTES);
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(connection.client.clone(), "kube-system");
    let agent = pods
        .list(&kube::api::ListParams::default().labels("k8s-app=cilium"))
        .await
        .expect("list agents")
        .items
        .remove(0);
    let how = How::PodProxy {
        namespace: "kube-system".into(),
        pod: kube::ResourceExt::name_any(&agent),
        port: 9962,
        scheme: palisade::scrape::Scheme::Http,
        path: "/metrics".into(),
    };
    let started = Instant::now();
    let err = fetcher.fetch(&how).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        err.starts_with("HTTP 503 Service Unavailable: error trying to reach service: dial tcp "),
        "{err} (after {took:?})"
    );
    assert!(
        err.ends_with("(the API server could not reach the agent's metrics port)"),
        "{err}"
    );
    assert!(
        took < Duration::from_millis(500),
        "one request, no retries: took {took:?} (deadline {timeout:?})"
    );
    server.shutdown().await;
}
