//! The tenants tree: tenant → namespaces → workloads and policies, derived from the cluster
//! snapshot (workloads from the engine's analysis: pods no policy can tell apart). After the
//! groups, a "cluster" node lists the cluster-scoped tier policies (last, so the tenants keep
//! their places); under each group come the tier policies whose subject selects some pod of it
//! (from the analysis). Cilium's policies sit next to them: a namespace's
//! CiliumNetworkPolicies after its NetworkPolicies, the CiliumClusterwideNetworkPolicies under
//! the "cluster" node after the tier policies.
//! Node ids are stable strings (never list indices) so selection survives watch updates.
//! Built from the snapshot and the analysis in `tree_build.rs`; navigated and filtered here.

use std::collections::HashSet;

use super::fuzzy;
use crate::isolation::tenants::Group;
use crate::model::{Directions, NativeRef, ObjectRef, TierRef};

pub type NodeId = String;
pub type NodePath = Vec<NodeId>;

/// One visible row of the tree, by its path's ids (one to three), borrowed from the tree.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'t> {
    ids: [&'t NodeId; 3],
    len: usize,
}

impl<'t> RowRef<'t> {
    fn new(path: &[&'t NodeId]) -> RowRef<'t> {
        let mut ids = [path[0]; 3];
        ids[..path.len()].copy_from_slice(path);
        RowRef {
            ids,
            len: path.len(),
        }
    }

    pub fn ids(&self) -> &[&'t NodeId] {
        &self.ids[..self.len]
    }

    /// The top-level node (tenant, group or cluster) the row belongs to.
    pub fn top(&self) -> &'t NodeId {
        self.ids[0]
    }

    pub fn is(&self, path: &[NodeId]) -> bool {
        path.len() == self.len && path.iter().zip(self.ids()).all(|(a, b)| a == *b)
    }

    pub fn to_path(&self) -> NodePath {
        self.ids().iter().map(|id| (*id).clone()).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantTree {
    /// The cluster-scoped tier and Cilium policies; `None` when the cluster has none.
    pub cluster: Option<ClusterNode>,
    pub groups: Vec<GroupNode>,
}

pub const CLUSTER_NODE: &str = "cluster";

/// The "cluster" node: every tier policy, in evaluation order, then every
/// CiliumClusterwideNetworkPolicy by name.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterNode {
    pub id: NodeId,
    pub tiers: Vec<TierNode>,
    pub natives: Vec<NativeNode>,
}

impl ClusterNode {
    /// Child ids in display order: tier policies, then Cilium's.
    pub fn child_ids(&self) -> impl Iterator<Item = &NodeId> {
        self.tiers
            .iter()
            .map(|t| &t.id)
            .chain(self.natives.iter().map(|n| &n.id))
    }
}

/// A Cilium policy (CiliumNetworkPolicy in its namespace, CiliumClusterwideNetworkPolicy under
/// the cluster node).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeNode {
    pub id: NodeId,
    pub policy: NativeRef,
    /// The directions its rules (allow or deny) speak of.
    pub directions: Directions,
}

/// A cluster-scoped tier policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TierNode {
    pub id: NodeId,
    pub policy: TierRef,
    /// "Admin" or "Baseline" as the object says (`?` when it names neither).
    pub tier: String,
    pub priority: Option<i64>,
    pub directions: Directions,
    /// False when the analysis found the object invalid (the API server would reject it).
    pub valid: bool,
}

impl TierNode {
    /// "Admin 10", "Baseline" (a BaselineAdminNetworkPolicy has no priority).
    pub fn tier_label(&self) -> String {
        match self.priority {
            Some(p) => format!("{} {p}", self.tier),
            None => self.tier.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupNode {
    pub id: NodeId,
    pub group: Group,
    pub namespaces: Vec<NamespaceNode>,
    /// Tier policies whose subject selects some pod of the group (after the analysis).
    pub tiers: Vec<TierNode>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceNode {
    pub id: NodeId,
    pub name: String,
    pub pod_count: usize,
    /// Whether every pod of the namespace is isolated, per direction. From the engine's analysis
    /// once it has run; before that (and for namespaces without pods), whether some policy
    /// selects the whole namespace in that direction.
    pub isolated: Directions,
    /// Findings of the latest analysis about this namespace.
    pub findings: usize,
    pub workloads: Vec<WorkloadNode>,
    pub policies: Vec<PolicyNode>,
    /// The namespace's CiliumNetworkPolicies.
    pub natives: Vec<NativeNode>,
}

impl NamespaceNode {
    /// Child ids in display order: workloads, then NetworkPolicies, then Cilium's policies.
    pub fn child_ids(&self) -> impl Iterator<Item = &NodeId> {
        self.workloads
            .iter()
            .map(|w| &w.id)
            .chain(self.policies.iter().map(|p| &p.id))
            .chain(self.natives.iter().map(|n| &n.id))
    }
}

/// Pods that every policy treats alike, with the policies that select them.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadNode {
    pub id: NodeId,
    pub label: String,
    /// The pod class in the analysis' engine (for the pod list and selecting policies, which
    /// the detail pane reads from there rather than copying them into every rebuild).
    pub class: usize,
    pub isolated: Directions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyNode {
    pub id: NodeId,
    pub policy: ObjectRef,
    pub directions: Directions,
}

/// What a node stands for, for the detail pane and actions.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeTarget<'a> {
    Cluster(&'a ClusterNode),
    Tier(&'a TierNode),
    Group(&'a GroupNode),
    Namespace(&'a NamespaceNode),
    Workload(&'a WorkloadNode),
    Policy(&'a PolicyNode),
    Native(&'a NativeNode),
}

impl GroupNode {
    pub fn pod_count(&self) -> usize {
        self.namespaces.iter().map(|ns| ns.pod_count).sum()
    }

    pub fn policy_count(&self) -> usize {
        self.namespaces.iter().map(|ns| ns.policies.len()).sum()
    }

    pub fn finding_count(&self) -> usize {
        self.namespaces.iter().map(|ns| ns.findings).sum()
    }
}

impl TenantTree {
    /// Paths of the rows shown when `opened` nodes are expanded, top to bottom.
    pub fn visible_paths(&self, opened: &HashSet<NodePath>) -> Vec<NodePath> {
        let mut rows = Vec::new();
        self.each_visible(opened, |row| rows.push(row.to_path()));
        rows
    }

    /// Calls `f` with each row shown when `opened` nodes are expanded, top to bottom, without
    /// building their paths (a frame walks every tenant's row; at 1,250 tenants the paths'
    /// copies were a tenth of an idle console's CPU).
    pub fn each_visible<'t>(&'t self, opened: &HashSet<NodePath>, mut f: impl FnMut(RowRef<'t>)) {
        // The opened paths, borrowed by depth, so a row's state is found without a path.
        let mut open_tops: HashSet<&str> = HashSet::new();
        let mut open_namespaces: HashSet<(&str, &str)> = HashSet::new();
        for path in opened {
            match path.as_slice() {
                [top] => {
                    open_tops.insert(top.as_str());
                }
                [top, ns] => {
                    open_namespaces.insert((top.as_str(), ns.as_str()));
                }
                _ => {}
            }
        }
        for group in &self.groups {
            f(RowRef::new(&[&group.id]));
            if !open_tops.contains(group.id.as_str()) {
                continue;
            }
            for ns in &group.namespaces {
                f(RowRef::new(&[&group.id, &ns.id]));
                if open_namespaces.contains(&(group.id.as_str(), ns.id.as_str())) {
                    for id in ns.child_ids() {
                        f(RowRef::new(&[&group.id, &ns.id, id]));
                    }
                }
            }
            for tier in &group.tiers {
                f(RowRef::new(&[&group.id, &tier.id]));
            }
        }
        if let Some(cluster) = &self.cluster {
            f(RowRef::new(&[&cluster.id]));
            if open_tops.contains(cluster.id.as_str()) {
                for id in cluster.child_ids() {
                    f(RowRef::new(&[&cluster.id, id]));
                }
            }
        }
    }

    /// Paths of every node that has children (for expand-all).
    pub fn expandable_paths(&self) -> Vec<NodePath> {
        let mut paths = Vec::new();
        for group in &self.groups {
            paths.push(vec![group.id.clone()]);
            for ns in group
                .namespaces
                .iter()
                .filter(|ns| ns.child_ids().next().is_some())
            {
                paths.push(vec![group.id.clone(), ns.id.clone()]);
            }
        }
        if let Some(cluster) = self
            .cluster
            .as_ref()
            .filter(|c| c.child_ids().next().is_some())
        {
            paths.push(vec![cluster.id.clone()]);
        }
        paths
    }

    pub fn find(&self, path: &[NodeId]) -> Option<NodeTarget<'_>> {
        if let Some(cluster) = self
            .cluster
            .as_ref()
            .filter(|c| Some(&c.id) == path.first())
        {
            return match path {
                [_] => Some(NodeTarget::Cluster(cluster)),
                [_, id] => cluster
                    .tiers
                    .iter()
                    .find(|t| &t.id == id)
                    .map(NodeTarget::Tier)
                    .or_else(|| {
                        let native = cluster.natives.iter().find(|n| &n.id == id);
                        native.map(NodeTarget::Native)
                    }),
                _ => None,
            };
        }
        let group = self.groups.iter().find(|g| Some(&g.id) == path.first())?;
        let Some(ns_id) = path.get(1) else {
            return Some(NodeTarget::Group(group));
        };
        if let Some(tier) = group.tiers.iter().find(|t| &t.id == ns_id) {
            return (path.len() == 2).then_some(NodeTarget::Tier(tier));
        }
        let ns = group.namespaces.iter().find(|ns| &ns.id == ns_id)?;
        let Some(child_id) = path.get(2) else {
            return Some(NodeTarget::Namespace(ns));
        };
        if path.len() > 3 {
            return None;
        }
        if let Some(workload) = ns.workloads.iter().find(|w| &w.id == child_id) {
            return Some(NodeTarget::Workload(workload));
        }
        if let Some(native) = ns.natives.iter().find(|n| &n.id == child_id) {
            return Some(NodeTarget::Native(native));
        }
        ns.policies
            .iter()
            .find(|p| &p.id == child_id)
            .map(NodeTarget::Policy)
    }

    pub fn has_children(&self, path: &[NodeId]) -> bool {
        match self.find(path) {
            Some(NodeTarget::Cluster(c)) => c.child_ids().next().is_some(),
            Some(NodeTarget::Group(g)) => !g.namespaces.is_empty() || !g.tiers.is_empty(),
            Some(NodeTarget::Namespace(ns)) => ns.child_ids().next().is_some(),
            _ => false,
        }
    }
}

impl TenantTree {
    /// Only what matches the fuzzy `pattern`: namespaces whose name matches (with all their
    /// policies) or that hold matching policies (with just those), under their groups.
    pub fn filtered(&self, pattern: &str) -> TenantTree {
        let tiers_matching = |tiers: &[TierNode]| -> Vec<TierNode> {
            tiers
                .iter()
                .filter(|t| fuzzy::matches(pattern, &t.policy.name))
                .cloned()
                .collect()
        };
        let natives_matching = |natives: &[NativeNode]| -> Vec<NativeNode> {
            natives
                .iter()
                .filter(|n| fuzzy::matches(pattern, &n.policy.name))
                .cloned()
                .collect()
        };
        let cluster = self.cluster.as_ref().and_then(|c| {
            let tiers = tiers_matching(&c.tiers);
            let natives = natives_matching(&c.natives);
            (!tiers.is_empty() || !natives.is_empty()).then(|| ClusterNode {
                tiers,
                natives,
                ..c.clone()
            })
        });
        let groups = self
            .groups
            .iter()
            .filter_map(|group| {
                let namespaces: Vec<NamespaceNode> = group
                    .namespaces
                    .iter()
                    .filter_map(|ns| {
                        if fuzzy::matches(pattern, &ns.name) {
                            return Some(ns.clone());
                        }
                        let policies: Vec<PolicyNode> = ns
                            .policies
                            .iter()
                            .filter(|p| fuzzy::matches(pattern, &p.policy.name))
                            .cloned()
                            .collect();
                        let workloads: Vec<WorkloadNode> = ns
                            .workloads
                            .iter()
                            .filter(|w| fuzzy::matches(pattern, &w.label))
                            .cloned()
                            .collect();
                        let natives = natives_matching(&ns.natives);
                        let any = !policies.is_empty() || !workloads.is_empty();
                        (any || !natives.is_empty()).then(|| NamespaceNode {
                            policies,
                            workloads,
                            natives,
                            ..ns.clone()
                        })
                    })
                    .collect();
                let tiers = tiers_matching(&group.tiers);
                (!namespaces.is_empty() || !tiers.is_empty()).then(|| GroupNode {
                    namespaces,
                    tiers,
                    ..group.clone()
                })
            })
            .collect();
        TenantTree { cluster, groups }
    }
}
