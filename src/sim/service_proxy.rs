//! The service proxy subresource:
//! `/api/v1/namespaces/{ns}/services/[{scheme}:]{name}[:{port}]/proxy/{path}`, any method. As
//! a real API server does, it forwards the method, path, query, body and headers to the
//! Service's backend, except `Authorization` (the authentication filter removed it) and
//! impersonation headers, and adds no identity of its own. An `https` backend's certificate is
//! not verified (the real proxy does not either). No backend, or a backend that does not
//! answer: 503, worded like the real one.
//!
//! The demo has no kube-proxy: a backend is whatever address the demo registered for the
//! Service's port ([`ServiceBackends::set`]; the in-process recorder registers itself).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, header};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::Value;
use tokio::net::TcpStream;

use super::http::{Body, Shared};
use super::meta::str_at;
use super::proxy::ProxyTarget;
use super::resource::Resource;
use super::status::{ApiError, ApiResult};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole exchange with the backend.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ANSWER: usize = 64 * 1024 * 1024;
const MAX_REQUEST: usize = 3 * 1024 * 1024;

/// A parsed service proxy request: the pod proxy's shape.
pub type ServiceTarget = ProxyTarget;

pub fn parse(segments: &[&str]) -> Option<ServiceTarget> {
    let mut target = super::proxy::parse_subresource("services", segments)?;
    // `:name:port` names no scheme.
    target.scheme = target.scheme.filter(|s| !s.is_empty());
    Some(target)
}

/// Where each Service port's traffic goes: `(namespace, service, port number)` → address.
#[derive(Default)]
pub struct ServiceBackends {
    backends: Mutex<HashMap<(String, String, u16), SocketAddr>>,
}

impl ServiceBackends {
    pub fn set(&self, namespace: &str, service: &str, port: u16, addr: SocketAddr) {
        self.backends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((namespace.into(), service.into(), port), addr);
    }

    fn get(&self, namespace: &str, service: &str, port: u16) -> Option<SocketAddr> {
        self.backends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(namespace.to_string(), service.to_string(), port))
            .copied()
    }
}

/// The Service's port a name or number (or nothing, with a single port) designates.
fn service_port(service: &Value, port: Option<&str>) -> Option<u16> {
    let ports = service.pointer("/spec/ports").and_then(Value::as_array)?;
    let number = |p: &Value| p.get("port")?.as_u64().and_then(|n| u16::try_from(n).ok());
    match port {
        None if ports.len() == 1 => number(&ports[0]),
        None => None,
        Some(given) => ports
            .iter()
            .find(|p| {
                str_at(p, "/name") == given || number(p).is_some_and(|n| n.to_string() == given)
            })
            .and_then(number),
    }
}

/// Forwards the request to the Service's backend.
pub async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    target: &ServiceTarget,
) -> ApiResult<Response<Body>> {
    let service = shared
        .store()
        .get(Resource::Services, &target.namespace, &target.name)?;
    let Some(port) = service_port(&service, target.port.as_deref()) else {
        return Err(ApiError::service_unavailable(format!(
            "no service port {:?} found for service \"{}\"",
            target.port.as_deref().unwrap_or(""),
            target.name
        )));
    };
    let Some(addr) = shared
        .service_backends
        .get(&target.namespace, &target.name, port)
    else {
        return Err(ApiError::service_unavailable(format!(
            "no endpoints available for service \"{}\"",
            target.name
        )));
    };
    let unreachable = |why: String| {
        ApiError::service_unavailable(format!("error trying to reach service: {why}"))
    };
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, MAX_REQUEST)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("could not read request body: {e}")))?
        .to_bytes();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("/{}?{query}", target.path),
        None => format!("/{}", target.path),
    };
    let mut forward = Request::builder()
        .method(parts.method.clone())
        .uri(path_and_query);
    for (name, value) in &parts.headers {
        let dropped = name == header::AUTHORIZATION
            || name == header::HOST
            || name == header::CONNECTION
            || name == header::TRANSFER_ENCODING
            || name.as_str().starts_with("impersonate-");
        if !dropped {
            forward = forward.header(name, value);
        }
    }
    let forward = forward
        .header(header::HOST, addr.to_string())
        .body(Full::new(body))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let https = target.scheme.as_deref() == Some("https");
    let exchange = async {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| unreachable(format!("dial tcp {addr}: i/o timeout")))?
            .map_err(|e| unreachable(format!("dial tcp {addr}: connect: {e}")))?;
        let response = if https {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(no_verify_config()));
            let name = ServerName::try_from(addr.ip().to_string())
                .map_err(|e| unreachable(e.to_string()))?;
            let tls = connector
                .connect(name, stream)
                .await
                .map_err(|e| unreachable(format!("tls: {e}")))?;
            send(TokioIo::new(tls), forward).await
        } else {
            send(TokioIo::new(stream), forward).await
        }
        .map_err(unreachable)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| unreachable(format!("reading the answer: {e}")))?
            .to_bytes();
        Ok::<_, ApiError>(Response::from_parts(parts, Body::Full(Full::new(body))))
    };
    tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| unreachable("the backend did not answer in time".into()))?
}

async fn send<T>(
    io: TokioIo<T>,
    request: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// TLS to a backend without verifying its certificate, as the real service proxy.
fn no_verify_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default versions"))
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn segments(path: &str) -> Vec<&str> {
        path.split('/').filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn the_forms_real_api_servers_accept() {
        let t = parse(&segments(
            "/api/v1/namespaces/palisade/services/https:palisade-recorder:https/proxy/v1/audit",
        ))
        .unwrap();
        assert_eq!(
            (
                t.scheme.as_deref(),
                t.name.as_str(),
                t.port.as_deref(),
                t.path.as_str()
            ),
            (
                Some("https"),
                "palisade-recorder",
                Some("https"),
                "v1/audit"
            )
        );
        let t = parse(&segments("/api/v1/namespaces/n/services/web/proxy")).unwrap();
        assert_eq!((t.scheme, t.port, t.path.as_str()), (None, None, ""));
        assert!(parse(&segments("/api/v1/namespaces/n/services/web")).is_none());
    }

    #[test]
    fn ports_by_name_number_or_the_only_one() {
        let service = json!({"spec": {"ports": [{"name": "https", "port": 443}]}});
        assert_eq!(service_port(&service, Some("https")), Some(443));
        assert_eq!(service_port(&service, Some("443")), Some(443));
        assert_eq!(service_port(&service, None), Some(443));
        assert_eq!(service_port(&service, Some("http")), None);
    }
}
