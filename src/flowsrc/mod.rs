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

/// Past flows a follower asks for when it connects, so `:flows` is not empty at start.
pub const FOLLOW_LAST: u64 = 2_000;

/// Starts the sources `options` asks for. Each reports its state through `sink`; a source that
/// cannot run says why (`SourceStatus::Absent`) once.
pub fn start(
    options: &FlowSourceOptions,
    client: Option<kube::Client>,
    sink: FlowSink,
) -> FlowSources {
    let mut tasks = Vec::new();
    match &options.hubble {
        Some(HubbleTarget::Address(address)) => tasks.push(hubble::spawn(
            hubble_spec(address.clone(), &options.hubble_tls),
            sink.clone(),
        )),
        Some(HubbleTarget::Discover) => tasks.push(tokio::spawn(discover_and_follow(
            client.clone(),
            options.hubble_tls.clone(),
            sink.clone(),
        ))),
        None => {}
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

fn hubble_spec(address: String, tls: &TlsFiles) -> hubble::HubbleSpec {
    hubble::HubbleSpec {
        address,
        tls: tls.clone(),
        filters: Vec::new(),
        last: FOLLOW_LAST,
    }
}

/// Aborts a task when dropped: the tunnel's follower must end with the task that owns it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Hubble Relay through the API server: its Service, a port-forward per connection, and the
/// client on the tunnel's loopback end. Said once when there is no relay to reach.
async fn discover_and_follow(client: Option<kube::Client>, tls: TlsFiles, sink: FlowSink) {
    let absent = |reason: String| {
        sink(FlowNews::Status {
            source: FlowSourceKind::Hubble,
            status: SourceStatus::Absent { reason },
        })
    };
    let Some(client) = client else {
        return absent("no cluster connection to find Hubble Relay through".to_string());
    };
    let (target, tunnel) = match open_relay_tunnel(&client).await {
        Ok(found) => found,
        Err(reason) => return absent(reason),
    };
    sink(FlowNews::Status {
        source: FlowSourceKind::Hubble,
        status: SourceStatus::Connecting {
            target: format!("{target} (port-forward)"),
        },
    });
    let scheme = if tls.ca.is_some() { "https" } else { "http" };
    let address = format!("{scheme}://{}", tunnel.local_addr());
    let _follower = AbortOnDrop(hubble::spawn(hubble_spec(address, &tls), sink));
    // The tunnel and the follower live until this task is aborted.
    let _tunnel = tunnel;
    std::future::pending::<()>().await;
}

/// Finds the relay's Service and opens a tunnel to its pod, or says why not.
async fn open_relay_tunnel(
    client: &kube::Client,
) -> Result<(tunnel::RelayTarget, tunnel::Tunnel), String> {
    let target = match tunnel::find_relay(client).await? {
        Some(target) => target,
        None => {
            return Err("not found: the cluster has no kube-system/hubble-relay \
                        Service (give --hubble-relay ADDR if it runs elsewhere)"
                .to_string());
        }
    };
    let tunnel = tunnel::open_tunnel(client, &target).await?;
    Ok((target, tunnel))
}

/// How far back a one-shot Goldmane read goes: its window store holds about this much.
const GOLDMANE_LOOKBACK_SECS: u64 = 3_600;

/// The most recent `number` flows (and the gaps among them) from the first source `options`
/// names, once, for `palisade flows` without `--follow`.
pub async fn fetch(
    options: &FlowSourceOptions,
    client: Option<kube::Client>,
    number: u64,
) -> Result<(Vec<crate::flows::FlowRecord>, Vec<crate::flows::Gap>), String> {
    if let Some(address) = &options.goldmane {
        let tls = match (&client, options.goldmane_tls.ca.is_none()) {
            (Some(client), true) => {
                goldmane::GoldmaneTls::Pems(goldmane::tls_from_cluster(client.clone()).await?)
            }
            _ => goldmane::GoldmaneTls::Files(options.goldmane_tls.clone()),
        };
        let spec = goldmane::GoldmaneSpec {
            address: address.clone(),
            tls,
        };
        let mut flows = goldmane::list(&spec, GOLDMANE_LOOKBACK_SECS).await?;
        let keep_from = flows.len().saturating_sub(number as usize);
        return Ok((flows.split_off(keep_from), Vec::new()));
    }
    match &options.hubble {
        Some(HubbleTarget::Address(address)) => {
            hubble::fetch(hubble_spec(address.clone(), &options.hubble_tls), number).await
        }
        Some(HubbleTarget::Discover) => {
            let client = client.ok_or("no cluster connection to find Hubble Relay through")?;
            let (_target, tunnel) = open_relay_tunnel(&client).await?;
            let scheme = if options.hubble_tls.ca.is_some() {
                "https"
            } else {
                "http"
            };
            let address = format!("{scheme}://{}", tunnel.local_addr());
            hubble::fetch(hubble_spec(address, &options.hubble_tls), number).await
        }
        None => Err("no flow source: flows are off (--no-flows)".to_string()),
    }
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
