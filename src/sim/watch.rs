//! Watch streams: replay retained events, then follow live ones, one JSON event per line.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::{Response, header};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::faults::Signal;
use super::http::{Body, Shared};
use super::resource::Resource;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Event, EventKind, WatchStart};
use super::table::{self, Shape};

/// A parsed watch request.
pub struct WatchRequest {
    pub resource: Resource,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub since: Option<u64>,
    pub bookmarks: bool,
    pub timeout: Option<u64>,
    /// `as=PartialObjectMetadata`: events carry the objects' metadata only; `as=Table`: a
    /// one-row Table each (`kubectl get -w`).
    pub shape: Shape,
}

impl WatchRequest {
    fn matches(&self, object: &Value) -> bool {
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        });
        ns_ok && self.labels.matches(object) && self.fields.matches(object)
    }

    /// The event type this watcher sees, if any: objects moving in or out of
    /// the selection appear as ADDED / DELETED, as with the real API server.
    fn translate(&self, event: &Event) -> Option<&'static str> {
        if event.resource != self.resource {
            return None;
        }
        let now = self.matches(&event.object);
        match event.kind {
            EventKind::Modified => {
                let before = event.old.as_ref().is_some_and(|o| self.matches(o));
                match (before, now) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                }
            }
            kind => now.then_some(kind.as_str()),
        }
    }

    fn event(&self, kind: &str, object: &Value) -> Bytes {
        match self.shape {
            Shape::Full => line(kind, object),
            shape => line(kind, &table::object(object.clone(), self.resource, shape)),
        }
    }

    fn bookmark(&self, rv: u64) -> Bytes {
        line(
            "BOOKMARK",
            &json!({
                "kind": self.resource.kind(),
                "apiVersion": self.resource.api_version(),
                "metadata": {"resourceVersion": rv.to_string()},
            }),
        )
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn error_line(err: &ApiError) -> Bytes {
    line("ERROR", &err.to_status())
}

fn streaming_response(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::Stream(rx));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Starts a watch. Too-old versions get HTTP 200 with one ERROR event, like the
/// real API server; clients such as kube-rs' watcher relist on it.
pub fn start(shared: &Arc<Shared>, request: WatchRequest) -> Response<Body> {
    let started = shared.store().watch(request.resource, request.since);
    let (tx, rx) = mpsc::channel(64);
    match started {
        Err(err) => {
            // The channel has room, so this cannot fail; the stream ends after it.
            let _ = tx.try_send(error_line(&err));
        }
        Ok(start) => {
            tokio::spawn(run(request, start, tx, shared.clone()));
        }
    }
    streaming_response(rx)
}

/// Feeds one watch stream until timeout, client disconnect, server shutdown or a fault.
async fn run(
    request: WatchRequest,
    start: WatchStart,
    tx: mpsc::Sender<Bytes>,
    shared: Arc<Shared>,
) {
    let WatchStart {
        initial,
        mut rx,
        rv,
        future,
    } = start;
    let mut shutdown = shared.shutdown.clone();
    let mut signals = shared.faults.subscribe();
    let bookmark_interval = shared.options.bookmark_interval;
    let deadline = request
        .timeout
        .filter(|t| *t > 0)
        .map(|t| tokio::time::Instant::now() + Duration::from_secs(t));
    if future {
        // A real API server keeps such a watch open and says nothing, not even bookmarks.
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tx.closed() => {}
            _ = sleep_until(deadline) => {}
        }
        return;
    }
    for event in &initial {
        if let Some(kind) = request.translate(event)
            && tx.send(request.event(kind, &event.object)).await.is_err()
        {
            return;
        }
    }
    let mut last_rv = rv;
    if request.bookmarks && tx.send(request.bookmark(last_rv)).await.is_err() {
        return;
    }
    let mut ticker = tokio::time::interval(bookmark_interval.max(Duration::from_millis(10)));
    ticker.tick().await; // the first tick is immediate
    loop {
        if *shutdown.borrow() {
            return;
        }
        let out = tokio::select! {
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
            _ = sleep_until(deadline) => return,
            changed = signals.changed() => {
                if changed.is_err() {
                    return;
                }
                let signal = signals.borrow_and_update().1;
                match signal {
                    Signal::Calm => continue,
                    // The accept loop resets the connection: a cut, not a clean end of stream.
                    Signal::Drop => {
                        tx.closed().await;
                        return;
                    }
                    Signal::Expire => {
                        let expired = ApiError::expired("too old resource version: the history was compacted");
                        let _ = tx.send(error_line(&expired)).await;
                        return;
                    }
                    // Shutting down: open streams stay silent for a while, then close.
                    Signal::Restart { hang } => {
                        tokio::select! {
                            _ = tokio::time::sleep(hang) => {}
                            _ = tx.closed() => {}
                            _ = shutdown.changed() => {}
                        }
                        return;
                    }
                }
            }
            _ = ticker.tick(), if request.bookmarks => request.bookmark(last_rv),
            received = rx.recv() => match received {
                Ok(event) => {
                    if event.rv <= last_rv {
                        continue;
                    }
                    last_rv = event.rv;
                    match request.translate(&event) {
                        Some(kind) => request.event(kind, &event.object),
                        None => continue,
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // We missed events; make the client relist instead of guessing.
                    let _ = tx.send(error_line(&ApiError::expired("watch fell behind; too old resource version"))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        shared.faults.unstalled().await;
        if tx.send(out).await.is_err() {
            return;
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
