//! The demo's Hubble Relay: `observer.Observer` (GetFlows, ServerStatus) over plain gRPC on
//! loopback, serving the demo's [`FlowFeed`] with Hubble's wire messages, so `hubble observe
//! --server ADDR` and Palisade's own client read it like a real relay. The service is routed by
//! hand on `tonic::server::Grpc` (no codegen): the messages are `flows/hubble_wire.rs`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::{Request, Response, Status};

use super::flow_feed::{FeedItem, FlowFeed};
use crate::flows::FlowRecord;
use crate::flows::hubble_convert::hubble_flow;
use crate::flows::hubble_wire::{
    Flow, FlowFilter, GetFlowsResponse, L4Protocol, LostEvent, LostEventSource, ResponseType,
    ServedGetFlowsRequest, ServerStatusRequest, ServerStatusResponse, Timestamp, UInt32Value,
    decode_supported_filter,
};

/// A running relay; dropping it stops it.
pub struct HubbleRelay {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl HubbleRelay {
    /// Serves `feed` on `addr` (port 0: a free one). Loopback only: the demo serves nothing
    /// to the network.
    pub async fn start(addr: SocketAddr, feed: Arc<FlowFeed>) -> std::io::Result<HubbleRelay> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the demo's Hubble Relay listens on loopback only, not on {addr}"),
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let observer = Observer {
            state: Arc::new(RelayState {
                feed,
                shutdown: shutdown_rx.clone(),
                started: Instant::now(),
            }),
        };
        let mut signal = shutdown_rx;
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = signal.wait_for(|stop| *stop).await;
            };
            // An accept error ends the relay; the demo goes on without it.
            let _ = tonic::transport::Server::builder()
                .add_service(observer)
                .serve_with_incoming_shutdown(incoming, stopped)
                .await;
        });
        Ok(HubbleRelay {
            addr,
            shutdown,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ends every stream and closes the port (a client sees its stream end and reconnects).
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for HubbleRelay {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct RelayState {
    feed: Arc<FlowFeed>,
    shutdown: watch::Receiver<bool>,
    started: Instant,
}

#[derive(Clone)]
struct Observer {
    state: Arc<RelayState>,
}

impl tonic::server::NamedService for Observer {
    const NAME: &'static str = "observer.Observer";
}

impl<B> Service<http::Request<B>> for Observer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let state = self.state.clone();
        match request.uri().path() {
            "/observer.Observer/GetFlows" => Box::pin(async move {
                let codec = tonic_prost::ProstCodec::default();
                let mut grpc = tonic::server::Grpc::new(codec);
                Ok(grpc.server_streaming(GetFlows(state), request).await)
            }),
            "/observer.Observer/ServerStatus" => Box::pin(async move {
                let codec = tonic_prost::ProstCodec::default();
                let mut grpc = tonic::server::Grpc::new(codec);
                Ok(grpc.unary(ServerStatus(state), request).await)
            }),
            path => {
                let status = Status::unimplemented(format!(
                    "{path}: the demo's relay serves GetFlows and ServerStatus only"
                ));
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

struct ServerStatus(Arc<RelayState>);

impl Service<Request<ServerStatusRequest>> for ServerStatus {
    type Response = Response<ServerStatusResponse>;
    type Error = Status;
    type Future = BoxFuture<Self::Response, Status>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<ServerStatusRequest>) -> Self::Future {
        let (recent, _) = self.0.feed.subscribe();
        let flows: Vec<&FlowRecord> = recent
            .iter()
            .filter_map(|item| match item {
                FeedItem::Flow(flow) => Some(flow.as_ref()),
                FeedItem::Lost { .. } => None,
            })
            .collect();
        let nodes: HashSet<_> = flows.iter().filter_map(|f| f.node.as_deref()).collect();
        let response = ServerStatusResponse {
            num_flows: flows.len() as u64,
            max_flows: FlowFeed::KEEP as u64,
            seen_flows: flows.len() as u64,
            uptime_ns: u64::try_from(self.0.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            num_connected_nodes: Some(UInt32Value {
                value: nodes.len() as u32,
            }),
            num_unavailable_nodes: Some(UInt32Value { value: 0 }),
            version: format!("palisade-demo {}", env!("CARGO_PKG_VERSION")),
        };
        Box::pin(async move { Ok(Response::new(response)) })
    }
}

type FlowStream = ReceiverStream<Result<GetFlowsResponse, Status>>;

struct GetFlows(Arc<RelayState>);

impl Service<Request<ServedGetFlowsRequest>> for GetFlows {
    type Response = Response<FlowStream>;
    type Error = Status;
    type Future = BoxFuture<Self::Response, Status>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ServedGetFlowsRequest>) -> Self::Future {
        let state = self.0.clone();
        let request = request.into_inner();
        Box::pin(async move {
            let query = Query::parse(&request).map_err(Status::invalid_argument)?;
            let (recent, live) = state.feed.subscribe();
            let (tx, rx) = mpsc::channel(256);
            let history = query.history(&recent);
            let live = request.follow.then_some(live);
            tokio::spawn(serve_stream(
                query,
                history,
                live,
                tx,
                state.shutdown.clone(),
            ));
            Ok(Response::new(ReceiverStream::new(rx)))
        })
    }
}

/// Sends the history, then (following) the live items until the client leaves or the relay
/// stops. A client too slow for the feed learns how many flows it lost.
async fn serve_stream(
    query: Query,
    history: Vec<GetFlowsResponse>,
    live: Option<broadcast::Receiver<FeedItem>>,
    tx: mpsc::Sender<Result<GetFlowsResponse, Status>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let stopping = shutdown.clone();
    let send = |response| {
        let tx = tx.clone();
        let mut shutdown = stopping.clone();
        async move {
            tokio::select! {
                sent = tx.send(Ok(response)) => sent.is_ok(),
                _ = shutdown.wait_for(|stop| *stop) => false,
            }
        }
    };
    for response in history {
        if !send(response).await {
            return;
        }
    }
    let Some(mut live) = live else { return };
    loop {
        let item = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            // The client left: do not wait for the next item to notice.
            _ = tx.closed() => return,
            item = live.recv() => item,
        };
        let response = match item {
            Ok(item) => match query.response(&item) {
                Some(Ok(response)) => response,
                Some(Err(())) => return, // past `until`
                None => continue,
            },
            Err(broadcast::error::RecvError::Lagged(n)) => {
                lost_response(n, LostEventSource::ObserverEventsQueue, String::new())
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if !send(response).await {
            return;
        }
    }
}

fn lost_response(count: u64, source: LostEventSource, node: String) -> GetFlowsResponse {
    GetFlowsResponse {
        response_types: Some(ResponseType::LostEvents(LostEvent {
            source: source as i32,
            num_events_lost: count,
            ..LostEvent::default()
        })),
        node_name: node,
        time: Some(Timestamp::from_system_time(SystemTime::now())),
    }
}

/// A request, checked: what it asks for and the filters it uses.
struct Query {
    number: u64,
    first: bool,
    since: Option<SystemTime>,
    until: Option<SystemTime>,
    whitelist: Vec<Filter>,
    blacklist: Vec<Filter>,
}

impl Query {
    fn parse(request: &ServedGetFlowsRequest) -> Result<Query, String> {
        if request.field_mask.is_some() {
            return Err("field_mask is not supported by the demo's relay".into());
        }
        if request.experimental.is_some() {
            return Err("experimental is not supported by the demo's relay".into());
        }
        let filters = |list: &[Vec<u8>]| -> Result<Vec<Filter>, String> {
            list.iter()
                .map(|bytes| Filter::new(decode_supported_filter(bytes)?))
                .collect()
        };
        Ok(Query {
            number: request.number,
            first: request.first,
            since: request.since.map(Timestamp::to_system_time),
            until: request.until.map(Timestamp::to_system_time),
            whitelist: filters(&request.whitelist)?,
            blacklist: filters(&request.blacklist)?,
        })
    }

    /// The kept items asked for: the last (or first) `number` flows passing the filters, with
    /// the lost-events among them; all since `since` when `number` is 0.
    fn history(&self, recent: &[FeedItem]) -> Vec<GetFlowsResponse> {
        if self.number == 0 && self.since.is_none() {
            return Vec::new();
        }
        let responses: Vec<(bool, GetFlowsResponse)> = recent
            .iter()
            .filter_map(|item| {
                let is_flow = matches!(item, FeedItem::Flow(_));
                match self.response(item)? {
                    Ok(response) => Some((is_flow, response)),
                    Err(()) => None,
                }
            })
            .collect();
        let flows = responses.iter().filter(|(is_flow, _)| *is_flow).count() as u64;
        let limit = if self.number == 0 {
            flows
        } else {
            self.number.min(flows)
        };
        // Which flows to keep, by their rank among the flows.
        let keep = |rank: u64| {
            if self.first {
                rank < limit
            } else {
                rank >= flows - limit
            }
        };
        let mut rank = 0;
        responses
            .into_iter()
            .filter(|(is_flow, _)| {
                if !is_flow {
                    return true;
                }
                rank += 1;
                keep(rank - 1)
            })
            .map(|(_, response)| response)
            .collect()
    }

    /// `None`: filtered out; `Some(Err)`: past `until`.
    fn response(&self, item: &FeedItem) -> Option<Result<GetFlowsResponse, ()>> {
        match item {
            FeedItem::Lost { count, what } => Some(Ok(lost_response(
                *count,
                LostEventSource::HubbleRingBuffer,
                what.clone(),
            ))),
            FeedItem::Flow(record) => {
                if self.since.is_some_and(|since| record.time < since) {
                    return None;
                }
                if self.until.is_some_and(|until| record.time > until) {
                    return Some(Err(()));
                }
                let flow = hubble_flow(record);
                let listed = self.whitelist.is_empty()
                    || self.whitelist.iter().any(|filter| filter.matches(&flow));
                if !listed || self.blacklist.iter().any(|filter| filter.matches(&flow)) {
                    return None;
                }
                Some(Ok(GetFlowsResponse {
                    node_name: flow.node_name.clone(),
                    time: flow.time,
                    response_types: Some(ResponseType::Flow(flow)),
                }))
            }
        }
    }
}

/// One `FlowFilter`, parsed: every set field must match, each by any of its values.
struct Filter {
    source_pod: Vec<(String, String)>,
    destination_pod: Vec<(String, String)>,
    verdict: Vec<i32>,
    protocol: Vec<String>,
    destination_port: Vec<u32>,
    node_name: Vec<String>,
    traffic_direction: Vec<i32>,
}

const PROTOCOLS: [&str; 5] = ["tcp", "udp", "sctp", "icmpv4", "icmpv6"];

impl Filter {
    fn new(filter: FlowFilter) -> Result<Filter, String> {
        let pods = |list: &[String]| {
            list.iter()
                .map(|pod| match pod.split_once('/') {
                    Some((ns, prefix)) => (ns.to_string(), prefix.to_string()),
                    // Hubble reads a bare name as a pod in `default`.
                    None => ("default".to_string(), pod.clone()),
                })
                .collect()
        };
        let protocol = filter
            .protocol
            .iter()
            .map(|p| {
                let p = p.to_ascii_lowercase();
                match PROTOCOLS.contains(&p.as_str()) {
                    true => Ok(p),
                    false => Err(format!(
                        "protocol filter {p:?}: one of {}",
                        PROTOCOLS.join(", ")
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        let destination_port = filter
            .destination_port
            .iter()
            .map(|p| match p.parse::<u16>() {
                Ok(port) => Ok(u32::from(port)),
                Err(_) => Err(format!("destination_port filter {p:?} is not a port")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Filter {
            source_pod: pods(&filter.source_pod),
            destination_pod: pods(&filter.destination_pod),
            verdict: filter.verdict,
            protocol,
            destination_port,
            node_name: filter.node_name,
            traffic_direction: filter.traffic_direction,
        })
    }

    fn matches(&self, flow: &Flow) -> bool {
        let pod = |wanted: &[(String, String)],
                   end: Option<&crate::flows::hubble_wire::Endpoint>| {
            wanted.is_empty()
                || end.is_some_and(|end| {
                    wanted.iter().any(|(ns, prefix)| {
                        end.namespace == *ns
                            && (prefix.is_empty()
                                || (!end.pod_name.is_empty() && end.pod_name.starts_with(prefix)))
                    })
                })
        };
        let any = |wanted: &[i32], value: i32| wanted.is_empty() || wanted.contains(&value);
        let (protocol, port) = match flow.l4.and_then(|l4| l4.protocol) {
            Some(L4Protocol::Tcp(p)) => ("tcp", Some(p.destination_port)),
            Some(L4Protocol::Udp(p)) => ("udp", Some(p.destination_port)),
            Some(L4Protocol::Sctp(p)) => ("sctp", Some(p.destination_port)),
            Some(L4Protocol::IcmpV4(_)) => ("icmpv4", None),
            Some(L4Protocol::IcmpV6(_)) => ("icmpv6", None),
            None => ("", None),
        };
        let node = |pattern: &String| match pattern.strip_suffix('*') {
            Some(prefix) => flow.node_name.starts_with(prefix),
            None => flow.node_name == *pattern,
        };
        pod(&self.source_pod, flow.source.as_ref())
            && pod(&self.destination_pod, flow.destination.as_ref())
            && any(&self.verdict, flow.verdict)
            && any(&self.traffic_direction, flow.traffic_direction)
            && (self.protocol.is_empty() || self.protocol.iter().any(|p| p == protocol))
            && (self.destination_port.is_empty()
                || port.is_some_and(|port| self.destination_port.contains(&port)))
            && (self.node_name.is_empty() || self.node_name.iter().any(node))
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::flows::hubble_wire::{TrafficDirection, Verdict};
    use crate::flows::record::tests::test_flow;
    use crate::flows::{DataplaneVerdict, Name};
    use crate::policy::Direction;

    fn item(ns: &str, pod: &str, port: u16, node: &str) -> FeedItem {
        let mut flow = test_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
        flow.src.namespace = Some(Name::from(ns));
        flow.src.pod = Some(Name::from(pod));
        flow.port = Some(port);
        flow.node = Some(Name::from(node));
        flow.direction = Some(Direction::Egress);
        FeedItem::Flow(Box::new(flow))
    }

    fn query(
        number: u64,
        first: bool,
        whitelist: Vec<FlowFilter>,
        blacklist: Vec<FlowFilter>,
    ) -> Query {
        let request = ServedGetFlowsRequest {
            number,
            first,
            whitelist: whitelist.iter().map(|f| f.encode_to_vec()).collect(),
            blacklist: blacklist.iter().map(|f| f.encode_to_vec()).collect(),
            ..ServedGetFlowsRequest::default()
        };
        Query::parse(&request).expect("supported")
    }

    fn pods(responses: &[GetFlowsResponse]) -> Vec<String> {
        responses
            .iter()
            .map(|r| match &r.response_types {
                Some(ResponseType::Flow(f)) => f.source.as_ref().unwrap().pod_name.clone(),
                Some(ResponseType::LostEvents(l)) => format!("lost {}", l.num_events_lost),
                _ => "?".into(),
            })
            .collect()
    }

    #[test]
    fn history_is_the_last_or_first_n_matching_flows_with_the_losses_among_them() {
        let feed = vec![
            item("a", "web-1", 53, "w1"),
            item("b", "db-1", 53, "w1"),
            FeedItem::Lost {
                count: 7,
                what: "w2".into(),
            },
            item("a", "web-2", 80, "w2"),
            item("a", "api-1", 53, "w2"),
        ];
        let in_a = FlowFilter {
            source_pod: vec!["a/".into()],
            ..FlowFilter::default()
        };
        assert_eq!(
            pods(&query(2, false, vec![in_a.clone()], vec![]).history(&feed)),
            ["lost 7", "web-2", "api-1"]
        );
        assert_eq!(
            pods(&query(1, true, vec![in_a.clone()], vec![]).history(&feed)),
            ["web-1", "lost 7"]
        );
        assert!(query(0, false, vec![], vec![]).history(&feed).is_empty());
        let web_prefix = FlowFilter {
            source_pod: vec!["a/web".into()],
            ..FlowFilter::default()
        };
        let port_80 = FlowFilter {
            destination_port: vec!["80".into()],
            ..FlowFilter::default()
        };
        assert_eq!(
            pods(&query(10, false, vec![web_prefix], vec![port_80]).history(&feed)),
            ["web-1", "lost 7"]
        );
    }

    #[test]
    fn filters_match_as_hubble_reads_them() {
        let flow = match item("default", "web-1", 53, "worker-2") {
            FeedItem::Flow(record) => hubble_flow(&record),
            FeedItem::Lost { .. } => unreachable!(),
        };
        let filter = |f: FlowFilter| Filter::new(f).unwrap().matches(&flow);
        assert!(filter(FlowFilter {
            source_pod: vec!["web".into()],
            ..FlowFilter::default()
        }));
        assert!(filter(FlowFilter {
            protocol: vec!["UDP".into()],
            node_name: vec!["worker-*".into()],
            traffic_direction: vec![TrafficDirection::Egress as i32],
            verdict: vec![Verdict::Forwarded as i32, Verdict::Dropped as i32],
            ..FlowFilter::default()
        }));
        assert!(!filter(FlowFilter {
            protocol: vec!["tcp".into()],
            ..FlowFilter::default()
        }));
        assert!(!filter(FlowFilter {
            node_name: vec!["worker-1".into()],
            ..FlowFilter::default()
        }));
        assert!(!filter(FlowFilter {
            destination_pod: vec!["default/".into()],
            ..FlowFilter::default()
        }));
        assert!(
            Filter::new(FlowFilter {
                destination_port: vec!["http".into()],
                ..FlowFilter::default()
            })
            .is_err()
        );
    }

    #[test]
    fn a_field_mask_is_refused_not_ignored() {
        let request = ServedGetFlowsRequest {
            field_mask: Some(vec![10, 0]),
            ..ServedGetFlowsRequest::default()
        };
        let err = Query::parse(&request).err().unwrap();
        assert!(err.contains("field_mask"), "{err}");
    }
}
