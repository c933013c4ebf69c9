//! What changed in the snapshot between analyses, so the runtime's analyst can update the engine
//! it keeps instead of building a new one from a copy of the whole snapshot. Pure.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::flow::FlowId;
use crate::model::{
    ClusterObject, ClusterSnapshot, NamespaceInfo, NativePolicyInfo, NativeRef, ObjectRef, PodInfo,
    PolicyInfo, ResourceKind, TierPolicyInfo, TierRef,
};

/// The identities of the objects applied or deleted since the last analysis was asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeRecord {
    /// A kind was (re)listed: the analyst starts again from a copy of the snapshot.
    pub relisted: bool,
    pub namespaces: BTreeSet<String>,
    pub pods: BTreeSet<ObjectRef>,
    pub policies: BTreeSet<ObjectRef>,
    pub tiers: BTreeSet<TierRef>,
    pub natives: BTreeSet<NativeRef>,
}

impl ChangeRecord {
    pub fn applied(&mut self, object: &ClusterObject) {
        match object {
            ClusterObject::Namespace(ns) => self.namespaces.insert(ns.name.clone()),
            ClusterObject::Pod(pod) => self.pods.insert(pod.id.clone()),
            ClusterObject::Policy(policy) => self.policies.insert(policy.id.clone()),
            ClusterObject::Tier(tier) => self.tiers.insert(tier.id.clone()),
            ClusterObject::Native(native) => self.natives.insert(native.id.clone()),
        };
    }

    /// A deletion, keyed as `ClusterSnapshot::remove` keys it.
    pub fn deleted(&mut self, kind: ResourceKind, namespace: Option<&str>, name: &str) {
        let namespaced = || ObjectRef::new(namespace.unwrap_or_default(), name);
        match kind {
            ResourceKind::Namespace => self.namespaces.insert(name.to_string()),
            ResourceKind::Pod => self.pods.insert(namespaced()),
            ResourceKind::NetworkPolicy => self.policies.insert(namespaced()),
            ResourceKind::Tier(tier) => self.tiers.insert(TierRef::new(tier, name)),
            ResourceKind::Native(native) => {
                let namespace = namespace
                    .filter(|_| native.namespaced())
                    .unwrap_or_default();
                self.natives.insert(NativeRef::new(native, namespace, name))
            }
        };
    }

    /// Both records' changes.
    pub fn with(&self, other: &ChangeRecord) -> ChangeRecord {
        let mut out = self.clone();
        out.relisted |= other.relisted;
        out.namespaces.extend(other.namespaces.iter().cloned());
        out.pods.extend(other.pods.iter().cloned());
        out.policies.extend(other.policies.iter().cloned());
        out.tiers.extend(other.tiers.iter().cloned());
        out.natives.extend(other.natives.iter().cloned());
        out
    }

    /// How many objects changed (for deciding that a rebuild is cheaper).
    pub fn len(&self) -> usize {
        self.namespaces.len()
            + self.pods.len()
            + self.policies.len()
            + self.tiers.len()
            + self.natives.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The changed objects as they are now in `cluster` (`None`: deleted).
    pub fn objects(&self, cluster: &ClusterSnapshot) -> Changes {
        Changes {
            namespaces: (self.namespaces.iter())
                .map(|k| (k.clone(), cluster.namespaces.get_shared(k).cloned()))
                .collect(),
            pods: (self.pods.iter())
                .map(|k| (k.clone(), cluster.pods.get_shared(k).cloned()))
                .collect(),
            policies: (self.policies.iter())
                .map(|k| (k.clone(), cluster.policies.get_shared(k).cloned()))
                .collect(),
            tiers: (self.tiers.iter())
                .map(|k| (k.clone(), cluster.tiers.get_shared(k).cloned()))
                .collect(),
            natives: (self.natives.iter())
                .map(|k| (k.clone(), cluster.natives.get_shared(k).cloned()))
                .collect(),
        }
    }
}

/// Changed objects, each with its current version or `None` when deleted. The versions are
/// the console snapshot's own objects, shared, not copies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub namespaces: Vec<(String, Option<Arc<NamespaceInfo>>)>,
    pub pods: Vec<(ObjectRef, Option<Arc<PodInfo>>)>,
    pub policies: Vec<(ObjectRef, Option<Arc<PolicyInfo>>)>,
    pub tiers: Vec<(TierRef, Option<Arc<TierPolicyInfo>>)>,
    pub natives: Vec<(NativeRef, Option<Arc<NativePolicyInfo>>)>,
}

impl Changes {
    /// Policy objects of any kind that changed.
    pub fn policy_count(&self) -> usize {
        self.policies.len() + self.tiers.len() + self.natives.len()
    }
}

/// The changes of one context, between the analyses `update` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeLog {
    /// Since the last analysis was asked for.
    pub pending: ChangeRecord,
    /// What the latest analysis asked for is to apply, and the analysis it extends (`None`: a
    /// full build from a copy of the snapshot).
    pub asked: Option<(Option<FlowId>, ChangeRecord)>,
    /// The latest analysis asked for in this context.
    last: Option<FlowId>,
}

impl ChangeLog {
    /// An analysis is asked for: it takes the pending changes, on top of the one asked before.
    pub fn ask(&mut self, flow: FlowId) {
        let record = std::mem::take(&mut self.pending);
        let base = self.last.filter(|_| !record.relisted);
        self.asked = Some((base, record));
        self.last = Some(flow);
    }
}

/// What the analyst had to redo for an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuild {
    /// A new engine: the first analysis, a relist, new settings, many policy changes.
    Full,
    /// Pods or namespaces changed: the classes and their rows again, policies kept compiled.
    Classes,
    /// Policy changes, and pods that moved between existing classes: the classes the policies
    /// select.
    Incremental,
    /// Pods that moved between existing classes and nothing else: no row and not the tenant
    /// matrix computed again.
    Members,
    /// Pods that formed new classes or left some empty (a relabel to labels no pod had): the
    /// classes renumbered, the new ones' rows and a column in each kept row.
    NewClasses,
}

/// How many analyses took each path, with the latest durations (for p50/p95).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RebuildStats {
    pub count: u64,
    pub recent: VecDeque<Duration>,
}

impl RebuildStats {
    const KEPT: usize = 64;

    /// The `q` quantile (0..=1) of the recent durations.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted: Vec<Duration> = self.recent.iter().copied().collect();
        sorted.sort();
        let last = sorted.len().checked_sub(1)?;
        sorted.get(((last as f64) * q).round() as usize).copied()
    }
}

/// The analyst's account of itself: full builds against incremental updates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalystReport {
    pub full: RebuildStats,
    pub classes: RebuildStats,
    pub incremental: RebuildStats,
    pub members: RebuildStats,
    pub new_classes: RebuildStats,
}

impl AnalystReport {
    pub fn record(&mut self, rebuild: Rebuild, took: Duration) {
        let stats = match rebuild {
            Rebuild::Full => &mut self.full,
            Rebuild::Classes => &mut self.classes,
            Rebuild::Incremental => &mut self.incremental,
            Rebuild::Members => &mut self.members,
            Rebuild::NewClasses => &mut self.new_classes,
        };
        stats.count += 1;
        if stats.recent.len() == RebuildStats::KEPT {
            stats.recent.pop_front();
        }
        stats.recent.push_back(took);
    }

    /// Each path with a name for the operator.
    pub fn paths(&self) -> [(&'static str, &RebuildStats); 5] {
        [
            ("analysis: full build", &self.full),
            ("analysis: classes rebuilt", &self.classes),
            ("analysis: incremental", &self.incremental),
            ("analysis: pods moved", &self.members),
            ("analysis: new classes", &self.new_classes),
        ]
    }
}
