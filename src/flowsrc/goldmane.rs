//! The Calico Goldmane client: `goldmane.Flows/Stream` over gRPC with mutual TLS, each flow
//! aggregate turned into a [`FlowRecord`] and delivered to the sink in batches; the stream is
//! reopened with backoff when it breaks, from where it left off.
//!
//! Goldmane accepts only clients with a certificate from the tigera-operator's CA, so this
//! client refuses to start without a CA, a certificate and a key. They come from files or from
//! the cluster's secrets ([`tls_from_cluster`]); either way their contents stay in memory and
//! are never logged.

use std::fmt;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::{Backoff, FlowSink, TlsFiles};
use crate::flows::goldmane_wire::{
    AGGREGATION_INTERVAL_SECS, FlowListRequest, FlowListResult, FlowResult, FlowStreamRequest,
    LIST_PATH, STREAM_PATH,
};
use crate::flows::{FlowNews, FlowRecord, FlowSourceKind, Interner, SourceStatus};

/// Goldmane's namespace and the objects the tigera-operator keeps there.
pub const NAMESPACE: &str = "calico-system";
/// The key pair the operator issues Whisker's backend, Goldmane's own client.
pub const CLIENT_SECRET: &str = "whisker-backend-key-pair";
/// The CA bundles that hold the operator's CA, tried in order.
pub const CA_CONFIGMAPS: [&str; 3] = [
    "goldmane-ca-bundle",
    "whisker-ca-bundle",
    "tigera-ca-bundle",
];
pub const CA_BUNDLE_KEY: &str = "tigera-ca-bundle.crt";

/// The largest message accepted; a flow aggregate is a few hundred bytes.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Flows are delivered in batches of at most this many, or after [`BATCH_DELAY`].
pub const BATCH_MAX: usize = 256;
pub const BATCH_DELAY: Duration = Duration::from_millis(100);
/// On the first connection, ask for the flows of the last few minutes.
const FIRST_LOOKBACK_SECS: i64 = 300;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A CA, certificate and key in memory (read from the cluster). No `Debug` of the key.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsPems {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub server_name: Option<String>,
}

impl fmt::Debug for TlsPems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPems")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Where the client's TLS material comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoldmaneTls {
    Files(TlsFiles),
    Pems(TlsPems),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldmaneSpec {
    /// `host:port` or `https://host:port`; with a port-forward, `localhost:7443`.
    pub address: String,
    pub tls: GoldmaneTls,
}

/// Starts the client. It reports its state through `sink`; without usable TLS material it says
/// why once (`Absent`) and stops.
pub fn spawn(spec: GoldmaneSpec, sink: FlowSink) -> JoinHandle<()> {
    tokio::spawn(run(spec, sink))
}

/// Starts the client for `--goldmane ADDR`: with the certificate files given, or, when none
/// is given, with those read from the cluster (see [`tls_from_cluster`]).
pub fn spawn_for(
    address: String,
    files: TlsFiles,
    client: Option<kube::Client>,
    sink: FlowSink,
) -> JoinHandle<()> {
    let no_files = files.ca.is_none() && files.cert.is_none() && files.key.is_none();
    match client {
        Some(client) if no_files => tokio::spawn(async move {
            match tls_from_cluster(client).await {
                Ok(pems) => {
                    let tls = GoldmaneTls::Pems(TlsPems {
                        server_name: files.server_name,
                        ..pems
                    });
                    run(GoldmaneSpec { address, tls }, sink).await
                }
                Err(reason) => status(&sink, SourceStatus::Absent { reason }),
            }
        }),
        _ => spawn(
            GoldmaneSpec {
                address,
                tls: GoldmaneTls::Files(files),
            },
            sink,
        ),
    }
}

fn status(sink: &FlowSink, status: SourceStatus) {
    sink(FlowNews::Status {
        source: FlowSourceKind::Goldmane,
        status,
    });
}

async fn run(spec: GoldmaneSpec, sink: FlowSink) {
    let endpoint = match endpoint(&spec).await {
        Ok(endpoint) => endpoint,
        Err(reason) => {
            status(&sink, SourceStatus::Absent { reason });
            return;
        }
    };
    let target = endpoint.uri().to_string();
    let mut backoff = Backoff::new();
    let mut interner = Interner::new(Interner::DEFAULT_LIMIT);
    // Where the next stream starts: after the newest window seen, so a reconnect neither
    // repeats nor (as Goldmane sends a window's flows together) skips windows.
    let mut resume = -FIRST_LOOKBACK_SECS;
    let mut since: Option<SystemTime> = None;
    status(
        &sink,
        SourceStatus::Connecting {
            target: target.clone(),
        },
    );
    loop {
        let outcome = stream(&endpoint, &target, resume, &sink, &mut interner).await;
        if outcome.delivered {
            backoff.reset();
            since = None;
        }
        if let Some(newest) = outcome.newest {
            resume = newest + 1;
        }
        let error = outcome
            .error
            .unwrap_or_else(|| "Goldmane ended the stream".into());
        let since = *since.get_or_insert_with(SystemTime::now);
        status(
            &sink,
            SourceStatus::Reconnecting {
                target: target.clone(),
                since,
                error,
            },
        );
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// How one stream went.
struct Outcome {
    delivered: bool,
    /// The start of the newest window received (seconds since the epoch).
    newest: Option<i64>,
    error: Option<String>,
}

async fn stream(
    endpoint: &Endpoint,
    target: &str,
    start: i64,
    sink: &FlowSink,
    interner: &mut Interner,
) -> Outcome {
    let mut outcome = Outcome {
        delivered: false,
        newest: None,
        error: None,
    };
    let channel: Channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(e) => {
            outcome.error = Some(explain(&e));
            return outcome;
        }
    };
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_MESSAGE);
    if let Err(e) = grpc.ready().await {
        outcome.error = Some(before_answer(explain(&e)));
        return outcome;
    }
    let request = FlowStreamRequest {
        start_time_gte: start,
        filter: None,
        aggregation_interval: AGGREGATION_INTERVAL_SECS,
    };
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(STREAM_PATH);
    let codec = tonic_prost::ProstCodec::<FlowStreamRequest, FlowResult>::default();
    let mut messages = match grpc
        .server_streaming(tonic::Request::new(request), path, codec)
        .await
    {
        Ok(response) => response.into_inner(),
        Err(e) => {
            outcome.error = Some(before_answer(explain_status(&e)));
            return outcome;
        }
    };
    status(
        sink,
        SourceStatus::Live {
            target: target.to_string(),
        },
    );
    let mut batch: Vec<FlowRecord> = Vec::new();
    let mut flush = tokio::time::interval(BATCH_DELAY);
    let deliver = |batch: &mut Vec<FlowRecord>| {
        if !batch.is_empty() {
            sink(FlowNews::Flows {
                source: FlowSourceKind::Goldmane,
                flows: std::mem::take(batch),
            });
        }
    };
    loop {
        tokio::select! {
            _ = flush.tick() => deliver(&mut batch),
            message = messages.message() => match message {
                Ok(Some(result)) => {
                    let Some(flow) = result.flow else { continue };
                    if flow.start_time > outcome.newest.unwrap_or(i64::MIN) {
                        outcome.newest = Some(flow.start_time);
                    }
                    if let Some(record) = flow.to_record(interner) {
                        outcome.delivered = true;
                        batch.push(record);
                        if batch.len() >= BATCH_MAX {
                            deliver(&mut batch);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    outcome.error = Some(explain_status(&e));
                    break;
                }
            },
        }
    }
    deliver(&mut batch);
    outcome
}

/// Flows `List` returns at most, over all pages.
pub const LIST_MAX: usize = 50_000;
const LIST_PAGE: i64 = 1000;

/// The flows of the last `seconds` at once (`Flows/List`, page by page, at most [`LIST_MAX`]),
/// oldest first: for a one-shot `palisade flows`.
pub async fn list(spec: &GoldmaneSpec, seconds: u64) -> Result<Vec<FlowRecord>, String> {
    let endpoint = endpoint(spec).await?;
    let channel = endpoint.connect().await.map_err(|e| explain(&e))?;
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_MESSAGE * 16);
    let mut interner = Interner::new(Interner::DEFAULT_LIMIT);
    let mut flows = Vec::new();
    for page in 0.. {
        grpc.ready().await.map_err(|e| explain(&e))?;
        let request = FlowListRequest {
            start_time_gte: -(seconds.min(i64::MAX as u64) as i64),
            page,
            page_size: LIST_PAGE,
            aggregation_interval: AGGREGATION_INTERVAL_SECS,
            ..FlowListRequest::default()
        };
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(LIST_PATH);
        let codec = tonic_prost::ProstCodec::<FlowListRequest, FlowListResult>::default();
        let result = grpc
            .unary(tonic::Request::new(request), path, codec)
            .await
            .map_err(|e| explain_status(&e))?
            .into_inner();
        let received = result.flows.len();
        flows.extend(
            result
                .flows
                .into_iter()
                .filter_map(|r| r.flow?.to_record(&mut interner)),
        );
        let pages = result.meta.map_or(0, |m| m.total_pages);
        if received == 0 || page + 1 >= pages || flows.len() >= LIST_MAX {
            break;
        }
    }
    flows.truncate(LIST_MAX);
    flows.sort_by_key(|f| f.time);
    Ok(flows)
}

/// The endpoint with mutual TLS, or why there is none.
async fn endpoint(spec: &GoldmaneSpec) -> Result<Endpoint, String> {
    let address = spec.address.trim();
    let url = if address.starts_with("https://") {
        address.to_string()
    } else if address.starts_with("http://") {
        return Err(format!(
            "Goldmane requires mutual TLS; {address} asks for plain text: give https:// or host:port"
        ));
    } else {
        format!("https://{address}")
    };
    let pems = match &spec.tls {
        GoldmaneTls::Pems(pems) => pems.clone(),
        GoldmaneTls::Files(files) => read_files(files).await?,
    };
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pems.ca))
        .identity(Identity::from_pem(&pems.cert, &pems.key));
    if let Some(name) = &pems.server_name {
        tls = tls.domain_name(name.clone());
    }
    Endpoint::from_shared(url.clone())
        .map_err(|e| format!("Goldmane address {address:?} is not a valid URL: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tls_config(tls)
        .map_err(|e| format!("Goldmane TLS settings for {url}: {}", chain(&e)))
}

const MTLS_HINT: &str = "Goldmane requires mutual TLS: give its CA, a client certificate and \
     key (--goldmane-tls-ca, --goldmane-tls-cert, --goldmane-tls-key), or let palisade read them from \
     calico-system (see docs/flows.md, \"Calico Goldmane\")";

async fn read_files(files: &TlsFiles) -> Result<TlsPems, String> {
    let (Some(ca), Some(cert), Some(key)) = (&files.ca, &files.cert, &files.key) else {
        let missing: Vec<&str> = [
            ("CA", files.ca.is_none()),
            ("client certificate", files.cert.is_none()),
            ("client key", files.key.is_none()),
        ]
        .into_iter()
        .filter_map(|(what, missing)| missing.then_some(what))
        .collect();
        return Err(format!("no {} given. {MTLS_HINT}", missing.join(", ")));
    };
    let read = |what: &'static str, path: std::path::PathBuf| async move {
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| format!("cannot read the Goldmane {what} {}: {e}", path.display()))?;
        if !text.contains("-----BEGIN") {
            return Err(format!(
                "the Goldmane {what} {} holds no PEM block",
                path.display()
            ));
        }
        Ok(text)
    };
    Ok(TlsPems {
        ca: read("CA", ca.clone()).await?,
        cert: read("client certificate", cert.clone()).await?,
        key: read("client key", key.clone()).await?,
        server_name: files.server_name.clone(),
    })
}

/// An error with its causes, as one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A connection error, with what the TLS failures usually mean.
fn explain(error: &(dyn std::error::Error + 'static)) -> String {
    hint(chain(error))
}

fn explain_status(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text = format!("{text}: {}", chain(source));
    }
    hint(text)
}

/// With TLS 1.3 the server checks the client's certificate after the client thinks the
/// handshake is done, so a refusal may reach the client as a closed connection, before any
/// answer, rather than as the TLS alert.
fn before_answer(text: String) -> String {
    let lower = text.to_ascii_lowercase();
    let closed = [
        "connection closed",
        "connection reset",
        "broken pipe",
        "canceled",
    ]
    .iter()
    .any(|word| lower.contains(word));
    if closed && !lower.contains("client certificate") {
        format!(
            "Goldmane closed the connection before answering: is the client certificate \
             signed by the tigera-operator's CA? ({text})"
        )
    } else {
        text
    }
}

fn hint(text: String) -> String {
    let lower = text.to_ascii_lowercase();
    let hint = if lower.contains("invalid peer certificate") {
        Some("the server's certificate is not signed by the given CA (or names another host)")
    } else if lower.contains("unknownca")
        || lower.contains("badcertificate")
        || lower.contains("certificaterequired")
        || lower.contains("decrypterror")
    {
        Some(
            "Goldmane refused the client certificate: it must be signed by the tigera-operator's CA",
        )
    } else {
        None
    };
    match hint {
        Some(hint) => format!("{hint} ({text})"),
        None => text,
    }
}

/// Reads the client key pair and CA the tigera-operator keeps in `calico-system`: the key
/// pair of Whisker's backend (Goldmane's own client) and the CA bundle. Needs `get` on that
/// secret and configmap; a 403 says which and that files can be given instead.
pub async fn tls_from_cluster(client: kube::Client) -> Result<TlsPems, String> {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), NAMESPACE);
    let secret = secrets
        .get(CLIENT_SECRET)
        .await
        .map_err(|e| cluster_error(&e, "secret", CLIENT_SECRET))?;
    let data = secret.data.unwrap_or_default();
    let field = |key: &str| {
        data.get(key)
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
            .filter(|text| text.contains("-----BEGIN"))
            .ok_or_else(|| format!("secret {NAMESPACE}/{CLIENT_SECRET} holds no PEM {key}"))
    };
    let cert = field("tls.crt")?;
    let key = field("tls.key")?;
    let configmaps: kube::Api<ConfigMap> = kube::Api::namespaced(client, NAMESPACE);
    let mut last = String::new();
    for name in CA_CONFIGMAPS {
        match configmaps.get(name).await {
            Ok(map) => match map.data.and_then(|mut d| d.remove(CA_BUNDLE_KEY)) {
                Some(ca) if ca.contains("-----BEGIN") => {
                    return Ok(TlsPems {
                        ca,
                        cert,
                        key,
                        server_name: None,
                    });
                }
                _ => last = format!("configmap {NAMESPACE}/{name} holds no {CA_BUNDLE_KEY}"),
            },
            Err(kube::Error::Api(status)) if status.code == 404 => {
                last = format!("no configmap {NAMESPACE}/{name}");
            }
            Err(e) => return Err(cluster_error(&e, "configmap", name)),
        }
    }
    Err(format!(
        "Goldmane's CA bundle not found ({last}). {MTLS_HINT}"
    ))
}

fn cluster_error(error: &kube::Error, kind: &str, name: &str) -> String {
    match error {
        kube::Error::Api(status) if status.code == 403 => format!(
            "reading {kind} {NAMESPACE}/{name} is forbidden for this user (RBAC); give the \
             certificate files instead (--goldmane-tls-ca, --goldmane-tls-cert, --goldmane-tls-key; see \
             docs/flows.md)"
        ),
        kube::Error::Api(status) if status.code == 404 => format!(
            "no {kind} {NAMESPACE}/{name}: is Calico 3.30+ with Goldmane installed by the \
             tigera-operator? {MTLS_HINT}"
        ),
        other => format!("reading {kind} {NAMESPACE}/{name}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pems_never_show_their_key_in_debug() {
        let pems = TlsPems {
            ca: "CA".into(),
            cert: "CERT".into(),
            key: "PRIVATE KEY".into(),
            server_name: None,
        };
        assert!(!format!("{pems:?}").contains("PRIVATE"));
    }

    #[tokio::test]
    async fn without_a_client_certificate_the_client_refuses_to_start() {
        let spec = GoldmaneSpec {
            address: "127.0.0.1:7443".into(),
            tls: GoldmaneTls::Files(TlsFiles {
                ca: Some("/nonexistent/ca.crt".into()),
                ..TlsFiles::default()
            }),
        };
        let error = endpoint(&spec).await.unwrap_err();
        assert!(error.contains("client certificate, client key"), "{error}");
        assert!(error.contains("requires mutual TLS"), "{error}");
    }

    #[tokio::test]
    async fn plain_text_is_refused() {
        let spec = GoldmaneSpec {
            address: "http://127.0.0.1:7443".into(),
            tls: GoldmaneTls::Files(TlsFiles::default()),
        };
        assert!(endpoint(&spec).await.unwrap_err().contains("mutual TLS"));
    }

    #[test]
    fn a_forbidden_secret_is_named_with_the_way_out() {
        let status = kube::core::Status {
            code: 403,
            message: "secrets \"whisker-backend-key-pair\" is forbidden".into(),
            ..kube::core::Status::default()
        };
        let error = cluster_error(&kube::Error::Api(Box::new(status)), "secret", CLIENT_SECRET);
        assert!(
            error.contains("secret calico-system/whisker-backend-key-pair"),
            "{error}"
        );
        assert!(error.contains("forbidden"), "{error}");
        assert!(error.contains("--goldmane-tls-ca"), "{error}");
    }

    #[test]
    fn tls_alerts_get_a_plain_hint() {
        assert!(hint("received fatal alert: UnknownCA".into()).starts_with("Goldmane refused"));
        assert!(
            hint("invalid peer certificate: UnknownIssuer".into())
                .contains("not signed by the given CA")
        );
        assert_eq!(hint("connection refused".into()), "connection refused");
        let closed = before_answer("transport error: connection closed".into());
        assert!(
            closed.contains("is the client certificate signed"),
            "{closed}"
        );
        let refused = before_answer("connection refused".into());
        assert_eq!(refused, "connection refused");
    }
}
