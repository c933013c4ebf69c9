//! The tenants tree (`tree.rs`) built from the cluster snapshot and the engine's analysis:
//! groups of namespaces in tenant order, each namespace's workloads (from the analysis's
//! classes), policies and Cilium or Calico policies, and the tier policies under the groups
//! whose pods they select and under the "cluster" node.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::tree::{
    CLUSTER_NODE, ClusterNode, GroupNode, NamespaceNode, NativeNode, NodeId, PolicyNode,
    TenantTree, TierNode, WorkloadNode,
};
use crate::isolation::analysis::Analysis;
use crate::isolation::tenants::{Group, TenantRules};
use crate::model::{
    ClusterSnapshot, Directions, NativeFamily, NativeKind, NativePolicyInfo, NativeRef, TierKind,
    TierPolicyInfo,
};
use crate::policy::Direction;

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
fn calico_directions(info: &NativePolicyInfo) -> Directions {
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
