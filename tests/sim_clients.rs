//! The demo server outlives its clients: a client that leaves while the server is still writing
//! to it (a watch it just opened, a response in flight) costs that connection only, never the
//! server process (issue 1b: SIGPIPE killed it with status 141).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

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
    let demo = wait_until("the demo kubeconfig", START, || {
        Demo::from_kubeconfig(&kubeconfig)
    });

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
            demo.ask_for_a_watch_and_hang_up();
        }
    }
    assert_running(&mut server, CLIENTS);
    let version = demo.get("/version");
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

/// How to reach the demo server as its kubeconfig says: port, CA and the admin's token.
struct Demo {
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    token: String,
}

impl Demo {
    /// Once the kubeconfig is completely written.
    fn from_kubeconfig(kubeconfig: &Path) -> Option<Demo> {
        let text = std::fs::read_to_string(kubeconfig).ok()?;
        let yaml: serde_json::Value = palisade::yaml::from_str(&text).ok()?;
        let cluster = &yaml["clusters"][0]["cluster"];
        let port = cluster["server"]
            .as_str()?
            .rsplit(':')
            .next()?
            .parse()
            .ok()?;
        let ca = base64::engine::general_purpose::STANDARD
            .decode(cluster["certificate-authority-data"].as_str()?)
            .ok()?;
        let token = yaml["users"][0]["user"]["token"].as_str()?.to_string();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca) {
            roots.add(cert.ok()?).ok()?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(Demo {
            port,
            tls: Arc::new(tls),
            token,
        })
    }

    fn connect(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).expect("the server accepts");
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let connection = rustls::ClientConnection::new(self.tls.clone(), name).unwrap();
        rustls::StreamOwned::new(connection, tcp)
    }

    /// Opens a watch as the admin and hangs up before reading anything: the server writes its
    /// headers and first bookmark to a closed socket.
    fn ask_for_a_watch_and_hang_up(&self) {
        let mut stream = self.connect();
        let request = format!(
            "GET /api/v1/pods?watch=1&allowWatchBookmarks=true HTTP/1.1\r\nHost: demo\r\n\
             Authorization: Bearer {}\r\n\r\n",
            self.token
        );
        stream.write_all(request.as_bytes()).unwrap();
        stream.flush().unwrap();
    }

    /// One request as the admin; the whole answer as text.
    fn get(&self, path: &str) -> String {
        let mut stream = self.connect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: demo\r\nAuthorization: Bearer {}\r\n\
             Connection: close\r\n\r\n",
            self.token
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }
}
