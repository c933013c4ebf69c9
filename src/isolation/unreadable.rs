//! Namespace labels the user cannot read (a namespace-scoped user, `labels_known` false): a
//! NetworkPolicy peer's namespaceSelector on any label but `kubernetes.io/metadata.name` may or
//! may not match a namespace. Such policies are evaluated twice, once with those selectors
//! matching every namespace their name requirements allow and once matching none; where the
//! two disagree, the connection is undecided and its cell unknown, never shown closed.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::matrix::{Cell, Level};
use crate::model::scope::{NAME_LABEL, reads_other_labels};
use crate::model::{ClusterObject, ClusterSnapshot, NativeKind};
use crate::policy::{ConnSet, Direction, Engine, Peer};

#[path = "unreadable_calico.rs"]
mod calico;
#[path = "unreadable_cilium.rs"]
mod cilium;

/// A label value no namespace name can have (names have no dots): a selector asking for it
/// matches no namespace.
pub(super) const NO_NAMESPACE: &str = "palisade.unreadable";

/// What depends on namespace labels the user cannot read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnreadableLabels {
    /// The policies with such selectors, with the direction of the rules holding them.
    pub policies: Vec<UndecidedPolicy>,
    /// Per class pair (source, destination) of the engine: the connections that depend on them.
    pub pairs: BTreeMap<(usize, usize), ConnSet>,
}

/// A policy with a selector on unreadable namespace labels in one direction.
#[derive(Debug, Clone, PartialEq)]
pub struct UndecidedPolicy {
    /// As the console names it: `ns/name` (NetworkPolicy), `cnp/ns/name` (Cilium).
    pub id: String,
    pub namespace: String,
    pub direction: Direction,
    /// `namespaceSelector`, or Cilium's `fromEndpoints`/`toEndpoints`.
    pub field: &'static str,
}

/// How a selector on unreadable labels is taken: matching all it may match, or nothing.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Bound {
    MatchAll,
    MatchNone,
}

impl UnreadableLabels {
    /// The class pairs of `engine` whose verdict the unreadable labels could change.
    pub fn of(engine: &Engine) -> UnreadableLabels {
        let snapshot = engine.snapshot();
        let policies = undecided_policies(snapshot);
        if policies.is_empty() {
            return UnreadableLabels::default();
        }
        let upper = Engine::from_snapshot(bounded(snapshot, Bound::MatchAll), engine.settings());
        let lower = Engine::from_snapshot(bounded(snapshot, Bound::MatchNone), engine.settings());
        let classes = engine.classes();
        let count = classes.classes.len();
        let in_namespace = |dir: Direction| -> Vec<usize> {
            let mut namespaces: Vec<&str> = (policies.iter())
                .filter(|p| p.direction == dir)
                .map(|p| p.namespace.as_str())
                .collect();
            namespaces.sort_unstable();
            namespaces.dedup();
            (namespaces.iter())
                .filter_map(|ns| classes.by_namespace.get(*ns))
                .flatten()
                .copied()
                .collect()
        };
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        for d in in_namespace(Direction::Ingress) {
            candidates.extend((0..count).map(|s| (s, d)));
        }
        for s in in_namespace(Direction::Egress) {
            candidates.extend((0..count).map(|d| (s, d)));
        }
        candidates.sort_unstable();
        candidates.dedup();
        // The same pods classed by the bound engines.
        let class_in = |other: &Engine, c: usize| {
            let pod = classes.classes[c].members.first()?;
            other.class_of(pod)
        };
        let mut pairs = BTreeMap::new();
        for (s, d) in candidates {
            let verdict = |e: &Engine| match (class_in(e, s), class_in(e, d)) {
                (Some(s), Some(d)) => e.allowed(&Peer::Class(s), &Peer::Class(d)),
                _ => ConnSet::none(),
            };
            let (most, least) = (verdict(&upper), verdict(&lower));
            if most != least {
                let differ = most.union(&least).subtract(&most.intersect(&least));
                pairs.insert((s, d), differ);
            }
        }
        UnreadableLabels { policies, pairs }
    }

    /// Why the pair (`src_namespace` → `dst_namespace`) depends on unreadable labels: the
    /// selectors of the destination's ingress and the source's egress policies.
    pub fn reasons(&self, src_namespace: &str, dst_namespace: &str) -> Vec<String> {
        let mut reasons: Vec<String> = (self.policies.iter())
            .filter(|p| match p.direction {
                Direction::Ingress => p.namespace == dst_namespace,
                Direction::Egress => p.namespace == src_namespace,
            })
            .map(|p| format!("namespace labels unreadable: {} of {}", p.field, p.id))
            .collect();
        reasons.dedup();
        reasons
    }

    /// Marks unknown the cells (rows by source namespace, columns by destination namespace)
    /// holding a pair that depends on unreadable labels, with the connections and why.
    pub fn mark(
        &self,
        engine: &Engine,
        cells: &mut [Vec<Cell>],
        row_of: impl Fn(&str) -> Option<usize>,
        col_of: impl Fn(&str) -> Option<usize>,
    ) {
        let classes = &engine.classes().classes;
        let namespace = |c: usize| {
            (classes.get(c))
                .and_then(|class| class.members.first())
                .map(|pod| pod.namespace.as_str())
        };
        for ((s, d), differ) in &self.pairs {
            let (Some(src), Some(dst)) = (namespace(*s), namespace(*d)) else {
                continue;
            };
            let (Some(r), Some(c)) = (row_of(src), col_of(dst)) else {
                continue;
            };
            let Some(cell) = cells.get_mut(r).and_then(|row| row.get_mut(c)) else {
                continue;
            };
            cell.level = Level::Unknown;
            cell.undecided.union_with(differ);
            for reason in self.reasons(src, dst) {
                if !cell.undecided_reasons.contains(&reason) {
                    cell.undecided_reasons.push(reason);
                }
            }
        }
    }

    /// The connections between two classes that depend on unreadable labels (none: empty).
    pub fn between(&self, src: usize, dst: usize) -> ConnSet {
        self.pairs
            .get(&(src, dst))
            .cloned()
            .unwrap_or_else(ConnSet::none)
    }
}

/// The NetworkPolicies with a namespaceSelector on unreadable labels, and the
/// CiliumNetworkPolicies and Calico NetworkPolicies with a peer on them, per direction.
fn undecided_policies(snapshot: &ClusterSnapshot) -> Vec<UndecidedPolicy> {
    let mut found = Vec::new();
    for policy in snapshot.policies.values() {
        let Some(spec) = &policy.object.spec else {
            continue;
        };
        let ingress = (spec.ingress.iter().flatten()).flat_map(|r| r.from.iter().flatten());
        let egress = (spec.egress.iter().flatten()).flat_map(|r| r.to.iter().flatten());
        let undecided = |peer: &k8s_openapi::api::networking::v1::NetworkPolicyPeer| {
            peer.namespace_selector
                .as_ref()
                .is_some_and(reads_other_labels)
        };
        for (mut peers, dir) in [
            (
                Box::new(ingress) as Box<dyn Iterator<Item = _>>,
                Direction::Ingress,
            ),
            (Box::new(egress), Direction::Egress),
        ] {
            if peers.any(undecided) {
                found.push(UndecidedPolicy {
                    id: policy.id.to_string(),
                    namespace: policy.id.namespace.clone(),
                    direction: dir,
                    field: "namespaceSelector",
                });
            }
        }
    }
    for native in snapshot.natives.values() {
        let Some(rewrite) = rewriter(native.id.kind) else {
            continue;
        };
        let mut data = native.object.data.clone();
        for (direction, field) in rewrite(&mut data, None) {
            found.push(UndecidedPolicy {
                id: native.id.to_string(),
                namespace: native.id.namespace.clone(),
                direction,
                field,
            });
        }
    }
    found.dedup();
    found
}

type Rewrite = fn(&mut serde_json::Value, Option<Bound>) -> Vec<(Direction, &'static str)>;

/// How a native kind's peers on unreadable namespace labels are found and bounded; `None` for
/// the kinds a namespace-scoped user cannot read (cluster-wide) or that hold no peers.
fn rewriter(kind: NativeKind) -> Option<Rewrite> {
    match kind {
        NativeKind::CiliumNetworkPolicy => Some(cilium::rewrite),
        NativeKind::CalicoNetworkPolicy => Some(calico::rewrite),
        _ => None,
    }
}

/// `snapshot` with every namespaceSelector on unreadable labels taken at `bound`.
fn bounded(snapshot: &ClusterSnapshot, bound: Bound) -> ClusterSnapshot {
    let mut out = snapshot.clone();
    for policy in snapshot.policies.values() {
        let mut policy = policy.clone();
        let Some(spec) = policy.object.spec.as_mut() else {
            continue;
        };
        let ingress = (spec.ingress.iter_mut().flatten()).flat_map(|r| r.from.iter_mut().flatten());
        let egress = (spec.egress.iter_mut().flatten()).flat_map(|r| r.to.iter_mut().flatten());
        let mut changed = false;
        for peer in ingress.chain(egress) {
            if let Some(selector) = peer.namespace_selector.as_mut()
                && reads_other_labels(selector)
            {
                *selector = at_bound(selector, bound);
                changed = true;
            }
        }
        if changed {
            out.upsert(ClusterObject::Policy(policy));
        }
    }
    for native in snapshot.natives.values() {
        let Some(rewrite) = rewriter(native.id.kind) else {
            continue;
        };
        let mut native = native.clone();
        if !rewrite(&mut native.object.data, Some(bound)).is_empty() {
            out.upsert(ClusterObject::Native(native));
        }
    }
    out
}

/// The selector with its requirements on unreadable labels taken as met (`MatchAll`: only
/// those on the name label stay), or one matching no namespace.
fn at_bound(selector: &LabelSelector, bound: Bound) -> LabelSelector {
    match bound {
        Bound::MatchAll => LabelSelector {
            match_labels: (selector.match_labels.clone()).map(|labels| {
                labels
                    .into_iter()
                    .filter(|(k, _)| k == NAME_LABEL)
                    .collect()
            }),
            match_expressions: (selector.match_expressions.clone())
                .map(|all| all.into_iter().filter(|e| e.key == NAME_LABEL).collect()),
        },
        Bound::MatchNone => LabelSelector {
            match_labels: Some([(NAME_LABEL.to_string(), NO_NAMESPACE.to_string())].into()),
            match_expressions: None,
        },
    }
}

impl UnreadableLabels {
    /// Marks the tenant matrix of `engine` (grouped by `rules`) as [`UnreadableLabels::mark`].
    pub fn mark_matrix(
        &self,
        engine: &Engine,
        rules: &super::tenants::TenantRules,
        matrix: &mut super::matrix::Matrix,
    ) {
        let snapshot = engine.snapshot();
        let group_index = |ns: &str| matrix.index_of(&rules.group_in(snapshot, ns));
        let indices: BTreeMap<String, usize> = (engine.classes().by_namespace.keys())
            .filter_map(|ns| Some((ns.clone(), group_index(ns)?)))
            .collect();
        let index = |ns: &str| indices.get(ns).copied();
        self.mark(engine, &mut matrix.cells, index, index);
    }

    /// Adds what depends on unreadable labels to the connectivity list's undecided
    /// connections (a line for a pair with nothing else to list).
    pub fn add_to_connlist(
        &self,
        engine: &Engine,
        peers: &[crate::policy::NamedPeer],
        lines: &mut Vec<crate::policy::ConnLine>,
    ) {
        let resolved: Vec<(&str, usize)> = (peers.iter())
            .filter_map(|p| Some((p.name.as_str(), engine.class_of(&p.pod)?)))
            .collect();
        for (src, s) in &resolved {
            for (dst, d) in &resolved {
                let differ = self.between(*s, *d);
                if src == dst || differ.is_empty() {
                    continue;
                }
                match (lines.iter_mut()).find(|l| l.src == *src && l.dst == *dst) {
                    Some(line) => line.undecided.union_with(&differ),
                    None => lines.push(crate::policy::ConnLine {
                        src: src.to_string(),
                        dst: dst.to_string(),
                        conns: ConnSet::none(),
                        undecided: differ,
                    }),
                }
            }
        }
    }
}
