//! The tenants tree: tenant → namespaces → workloads and policies, derived from the cluster
//! snapshot (workloads from the engine's analysis: pods no policy can tell apart). After the
//! groups, a "cluster" node lists the cluster-scoped tier policies (last, so the tenants keep
//! their places); under each group come the tier policies whose subject selects some pod of it
//! (from the analysis). Cilium's policies sit next to them: a namespace's
//! CiliumNetworkPolicies after its NetworkPolicies, the CiliumClusterwideNetworkPolicies under
//! the "cluster" node after the tier policies.
//! Node ids are stable strings (never list indices) so selection survives watch updates.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::fuzzy;
use crate::isolation::analysis::Analysis;
use crate::isolation::tenants::{Group, TenantRules};
use crate::model::{
    ClusterSnapshot, Directions, NativeFamily, NativeKind, NativePolicyInfo, NativeRef, ObjectRef,
    TierKind, TierPolicyInfo, TierRef,
};
use crate::policy::Direction;

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
    pub fn build(
        cluster: &ClusterSnapshot,
        rules: &TenantRules,
        analysis: Option<&Analysis>,
    ) -> TenantTree {
        TenantTree::build_keeping(cluster, rules, analysis, HashMap::new())
    }

    /// The workload nodes of every namespace, taken out of the tree. They derive from the
    /// analysis alone, so a tree rebuilt for watch events on the same analysis can take them
    /// back (`build_keeping`) instead of forming them again from every class.
    pub fn take_workloads(&mut self) -> HashMap<String, Vec<WorkloadNode>> {
        (self.groups.iter_mut())
            .flat_map(|g| &mut g.namespaces)
            .map(|ns| (ns.name.clone(), std::mem::take(&mut ns.workloads)))
            .collect()
    }

    /// [`TenantTree::build`] with the workload nodes of a tree built on the same `analysis`
    /// ([`TenantTree::take_workloads`]); a namespace without kept nodes gets them formed.
    pub fn build_keeping(
        cluster: &ClusterSnapshot,
        rules: &TenantRules,
        analysis: Option<&Analysis>,
        mut kept: HashMap<String, Vec<WorkloadNode>>,
    ) -> TenantTree {
        let mut by_group: BTreeMap<GroupOrder, Vec<NamespaceNode>> = BTreeMap::new();
        // Counted once per build: counting per namespace would cost namespaces × findings.
        let mut findings: HashMap<&str, usize> = HashMap::new();
        for finding in analysis.iter().flat_map(|a| &a.findings) {
            *findings.entry(finding.namespace.as_str()).or_default() += 1;
        }
        let mut group_of_ns: HashMap<&str, Group> = HashMap::new();
        for ns in cluster.namespaces.values() {
            let group = rules.group_of(&ns.name, &ns.labels);
            group_of_ns.insert(&ns.name, group.clone());
            by_group
                .entry(GroupOrder(group))
                .or_default()
                .push(namespace_node(
                    cluster,
                    &ns.name,
                    analysis,
                    &findings,
                    kept.remove(ns.name.as_str()),
                ));
        }
        let tiers = tier_nodes(cluster, analysis);
        // Which groups each tier policy selects pods of, from the analysis.
        let mut tiers_of_group: HashMap<Group, Vec<TierNode>> = HashMap::new();
        for node in &tiers {
            let reach = analysis.and_then(|a| a.tier_reach.get(&node.policy));
            let groups: HashSet<&Group> = reach
                .into_iter()
                .flat_map(|r| &r.namespaces)
                .filter_map(|ns| group_of_ns.get(ns.as_str()))
                .collect();
            for group in groups {
                tiers_of_group
                    .entry(group.clone())
                    .or_default()
                    .push(node.clone());
            }
        }
        let groups = by_group
            .into_iter()
            .map(|(GroupOrder(group), namespaces)| GroupNode {
                id: group_id(&group),
                tiers: tiers_of_group.remove(&group).unwrap_or_default(),
                group,
                namespaces,
            })
            .collect();
        let natives: Vec<NativeNode> = cluster
            .natives
            .values()
            .filter(|n| !n.id.kind.namespaced())
            .map(native_node)
            .collect();
        TenantTree {
            cluster: (!tiers.is_empty() || !natives.is_empty()).then(|| ClusterNode {
                id: CLUSTER_NODE.into(),
                tiers,
                natives,
            }),
            groups,
        }
    }

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

/// Tenants first (by name), then the platform group, then unassigned namespaces.
#[derive(PartialEq, Eq)]
struct GroupOrder(Group);

impl Ord for GroupOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |g: &Group| match g {
            Group::Tenant(name) => (0, name.clone()),
            Group::Platform => (1, String::new()),
            Group::Unassigned => (2, String::new()),
        };
        rank(&self.0).cmp(&rank(&other.0))
    }
}

impl PartialOrd for GroupOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn group_id(group: &Group) -> NodeId {
    match group {
        Group::Tenant(name) => format!("tenant:{name}"),
        Group::Platform => "platform".into(),
        Group::Unassigned => "unassigned".into(),
    }
}

fn namespace_node(
    cluster: &ClusterSnapshot,
    namespace: &str,
    analysis: Option<&Analysis>,
    findings: &HashMap<&str, usize>,
    kept_workloads: Option<Vec<WorkloadNode>>,
) -> NamespaceNode {
    let mut isolated = Directions::default();
    let policies = cluster
        .policies_in(namespace)
        .map(|policy| {
            let directions = policy.directions();
            if policy.selects_whole_namespace() {
                isolated.ingress |= directions.ingress;
                isolated.egress |= directions.egress;
            }
            PolicyNode {
                id: format!("netpol:{}", policy.id),
                policy: policy.id.clone(),
                directions,
            }
        })
        .collect();
    // Each namespaced kind's policies here: a range of the map per kind.
    let natives = NativeKind::ALL
        .into_iter()
        .filter(|kind| kind.namespaced())
        .flat_map(|kind| {
            cluster
                .natives
                .range(NativeRef::new(kind, namespace, "")..)
                .take_while(move |(id, _)| id.kind == kind && id.namespace == namespace)
        })
        .map(|(_, info)| native_node(info))
        .collect();
    NamespaceNode {
        id: format!("ns:{namespace}"),
        name: namespace.to_string(),
        pod_count: cluster.pods_in(namespace).count(),
        isolated: analysis
            .and_then(|a| a.isolation.get(namespace).copied())
            .unwrap_or(isolated),
        findings: findings.get(namespace).copied().unwrap_or(0),
        workloads: match (analysis, kept_workloads) {
            (Some(_), Some(kept)) => kept,
            (Some(analysis), None) => workloads(analysis, namespace),
            (None, _) => Vec::new(),
        },
        policies,
        natives,
    }
}

/// A native policy's node; its directions read from the rule lists of `spec` and `specs`
/// (Cilium), or from `types` and the rule lists (Calico; a Tier has none).
fn native_node(info: &NativePolicyInfo) -> NativeNode {
    let data = &info.object.data;
    if info.id.kind.family() == NativeFamily::Calico {
        return NativeNode {
            id: format!("native:{}", info.id),
            policy: info.id.clone(),
            directions: calico_directions(info),
        };
    }
    let rules = data.get("spec").into_iter().chain(
        data.get("specs")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten(),
    );
    let mut directions = Directions::default();
    let speaks = |rule: &serde_json::Value, lists: [&str; 2]| {
        lists
            .iter()
            .any(|l| rule.get(*l).is_some_and(|v| !v.is_null()))
    };
    for rule in rules {
        directions.ingress |= speaks(rule, ["ingress", "ingressDeny"]);
        directions.egress |= speaks(rule, ["egress", "egressDeny"]);
    }
    NativeNode {
        id: format!("native:{}", info.id),
        policy: info.id.clone(),
        directions,
    }
}

/// Calico's `types`, defaulted as Calico does: Ingress when there are ingress rules or no
/// rules at all, Egress when there are egress rules. A Tier applies to no direction.
pub fn calico_directions(info: &NativePolicyInfo) -> Directions {
    if info.id.kind == NativeKind::CalicoTier {
        return Directions::default();
    }
    let spec = info.object.data.get("spec");
    let has = |list: &str| {
        spec.and_then(|s| s.get(list))
            .and_then(|v| v.as_array())
            .is_some_and(|rules| !rules.is_empty())
    };
    match spec.and_then(|s| s.get("types")).and_then(|t| t.as_array()) {
        Some(types) if !types.is_empty() => Directions {
            ingress: types.iter().any(|t| t == "Ingress"),
            egress: types.iter().any(|t| t == "Egress"),
        },
        _ => Directions {
            ingress: has("ingress") || !has("egress"),
            egress: has("egress"),
        },
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

fn workloads(analysis: &Analysis, namespace: &str) -> Vec<WorkloadNode> {
    let engine = &analysis.engine;
    let classes = &engine.classes().classes;
    engine
        .classes()
        .by_namespace
        .get(namespace)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let class = &classes[*c];
            let first = class.members.first()?;
            Some(WorkloadNode {
                id: format!("workload:{first}"),
                label: match class.members.len() {
                    1 => first.name.clone(),
                    n => format!("{} (+{})", first.name, n - 1),
                },
                class: *c,
                isolated: Directions {
                    ingress: engine.is_isolated(*c, Direction::Ingress),
                    egress: engine.is_isolated(*c, Direction::Egress),
                },
            })
        })
        .collect()
}

/// Every tier policy of the snapshot, in evaluation order (Admin by priority, then Baseline).
/// Read from the objects, not compiled: the tree is rebuilt on every settle.
fn tier_nodes(cluster: &ClusterSnapshot, analysis: Option<&Analysis>) -> Vec<TierNode> {
    let mut nodes: Vec<TierNode> = cluster
        .tiers
        .values()
        .map(|info| tier_node(info, analysis))
        .collect();
    let rank = |t: &TierNode| {
        (
            t.tier != "Admin",
            t.priority.unwrap_or(i64::MAX),
            t.policy.clone(),
        )
    };
    nodes.sort_by_key(rank);
    nodes
}

fn tier_node(info: &TierPolicyInfo, analysis: Option<&Analysis>) -> TierNode {
    let spec = info.spec();
    let tier = match info.id.kind {
        TierKind::AdminNetworkPolicy => "Admin".to_string(),
        TierKind::BaselineAdminNetworkPolicy => "Baseline".to_string(),
        TierKind::ClusterNetworkPolicy => spec
            .and_then(|s| s.get("tier"))
            .and_then(|t| t.as_str())
            .unwrap_or("?")
            .to_string(),
    };
    let has_rules = |dir: &str| {
        spec.and_then(|s| s.get(dir))
            .and_then(|r| r.as_array())
            .is_some_and(|r| !r.is_empty())
    };
    TierNode {
        id: format!("tier:{}", info.id),
        policy: info.id.clone(),
        tier,
        priority: spec
            .and_then(|s| s.get("priority"))
            .and_then(|p| p.as_i64()),
        directions: Directions {
            ingress: has_rules("ingress"),
            egress: has_rules("egress"),
        },
        valid: !analysis.is_some_and(|a| {
            a.engine
                .validation_errors()
                .any(|e| e.kind == info.id.kind.kind() && e.object.name == info.id.name)
        }),
    }
}
