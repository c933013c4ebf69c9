//! The analyst's incremental analysis must say exactly what a full `analyze_as` of the same
//! snapshot says, after any sequence of policy, pod and namespace events, whenever a run starts
//! (the console's state driven through `update`, as the executor drives it).

use proptest::prelude::*;

use super::analyst::{Analyst, Job};
use crate::app::changes::Rebuild;
use crate::app::msg::{Effect, Msg, WatchEvent};
use crate::app::state::State;
use crate::app::subscriptions::{analysis_delta, analysis_settings};
use crate::app::testing::{listed, state};
use crate::app::update;
use crate::flow::FlowId;
use crate::isolation::analysis::{Analysis, analyze_as};
use crate::model::fixture::{labels, namespace, policy, tier};
use crate::model::{
    ClusterObject, NamedPort, NativeKind, NativePolicyInfo, ObjectRef, PodInfo, ResourceKind,
};

const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const APPS: [&str; 3] = ["web", "db", "cache"];

fn pod(ns: usize, slot: usize, variant: usize) -> ClusterObject {
    ClusterObject::Pod(PodInfo {
        id: ObjectRef::new(NAMESPACES[ns], format!("p{slot}")),
        labels: labels(&[("app", APPS[variant % 3])]).into(),
        // Two subnets, so ipBlocks tell pods apart.
        ips: vec![format!("10.0.{}.{}", 1 + variant % 2, 10 * ns + slot)],
        ports: vec![NamedPort {
            name: "http".into(),
            port: 80,
            protocol: "TCP".into(),
        }],
        phase: "Running".into(),
        node: None,
    })
}

fn namespace_object(ns: usize, variant: usize) -> ClusterObject {
    let tenant = ["t1", "t2", "t3"][variant % 3];
    namespace(NAMESPACES[ns], &[("tenant", tenant)])
}

fn network_policy(ns: usize, slot: usize, variant: usize) -> ClusterObject {
    let selectors = [
        "{}",
        "{matchLabels: {app: web}}",
        "{matchLabels: {app: db}}",
    ];
    let peers = [
        "[{podSelector: {matchLabels: {app: cache}}}]",
        "[{namespaceSelector: {matchLabels: {tenant: t2}}}]",
        "[{ipBlock: {cidr: 10.0.2.0/24}}]",
        "[]",
    ];
    policy(&format!(
        "metadata: {{name: np{slot}, namespace: {}}}\nspec:\n  podSelector: {}\n  \
         policyTypes: [Ingress, Egress]\n  ingress: [{{from: {}, ports: [{{port: 80}}]}}]\n  \
         egress: [{{to: {}}}]\n",
        NAMESPACES[ns],
        selectors[variant % 3],
        peers[variant % 4],
        peers[(variant + 1) % 4],
    ))
}

fn tier_policy(slot: usize, variant: usize) -> ClusterObject {
    let (tier_name, action) =
        [("Admin", "Deny"), ("Baseline", "Deny"), ("Admin", "Pass")][variant % 3];
    let tenant = ["t1", "t2", "t3"][variant % 3];
    tier(&format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
         metadata: {{name: tier{slot}}}\nspec:\n  tier: {tier_name}\n  priority: {}\n  \
         subject: {{namespaces: {{matchLabels: {{tenant: {tenant}}}}}}}\n  ingress:\n  \
         - name: r\n    action: {action}\n    from: [{{namespaces: {{}}}}]\n",
        10 + slot
    ))
}

fn native(kind: NativeKind, yaml: &str) -> ClusterObject {
    let object = crate::yaml::from_str(yaml).expect("test native policy parses");
    ClusterObject::Native(NativePolicyInfo::new(kind, object).expect("test native has a name"))
}

fn cilium_policy(ns: usize, slot: usize, variant: usize) -> ClusterObject {
    let selectors = [
        "{}",
        "{matchLabels: {app: web}}",
        "{matchLabels: {app: db}}",
    ];
    let rules = [
        "ingress: [{fromEndpoints: [{matchLabels: {app: cache}}]}]",
        "ingressDeny: [{fromEntities: [all]}]",
        "egress: [{toCIDR: [10.0.2.0/24]}]",
    ];
    native(
        NativeKind::CiliumNetworkPolicy,
        &format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n\
             metadata: {{name: cnp{slot}, namespace: {}}}\nspec:\n  endpointSelector: {}\n  {}\n",
            NAMESPACES[ns],
            selectors[variant % 3],
            rules[variant % 3]
        ),
    )
}

fn calico_policy(ns: usize, slot: usize, variant: usize) -> ClusterObject {
    let selectors = ["all()", "app == 'web'", "app == 'db'"];
    let rules = [
        "types: [Ingress]\n  ingress: [{action: Allow, source: {selector: \"app == 'cache'\"}}]",
        "types: [Ingress]\n  ingress: [{action: Deny, source: {nets: [10.0.2.0/24]}}]",
        "types: [Egress]\n  egress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]",
    ];
    native(
        NativeKind::CalicoNetworkPolicy,
        &format!(
            "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n\
             metadata: {{name: cal{slot}, namespace: {}}}\nspec:\n  selector: \"{}\"\n  {}\n",
            NAMESPACES[ns],
            selectors[variant % 3],
            rules[variant % 3]
        ),
    )
}

/// One step of the console's life.
#[derive(Debug, Clone)]
enum Step {
    /// An object applied (`Some(variant)`) or deleted, of kind `0..6`.
    Object {
        kind: usize,
        ns: usize,
        slot: usize,
        variant: Option<usize>,
    },
    /// The pod watcher relisted (the analyst starts again from a copy).
    RelistPods,
    /// The end of a batch: `update` may ask for an analysis.
    Settle,
    /// The pacer starts the analysis asked for; its answer arrives at once.
    Run,
    /// As `Run`, but the answer arrives after the next steps.
    RunLate,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..6, 0usize..3, 0usize..3, prop::option::weighted(0.75, 0usize..6))
            .prop_map(|(kind, ns, slot, variant)| Step::Object { kind, ns, slot, variant }),
        1 => Just(Step::RelistPods),
        3 => Just(Step::Settle),
        2 => Just(Step::Run),
        1 => Just(Step::RunLate),
    ]
}

fn watch(s: &mut State, kind: ResourceKind, event: WatchEvent) {
    update(s, Msg::Watch { kind, event });
}

fn apply_object(s: &mut State, kind: usize, ns: usize, slot: usize, variant: Option<usize>) {
    let object = |v| match kind {
        0 => namespace_object(ns, v),
        1 => pod(ns, slot, v),
        2 => network_policy(ns, slot, v),
        3 => tier_policy(slot, v),
        4 => cilium_policy(ns, slot, v),
        _ => calico_policy(ns, slot, v),
    };
    let sample = object(0);
    let resource = sample.kind();
    match variant {
        Some(v) => watch(s, resource, WatchEvent::Applied(Box::new(object(v)))),
        None => {
            let (namespace, name) = match &sample {
                ClusterObject::Namespace(n) => (None, n.name.clone()),
                ClusterObject::Pod(p) => (Some(p.id.namespace.clone()), p.id.name.clone()),
                ClusterObject::Policy(p) => (Some(p.id.namespace.clone()), p.id.name.clone()),
                ClusterObject::Tier(t) => (None, t.id.name.clone()),
                ClusterObject::Native(n) => (Some(n.id.namespace.clone()), n.id.name.clone()),
            };
            watch(s, resource, WatchEvent::Deleted { namespace, name });
        }
    }
}

/// The analyses a full rebuild and the analyst give must say the same, engine included.
fn assert_same(incremental: &Analysis, full: &Analysis) {
    assert_eq!(incremental.isolation, full.isolation, "isolation");
    assert_eq!(incremental.findings, full.findings, "findings");
    assert_eq!(incremental.intent, full.intent, "intent");
    assert_eq!(incremental.matrix, full.matrix, "matrix");
    assert_eq!(incremental.namespaces_by_group, full.namespaces_by_group);
    assert_eq!(incremental.policy_pods, full.policy_pods, "policy_pods");
    assert_eq!(incremental.native_pods, full.native_pods, "native_pods");
    assert_eq!(incremental.tier_reach, full.tier_reach, "tier_reach");
    assert_eq!(incremental.boundaries, full.boundaries, "boundaries");
    assert_eq!(incremental.settings, full.settings, "settings");
    assert_eq!(incremental.cni, full.cni, "cni");
    let (a, b) = (&incremental.engine, &full.engine);
    assert_eq!(a.classes(), b.classes(), "classes");
    assert_eq!(a.rows_fingerprint(), b.rows_fingerprint(), "rows");
    assert_eq!(a.externals(), b.externals(), "externals");
    assert_eq!(a.snapshot(), b.snapshot(), "what explanations read");
    let keys = |e: &crate::policy::Engine| {
        let policies: Vec<String> = e.policies().keys().map(|k| k.to_string()).collect();
        let tiers: Vec<String> = e.tiers().keys().map(|k| format!("{k:?}")).collect();
        let natives: Vec<String> = (e.natives().keys())
            .chain(e.calico_policies().keys())
            .map(|k| format!("{k:?}"))
            .collect();
        let errors: Vec<String> = e.validation_errors().map(|e| format!("{e:?}")).collect();
        (policies, tiers, natives, errors)
    };
    assert_eq!(keys(a), keys(b), "compiled policies and errors");
}

/// The executor's part: the analyst thread, run inline.
struct Runtime {
    analyst: Analyst,
    last_sent: Option<FlowId>,
    asked: Option<FlowId>,
    late: Option<(FlowId, Analysis)>,
    rebuilds: Vec<Rebuild>,
}

impl Runtime {
    fn effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            if let Effect::Analyze(flow) = effect {
                self.asked = Some(flow);
            }
        }
    }

    fn run(&mut self, s: &mut State, late: bool) {
        let Some(flow) = self.asked.take() else {
            return;
        };
        let job = match analysis_delta(s) {
            Some((base, changes)) if self.last_sent == Some(base) => Job::Delta {
                changes,
                now: s.cluster.clone(),
            },
            _ => Job::Full(s.cluster.clone()),
        };
        self.last_sent = Some(flow);
        let settings = analysis_settings(s);
        let (analysis, rebuild) = self.analyst.analyse(&settings, job);
        self.rebuilds.push(rebuild);
        let kept = self.analyst.snapshot().expect("an engine after a job");
        assert!(
            kept.same_version(&s.cluster),
            "the engine keeps the console's snapshot, not a copy of its own"
        );
        let full = analyze_as(
            s.cluster.clone(),
            &settings.rules,
            settings.ip_block_pods,
            settings.cni,
            settings.intent.as_ref(),
        );
        assert_same(&analysis, &full);
        match late {
            true => self.late = Some((flow, analysis)),
            false => self.answer(s, flow, analysis),
        }
    }

    fn answer(&mut self, s: &mut State, flow: FlowId, analysis: Analysis) {
        let effects = update(
            s,
            Msg::Analyzed {
                flow,
                analysis: Box::new(analysis),
            },
        );
        self.effects(effects);
    }
}

fn initial() -> Vec<ClusterObject> {
    let mut objects: Vec<ClusterObject> = (0..3).map(|ns| namespace_object(ns, ns)).collect();
    for ns in 0..3 {
        objects.extend((0..2).map(|slot| pod(ns, slot, ns + slot)));
    }
    objects.push(network_policy(0, 0, 1));
    objects.push(tier_policy(0, 0));
    objects.push(cilium_policy(1, 0, 0));
    objects
}

/// Runs the steps; what each analysis had to rebuild.
fn check(steps: &[Step]) -> Vec<Rebuild> {
    let mut s = state();
    listed(&mut s, initial());
    let mut rt = Runtime {
        analyst: Analyst::default(),
        last_sent: None,
        asked: s.analysis_job.running,
        late: None,
        rebuilds: Vec::new(),
    };
    for step in steps {
        match step {
            Step::Object {
                kind,
                ns,
                slot,
                variant,
            } => apply_object(&mut s, *kind, *ns, *slot, *variant),
            Step::RelistPods => {
                let pods = s.cluster.pods.values().cloned().map(ClusterObject::Pod);
                let pods = pods.collect();
                watch(&mut s, ResourceKind::Pod, WatchEvent::Listed(pods));
            }
            Step::Settle => {
                let effects = update(&mut s, Msg::Settle);
                rt.effects(effects);
            }
            Step::Run | Step::RunLate => rt.run(&mut s, matches!(step, Step::RunLate)),
        }
        if !matches!(step, Step::RunLate)
            && let Some((flow, analysis)) = rt.late.take()
        {
            rt.answer(&mut s, flow, analysis);
        }
    }
    // Whatever is left: answered, settled and analysed once more.
    if let Some((flow, analysis)) = rt.late.take() {
        rt.answer(&mut s, flow, analysis);
    }
    let effects = update(&mut s, Msg::Settle);
    rt.effects(effects);
    rt.run(&mut s, false);
    rt.rebuilds
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn the_analyst_says_what_a_full_rebuild_says(steps in prop::collection::vec(step(), 1..20)) {
        check(&steps);
    }
}

#[test]
fn a_deleted_policy_leaves_the_incremental_analysis() {
    let object = |variant| Step::Object {
        kind: 2,
        ns: 0,
        slot: 0,
        variant,
    };
    let steps = [
        Step::Run,
        object(Some(2)),
        Step::Settle,
        Step::Run,
        object(None),
        Step::Settle,
        Step::Run,
    ];
    use Rebuild::*;
    assert_eq!(check(&steps), [Full, Incremental, Incremental]);
}

#[test]
fn each_kind_of_change_takes_its_path() {
    let mut steps = vec![Step::Run];
    for kind in [3, 4, 2, 1, 0] {
        steps.extend([
            Step::Object {
                kind,
                ns: 1,
                slot: 1,
                variant: Some(2),
            },
            Step::Settle,
            Step::Run,
        ]);
    }
    use Rebuild::*;
    // Tier, Cilium and NetworkPolicy changes update the engine; the pod, written again as it
    // was, stays in its class; the namespace's new labels re-form the classes.
    assert_eq!(
        check(&steps),
        [
            Full,
            Incremental,
            Incremental,
            Incremental,
            Members,
            Classes
        ]
    );
}

#[test]
fn pods_move_between_classes_or_form_their_own_without_re_forming_them() {
    let pod = |slot, variant| Step::Object {
        kind: 1,
        ns: 1,
        slot,
        variant,
    };
    // Namespace b starts with p0 (app: db) and p1 (app: cache), one class each.
    let steps = [
        Step::Run,
        // A second db replica joins p0's class, then leaves it again.
        pod(2, Some(1)),
        Step::Settle,
        Step::Run,
        pod(2, None),
        Step::Settle,
        Step::Run,
        // p1 relabelled to cache's neighbour db: its own class empties.
        pod(1, Some(1)),
        Step::Settle,
        Step::Run,
        // A replica with labels nobody has: a new class.
        pod(2, Some(0)),
        Step::Settle,
        Step::Run,
    ];
    use Rebuild::*;
    assert_eq!(
        check(&steps),
        [Full, Members, Members, NewClasses, NewClasses]
    );
}
