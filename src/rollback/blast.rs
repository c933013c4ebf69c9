//! The blast radius of a plan (pure): the engine before (live) and after (desired), and the tenant
//! and workload pairs whose allowed connections differ. A NetworkPolicy only selects pods of its
//! own namespace, so only pairs with one end there can change; those are all that is visited. A
//! cluster-scoped tier policy can change any pair, so every pair is.

use std::collections::{BTreeMap, HashMap};

use super::plan::Plan;
use crate::cluster::convert;
use crate::history::{PolicyKey, PolicyObject};
use crate::isolation::config::AnalysisConfig;
use crate::isolation::matrix::{Cell, Matrix, group_rank, tenant_matrix};
use crate::isolation::tenants::Group;
use crate::model::{ClusterObject, ClusterSnapshot, NativePolicyInfo, ObjectRef, TierPolicyInfo};
use crate::policy::{ConnSet, Engine, Peer};

/// At most this many workload pairs are listed; `workload_pairs_total` counts them all.
pub const MAX_WORKLOAD_PAIRS: usize = 200;

/// One pair whose connectivity changes; `before`/`after` in the connlist grammar
/// (`All Connections`, `No Connections`, `TCP 80,UDP 53`), tenant cells with their level.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PairChange {
    pub from: String,
    pub to: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlastRadius {
    /// Tenant (group) pairs, including `external` as either end, in matrix order.
    pub tenant_pairs: Vec<PairChange>,
    /// Workload (pod class) pairs, named `namespace/first-pod (+n)`; the first
    /// [`MAX_WORKLOAD_PAIRS`].
    pub workload_pairs: Vec<PairChange>,
    pub workload_pairs_total: usize,
    /// Pods a NetworkPolicy selects before and after (`None` for a tier policy, whose subject
    /// the engine evaluates per pair).
    pub pods_selected: Option<(usize, usize)>,
    /// The desired policy does not validate: the engine leaves it out (so would the server).
    pub invalid: Vec<String>,
}

impl BlastRadius {
    pub fn is_empty(&self) -> bool {
        self.tenant_pairs.is_empty() && self.workload_pairs_total == 0
    }

    /// "; the policy selects N pod(s) now, M after", or nothing for a tier policy.
    pub fn selection(&self) -> String {
        match self.pods_selected {
            Some((now, after)) => format!("; the policy selects {now} pod(s) now, {after} after"),
            None => String::new(),
        }
    }

    /// A few lines for the headless command and the console's summary.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} tenant pair(s) and {} workload pair(s) change{}\n",
            self.tenant_pairs.len(),
            self.workload_pairs_total,
            self.selection()
        );
        for error in &self.invalid {
            out.push_str(&format!("  invalid: {error}\n"));
        }
        for pair in &self.tenant_pairs {
            out.push_str(&format!(
                "  tenant {} => {}: {} -> {}\n",
                pair.from, pair.to, pair.before, pair.after
            ));
        }
        for pair in &self.workload_pairs {
            out.push_str(&format!(
                "  {} => {}: {} -> {}\n",
                pair.from, pair.to, pair.before, pair.after
            ));
        }
        if self.workload_pairs_total > self.workload_pairs.len() {
            out.push_str(&format!(
                "  … and {} more workload pair(s)\n",
                self.workload_pairs_total - self.workload_pairs.len()
            ));
        }
        out
    }
}

/// The snapshot with the target policy as `object` (`None`: absent): a NetworkPolicy in
/// `snapshot.policies`, a tier policy in `snapshot.tiers`, a CNI policy in `snapshot.natives`
/// (the engine compiles it as `Engine::update_native` would).
fn with_policy(
    snapshot: &ClusterSnapshot,
    target: &PolicyKey,
    object: Option<&PolicyObject>,
) -> ClusterSnapshot {
    let mut out = snapshot.clone();
    match target {
        PolicyKey::Network(id) => {
            out.policies.remove(id);
            if let Some(policy) = object.and_then(PolicyObject::as_network) {
                let mut policy = policy.clone();
                policy.metadata.namespace = Some(id.namespace.clone());
                policy.metadata.name = Some(id.name.clone());
                if let ClusterObject::Policy(info) = convert::policy(&policy) {
                    out.policies.insert(id.clone(), info);
                }
            }
        }
        PolicyKey::Tier(tier) => {
            out.tiers.remove(tier);
            if let Some(info) = object.and_then(PolicyObject::as_tier) {
                let mut object = info.object.clone();
                object.metadata.name = Some(tier.name.clone());
                object.metadata.namespace = None;
                out.tiers.insert(
                    tier.clone(),
                    TierPolicyInfo {
                        id: tier.clone(),
                        object,
                    },
                );
            }
        }
        PolicyKey::Native(native) => {
            out.natives.remove(native);
            if let Some(info) = object.and_then(PolicyObject::as_native) {
                let mut object = info.object.clone();
                object.metadata.name = Some(native.name.clone());
                object.metadata.namespace =
                    native.kind.namespaced().then(|| native.namespace.clone());
                out.natives.insert(
                    native.clone(),
                    NativePolicyInfo {
                        id: native.clone(),
                        object,
                    },
                );
            }
        }
    }
    out
}

/// The engines of `snapshot` with `target` as `before` and as `after` (`None`: absent): what a
/// blast radius compares (also used by `suspects`, which compares a journal change's two sides).
pub fn engines(
    snapshot: &ClusterSnapshot,
    config: &AnalysisConfig,
    target: &PolicyKey,
    before: Option<&PolicyObject>,
    after: Option<&PolicyObject>,
) -> (Engine, Engine) {
    let settings = config.settings_for(snapshot);
    (
        Engine::from_snapshot(with_policy(snapshot, target, before), settings),
        Engine::from_snapshot(with_policy(snapshot, target, after), settings),
    )
}

pub fn blast_radius(
    snapshot: &ClusterSnapshot,
    config: &AnalysisConfig,
    plan: &Plan,
) -> BlastRadius {
    let rules = &config.tenant_rules;
    let (before, after) = engines(
        snapshot,
        config,
        &plan.target,
        plan.live.as_ref(),
        plan.desired.as_ref(),
    );
    let invalid = match &plan.target {
        PolicyKey::Network(id) => after
            .validation_errors()
            .filter(|e| &e.object == id)
            .map(ToString::to_string)
            .collect(),
        PolicyKey::Native(native) => after
            .validation_errors()
            .filter(|e| {
                e.kind == native.kind.kind()
                    && e.object.namespace == native.namespace
                    && e.object.name == native.name
            })
            .map(ToString::to_string)
            .collect(),
        PolicyKey::Tier(_) => Vec::new(),
    };
    let tenant_pairs = tenant_changes(
        &tenant_matrix(&before, before.snapshot(), rules),
        &tenant_matrix(&after, after.snapshot(), rules),
    );
    let (workload_pairs, workload_pairs_total) = workload_changes(&before, &after, &plan.target);
    BlastRadius {
        tenant_pairs,
        workload_pairs,
        workload_pairs_total,
        pods_selected: plan
            .target
            .as_network()
            .map(|id| (selected(&before, id), selected(&after, id))),
        invalid,
    }
}

fn selected(engine: &Engine, target: &ObjectRef) -> usize {
    let Some(policy) = engine.policies().get(target) else {
        return 0;
    };
    let classes = &engine.classes().classes;
    engine
        .classes()
        .by_namespace
        .get(&target.namespace)
        .into_iter()
        .flatten()
        .filter(|c| crate::policy::matching::selects(policy, &classes[**c].endpoint))
        .map(|c| classes[*c].members.len())
        .sum()
}

fn describe(cell: Option<&Cell>) -> String {
    match cell {
        None => "No Connections (no pods)".to_string(),
        Some(cell) => format!(
            "{} ({}, {}/{} pairs)",
            cell.conns,
            cell.level.as_str(),
            cell.pairs_allowed,
            cell.pairs_total
        ),
    }
}

fn differs(a: Option<&Cell>, b: Option<&Cell>) -> bool {
    let key = |c: Option<&Cell>| c.map(|c| (c.conns.clone(), c.pairs_allowed, c.pairs_total));
    key(a) != key(b)
}

fn external<'m>(m: &'m Matrix, g: &Group, inbound: bool) -> Option<&'m Cell> {
    let i = m.index_of(g)?;
    Some(if inbound {
        &m.external_in[i]
    } else {
        &m.external_out[i]
    })
}

fn tenant_changes(before: &Matrix, after: &Matrix) -> Vec<PairChange> {
    let mut groups: Vec<Group> = before.groups.clone();
    for g in &after.groups {
        if !groups.contains(g) {
            groups.push(g.clone());
        }
    }
    groups.sort_by_key(group_rank);
    let mut out = Vec::new();
    let mut push = |from: &str, to: &str, a: Option<&Cell>, b: Option<&Cell>| {
        if differs(a, b) {
            out.push(PairChange {
                from: from.to_string(),
                to: to.to_string(),
                before: describe(a),
                after: describe(b),
            });
        }
    };
    for src in &groups {
        for dst in &groups {
            push(
                src.label(),
                dst.label(),
                before.cell(src, dst),
                after.cell(src, dst),
            );
        }
    }
    for g in &groups {
        push(
            "external",
            g.label(),
            external(before, g, true),
            external(after, g, true),
        );
        push(
            g.label(),
            "external",
            external(before, g, false),
            external(after, g, false),
        );
    }
    out
}

/// A pod's class in both engines: pods with the same pair behave the same before and after.
pub type Joint = (usize, usize);

/// The pods both engines have, each with its joint class: class of `before` by class, members
/// in pod order (so a joint's first pod here is its first in pod order).
pub fn pods_by_joint<'a>(
    before: &'a Engine,
    after: &'a Engine,
) -> impl Iterator<Item = (&'a ObjectRef, Joint)> + 'a {
    let after_classes: HashMap<&ObjectRef, usize> = after.classes().pods().collect();
    (before.classes().pods()).filter_map(move |(pod, b)| Some((pod, (b, *after_classes.get(pod)?))))
}

fn workload_changes(
    before: &Engine,
    after: &Engine,
    target: &PolicyKey,
) -> (Vec<PairChange>, usize) {
    // Joint class -> (namespace, representative pod, member count), in pod order.
    let mut joints: BTreeMap<Joint, (ObjectRef, usize)> = BTreeMap::new();
    for (pod, joint) in pods_by_joint(before, after) {
        joints
            .entry(joint)
            .and_modify(|(_, n)| *n += 1)
            .or_insert((pod.clone(), 1));
    }
    let mut ordered: Vec<(Joint, &ObjectRef, usize)> =
        joints.iter().map(|(j, (pod, n))| (*j, pod, *n)).collect();
    ordered.sort_by(|a, b| a.1.cmp(b.1));
    let name = |pod: &ObjectRef, n: usize| match n {
        1 => pod.to_string(),
        n => format!("{pod} (+{})", n - 1),
    };
    // Only pairs with an end in the policy's namespace: those in it × all, and the rest × those
    // in it (in pod order, so the list reads source by source). A cluster-scoped policy is in
    // every namespace.
    let in_scope = |pod: &ObjectRef| match target.namespace_opt() {
        Some(namespace) => pod.namespace == namespace,
        None => true,
    };
    let inside: Vec<usize> = (0..ordered.len())
        .filter(|i| in_scope(ordered[*i].1))
        .collect();
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for s in 0..ordered.len() {
        if in_scope(ordered[s].1) {
            candidates.extend((0..ordered.len()).map(|d| (s, d)));
        } else {
            candidates.extend(inside.iter().map(|d| (s, *d)));
        }
    }
    let mut out = Vec::new();
    let mut total = 0;
    for (si, di) in candidates {
        let ((s, s_pod, s_n), (d, d_pod, d_n)) = (&ordered[si], &ordered[di]);
        let was: ConnSet = before.allowed(&Peer::Class(s.0), &Peer::Class(d.0));
        let now: ConnSet = after.allowed(&Peer::Class(s.1), &Peer::Class(d.1));
        if was == now {
            continue;
        }
        total += 1;
        if out.len() < MAX_WORKLOAD_PAIRS {
            out.push(PairChange {
                from: name(s_pod, *s_n),
                to: name(d_pod, *d_n),
                before: was.to_string(),
                after: now.to_string(),
            });
        }
    }
    (out, total)
}
