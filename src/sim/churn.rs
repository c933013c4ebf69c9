//! Load mode: `palisade demo --churn RATE` keeps the demo cluster changing at about RATE watch
//! events per second, through the store's normal write path, so every watcher sees real
//! ADDED / MODIFIED / DELETED events.
//!
//! The [`Planner`] is pure and deterministic (no clock, no randomness): it cycles through the pods
//! and the port-carrying policies that existed when churn started. Out of every eight operations,
//! four replace a pod (create a copy under a new name, then delete the old one: ADDED + DELETED),
//! three relabel a pod (MODIFIED) and one adds a port to a policy's first ingress rule or takes it
//! away again (MODIFIED). The runner ticks every 10 ms and applies one tick's operations under a
//! single store lock. Operations that no longer fit (someone deleted the object with kubectl) are
//! skipped.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::MissedTickBehavior;

use super::http::Shared;
use super::meta::str_at;
use super::patch::PatchKind;
use super::resource::Resource;
use super::store::{ListQuery, Preconditions, Store, WriteOptions};

/// Ticks per second; each tick spends the credit `rate / TICKS_PER_SEC` events.
pub const TICKS_PER_SEC: u32 = 100;
const TICK: Duration = Duration::from_millis(1000 / TICKS_PER_SEC as u64);
/// The highest rate `--churn` accepts (the default event window holds one second of it).
pub const MAX_RATE: u32 = 10_000;
/// The label relabelling sets on pods; no policy selects on it.
pub const CHURN_LABEL: &str = "palisade-churn";
/// The port policy updates add to (and remove from) a policy's first ingress rule.
pub const EXTRA_PORT: u16 = 9100;
const MANAGER: &str = "palisade-churn";

/// One write to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a copy of pod `from` named `to`, then delete `from`: ADDED + DELETED.
    ReplacePod {
        namespace: String,
        from: String,
        to: String,
    },
    /// Set [`CHURN_LABEL`] on a pod to `value`: MODIFIED.
    RelabelPod {
        namespace: String,
        name: String,
        value: u64,
    },
    /// Add [`EXTRA_PORT`] to the policy's first ingress rule (`widen`) or remove it: MODIFIED.
    TogglePolicyPort {
        namespace: String,
        name: String,
        widen: bool,
    },
}

impl Op {
    /// Watch events the operation causes.
    pub fn events(&self) -> u32 {
        match self {
            Op::ReplacePod { .. } => 2,
            Op::RelabelPod { .. } | Op::TogglePolicyPort { .. } => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Replace,
    Relabel,
    Policy,
}

/// The repeating mix: mostly pod churn, some policy updates.
const PATTERN: [Step; 8] = [
    Step::Replace,
    Step::Relabel,
    Step::Replace,
    Step::Relabel,
    Step::Replace,
    Step::Relabel,
    Step::Replace,
    Step::Policy,
];

#[derive(Debug, Clone)]
struct PodSlot {
    namespace: String,
    base: String,
    generation: u64,
}

impl PodSlot {
    fn name(&self) -> String {
        match self.generation {
            0 => self.base.clone(),
            n => format!("{}-c{n}", self.base),
        }
    }
}

#[derive(Debug, Clone)]
struct PolicySlot {
    namespace: String,
    name: String,
    widened: bool,
}

/// Decides which objects change on each tick, and how many.
#[derive(Debug, Clone)]
pub struct Planner {
    rate: u32,
    /// Events owed, in 1/TICKS_PER_SEC of an event; negative after an operation of two events.
    credit: i64,
    pods: Vec<PodSlot>,
    policies: Vec<PolicySlot>,
    next_pod: usize,
    next_policy: usize,
    step: u64,
}

impl Planner {
    /// A planner over the given pods and policies, both as (namespace, name).
    pub fn new(
        rate: NonZeroU32,
        pods: Vec<(String, String)>,
        policies: Vec<(String, String)>,
    ) -> Planner {
        Planner {
            rate: rate.get(),
            credit: 0,
            pods: pods
                .into_iter()
                .map(|(namespace, base)| PodSlot {
                    namespace,
                    base,
                    generation: 0,
                })
                .collect(),
            policies: policies
                .into_iter()
                .map(|(namespace, name)| PolicySlot {
                    namespace,
                    name,
                    widened: false,
                })
                .collect(),
            next_pod: 0,
            next_policy: 0,
            step: 0,
        }
    }

    /// A planner over every pod in the store but the agents, and every policy whose first ingress rule lists
    /// ports (without [`EXTRA_PORT`] already).
    pub fn from_store(store: &Store, rate: NonZeroU32) -> Planner {
        let mut pods = Vec::new();
        each_object(store, Resource::Pods, |pod| {
            // DaemonSet pods (the CNI agents) stay put.
            if !super::agents::is_agent(pod) {
                pods.push(identity(pod));
            }
        });
        let mut policies = Vec::new();
        each_object(store, Resource::NetworkPolicies, |policy| {
            if let Some(ports) = policy
                .pointer("/spec/ingress/0/ports")
                .and_then(Value::as_array)
                && !ports.is_empty()
                && !ports.iter().any(is_extra_port)
            {
                policies.push(identity(policy));
            }
        });
        Planner::new(rate, pods, policies)
    }

    /// The operations of the next tick: on average `rate / TICKS_PER_SEC` events' worth.
    pub fn tick(&mut self) -> Vec<Op> {
        self.credit += i64::from(self.rate);
        let mut ops = Vec::new();
        let per_event = i64::from(TICKS_PER_SEC);
        while self.credit >= per_event {
            let Some(op) = self.next_op() else {
                self.credit = 0; // nothing to churn: do not pile up credit
                break;
            };
            self.credit -= i64::from(op.events()) * per_event;
            ops.push(op);
        }
        ops
    }

    fn next_op(&mut self) -> Option<Op> {
        let planned = PATTERN[(self.step % PATTERN.len() as u64) as usize];
        self.step += 1;
        let step = match planned {
            _ if self.pods.is_empty() && self.policies.is_empty() => return None,
            Step::Policy if self.policies.is_empty() => Step::Relabel,
            _ if self.pods.is_empty() => Step::Policy,
            other => other,
        };
        if step == Step::Policy {
            let index = self.next_policy;
            self.next_policy = (index + 1) % self.policies.len();
            let slot = &mut self.policies[index];
            slot.widened = !slot.widened;
            return Some(Op::TogglePolicyPort {
                namespace: slot.namespace.clone(),
                name: slot.name.clone(),
                widen: slot.widened,
            });
        }
        let index = self.next_pod;
        self.next_pod = (index + 1) % self.pods.len();
        let slot = &mut self.pods[index];
        Some(match step {
            Step::Replace => {
                let from = slot.name();
                slot.generation += 1;
                Op::ReplacePod {
                    namespace: slot.namespace.clone(),
                    from,
                    to: slot.name(),
                }
            }
            _ => Op::RelabelPod {
                namespace: slot.namespace.clone(),
                name: slot.name(),
                value: self.step,
            },
        })
    }
}

fn identity(object: &Value) -> (String, String) {
    (
        str_at(object, "/metadata/namespace").to_string(),
        str_at(object, "/metadata/name").to_string(),
    )
}

fn extra_port() -> Value {
    json!({"protocol": "TCP", "port": EXTRA_PORT})
}

fn is_extra_port(port: &Value) -> bool {
    *port == extra_port()
}

/// Visits every object of a kind page by page, so the store is never copied whole.
pub(super) fn each_object(store: &Store, resource: Resource, mut visit: impl FnMut(&Value)) {
    let mut token: Option<String> = None;
    loop {
        let query = ListQuery {
            limit: Some(500),
            continue_token: token.as_deref(),
            ..ListQuery::default()
        };
        let Ok(page) = store.list(resource, &query) else {
            return;
        };
        for item in page["items"].as_array().into_iter().flatten() {
            visit(item);
        }
        match page.pointer("/metadata/continue").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return,
        }
    }
}

/// Applies one operation; returns whether the store changed. Failures (the object is gone, the
/// new name is taken) skip the operation.
pub fn apply(store: &mut Store, op: &Op) -> bool {
    let opts = WriteOptions {
        dry_run: false,
        field_manager: MANAGER.into(),
        operation: "Update",
        strict_fields: false,
    };
    match op {
        Op::ReplacePod {
            namespace,
            from,
            to,
        } => {
            let Ok(mut pod) = store.get(Resource::Pods, namespace, from) else {
                return false;
            };
            if let Some(meta) = pod["metadata"].as_object_mut() {
                for field in [
                    "uid",
                    "resourceVersion",
                    "creationTimestamp",
                    "generation",
                    "managedFields",
                ] {
                    meta.remove(field);
                }
                meta.insert("name".into(), json!(to));
            }
            // The copy keeps the old pod's node and IP, like a restarted StatefulSet pod, so
            // addresses stay unique. Create first: when that fails, the old pod stays.
            store.create(Resource::Pods, namespace, pod, &opts).is_ok()
                && store
                    .delete(
                        Resource::Pods,
                        namespace,
                        from,
                        &Preconditions::default(),
                        &opts,
                    )
                    .is_ok()
        }
        Op::RelabelPod {
            namespace,
            name,
            value,
        } => {
            let body = json!({"metadata": {"labels": {CHURN_LABEL: value.to_string()}}});
            store
                .patch(
                    Resource::Pods,
                    namespace,
                    name,
                    PatchKind::Merge,
                    body.to_string().as_bytes(),
                    &opts,
                )
                .is_ok()
        }
        Op::TogglePolicyPort {
            namespace,
            name,
            widen,
        } => {
            let Ok(mut policy) = store.get(Resource::NetworkPolicies, namespace, name) else {
                return false;
            };
            let Some(ports) = policy
                .pointer_mut("/spec/ingress/0/ports")
                .and_then(Value::as_array_mut)
            else {
                return false;
            };
            ports.retain(|p| !is_extra_port(p));
            if *widen {
                ports.push(extra_port());
            }
            store
                .replace(Resource::NetworkPolicies, namespace, name, policy, &opts)
                .is_ok()
        }
    }
}

/// The effective rate: at most one event window per second, so a watcher one second behind can
/// still resume instead of relisting.
pub fn limit(rate: NonZeroU32, event_window: usize) -> NonZeroU32 {
    let window = u32::try_from(event_window).unwrap_or(u32::MAX);
    NonZeroU32::new(rate.get().min(window)).unwrap_or(NonZeroU32::MIN)
}

/// Runs the planner against the shared store every tick until the server shuts down.
pub async fn run(shared: Arc<Shared>, mut planner: Planner) {
    let mut shutdown = shared.shutdown.clone();
    let mut ticker = tokio::time::interval(TICK);
    // After a stall, skip the missed ticks instead of bursting to catch up.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {
                let ops = planner.tick();
                if ops.is_empty() {
                    continue;
                }
                let mut store = shared.store();
                for op in &ops {
                    apply(&mut store, op);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "churn_tests.rs"]
mod tests;
