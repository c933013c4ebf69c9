//! Helpers for `hubble_relay.rs`: a collecting sink, waits with deadlines, flows for the feed,
//! and the hostile servers (garbage over TCP, a hand-routed gRPC server that answers what a
//! test says, with or without TLS).
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use palisade::flows::hubble_wire::GetFlowsResponse;
use palisade::flows::{
    DataplaneVerdict, FlowEndpoint, FlowNews, FlowRecord, FlowSourceKind, Gap, Name, SourceStatus,
};
use palisade::flowsrc::{FlowSink, TlsFiles};
use palisade::policy::{Direction, Protocol};
use palisade::sim::flow_feed::FeedItem;
use tokio::io::AsyncWriteExt;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls `check` every 20 ms until it gives a value, or fails the test after `deadline`.
pub async fn wait_for<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A flow from `ns/pod` to kube-system's DNS, observed now on worker-1.
pub fn flow_item(ns: &str, pod: &str, verdict: DataplaneVerdict, port: u16) -> FeedItem {
    let end = |ns: &str, pod: &str| FlowEndpoint {
        namespace: Some(Name::from(ns)),
        pod: Some(Name::from(pod)),
        workload: None,
        ip: "10.0.0.1".parse().ok(),
        entity: None,
    };
    FeedItem::Flow(Box::new(FlowRecord {
        time: SystemTime::now(),
        source_kind: FlowSourceKind::Hubble,
        node: Some(Name::from("worker-1")),
        src: end(ns, pod),
        dst: end("kube-system", "coredns-0"),
        protocol: Some(Protocol::Udp),
        port: Some(port),
        verdict,
        reason: (verdict == DataplaneVerdict::Dropped).then(|| Name::from("POLICY_DENIED")),
        direction: Some(Direction::Egress),
        policies: Vec::new(),
        is_reply: Some(false),
        count: 1,
    }))
}

/// Every piece of news a source delivered.
#[derive(Clone, Default)]
pub struct Collector {
    news: Arc<Mutex<Vec<FlowNews>>>,
}

impl Collector {
    pub fn sink(&self) -> FlowSink {
        let news = self.news.clone();
        Arc::new(move |item| news.lock().unwrap().push(item))
    }

    pub fn count(&self, which: impl Fn(&FlowNews) -> bool) -> usize {
        self.news
            .lock()
            .unwrap()
            .iter()
            .filter(|n| which(n))
            .count()
    }

    pub fn len(&self) -> usize {
        self.news.lock().unwrap().len()
    }

    pub fn statuses(&self) -> Vec<SourceStatus> {
        let news = self.news.lock().unwrap();
        news.iter()
            .filter_map(|n| match n {
                FlowNews::Status { status, .. } => Some(status.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn reconnecting_errors(&self) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter_map(|s| match s {
                SourceStatus::Reconnecting { error, .. } => Some(error),
                _ => None,
            })
            .collect()
    }

    pub fn gaps(&self) -> Vec<Gap> {
        let news = self.news.lock().unwrap();
        news.iter()
            .filter_map(|n| match n {
                FlowNews::Gap { gap, .. } => Some(gap.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn flows_count(&self) -> usize {
        let news = self.news.lock().unwrap();
        news.iter()
            .map(|n| match n {
                FlowNews::Flows { flows, .. } => flows.len(),
                _ => 0,
            })
            .sum()
    }

    /// The source pods of the flows from namespace `ns`, in delivery order.
    pub fn pods(&self, ns: &str) -> Vec<String> {
        let news = self.news.lock().unwrap();
        news.iter()
            .flat_map(|n| match n {
                FlowNews::Flows { flows, .. } => flows.as_slice(),
                _ => &[],
            })
            .filter(|f| f.src.namespace.as_deref() == Some(ns))
            .filter_map(|f| f.src.pod.as_deref().map(str::to_string))
            .collect()
    }
}

/// A TCP server answering every connection with garbage; counts the connections.
pub async fn garbage_server() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let attempts = Arc::new(AtomicU64::new(0));
    let counter = attempts.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\n\r\n\x00\xff\xfe garbage \x07\x07\x07\x07")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, attempts)
}

/// What the test gRPC server answers to GetFlows.
pub enum Reply {
    Unimplemented,
    /// Called with 0, 1, 2...; `None` ends the stream.
    Stream(Box<dyn FnMut(u64) -> Option<GetFlowsResponse> + Send>),
}

type Make = Arc<dyn Fn() -> Reply + Send + Sync>;

#[derive(Clone)]
struct TestRelay {
    make: Make,
}

impl tonic::server::NamedService for TestRelay {
    const NAME: &'static str = "observer.Observer";
}

impl<B> Service<http::Request<B>> for TestRelay
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let reply = (self.make)();
        Box::pin(async move {
            let Reply::Stream(next) = reply else {
                return Ok(tonic::Status::unimplemented("no such method").into_http());
            };
            let codec = tonic_prost::ProstCodec::<
                GetFlowsResponse,
                palisade::flows::hubble_wire::GetFlowsRequest,
            >::default();
            let mut grpc = tonic::server::Grpc::new(codec);
            Ok(grpc.server_streaming(Streamer(Some(next)), request).await)
        })
    }
}

type Next = Box<dyn FnMut(u64) -> Option<GetFlowsResponse> + Send>;
struct Streamer(Option<Next>);

impl Service<tonic::Request<palisade::flows::hubble_wire::GetFlowsRequest>> for Streamer {
    type Response = tonic::Response<ReceiverStream<Result<GetFlowsResponse, tonic::Status>>>;
    type Error = tonic::Status;
    type Future = BoxFuture<Self::Response, tonic::Status>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), tonic::Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(
        &mut self,
        _request: tonic::Request<palisade::flows::hubble_wire::GetFlowsRequest>,
    ) -> Self::Future {
        let mut next = self.0.take().expect("called once");
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(response) = next(n) {
                n += 1;
                if tx.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Box::pin(async move { Ok(tonic::Response::new(ReceiverStream::new(rx))) })
    }
}

/// A gRPC server on loopback answering GetFlows with what `make` says, over TLS with `pki`.
pub async fn grpc_server(
    pki: Option<&Pki>,
    make: impl Fn() -> Reply + Send + Sync + 'static,
) -> SocketAddr {
    grpc_server_with(pki, false, make).await
}

/// [`grpc_server`], requiring a client certificate signed by the CA when `mutual`.
pub async fn grpc_server_with(
    pki: Option<&Pki>,
    mutual: bool,
    make: impl Fn() -> Reply + Send + Sync + 'static,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = tonic::transport::Server::builder();
    if let Some(pki) = pki {
        let identity = tonic::transport::Identity::from_pem(
            format!("{}{}", pki.server_cert_pem, pki.ca_pem),
            &pki.server_key_pem,
        );
        let mut config = tonic::transport::ServerTlsConfig::new().identity(identity);
        if mutual {
            config = config.client_ca_root(tonic::transport::Certificate::from_pem(&pki.ca_pem));
        }
        builder = builder.tls_config(config).unwrap();
    }
    let router = builder.add_service(TestRelay {
        make: Arc::new(make),
    });
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        let _ = router.serve_with_incoming(incoming).await;
    });
    addr
}

/// A GetFlows request whitelisting by `source_label` (field 10), which the demo's relay does
/// not support: the status it answers.
pub async fn raw_get_flows_with_source_label(addr: SocketAddr) -> tonic::Status {
    #[derive(Clone, PartialEq, prost::Message)]
    struct LabelFilter {
        #[prost(string, repeated, tag = "10")]
        source_label: Vec<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Request {
        #[prost(bool, tag = "3")]
        follow: bool,
        #[prost(message, repeated, tag = "6")]
        whitelist: Vec<LabelFilter>,
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let request = Request {
        follow: true,
        whitelist: vec![LabelFilter {
            source_label: vec!["k8s:app=web".into()],
        }],
    };
    let codec = tonic_prost::ProstCodec::<Request, GetFlowsResponse>::default();
    let path = http::uri::PathAndQuery::from_static("/observer.Observer/GetFlows");
    match grpc
        .server_streaming(tonic::Request::new(request), path, codec)
        .await
    {
        Ok(mut stream) => stream.get_mut().message().await.unwrap_err(),
        Err(status) => status,
    }
}

/// `observer.Observer/ServerStatus`, unary.
pub async fn server_status(addr: SocketAddr) -> palisade::flows::hubble_wire::ServerStatusResponse {
    use palisade::flows::hubble_wire::{ServerStatusRequest, ServerStatusResponse};
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<ServerStatusRequest, ServerStatusResponse>::default();
    let path = http::uri::PathAndQuery::from_static("/observer.Observer/ServerStatus");
    grpc.unary(tonic::Request::new(ServerStatusRequest {}), path, codec)
        .await
        .unwrap()
        .into_inner()
}

/// A CA and a server certificate for 127.0.0.1, made up for one test.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    /// A client certificate the CA signed, for mutual TLS.
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl Pki {
    pub fn generate() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "hubble test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let server_key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let server_cert = params.signed_by(&server_key, &issuer).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "palisade");
        client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
        Pki {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    /// The CA written to a file, as a user would give it.
    pub fn write(&self) -> PkiFiles {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, &self.ca_pem).unwrap();
        let cert = dir.path().join("client.crt");
        std::fs::write(&cert, &self.client_cert_pem).unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(&key, &self.client_key_pem).unwrap();
        PkiFiles {
            _dir: dir,
            ca,
            cert,
            key,
        }
    }
}

pub struct PkiFiles {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl PkiFiles {
    pub fn tls(&self, ca: &std::path::Path) -> TlsFiles {
        TlsFiles {
            ca: Some(ca.to_path_buf()),
            ..TlsFiles::default()
        }
    }
}
