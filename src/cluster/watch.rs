//! One watcher + reflector per kind (never periodic listing), forwarding changes as messages.

use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::convert;
use super::slim_pod::SlimPod;
use crate::app::{Msg, WatchEvent};
use crate::model::{ClusterObject, ResourceKind};

/// Page size of the initial lists: large enough to be quick, small enough to bound memory spikes.
const PAGE_SIZE: u32 = 500;

/// The running watchers. Dropping this stops them.
pub struct Watchers {
    tasks: Vec<JoinHandle<()>>,
    /// The reflectors' caches of full (trimmed) objects, for the parts that need the API object.
    pub policies: Store<NetworkPolicy>,
}

impl Watchers {
    pub fn spawn(client: &Client, tx: &UnboundedSender<Msg>) -> Watchers {
        let (_namespaces, ns_task) = spawn_kind::<Namespace>(
            Api::all(client.clone()),
            ResourceKind::Namespace,
            convert::strip_managed_fields,
            convert::namespace,
            tx.clone(),
        );
        let (_pods, pod_task) = spawn_kind::<SlimPod>(
            Api::all(client.clone()),
            ResourceKind::Pod,
            |_| {}, // nothing to trim: SlimPod decodes only what is used
            convert::pod,
            tx.clone(),
        );
        let (policies, policy_task) = spawn_kind::<NetworkPolicy>(
            Api::all(client.clone()),
            ResourceKind::NetworkPolicy,
            convert::keep_latest_managed_field,
            convert::policy,
            tx.clone(),
        );
        Watchers {
            tasks: vec![ns_task, pod_task, policy_task],
            policies,
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

fn spawn_kind<K>(
    api: Api<K>,
    kind: ResourceKind,
    trim: fn(&mut K),
    convert: fn(&K) -> ClusterObject,
    tx: UnboundedSender<Msg>,
) -> (Store<K>, JoinHandle<()>)
where
    K: Resource<DynamicType = ()>
        + ResourceExt
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let task = tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default().page_size(PAGE_SIZE))
            .default_backoff()
            .modify(trim)
            .reflect(writer);
        let mut stream = std::pin::pin!(stream);
        let mut listed = Vec::new();
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(Event::Init) => {
                    listed.clear();
                    Some(WatchEvent::Restarted)
                }
                Ok(Event::InitApply(object)) => {
                    listed.push(convert(&object));
                    None
                }
                Ok(Event::InitDone) => Some(WatchEvent::Listed(std::mem::take(&mut listed))),
                Ok(Event::Apply(object)) => Some(WatchEvent::Applied(Box::new(convert(&object)))),
                Ok(Event::Delete(object)) => Some(WatchEvent::Deleted {
                    namespace: object.namespace(),
                    name: object.name_any(),
                }),
                Err(err) => Some(WatchEvent::Failed(describe(&err))),
            };
            if let Some(event) = event
                && tx.send(Msg::Watch { kind, event }).is_err()
            {
                break; // the console is gone
            }
        }
    });
    (reader, task)
}

/// A one-line reason for the status bar.
fn describe(err: &watcher::Error) -> String {
    let text = err.to_string();
    match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => {
            format!("{text}: {e}")
        }
        _ => text,
    }
}
