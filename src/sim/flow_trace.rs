//! The policy trace Calico reports with a flow (Goldmane's `enforced_policies`), pure: the
//! steps of the engine's Calico walk that touched the flow's port, in order: each Pass on the
//! way and the step that decided (a rule, the end of a tier, or the namespace's profile).

use crate::flows::{DataplanePolicy, Interner};
use crate::model::NativeKind;
use crate::policy::calico::CalicoAction;
use crate::policy::calico::eval::{CalicoTrace, StepOrigin, TraceStep};
use crate::policy::explain::SideExplanation;
use crate::policy::tier::{Action, Tier};
use crate::policy::{Direction, Engine, Peer, Protocol};

/// `subject`'s walk for a flow with `other` on `protocol/port`; `None` when no Calico tier
/// applies to it there (nothing to trace). `side` gives the NetworkPolicies that allowed it
/// when the default tier's NetworkPolicies decided.
#[allow(clippy::too_many_arguments)]
pub fn calico_trace(
    engine: &Engine,
    dir: Direction,
    subject: usize,
    other: usize,
    side: &SideExplanation,
    protocol: Protocol,
    port: u16,
    interner: &mut Interner,
) -> Option<Vec<DataplanePolicy>> {
    let plan = engine.calico_plan(subject, dir);
    if plan.tiers.is_empty() {
        return None;
    }
    let mut trace = CalicoTrace::default();
    engine.calico_side(dir, subject, &Peer::Class(other), Some(&mut trace));
    let namespace = engine
        .classes()
        .classes
        .get(subject)
        .map(|c| c.endpoint.namespace.clone())
        .unwrap_or_default();
    let mut hits = Vec::new();
    for (conns, step) in &trace.entries {
        if !conns.contains(protocol, port) {
            continue;
        }
        match step {
            TraceStep::Rule(i) => {
                let Some(step) = plan.steps.get(*i) else {
                    continue;
                };
                let word = match step.action {
                    CalicoAction::Allow => "Allow",
                    CalicoAction::Deny => "Deny",
                    CalicoAction::Pass => "Pass",
                    CalicoAction::Log => continue,
                };
                match step.origin {
                    StepOrigin::Rule { policy, rule } => {
                        let kind = match policy.id.kind {
                            NativeKind::CalicoGlobalNetworkPolicy => "GlobalNetworkPolicy",
                            _ => "CalicoNetworkPolicy",
                        };
                        hits.push(DataplanePolicy {
                            kind: interner.name(kind),
                            namespace: interner.optional(&policy.id.namespace),
                            name: interner.name(&policy.id.name),
                            tier: interner.optional(&policy.tier),
                            action: Some(interner.name(word)),
                            rule: Some(interner.name(&rule.index.to_string())),
                        });
                    }
                    StepOrigin::NetworkPolicies => {
                        hits.extend(
                            side.policies
                                .iter()
                                .filter(|p| p.allowed.contains(protocol, port))
                                .map(|p| DataplanePolicy {
                                    kind: interner.name("NetworkPolicy"),
                                    namespace: Some(interner.name(&p.policy.namespace)),
                                    name: interner.name(&p.policy.name),
                                    tier: Some(interner.name("default")),
                                    action: Some(interner.name("Allow")),
                                    rule: None,
                                }),
                        );
                    }
                    StepOrigin::ClusterTier(s) => {
                        let kind = match s.policy.tier {
                            Tier::Admin => "ClusterNetworkPolicy (Admin tier)",
                            Tier::Baseline => "ClusterNetworkPolicy (Baseline tier)",
                        };
                        let action = match s.rule.action {
                            Action::Deny => "Deny",
                            Action::Pass => "Pass",
                            _ => "Allow",
                        };
                        hits.push(DataplanePolicy {
                            kind: interner.name(kind),
                            namespace: None,
                            name: interner.name(&s.policy.id.name),
                            tier: None,
                            action: Some(interner.name(action)),
                            rule: Some(interner.name(&s.rule.index.to_string())),
                        });
                    }
                }
            }
            TraceStep::EndOfTier(t) => {
                let Some(tier) = plan.tiers.get(*t) else {
                    continue;
                };
                let action = if tier.tier.default_pass {
                    "Pass"
                } else {
                    "Deny"
                };
                hits.push(DataplanePolicy {
                    kind: interner.name("EndOfTier"),
                    namespace: None,
                    name: interner.name(&tier.tier.name),
                    tier: Some(interner.name(&tier.tier.name)),
                    action: Some(interner.name(action)),
                    rule: None,
                });
            }
            TraceStep::Profile => hits.push(DataplanePolicy {
                kind: interner.name("Profile"),
                namespace: None,
                name: interner.name(&format!("kns.{namespace}")),
                tier: None,
                action: Some(interner.name("Allow")),
                rule: None,
            }),
        }
    }
    Some(hits)
}

#[cfg(test)]
mod tests {
    use kube::core::DynamicObject;

    use super::*;
    use crate::model::fixture::{namespace, pod};
    use crate::model::{ClusterObject, ClusterSnapshot, NativePolicyInfo, ObjectRef};
    use crate::policy::{IpBlockPods, Settings, explain};

    const TIER: &str = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}\n";
    const GNP: &str = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.isolate-a}\nspec:\n  tier: security\n  order: 10\n  namespaceSelector: tenant == 'a'\n  types: [Ingress]\n  ingress:\n  - action: Deny\n    source: {namespaceSelector: tenant == 'b'}\n  - action: Pass\n";

    fn native(kind: NativeKind, yaml: &str) -> ClusterObject {
        let object: DynamicObject = crate::yaml::from_str(yaml).unwrap();
        ClusterObject::Native(NativePolicyInfo::new(kind, object).unwrap())
    }

    /// Ingress of a/web from `from`, on TCP 8080.
    fn trace(from: &str) -> Vec<String> {
        let mut snapshot = ClusterSnapshot::default();
        for object in [
            namespace("a", &[("tenant", "a")]),
            namespace("b", &[("tenant", "b")]),
            pod("a", "web", &[("app", "web")]),
            pod("a", "client", &[("app", "client")]),
            pod("b", "client", &[("app", "client")]),
            native(NativeKind::CalicoTier, TIER),
            native(NativeKind::CalicoGlobalNetworkPolicy, GNP),
        ] {
            snapshot.upsert(object);
        }
        let settings = Settings {
            ip_block_pods: IpBlockPods::Match,
            tier_networks: IpBlockPods::Match,
            cni: crate::policy::Cni::Calico,
        };
        let engine = Engine::new(&snapshot, settings);
        let class = |ns: &str, name: &str| engine.class_of(&ObjectRef::new(ns, name)).unwrap();
        let (web, other) = (class("a", "web"), class(from, "client"));
        let explanation = explain(&engine, &Peer::Class(other), &Peer::Class(web));
        let mut interner = Interner::default();
        let hits = calico_trace(
            &engine,
            Direction::Ingress,
            web,
            other,
            &explanation.ingress,
            Protocol::Tcp,
            8080,
            &mut interner,
        )
        .expect("a Calico walk");
        hits.iter()
            .map(|p| {
                format!(
                    "{} {} tier={} {} rule={}",
                    p.kind,
                    p.name,
                    p.tier.as_deref().unwrap_or("-"),
                    p.action.as_deref().unwrap_or("-"),
                    p.rule.as_deref().unwrap_or("-")
                )
            })
            .collect()
    }

    #[test]
    fn the_trace_names_the_deciding_rule_and_every_pass_before_the_profile() {
        assert_eq!(
            trace("b"),
            ["GlobalNetworkPolicy security.isolate-a tier=security Deny rule=0"]
        );
        assert_eq!(
            trace("a"),
            [
                "GlobalNetworkPolicy security.isolate-a tier=security Pass rule=1",
                "Profile kns.a tier=- Allow rule=-",
            ]
        );
    }
}
