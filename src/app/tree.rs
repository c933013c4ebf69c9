//! The tenants tree: tenant → namespaces → workloads and policies, derived from the cluster
//! snapshot (workloads from the engine's analysis: pods no policy can tell apart).
//! Node ids are stable strings (never list indices) so selection survives watch updates.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::fuzzy;
use crate::isolation::analysis::Analysis;
use crate::isolation::tenants::{Group, TenantRules};
use crate::model::{ClusterSnapshot, Directions, ObjectRef};
use crate::policy::Direction;

pub type NodeId = String;
pub type NodePath = Vec<NodeId>;

#[derive(Debug, Clone, PartialEq)]
pub struct TenantTree {
    pub groups: Vec<GroupNode>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupNode {
    pub id: NodeId,
    pub group: Group,
    pub namespaces: Vec<NamespaceNode>,
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
}

impl NamespaceNode {
    /// Child ids in display order: workloads, then policies.
    pub fn child_ids(&self) -> impl Iterator<Item = &NodeId> {
        self.workloads
            .iter()
            .map(|w| &w.id)
            .chain(self.policies.iter().map(|p| &p.id))
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
    Group(&'a GroupNode),
    Namespace(&'a NamespaceNode),
    Workload(&'a WorkloadNode),
    Policy(&'a PolicyNode),
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
        let mut by_group: BTreeMap<GroupOrder, Vec<NamespaceNode>> = BTreeMap::new();
        // Counted once per build: counting per namespace would cost namespaces × findings.
        let mut findings: HashMap<&str, usize> = HashMap::new();
        for finding in analysis.iter().flat_map(|a| &a.findings) {
            *findings.entry(finding.namespace.as_str()).or_default() += 1;
        }
        for ns in cluster.namespaces.values() {
            let group = rules.group_of(&ns.name, &ns.labels);
            by_group
                .entry(GroupOrder(group))
                .or_default()
                .push(namespace_node(cluster, &ns.name, analysis, &findings));
        }
        let groups = by_group
            .into_iter()
            .map(|(GroupOrder(group), namespaces)| GroupNode {
                id: group_id(&group),
                group,
                namespaces,
            })
            .collect();
        TenantTree { groups }
    }

    /// Paths of the rows shown when `opened` nodes are expanded, top to bottom.
    pub fn visible_paths(&self, opened: &HashSet<NodePath>) -> Vec<NodePath> {
        let mut rows = Vec::new();
        for group in &self.groups {
            let group_path = vec![group.id.clone()];
            let group_open = opened.contains(&group_path);
            rows.push(group_path.clone());
            if !group_open {
                continue;
            }
            for ns in &group.namespaces {
                let ns_path = vec![group.id.clone(), ns.id.clone()];
                let ns_open = opened.contains(&ns_path);
                rows.push(ns_path.clone());
                if ns_open {
                    rows.extend(ns.child_ids().map(|id| {
                        let mut path = ns_path.clone();
                        path.push(id.clone());
                        path
                    }));
                }
            }
        }
        rows
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
        paths
    }

    pub fn find(&self, path: &[NodeId]) -> Option<NodeTarget<'_>> {
        let group = self.groups.iter().find(|g| Some(&g.id) == path.first())?;
        let Some(ns_id) = path.get(1) else {
            return Some(NodeTarget::Group(group));
        };
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
        ns.policies
            .iter()
            .find(|p| &p.id == child_id)
            .map(NodeTarget::Policy)
    }

    pub fn has_children(&self, path: &[NodeId]) -> bool {
        match self.find(path) {
            Some(NodeTarget::Group(g)) => !g.namespaces.is_empty(),
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
    NamespaceNode {
        id: format!("ns:{namespace}"),
        name: namespace.to_string(),
        pod_count: cluster.pods_in(namespace).count(),
        isolated: analysis
            .and_then(|a| a.isolation.get(namespace).copied())
            .unwrap_or(isolated),
        findings: findings.get(namespace).copied().unwrap_or(0),
        workloads: analysis
            .map(|a| workloads(a, namespace))
            .unwrap_or_default(),
        policies,
    }
}

impl TenantTree {
    /// Only what matches the fuzzy `pattern`: namespaces whose name matches (with all their
    /// policies) or that hold matching policies (with just those), under their groups.
    pub fn filtered(&self, pattern: &str) -> TenantTree {
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
                        (!policies.is_empty() || !workloads.is_empty()).then(|| NamespaceNode {
                            policies,
                            workloads,
                            ..ns.clone()
                        })
                    })
                    .collect();
                (!namespaces.is_empty()).then(|| GroupNode {
                    namespaces,
                    ..group.clone()
                })
            })
            .collect();
        TenantTree { groups }
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
