//! A simulated Calico Goldmane: `goldmane.Flows` (`Stream` and `List`) over gRPC with mutual
//! TLS, serving the demo's flow feed as Goldmane serves flows.
//!
//! Like Goldmane it aggregates: the feed's flows are summed per flow key (both ends, port,
//! protocol, reporter, action, policy trace) over a window (Goldmane's is 15 s) and each key
//! that saw traffic in a window is sent once at the window's end, with its connection count.
//! Goldmane has no lost-events message, so the feed's gaps are not passed on.
//!
//! Loopback only; clients need a certificate signed by the simulation's own CA.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tonic::codegen::http;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Status, server::NamedService};

use super::flow_feed::{FeedItem, FlowFeed};
use super::goldmane_certs::GoldmaneCerts;
use crate::flows::FlowRecord;
use crate::flows::goldmane_wire::{
    AGGREGATION_INTERVAL_SECS, Filter, Flow, FlowKey, FlowListRequest, FlowListResult, FlowResult,
    FlowStreamRequest, LIST_PATH, ListMetadata, SERVICE, STREAM_PATH,
};

/// Goldmane's aggregation window.
pub const WINDOW: Duration = Duration::from_secs(AGGREGATION_INTERVAL_SECS as u64);
/// Flows kept for `List` and for streams that ask for the past.
const HISTORY: usize = 10_000;
/// Flows a stream may fall behind before it skips ahead.
const LAG: usize = 4096;

/// A running simulated Goldmane; dropping it stops it.
pub struct SimGoldmane {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    aggregator: Option<JoinHandle<()>>,
}

impl SimGoldmane {
    /// Serves `feed` on `addr`, which must be a loopback address (port 0: any free port).
    pub async fn start(
        feed: Arc<FlowFeed>,
        addr: SocketAddr,
        certs: &GoldmaneCerts,
        window: Duration,
    ) -> std::io::Result<SimGoldmane> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the simulated Goldmane listens on loopback only, not {addr}"),
            ));
        }
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        // A restart on the same port must not wait for the old connections' TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(128)?;
        let addr = listener.local_addr()?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let state = Arc::new(State::new(window, shutdown_rx.clone()));
        let aggregator = tokio::spawn(aggregate(feed, state.clone()));
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(
                &certs.server_cert_pem,
                &certs.server_key_pem,
            ))
            .client_ca_root(Certificate::from_pem(&certs.ca_pem));
        let router = Server::builder()
            .tls_config(tls)
            .map_err(std::io::Error::other)?
            .add_service(FlowsService { state });
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            // Handshake failures (a client without a certificate) end that connection only.
            let _ = router.serve_with_incoming_shutdown(incoming, stopped).await;
        });
        Ok(SimGoldmane {
            addr,
            shutdown,
            server: Some(server),
            aggregator: Some(aggregator),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ends the streams, closes the connections and frees the port.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(aggregator) = self.aggregator.take() {
            aggregator.abort();
        }
        if let Some(server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
        {
            // Graceful shutdown waits for clients to hang up; past that the port is freed anyway.
        }
    }
}

impl Drop for SimGoldmane {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in [self.server.take(), self.aggregator.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

/// The flows aggregated so far and the streams' subscription.
struct State {
    window: Duration,
    history: Mutex<VecDeque<FlowResult>>,
    live: broadcast::Sender<FlowResult>,
    ids: Mutex<HashMap<FlowKey, i64>>,
    shutdown: watch::Receiver<bool>,
}

impl State {
    fn new(window: Duration, shutdown: watch::Receiver<bool>) -> State {
        State {
            window: window.max(Duration::from_millis(10)),
            history: Mutex::new(VecDeque::new()),
            live: broadcast::channel(LAG).0,
            ids: Mutex::new(HashMap::new()),
            shutdown,
        }
    }

    /// Publishes one window's aggregates, with the ids Goldmane keeps per key.
    fn publish(&self, flows: impl IntoIterator<Item = Flow>) {
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        for flow in flows {
            let key = flow.key.clone().unwrap_or_default();
            let next = ids.len() as i64 + 1;
            let id = *ids.entry(key).or_insert(next);
            let result = FlowResult {
                id,
                flow: Some(flow),
            };
            history.push_back(result.clone());
            while history.len() > HISTORY {
                history.pop_front();
            }
            let _ = self.live.send(result);
        }
        // The ids are 1:1 with keys only while the server runs; bound them like the history.
        if ids.len() > 4 * HISTORY {
            ids.clear();
        }
    }
}

/// Flows of one window, summed per key.
#[derive(Default)]
struct Window {
    flows: HashMap<FlowKey, Flow>,
}

impl Window {
    fn add(&mut self, record: &FlowRecord, start: SystemTime, end: SystemTime) {
        let flow = Flow::from_record(record, start, end);
        let key = flow.key.clone().unwrap_or_default();
        match self.flows.get_mut(&key) {
            Some(sum) => {
                sum.num_connections_started += flow.num_connections_started;
                sum.packets_out += flow.packets_out;
            }
            None => {
                self.flows.insert(key, flow);
            }
        }
    }

    fn drain(&mut self) -> Vec<Flow> {
        let mut flows: Vec<Flow> = self.flows.drain().map(|(_, flow)| flow).collect();
        flows.sort_by(|a, b| {
            a.key
                .as_ref()
                .map(key_order)
                .cmp(&b.key.as_ref().map(key_order))
        });
        flows
    }
}

fn key_order(key: &FlowKey) -> (&str, &str, &str, &str, i64, i32) {
    (
        &key.source_namespace,
        &key.source_name,
        &key.dest_namespace,
        &key.dest_name,
        key.dest_port,
        key.action,
    )
}

/// Reads the feed: what it kept becomes past windows (by the flows' own times), what comes
/// after is summed into the current window, published when it closes.
async fn aggregate(feed: Arc<FlowFeed>, state: Arc<State>) {
    let (recent, mut rx) = feed.subscribe();
    let window_secs = state.window.as_secs().max(1);
    let mut past: HashMap<u64, Window> = HashMap::new();
    for item in recent {
        if let FeedItem::Flow(record) = item {
            let secs = since_epoch(record.time);
            let start = secs - secs % window_secs;
            let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
            past.entry(start)
                .or_default()
                .add(&record, at(start), at(start + window_secs));
        }
    }
    let mut starts: Vec<u64> = past.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        if let Some(mut window) = past.remove(&start) {
            state.publish(window.drain());
        }
    }

    let mut current = Window::default();
    let mut opened = SystemTime::now();
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + state.window, state.window);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let closed = SystemTime::now();
                let flows = current.drain();
                if !flows.is_empty() {
                    state.publish(flows.into_iter().map(|mut flow| {
                        stamp(&mut flow, opened, closed);
                        flow
                    }));
                }
                opened = closed;
            }
            item = rx.recv() => match item {
                Ok(FeedItem::Flow(record)) => current.add(&record, opened, opened),
                Ok(FeedItem::Lost { .. }) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// A window's times in whole seconds, its end at least one second after its start.
fn stamp(flow: &mut Flow, start: SystemTime, end: SystemTime) {
    flow.start_time = since_epoch(start) as i64;
    flow.end_time = (since_epoch(end) as i64).max(flow.start_time + 1);
}

fn since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Goldmane's time bounds: 0 is a default, > 0 absolute seconds, < 0 seconds before now.
fn resolve(bound: i64, zero: i64) -> i64 {
    let now = since_epoch(SystemTime::now()) as i64;
    match bound {
        0 => zero,
        b if b > 0 => b,
        b => now + b,
    }
}

fn check_interval(interval: i64) -> Result<(), Status> {
    if interval == 0 || interval == AGGREGATION_INTERVAL_SECS {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "aggregation_interval must be {AGGREGATION_INTERVAL_SECS}s"
        )))
    }
}

/// Goldmane's filter: alternatives within a field are ORed, fields ANDed; fuzzy is a substring.
fn matches(filter: Option<&Filter>, flow: &Flow) -> bool {
    let (Some(filter), Some(key)) = (filter, flow.key.as_ref()) else {
        return filter.is_none();
    };
    let text = |m: &[crate::flows::goldmane_wire::StringMatch], value: &str| {
        m.is_empty()
            || m.iter().any(|m| {
                if m.r#type == 1 {
                    value.contains(m.value.as_str())
                } else {
                    value == m.value
                }
            })
    };
    text(&filter.source_names, &key.source_name)
        && text(&filter.source_namespaces, &key.source_namespace)
        && text(&filter.dest_names, &key.dest_name)
        && text(&filter.dest_namespaces, &key.dest_namespace)
        && text(&filter.protocols, &key.proto)
        && (filter.dest_ports.is_empty()
            || filter.dest_ports.iter().any(|p| p.port == key.dest_port))
        && (filter.actions.is_empty() || filter.actions.contains(&key.action))
}

type ResultStream = Pin<Box<dyn Stream<Item = Result<FlowResult, Status>> + Send + 'static>>;

fn stream_flows(state: &Arc<State>, request: FlowStreamRequest) -> Result<ResultStream, Status> {
    check_interval(request.aggregation_interval)?;
    let from = resolve(request.start_time_gte, i64::MAX);
    let (past, live) = {
        let history = state.history.lock().unwrap_or_else(|p| p.into_inner());
        let past: Vec<FlowResult> = history
            .iter()
            .filter(|r| r.flow.as_ref().is_some_and(|f| f.start_time >= from))
            .filter(|r| {
                matches(
                    request.filter.as_ref(),
                    r.flow.as_ref().unwrap_or(&Flow::default()),
                )
            })
            .cloned()
            .collect();
        (past, state.live.subscribe())
    };
    let filter = request.filter;
    let shutdown = state.shutdown.clone();
    let live = futures::stream::unfold(
        (live, shutdown, filter),
        |(mut live, mut shutdown, filter)| async move {
            loop {
                let item = tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => return None,
                    item = live.recv() => item,
                };
                match item {
                    Ok(result) => {
                        if result
                            .flow
                            .as_ref()
                            .is_some_and(|f| matches(filter.as_ref(), f))
                        {
                            return Some((Ok(result), (live, shutdown, filter)));
                        }
                    }
                    // Goldmane has no way to say it skipped some: a slow client just misses them.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(futures::stream::iter(past.into_iter().map(Ok))
        .chain(live)
        .boxed())
}

fn list_flows(state: &State, request: FlowListRequest) -> Result<FlowListResult, Status> {
    check_interval(request.aggregation_interval)?;
    let from = resolve(request.start_time_gte, 0);
    let until = resolve(request.start_time_lt, i64::MAX);
    let history = state.history.lock().unwrap_or_else(|p| p.into_inner());
    let found: Vec<&FlowResult> = history
        .iter()
        .filter(|r| {
            r.flow.as_ref().is_some_and(|f| {
                f.start_time >= from && f.start_time < until && matches(request.filter.as_ref(), f)
            })
        })
        .collect();
    let total = found.len() as i64;
    let (flows, pages) = if request.page_size > 0 {
        let size = request.page_size as usize;
        let skip = (request.page.max(0) as usize).saturating_mul(size);
        let flows = found.into_iter().skip(skip).take(size).cloned().collect();
        (flows, (total + request.page_size - 1) / request.page_size)
    } else {
        (found.into_iter().cloned().collect(), i64::from(total > 0))
    };
    Ok(FlowListResult {
        meta: Some(ListMetadata {
            total_pages: pages,
            total_results: total,
        }),
        flows,
    })
}

/// `goldmane.Flows`, routed by hand (the messages are hand-written, so is the service).
#[derive(Clone)]
struct FlowsService {
    state: Arc<State>,
}

impl NamedService for FlowsService {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for FlowsService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let state = self.state.clone();
        match request.uri().path() {
            STREAM_PATH => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.server_streaming(StreamMethod(state), request).await)
            }),
            LIST_PATH => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(ListMethod(state), request).await)
            }),
            _ => Box::pin(async move {
                Ok(
                    Status::unimplemented("the simulated Goldmane serves Stream and List")
                        .into_http(),
                )
            }),
        }
    }
}

struct StreamMethod(Arc<State>);

impl tonic::server::ServerStreamingService<FlowStreamRequest> for StreamMethod {
    type Response = FlowResult;
    type ResponseStream = ResultStream;
    type Future = BoxFuture<Result<tonic::Response<ResultStream>, Status>>;

    fn call(&mut self, request: tonic::Request<FlowStreamRequest>) -> Self::Future {
        let result = stream_flows(&self.0, request.into_inner()).map(tonic::Response::new);
        Box::pin(async move { result })
    }
}

struct ListMethod(Arc<State>);

impl tonic::server::UnaryService<FlowListRequest> for ListMethod {
    type Response = FlowListResult;
    type Future = BoxFuture<Result<tonic::Response<FlowListResult>, Status>>;

    fn call(&mut self, request: tonic::Request<FlowListRequest>) -> Self::Future {
        let result = list_flows(&self.0, request.into_inner()).map(tonic::Response::new);
        Box::pin(async move { result })
    }
}
