//! One list + watch loop per kind (never periodic listing), delivering `ClusterNews` to a sink
//! the caller gives: the console wraps them into its messages, the headless commands collect
//! them. Nothing here knows the console.
//!
//! Namespaces, pods and NetworkPolicies are watched at once. The optional kinds wait for API
//! discovery: each tier kind and each Cilium and Calico policy kind the cluster serves (Calico's in
//! `projectcalico.org/v3`, else in its `crd.projectcalico.org/v1` CRDs) is watched by the
//! same loop, each one it does not serve is reported `NotServed`, and the policy kinds of other projects are counted after
//! discovery, again every `Timing::count_every`, and when a watch reconnects.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::api::DynamicObject;
use kube::core::ApiResource;
use kube::{Api, Client};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::sleep;

use super::convert;
use super::discovery::{self, Discovered};
use super::informer::{self, KindWatch, Sink, describe};
use super::liveness::{Backoff, Timing};
use super::slim_pod::SlimPod;
use crate::model::{
    ClusterNews, Health, NativeKind, ResourceKind, TIER_GROUP, TierKind, WatchEvent,
};

/// Where all news goes; `false` means nobody listens any more and the watchers stop.
pub(super) type NewsSink = Arc<dyn Fn(ClusterNews) -> bool + Send + Sync>;

/// The running watchers. Dropping this stops them.
pub struct Watchers {
    tasks: Vec<JoinHandle<()>>,
}

impl Watchers {
    /// Watches namespaces, pods, NetworkPolicies and the served tier kinds, and counts the
    /// policy kinds Palisade does not evaluate; `sink` gets every event and returns false once
    /// nobody listens (the watchers then stop).
    pub fn spawn(
        client: &Client,
        sink: impl Fn(ClusterNews) -> bool + Send + Sync + 'static,
    ) -> Watchers {
        Watchers::spawn_with(client, sink, Timing::default())
    }

    /// As `spawn`, with other probe and retry timings (tests use short ones).
    pub fn spawn_with(
        client: &Client,
        sink: impl Fn(ClusterNews) -> bool + Send + Sync + 'static,
        timing: Timing,
    ) -> Watchers {
        let news: NewsSink = Arc::new(sink);
        // A kind back after trouble (resumed or relisted) also asks for fresh counts.
        let reconnected = Arc::new(Notify::new());
        let kinds = kinds_sink(&news, &reconnected);
        Watchers {
            tasks: cluster_wide(client, &kinds, &news, &reconnected, timing)
                .into_iter()
                .map(tokio::spawn)
                .collect(),
        }
    }

    /// As `spawn`, in the connection's scope: its asked namespaces, or the whole cluster when
    /// the user may list it, else the kubeconfig context's namespace (see `scope.rs`).
    pub fn spawn_for(
        connection: &super::Connection,
        sink: impl Fn(ClusterNews) -> bool + Send + Sync + 'static,
    ) -> Watchers {
        Watchers::spawn_scoped(
            &connection.client,
            &connection.scope,
            sink,
            Timing::default(),
        )
    }

    /// As `spawn_for`, with a scope request and timings of the caller's.
    pub fn spawn_scoped(
        client: &Client,
        request: &super::scope::ScopeRequest,
        sink: impl Fn(ClusterNews) -> bool + Send + Sync + 'static,
        timing: Timing,
    ) -> Watchers {
        let news: NewsSink = Arc::new(sink);
        let reconnected = Arc::new(Notify::new());
        let kinds = kinds_sink(&news, &reconnected);
        let run = super::scoped_watch::run(
            client.clone(),
            request.clone(),
            kinds,
            news,
            reconnected,
            timing,
        );
        Watchers {
            tasks: vec![tokio::spawn(run)],
        }
    }
}

/// The sink every kind's loop reports to: it forwards to `news`, and a kind back after trouble
/// wakes the counting of the unevaluated kinds.
fn kinds_sink(news: &NewsSink, reconnected: &Arc<Notify>) -> Sink {
    let (news, reconnected) = (news.clone(), reconnected.clone());
    let troubled = std::sync::Mutex::new(std::collections::BTreeSet::new());
    Arc::new(move |kind, event| {
        let mut troubled = troubled.lock().unwrap_or_else(|e| e.into_inner());
        let back = matches!(
            &event,
            WatchEvent::Health(Health::Live) | WatchEvent::Listed(_)
        );
        if back && troubled.remove(&kind) {
            reconnected.notify_one();
        } else if !back && matches!(&event, WatchEvent::Health(_)) {
            troubled.insert(kind);
        }
        drop(troubled);
        news(ClusterNews::Watch { kind, event })
    })
}

/// Namespaces, pods and NetworkPolicies across the cluster, and everything discovery decides.
pub(super) fn cluster_wide(
    client: &Client,
    kinds: &Sink,
    news: &NewsSink,
    reconnected: &Arc<Notify>,
    timing: Timing,
) -> Vec<BoxFuture<'static, ()>> {
    let namespaces = KindWatch::<Namespace> {
        api: Api::all(client.clone()),
        kind: ResourceKind::Namespace,
        trim: convert::strip_managed_fields,
        convert: convert::namespace,
    };
    let pods = KindWatch::<SlimPod> {
        api: Api::all(client.clone()),
        kind: ResourceKind::Pod,
        trim: |_| {}, // nothing to trim: SlimPod decodes only what is used
        convert: convert::pod,
    };
    let policies = KindWatch::<NetworkPolicy> {
        api: Api::all(client.clone()),
        kind: ResourceKind::NetworkPolicy,
        trim: convert::keep_latest_managed_field,
        convert: convert::policy,
    };
    vec![
        informer::run(namespaces, kinds.clone(), timing).boxed(),
        informer::run(pods, kinds.clone(), timing).boxed(),
        informer::run(policies, kinds.clone(), timing).boxed(),
        // One task for everything discovery decides, so dropping `Watchers` stops it all.
        optional_kinds(
            client.clone(),
            kinds.clone(),
            news.clone(),
            reconnected.clone(),
            timing,
            None,
        )
        .boxed(),
    ]
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Discovers, retrying with backoff (the tier and Cilium kinds show `Reconnecting` meanwhile:
/// nothing can be said about them yet), then watches the served ones and counts the others.
/// `namespaces`: watch the namespaced Cilium kinds in these only (see `scoped_watch.rs`).
pub(super) async fn optional_kinds(
    client: Client,
    kinds: Sink,
    news: NewsSink,
    reconnected: Arc<Notify>,
    timing: Timing,
    namespaces: Option<Arc<[String]>>,
) {
    let mut backoff = Backoff::new(&timing);
    let mut since: Option<Timestamp> = None;
    let discovered = loop {
        match discovery::discover(&client, timing.request_deadline).await {
            Ok(found) => break found,
            Err(err) => {
                let since = *since.get_or_insert_with(Timestamp::now);
                let error = format!("discovery failed: {}", describe(&err));
                for kind in optional_kinds_all() {
                    let health = Health::Reconnecting {
                        since,
                        error: error.clone(),
                    };
                    if !kinds(kind, WatchEvent::Health(health)) {
                        return;
                    }
                }
                sleep(backoff.next_delay()).await;
            }
        }
    };
    let Some(watches) = tier_watches(&client, &discovered, &kinds, timing, namespaces) else {
        return;
    };
    futures::join!(
        join_all(watches),
        count_unevaluated(client, discovered, news, reconnected, timing)
    );
}

/// The kinds discovery decides about: the tier kinds, then Cilium's and Calico's.
fn optional_kinds_all() -> impl Iterator<Item = ResourceKind> {
    (TierKind::ALL.map(ResourceKind::Tier).into_iter())
        .chain(NativeKind::ALL.map(ResourceKind::Native))
}

/// A watch loop for each served tier and native kind; `NotServed` for the others. `None`:
/// nobody listens.
fn tier_watches(
    client: &Client,
    discovered: &Discovered,
    kinds: &Sink,
    timing: Timing,
    namespaces: Option<Arc<[String]>>,
) -> Option<Vec<BoxFuture<'static, ()>>> {
    let mut watches = Vec::new();
    for kind in TierKind::ALL {
        if !discovered.serves(kind) {
            if !kinds(ResourceKind::Tier(kind), WatchEvent::NotServed) {
                return None;
            }
            continue;
        }
        let resource = ApiResource {
            group: TIER_GROUP.to_string(),
            version: kind.version().to_string(),
            api_version: kind.api_version(),
            kind: kind.kind().to_string(),
            plural: kind.plural().to_string(),
        };
        let watch = KindWatch::<DynamicObject> {
            api: Api::all_with(client.clone(), &resource),
            kind: ResourceKind::Tier(kind),
            trim: convert::keep_latest_managed_field,
            convert: convert::tier_converter(kind),
        };
        watches.push(informer::run(watch, kinds.clone(), timing).boxed());
    }
    for kind in NativeKind::ALL {
        // Calico's kinds in whichever group the cluster serves (its API server's preferred).
        let Some(resource) = discovered.native_resource(kind) else {
            if !kinds(ResourceKind::Native(kind), WatchEvent::NotServed) {
                return None;
            }
            continue;
        };
        if let Some(namespaces) = namespaces.as_deref().filter(|_| kind.namespaced()) {
            watches.extend(super::scoped_watch::native_in(
                client, resource, kind, namespaces, kinds, timing,
            ));
            continue;
        }
        let watch = KindWatch::<DynamicObject> {
            api: Api::all_with(client.clone(), resource),
            kind: ResourceKind::Native(kind),
            trim: convert::keep_latest_managed_field,
            convert: match resource.group == kind.group() {
                true => convert::native_converter(kind),
                false => convert::native_crd_converter(kind),
            },
        };
        watches.push(informer::run(watch, kinds.clone(), timing).boxed());
    }
    Some(watches)
}

/// Counts now, then every `count_every` and whenever a watch comes back after trouble (always
/// sent once, empty when none is served, so the headless commands know the counts are in).
async fn count_unevaluated(
    client: Client,
    discovered: Discovered,
    news: NewsSink,
    reconnected: Arc<Notify>,
    timing: Timing,
) {
    let resources = discovered.unevaluated;
    loop {
        let counts = discovery::count_all(&client, &resources, timing.request_deadline).await;
        if !news(ClusterNews::Unevaluated(counts)) || resources.is_empty() {
            return;
        }
        tokio::select! {
            _ = sleep(timing.count_every) => {}
            _ = reconnected.notified() => {}
        }
    }
}
