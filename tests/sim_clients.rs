//! The demo server outlives its clients: a client that leaves while the server is still writing
//! to it (a watch it just opened, a response in flight) costs that connection only, never the
//! server process (issue 1b: SIGPIPE killed it with status 141).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{BINARY, KillOnDrop, run, wait_until};

const START: Duration = Duration::from_secs(30);
const CLIENTS: usize = 20;
/// Raw clients per round that ask for a watch and hang up at once: the race that killed the
/// server (headers written to a socket the client had closed, then the first bookmark hits
/// EPIPE) is won about one time in six, so a few per round make the old failure certain.
const HANG_UPS_PER_CLIENT: usize = 5;

#[test]
fn twenty_short_lived_clients_leave_the_demo_server_answering() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("demo.kubeconfig");
    let mut server = KillOnDrop(
        Command::new(BINARY)
            .args(["demo", "--serve-only", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the demo server starts"),
    );
    let port = wait_until("the demo kubeconfig", START, || server_port(&kubeconfig));

    for client in 1..=CLIENTS {
        assert_running(&mut server, client - 1);
        // The real client: lists every kind, starts its watches and exits right away.
        let out = run(Command::new(BINARY)
            .args(["check", "--kubeconfig"])
            .arg(&kubeconfig));
        assert!(
            out.status.code().is_some_and(|code| code <= 1),
            "palisade check #{client} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..HANG_UPS_PER_CLIENT {
            ask_for_a_watch_and_hang_up(port);
        }
    }
    assert_running(&mut server, CLIENTS);
    let version = get(port, "/version");
    assert!(
        version.starts_with("HTTP/1.1 200") && version.contains("gitVersion"),
        "the server no longer answers: {version}"
    );
    assert_running(&mut server, CLIENTS);
}

fn assert_running(server: &mut KillOnDrop, clients: usize) {
    if let Some(status) = server.0.try_wait().unwrap() {
        panic!("the demo server ended after {clients} short-lived clients: {status:?}");
    }
}

/// The port of the `server:` URL, once the kubeconfig is completely written.
fn server_port(kubeconfig: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    let server = yaml["clusters"][0]["cluster"]["server"].as_str()?;
    server.rsplit(':').next()?.parse().ok()
}

fn ask_for_a_watch_and_hang_up(port: u16) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the server accepts");
    stream
        .write_all(
            b"GET /api/v1/pods?watch=1&allowWatchBookmarks=true HTTP/1.1\r\nHost: demo\r\n\r\n",
        )
        .unwrap();
}

/// One plain HTTP request; the whole answer as text.
fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}
