//! Lint rules for Calico's policies (NetworkPolicy, GlobalNetworkPolicy, Tier), over the
//! compiled policies and the engine's pod classes: malformed objects, selectors that match no
//! pod, rules shadowed by an earlier rule of the same tier, and Pass in the last tier. Peers are
//! compared by the pods they take in today, and by address for `nets`.

use super::findings::{
    CALICO_INVALID, CALICO_PASS_IN_LAST_TIER, CALICO_SELECTS_NOTHING, CALICO_SHADOWED_RULE, Finding,
};
use crate::policy::calico::eval::{entity_matches, has_named_ports, rule_ports, selects};
use crate::policy::calico::selector::Selector;
use crate::policy::calico::{
    CalicoAction, CalicoRule, CalicoTier, CompiledCalico, DEFAULT_TIER, EntityRule, OrderKey,
};
use crate::policy::matching::Target;
use crate::policy::tier::Tier;
use crate::policy::{Direction, Engine};

pub fn calico_findings(engine: &Engine) -> Vec<Finding> {
    let mut findings: Vec<Finding> = engine
        .validation_errors()
        .filter(|e| e.kind.starts_with("Calico "))
        .map(|e| {
            Finding::new(
                CALICO_INVALID,
                &e.object.namespace,
                format!("{} {}", e.kind, e.object),
                format!("{}: {}", e.field, e.reason),
            )
        })
        .collect();
    let policies: Vec<&CompiledCalico> = engine
        .calico_policies()
        .values()
        .filter(|p| p.evaluated())
        .collect();
    let has_pods = !engine.classes().classes.is_empty();
    for p in &policies {
        if has_pods {
            findings.extend(selects_nothing(engine, p));
        }
    }
    findings.extend(shadowed(engine, &policies));
    findings.extend(pass_in_last_tier(engine, &policies));
    findings
}

fn object(p: &CompiledCalico) -> String {
    p.id.to_string()
}

/// A policy selector (not `all()`) or a rule selector that takes in no pod today.
fn selects_nothing(engine: &Engine, p: &CompiledCalico) -> Vec<Finding> {
    let classes = &engine.classes().classes;
    let mut out = Vec::new();
    if p.selector != Selector::All && !classes.iter().any(|c| selects(p, &c.endpoint)) {
        out.push(Finding::new(
            CALICO_SELECTS_NOTHING,
            &p.id.namespace,
            object(p),
            format!(
                "selector {:?} matches no pod: the policy applies to nothing",
                p.selector_text
            ),
        ));
    }
    for dir in [Direction::Ingress, Direction::Egress] {
        for rule in p.rules(dir) {
            for (side, e) in [("source", &rule.source), ("destination", &rule.destination)] {
                let Some(selector) = &e.selector else {
                    continue;
                };
                if *selector == Selector::All {
                    continue;
                }
                let scope = EntityRule {
                    selector: Some(selector.clone()),
                    namespace_selector: e.namespace_selector.clone(),
                    ..Default::default()
                };
                let any = classes
                    .iter()
                    .any(|c| entity_matches(&scope, p.namespace(), Target::Pod(&c.endpoint)));
                if !any {
                    out.push(Finding::new(
                        CALICO_SELECTS_NOTHING,
                        &p.id.namespace,
                        object(p),
                        format!(
                            "{} rule #{} {side} selector {selector} matches no pod",
                            dir.as_str().to_ascii_lowercase(),
                            rule.index
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Which classes an entity rule's pod criteria take in.
fn classes_of(engine: &Engine, p: &CompiledCalico, e: &EntityRule) -> Vec<bool> {
    engine
        .classes()
        .classes
        .iter()
        .map(|c| entity_matches(e, p.namespace(), Target::Pod(&c.endpoint)))
        .collect()
}

fn subset(a: &[bool], b: &[bool]) -> bool {
    a.iter().zip(b).all(|(x, y)| !*x || *y)
}

/// Whether `wide`'s criteria on external addresses take in at least `narrow`'s.
fn covers_addresses(wide: &EntityRule, narrow: &EntityRule) -> bool {
    let no_externals = |e: &EntityRule| e.selector.is_some() || e.namespace_selector.is_some();
    if no_externals(narrow) {
        return true;
    }
    if no_externals(wide) {
        return false;
    }
    let nets = match (&wide.nets, &narrow.nets) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(n)) => n.subtract(w).is_empty(),
    };
    let not_nets = match (&wide.not_nets, &narrow.not_nets) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(n)) => w.subtract(n).is_empty(),
    };
    nets && not_nets
}

/// A rule of a policy in the tier's order.
struct Ordered<'a> {
    policy: &'a CompiledCalico,
    rule: &'a CalicoRule,
    dir: Direction,
    selected: Vec<bool>,
}

/// A rule that can never decide: an earlier decisive rule of the same tier (same policy, or a
/// policy earlier in order selecting at least its pods) takes in at least its peers, on at
/// least its connections, with no narrower criteria on the selected pod.
fn shadowed(engine: &Engine, policies: &[&CompiledCalico]) -> Vec<Finding> {
    let mut out = Vec::new();
    let classes = &engine.classes().classes;
    let mut tiers: std::collections::BTreeMap<&str, Vec<&CompiledCalico>> = Default::default();
    for p in policies {
        tiers.entry(p.tier.as_str()).or_default().push(p);
    }
    for (_, mut members) in tiers {
        members.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        for dir in [Direction::Ingress, Direction::Egress] {
            let rules: Vec<Ordered> = members
                .iter()
                .filter(|p| p.applies(dir))
                .flat_map(|p| {
                    let selected: Vec<bool> =
                        classes.iter().map(|c| selects(p, &c.endpoint)).collect();
                    p.rules(dir).iter().map(move |rule| Ordered {
                        policy: p,
                        rule,
                        dir,
                        selected: selected.clone(),
                    })
                })
                .collect();
            for (i, later) in rules.iter().enumerate() {
                if later.rule.unknown.is_some() || later.rule.action == CalicoAction::Log {
                    continue;
                }
                let later_peers = classes_of(engine, later.policy, later.rule.peer(dir));
                let shadow = rules[..i]
                    .iter()
                    .find(|early| shadows(engine, early, later, &later_peers));
                if let Some(early) = shadow {
                    out.push(Finding::new(
                        CALICO_SHADOWED_RULE,
                        &later.policy.id.namespace,
                        object(later.policy),
                        format!(
                            "{} rule #{} ({}) never decides: {} {} rule #{} ({}) comes first in tier {} and takes in the same or more",
                            dir.as_str().to_ascii_lowercase(),
                            later.rule.index,
                            later.rule.action,
                            early.policy.describe(),
                            dir.as_str().to_ascii_lowercase(),
                            early.rule.index,
                            early.rule.action,
                            later.policy.tier
                        ),
                    ));
                }
            }
        }
    }
    out
}

fn shadows(engine: &Engine, early: &Ordered, later: &Ordered, later_peers: &[bool]) -> bool {
    let (e, l) = (early.rule, later.rule);
    if !e.action.decisive() || e.unknown.is_some() || e.http || e.other_protocol() {
        return false;
    }
    if !subset(&later.selected, &early.selected) || !later.selected.iter().any(|s| *s) {
        return false;
    }
    // Criteria on the selected pod itself: the earlier rule must have none, or the same.
    let own_e = e.own(early.dir);
    let own_l = l.own(later.dir);
    let same_own = own_e.selector == own_l.selector
        && own_e.not_selector == own_l.not_selector
        && own_e.namespace_selector == own_l.namespace_selector
        && own_e.nets == own_l.nets
        && own_e.not_nets == own_l.not_nets;
    if !(own_e.selects_any() || same_own) {
        return false;
    }
    if has_named_ports(e) || has_named_ports(l) {
        if e.destination.ports != l.destination.ports
            || e.destination.not_ports != l.destination.not_ports
            || e.protocol != l.protocol
        {
            return false;
        }
    } else if !rule_ports(l, None)
        .subtract(&rule_ports(e, None))
        .is_empty()
    {
        return false;
    }
    let early_peers = classes_of(engine, early.policy, e.peer(early.dir));
    subset(later_peers, &early_peers) && covers_addresses(e.peer(early.dir), l.peer(later.dir))
}

/// Pass rules in the last tier that has policies: what they pass goes to the namespace's
/// profile, which allows it.
fn pass_in_last_tier(engine: &Engine, policies: &[&CompiledCalico]) -> Vec<Finding> {
    let tiers = engine.calico_tiers();
    let tier_of = |name: &str| -> CalicoTier {
        tiers.get(name).cloned().unwrap_or_else(|| match name {
            DEFAULT_TIER => CalicoTier::default_tier(),
            other => CalicoTier {
                name: other.into(),
                order: None,
                default_pass: false,
            },
        })
    };
    let mut names: Vec<&str> = policies.iter().map(|p| p.tier.as_str()).collect();
    if !engine.policies().is_empty() {
        names.push(DEFAULT_TIER);
    }
    // Baseline tier policies come after every Calico tier (Calico's kube-baseline tier).
    if engine.tiers().values().any(|t| t.tier == Tier::Baseline) {
        names.push(crate::policy::calico::BASELINE_TIER.0);
    }
    let Some(last) = names.iter().map(|n| tier_of(n)).max_by(|a, b| {
        (OrderKey(a.order.unwrap_or(f64::INFINITY)), &a.name)
            .cmp(&(OrderKey(b.order.unwrap_or(f64::INFINITY)), &b.name))
    }) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in policies.iter().filter(|p| p.tier == last.name) {
        for dir in [Direction::Ingress, Direction::Egress] {
            for rule in p
                .rules(dir)
                .iter()
                .filter(|r| r.action == CalicoAction::Pass)
            {
                out.push(Finding::new(
                    CALICO_PASS_IN_LAST_TIER,
                    &p.id.namespace,
                    object(p),
                    format!(
                        "{} rule #{} passes, but {} is the last tier: what it passes is allowed by the namespace's profile",
                        dir.as_str().to_ascii_lowercase(),
                        rule.index,
                        last.describe()
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "lint_calico_tests.rs"]
mod tests;
