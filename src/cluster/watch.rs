//! One list + watch loop per kind (never periodic listing), delivering `WatchEvent`s to a sink
//! the caller gives: the console wraps them into its messages, the headless commands collect
//! them. Nothing here knows the console.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::{Api, Client};
use tokio::task::JoinHandle;

use super::convert;
use super::informer::{self, KindWatch, Sink};
use super::liveness::Timing;
use super::slim_pod::SlimPod;
use crate::model::{ResourceKind, WatchEvent};

/// The running watchers. Dropping this stops them.
pub struct Watchers {
    tasks: Vec<JoinHandle<()>>,
}

impl Watchers {
    /// Watches namespaces, pods and NetworkPolicies; `sink` gets every event and returns false
    /// once nobody listens (the watchers then stop).
    pub fn spawn(
        client: &Client,
        sink: impl Fn(ResourceKind, WatchEvent) -> bool + Send + Sync + 'static,
    ) -> Watchers {
        Watchers::spawn_with(client, sink, Timing::default())
    }

    /// As `spawn`, with other probe and retry timings (tests use short ones).
    pub fn spawn_with(
        client: &Client,
        sink: impl Fn(ResourceKind, WatchEvent) -> bool + Send + Sync + 'static,
        timing: Timing,
    ) -> Watchers {
        let sink: Sink = std::sync::Arc::new(sink);
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
        Watchers {
            tasks: vec![
                tokio::spawn(informer::run(namespaces, sink.clone(), timing)),
                tokio::spawn(informer::run(pods, sink.clone(), timing)),
                tokio::spawn(informer::run(policies, sink, timing)),
            ],
        }
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
