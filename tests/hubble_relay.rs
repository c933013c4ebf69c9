//! The Hubble Relay client (tonic) against the demo's relay and against hostile servers written
//! here: last N then follow, filters, reconnect, lost events, garbage, oversized messages,
//! endless node status, TLS mismatches. Waits poll conditions with deadlines.

mod hubble_support;
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use palisade::flows::hubble_wire::{
    FlowFilter, GetFlowsResponse, NodeState, NodeStatusEvent, ResponseType, Verdict,
};
use palisade::flows::{DataplaneVerdict, FlowNews, SourceStatus};
use palisade::flowsrc::TlsFiles;
use palisade::flowsrc::hubble::{self, HubbleSpec};
use palisade::sim::flow_feed::{FeedItem, FlowFeed};
use palisade::sim::relay::HubbleRelay;
use palisade::sim::{DemoServer, Scenario};

use hubble_support::*;

const DEADLINE: Duration = Duration::from_secs(20);

fn spec(addr: SocketAddr, filters: Vec<FlowFilter>, last: u64) -> HubbleSpec {
    HubbleSpec {
        address: addr.to_string(),
        tls: TlsFiles::default(),
        filters,
        last,
    }
}

fn dropped_in(ns: &str) -> FlowFilter {
    FlowFilter {
        source_pod: vec![format!("{ns}/")],
        verdict: vec![Verdict::Dropped as i32],
        ..FlowFilter::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_relay_serves_the_last_n_then_follows_with_filters() {
    let server = DemoServer::start(Scenario::builtin()).await.unwrap();
    let feed = server.flow_feed();
    let addr = server.hubble_relay_addr().expect("the demo starts a relay");
    assert!(addr.ip().is_loopback());
    // Ten flows, alternately dropped and forwarded; pods web-0..web-9.
    for i in 0..10 {
        let verdict = if i % 2 == 0 {
            DataplaneVerdict::Dropped
        } else {
            DataplaneVerdict::Forwarded
        };
        feed.publish(flow_item("hubble-t1", &format!("web-{i}"), verdict, 53));
    }
    let status = server_status(addr).await;
    assert!(status.num_flows >= 10, "{status:?}");
    assert!(status.version.starts_with("palisade-demo"), "{status:?}");
    let news = Collector::default();
    let task = hubble::spawn(spec(addr, vec![dropped_in("hubble-t1")], 3), news.sink());
    let pods = |news: &Collector| news.pods("hubble-t1");
    wait_for("the last 3 dropped flows", DEADLINE, || {
        (pods(&news).len() >= 3).then_some(())
    })
    .await;
    assert_eq!(pods(&news), ["web-4", "web-6", "web-8"]);
    // Live flows: only the dropped ones of hubble-t1 pass.
    feed.publish(flow_item(
        "hubble-t1",
        "web-10",
        DataplaneVerdict::Forwarded,
        53,
    ));
    feed.publish(flow_item("other-ns", "x-0", DataplaneVerdict::Dropped, 53));
    feed.publish(flow_item(
        "hubble-t1",
        "web-11",
        DataplaneVerdict::Dropped,
        443,
    ));
    wait_for("the live dropped flow", DEADLINE, || {
        (pods(&news).len() >= 4).then_some(())
    })
    .await;
    assert_eq!(pods(&news), ["web-4", "web-6", "web-8", "web-11"]);
    let statuses = news.statuses();
    assert!(
        matches!(
            statuses[..],
            [SourceStatus::Connecting { .. }, SourceStatus::Live { .. }]
        ),
        "{statuses:?}"
    );
    task.abort();

    // Headless: the last 2 (port 53 only), no following.
    let filter = FlowFilter {
        destination_port: vec!["53".into()],
        ..dropped_in("hubble-t1")
    };
    let (flows, gaps) = hubble::fetch(spec(addr, vec![filter], 0), 2).await.unwrap();
    let fetched: Vec<_> = flows.iter().filter_map(|f| f.src.pod.as_deref()).collect();
    assert_eq!(fetched, ["web-6", "web-8"]);
    assert!(gaps.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_the_relay_does_not_support_is_refused_by_name() {
    let feed = Arc::new(FlowFeed::new(100, 100));
    let relay = HubbleRelay::start(loopback(), feed).await.unwrap();
    let status = raw_get_flows_with_source_label(relay.addr()).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("source_label"), "{status:?}");
    // Through the client: a clear status, retried.
    let bad_protocol = FlowFilter {
        protocol: vec!["carrier-pigeon".into()],
        ..FlowFilter::default()
    };
    let err = hubble::fetch(spec(relay.addr(), vec![bad_protocol], 0), 5)
        .await
        .unwrap_err();
    assert!(
        err.contains("InvalidArgument") && err.contains("carrier-pigeon"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_when_the_relay_restarts_and_resumes_after_the_last_flow() {
    let feed = Arc::new(FlowFeed::new(1000, 1000));
    let relay = HubbleRelay::start(loopback(), feed.clone()).await.unwrap();
    let addr = relay.addr();
    let news = Collector::default();
    let task = hubble::spawn(spec(addr, Vec::new(), 100), news.sink());
    feed.publish(flow_item("hubble-t3", "a", DataplaneVerdict::Dropped, 53));
    wait_for("flow a", DEADLINE, || {
        (news.pods("hubble-t3") == ["a"]).then_some(())
    })
    .await;
    relay.stop().await;
    wait_for("Reconnecting", DEADLINE, || {
        matches!(
            news.statuses().last(),
            Some(SourceStatus::Reconnecting { .. })
        )
        .then_some(())
    })
    .await;
    feed.publish(flow_item("hubble-t3", "b", DataplaneVerdict::Dropped, 53));
    let relay = HubbleRelay::start(addr, feed.clone()).await.unwrap();
    wait_for("flow b after the restart", DEADLINE, || {
        (news.pods("hubble-t3").len() >= 2).then_some(())
    })
    .await;
    assert_eq!(
        news.pods("hubble-t3"),
        ["a", "b"],
        "resumed, without repeats"
    );
    let statuses = news.statuses();
    let n = statuses.len();
    assert!(
        matches!(
            statuses[n - 2..],
            [SourceStatus::Reconnecting { .. }, SourceStatus::Live { .. }]
        ),
        "{statuses:?}"
    );
    task.abort();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_events_and_a_lagging_stream_become_gaps() {
    let feed = Arc::new(FlowFeed::new(10, 4));
    let relay = HubbleRelay::start(loopback(), feed.clone()).await.unwrap();
    let news = Collector::default();
    let task = hubble::spawn(spec(relay.addr(), Vec::new(), 0), news.sink());
    wait_for("the stream to open", DEADLINE, || {
        news.statuses()
            .iter()
            .any(|s| matches!(s, SourceStatus::Live { .. }))
            .then_some(())
            .or_else(|| {
                // Live comes with the first response: send something harmless until then.
                feed.publish(FeedItem::Lost {
                    count: 0,
                    what: "warm-up".into(),
                });
                None
            })
    })
    .await;
    feed.publish(FeedItem::Lost {
        count: 42,
        what: "worker-2".into(),
    });
    wait_for("the ring buffer gap", DEADLINE, || {
        news.gaps()
            .into_iter()
            .find(|g| g.lost == 42)
            .map(|g| assert_eq!(g.what, "Hubble's ring buffer on node worker-2"))
    })
    .await;
    // A burst far past what the stream may lag: every flow is either delivered or counted lost.
    const BURST: u64 = 2000;
    for i in 0..BURST {
        feed.publish(flow_item(
            "hubble-t4",
            &format!("p{i}"),
            DataplaneVerdict::Dropped,
            53,
        ));
    }
    let queue_lost = |news: &Collector| -> u64 {
        news.gaps()
            .iter()
            .filter(|g| g.what.contains("events queue"))
            .map(|g| g.lost)
            .sum()
    };
    wait_for("every flow delivered or counted", DEADLINE, || {
        (news.pods("hubble-t4").len() as u64 + queue_lost(&news) == BURST).then_some(())
    })
    .await;
    assert!(queue_lost(&news) > 0, "the burst must have lagged");
    task.abort();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_a_tcp_server_is_a_clear_status_retried_with_backoff() {
    let (addr, attempts) = garbage_server().await;
    let news = Collector::default();
    let started = Instant::now();
    let task = hubble::spawn(spec(addr, Vec::new(), 10), news.sink());
    wait_for("three attempts", DEADLINE, || {
        (attempts.load(Ordering::SeqCst) >= 3 && news.reconnecting_errors().len() >= 3)
            .then_some(())
    })
    .await;
    // 200 ms then 400 ms between the attempts: not a hot loop.
    assert!(started.elapsed() >= Duration::from_millis(600));
    let error = news.reconnecting_errors().pop().unwrap();
    assert!(error.contains("does not speak plain gRPC"), "{error}");
    assert!(!error.contains('\n'));
    assert!(news.flows_count() == 0 && news.gaps().is_empty());
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_an_error_naming_the_size() {
    let feed = Arc::new(FlowFeed::new(10, 10));
    let relay = HubbleRelay::start(loopback(), feed.clone()).await.unwrap();
    let huge = "p".repeat(5 * 1024 * 1024);
    feed.publish(flow_item("hubble-t6", &huge, DataplaneVerdict::Dropped, 53));
    let news = Collector::default();
    let task = hubble::spawn(spec(relay.addr(), Vec::new(), 10), news.sink());
    wait_for("two refusals", DEADLINE, || {
        (news.reconnecting_errors().len() >= 2).then_some(())
    })
    .await;
    let error = news.reconnecting_errors().pop().unwrap();
    assert!(error.contains("over the 4 MiB limit"), "{error}");
    assert!(error.contains("bytes"), "names the size: {error}");
    assert_eq!(news.flows_count(), 0);
    let err = hubble::fetch(spec(relay.addr(), Vec::new(), 0), 1)
        .await
        .unwrap_err();
    assert!(err.contains("4 MiB"), "{err}");
    task.abort();
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_node_status_stream_costs_one_gap_not_a_flood() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let addr = grpc_server(None, move || {
        let counter = counter.clone();
        Reply::Stream(Box::new(move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let state = if n.is_multiple_of(2) {
                NodeState::NodeError
            } else {
                NodeState::NodeUnavailable
            };
            Some(GetFlowsResponse {
                response_types: Some(ResponseType::NodeStatus(NodeStatusEvent {
                    state_change: state as i32,
                    node_names: vec!["worker-9".into()],
                    message: "cannot reach the agent".into(),
                })),
                node_name: String::new(),
                time: None,
            })
        }))
    })
    .await;
    let news = Collector::default();
    let task = hubble::spawn(spec(addr, Vec::new(), 10), news.sink());
    wait_for("20,000 node status messages", DEADLINE, || {
        (sent.load(Ordering::SeqCst) >= 20_000).then_some(())
    })
    .await;
    let gaps = news.gaps();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0].what.contains("worker-9"), "{gaps:?}");
    assert!(news.len() <= 3, "few messages: {}", news.len());
    assert!(matches!(
        news.statuses().last(),
        Some(SourceStatus::Live { .. })
    ));
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_a_relay_and_a_refused_port_say_so() {
    let addr = grpc_server(None, || Reply::Unimplemented).await;
    let err = hubble::fetch(spec(addr, Vec::new(), 0), 1)
        .await
        .unwrap_err();
    assert!(err.contains("is not a Hubble Relay"), "{err}");

    let closed = {
        let listener = std::net::TcpListener::bind(loopback()).unwrap();
        listener.local_addr().unwrap()
    };
    let news = Collector::default();
    let task = hubble::spawn(spec(closed, Vec::new(), 10), news.sink());
    wait_for("two refused attempts", DEADLINE, || {
        (news.reconnecting_errors().len() >= 2).then_some(())
    })
    .await;
    let error = news.reconnecting_errors().pop().unwrap();
    assert!(error.starts_with("connection refused by"), "{error}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_mismatches_are_clear_and_the_right_ca_works() {
    let pki = Pki::generate();
    let files = pki.write();
    let addr = grpc_server(Some(&pki), || {
        Reply::Stream(Box::new(|n| {
            (n < 1).then(|| GetFlowsResponse {
                response_types: None,
                node_name: "tls-node".into(),
                time: None,
            })
        }))
    })
    .await;
    // The right CA: the stream opens.
    let good = HubbleSpec {
        tls: files.tls(&files.ca),
        ..spec(addr, Vec::new(), 1)
    };
    assert_eq!(hubble::fetch(good, 1).await, Ok((Vec::new(), Vec::new())));
    // A CA that did not sign it.
    let other = Pki::generate().write();
    let wrong = HubbleSpec {
        tls: files.tls(&other.ca),
        ..spec(addr, Vec::new(), 1)
    };
    let news = Collector::default();
    let task = hubble::spawn(wrong, news.sink());
    wait_for("two TLS refusals", DEADLINE, || {
        (news.reconnecting_errors().len() >= 2).then_some(())
    })
    .await;
    let error = news.reconnecting_errors().pop().unwrap();
    assert!(error.contains("not signed by the given CA"), "{error}");
    task.abort();
    // Plain text to a TLS server.
    let err = hubble::fetch(spec(addr, Vec::new(), 1), 1)
        .await
        .unwrap_err();
    assert!(err.contains("does not speak plain gRPC"), "{err}");
    // TLS to a plain-text relay.
    let relay = HubbleRelay::start(loopback(), Arc::new(FlowFeed::new(1, 1)))
        .await
        .unwrap();
    let to_plain = HubbleSpec {
        tls: files.tls(&files.ca),
        ..spec(relay.addr(), Vec::new(), 1)
    };
    let err = hubble::fetch(to_plain, 1).await.unwrap_err();
    assert!(err.contains("does not answer TLS"), "{err}");
    relay.stop().await;
    // No CA for https: a configuration error, said once, no retries.
    let news = Collector::default();
    let no_ca = HubbleSpec {
        address: format!("https://{addr}"),
        ..spec(addr, Vec::new(), 1)
    };
    hubble::spawn(no_ca, news.sink()).await.unwrap();
    assert!(
        matches!(&news.statuses()[..], [SourceStatus::Absent { reason }] if reason.contains("CA")),
        "{:?}",
        news.statuses()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_sends_the_client_certificate() {
    let pki = Pki::generate();
    let files = pki.write();
    let addr = grpc_server_with(Some(&pki), true, || {
        Reply::Stream(Box::new(|n| {
            (n < 1).then(|| GetFlowsResponse {
                response_types: None,
                node_name: "mtls-node".into(),
                time: None,
            })
        }))
    })
    .await;
    let mutual = HubbleSpec {
        tls: TlsFiles {
            cert: Some(files.cert.clone()),
            key: Some(files.key.clone()),
            ..files.tls(&files.ca)
        },
        ..spec(addr, Vec::new(), 1)
    };
    assert_eq!(hubble::fetch(mutual, 1).await, Ok((Vec::new(), Vec::new())));
    // Without the client certificate the relay refuses the handshake: an error, not a hang.
    let without = HubbleSpec {
        tls: files.tls(&files.ca),
        ..spec(addr, Vec::new(), 1)
    };
    let err = hubble::fetch(without, 1).await.unwrap_err();
    // Depending on timing the handshake fails with TLS 1.3's alert or the connection closes.
    assert!(
        err.contains("requires a client certificate")
            || err.contains("closed the TLS connection (does it require a client certificate"),
        "{err}"
    );
    // A certificate without its key is a configuration error.
    let half = HubbleSpec {
        tls: TlsFiles {
            cert: Some(files.cert.clone()),
            ..files.tls(&files.ca)
        },
        ..spec(addr, Vec::new(), 1)
    };
    let err = hubble::fetch(half, 1).await.unwrap_err();
    assert!(err.contains("needs its key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_refuses_a_non_loopback_address() {
    let feed = Arc::new(FlowFeed::new(1, 1));
    let err = HubbleRelay::start("0.0.0.0:0".parse().unwrap(), feed)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("loopback only"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_flows_arrive_in_few_batches() {
    let feed = Arc::new(FlowFeed::new(10, 20_000));
    let relay = HubbleRelay::start(loopback(), feed.clone()).await.unwrap();
    let news = Collector::default();
    let task = hubble::spawn(spec(relay.addr(), Vec::new(), 0), news.sink());
    // Live needs a first response; a zero-count loss is harmless.
    wait_for("the stream to open", DEADLINE, || {
        let live = news
            .statuses()
            .iter()
            .any(|s| matches!(s, SourceStatus::Live { .. }));
        if !live {
            feed.publish(FeedItem::Lost {
                count: 0,
                what: "warm-up".into(),
            });
        }
        live.then_some(())
    })
    .await;
    for i in 0..5000 {
        feed.publish(flow_item(
            "hubble-t9",
            &format!("p{i}"),
            DataplaneVerdict::Dropped,
            53,
        ));
    }
    wait_for("5,000 flows", DEADLINE, || {
        (news.pods("hubble-t9").len() == 5000).then_some(())
    })
    .await;
    let batches = news.count(|n| matches!(n, FlowNews::Flows { .. }));
    assert!(
        (20..=60).contains(&batches),
        "5,000 flows in {batches} messages (at most 256 each, few partial ones)"
    );
    task.abort();
    relay.stop().await;
}

/// `palisade demo --serve-only --hubble-relay-listen ADDR` serves the relay there and says so;
/// a non-loopback address is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_binary_serves_its_relay_on_the_address_given() {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    let refused = Command::new(support::BINARY)
        .args([
            "demo",
            "--serve-only",
            "--hubble-relay-listen",
            "0.0.0.0:4245",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("loopback only"), "{stderr}");

    let addr = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = support::KillOnDrop(
        Command::new(support::BINARY)
            .args(["demo", "--serve-only", "--hubble-relay-listen"])
            .arg(addr.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let relay_line = wait_for("the relay's start-up line", DEADLINE, || {
        lines.extend(rx.try_iter());
        lines.iter().find(|l| l.contains("Hubble Relay")).cloned()
    })
    .await;
    assert!(relay_line.contains(&addr.to_string()), "{relay_line}");
    let fetched = hubble::fetch(spec(addr, Vec::new(), 0), 10).await;
    assert!(fetched.is_ok(), "{fetched:?}");
}
