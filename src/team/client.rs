//! The client side of the team's history: the recorder through the API server's service proxy.
//!
//! The API server authenticates the caller with `Authorization` and removes it before
//! proxying, so the team client is a kube client with one more layer, under kube-rs' own auth
//! layer: it copies the `Authorization` header that layer set (static token, token file, exec
//! plugin, OIDC: refreshed as kube-rs refreshes them) into `X-Palisade-Authorization`, and only
//! for requests to the recorder's proxy path. A kubeconfig user with a client certificate and no
//! token has no header to copy: the recorder cannot tell who calls, so appends are refused here
//! with a clear message.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, Request, StatusCode, header};
use kube::client::{Body, ConfigExt};
use kube::{Client, Config};

use super::{MAX_POST, RecorderRef, TOKEN_HEADER, percent_encode};
use crate::history::PolicyKey;
use crate::rollback::audit::AuditRecord;

/// Every call to the recorder gives up after this.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// The largest answer read (the recorder bounds its own at 16 MiB).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Why the team's recorder could not answer; each says what to do in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    #[error(
        "no team recorder: the Service {0} does not exist (deploy it, see docs/history.md, or pass --no-recorder)"
    )]
    NotFound(RecorderRef),
    #[error("the team's recorder refused: {0}")]
    Forbidden(String),
    #[error("the team's recorder {recorder} is unreachable: {why}")]
    Unreachable { recorder: RecorderRef, why: String },
    #[error("the team's recorder cannot tell who you are: {0}")]
    Unauthenticated(String),
    #[error(
        "the team's recorder needs a bearer token to know who you are; this kubeconfig user \
         authenticates with a client certificate only, so the team's audit was not written \
         (it is in the local audit)"
    )]
    NoToken,
    #[error("the team's recorder answered badly: {0}")]
    Failed(String),
}

/// A client for the recorder behind `recorder`.
#[derive(Clone)]
pub struct TeamClient {
    client: Client,
    recorder: RecorderRef,
    has_token: bool,
}

/// Whether a kubeconfig user sends a bearer token (a client certificate alone does not).
pub fn sends_token(config: &Config) -> bool {
    let auth = &config.auth_info;
    auth.token.is_some()
        || auth.token_file.is_some()
        || auth.exec.is_some()
        || auth.auth_provider.is_some()
}

/// A kube client whose requests to a Service proxy path also carry the caller's token in
/// `X-Palisade-Authorization`. Builds like kube-rs' own (may run an exec plugin: call it where
/// blocking is allowed).
pub fn build_team_client(config: &Config) -> kube::Result<Client> {
    let https = config.rustls_https_connector()?;
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_request(copy_token)
        .map_err(tower::BoxError::from)
        .service(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https),
        );
    Ok(Client::new(service, config.default_namespace.clone()))
}

/// Copies `Authorization` into `X-Palisade-Authorization` on a service proxy request.
fn copy_token(mut req: Request<Body>) -> Request<Body> {
    if is_service_proxy(req.uri().path())
        && let Some(value) = req.headers().get(header::AUTHORIZATION).cloned()
    {
        req.headers_mut().insert(TOKEN_HEADER, value);
    }
    req
}

/// `/api/v1/namespaces/NS/services/NAME/proxy...` (after the base URI's own path, if any).
fn is_service_proxy(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments
        .windows(7)
        .any(|w| matches!(w, ["api", "v1", "namespaces", _, "services", _, "proxy"]))
}

impl TeamClient {
    pub fn new(client: Client, recorder: RecorderRef, has_token: bool) -> TeamClient {
        TeamClient {
            client,
            recorder,
            has_token,
        }
    }

    pub fn recorder(&self) -> &RecorderRef {
        &self.recorder
    }

    /// A policy's revisions on the recorder, as the export's JSON lines.
    pub async fn revisions(&self, key: &PolicyKey) -> Result<Bytes, TeamError> {
        self.get(&format!("v1/revisions?{}", policy_query(key)))
            .await
    }

    /// A policy's audit records on the recorder.
    pub async fn audit(&self, key: &PolicyKey) -> Result<Vec<AuditRecord>, TeamError> {
        let body = self.get(&format!("v1/audit?{}", policy_query(key))).await?;
        audit_lines(&body)
    }

    /// Every audit record on the recorder (e.g. for the GitOps suspensions anyone made).
    pub async fn audit_all(&self) -> Result<Vec<AuditRecord>, TeamError> {
        let body = self.get("v1/audit").await?;
        audit_lines(&body)
    }

    /// Appends `record` to the team's audit; the record as stored (its actor the user the API
    /// server named).
    pub async fn append(&self, record: &AuditRecord) -> Result<AuditRecord, TeamError> {
        if !self.has_token {
            return Err(TeamError::NoToken);
        }
        let body = serde_json::to_vec(record).map_err(|e| TeamError::Failed(e.to_string()))?;
        if body.len() > MAX_POST {
            return Err(TeamError::Failed(format!(
                "the audit record is {} bytes, more than the recorder takes ({MAX_POST})",
                body.len()
            )));
        }
        let answer = self.call(Method::POST, "v1/audit", body).await?;
        serde_json::from_slice(&answer)
            .map_err(|e| TeamError::Failed(format!("the stored record is unreadable: {e}")))
    }

    async fn get(&self, path: &str) -> Result<Bytes, TeamError> {
        self.call(Method::GET, path, Vec::new()).await
    }

    async fn call(&self, method: Method, path: &str, body: Vec<u8>) -> Result<Bytes, TeamError> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(self.recorder.proxy_path(path));
        if method == Method::POST {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(body)
            .map_err(|e| TeamError::Failed(e.to_string()))?;
        let unreachable = |why: String| TeamError::Unreachable {
            recorder: self.recorder.clone(),
            why,
        };
        let exchange = async {
            let response = self
                .client
                .send(request.map(Body::from))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| unreachable(format!("the answer broke off: {e}")))?
                .to_bytes();
            Ok::<_, TeamError>((status, body))
        };
        let (status, body) = tokio::time::timeout(DEADLINE, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", DEADLINE.as_secs())))??;
        if status.is_success() {
            return Ok(body);
        }
        Err(self.refusal(status, method.as_str(), &body))
    }

    /// What a failed answer means: the API server's Status (no Service, RBAC, no backend), or
    /// the recorder's one-line refusal.
    fn refusal(&self, status: StatusCode, method: &str, body: &[u8]) -> TeamError {
        let api_status: Option<kube::core::Status> = serde_json::from_slice(body).ok();
        let message = match &api_status {
            Some(s) => s.message.clone(),
            None => String::from_utf8_lossy(body).trim().to_string(),
        };
        let verb = if method == "POST" { "create" } else { "get" };
        match (status.as_u16(), api_status.is_some()) {
            (404, true) => TeamError::NotFound(self.recorder.clone()),
            (403, true) => TeamError::Forbidden(format!(
                "{message} (needs `{verb}` on services/proxy \"{}\" in namespace \"{}\", see \
                 docs/history.md)",
                self.recorder.name, self.recorder.namespace
            )),
            (403, false) => TeamError::Forbidden(message),
            (401, _) => TeamError::Unauthenticated(message),
            (502..=504, _) => TeamError::Unreachable {
                recorder: self.recorder.clone(),
                why: message,
            },
            _ => TeamError::Failed(format!("{} {message}", status.as_u16())),
        }
    }
}

/// The recorder's JSON lines of audit records.
fn audit_lines(body: &[u8]) -> Result<Vec<AuditRecord>, TeamError> {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| TeamError::Failed(format!("an audit line is not a record: {e}")))
        })
        .collect()
}

fn policy_query(key: &PolicyKey) -> String {
    format!(
        "kind={}&namespace={}&name={}",
        percent_encode(key.kind().as_str()),
        percent_encode(key.namespace()),
        percent_encode(key.name())
    )
}

impl TeamClient {
    /// The team client of `connection` for `choice` (none when the recorder is off).
    pub fn of(
        connection: &crate::cluster::Connection,
        choice: &super::RecorderChoice,
    ) -> Option<TeamClient> {
        match choice {
            super::RecorderChoice::Off => None,
            super::RecorderChoice::Service(recorder) => Some(TeamClient::new(
                connection.team_client.clone(),
                recorder.clone(),
                connection.sends_token,
            )),
        }
    }

    /// Appends `record` to the team's audit and says on stderr how it went (a failure is
    /// reported, never fatal: the local audit has the record).
    pub async fn append_reporting(&self, record: &AuditRecord) {
        match self.append(record).await {
            Ok(stored) => eprintln!(
                "team audit: recorded on {} as #{} (by {})",
                self.recorder,
                stored.id.unwrap_or_default(),
                stored.actor
            ),
            Err(err) => eprintln!("palisade: team audit not written: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_copied_only_to_service_proxy_paths() {
        let request = |path: &str| {
            let req = Request::builder()
                .uri(format!("https://h{path}"))
                .header(header::AUTHORIZATION, "Bearer t")
                .body(Body::empty())
                .unwrap();
            copy_token(req).headers().get(TOKEN_HEADER).cloned()
        };
        assert_eq!(
            request("/api/v1/namespaces/p/services/https:r:https/proxy/v1/audit").unwrap(),
            "Bearer t"
        );
        assert_eq!(
            request("/k8s/clusters/c/api/v1/namespaces/p/services/r/proxy/").unwrap(),
            "Bearer t"
        );
        assert!(request("/api/v1/namespaces/p/pods/x/proxy/metrics").is_none());
        assert!(request("/api/v1/namespaces/p/services/r").is_none());
        assert!(request("/apis/networking.k8s.io/v1/networkpolicies").is_none());
    }
}
