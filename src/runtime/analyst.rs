//! The console's analyst: one long-lived thread that keeps the engine between analyses and
//! updates it with what changed (`app::changes`), instead of building a new one from a copy of
//! the whole snapshot each time. Jobs run in the order they were sent, so each change set
//! applies on top of the one before; the executor sends a full snapshot whenever that chain is
//! broken (the first analysis of a context, a relist, a restarted thread).

use std::collections::BTreeSet;
use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::app::Msg;
use crate::app::changes::{AnalystReport, Changes, Rebuild};
use crate::app::subscriptions::AnalysisSettings;
use crate::flow::FlowId;
use crate::isolation::analysis::{Analysis, KeptMatrix, derive_keeping};
use crate::isolation::cni;
use crate::isolation::matrix::Matrix;
use crate::model::ClusterSnapshot;
use crate::policy::{Engine, RowHandles};

/// More changed policy objects than this: one build from the analyst's own snapshot beats
/// updating them one by one (each update re-evaluates the classes it selects).
const MANY_POLICY_CHANGES: usize = 64;

/// What to analyse: a whole snapshot, or the changes since the previous job with the snapshot
/// they lead to. Either snapshot is the console's own version (an O(1) copy), which the engine
/// keeps: one snapshot, shared, not a copy per holder.
#[derive(Debug)]
pub enum Job {
    Full(ClusterSnapshot),
    Delta {
        changes: Changes,
        now: ClusterSnapshot,
    },
}

/// The engine kept between analyses, and how each analysis was reached.
#[derive(Debug, Default)]
pub struct Analyst {
    engine: Option<Engine>,
    /// The last analysis' tenant matrix, the settings it was computed with and the engine's
    /// rows then: kept when only pods moved between classes since, kept but for the groups of
    /// the classes whose rows changed when policies changed on the same classes.
    matrix: Option<(AnalysisSettings, Arc<Matrix>, RowHandles)>,
    pub report: AnalystReport,
}

impl Analyst {
    /// The snapshot the kept engine holds, if it has one.
    #[cfg(test)]
    pub fn snapshot(&self) -> Option<&ClusterSnapshot> {
        self.engine.as_ref().map(Engine::snapshot)
    }

    /// Applies a job and analyses the result; what it had to rebuild for it.
    pub fn analyse(&mut self, settings: &AnalysisSettings, job: Job) -> (Analysis, Rebuild) {
        let confined = match &job {
            Job::Delta { changes, .. } => confined_to(changes),
            Job::Full(_) => None,
        };
        let (mut engine, mut rebuild) = match (job, self.engine.take()) {
            (Job::Full(snapshot), _) => (
                Engine::from_snapshot(snapshot, Default::default()),
                Rebuild::Full,
            ),
            (Job::Delta { changes, now }, Some(engine)) => apply(engine, changes, now),
            // The executor never sends a delta to an analyst without an engine; should it,
            // the snapshot the delta leads to is all there is to build from.
            (Job::Delta { now, .. }, None) => (
                Engine::from_snapshot(now, Default::default()),
                Rebuild::Full,
            ),
        };
        // The settings follow the CNI, which follows the agents and kinds present.
        let resolved = cni::resolve(settings.cni, engine.snapshot());
        let wanted = settings.ip_block_pods.for_cni(resolved.cni);
        if wanted != engine.settings() {
            engine = Engine::from_snapshot(engine.into_snapshot(), wanted);
            rebuild = Rebuild::Full;
        }
        let labels_known = !settings.labels_unknown;
        let rows_now = engine.row_handles();
        let kept = match (rebuild, self.matrix.take()) {
            (Rebuild::Members, Some((before, matrix, _))) if before == *settings => {
                KeptMatrix::Whole(matrix)
            }
            (Rebuild::Incremental, Some((before, matrix, rows))) if before == *settings => {
                let classes = &engine.classes().classes;
                // A confined delta names its namespaces; otherwise the rows tell which changed.
                match confined {
                    Some(namespaces) => KeptMatrix::Except {
                        matrix,
                        namespaces,
                        confined: true,
                    },
                    None => match rows_now.changed_since(&rows) {
                        Some(changed) => KeptMatrix::Except {
                            matrix,
                            namespaces: (changed.iter())
                                .map(|&c| classes[c].endpoint.namespace.clone())
                                .collect(),
                            confined: false,
                        },
                        None => KeptMatrix::None,
                    },
                }
            }
            (Rebuild::NewClasses, Some((before, matrix, _))) if before == *settings => {
                match confined {
                    Some(namespaces) => KeptMatrix::Except {
                        matrix,
                        namespaces,
                        confined: true,
                    },
                    None => KeptMatrix::None,
                }
            }
            _ => KeptMatrix::None,
        };
        let derived = derive_keeping(
            &engine,
            &settings.rules,
            settings.intent.as_ref(),
            labels_known,
            kept,
        );
        self.matrix = Some((settings.clone(), derived.matrix.clone(), rows_now));
        let analysis = derived.with_engine(resolved, Arc::new(engine.read_only_copy()));
        self.engine = Some(engine);
        (analysis, rebuild)
    }
}

/// The namespaces a delta's changes are confined to: pods and namespaced policies change only
/// their own namespace's classes. `None` when a namespace, a tier policy or a cluster-wide
/// native policy changed, which can change any class.
fn confined_to(changes: &Changes) -> Option<BTreeSet<String>> {
    if !changes.namespaces.is_empty() || !changes.tiers.is_empty() {
        return None;
    }
    let namespaced = (changes.natives.iter()).all(|(id, _)| id.kind.namespaced());
    namespaced.then(|| {
        (changes.pods.iter().map(|(id, _)| &id.namespace))
            .chain(changes.policies.iter().map(|(id, _)| &id.namespace))
            .chain(changes.natives.iter().map(|(id, _)| &id.namespace))
            .cloned()
            .collect()
    })
}

/// The changes applied to the kept engine: policies one by one, then pods and namespaces (which
/// re-form the classes unless the pods only moved between existing ones or formed classes of
/// their own). The engine then keeps `now`, the console's version of what it has become.
fn apply(mut engine: Engine, changes: Changes, now: ClusterSnapshot) -> (Engine, Rebuild) {
    if changes.policy_count() > MANY_POLICY_CHANGES {
        return (Engine::from_snapshot(now, engine.settings()), Rebuild::Full);
    }
    let changes_policies = changes.policy_count() > 0;
    let mut classes_rebuilt = false;
    for (id, policy) in &changes.policies {
        classes_rebuilt |= engine.update_policy(id, policy.as_deref()).0.full_rebuild;
    }
    for (id, tier) in &changes.tiers {
        classes_rebuilt |= engine.update_tier(id, tier.as_deref()).0.full_rebuild;
    }
    for (id, native) in &changes.natives {
        classes_rebuilt |= engine.update_native(id, native.as_deref()).0.full_rebuild;
    }
    let mut renumbered = false;
    if !changes.pods.is_empty() || !changes.namespaces.is_empty() {
        let stats = engine.update_workloads(changes.namespaces, changes.pods);
        classes_rebuilt |= stats.full_rebuild;
        renumbered = stats.renumbered;
    }
    engine.adopt_snapshot(now);
    let rebuild = match (classes_rebuilt, renumbered, changes_policies) {
        (true, _, _) => Rebuild::Classes,
        (false, true, _) => Rebuild::NewClasses,
        (false, false, true) => Rebuild::Incremental,
        (false, false, false) => Rebuild::Members,
    };
    (engine, rebuild)
}

/// One request to the analyst thread.
struct Request {
    flow: FlowId,
    settings: AnalysisSettings,
    job: Job,
    reply: mpsc::UnboundedSender<Msg>,
}

/// The executor's end of the analyst thread. Remembers the last job sent, so a delta goes only
/// where it applies.
#[derive(Default)]
pub struct AnalystHandle {
    tx: Option<std_mpsc::Sender<Request>>,
    last_sent: Option<FlowId>,
}

impl AnalystHandle {
    /// Whether a delta on top of `base` would apply to the analyst's engine.
    pub fn extends(&self, base: FlowId) -> bool {
        self.tx.is_some() && self.last_sent == Some(base)
    }

    /// Sends a job; the answer comes back on `reply` as `Msg::Analyzed` (with the analyst's
    /// report first). A delta that does not extend the last job is refused by the caller's
    /// check ([`AnalystHandle::extends`]); `full` is asked for when the thread has to restart.
    pub fn send(
        &mut self,
        flow: FlowId,
        settings: AnalysisSettings,
        job: Job,
        reply: mpsc::UnboundedSender<Msg>,
        full: impl FnOnce() -> ClusterSnapshot,
    ) {
        let mut request = Request {
            flow,
            settings,
            job,
            reply,
        };
        if let Some(tx) = &self.tx {
            match tx.send(request) {
                Ok(()) => {
                    self.last_sent = Some(flow);
                    return;
                }
                // The thread is gone (it panicked): start again from the whole snapshot.
                Err(std_mpsc::SendError(back)) => request = back,
            }
        }
        if matches!(request.job, Job::Delta { .. }) {
            request.job = Job::Full(full());
        }
        let (tx, rx) = std_mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("palisade-analyst".into())
            .spawn(move || run(rx));
        if spawned.is_ok() && tx.send(request).is_ok() {
            self.tx = Some(tx);
            self.last_sent = Some(flow);
        } else {
            self.tx = None;
            self.last_sent = None;
        }
    }
}

/// The analyst thread: jobs in order until the executor goes away.
fn run(rx: std_mpsc::Receiver<Request>) {
    let mut analyst = Analyst::default();
    while let Ok(request) = rx.recv() {
        let start = Instant::now();
        let (analysis, rebuild) = analyst.analyse(&request.settings, request.job);
        analyst.report.record(rebuild, start.elapsed());
        // The console may have quit meanwhile; nothing to do then.
        let _ = request.reply.send(Msg::Analyst(analyst.report.clone()));
        let _ = request.reply.send(Msg::Analyzed {
            flow: request.flow,
            analysis: Box::new(analysis),
        });
    }
}
