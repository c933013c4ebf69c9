//! Calico's evaluation of one side of a connection: which policies select an endpoint (with
//! the labels Calico adds to pods and namespaces), which rules match the other end, and the
//! ordered walk through tiers. One [`evaluate`] serves cached rows, direct queries and
//! explanations, so they cannot disagree.

use std::collections::BTreeMap;
use std::ops::Range;

use super::super::compile::Direction;
use super::super::connset::ConnSet;
use super::super::decide::{self, Matched, SideResult};
use super::super::matching::{Endpoint, Target, container_protocol};
use super::super::tier::{Action, CompiledTier, Tier};
use super::selector::Selector;
use super::{
    ADMIN_TIER, BASELINE_TIER, CalicoAction, CalicoPort, CalicoProtocol, CalicoRule, CalicoTier,
    CompiledCalico, DEFAULT_TIER, EntityRule, KUBERNETES_POLICY_ORDER, OrderKey,
};

/// A pod's labels as Calico's selectors see them: its own, plus `projectcalico.org/namespace`,
/// `projectcalico.org/orchestrator` (`k8s`) and its namespace's labels prefixed `pcns.`.
pub fn pod_label<'a>(ep: &'a Endpoint, key: &str) -> Option<&'a str> {
    match key {
        "projectcalico.org/namespace" => Some(ep.namespace.as_str()),
        "projectcalico.org/orchestrator" => Some("k8s"),
        _ => match key.strip_prefix("pcns.") {
            Some(ns_key) => ep.ns_labels.get(ns_key).map(String::as_str),
            None => ep.labels.get(key).map(String::as_str),
        },
    }
}

/// A namespace's labels as `namespaceSelector` sees them: its own plus
/// `projectcalico.org/name`.
pub fn namespace_label<'a>(ep: &'a Endpoint, key: &str) -> Option<&'a str> {
    match key {
        "projectcalico.org/name" => Some(ep.namespace.as_str()),
        _ => ep.ns_labels.get(key).map(String::as_str),
    }
}

pub fn matches_pod(selector: &Selector, ep: &Endpoint) -> bool {
    selector.matches_with(&|k| pod_label(ep, k), true)
}

pub fn matches_namespace(selector: &Selector, ep: &Endpoint) -> bool {
    selector.matches_with(&|k| namespace_label(ep, k), true)
}

/// Whether the policy selects the pod (in any direction): a namespaced policy only its own
/// namespace's pods; a global one through `namespaceSelector` too.
pub fn selects(policy: &CompiledCalico, ep: &Endpoint) -> bool {
    policy.evaluated()
        && policy.namespace().is_none_or(|ns| ep.namespace == ns)
        && policy
            .namespace_selector
            .as_ref()
            .is_none_or(|s| matches_namespace(s, ep))
        && matches_pod(&policy.selector, ep)
}

/// Whether an entity rule (`source` or `destination`, ports aside) takes in `target`. In a
/// namespaced policy a selector without `namespaceSelector` means the policy's namespace; in a
/// global one, every namespace. Selectors match endpoints only (palisade reads no network sets),
/// `nets` match pod IPs and external addresses.
pub fn entity_matches(e: &EntityRule, policy_ns: Option<&str>, target: Target) -> bool {
    match target {
        Target::Pod(ep) => {
            if let Some(nets) = &e.nets
                && !ep.ips.iter().any(|ip| nets.contains_addr(*ip))
            {
                return false;
            }
            if let Some(nets) = &e.not_nets
                && ep.ips.iter().any(|ip| nets.contains_addr(*ip))
            {
                return false;
            }
            let scoped =
                e.selector.is_some() || e.not_selector.is_some() || e.namespace_selector.is_some();
            if scoped {
                match (&e.namespace_selector, policy_ns) {
                    (Some(ns), _) if !matches_namespace(ns, ep) => return false,
                    (None, Some(own)) if ep.namespace != own => return false,
                    _ => {}
                }
            }
            e.selector.as_ref().is_none_or(|s| matches_pod(s, ep))
                && !e.not_selector.as_ref().is_some_and(|s| matches_pod(s, ep))
        }
        Target::External(r) => {
            e.selector.is_none()
                && e.namespace_selector.is_none()
                && e.nets.as_ref().is_none_or(|n| n.contains_range(r))
                && !e.not_nets.as_ref().is_some_and(|n| n.contains_range(r))
        }
    }
}

/// The connections a rule covers towards `dst` (named ports resolve against the destination
/// pod): its protocol, `destination.ports` minus `destination.notPorts`, minus `notProtocol`.
pub fn rule_ports(rule: &CalicoRule, dst: Option<&Endpoint>) -> ConnSet {
    let proto = match &rule.protocol {
        None => None,
        Some(CalicoProtocol::Known(p)) => Some(*p),
        Some(CalicoProtocol::Other(_)) => return ConnSet::none(),
    };
    let base = proto.map_or_else(ConnSet::all, ConnSet::all_of);
    let ports = &rule.destination.ports;
    let mut set = match ports.is_empty() {
        true => base,
        false => port_set(ports, proto, dst),
    };
    if !rule.destination.not_ports.is_empty() {
        set = set.subtract(&port_set(&rule.destination.not_ports, proto, dst));
    }
    if let Some(CalicoProtocol::Known(p)) = &rule.not_protocol {
        set = set.subtract(&ConnSet::all_of(*p));
    }
    set
}

fn port_set(
    ports: &[CalicoPort],
    proto: Option<super::super::connset::Protocol>,
    dst: Option<&Endpoint>,
) -> ConnSet {
    let Some(proto) = proto else {
        return ConnSet::none();
    };
    let mut out = ConnSet::none();
    for p in ports {
        match p {
            CalicoPort::Range(lo, hi) => out.union_with(&ConnSet::ports(proto, *lo, *hi)),
            CalicoPort::Named(name) => {
                for np in dst.map(|d| d.ports.as_slice()).unwrap_or_default() {
                    if np.name == *name
                        && container_protocol(np) == Some(proto)
                        && let Ok(port) = u16::try_from(np.port)
                    {
                        out.union_with(&ConnSet::ports(proto, port, port));
                    }
                }
            }
        }
    }
    out
}

pub fn has_named_ports(rule: &CalicoRule) -> bool {
    rule.destination
        .ports
        .iter()
        .chain(&rule.destination.not_ports)
        .any(|p| matches!(p, CalicoPort::Named(_)))
}

/// Whether a rule can match anything for this subject: its criteria on the subject itself.
pub fn own_side_matches(
    policy: &CompiledCalico,
    rule: &CalicoRule,
    dir: Direction,
    subject: &Endpoint,
) -> bool {
    entity_matches(rule.own(dir), policy.namespace(), Target::Pod(subject))
}

/// Where a step of the walk comes from.
#[derive(Debug, Clone, Copy)]
pub enum StepOrigin<'a> {
    Rule {
        policy: &'a CompiledCalico,
        rule: &'a CalicoRule,
    },
    /// The Kubernetes NetworkPolicies selecting the subject: one Allow of what their rules
    /// allow, at order 1000 in the default tier.
    NetworkPolicies,
    /// A rule of an AdminNetworkPolicy/ClusterNetworkPolicy (Admin or Baseline tier).
    ClusterTier(decide::Step<'a>),
}

#[derive(Debug, Clone, Copy)]
pub struct PlanStep<'a> {
    pub origin: StepOrigin<'a>,
    pub action: CalicoAction,
}

/// A tier that applies to the subject, and its steps (a range of [`Plan::steps`]).
#[derive(Debug, Clone)]
pub struct PlanTier {
    pub tier: CalicoTier,
    pub steps: Range<usize>,
}

/// The ordered walk for one subject and direction.
#[derive(Debug, Clone, Default)]
pub struct Plan<'a> {
    pub tiers: Vec<PlanTier>,
    pub steps: Vec<PlanStep<'a>>,
}

/// A tier's members, each with its sort key (order, then name).
type Entries<'a> = Vec<((OrderKey, String), Entry<'a>)>;

enum Entry<'a> {
    Calico(&'a CompiledCalico),
    NetworkPolicies,
    Cluster(Vec<decide::Step<'a>>),
}

impl<'a> Plan<'a> {
    /// Builds the walk: `policies` select the subject and apply in `dir`; `network_policies`
    /// says whether a Kubernetes NetworkPolicy does; `cluster` are the Admin/Baseline tier
    /// policies selecting it with rules in `dir`. Rules whose criteria on the subject itself
    /// fail are left out (they can never match it).
    pub fn build(
        dir: Direction,
        subject: &Endpoint,
        policies: &[&'a CompiledCalico],
        tiers: &BTreeMap<String, CalicoTier>,
        network_policies: bool,
        cluster: &[&'a CompiledTier],
    ) -> Plan<'a> {
        let mut by_tier: BTreeMap<String, Entries<'a>> = BTreeMap::new();
        for p in policies {
            let (order, name, ns) = p.order_key();
            let key = (order, format!("{name}\u{0}{ns}"));
            by_tier
                .entry(p.tier.clone())
                .or_default()
                .push((key, Entry::Calico(p)));
        }
        if network_policies {
            let key = (
                OrderKey(KUBERNETES_POLICY_ORDER),
                "knp.default.".to_string(),
            );
            by_tier
                .entry(DEFAULT_TIER.into())
                .or_default()
                .push((key, Entry::NetworkPolicies));
        }
        let ingress = dir == Direction::Ingress;
        for (which, (name, _)) in [(Tier::Admin, ADMIN_TIER), (Tier::Baseline, BASELINE_TIER)] {
            let here: Vec<&CompiledTier> = cluster
                .iter()
                .copied()
                .filter(|t| t.tier == which)
                .collect();
            if !here.is_empty() {
                let steps = decide::steps(&here, ingress);
                by_tier.entry(name.into()).or_default().insert(
                    0,
                    (
                        (OrderKey(f64::NEG_INFINITY), String::new()),
                        Entry::Cluster(steps),
                    ),
                );
            }
        }
        let mut ordered: Vec<(CalicoTier, Entries<'a>)> = by_tier
            .into_iter()
            .map(|(name, entries)| (tier_named(tiers, &name), entries))
            .collect();
        ordered.sort_by(|a, b| a.0.order_key().cmp(&b.0.order_key()));
        let mut plan = Plan::default();
        for (tier, mut entries) in ordered {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let start = plan.steps.len();
            for (_, entry) in entries {
                match entry {
                    Entry::Calico(policy) => {
                        for rule in policy.rules(dir) {
                            if own_side_matches(policy, rule, dir, subject) {
                                plan.steps.push(PlanStep {
                                    origin: StepOrigin::Rule { policy, rule },
                                    action: rule.action,
                                });
                            }
                        }
                    }
                    Entry::NetworkPolicies => plan.steps.push(PlanStep {
                        origin: StepOrigin::NetworkPolicies,
                        action: CalicoAction::Allow,
                    }),
                    Entry::Cluster(steps) => {
                        for step in steps {
                            let action = match step.rule.action {
                                Action::Accept => CalicoAction::Allow,
                                Action::Deny => CalicoAction::Deny,
                                Action::Pass => CalicoAction::Pass,
                            };
                            plan.steps.push(PlanStep {
                                origin: StepOrigin::ClusterTier(step),
                                action,
                            });
                        }
                    }
                }
            }
            plan.tiers.push(PlanTier {
                tier,
                steps: start..plan.steps.len(),
            });
        }
        plan
    }

    /// What the walk depends on besides the other end: for sharing rows between subjects.
    pub fn key(&self) -> Vec<usize> {
        let mut key = Vec::with_capacity(self.steps.len() + 2 * self.tiers.len());
        for t in &self.tiers {
            key.push(usize::MAX - usize::from(t.tier.default_pass));
            for step in &self.steps[t.steps.clone()] {
                key.push(match step.origin {
                    StepOrigin::Rule { rule, .. } => rule as *const CalicoRule as usize,
                    StepOrigin::NetworkPolicies => 1,
                    StepOrigin::ClusterTier(s) => s.rule as *const _ as usize,
                });
            }
        }
        key
    }
}

/// A Tier object by name; the default tier and the cluster tiers exist without one; a tier
/// that is missing (not readable, or deleted) sorts last and ends in Deny.
fn tier_named(tiers: &BTreeMap<String, CalicoTier>, name: &str) -> CalicoTier {
    if let Some(t) = tiers.get(name) {
        return t.clone();
    }
    match name {
        DEFAULT_TIER => CalicoTier::default_tier(),
        n if n == ADMIN_TIER.0 || n == BASELINE_TIER.0 => CalicoTier {
            name: n.into(),
            order: Some(if n == ADMIN_TIER.0 {
                ADMIN_TIER.1
            } else {
                BASELINE_TIER.1
            }),
            default_pass: true,
        },
        other => CalicoTier {
            name: other.into(),
            order: None,
            default_pass: false,
        },
    }
}

/// What decided a part of the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceStep {
    /// A rule (Allow, Deny or Pass): an index into [`Plan::steps`].
    Rule(usize),
    /// No rule of the tier decided: its `defaultAction` (an index into [`Plan::tiers`]).
    EndOfTier(usize),
    /// Passed beyond the last tier: the namespace's profile allows.
    Profile,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalicoTrace {
    pub entries: Vec<(ConnSet, TraceStep)>,
    /// Parts reached by a rule whose match is unknown: step index and reason.
    pub undecided: Vec<(ConnSet, usize, &'static str)>,
}

/// Walks the tiers for one other end. `hit(i)` says whether step `i` matches it and which
/// connections it covers. A tier's first matching Allow/Deny decides, Pass hands the part to
/// the next tier, Log goes on; what no rule decided ends in the tier's `defaultAction`; what
/// passes the last tier is allowed by the profile.
pub fn evaluate(
    plan: &Plan,
    mut hit: impl FnMut(usize) -> (Matched, ConnSet),
    mut trace: Option<&mut CalicoTrace>,
) -> SideResult {
    let mut open = ConnSet::all();
    let mut allowed = ConnSet::none();
    let mut undecided = ConnSet::none();
    for (t, tier) in plan.tiers.iter().enumerate() {
        let mut passed = ConnSet::none();
        for i in tier.steps.clone() {
            if open.is_empty() {
                break;
            }
            let action = plan.steps[i].action;
            if !action.decisive() {
                continue;
            }
            let (m, conns) = hit(i);
            if m == Matched::No {
                continue;
            }
            let part = open.intersect(&conns);
            if part.is_empty() {
                continue;
            }
            if let Matched::Unknown(reason) = m {
                undecided.union_with(&part);
                if let Some(tr) = trace.as_deref_mut() {
                    tr.undecided.push((part, i, reason));
                }
                continue;
            }
            match action {
                CalicoAction::Allow => allowed.union_with(&part),
                CalicoAction::Pass => passed.union_with(&part),
                CalicoAction::Deny | CalicoAction::Log => {}
            }
            open = open.subtract(&part);
            if let Some(tr) = trace.as_deref_mut() {
                tr.entries.push((part, TraceStep::Rule(i)));
            }
        }
        if !open.is_empty() {
            if let Some(tr) = trace.as_deref_mut() {
                tr.entries.push((open.clone(), TraceStep::EndOfTier(t)));
            }
            if tier.tier.default_pass {
                passed.union_with(&open);
            }
        }
        open = passed;
    }
    if !open.is_empty() {
        if let Some(tr) = trace {
            tr.entries.push((open.clone(), TraceStep::Profile));
        }
        allowed.union_with(&open);
    }
    SideResult { allowed, undecided }
}

/// "GlobalNetworkPolicy deny-cross-tenant ingress rule #0 Deny".
pub fn step_text(step: &PlanStep, dir: Direction) -> String {
    match step.origin {
        StepOrigin::Rule { policy, rule } => format!(
            "{} {} rule #{} {}",
            policy.describe(),
            dir.as_str().to_ascii_lowercase(),
            rule.index,
            rule.action
        ),
        StepOrigin::NetworkPolicies => {
            "Kubernetes NetworkPolicies (order 1000): what their rules allow".to_string()
        }
        StepOrigin::ClusterTier(s) => format!(
            "{} {} {}",
            s.policy.describe(),
            s.rule.describe(dir == Direction::Ingress),
            step.action
        ),
    }
}
