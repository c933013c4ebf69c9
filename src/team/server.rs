//! The recorder's API, served over HTTPS (`palisade record --serve ADDR`):
//!
//! * `GET /v1/revisions?kind=K&namespace=NS&name=N`: a policy's revisions as the export's JSON
//!   lines; without a policy every revision (`?since=RFC3339` keeps the newer ones);
//! * `GET /v1/audit[?kind&namespace&name]`: audit records as JSON lines (the `.audit.jsonl`
//!   format, uid included);
//! * `POST /v1/audit`: one audit record, appended with `actor` replaced by the authenticated
//!   user; idempotent by `uid` (a retry answers 200 with the stored record);
//! * `GET /healthz`: unauthenticated, says nothing.
//!
//! Nothing else writes: revisions come only from the recorder's own watch. Each request opens
//! its own SQLite connection on a blocking thread (WAL: readers never block the watch); appends
//! are serialised.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use k8s_openapi::jiff::Timestamp;
use rusqlite::OptionalExtension;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::auth::{Access, Authenticator, Refusal};
use super::{MAX_POST, RecorderRef, TOKEN_HEADER, percent_decode};
use crate::history::exchange::RevisionLine;
use crate::history::{Journal, PolicyKey, stamp};
use crate::rollback::audit::{self, AuditRecord};

/// The largest answer: a client asking for more should ask for one policy or `since`.
const MAX_ANSWER: usize = 16 * 1024 * 1024;
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

struct Shared {
    journal: PathBuf,
    auth: Authenticator,
    /// Appends one at a time: the uid check and the insert must not interleave.
    appending: Mutex<()>,
}

/// A running recorder API; dropping it (or [`RecorderServer::shutdown`]) stops it.
pub struct RecorderServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RecorderServer {
    /// Binds `addr` and serves the journal at `journal`, checking callers with `client`
    /// (which must be allowed to create TokenReviews and SubjectAccessReviews) against the
    /// Service `service`.
    pub async fn start(
        addr: SocketAddr,
        journal: PathBuf,
        client: kube::Client,
        service: RecorderRef,
    ) -> std::io::Result<RecorderServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut names = vec![
            "localhost".to_string(),
            format!("{}.{}.svc", service.name, service.namespace),
        ];
        if !addr.ip().is_unspecified() {
            names.push(addr.ip().to_string());
        }
        let acceptor = super::tls::self_signed(names)?;
        let shared = Arc::new(Shared {
            journal,
            auth: Authenticator::new(client, service),
            appending: Mutex::new(()),
        });
        let task = tokio::spawn(accept_loop(listener, acceptor, shared));
        Ok(RecorderServer { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for RecorderServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, tls: tokio_rustls::TlsAcceptor, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let tls = tls.clone();
                let shared = shared.clone();
                connections.spawn(async move {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await
                    else {
                        return;
                    };
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(code: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

/// A one-line error.
fn error(code: StatusCode, message: &str) -> Answer {
    answer(code, "text/plain; charset=utf-8", format!("{message}\n"))
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Answer, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let access = match (&method, path.as_str()) {
        (&Method::GET, "/healthz") => return Ok(answer(StatusCode::OK, "text/plain", "ok\n")),
        (&Method::GET, "/v1/revisions" | "/v1/audit") => Access::Read,
        (&Method::POST, "/v1/audit") => Access::Append,
        (_, "/v1/revisions" | "/v1/audit" | "/healthz") => {
            return Ok(error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} is not allowed on {path}"),
            ));
        }
        _ => {
            return Ok(error(
                StatusCode::NOT_FOUND,
                &format!("no such path: {path}"),
            ));
        }
    };
    let token = req
        .headers()
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes().to_vec());
    let caller = match shared.auth.check(token.as_deref(), access).await {
        Ok(caller) => caller,
        Err(refusal) => {
            let code = match refusal {
                Refusal::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
                Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            return Ok(error(code, &refusal.to_string()));
        }
    };
    let query = Query::parse(req.uri().query());
    let result = match (access, path.as_str()) {
        (Access::Read, "/v1/revisions") => revisions(&shared, query).await,
        (Access::Read, _) => audit_records(&shared, query).await,
        (Access::Append, _) => append(&shared, req, caller.username).await,
    };
    Ok(result.unwrap_or_else(|(code, message)| error(code, &message)))
}

type Handled = Result<Answer, (StatusCode, String)>;

/// The query's `kind`, `namespace`, `name` and `since`.
#[derive(Debug, Default)]
struct Query {
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    since: Option<String>,
    bad: Option<String>,
}

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let mut out = Query::default();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(value) = percent_decode(value) else {
                out.bad = Some(format!("the value of `{key}` is not percent-encoded UTF-8"));
                continue;
            };
            match key {
                "kind" => out.kind = Some(value),
                "namespace" => out.namespace = Some(value),
                "name" => out.name = Some(value),
                "since" => out.since = Some(value),
                _ => {}
            }
        }
        out
    }

    /// The policy asked for, if any; a half-named one is a 400.
    fn policy(&self) -> Result<Option<PolicyKey>, (StatusCode, String)> {
        if let Some(bad) = &self.bad {
            return Err((StatusCode::BAD_REQUEST, bad.clone()));
        }
        match (&self.kind, &self.namespace, &self.name) {
            (None, None, None) => Ok(None),
            (kind, namespace, Some(name)) => {
                let kind = kind.as_deref().unwrap_or("NetworkPolicy");
                PolicyKey::from_columns(kind, namespace.as_deref().unwrap_or(""), name)
                    .map(Some)
                    .ok_or_else(|| {
                        (
                            StatusCode::BAD_REQUEST,
                            format!("unknown policy kind `{kind}`"),
                        )
                    })
            }
            _ => Err((
                StatusCode::BAD_REQUEST,
                "name a policy with `name` (and `namespace`, `kind`), or nothing for all".into(),
            )),
        }
    }
}

/// Runs `work` on the journal, on a blocking thread.
async fn with_journal<T: Send + 'static>(
    shared: &Arc<Shared>,
    work: impl FnOnce(&mut Journal) -> Result<T, String> + Send + 'static,
) -> Result<T, (StatusCode, String)> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let _serialised = shared.appending.lock().unwrap_or_else(|p| p.into_inner());
        let mut journal = Journal::open(&shared.journal).map_err(|e| e.to_string())?;
        work(&mut journal)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("journal: {e}")))
}

fn json_lines<T: serde::Serialize>(items: &[T]) -> Handled {
    let mut out = Vec::new();
    for item in items {
        serde_json::to_writer(&mut out, item)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        out.push(b'\n');
        if out.len() > MAX_ANSWER {
            return Err((
                StatusCode::INSUFFICIENT_STORAGE,
                "the answer is too large: ask for one policy, or use ?since".into(),
            ));
        }
    }
    Ok(answer(StatusCode::OK, "application/x-ndjson", out))
}

async fn revisions(shared: &Arc<Shared>, query: Query) -> Handled {
    let policy = query.policy()?;
    let since = match &query.since {
        None => None,
        Some(text) => Some(stamp(text.parse::<Timestamp>().map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("since `{text}` is not an RFC 3339 time: {e}"),
            )
        })?)),
    };
    let lines = with_journal(shared, move |journal| {
        let keys = match policy {
            Some(key) => vec![key],
            None => journal.policies().map_err(|e| e.to_string())?,
        };
        let mut lines = Vec::new();
        for key in keys {
            for revision in journal.revisions_of(&key).map_err(|e| e.to_string())? {
                if since.as_ref().is_none_or(|s| revision.observed_at >= *s) {
                    lines.push(RevisionLine::of(&revision));
                }
            }
        }
        Ok(lines)
    })
    .await?;
    json_lines(&lines)
}

async fn audit_records(shared: &Arc<Shared>, query: Query) -> Handled {
    let policy = query.policy()?;
    let records = with_journal(shared, move |journal| {
        audit::records(journal, policy.as_ref()).map_err(|e| e.to_string())
    })
    .await?;
    json_lines(&records)
}

async fn append(shared: &Arc<Shared>, req: Request<Incoming>, actor: String) -> Handled {
    let body = Limited::new(req.into_body(), MAX_POST)
        .collect()
        .await
        .map_err(|e| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the audit record could not be read (at most {MAX_POST} bytes): {e}"),
            )
        })?
        .to_bytes();
    let mut record: AuditRecord = serde_json::from_slice(&body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("not an audit record: {e}")))?;
    let uid = record.uid.clone().unwrap_or_default();
    if uid.len() != 32 || !uid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err((
            StatusCode::BAD_REQUEST,
            "an audit record needs its uid (32 hex digits) so a retry is stored once".into(),
        ));
    }
    record.at = match record.at.parse::<Timestamp>() {
        Ok(at) => stamp(at),
        Err(e) => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("`at` is not an RFC 3339 time: {e}"),
            ));
        }
    };
    // The audit names who the API server says called, whatever the client claimed.
    record.actor = actor;
    record.id = None;
    record.journal_revision = None;
    let (stored, created) = with_journal(shared, move |journal| {
        if let Some(stored) = by_uid(journal, &uid)? {
            return Ok((stored, false));
        }
        audit::append(journal, &mut record, None).map_err(|e| e.to_string())?;
        Ok((record, true))
    })
    .await?;
    let body = serde_json::to_vec(&stored)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(answer(code, "application/json", body))
}

/// The stored record with `uid`, if any.
fn by_uid(journal: &Journal, uid: &str) -> Result<Option<AuditRecord>, String> {
    let id: Option<i64> = journal
        .connection()
        .query_row("SELECT id FROM audit WHERE uid = ?1", [uid], |r| r.get(0))
        .optional()
        .map_err(|e| e.to_string())?;
    let Some(id) = id else { return Ok(None) };
    Ok(audit::records(journal, None)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|r| r.id == Some(id)))
}
