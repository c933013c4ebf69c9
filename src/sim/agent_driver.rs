//! Drives the simulated agents: follows the store's changes, keeps a model snapshot of the
//! cluster, and re-evaluates the traffic plan after changes, at most once per
//! [`MIN_INTERVAL`], off the async threads. Every [`FLOW_TICK`] it publishes the flows due
//! into the flow feed (see `flow_gen.rs`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::agents::Endpoint;
use super::churn::each_object;
use super::flow_feed::{FeedItem, FlowFeed};
use super::flow_gen::{Decisions, FlowGenerator, Timeline};
use super::http::Shared;
use super::meta::str_at;
use super::resource::Resource;
use super::store::{Event, EventKind};
use super::telemetry::Telemetry;
use super::traffic::{Rates, TrafficPlan};
use crate::cluster::{convert, slim_pod::SlimPod};
use crate::flows::Name;
use crate::model::{
    ClusterObject, ClusterSnapshot, NativePolicyInfo, ResourceKind, TierPolicyInfo,
};
use kube::core::DynamicObject;

/// Evaluations are at least this far apart; changes in between are taken together.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// How often the flows due are published.
pub const FLOW_TICK: Duration = Duration::from_millis(100);
/// How often each agent records a background endpoint update (see
/// `Telemetry::observe_background_updates`).
pub const BACKGROUND_TICK: Duration = Duration::from_secs(2);
/// Flows further behind than this (a stalled runtime) are skipped and announced as lost.
const MAX_BACKLOG: f64 = 2.0;
/// Where the sequence of flows starts: any fixed number does.
const FLOW_SEED: f64 = 0.5;

/// The agents' shared state: what the pod proxy serves.
pub struct Agents {
    origin: Instant,
    telemetry: Mutex<Telemetry>,
    /// `None` when the flow rate is 0.
    flows: Option<FlowGenerator>,
}

impl Agents {
    /// `flow_rate` flows per second over the cluster; `lagging`: nodes whose agent enforces the
    /// policies as they were so many seconds ago.
    pub fn new(nodes: Vec<String>, flow_rate: u32, lagging: Vec<(Name, f64)>) -> Agents {
        let origin = Instant::now();
        let flows = (flow_rate > 0).then(|| FlowGenerator {
            rate: f64::from(flow_rate),
            seed: FLOW_SEED,
            lagging,
            epoch: SystemTime::now(),
        });
        Agents {
            origin,
            telemetry: Mutex::new(Telemetry::new(nodes)),
            flows,
        }
    }

    fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    fn telemetry(&self) -> MutexGuard<'_, Telemetry> {
        self.telemetry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exposition of `node`'s agent on `endpoint`, now.
    pub fn render(&self, endpoint: Endpoint, node: &str) -> String {
        let t = self.now();
        self.telemetry().render(endpoint, node, t)
    }
}

/// Converts one stored object into the model, as the console's watchers would; `None` for
/// kinds the model does not hold (other projects' policies).
pub(super) fn model_object(resource: Resource, object: &Value) -> Option<ClusterObject> {
    Some(match resource {
        Resource::Namespaces => convert::namespace(&Deserialize::deserialize(object).ok()?),
        Resource::Pods => convert::pod(&SlimPod::deserialize(object).ok()?),
        Resource::NetworkPolicies => convert::policy(&Deserialize::deserialize(object).ok()?),
        Resource::Tier(kind) => ClusterObject::Tier(TierPolicyInfo::new(
            kind,
            DynamicObject::deserialize(object).ok()?,
        )?),
        Resource::Native(kind) | Resource::CalicoCrd(kind) => ClusterObject::Native(
            NativePolicyInfo::new(kind, DynamicObject::deserialize(object).ok()?)?,
        ),
        Resource::Services | Resource::Events | Resource::Foreign(_) | Resource::GitOps(_) => {
            return None;
        }
    })
}

fn kind(resource: Resource) -> Option<ResourceKind> {
    match resource {
        Resource::Namespaces => Some(ResourceKind::Namespace),
        Resource::Pods => Some(ResourceKind::Pod),
        Resource::NetworkPolicies => Some(ResourceKind::NetworkPolicy),
        Resource::Tier(kind) => Some(ResourceKind::Tier(kind)),
        Resource::Native(kind) | Resource::CalicoCrd(kind) => Some(ResourceKind::Native(kind)),
        Resource::Services | Resource::Events | Resource::Foreign(_) | Resource::GitOps(_) => None,
    }
}

/// The store's current objects as a model snapshot, and a receiver for every later change,
/// taken under one lock. Objects are copied a page at a time, never the whole store at once.
fn subscribe(shared: &Shared) -> (ClusterSnapshot, broadcast::Receiver<Arc<Event>>) {
    let store = shared.store();
    let mut snapshot = ClusterSnapshot::default();
    for resource in shared.served.resources() {
        each_object(&store, resource, |object| {
            if let Some(model) = model_object(resource, object) {
                snapshot.upsert(model);
            }
        });
    }
    (snapshot, store.subscribe())
}

/// Applies one change to the snapshot and records what the agents observe about it.
/// Returns whether it was a policy change.
fn apply(snapshot: &mut ClusterSnapshot, telemetry: &mut Telemetry, event: &Event) -> bool {
    let object = &event.object;
    match event.kind {
        EventKind::Deleted => {
            let ns = str_at(object, "/metadata/namespace");
            let name = str_at(object, "/metadata/name");
            if let Some(kind) = kind(event.resource) {
                snapshot.remove(kind, Some(ns), name);
            }
        }
        EventKind::Added | EventKind::Modified => {
            if let Some(model) = model_object(event.resource, object) {
                snapshot.upsert(model);
            }
        }
    }
    match event.resource {
        Resource::Pods => {
            telemetry.observe_endpoint_change(str_at(object, "/spec/nodeName"));
            false
        }
        Resource::NetworkPolicies
        | Resource::Tier(_)
        | Resource::Native(_)
        | Resource::CalicoCrd(_) => {
            telemetry.observe_policy_change(snapshot.policies.len());
            true
        }
        Resource::Namespaces
        | Resource::Services
        | Resource::Events
        | Resource::Foreign(_)
        | Resource::GitOps(_) => false,
    }
}

/// Runs until the server shuts down.
pub async fn run(shared: Arc<Shared>, agents: Arc<Agents>) {
    let mut shutdown = shared.shutdown.clone();
    let from_store = shared.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let (snapshot, rx) = subscribe(&from_store);
        let plan = TrafficPlan::from_snapshot(&snapshot);
        (snapshot, rx, plan)
    });
    let (mut snapshot, mut rx, plan) = tokio::select! {
        _ = shutdown.changed() => return,
        prepared = prepared => match prepared {
            Ok(prepared) => prepared,
            Err(_) => return,
        },
    };
    let plan = Arc::new(plan);
    // The agents start having imported every policy and endpoint.
    let mut revision = snapshot.policies.len() as u64;
    {
        let mut telemetry = agents.telemetry();
        for n in 1..=snapshot.policies.len() {
            telemetry.observe_policy_change(n);
        }
        for pod in snapshot.pods.values() {
            telemetry.observe_endpoint_change(pod.node.as_deref().unwrap_or_default());
        }
    }
    let mut due = Some(tokio::time::Instant::now());
    let mut last: Option<tokio::time::Instant> = None;
    let mut running: Option<JoinHandle<(Rates, Option<Decisions>, u64)>> = None;
    let mut timeline = Timeline::default();
    // Flows are published up to here (seconds since the start); none before the first
    // evaluation.
    let mut published: Option<f64> = None;
    let mut ticker = tokio::time::interval(FLOW_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut background = tokio::time::interval(BACKGROUND_TICK);
    background.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            received = rx.recv() => match received {
                Ok(event) => {
                    let policy = apply(&mut snapshot, &mut agents.telemetry(), &event);
                    revision += u64::from(policy);
                    let earliest = last.map_or_else(tokio::time::Instant::now, |l| l + MIN_INTERVAL);
                    due.get_or_insert(earliest.max(tokio::time::Instant::now()));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed changes: start over from the store's current state.
                    (snapshot, rx) = subscribe(&shared);
                    revision += 1;
                    due.get_or_insert(tokio::time::Instant::now());
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = sleep_until(due), if due.is_some() && running.is_none() => {
                due = None;
                last = Some(tokio::time::Instant::now());
                let reduced = plan.reduce(&snapshot);
                let plan = plan.clone();
                let flows = agents.flows.is_some();
                running = Some(tokio::task::spawn_blocking(move || {
                    let (rates, decisions) = plan.evaluate_all(reduced, flows);
                    (rates, decisions, revision)
                }));
            }
            done = async { running.as_mut().expect("guarded").await }, if running.is_some() => {
                running = None;
                if let Ok((rates, decisions, revision)) = done {
                    let now = agents.now();
                    agents.telemetry().apply(now, rates, revision);
                    if let (Some(generator), Some(decisions)) = (&agents.flows, decisions) {
                        // Flows before the change are the old evaluation's.
                        if let Some(from) = published {
                            publish(&shared.flow_feed, generator, &timeline, from, now);
                        }
                        published = Some(now);
                        timeline.push(now, decisions, &generator.lagging);
                    }
                }
            }
            _ = background.tick() => agents.telemetry().observe_background_updates(),
            _ = ticker.tick(), if published.is_some() => {
                if let (Some(generator), Some(from)) = (&agents.flows, published) {
                    let now = agents.now();
                    publish(&shared.flow_feed, generator, &timeline, from, now);
                    published = Some(now);
                }
            }
        }
    }
}

/// Publishes the flows of `[from, to)`; beyond [`MAX_BACKLOG`] behind, says how many it skips.
fn publish(feed: &FlowFeed, generator: &FlowGenerator, timeline: &Timeline, from: f64, to: f64) {
    let mut from = from;
    if to - from > MAX_BACKLOG {
        let skipped = generator.due(from, to - MAX_BACKLOG);
        from = to - MAX_BACKLOG;
        feed.publish(FeedItem::Lost {
            count: skipped.end - skipped.start,
            what: "the simulated Hubble observer fell behind".into(),
        });
    }
    for flow in generator.flows(timeline, from, to) {
        feed.publish(FeedItem::Flow(Box::new(flow)));
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
