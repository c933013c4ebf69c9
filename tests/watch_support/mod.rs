//! The console's side of the fault tests: the real watchers (`cluster::Watchers`) feeding the
//! real `app::update`, against the real demo server in-process, and the server's truth read
//! with a plain list through an independent client.
#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DynamicObject, ListParams, ObjectList};
use kube::config::KubeConfigOptions;
use kube::{Api, Client, Config};
use palisade::app::state::SyncState;
use palisade::app::{Msg, State, update};
use palisade::cluster::slim_pod::SlimPod;
use palisade::cluster::{Timing, Watchers, convert};
use palisade::config::{Keymap, default_keymap_source};
use palisade::model::{
    ClusterNews, ClusterSnapshot, NativeKind, Objects, ResourceKind, TierKind, WatchEvent,
};
use palisade::sim::{DemoServer, Scenario, ServerOptions};

/// Probe and retry timings scaled down about thirty times from the defaults, with the same
/// ratios (the silence grace well above the bookmark interval).
pub fn fast_timing() -> Timing {
    Timing {
        probe_every: Duration::from_millis(300),
        probe_deadline: Duration::from_millis(300),
        silence_grace: Duration::from_secs(2),
        request_deadline: Duration::from_secs(2),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        watch_timeout_secs: 290,
        count_every: Duration::from_secs(2),
    }
}

/// Bookmarks every half second, as a real server's once a minute or two, scaled down.
pub fn fast_options(churn: Option<u32>) -> ServerOptions {
    ServerOptions {
        bookmark_interval: Duration::from_millis(500),
        churn: churn.and_then(NonZeroU32::new),
        agents: false,
        ..ServerOptions::default()
    }
}

pub async fn server(options: ServerOptions) -> DemoServer {
    DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts")
}

/// A client without kube-rs' own retries: the tests look at what the server answers.
pub async fn plain_client(server: &DemoServer) -> Client {
    let mut config =
        Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
            .await
            .expect("kubeconfig is usable");
    config.default_retry = false;
    Client::try_from(config).expect("client builds")
}

/// What the console holds, and what its watchers said, in order.
pub struct Console {
    pub state: Arc<Mutex<State>>,
    pub log: Arc<Mutex<Vec<(ResourceKind, WatchEvent)>>>,
    /// How many counts of the kinds not evaluated arrived.
    pub counted: Arc<std::sync::atomic::AtomicUsize>,
    _watchers: Watchers,
}

impl Console {
    pub async fn start(server: &DemoServer, timing: Timing) -> Console {
        Console::start_with(server, timing, |_, _, _| {}).await
    }

    /// `tap` sees every event with the state as it was before `update` applied it (the journal
    /// needs a deleted policy's last version).
    pub async fn start_with(
        server: &DemoServer,
        timing: Timing,
        tap: impl Fn(&State, ResourceKind, &WatchEvent) + Send + Sync + 'static,
    ) -> Console {
        Console::start_in(server, None, timing, tap).await
    }

    /// As `start_with`, in another context of the demo's kubeconfig (another user).
    pub async fn start_in(
        server: &DemoServer,
        context: Option<&str>,
        timing: Timing,
        tap: impl Fn(&State, ResourceKind, &WatchEvent) + Send + Sync + 'static,
    ) -> Console {
        let connection = palisade::cluster::connect(
            palisade::cluster::connect::ClusterSource::Kubeconfig(Box::new(server.kubeconfig())),
            context,
        )
        .await
        .expect("the console connects");
        Console::start_on(&connection, timing, tap)
    }

    /// As `start_in`, on a connection of the caller's, in its scope (`Watchers::spawn_scoped`).
    pub fn start_on(
        connection: &palisade::cluster::Connection,
        timing: Timing,
        tap: impl Fn(&State, ResourceKind, &WatchEvent) + Send + Sync + 'static,
    ) -> Console {
        let client = connection.client.clone();
        let (keymap, _) = Keymap::load(&default_keymap_source(), None);
        let state = Arc::new(Mutex::new(State::new("test", keymap, vec![])));
        let log = Arc::new(Mutex::new(Vec::new()));
        let counted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sink = {
            let (state, log, counted) = (state.clone(), log.clone(), counted.clone());
            move |news: ClusterNews| {
                let mut state = lock(&state);
                let (kind, event) = match news {
                    ClusterNews::Watch { kind, event } => (kind, event),
                    ClusterNews::Unevaluated(counts) => {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        update(&mut state, Msg::Unevaluated(counts));
                        return true;
                    }
                    ClusterNews::Scope(scope) => {
                        update(&mut state, Msg::Scope(scope));
                        return true;
                    }
                };
                tap(&state, kind, &event);
                if !matches!(
                    event,
                    WatchEvent::Applied(_)
                        | WatchEvent::Deleted { .. }
                        | WatchEvent::Listing { .. }
                ) {
                    lock(&log).push((kind, summary(&event)));
                }
                update(&mut state, Msg::Watch { kind, event });
                true
            }
        };
        let watchers = Watchers::spawn_scoped(&client, &connection.scope, sink, timing);
        Console {
            state,
            log,
            counted,
            _watchers: watchers,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn sync(&self) -> BTreeMap<ResourceKind, SyncState> {
        self.state().sync.clone()
    }

    pub fn all_live(&self) -> bool {
        self.state().is_live()
    }

    pub fn snapshot(&self) -> ClusterSnapshot {
        self.state().cluster.clone()
    }

    /// How many lists each kind has done so far.
    pub fn lists(&self, kind: ResourceKind) -> usize {
        lock(&self.log)
            .iter()
            .filter(|(k, e)| *k == kind && matches!(e, WatchEvent::Listed(_)))
            .count()
    }

    pub fn log_len(&self) -> usize {
        lock(&self.log).len()
    }

    /// The non-data events (restarts, lists, health) from `from` on.
    pub fn log_since(&self, from: usize) -> Vec<(ResourceKind, WatchEvent)> {
        lock(&self.log)[from..].to_vec()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Lists are logged without their objects (only that one happened).
fn summary(event: &WatchEvent) -> WatchEvent {
    match event {
        WatchEvent::Listed(_) => WatchEvent::Listed(Vec::new()),
        other => other.clone(),
    }
}

/// The server's objects through a plain list, converted the way the console converts them.
pub async fn server_truth(client: &Client) -> Result<ClusterSnapshot, kube::Error> {
    let mut snapshot = ClusterSnapshot::default();
    let namespaces: ObjectList<Namespace> = Api::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let pods: ObjectList<SlimPod> = Api::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let policies: ObjectList<NetworkPolicy> = Api::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let mut objects = Vec::new();
    for mut ns in namespaces.items {
        convert::strip_managed_fields(&mut ns);
        objects.push(convert::namespace(&ns));
    }
    objects.extend(pods.items.iter().map(convert::pod));
    for mut policy in policies.items {
        convert::keep_latest_managed_field(&mut policy);
        objects.push(convert::policy(&policy));
    }
    // Cilium's kinds the server serves (a 404: not served).
    for native in NativeKind::ALL {
        let resource = kube::core::ApiResource {
            group: native.group().into(),
            version: native.version().into(),
            api_version: native.api_version(),
            kind: native.kind().into(),
            plural: native.plural().into(),
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                for mut object in list.items {
                    convert::keep_latest_managed_field(&mut object);
                    objects.push(convert::native(native, &object));
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    // The tier kinds the server serves (a 404: not served).
    for tier in TierKind::ALL {
        let resource = kube::core::ApiResource {
            group: palisade::model::TIER_GROUP.into(),
            version: tier.version().into(),
            api_version: tier.api_version(),
            kind: tier.kind().into(),
            plural: tier.plural().into(),
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                for mut object in list.items {
                    convert::keep_latest_managed_field(&mut object);
                    objects.push(convert::tier(tier, &object));
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    let kinds = ResourceKind::ALL
        .into_iter()
        .chain(TierKind::ALL.map(ResourceKind::Tier))
        .chain(NativeKind::ALL.map(ResourceKind::Native));
    for kind in kinds {
        let of_kind = objects
            .iter()
            .filter(|o| o.kind() == kind)
            .cloned()
            .collect();
        snapshot.replace_kind(kind, of_kind);
    }
    Ok(snapshot)
}

/// Polls `check` (async) every 50 ms until it returns `Some`, or fails after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every kind is live and the console's objects equal the server's, by content
/// (resourceVersions included). Returns how long it took.
pub async fn converged(console: &Console, client: &Client, deadline: Duration) -> Duration {
    let start = tokio::time::Instant::now();
    let mut last_difference = String::new();
    let outcome = tokio::time::timeout(deadline, async {
        loop {
            if console.all_live()
                && let Ok(truth) = server_truth(client).await
            {
                let held = console.snapshot();
                if held == truth {
                    return;
                }
                last_difference = difference(&held, &truth);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "the console did not converge within {deadline:?}; sync: {:?}; last difference: {last_difference}",
        console.sync()
    );
    start.elapsed()
}

/// A short description of how two snapshots differ, for failure messages.
pub fn difference(held: &ClusterSnapshot, truth: &ClusterSnapshot) -> String {
    fn keys<K: Ord + Clone + std::fmt::Debug, V: PartialEq>(
        what: &str,
        held: &Objects<K, V>,
        truth: &Objects<K, V>,
    ) -> Option<String> {
        let missing: Vec<&K> = truth.keys().filter(|k| !held.contains_key(*k)).collect();
        let extra: Vec<&K> = held.keys().filter(|k| !truth.contains_key(*k)).collect();
        let changed: Vec<&K> = truth
            .iter()
            .filter(|(k, v)| held.get(*k).is_some_and(|h| h != *v))
            .map(|(k, _)| k)
            .collect();
        (!missing.is_empty() || !extra.is_empty() || !changed.is_empty()).then(|| {
            format!(
                "{what}: missing {missing:?}, extra {extra:?}, different {}",
                changed.len()
            )
        })
    }
    [
        keys("namespaces", &held.namespaces, &truth.namespaces),
        keys("pods", &held.pods, &truth.pods),
        keys("policies", &held.policies, &truth.policies),
        keys("cilium policies", &held.natives, &truth.natives),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("; ")
}

/// A namespace the console has never seen, written through `client`.
pub async fn create_namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"tenant": "acme"}},
    }))
    .expect("valid namespace");
    Api::<Namespace>::all(client.clone())
        .create(&Default::default(), &ns)
        .await
        .expect("namespace created");
}

/// Relabels an existing namespace: a write that adds no object (the resourceVersion moves on).
pub async fn relabel_namespace(client: &Client, name: &str, value: &str) {
    let patch = serde_json::json!({"metadata": {"labels": {"palisade-test": value}}});
    Api::<Namespace>::all(client.clone())
        .patch(name, &Default::default(), &kube::api::Patch::Merge(&patch))
        .await
        .expect("namespace relabelled");
}
