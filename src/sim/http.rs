//! HTTP routing and request handling on top of the store.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::Value;
use tokio::sync::mpsc;

use super::ServerOptions;
use super::agent_driver::Agents;
use super::auth::{self, Tokens};
use super::faults::{Faults, Refusal};
use super::patch::PatchKind;
use super::query::Query;
use super::resource::{Resource, Served};
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, ApiResult};
use super::store::{ListQuery, Preconditions, Store, WriteOptions};
use super::table::{self, Shape};
use super::watch::{self, WatchRequest};
use super::{discovery, openapi, portforward, proxy, service_proxy};

/// Largest request body accepted; Kubernetes uses 3 MiB as well.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// State shared by all connections.
pub struct Shared {
    pub store: Mutex<Store>,
    pub options: ServerOptions,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The simulated CNI agents, served through the pod proxy; `None` when turned off.
    pub agents: Option<Arc<Agents>>,
    /// The admin and viewer bearer tokens (see `auth.rs`).
    pub tokens: Tokens,
    /// Injected faults (see `faults.rs`).
    pub faults: Faults,
    /// The kinds this server serves (the tier group and other projects' CRDs are optional).
    pub served: Served,
    /// What the simulated dataplane observed, for the simulated flow APIs.
    pub flow_feed: Arc<crate::sim::flow_feed::FlowFeed>,
    /// What answers a pod's port-forward (see `portforward.rs`).
    pub forward_targets: portforward::ForwardTargets,
    /// What answers a Service's proxy (see `service_proxy.rs`).
    pub service_backends: service_proxy::ServiceBackends,
}

impl Shared {
    /// Locks the store; a poisoned lock still holds consistent data since
    /// every store method validates before mutating.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forwards `namespace/pod:port` to `addr` from the next port-forward on.
    pub fn set_forward_target(&self, namespace: &str, pod: &str, port: u16, addr: SocketAddr) {
        self.forward_targets.set(namespace, pod, port, addr);
    }
}

/// Response bodies are either complete JSON documents or a streamed watch.
pub enum Body {
    Full(Full<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(full) => Pin::new(full).poll_frame(cx),
            Body::Stream(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }
}

pub fn json_response(code: u16, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::Full(Full::new(Bytes::from(bytes))));
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(err: &ApiError) -> Response<Body> {
    let mut response = json_response(err.code, &err.to_status());
    if let Some(seconds) = err.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    response
}

/// How long a list from a resourceVersion the store has not reached waits for it (a real API
/// server waits about 3 s for its cache before answering 504).
const TOO_LARGE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Entry point for every request; never fails at the HTTP level.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    // A stalled server (kill -STOP) answers nothing until it continues.
    shared.faults.unstalled().await;
    if let Some(refusal) = shared.faults.refusal() {
        let err = match refusal {
            Refusal::Throttled => ApiError::too_many_requests(),
            Refusal::Failed => ApiError::internal_error("injected fault"),
            Refusal::Forbidden => ApiError::forbidden(
                "forbidden: the API server is starting and its authorizer is not ready yet",
            ),
        };
        return Ok(error_response(&err));
    }
    Ok(match route(&shared, req).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    })
}

/// What a resource URL addresses.
struct Target {
    resource: Resource,
    namespace: Option<String>,
    name: Option<String>,
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> ApiResult<Response<Body>> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let impersonate = req
        .headers()
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok());
    let user = shared.tokens.authenticate(authorization, impersonate)?;
    let served = &shared.served;
    let discovery_doc = match segments.as_slice() {
        ["version"] => Some(discovery::version()),
        ["api"] => Some(discovery::core_versions()),
        ["apis"] => Some(discovery::group_list(served)),
        ["apis", group] => discovery::group(served, group),
        ["api", "v1"] => discovery::resource_list(served, "", "v1"),
        ["apis", group, version] => discovery::resource_list(served, group, version),
        ["openapi", "v3"] => Some(openapi::root(served)),
        ["openapi", "v3", gv @ ..] => openapi::group_version(served, &gv.join("/")),
        _ => None,
    };
    if let Some(doc) = discovery_doc {
        if req.method() != Method::GET {
            return Err(ApiError::method_not_allowed(req.method().as_str()));
        }
        return Ok(json_response(200, &doc));
    }
    match (req.method(), segments.as_slice()) {
        (
            &Method::POST,
            [
                "apis",
                "authorization.k8s.io",
                "v1",
                "selfsubjectaccessreviews",
            ],
        ) => {
            let protobuf = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.contains("protobuf"));
            let bytes = read_body(req).await?;
            let body = if protobuf {
                auth::access_review_from_protobuf(&bytes)?
            } else {
                parse_body(&bytes, "application/json")?
            };
            return Ok(json_response(201, &auth::access_review(user, &body)));
        }
        (
            &Method::POST,
            [
                "apis",
                "authorization.k8s.io",
                "v1",
                "selfsubjectrulesreviews",
            ],
        ) => {
            let protobuf = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.contains("protobuf"));
            let bytes = read_body(req).await?;
            let body = if protobuf {
                super::rbac_scoped::rules_review_from_protobuf(&bytes)?
            } else {
                parse_body(&bytes, "application/json")?
            };
            return Ok(json_response(
                201,
                &super::rbac_scoped::rules_review(user, &body),
            ));
        }
        (&Method::POST, ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"]) => {
            return Ok(json_response(201, &auth::self_review(user)));
        }
        (
            &Method::POST,
            [
                "apis",
                group @ (auth::AUTHENTICATION | auth::AUTHORIZATION),
                "v1",
                plural @ ("tokenreviews" | "subjectaccessreviews"),
            ],
        ) => {
            if !user.may("create", group) {
                return Err(auth::forbidden(
                    user,
                    "create",
                    &format!("{plural}.{group}"),
                    plural,
                    group,
                    None,
                    None,
                ));
            }
            let body = parse_body(&read_body(req).await?, "application/json")?;
            let review = if *plural == "tokenreviews" {
                auth::token_review(&shared.tokens, &body)
            } else {
                auth::subject_access_review(&body)
            };
            return Ok(json_response(201, &review));
        }
        _ => {}
    }
    if let Some(target) = service_proxy::parse(&segments) {
        // Reading through the proxy is `get` on services/proxy; anything else `create`, `update`...
        let verb = auth::verb(req.method(), true, false);
        if !user.allows(verb, "", "services/proxy", Some(&target.namespace)) {
            return Err(auth::forbidden(
                user,
                verb,
                "services/proxy",
                "services/proxy",
                "",
                Some(&target.namespace),
                Some(&target.name),
            ));
        }
        return service_proxy::handle(shared, req, &target).await;
    }
    if let Some((namespace, name)) = portforward::parse(&segments) {
        // Port-forward is `create` on pods/portforward, for a WebSocket GET as well (Kubernetes
        // 1.30 and later).
        if !user.allows("create", "", "pods/portforward", Some(namespace)) {
            return Err(auth::forbidden(
                user,
                "create",
                "pods",
                "pods/portforward",
                "",
                Some(namespace),
                Some(name),
            ));
        }
        let (namespace, name) = (namespace.to_string(), name.to_string());
        return portforward::handle(shared, req, &namespace, &name);
    }
    if let Some(target) = proxy::parse(&segments) {
        let verb = auth::verb(req.method(), true, false);
        if !user.allows(verb, "", "pods/proxy", Some(&target.namespace)) {
            return Err(auth::forbidden(
                user,
                verb,
                "pods/proxy",
                "pods/proxy",
                "",
                Some(&target.namespace),
                Some(&target.name),
            ));
        }
        return proxy::handle(shared, req.method(), &target);
    }
    let target = parse_target(served, &segments).ok_or_else(|| ApiError::path_not_found(&path))?;
    let query = Query::parse(req.uri().query())?;
    let method = req.method().clone();
    let verb = auth::verb(&method, target.name.is_some(), query.flag("watch"));
    if !user.allows(
        verb,
        target.resource.group(),
        target.resource.plural(),
        target.namespace.as_deref(),
    ) {
        return Err(auth::forbidden(
            user,
            verb,
            &target.resource.qualified(),
            target.resource.plural(),
            target.resource.group(),
            target.namespace.as_deref(),
            target.name.as_deref(),
        ));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let shape = Shape::from_accept(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
        target.resource,
    );
    match (target.name.clone(), method) {
        (None, Method::GET) if query.flag("watch") => start_watch(shared, &target, &query, shape),
        (None, Method::GET) => list(shared, &target, &query, shape).await,
        (None, Method::POST) if target.namespace.is_some() || !target.resource.namespaced() => {
            let body = parse_body(&read_body(req).await?, &content_type)?;
            let opts = write_options(&query)?;
            admission(shared).await;
            let ns = target.namespace.unwrap_or_default();
            let created = shared.store().create(target.resource, &ns, body, &opts)?;
            Ok(json_response(201, &created))
        }
        (Some(name), Method::GET) => {
            let ns = target.namespace.unwrap_or_default();
            let object = shared.store().get(target.resource, &ns, &name)?;
            Ok(json_response(
                200,
                &table::object(object, target.resource, shape),
            ))
        }
        (Some(name), Method::PUT) => {
            let body = parse_body(&read_body(req).await?, &content_type)?;
            let opts = write_options(&query)?;
            admission(shared).await;
            let ns = target.namespace.unwrap_or_default();
            let replaced = shared
                .store()
                .replace(target.resource, &ns, &name, body, &opts)?;
            Ok(json_response(200, &replaced))
        }
        (Some(name), Method::PATCH) => {
            let kind = PatchKind::from_content_type(&content_type)?;
            let body = read_body(req).await?;
            let opts = write_options(&query)?;
            admission(shared).await;
            let ns = target.namespace.unwrap_or_default();
            let mut store = shared.store();
            // Server-side apply creates a missing object: 201, as a real server.
            let existed = store.get(target.resource, &ns, &name).is_ok();
            let patched = store.patch(target.resource, &ns, &name, kind, &body, &opts)?;
            Ok(json_response(if existed { 200 } else { 201 }, &patched))
        }
        (Some(name), Method::DELETE) => {
            let body = read_body(req).await?;
            let mut opts = write_options(&query)?;
            let (preconditions, body_dry_run) = delete_options(&body, &content_type)?;
            opts.dry_run |= body_dry_run;
            admission(shared).await;
            let ns = target.namespace.unwrap_or_default();
            let deleted =
                shared
                    .store()
                    .delete(target.resource, &ns, &name, &preconditions, &opts)?;
            Ok(json_response(200, &deleted))
        }
        (_, method) => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// Admission: a write that passed authentication, authorization and decoding waits
/// `--admission-delay` before the store sees it, dry run or not, as behind a slow validating
/// webhook (a dry run runs admission too, see ../shared/REAL-API.md).
async fn admission(shared: &Shared) {
    let delay = shared.options.admission_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Maps `/api/v1/...` and `/apis/GROUP/VERSION/...` paths to a served resource target.
fn parse_target(served: &Served, segments: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segments {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let target = |plural: &str, namespace: Option<&str>, name: Option<&str>| {
        let resource = served.at_path(group, version, plural)?;
        if namespace.is_some() && !resource.namespaced() {
            return None;
        }
        Some(Target {
            resource,
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
        })
    };
    match rest {
        [plural] => target(plural, None, None),
        ["namespaces", ns, plural] => target(plural, Some(ns), None),
        ["namespaces", ns, plural, name] => target(plural, Some(ns), Some(name)),
        [plural, name] => {
            let t = target(plural, None, Some(name))?;
            // A namespaced object needs its namespace in the path.
            (!t.resource.namespaced()).then_some(t)
        }
        _ => None,
    }
}

fn write_options(query: &Query) -> ApiResult<WriteOptions> {
    Ok(WriteOptions {
        dry_run: query.dry_run()?,
        field_manager: query.field_manager(),
        operation: "Update",
        strict_fields: query.get("fieldValidation") == Some("Strict"),
    })
}

async fn read_body(req: Request<Incoming>) -> ApiResult<Bytes> {
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("could not read request body: {e}")))
}

/// Parses a JSON body, or YAML when the client says so.
fn parse_body(bytes: &[u8], content_type: &str) -> ApiResult<Value> {
    if content_type.contains("protobuf") {
        // `kubectl create namespace` sends protobuf and does not retry in JSON; other kinds
        // are refused as before.
        return match super::protobuf::unwrap(bytes) {
            Some((_, kind, raw)) if kind == "Namespace" => super::protobuf::namespace(raw)
                .ok_or_else(|| ApiError::bad_request("cannot decode the protobuf Namespace")),
            _ => Err(ApiError::undecodable_body(content_type)),
        };
    }
    if content_type.contains("cbor") {
        return Err(ApiError::undecodable_body(content_type));
    }
    let value: Value = if content_type.contains("yaml") {
        crate::yaml::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid YAML in request body: {e}")))?
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON in request body: {e}")))?
    };
    if !value.is_object() {
        return Err(ApiError::bad_request("request body must be an object"));
    }
    Ok(value)
}

/// Reads preconditions and dryRun from an optional DeleteOptions body.
fn delete_options(bytes: &[u8], content_type: &str) -> ApiResult<(Preconditions, bool)> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((Preconditions::default(), false));
    }
    let body = parse_body(bytes, content_type)?;
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let preconditions = Preconditions {
        resource_version: text("/preconditions/resourceVersion"),
        uid: text("/preconditions/uid"),
    };
    let dry_run = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|modes| modes.iter().any(|m| m == "All"));
    Ok((preconditions, dry_run))
}

fn selectors(target: &Target, query: &Query) -> ApiResult<(LabelSelector, FieldSelector)> {
    Ok((
        LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?,
        FieldSelector::parse(query.get("fieldSelector").unwrap_or(""), target.resource)?,
    ))
}

async fn list(
    shared: &Shared,
    target: &Target,
    query: &Query,
    shape: Shape,
) -> ApiResult<Response<Body>> {
    let (labels, fields) = selectors(target, query)?;
    let asked = query.number("resourceVersion")?.filter(|rv| *rv > 0);
    if let Some(asked) = asked
        && query.get("continue").is_none_or(str::is_empty)
    {
        wait_for_version(shared, asked).await?;
    }
    let list_query = ListQuery {
        namespace: target.namespace.as_deref(),
        labels,
        fields,
        limit: query.number("limit")?.map(|l| l as usize),
        continue_token: query.get("continue"),
    };
    let doc = shared.store().list(target.resource, &list_query)?;
    Ok(json_response(
        200,
        &table::list(doc, target.resource, shape),
    ))
}

/// Waits until the store reaches `asked`, at most `TOO_LARGE_WAIT`; then 504, as a real server.
async fn wait_for_version(shared: &Shared, asked: u64) -> ApiResult<()> {
    let deadline = tokio::time::Instant::now() + TOO_LARGE_WAIT;
    let mut changes = shared.store().subscribe();
    loop {
        let current = shared.store().resource_version();
        if asked <= current {
            return Ok(());
        }
        tokio::select! {
            _ = changes.recv() => {}
            _ = tokio::time::sleep_until(deadline) => {
                let current = shared.store().resource_version();
                return if asked <= current {
                    Ok(())
                } else {
                    Err(ApiError::too_large_resource_version(asked, current))
                };
            }
        }
    }
}

fn start_watch(
    shared: &Arc<Shared>,
    target: &Target,
    query: &Query,
    shape: Shape,
) -> ApiResult<Response<Body>> {
    let (labels, fields) = selectors(target, query)?;
    let request = WatchRequest {
        resource: target.resource,
        namespace: target.namespace.clone(),
        labels,
        fields,
        since: query.number("resourceVersion")?,
        bookmarks: query.flag("allowWatchBookmarks"),
        timeout: query.number("timeoutSeconds")?,
        shape,
    };
    Ok(watch::start(shared, request))
}

#[cfg(test)]
mod tests {
    use super::parse_body;

    #[test]
    fn bodies_it_cannot_decode_are_415_not_bad_json() {
        let err = parse_body(b"k8s\0\x0a", "application/vnd.kubernetes.protobuf").unwrap_err();
        assert_eq!(err.code, 415);
        assert!(err.message.contains("application/json"), "{}", err.message);
        let json = parse_body(br#"{"kind":"Namespace"}"#, "application/json").unwrap();
        assert_eq!(json["kind"], "Namespace");
        assert_eq!(
            parse_body(b"[1]", "application/json").unwrap_err().code,
            400
        );
    }
}
