//! One kind's list + watch loop: list (paginated), then watch from the list's resourceVersion
//! with bookmarks, resume after errors from the newest resourceVersion seen, list again after
//! `410 Gone` or when the liveness probe says the watch cannot catch up (see `liveness.rs`).
//!
//! kube-rs' `watcher` does most of this, but hides bookmarks and never hears of a watch that is
//! open but silent, so it cannot tell a quiet watch from a dead one: this loop owns those
//! decisions and reports them as `WatchEvent::Health`.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, WatchEvent as ApiEvent, WatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::liveness::{Backoff, Probe, Timing, Verdict, judge};
use crate::model::{ClusterObject, Health, ResourceKind, WatchEvent};

/// Where events go; `false` means nobody listens any more and the watcher stops.
pub type Sink = Arc<dyn Fn(ResourceKind, WatchEvent) -> bool + Send + Sync>;

/// Page size of the lists: large enough to be quick, small enough to bound memory spikes.
pub const PAGE_SIZE: u32 = 500;

/// What to watch and how to turn it into the model.
pub struct KindWatch<K> {
    pub api: Api<K>,
    pub kind: ResourceKind,
    /// Drops what the console never reads, before conversion.
    pub trim: fn(&mut K),
    pub convert: fn(&K) -> ClusterObject,
}

/// How a watch ended.
enum Next {
    /// Watch again from this resourceVersion.
    Resume(String),
    Relist,
    /// The console is gone.
    Stop,
}

/// Runs until the sink reports that nobody listens (or the task is aborted).
pub async fn run<K>(watch: KindWatch<K>, sink: Sink, timing: Timing)
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let mut reporter = Reporter::new(watch.kind, sink);
    let mut backoff = Backoff::new(&timing);
    let mut resume: Option<String> = None;
    loop {
        let from = match resume.take() {
            Some(rv) => rv,
            None => match relist(&watch, &timing, &mut reporter).await {
                Some(Ok(rv)) => {
                    backoff.reset();
                    rv
                }
                Some(Err(failure)) => {
                    reporter.failed(failure);
                    sleep(backoff.next_delay()).await;
                    continue;
                }
                None => return,
            },
        };
        match watch_from(&watch, &timing, from, &mut reporter, &mut backoff).await {
            Next::Resume(rv) => resume = Some(rv),
            Next::Relist => resume = None,
            Next::Stop => return,
        }
        if reporter.gone {
            return;
        }
    }
}

/// Lists every object in pages and hands them over in one `Listed`. `None`: nobody listens.
async fn relist<K>(
    watch: &KindWatch<K>,
    timing: &Timing,
    reporter: &mut Reporter,
) -> Option<Result<String, Failure>>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    if !reporter.listing {
        reporter.listing = true;
        if !reporter.send(WatchEvent::Restarted) {
            return None;
        }
    }
    let mut objects = Vec::new();
    let mut token: Option<String> = None;
    let rv = loop {
        let params = ListParams {
            limit: Some(PAGE_SIZE),
            continue_token: token.take(),
            ..ListParams::default()
        };
        let page = match timeout(timing.request_deadline, watch.api.list(&params)).await {
            Err(_) => {
                let error = no_answer("the list", timing.request_deadline);
                return Some(Err(Failure::other(error)));
            }
            Ok(Err(err)) => return Some(Err(Failure::of("list failed", &err))),
            Ok(Ok(page)) => page,
        };
        // Converted page by page, so the API objects of a large list never exist all at once.
        for mut object in page.items {
            (watch.trim)(&mut object);
            objects.push((watch.convert)(&object));
        }
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(next) => {
                let remaining = page.metadata.remaining_item_count;
                let listed = objects.len();
                let progress = WatchEvent::Listing {
                    listed,
                    remaining: remaining.and_then(|n| u64::try_from(n).ok()),
                };
                if !reporter.send(progress) {
                    return None;
                }
                token = Some(next);
            }
            None => break page.metadata.resource_version.unwrap_or_default(),
        }
    };
    if rv.is_empty() {
        return Some(Err(Failure::other(
            "the list carried no resourceVersion".into(),
        )));
    }
    reporter.listing = false;
    reporter.trouble_since = None;
    reporter.shown = Shown::Live;
    reporter.send(WatchEvent::Listed(objects)).then_some(Ok(rv))
}

/// One watch, from `from`, until it ends, fails, or the probe calls for something else.
async fn watch_from<K>(
    watch: &KindWatch<K>,
    timing: &Timing,
    from: String,
    reporter: &mut Reporter,
    backoff: &mut Backoff,
) -> Next
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let params = WatchParams::default().timeout(timing.watch_timeout_secs);
    let opened = timeout(timing.request_deadline, watch.api.watch(&params, &from)).await;
    let mut stream = match opened {
        Ok(Ok(stream)) => stream.boxed(),
        Ok(Err(err)) if is_gone(&err) => return Next::Relist,
        failed => {
            let failure = match failed {
                Ok(Err(err)) => Failure::of("watch failed", &err),
                _ => Failure::other(no_answer("the watch", timing.request_deadline)),
            };
            return retry_later(reporter, backoff, failure, from).await;
        }
    };
    // The server took the watch: the kind is live until the stream or the probe says otherwise.
    if !reporter.live() {
        return Next::Stop;
    }
    let mut seen = from;
    let mut heard = Instant::now();
    let mut probe: Option<BoxFuture<'static, Probe>> = None;
    let mut probe_started = Instant::now();
    let mut next_probe = Instant::now() + timing.probe_every;
    loop {
        tokio::select! {
            item = stream.next() => {
                let event = match item {
                    None => return Next::Resume(seen), // the server's timeout: resume at once
                    Some(Err(err)) => {
                        let failure = Failure::other(format!("watch broke: {err}"));
                        return retry_later(reporter, backoff, failure, seen).await;
                    }
                    Some(Ok(ApiEvent::Error(status))) if status.code == 410 => return Next::Relist,
                    Some(Ok(ApiEvent::Error(status))) => {
                        let failure = Failure {
                            error: format!("watch error {}: {}", status.code, status.message),
                            forbidden: status.code == 403,
                        };
                        return retry_later(reporter, backoff, failure, seen).await;
                    }
                    Some(Ok(event)) => event,
                };
                heard = Instant::now();
                backoff.reset();
                let news = match event {
                    ApiEvent::Added(mut object) | ApiEvent::Modified(mut object) => {
                        seen = object.resource_version().unwrap_or(seen);
                        (watch.trim)(&mut object);
                        Some(WatchEvent::Applied(Box::new((watch.convert)(&object))))
                    }
                    ApiEvent::Deleted(object) => {
                        seen = object.resource_version().unwrap_or(seen);
                        Some(WatchEvent::Deleted {
                            namespace: object.namespace(),
                            name: object.name_any(),
                        })
                    }
                    ApiEvent::Bookmark(bookmark) => {
                        seen = bookmark.metadata.resource_version;
                        None
                    }
                    ApiEvent::Error(_) => None, // handled above
                };
                if let Some(news) = news && !reporter.send(news) {
                    return Next::Stop;
                }
            }
            answer = async { probe.as_mut().expect("guarded by is_some").await },
                if probe.is_some() =>
            {
                probe = None;
                match judge(&answer, &seen, heard.elapsed(), probe_started.elapsed(), timing) {
                    Verdict::Healthy => {}
                    Verdict::Stale(reason) => {
                        reporter.stale_since(heard, reason);
                        return Next::Resume(seen);
                    }
                    Verdict::Relist(_) => return Next::Relist,
                }
            }
            _ = sleep_until(next_probe), if probe.is_none() => {
                probe = Some(probe_once(watch.api.clone(), timing.probe_deadline).boxed());
                probe_started = Instant::now();
                next_probe = Instant::now() + timing.probe_every;
            }
        }
    }
}

/// Reports the failure, waits out the backoff, and resumes from `from`.
async fn retry_later(
    reporter: &mut Reporter,
    backoff: &mut Backoff,
    failure: Failure,
    from: String,
) -> Next {
    if !reporter.failed(failure) {
        return Next::Stop;
    }
    sleep(backoff.next_delay()).await;
    Next::Resume(from)
}

/// Lists one object's metadata: the cheapest request that answers the collection's current
/// resourceVersion (no resourceVersion asked: a consistent read).
async fn probe_once<K>(api: Api<K>, deadline: Duration) -> Probe
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    match timeout(deadline, api.list_metadata(&ListParams::default().limit(1))).await {
        Err(_) => Probe::Failed(format!("no answer within {} s", deadline.as_secs_f32())),
        Ok(Err(err)) => Probe::Failed(describe(&err)),
        Ok(Ok(list)) => Probe::Answered(list.metadata.resource_version.unwrap_or_default()),
    }
}

/// Why a list or watch failed; a 403 is told apart (the user may not read the kind), though it
/// is retried all the same.
struct Failure {
    error: String,
    forbidden: bool,
}

impl Failure {
    fn of(what: &str, err: &kube::Error) -> Failure {
        Failure {
            error: format!("{what}: {}", describe(err)),
            forbidden: is_forbidden(err),
        }
    }

    fn other(error: String) -> Failure {
        Failure {
            error,
            forbidden: false,
        }
    }
}

pub(super) fn is_forbidden(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 403)
}

fn is_gone(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 410)
}

/// A one-line reason for the status bar.
pub(super) fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            format!("{} {}: {}", status.code, status.reason, status.message)
        }
        other => other.to_string(),
    }
}

pub(super) fn no_answer(what: &str, deadline: Duration) -> String {
    format!("{what} got no answer within {} s", deadline.as_secs_f32())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Live,
    Trouble,
}

/// Sends events and health changes, each health state once, with the time the trouble began.
struct Reporter {
    kind: ResourceKind,
    sink: Sink,
    shown: Shown,
    /// A relist is under way (`Restarted` was sent, `Listed` not yet).
    listing: bool,
    /// When the current trouble began (the last moment something was heard, for a stale watch).
    trouble_since: Option<Timestamp>,
    gone: bool,
}

impl Reporter {
    fn new(kind: ResourceKind, sink: Sink) -> Reporter {
        Reporter {
            kind,
            sink,
            shown: Shown::Trouble,
            listing: false,
            trouble_since: None,
            gone: false,
        }
    }

    fn send(&mut self, event: WatchEvent) -> bool {
        if !(self.sink)(self.kind, event) {
            self.gone = true;
        }
        !self.gone
    }

    fn live(&mut self) -> bool {
        self.trouble_since = None;
        if self.shown == Shown::Live || self.listing {
            return !self.gone;
        }
        self.shown = Shown::Live;
        self.send(WatchEvent::Health(Health::Live))
    }

    fn failed(&mut self, failure: Failure) -> bool {
        self.shown = Shown::Trouble;
        let since = *self.trouble_since.get_or_insert_with(Timestamp::now);
        let error = failure.error;
        self.send(WatchEvent::Health(if failure.forbidden {
            Health::Forbidden { since, error }
        } else {
            Health::Reconnecting { since, error }
        }))
    }

    /// Nothing heard since `heard` (a monotonic instant, turned into wall-clock time here).
    fn stale_since(&mut self, heard: Instant, reason: String) -> bool {
        self.shown = Shown::Trouble;
        let ago = heard.elapsed();
        let since = *self.trouble_since.get_or_insert_with(|| {
            Timestamp::now()
                .checked_sub(jiff_span(ago))
                .unwrap_or_else(|_| Timestamp::now())
        });
        self.send(WatchEvent::Health(Health::Stale { since, reason }))
    }
}

fn jiff_span(ago: Duration) -> k8s_openapi::jiff::SignedDuration {
    k8s_openapi::jiff::SignedDuration::try_from(ago).unwrap_or_default()
}
