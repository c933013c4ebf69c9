//! The flow sources, at the edge: a Hubble Relay client and a Goldmane client (tonic, with the
//! messages defined in `flows/`), each a task that delivers [`FlowNews`] to a sink its caller
//! gives (the console turns them into messages, `palisade flows` prints them).

pub mod goldmane;
pub mod hubble;
pub mod tunnel;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::flows::{FlowNews, FlowSourceKind, SourceStatus};

/// Where a source's news go. Called from the source's task: it must not block.
pub type FlowSink = Arc<dyn Fn(FlowNews) + Send + Sync>;

/// TLS files for a gRPC source: the CA that signed the server's certificate, and the client
/// certificate and key for mutual TLS. All absent: plain text (`http://`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate is checked against, when it is not the address's host.
    pub server_name: Option<String>,
}

/// How to reach Hubble Relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubbleTarget {
    /// `--hubble-relay ADDR`: `host:port` or a URL (`http://`, `https://`).
    Address(String),
    /// Not given: look for the `hubble-relay` Service and reach it through a port-forward over
    /// the API server, as `cilium hubble port-forward` does.
    Discover,
}

/// Which flow sources to run, from the command line (and, later, `contexts.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSourceOptions {
    /// `None`: `--no-flows`, or a headless command that does not want flows.
    pub hubble: Option<HubbleTarget>,
    pub hubble_tls: TlsFiles,
    /// `--goldmane ADDR`.
    pub goldmane: Option<String>,
    pub goldmane_tls: TlsFiles,
}

impl Default for FlowSourceOptions {
    fn default() -> FlowSourceOptions {
        FlowSourceOptions {
            hubble: Some(HubbleTarget::Discover),
            hubble_tls: TlsFiles::default(),
            goldmane: None,
            goldmane_tls: TlsFiles::default(),
        }
    }
}

/// The running sources; dropping it stops them.
#[derive(Default)]
pub struct FlowSources {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FlowSources {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the sources `options` asks for. Each reports its state through `sink`; a source that
/// cannot run says why (`SourceStatus::Absent`) once.
pub fn start(
    options: &FlowSourceOptions,
    client: Option<kube::Client>,
    sink: FlowSink,
) -> FlowSources {
    let mut tasks = Vec::new();
    let absent = |source, reason: &str| {
        sink(FlowNews::Status {
            source,
            status: SourceStatus::Absent {
                reason: reason.to_string(),
            },
        })
    };
    if options.hubble.is_some() {
        absent(
            FlowSourceKind::Hubble,
            "this build has no Hubble Relay client yet",
        );
    }
    if let Some(address) = &options.goldmane {
        tasks.push(goldmane::spawn_for(
            address.clone(),
            options.goldmane_tls.clone(),
            client,
            sink.clone(),
        ));
    }
    FlowSources { tasks }
}

/// The most recent `number` flows (and the gaps among them) from the first source `options`
/// names, once, for `palisade flows` without `--follow`.
pub async fn fetch(
    options: &FlowSourceOptions,
    _client: Option<kube::Client>,
    _number: u64,
) -> Result<(Vec<crate::flows::FlowRecord>, Vec<crate::flows::Gap>), String> {
    if options.hubble.is_some() {
        return Err("this build has no Hubble Relay client yet".to_string());
    }
    if options.goldmane.is_some() {
        return Err("this build has no Goldmane client yet".to_string());
    }
    Err("no flow source: give --hubble-relay ADDR or --goldmane ADDR".to_string())
}

/// Reconnect backoff for the streams: 200 ms doubling to 10 s, reset once a stream delivers
/// (the same curve as the watchers').
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(200);
    pub const MAX: Duration = Duration::from_secs(10);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The wait before the next attempt; each call doubles the following one.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        wait
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new();
        let waits: Vec<_> = (0..8).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        b.reset();
        assert_eq!(b.next_wait(), Backoff::FIRST);
    }
}
