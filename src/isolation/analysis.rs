//! Everything the console shows from the engine, computed in one pure pass over a snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::cni::{CniChoice, ResolvedCni};
use super::findings::Finding;
use super::intent::{Intent, IntentReport, intent_report};
use super::lint::lint;
use super::matrix::{
    Cell, Matrix, NamespaceGrid, Since, UNSEEN, namespace_grid, tenant_matrix, tenant_matrix_since,
};
use super::tenants::{Group, TenantRules};
use super::tiers::{BoundaryRule, TierReach, tenant_boundaries, tier_reach};
use super::unreadable::UnreadableLabels;
use crate::model::{ClusterSnapshot, Directions, NativeRef, ObjectRef, TierRef};
use crate::policy::matching::selects;
use crate::policy::{Direction, Engine, IpBlockPodsSetting, ReadOnlyEngine, Settings};

#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per namespace: whether every pod is isolated, per direction (no pods: not isolated).
    pub isolation: BTreeMap<String, Directions>,
    pub findings: Vec<Finding>,
    /// The intent's verdict per matrix cell, when the console has an intent file.
    pub intent: Option<IntentReport>,
    pub matrix: Arc<Matrix>,
    /// Namespaces of each row/column group of the matrix, for drilling down.
    pub namespaces_by_group: BTreeMap<Group, Vec<String>>,
    /// Pods each policy selects.
    pub policy_pods: BTreeMap<ObjectRef, usize>,
    /// Pods each CNI-native policy selects (in either direction).
    pub native_pods: BTreeMap<NativeRef, usize>,
    /// What each valid tier policy selects (namespaces, pods).
    pub tier_reach: BTreeMap<TierRef, TierReach>,
    /// Per tenant, the tier rules that shape its boundary, in evaluation order.
    pub boundaries: BTreeMap<String, Vec<BoundaryRule>>,
    pub settings: Settings,
    /// The CNI whose order applies, and why (shown with the coverage).
    pub cni: ResolvedCni,
    /// The engine itself, read-only, for drill-downs and explanations on demand.
    pub engine: Arc<ReadOnlyEngine>,
    /// With the namespace labels unreadable: what depends on them (cells shown unknown).
    pub unreadable: Option<Arc<UnreadableLabels>>,
}

/// Two analyses are equal when they say the same; the engine is compared by identity.
impl PartialEq for Analysis {
    fn eq(&self, other: &Self) -> bool {
        self.isolation == other.isolation
            && self.findings == other.findings
            && self.intent == other.intent
            && self.matrix == other.matrix
            && self.policy_pods == other.policy_pods
            && self.native_pods == other.native_pods
            && self.tier_reach == other.tier_reach
            && self.boundaries == other.boundaries
            && self.settings == other.settings
            && self.cni == other.cni
            && self.unreadable == other.unreadable
            && Arc::ptr_eq(&self.engine, &other.engine)
    }
}

impl Analysis {
    /// The pods a policy selects (empty for an unknown or invalid policy).
    pub fn selected_pods(&self, policy: &ObjectRef) -> Vec<ObjectRef> {
        let Some(compiled) = self.engine.policies().get(policy) else {
            return Vec::new();
        };
        let classes = &self.engine.classes().classes;
        self.engine
            .classes()
            .by_namespace
            .get(&policy.namespace)
            .into_iter()
            .flatten()
            .filter(|c| selects(compiled, &classes[**c].endpoint))
            .flat_map(|c| classes[*c].members.iter().cloned())
            .collect()
    }

    /// One drill-down level: namespace × namespace, with the pairs that depend on unreadable
    /// labels unknown, and when only some namespaces are seen (`scoped`) the `other ns` row
    /// and column of unknown cells, as on the tenant matrix.
    pub fn namespace_grid(
        &self,
        rows: Vec<String>,
        cols: Vec<String>,
        scoped: bool,
    ) -> NamespaceGrid {
        let mut grid = namespace_grid(&self.engine, rows, cols);
        if let Some(unreadable) = &self.unreadable {
            let (rows, cols) = (&grid.rows, &grid.cols);
            unreadable.mark(
                &self.engine,
                &mut grid.cells,
                |ns| rows.iter().position(|r| r == ns),
                |ns| cols.iter().position(|c| c == ns),
            );
        }
        if scoped {
            grid.cols.push(UNSEEN.to_string());
            for row in &mut grid.cells {
                row.push(Cell::unknown());
            }
            grid.rows.push(UNSEEN.to_string());
            grid.cells.push(vec![Cell::unknown(); grid.cols.len()]);
        }
        grid
    }

    pub fn findings_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings
            .iter()
            .filter(move |f| f.namespace == namespace)
    }
}

/// Pods each native policy selects, in either direction (every policy the engine compiled is
/// listed, selecting nothing included).
pub fn native_pods(engine: &Engine) -> BTreeMap<NativeRef, usize> {
    let mut pods: BTreeMap<NativeRef, usize> = (engine.natives().keys())
        .chain(engine.calico_policies().keys())
        .map(|id| (id.clone(), 0))
        .collect();
    for (class, pod_class) in engine.classes().classes.iter().enumerate() {
        let mut selecting: Vec<&NativeRef> = [Direction::Ingress, Direction::Egress]
            .into_iter()
            .flat_map(|d| {
                (engine.natives_selecting(class, d).iter().map(|(id, _)| id))
                    .chain(engine.calico_selecting(class, d))
            })
            .collect();
        selecting.sort();
        selecting.dedup();
        for id in selecting {
            *pods.entry(id.clone()).or_default() += pod_class.members.len();
        }
    }
    pods
}

/// Analyses a snapshot the caller hands over; the engine keeps it, so no second copy is made.
/// The CNI is detected (agents, then kinds present).
pub fn analyze(
    snapshot: ClusterSnapshot,
    rules: &TenantRules,
    setting: IpBlockPodsSetting,
    intent: Option<&Intent>,
) -> Analysis {
    analyze_as(snapshot, rules, setting, CniChoice::Auto, intent)
}

/// As [`analyze`], with the CNI as chosen (`--cni`, contexts.toml) or detected.
pub fn analyze_as(
    snapshot: ClusterSnapshot,
    rules: &TenantRules,
    setting: IpBlockPodsSetting,
    cni: CniChoice,
    intent: Option<&Intent>,
) -> Analysis {
    analyze_scoped(snapshot, rules, setting, cni, intent, true)
}

/// As [`analyze_as`]; without `labels_known` (a user who cannot read the Namespace objects),
/// the cells that namespaceSelectors on other labels than the name decide are unknown, with
/// why.
pub fn analyze_scoped(
    snapshot: ClusterSnapshot,
    rules: &TenantRules,
    setting: IpBlockPodsSetting,
    cni: CniChoice,
    intent: Option<&Intent>,
    labels_known: bool,
) -> Analysis {
    let cni = super::cni::resolve(cni, &snapshot);
    let settings = setting.for_cni(cni.cni);
    let engine = Engine::from_snapshot(snapshot, settings);
    let derived = derive(&engine, rules, intent, labels_known);
    derived.with_engine(cni, Arc::new(engine.into_read_only()))
}

/// Everything an [`Analysis`] says, before it is paired with a read-only engine (a full build
/// hands over its engine; the console's analyst keeps its own and hands over a copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub isolation: BTreeMap<String, Directions>,
    pub findings: Vec<Finding>,
    pub intent: Option<IntentReport>,
    pub matrix: Arc<Matrix>,
    pub namespaces_by_group: BTreeMap<Group, Vec<String>>,
    pub policy_pods: BTreeMap<ObjectRef, usize>,
    pub native_pods: BTreeMap<NativeRef, usize>,
    pub tier_reach: BTreeMap<TierRef, TierReach>,
    pub boundaries: BTreeMap<String, Vec<BoundaryRule>>,
    pub settings: Settings,
    pub unreadable: Option<Arc<UnreadableLabels>>,
}

impl Derived {
    pub fn with_engine(self, cni: ResolvedCni, engine: Arc<ReadOnlyEngine>) -> Analysis {
        Analysis {
            isolation: self.isolation,
            findings: self.findings,
            intent: self.intent,
            matrix: self.matrix,
            namespaces_by_group: self.namespaces_by_group,
            policy_pods: self.policy_pods,
            native_pods: self.native_pods,
            tier_reach: self.tier_reach,
            boundaries: self.boundaries,
            settings: self.settings,
            cni,
            engine,
            unreadable: self.unreadable,
        }
    }
}

/// What the console shows of an engine (built from the snapshot it holds, pods included).
/// Without `labels_known`, the cells that depend on unreadable namespace labels are unknown.
pub fn derive(
    engine: &Engine,
    rules: &TenantRules,
    intent: Option<&Intent>,
    labels_known: bool,
) -> Derived {
    derive_keeping(engine, rules, intent, labels_known, KeptMatrix::None)
}

/// What of an earlier analysis' tenant matrix still holds.
#[derive(Debug, Clone)]
pub enum KeptMatrix {
    /// Nothing: compute it.
    None,
    /// All of it: the engine's classes, their rows and the namespaces are what they were (pods
    /// only moved between classes), and the rules are the same. The matrix is per class,
    /// never per pod, so it says the same.
    Whole(Arc<Matrix>),
    /// All but the cells of the groups of `namespaces`, where classes' rows changed or classes
    /// were formed or dropped (same groups, same rules). With `confined`, nothing else about
    /// other namespaces' classes changed either (what selects them), so their cells to and
    /// from outside the cluster are kept too when the outside is cut the same.
    Except {
        matrix: Arc<Matrix>,
        namespaces: BTreeSet<String>,
        confined: bool,
    },
}

/// As [`derive`], with what still holds of an earlier analysis' tenant matrix kept instead of
/// computed again. With the labels unknown it is computed anew.
pub fn derive_keeping(
    engine: &Engine,
    rules: &TenantRules,
    intent: Option<&Intent>,
    labels_known: bool,
    kept_matrix: KeptMatrix,
) -> Derived {
    let snapshot = engine.snapshot();
    let tier_reach = tier_reach(engine);
    let boundaries = tenant_boundaries(engine, snapshot, rules, &tier_reach);
    let (findings, intent) = findings(engine, rules, intent);
    let kept = if labels_known {
        kept_matrix
    } else {
        KeptMatrix::None
    };
    let (matrix, unreadable) = match kept {
        KeptMatrix::Whole(matrix) => (matrix, None),
        KeptMatrix::Except {
            matrix,
            namespaces,
            confined,
        } => {
            let since = Since {
                matrix: &matrix,
                namespaces: &namespaces,
                confined,
            };
            (
                Arc::new(tenant_matrix_since(engine, snapshot, rules, Some(since))),
                None,
            )
        }
        KeptMatrix::None => {
            let mut matrix = tenant_matrix(engine, snapshot, rules);
            let unreadable = (!labels_known).then(|| {
                let unreadable = UnreadableLabels::of(engine);
                unreadable.mark_matrix(engine, rules, &mut matrix);
                Arc::new(unreadable)
            });
            (Arc::new(matrix), unreadable)
        }
    };
    Derived {
        isolation: isolation(engine),
        findings,
        intent,
        matrix,
        namespaces_by_group: namespaces_by_group(snapshot, rules),
        policy_pods: policy_pods(engine),
        native_pods: native_pods(engine),
        tier_reach,
        boundaries,
        settings: engine.settings(),
        unreadable,
    }
}

/// Per namespace, whether every pod is isolated, per direction.
pub fn isolation(engine: &Engine) -> BTreeMap<String, Directions> {
    engine
        .classes()
        .by_namespace
        .iter()
        .map(|(namespace, classes)| {
            let all =
                |dir| !classes.is_empty() && classes.iter().all(|c| engine.is_isolated(*c, dir));
            (
                namespace.clone(),
                Directions {
                    ingress: all(Direction::Ingress),
                    egress: all(Direction::Egress),
                },
            )
        })
        .collect()
}

pub fn namespaces_by_group(
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
) -> BTreeMap<Group, Vec<String>> {
    let mut namespaces_by_group: BTreeMap<Group, Vec<String>> = BTreeMap::new();
    for ns in snapshot.namespaces.values() {
        namespaces_by_group
            .entry(rules.group_of(&ns.name, &ns.labels))
            .or_default()
            .push(ns.name.clone());
    }
    namespaces_by_group
}

/// Pods each NetworkPolicy selects.
pub fn policy_pods(engine: &Engine) -> BTreeMap<ObjectRef, usize> {
    let classes = &engine.classes().classes;
    engine
        .policies()
        .values()
        .map(|policy| {
            let pods = engine
                .classes()
                .by_namespace
                .get(policy.namespace())
                .into_iter()
                .flatten()
                .filter(|c| selects(policy, &classes[**c].endpoint))
                .map(|c| classes[*c].members.len())
                .sum();
            (policy.id.clone(), pods)
        })
        .collect()
}

/// The lint findings with the intent's, most severe first, and the intent's report.
pub fn findings(
    engine: &Engine,
    rules: &TenantRules,
    intent: Option<&Intent>,
) -> (Vec<Finding>, Option<IntentReport>) {
    let snapshot = engine.snapshot();
    let mut findings = lint(engine, snapshot, rules);
    let intent = intent.map(|intent| intent_report(intent, engine, snapshot, rules));
    if let Some(report) = &intent {
        findings.extend(report.findings.iter().cloned());
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.object.cmp(&b.object))
        });
    }
    (findings, intent)
}
