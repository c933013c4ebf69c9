//! One GET with a deadline and a size bound: through the API server's pod proxy (kube `Client`)
//! or straight to a URL (hyper-util's client with rustls). Every failure is a one-line message
//! that names the HTTP status, the API server's `Status` message, the timeout or the size limit;
//! no request header (so no token) is ever part of it.
//!
//! Why hyper-util's legacy client and not reqwest: kube already builds it (with hyper-rustls and
//! ring), so the plain-URL path adds no crate to the build, and one GET needs nothing more.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Body;
use hyper::header::{ACCEPT, CONTENT_LENGTH};
use hyper::{Request, Response, StatusCode};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::discover::How;

/// What a metrics endpoint is asked for: the text format, which every agent serves.
const ACCEPT_TEXT: &str = "text/plain;version=0.0.4;q=1.0, */*;q=0.1";
/// Bytes of an error answer read for its message.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// Fetches metrics payloads. Cheap to clone (both clients are handles).
#[derive(Clone)]
pub struct Fetcher {
    kube: Option<kube::Client>,
    http: HttpClient<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    /// Per request, connecting and reading included.
    pub timeout: Duration,
    /// Largest payload accepted, in bytes.
    pub max_bytes: usize,
}

impl Fetcher {
    /// `kube` is needed for pod-proxy targets only.
    pub fn new(kube: Option<kube::Client>, timeout: Duration, max_bytes: usize) -> Fetcher {
        Fetcher {
            kube,
            http: http_client(),
            timeout,
            max_bytes,
        }
    }

    /// The payload of one target, as text, or why there is none.
    pub async fn fetch(&self, how: &How) -> Result<String, String> {
        let attempt = async {
            match how {
                How::Url(url) => self.get_url(url, ACCEPT_TEXT).await,
                How::PodProxy { .. } => {
                    let path = how.proxy_path().unwrap_or_default();
                    self.get_proxied(&path).await
                }
            }
        };
        let bytes = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result?,
            Err(_) => return Err(timeout_message(self.timeout)),
        };
        String::from_utf8(bytes.to_vec())
            .map_err(|_| "the answer is not UTF-8 text, so not a metrics payload".to_string())
    }

    /// GET of an absolute URL (no deadline: the caller sets one).
    pub async fn get_url(&self, url: &str, accept: &str) -> Result<Bytes, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
        let request = Request::get(uri)
            .header(ACCEPT, accept)
            .body(Empty::new())
            .map_err(|e| format!("bad request: {e}"))?;
        let response = self.http.request(request).await.map_err(|e| {
            let what = if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            // The top level only says "client error (Connect)": start at its cause.
            let detail = e.source().map_or_else(|| e.to_string(), source_chain);
            format!("{what}: {detail}")
        })?;
        self.read(response, false).await
    }

    async fn get_proxied(&self, path: &str) -> Result<Bytes, String> {
        let client = self
            .kube
            .as_ref()
            .ok_or("no cluster connection for the pod proxy")?;
        let request = Request::get(path)
            .header(ACCEPT, ACCEPT_TEXT)
            .body(kube::client::Body::empty())
            .map_err(|e| format!("bad request: {e}"))?;
        let response = client
            .send(request)
            .await
            .map_err(|e| format!("the API server's pod proxy failed: {}", source_chain(&e)))?;
        self.read(response, true).await
    }

    async fn read<B>(&self, response: Response<B>, proxied: bool) -> Result<Bytes, String>
    where
        B: Body,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let status = response.status();
        if !status.is_success() {
            let body = read_limited(response, ERROR_BODY_LIMIT)
                .await
                .unwrap_or_default();
            return Err(http_error(status, &String::from_utf8_lossy(&body), proxied));
        }
        read_limited(response, self.max_bytes).await
    }
}

/// The body, unless it is larger than `limit` bytes (by its Content-Length or as it arrives).
pub async fn read_limited<B>(response: Response<B>, limit: usize) -> Result<Bytes, String>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared
        && size > limit as u64
    {
        return Err(too_large(Some(size), limit));
    }
    match Limited::new(response.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large(None, limit)),
        Err(err) => Err(format!(
            "reading the answer failed: {}",
            source_chain(&*err)
        )),
    }
}

fn too_large(size: Option<u64>, limit: usize) -> String {
    match size {
        Some(size) => format!("payload is {size} bytes, over the {limit}-byte limit"),
        None => format!("payload is over the {limit}-byte limit"),
    }
}

/// `no answer within 3 s`
pub fn timeout_message(timeout: Duration) -> String {
    let secs = timeout.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("no answer within {secs} s")
    } else {
        format!("no answer within {secs:.1} s")
    }
}

/// `HTTP 403 Forbidden: <the API server's Status message>` plus a hint for the usual causes; for
/// answers that are not a Kubernetes `Status`, the first line of the body (bounded).
pub fn http_error(status: StatusCode, body: &str, proxied: bool) -> String {
    let mut message = format!("HTTP {status}");
    let detail = status_message(body).or_else(|| {
        let line = body.lines().map(str::trim).find(|l| !l.is_empty())?;
        Some(bounded(line, 200))
    });
    if let Some(detail) = detail {
        message.push_str(": ");
        message.push_str(&detail);
    }
    if proxied {
        let hint = match status.as_u16() {
            401 | 403 => Some("the console's credentials need `get` on `pods/proxy`"),
            404 => Some("no such pod, or the agent does not serve this path"),
            502 | 503 => Some("the API server could not reach the agent's metrics port"),
            _ => None,
        };
        if let Some(hint) = hint {
            message.push_str(&format!(" ({hint})"));
        }
    }
    message
}

/// The `message` of a Kubernetes `Status` body (the reason when the message is empty), or the
/// `error` of a Prometheus API error body.
fn status_message(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Status {
        kind: Option<String>,
        #[serde(default)]
        message: String,
        #[serde(default)]
        reason: String,
        status: Option<serde_json::Value>,
        #[serde(rename = "errorType")]
        error_type: Option<String>,
        error: Option<String>,
    }
    let status: Status = serde_json::from_str(body).ok()?;
    let text = if status.kind.as_deref() == Some("Status") {
        if status.message.is_empty() {
            status.reason
        } else {
            status.message
        }
    } else if status.status.as_ref().and_then(|s| s.as_str()) == Some("error") {
        match (status.error_type, status.error) {
            (Some(t), Some(e)) => format!("{t}: {e}"),
            (_, Some(e)) => e,
            _ => return None,
        }
    } else {
        return None;
    };
    (!text.is_empty()).then(|| bounded(&text, 300))
}

fn bounded(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{cut}…")
}

/// An error and its causes, `a: b: c`, skipping a cause whose text its parent already shows.
pub fn source_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut next = err.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

/// HTTP and HTTPS (native root certificates, ring); without any root certificate on the machine,
/// HTTPS URLs fail with a certificate error rather than the console failing to start.
fn http_client() -> HttpClient<HttpsConnector<HttpConnector>, Empty<Bytes>> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| match builder.clone().with_native_roots() {
            Ok(with_roots) => with_roots.with_no_client_auth(),
            Err(_) => builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        });
    let connector = match tls {
        Ok(tls) => hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build(),
        // ring supports the default versions; this arm only keeps start-up infallible.
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(
                rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .expect("ring supports TLS 1.3")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            )
            .https_or_http()
            .enable_http1()
            .build(),
    };
    HttpClient::builder(TokioExecutor::new()).build(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_the_status_message_and_the_permission() {
        let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"cilium-x\" is forbidden: User \"dev\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"kube-system\"","reason":"Forbidden","code":403}"#;
        let m = http_error(StatusCode::FORBIDDEN, body, true);
        assert!(
            m.starts_with("HTTP 403 Forbidden: pods \"cilium-x\" is forbidden"),
            "{m}"
        );
        assert!(
            m.ends_with("(the console's credentials need `get` on `pods/proxy`)"),
            "{m}"
        );
    }

    #[test]
    fn not_found_and_unavailable_through_the_proxy() {
        let body = r#"{"kind":"Status","status":"Failure","message":"pods \"gone\" not found","reason":"NotFound","code":404}"#;
        assert_eq!(
            http_error(StatusCode::NOT_FOUND, body, true),
            "HTTP 404 Not Found: pods \"gone\" not found (no such pod, or the agent does not serve this path)"
        );
        let body = r#"{"kind":"Status","status":"Failure","message":"error trying to reach service: dial tcp 10.0.0.5:9962: connect: connection refused","reason":"ServiceUnavailable","code":503}"#;
        let m = http_error(StatusCode::SERVICE_UNAVAILABLE, body, true);
        assert!(
            m.starts_with("HTTP 503 Service Unavailable: error trying to reach service"),
            "{m}"
        );
        assert!(
            m.contains("could not reach the agent's metrics port"),
            "{m}"
        );
    }

    #[test]
    fn plain_bodies_give_their_first_line_bounded() {
        assert_eq!(
            http_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "\n  boom\nstack...",
                false
            ),
            "HTTP 500 Internal Server Error: boom"
        );
        assert_eq!(
            http_error(StatusCode::BAD_GATEWAY, "", false),
            "HTTP 502 Bad Gateway"
        );
        let long = "x".repeat(1000);
        let m = http_error(StatusCode::INTERNAL_SERVER_ERROR, &long, false);
        assert!(m.chars().count() < 240 && m.ends_with('…'), "{m}");
        // A Status with only a reason, and JSON that is not a Status.
        assert_eq!(
            http_error(
                StatusCode::FORBIDDEN,
                r#"{"kind":"Status","reason":"Forbidden"}"#,
                false
            ),
            "HTTP 403 Forbidden: Forbidden"
        );
    }

    #[test]
    fn timeouts_and_limits_read_plainly() {
        assert_eq!(
            timeout_message(Duration::from_secs(3)),
            "no answer within 3 s"
        );
        assert_eq!(
            timeout_message(Duration::from_millis(1500)),
            "no answer within 1.5 s"
        );
        assert_eq!(
            too_large(Some(20), 10),
            "payload is 20 bytes, over the 10-byte limit"
        );
        assert_eq!(too_large(None, 10), "payload is over the 10-byte limit");
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let response = Response::new(http_body_util::Full::new(Bytes::from(vec![b'a'; 100])));
        assert_eq!(
            read_limited(response, 10).await.unwrap_err(),
            "payload is over the 10-byte limit"
        );
        let mut response = Response::new(http_body_util::Full::new(Bytes::from_static(b"ok")));
        response.headers_mut().insert(
            CONTENT_LENGTH,
            hyper::header::HeaderValue::from_static("5000"),
        );
        assert_eq!(
            read_limited(response, 10).await.unwrap_err(),
            "payload is 5000 bytes, over the 10-byte limit"
        );
    }
}
