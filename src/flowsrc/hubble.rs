//! The Hubble Relay client: `observer.Observer/GetFlows` over tonic with the hand-written
//! messages of `flows/hubble_wire.rs`, following the stream, reconnecting with backoff, and
//! turning lost events and unreachable nodes into gaps.

use std::collections::HashSet;
use std::error::Error as _;
use std::time::{Duration, SystemTime};

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::{Backoff, FlowSink, TlsFiles};
use crate::flows::hubble_convert::{Received, read_response};
use crate::flows::hubble_wire::{
    FlowFilter, GetFlowsRequest, GetFlowsResponse, ResponseType, Timestamp, Verdict,
};
use crate::flows::{FlowNews, FlowRecord, FlowSourceKind, Gap, Interner, SourceStatus};

/// What to ask which relay for.
#[derive(Debug, Clone, PartialEq)]
pub struct HubbleSpec {
    /// `host:port` or a URL (`http://`, `https://`).
    pub address: String,
    pub tls: TlsFiles,
    /// Whitelist: a flow is sent when it matches any of them (none: every flow).
    pub filters: Vec<FlowFilter>,
    /// Past flows to ask for first.
    pub last: u64,
}

impl HubbleSpec {
    /// The whitelist for "these verdicts, in or out of these namespaces" (`palisade flows
    /// --verdict dropped --tenant T`): filters are ORed and their fields ANDed, so a namespace
    /// takes one filter for its sources and one for its destinations. Empty lists: no filter.
    pub fn filters_for(verdicts: &[Verdict], namespaces: &[&str]) -> Vec<FlowFilter> {
        let verdict: Vec<i32> = verdicts.iter().map(|v| *v as i32).collect();
        if namespaces.is_empty() {
            return match verdict.is_empty() {
                true => Vec::new(),
                false => vec![FlowFilter {
                    verdict,
                    ..FlowFilter::default()
                }],
            };
        }
        let pods: Vec<String> = namespaces.iter().map(|ns| format!("{ns}/")).collect();
        vec![
            FlowFilter {
                source_pod: pods.clone(),
                verdict: verdict.clone(),
                ..FlowFilter::default()
            },
            FlowFilter {
                destination_pod: pods,
                verdict,
                ..FlowFilter::default()
            },
        ]
    }
}

/// Flows per [`FlowNews::Flows`] at most, and the longest a flow waits to be delivered.
pub const BATCH: usize = 256;
pub const BATCH_WAIT: Duration = Duration::from_millis(50);
/// A bigger message is an error: a relay sending one is broken or hostile.
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const GET_FLOWS: &str = "/observer.Observer/GetFlows";
const SOURCE: FlowSourceKind = FlowSourceKind::Hubble;

/// Follows the relay's flows until aborted: status news (Connecting, Live on the first
/// response, Reconnecting with the error on each failed attempt), flows in batches, gaps.
pub fn spawn(spec: HubbleSpec, sink: FlowSink) -> tokio::task::JoinHandle<()> {
    tokio::spawn(follow(spec, sink))
}

async fn follow(spec: HubbleSpec, sink: FlowSink) {
    let status = |status| {
        sink(FlowNews::Status {
            source: SOURCE,
            status,
        })
    };
    let target = spec.address.clone();
    let endpoint = match endpoint(&spec) {
        Ok(endpoint) => endpoint,
        Err(reason) => {
            // A configuration error: retrying cannot help.
            status(SourceStatus::Absent { reason });
            return;
        }
    };
    status(SourceStatus::Connecting {
        target: target.clone(),
    });
    let mut backoff = Backoff::new();
    let mut interner = Interner::new(Interner::DEFAULT_LIMIT);
    let mut failing_since = None;
    // After a break, ask for what came after the last flow seen instead of the last N again.
    let mut resume_after: Option<SystemTime> = None;
    loop {
        let request = GetFlowsRequest {
            number: if resume_after.is_some() { 0 } else { spec.last },
            follow: true,
            whitelist: spec.filters.clone(),
            since: resume_after.map(|t| Timestamp::from_system_time(t + Duration::from_nanos(1))),
            ..GetFlowsRequest::default()
        };
        let mut stream = Stream {
            sink: &sink,
            interner: &mut interner,
            delivered: false,
            last_flow: resume_after,
            spec: &spec,
        };
        let error = match open(&endpoint, request, &spec).await {
            Ok(responses) => stream.run(responses).await,
            Err(error) => error,
        };
        if stream.delivered {
            backoff.reset();
            failing_since = None;
        }
        resume_after = stream.last_flow;
        let since = *failing_since.get_or_insert_with(SystemTime::now);
        status(SourceStatus::Reconnecting {
            target: target.clone(),
            since,
            error,
        });
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// One stream's delivery state.
struct Stream<'a> {
    sink: &'a FlowSink,
    interner: &'a mut Interner,
    delivered: bool,
    last_flow: Option<SystemTime>,
    spec: &'a HubbleSpec,
}

impl Stream<'_> {
    /// Delivers until the stream ends; the error that ended it, as one line.
    async fn run(&mut self, mut responses: tonic::Streaming<GetFlowsResponse>) -> String {
        let mut batch = Batch::default();
        loop {
            let next = match batch.deadline {
                Some(deadline) => tokio::select! {
                    next = responses.message() => next,
                    _ = tokio::time::sleep_until(deadline) => {
                        batch.flush(self.sink);
                        continue;
                    }
                },
                None => responses.message().await,
            };
            let response = match next {
                Ok(Some(response)) => response,
                Ok(None) => {
                    batch.flush(self.sink);
                    return "the relay ended the stream".to_string();
                }
                Err(status) => {
                    batch.flush(self.sink);
                    return describe_status(&status, self.spec);
                }
            };
            if !self.delivered {
                self.delivered = true;
                (self.sink)(FlowNews::Status {
                    source: SOURCE,
                    status: SourceStatus::Live {
                        target: self.spec.address.clone(),
                    },
                });
            }
            match read_response(&response, SystemTime::now(), self.interner) {
                Received::Flow(flow) => {
                    self.last_flow = Some(self.last_flow.map_or(flow.time, |t| t.max(flow.time)));
                    batch.push_flow(*flow);
                }
                Received::Gap(gap) => batch.push_gap(&response, gap),
                Received::Nothing => batch.node_back(&response),
            }
            if batch.flows.len() >= BATCH {
                batch.flush(self.sink);
            }
        }
    }
}

/// Flows and gaps gathered for one delivery: lost events summed per place, a node's trouble
/// said once until it reconnects, so a relay repeating itself costs few messages.
#[derive(Default)]
struct Batch {
    flows: Vec<FlowRecord>,
    lost: Vec<Gap>,
    deadline: Option<tokio::time::Instant>,
    /// Nodes announced unreachable (and not back since): their gap was delivered.
    troubled_nodes: HashSet<String>,
}

impl Batch {
    fn start_clock(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(tokio::time::Instant::now() + BATCH_WAIT);
        }
    }

    fn push_flow(&mut self, flow: FlowRecord) {
        self.flows.push(flow);
        self.start_clock();
    }

    fn push_gap(&mut self, response: &GetFlowsResponse, gap: Gap) {
        if let Some(ResponseType::NodeStatus(status)) = &response.response_types {
            let fresh: Vec<&String> = status
                .node_names
                .iter()
                .filter(|node| !self.troubled_nodes.contains(*node))
                .collect();
            if fresh.is_empty() && !status.node_names.is_empty() {
                return;
            }
            for node in &status.node_names {
                self.troubled_nodes.insert(node.clone());
            }
        }
        match self.lost.iter_mut().find(|g| g.what == gap.what) {
            Some(same) => same.lost += gap.lost,
            None => self.lost.push(gap),
        }
        self.start_clock();
    }

    fn node_back(&mut self, response: &GetFlowsResponse) {
        if let Some(ResponseType::NodeStatus(status)) = &response.response_types {
            for node in &status.node_names {
                self.troubled_nodes.remove(node);
            }
        }
    }

    fn flush(&mut self, sink: &FlowSink) {
        self.deadline = None;
        for gap in self.lost.drain(..) {
            sink(FlowNews::Gap {
                source: SOURCE,
                gap,
            });
        }
        if !self.flows.is_empty() {
            sink(FlowNews::Flows {
                source: SOURCE,
                flows: std::mem::take(&mut self.flows),
            });
        }
    }
}

/// The past `number` flows (no following), for the headless `palisade flows`.
pub async fn fetch(spec: HubbleSpec, number: u64) -> Result<(Vec<FlowRecord>, Vec<Gap>), String> {
    let endpoint = endpoint(&spec)?;
    let request = GetFlowsRequest {
        number,
        follow: false,
        whitelist: spec.filters.clone(),
        ..GetFlowsRequest::default()
    };
    let mut responses = open(&endpoint, request, &spec).await?;
    let mut interner = Interner::new(Interner::DEFAULT_LIMIT);
    let (mut flows, mut gaps) = (Vec::new(), Vec::new());
    loop {
        match responses.message().await {
            Ok(Some(response)) => {
                match read_response(&response, SystemTime::now(), &mut interner) {
                    Received::Flow(flow) => flows.push(*flow),
                    Received::Gap(gap) => gaps.push(gap),
                    Received::Nothing => {}
                }
            }
            Ok(None) => return Ok((flows, gaps)),
            Err(status) => return Err(describe_status(&status, &spec)),
        }
    }
}

/// The endpoint for the spec's address, with TLS when it has TLS files or an `https://` URL.
fn endpoint(spec: &HubbleSpec) -> Result<Endpoint, String> {
    let tls_wanted = spec.tls.ca.is_some() || spec.tls.cert.is_some();
    let url = if spec.address.contains("://") {
        spec.address.clone()
    } else if tls_wanted {
        format!("https://{}", spec.address)
    } else {
        format!("http://{}", spec.address)
    };
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| format!("invalid Hubble Relay address {:?}: {e}", spec.address))?
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    if !url.starts_with("https://") {
        if tls_wanted {
            return Err(format!(
                "{url} is plain text but TLS files were given: use https:// or host:port"
            ));
        }
        return Ok(endpoint);
    }
    endpoint
        .tls_config(tls_config(&spec.tls, &url)?)
        .map_err(|e| format!("TLS setup for {url}: {}", chain(&e)))
}

fn tls_config(files: &TlsFiles, url: &str) -> Result<ClientTlsConfig, String> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
    };
    let Some(ca) = &files.ca else {
        return Err(format!(
            "{url} needs a CA file: the CA that signed the relay's certificate"
        ));
    };
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca, "CA")?));
    match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(
                read(cert, "client certificate")?,
                read(key, "client key")?,
            ));
        }
        (None, None) => {}
        _ => return Err("a client certificate needs its key, and a key its certificate".into()),
    }
    if let Some(name) = &files.server_name {
        config = config.domain_name(name.clone());
    }
    Ok(config)
}

async fn open(
    endpoint: &Endpoint,
    request: GetFlowsRequest,
    spec: &HubbleSpec,
) -> Result<tonic::Streaming<GetFlowsResponse>, String> {
    let channel: Channel = endpoint
        .connect()
        .await
        .map_err(|e| describe_transport(&e, spec))?;
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| describe_transport(&e, spec))?;
    let codec = tonic_prost::ProstCodec::<GetFlowsRequest, GetFlowsResponse>::default();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(GET_FLOWS);
    grpc.server_streaming(tonic::Request::new(request), path, codec)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| describe_status(&status, spec))
}

/// An error and its causes on one line, each said once.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn describe_transport(error: &(dyn std::error::Error + 'static), spec: &HubbleSpec) -> String {
    explain(&chain(error), spec)
}

fn describe_status(status: &tonic::Status, spec: &HubbleSpec) -> String {
    use tonic::Code;
    let target = &spec.address;
    match status.code() {
        Code::Unimplemented => {
            return format!(
                "{target} is not a Hubble Relay: it does not serve observer.Observer/GetFlows"
            );
        }
        Code::OutOfRange if status.message().contains("too large") => {
            return format!(
                "the relay at {target} sent a message over the {} MiB limit ({})",
                MAX_MESSAGE / (1024 * 1024),
                status.message()
            );
        }
        _ => {}
    }
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = status.source() {
        let more = chain(source);
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
    }
    explain(&text.replace('\n', " "), spec)
}

/// A hint for the failures one can act on, before the library's words.
fn explain(detail: &str, spec: &HubbleSpec) -> String {
    let target = &spec.address;
    let tls = spec.tls.ca.is_some() || spec.address.starts_with("https://");
    let lower = detail.to_ascii_lowercase();
    let hint = if lower.contains("connection refused") {
        format!(
            "connection refused by {target}: is Hubble Relay listening there (cilium hubble port-forward)?"
        )
    } else if lower.contains("unknownissuer") || lower.contains("invalid peer certificate") {
        format!("TLS: the certificate of {target} is not signed by the given CA")
    } else if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        format!("TLS: {target} does not answer TLS (a plain-text relay? use http://)")
    } else if lower.contains("timed out") || lower.contains("timeout") {
        format!("no answer from {target} in time")
    } else if lower.contains("certificaterequired") {
        format!("TLS: {target} requires a client certificate (give one and its key)")
    } else if lower.contains("alert: badcertificate") || lower.contains("alert: unknownca") {
        format!("TLS: {target} rejected the client certificate")
    } else if tls
        && (lower.contains("connection closed")
            || lower.contains("connection reset")
            || lower.contains("broken pipe")
            // The server's refusal can also land while the request waits for the connection.
            || lower.contains("connection was not ready"))
    {
        match spec.tls.cert.is_some() {
            true => format!(
                "{target} closed the TLS connection (does it accept this client certificate?)"
            ),
            false => format!(
                "{target} closed the TLS connection (does it require a client certificate? give one and its key)"
            ),
        }
    } else if lower.contains("frame with invalid size")
        || lower.contains("protocol error")
        || lower.contains("connection reset")
        || lower.contains("broken pipe")
        || lower.contains("connection closed")
        || lower.contains("invalid http version")
    {
        format!("{target} does not speak plain gRPC (a TLS relay? give its CA; or not a relay)")
    } else {
        format!("cannot stream flows from {target}")
    };
    format!("{hint} ({detail})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_take_a_filter_for_each_end_verdicts_go_in_both() {
        assert!(HubbleSpec::filters_for(&[], &[]).is_empty());
        let dropped = HubbleSpec::filters_for(&[Verdict::Dropped], &[]);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].verdict, [Verdict::Dropped as i32]);
        let filters = HubbleSpec::filters_for(&[Verdict::Dropped], &["acme-web", "acme-api"]);
        assert_eq!(filters[0].source_pod, ["acme-web/", "acme-api/"]);
        assert!(filters[0].destination_pod.is_empty());
        assert_eq!(filters[1].destination_pod, ["acme-web/", "acme-api/"]);
        assert!(
            filters
                .iter()
                .all(|f| f.verdict == [Verdict::Dropped as i32])
        );
    }

    #[test]
    fn errors_name_the_cause_on_one_line() {
        let plain = HubbleSpec {
            address: "x:1".into(),
            tls: TlsFiles::default(),
            filters: Vec::new(),
            last: 0,
        };
        let refused = explain(
            "tcp connect error: Connection refused (os error 111)",
            &plain,
        );
        assert!(
            refused.starts_with("connection refused by x:1"),
            "{refused}"
        );
        let status = tonic::Status::unimplemented("unknown service");
        assert!(describe_status(&status, &plain).contains("not a Hubble Relay"));
        let huge = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        );
        assert!(describe_status(&huge, &plain).contains("over the 4 MiB limit"));
        let multi = tonic::Status::internal("line one\nline two");
        assert!(!describe_status(&multi, &plain).contains('\n'));
    }

    #[test]
    fn a_tls_connection_dropped_before_the_request_asks_for_a_client_certificate() {
        // Seen in CI against a relay that requires a client certificate: the refusal landed
        // while the request still waited for the connection.
        let detail = "Cancelled: operation was canceled: transport error: operation was \
                      canceled: connection was not ready";
        let tls = HubbleSpec {
            address: "https://relay:4245".into(),
            tls: TlsFiles {
                ca: Some("/ca.crt".into()),
                ..TlsFiles::default()
            },
            filters: Vec::new(),
            last: 0,
        };
        let text = explain(detail, &tls);
        assert!(
            text.contains("does it require a client certificate?"),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("({detail})")),
            "the library's words stay: {text}"
        );
    }

    #[test]
    fn tls_needs_a_ca_and_a_key_with_its_certificate() {
        let spec = |address: &str, tls: TlsFiles| HubbleSpec {
            address: address.into(),
            tls,
            filters: Vec::new(),
            last: 0,
        };
        assert!(endpoint(&spec("127.0.0.1:4245", TlsFiles::default())).is_ok());
        let err = endpoint(&spec("https://127.0.0.1:4245", TlsFiles::default())).unwrap_err();
        assert!(err.contains("CA"), "{err}");
        let with_ca = TlsFiles {
            ca: Some("/nonexistent/ca.crt".into()),
            ..TlsFiles::default()
        };
        let err = endpoint(&spec("127.0.0.1:4245", with_ca.clone())).unwrap_err();
        assert!(err.contains("/nonexistent/ca.crt"), "{err}");
        let err = endpoint(&spec("http://127.0.0.1:4245", with_ca)).unwrap_err();
        assert!(err.contains("plain text but TLS files"), "{err}");
        assert!(endpoint(&spec("not a url at all", TlsFiles::default())).is_err());
    }
}
