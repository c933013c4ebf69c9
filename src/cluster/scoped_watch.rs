//! Watching some namespaces only: one list + watch loop per namespace for each namespaced
//! kind, merged into one stream per kind (`Merge`), so the console and the headless commands
//! see the same events as from a cluster-wide watch. The Namespace objects are watched when the
//! user may list them; otherwise each watched namespace stands for itself with the one label
//! the API server always sets (`kubernetes.io/metadata.name`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, Client};
use tokio::sync::Notify;

use super::convert;
use super::informer::{self, KindWatch, Sink};
use super::liveness::Timing;
use super::scope::{self, Plan, ScopeRequest};
use super::slim_pod::SlimPod;
use super::watch::{NewsSink, cluster_wide, optional_kinds};
use crate::model::{
    ClusterNews, ClusterObject, Health, NAME_LABEL_KEY, NamespaceInfo, ResourceKind, WatchEvent,
};

/// Resolves the scope, says it, and watches accordingly (the whole cluster when allowed and
/// nothing narrower was asked for).
pub(super) async fn run(
    client: Client,
    request: ScopeRequest,
    kinds: Sink,
    news: NewsSink,
    reconnected: Arc<Notify>,
    timing: Timing,
) {
    let probe = if scope::needs_probe(&request) {
        Some(scope::probe(&client, timing.request_deadline).await)
    } else {
        None
    };
    let (namespaces, reason) = match scope::plan(&request, probe.as_ref()) {
        Plan::ClusterWide => {
            run_apart(cluster_wide(&client, &kinds, &news, &reconnected, timing)).await;
            return;
        }
        Plan::Namespaces(namespaces, reason) => (namespaces, reason),
    };
    let scope =
        scope::resolve_namespaces(&client, namespaces, reason, timing.request_deadline).await;
    if !news(ClusterNews::Scope(scope.clone())) {
        return;
    }
    if scope.namespaces.is_empty() {
        // Nothing to narrow to: watch cluster-wide, which reports the 403s as they come.
        run_apart(cluster_wide(&client, &kinds, &news, &reconnected, timing)).await;
        return;
    }
    let watched: Arc<[String]> = scope.namespaces.clone().into();
    let mut watches: Vec<BoxFuture<'static, ()>> = Vec::new();
    if scope.labels_known {
        let namespaces = KindWatch::<Namespace> {
            api: Api::all(client.clone()),
            kind: ResourceKind::Namespace,
            trim: convert::strip_managed_fields,
            convert: convert::namespace,
        };
        watches.push(informer::run(namespaces, kinds.clone(), timing).boxed());
    } else {
        let known = watched.iter().map(|ns| name_only(ns)).collect();
        if !kinds(ResourceKind::Namespace, WatchEvent::Listed(known)) {
            return;
        }
    }
    let pods = Merge::new(ResourceKind::Pod, &watched, &kinds);
    let policies = Merge::new(ResourceKind::NetworkPolicy, &watched, &kinds);
    for namespace in watched.iter() {
        let pod_watch = KindWatch::<SlimPod> {
            api: Api::namespaced(client.clone(), namespace),
            kind: ResourceKind::Pod,
            trim: |_| {},
            convert: convert::pod,
        };
        watches.push(informer::run(pod_watch, pods.sink(namespace), timing).boxed());
        let policy_watch = KindWatch::<NetworkPolicy> {
            api: Api::namespaced(client.clone(), namespace),
            kind: ResourceKind::NetworkPolicy,
            trim: convert::keep_latest_managed_field,
            convert: convert::policy,
        };
        watches.push(informer::run(policy_watch, policies.sink(namespace), timing).boxed());
    }
    watches.push(optional_kinds(client, kinds, news, reconnected, timing, Some(watched)).boxed());
    run_apart(watches).await;
}

/// Runs each loop as a task of its own (so they use every worker thread, as the cluster-wide
/// watchers always did), and aborts them all when this future is dropped (`Watchers` dropped).
async fn run_apart(loops: Vec<BoxFuture<'static, ()>>) {
    struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            for task in &self.0 {
                task.abort();
            }
        }
    }
    let mut tasks = AbortOnDrop(loops.into_iter().map(tokio::spawn).collect());
    join_all(tasks.0.iter_mut()).await;
}

/// A namespaced Cilium kind watched in each of `namespaces`, merged.
pub(super) fn native_in(
    client: &Client,
    resource: &kube::core::ApiResource,
    kind: crate::model::NativeKind,
    namespaces: &[String],
    kinds: &Sink,
    timing: Timing,
) -> Vec<BoxFuture<'static, ()>> {
    let merge = Merge::new(ResourceKind::Native(kind), namespaces, kinds);
    namespaces
        .iter()
        .map(|namespace| {
            let watch = KindWatch::<kube::api::DynamicObject> {
                api: Api::namespaced_with(client.clone(), namespace, resource),
                kind: ResourceKind::Native(kind),
                trim: convert::keep_latest_managed_field,
                convert: convert::native_converter(kind),
            };
            informer::run(watch, merge.sink(namespace), timing).boxed()
        })
        .collect()
}

/// A namespace known only by its name: the label the API server always sets, nothing else.
pub fn name_only(name: &str) -> ClusterObject {
    let labels = BTreeMap::from([(NAME_LABEL_KEY.to_string(), name.to_string())]);
    ClusterObject::Namespace(NamespaceInfo {
        name: name.to_string(),
        labels: labels.clone(),
        object: Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        },
    })
}

/// One kind watched in several namespaces, reported as one: the first complete list once every
/// namespace has listed, changes as they come, a later relist of one namespace as a complete
/// list of all, and the health of the worst namespace.
pub(super) struct Merge {
    kind: ResourceKind,
    total: usize,
    downstream: Sink,
    state: Mutex<MergeState>,
}

#[derive(Default)]
struct MergeState {
    objects: BTreeMap<String, BTreeMap<String, ClusterObject>>,
    listed: BTreeSet<String>,
    health: BTreeMap<String, Health>,
    shown: Option<Health>,
    restarted: bool,
}

impl Merge {
    pub(super) fn new(kind: ResourceKind, namespaces: &[String], downstream: &Sink) -> Arc<Merge> {
        Arc::new(Merge {
            kind,
            total: namespaces.len(),
            downstream: downstream.clone(),
            state: Mutex::new(MergeState::default()),
        })
    }

    /// The sink for the loop of one namespace.
    pub(super) fn sink(self: &Arc<Self>, namespace: &str) -> Sink {
        let merge = self.clone();
        let namespace = namespace.to_string();
        Arc::new(move |_, event| merge.accept(&namespace, event))
    }

    fn accept(&self, namespace: &str, event: WatchEvent) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let complete = |state: &MergeState| state.listed.len() == self.total;
        let forward = match event {
            WatchEvent::Restarted => {
                let first = !state.restarted;
                state.restarted = true;
                (first || complete(&state)).then_some(WatchEvent::Restarted)
            }
            WatchEvent::Listing { .. } => None,
            WatchEvent::Listed(objects) => {
                let by_name = objects.into_iter().map(|o| (name_of(&o), o)).collect();
                state.objects.insert(namespace.to_string(), by_name);
                state.listed.insert(namespace.to_string());
                state.health.insert(namespace.to_string(), Health::Live);
                complete(&state).then(|| {
                    state.shown = Some(Health::Live);
                    let all = state.objects.values().flat_map(|m| m.values().cloned());
                    WatchEvent::Listed(all.collect())
                })
            }
            WatchEvent::Applied(object) => {
                let entry = state.objects.entry(namespace.to_string()).or_default();
                entry.insert(name_of(&object), (*object).clone());
                complete(&state).then_some(WatchEvent::Applied(object))
            }
            WatchEvent::Deleted {
                namespace: ns,
                name,
            } => {
                if let Some(entry) = state.objects.get_mut(namespace) {
                    entry.remove(&name);
                }
                complete(&state).then_some(WatchEvent::Deleted {
                    namespace: ns,
                    name,
                })
            }
            WatchEvent::Health(health) => {
                state.health.insert(namespace.to_string(), health);
                let worst = state
                    .health
                    .values()
                    .find(|h| **h != Health::Live)
                    .cloned()
                    .unwrap_or(Health::Live);
                (state.shown.as_ref() != Some(&worst)).then(|| {
                    state.shown = Some(worst.clone());
                    WatchEvent::Health(worst)
                })
            }
            WatchEvent::NotServed => Some(WatchEvent::NotServed),
        };
        drop(state);
        match forward {
            Some(event) => (self.downstream)(self.kind, event),
            None => true,
        }
    }
}

fn name_of(object: &ClusterObject) -> String {
    match object {
        ClusterObject::Namespace(n) => n.name.clone(),
        ClusterObject::Pod(p) => p.id.name.clone(),
        ClusterObject::Policy(p) => p.id.name.clone(),
        ClusterObject::Tier(t) => t.id.name.clone(),
        ClusterObject::Native(n) => n.id.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace_object(name: &str) -> ClusterObject {
        name_only(name)
    }

    #[test]
    fn namespaces_merge_into_one_list_then_pass_changes_through() {
        let seen: Arc<Mutex<Vec<WatchEvent>>> = Arc::default();
        let downstream: Sink = {
            let seen = seen.clone();
            Arc::new(move |_, event| {
                seen.lock().unwrap().push(event);
                true
            })
        };
        let namespaces = ["a".to_string(), "b".to_string()];
        let merge = Merge::new(ResourceKind::Namespace, &namespaces, &downstream);
        let (a, b) = (merge.sink("a"), merge.sink("b"));
        let kind = ResourceKind::Namespace;
        assert!(a(kind, WatchEvent::Restarted) && b(kind, WatchEvent::Restarted));
        a(kind, WatchEvent::Listed(vec![namespace_object("x")]));
        a(kind, WatchEvent::Applied(Box::new(namespace_object("y"))));
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "only one Restarted before all listed"
        );
        b(kind, WatchEvent::Listed(vec![namespace_object("z")]));
        let listed = |event: &WatchEvent| match event {
            WatchEvent::Listed(objects) => {
                let mut names: Vec<String> = objects.iter().map(name_of).collect();
                names.sort();
                names
            }
            other => panic!("expected a list, got {other:?}"),
        };
        assert_eq!(listed(&seen.lock().unwrap()[1]), ["x", "y", "z"]);
        // A change now passes through; a relist of one namespace is a list of all.
        a(
            kind,
            WatchEvent::Deleted {
                namespace: None,
                name: "y".into(),
            },
        );
        b(kind, WatchEvent::Listed(vec![namespace_object("w")]));
        let events = seen.lock().unwrap();
        assert!(matches!(events[2], WatchEvent::Deleted { .. }));
        assert_eq!(listed(&events[3]), ["w", "x"]);
    }

    #[test]
    fn the_worst_namespace_decides_the_health() {
        let seen: Arc<Mutex<Vec<WatchEvent>>> = Arc::default();
        let downstream: Sink = {
            let seen = seen.clone();
            Arc::new(move |_, event| {
                seen.lock().unwrap().push(event);
                true
            })
        };
        let merge = Merge::new(
            ResourceKind::Pod,
            &["a".to_string(), "b".to_string()],
            &downstream,
        );
        let (a, b) = (merge.sink("a"), merge.sink("b"));
        a(ResourceKind::Pod, WatchEvent::Listed(Vec::new()));
        b(ResourceKind::Pod, WatchEvent::Listed(Vec::new()));
        let trouble = Health::Reconnecting {
            since: k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            error: "watch broke".into(),
        };
        a(ResourceKind::Pod, WatchEvent::Health(trouble.clone()));
        b(ResourceKind::Pod, WatchEvent::Health(Health::Live));
        a(ResourceKind::Pod, WatchEvent::Health(Health::Live));
        let events = seen.lock().unwrap();
        let healths: Vec<&WatchEvent> = events
            .iter()
            .filter(|e| matches!(e, WatchEvent::Health(_)))
            .collect();
        assert_eq!(
            healths,
            [
                &WatchEvent::Health(trouble),
                &WatchEvent::Health(Health::Live)
            ]
        );
    }

    #[test]
    fn an_unreadable_namespace_has_only_its_name_label() {
        let ClusterObject::Namespace(info) = name_only("acme-web") else {
            panic!("a namespace");
        };
        assert_eq!(
            info.labels,
            BTreeMap::from([(NAME_LABEL_KEY.to_string(), "acme-web".to_string())])
        );
    }
}
