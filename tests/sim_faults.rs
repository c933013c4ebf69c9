//! The demo server's faults answer as a real API server does (see ../shared/REAL-API.md), seen
//! from raw HTTP (over the demo's TLS, with the admin's token) so that status codes, headers,
//! silence and resets are visible as they are.

use std::sync::Arc;
use std::time::Duration;

use palisade::sim::{DemoServer, Fault, Restart, Scenario, ServerOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

async fn server() -> DemoServer {
    let options = ServerOptions {
        bookmark_interval: Duration::from_millis(200),
        agents: false,
        ..ServerOptions::default()
    };
    DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts")
}

/// A connection to the demo: open, or dropped by the server before TLS was established (a
/// refused connection, as during a restart or a cut).
enum Conn {
    Open(Box<TlsStream<TcpStream>>),
    Refused,
}

fn connector(server: &DemoServer) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(server.ca_pem().as_bytes()) {
        roots.add(cert.expect("the demo's CA")).expect("a CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Sends a GET as the admin and returns the connection.
async fn get(server: &DemoServer, path: &str) -> Conn {
    let tcp = TcpStream::connect(server.addr()).await.expect("connects");
    let name = ServerName::IpAddress(server.addr().ip().into());
    let Ok(mut stream) = connector(server).connect(name, tcp).await else {
        return Conn::Refused;
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: demo\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.admin_token()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    Conn::Open(Box::new(stream))
}

/// What arrives within `window`, and whether the server closed the connection (and how).
#[derive(Debug)]
struct Received {
    text: String,
    ended: Option<Ending>,
}

#[derive(Debug, PartialEq)]
enum Ending {
    Closed,
    Reset,
}

async fn read_for(conn: &mut Conn, window: Duration) -> Received {
    let Conn::Open(stream) = conn else {
        return Received {
            text: String::new(),
            ended: Some(Ending::Closed),
        };
    };
    let mut bytes = Vec::new();
    let until = Instant::now() + window;
    let ended = loop {
        let mut buf = [0u8; 8192];
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Err(_) => break None,
            Ok(Ok(0)) => break Some(Ending::Closed),
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            // A close without TLS's close_notify is still a close.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break Some(Ending::Closed);
            }
            Ok(Err(_)) => break Some(Ending::Reset),
        }
    };
    Received {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        ended,
    }
}

async fn answer(server: &DemoServer, path: &str) -> String {
    let mut stream = get(server, path).await;
    let got = read_for(&mut stream, Duration::from_secs(10)).await;
    assert!(got.ended.is_some(), "a complete answer: {got:?}");
    got.text
}

#[tokio::test]
async fn a_list_from_a_future_version_answers_504_after_about_3_s() {
    let server = server().await;
    let current = server.resource_version();
    let started = Instant::now();
    let text = answer(
        &server,
        &format!("/api/v1/namespaces?resourceVersion={}", current + 1000),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(2900)..Duration::from_secs(5)).contains(&waited),
        "{waited:?}"
    );
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
    assert!(text.to_lowercase().contains("retry-after: 1"), "{text}");
    for needle in [
        "\"reason\":\"Timeout\"",
        &format!(
            "Too large resource version: {}, current: {current}",
            current + 1000
        ),
        "\"reason\":\"ResourceVersionTooLarge\"",
        "\"retryAfterSeconds\":1",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    // Up to date versions list as usual.
    let text = answer(
        &server,
        &format!("/api/v1/namespaces?resourceVersion={current}"),
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn a_watch_from_a_future_version_is_open_and_silent() {
    let server = server().await;
    let future = server.resource_version() + 1000;
    let mut stream = get(
        &server,
        &format!("/api/v1/namespaces?watch=true&allowWatchBookmarks=true&resourceVersion={future}"),
    )
    .await;
    // Ten bookmark intervals: a watch from the present would have had bookmarks by now.
    let got = read_for(&mut stream, Duration::from_secs(2)).await;
    assert!(got.text.starts_with("HTTP/1.1 200"), "{got:?}");
    assert!(!got.text.contains("BOOKMARK"), "{got:?}");
    assert!(!got.text.contains("\"type\""), "no event at all: {got:?}");
    assert_eq!(got.ended, None, "still open");
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_errors_500() {
    let server = server().await;
    server.inject(Fault::Throttle(1));
    server.inject(Fault::Error(1));
    let text = answer(&server, "/api/v1/namespaces").await;
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    assert!(text.to_lowercase().contains("retry-after: 1"), "{text}");
    assert!(text.contains("\"reason\":\"TooManyRequests\""), "{text}");
    let text = answer(&server, "/api/v1/namespaces").await;
    assert!(text.starts_with("HTTP/1.1 500"), "{text}");
    assert!(text.contains("\"reason\":\"InternalError\""), "{text}");
    let text = answer(&server, "/api/v1/namespaces").await;
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "budgets are used up: {text}"
    );
}

#[tokio::test]
async fn a_cut_resets_open_watches_and_refuses_connections_for_a_while() {
    let server = server().await;
    let mut watch = get(
        &server,
        "/api/v1/namespaces?watch=true&allowWatchBookmarks=true",
    )
    .await;
    let got = read_for(&mut watch, Duration::from_millis(500)).await;
    assert!(got.text.contains("BOOKMARK"), "{got:?}");
    server.inject(Fault::Drop(Duration::from_secs(1)));
    let got = read_for(&mut watch, Duration::from_secs(2)).await;
    assert!(got.ended.is_some(), "the watch ended: {got:?}");
    assert!(
        !got.text.contains("0\r\n\r\n"),
        "no clean end of the chunked stream: {got:?}"
    );
    let mut refused = get(&server, "/version").await;
    let got = read_for(&mut refused, Duration::from_secs(2)).await;
    assert!(got.text.is_empty() && got.ended.is_some(), "{got:?}");
    // After the cut, the server answers again.
    let start = Instant::now();
    loop {
        let text = answer(&server, "/version").await;
        if text.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn expiry_sends_410_on_open_watches_and_to_old_versions() {
    let server = server().await;
    let before = server.resource_version();
    let mut watch = get(&server, "/api/v1/namespaces?watch=true").await;
    let _ = read_for(&mut watch, Duration::from_millis(300)).await;
    server.inject(Fault::Expire);
    let got = read_for(&mut watch, Duration::from_secs(2)).await;
    assert!(got.text.contains("\"type\":\"ERROR\""), "{got:?}");
    assert!(got.text.contains("\"code\":410"), "{got:?}");
    assert!(got.text.contains("\"reason\":\"Expired\""), "{got:?}");
    let text = answer(
        &server,
        &format!(
            "/api/v1/namespaces?watch=true&resourceVersion={}",
            before - 1
        ),
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"code\":410"), "{text}");
}

#[tokio::test]
async fn a_stalled_server_answers_only_when_it_continues() {
    let server = server().await;
    let stall = Duration::from_millis(1500);
    server.inject(Fault::Stall(stall));
    let started = Instant::now();
    let text = answer(&server, "/version").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(started.elapsed() >= stall - Duration::from_millis(100));
}

#[tokio::test]
async fn a_restart_hangs_open_watches_silent_and_refuses_then_forbids() {
    let server = server().await;
    let mut watch = get(
        &server,
        "/api/v1/namespaces?watch=true&allowWatchBookmarks=true",
    )
    .await;
    let got = read_for(&mut watch, Duration::from_millis(500)).await;
    assert!(got.text.contains("BOOKMARK"), "{got:?}");
    let hang = Duration::from_millis(1500);
    let restart = Restart {
        hang,
        down: Duration::from_millis(800),
        forbidden: Duration::from_secs(3),
    };
    server.inject(Fault::Restart(restart));
    let restarted = Instant::now();
    // New connections are refused while the port is down.
    let mut refused = get(&server, "/version").await;
    let got = read_for(&mut refused, Duration::from_millis(300)).await;
    assert!(got.text.is_empty() && got.ended.is_some(), "{got:?}");
    assert!(restarted.elapsed() < restart.down, "checked while down");
    // Open streams: silent (no bookmark in several intervals) until the hang is over.
    let quiet = hang - restarted.elapsed() - Duration::from_millis(100);
    let got = read_for(&mut watch, quiet).await;
    assert!(!got.text.contains("BOOKMARK"), "{got:?}");
    assert_eq!(got.ended, None, "{got:?}");
    let got = read_for(&mut watch, Duration::from_secs(2)).await;
    assert!(
        got.ended.is_some(),
        "the old watch closed after the hang: {got:?}"
    );
    // The hang outlasts the downtime: the port is open again, and answers 403 for a moment.
    assert!(restarted.elapsed() < restart.down + restart.forbidden);
    let text = answer(&server, "/api/v1/namespaces").await;
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(text.contains("\"reason\":\"Forbidden\""), "{text}");
}
