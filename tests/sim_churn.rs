//! Load mode: with `--churn`, a kube-rs client watching the demo server sees pods and policies
//! being added, modified and deleted.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::config::KubeConfigOptions;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, ResourceExt};
use palisade::sim::{DemoServer, Scenario, ServerOptions};

const DEADLINE: Duration = Duration::from_secs(20);

async fn churning(rate: u32, scenario: Scenario) -> (DemoServer, Client) {
    let options = ServerOptions {
        churn: NonZeroU32::new(rate),
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(scenario, options)
        .await
        .expect("server starts");
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is usable");
    (server, Client::try_from(config).expect("client builds"))
}

/// Watches from the current list's version until every wanted event type has been seen.
async fn seen_event_types<K>(api: &Api<K>, wanted: &[&str]) -> BTreeSet<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let list = api
        .list_metadata(&ListParams::default())
        .await
        .expect("list");
    let rv = list.metadata.resource_version.expect("list has a version");
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let mut seen = BTreeSet::new();
    tokio::time::timeout(DEADLINE, async {
        while !wanted.iter().all(|w| seen.contains(*w)) {
            match stream
                .next()
                .await
                .expect("watch ended early")
                .expect("event")
            {
                WatchEvent::Added(_) => seen.insert("ADDED".to_string()),
                WatchEvent::Modified(_) => seen.insert("MODIFIED".to_string()),
                WatchEvent::Deleted(_) => seen.insert("DELETED".to_string()),
                WatchEvent::Bookmark(_) => false,
                WatchEvent::Error(e) => panic!("watch error: {e:?}"),
            };
        }
    })
    .await
    .unwrap_or_else(|_| panic!("saw only {seen:?} of {wanted:?} before the deadline"));
    seen
}

#[tokio::test]
async fn watchers_see_pods_and_policies_change() {
    let (server, client) = churning(400, Scenario::builtin()).await;
    let pods = Api::<Pod>::all(client.clone());
    seen_event_types(&pods, &["ADDED", "MODIFIED", "DELETED"]).await;
    let policies = Api::<NetworkPolicy>::all(client);
    seen_event_types(&policies, &["MODIFIED"]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_reflector_keeps_up_with_a_generated_cluster_under_churn() {
    let scenario = Scenario::generated("20,400,80".parse().expect("scale"));
    let (server, client) = churning(2000, scenario).await;
    let pods = Api::<Pod>::all(client);
    let (reader, writer) = kube::runtime::reflector::store();
    let mut stream = watcher(pods, watcher::Config::default().page_size(100))
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .boxed();
    // Pods are replaced under new names (`-cN`); once the store holds some of those and still
    // holds exactly the cluster's 400 workload pods, 4 agent pods and the Hubble Relay pod
    // (which churn leaves alone), the watcher followed deletions and additions alike.
    tokio::time::timeout(DEADLINE, async {
        loop {
            stream.next().await.expect("watcher runs").ok();
            let state = reader.state();
            let replaced = state.iter().filter(|p| p.name_any().contains("-c")).count();
            if replaced >= 50 && state.len() == 405 {
                return;
            }
        }
    })
    .await
    .expect("the reflector caught up with the churn before the deadline");
    server.shutdown().await;
}
