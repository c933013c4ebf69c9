//! What the console shows of the cluster-scoped tier policies: which namespaces and pods each
//! selects, the rules that shape each tenant's boundary in evaluation order, and their text.
//! Computed once per analysis (off the UI thread), so the views only read it.

use std::collections::{BTreeMap, BTreeSet};

use super::tenants::{Group, TenantRules};
use crate::model::{ClusterSnapshot, TierRef};
use crate::policy::decide::Matched;
use crate::policy::matching::Target;
use crate::policy::tier::{CompiledTier, TierPeer, TierPort, TierRule, TierSubject};
use crate::policy::tier_match::{tier_rule_matches, tier_selects};
use crate::policy::{Direction, Engine};

/// What one tier policy selects, from the engine's classes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierReach {
    /// Namespaces with at least one selected pod.
    pub namespaces: BTreeSet<String>,
    pub pods: usize,
}

/// A rule of a tier policy that shapes a tenant's boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundaryRule {
    pub policy: TierRef,
    pub ingress: bool,
    pub index: usize,
    /// The whole line, e.g. "Deny ingress from namespaces tenant notin (acme) —
    /// cnp/tenant-isolation (Admin, priority 10) rule `deny-others` #0".
    pub text: String,
    /// True when the policy's subject selects the tenant's pods; false when only the rule's
    /// peers take them in (another subject's rule about traffic to or from the tenant).
    pub subject: bool,
}

/// Per tier policy, the namespaces and pods its subject selects. The engine already knows which
/// policies with rules select each class; only policies without any rule are matched here.
pub fn tier_reach(engine: &Engine) -> BTreeMap<TierRef, TierReach> {
    let classes = &engine.classes().classes;
    let mut out: BTreeMap<TierRef, TierReach> = engine
        .tiers()
        .keys()
        .map(|id| (id.clone(), TierReach::default()))
        .collect();
    let ruleless: Vec<&CompiledTier> = engine
        .tiers()
        .values()
        .filter(|p| p.ingress.is_empty() && p.egress.is_empty())
        .collect();
    for (c, class) in classes.iter().enumerate() {
        let mut selecting: BTreeSet<&TierRef> = [Direction::Ingress, Direction::Egress]
            .into_iter()
            .flat_map(|dir| engine.tier_selecting(c, dir))
            .collect();
        selecting.extend(
            ruleless
                .iter()
                .filter(|p| tier_selects(p, &class.endpoint))
                .map(|p| &p.id),
        );
        for id in selecting {
            if let Some(reach) = out.get_mut(id) {
                reach.namespaces.insert(class.endpoint.namespace.clone());
                reach.pods += class.members.len();
            }
        }
    }
    out
}

/// Per tenant, the tier rules that shape its boundary in evaluation order (Admin by priority,
/// then Baseline; within a policy ingress rules, then egress rules): rules of policies that
/// select some pod of the tenant, and rules whose peers take in some pod of it.
pub fn tenant_boundaries(
    engine: &Engine,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
    reach: &BTreeMap<TierRef, TierReach>,
) -> BTreeMap<String, Vec<BoundaryRule>> {
    let mut out: BTreeMap<String, Vec<BoundaryRule>> = BTreeMap::new();
    if engine.tiers().is_empty() {
        return out;
    }
    let classes = &engine.classes().classes;
    let mut tenant_classes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut tenant_namespaces: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for ns in snapshot.namespaces.values() {
        if let Group::Tenant(name) = rules.group_of(&ns.name, &ns.labels) {
            tenant_namespaces
                .entry(name.clone())
                .or_default()
                .insert(&ns.name);
            let of_ns = engine.classes().by_namespace.get(&ns.name);
            tenant_classes
                .entry(name)
                .or_default()
                .extend(of_ns.into_iter().flatten());
        }
    }
    let mut policies: Vec<&CompiledTier> = engine.tiers().values().collect();
    policies.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    let networks = engine.settings().tier_networks;
    for (tenant, members) in &tenant_classes {
        let namespaces = &tenant_namespaces[tenant];
        let lines = out.entry(tenant.clone()).or_default();
        for policy in &policies {
            let subject = reach
                .get(&policy.id)
                .is_some_and(|r| r.namespaces.iter().any(|n| namespaces.contains(n.as_str())));
            for ingress in [true, false] {
                for rule in policy.rules(ingress) {
                    let takes_in = || {
                        members.iter().any(|c| {
                            tier_rule_matches(rule, Target::Pod(&classes[*c].endpoint), networks)
                                == Matched::Yes
                        })
                    };
                    if subject || takes_in() {
                        lines.push(BoundaryRule {
                            policy: policy.id.clone(),
                            ingress,
                            index: rule.index,
                            text: rule_line(policy, rule, ingress),
                            subject,
                        });
                    }
                }
            }
        }
    }
    out.retain(|_, lines| !lines.is_empty());
    out
}

/// "Deny ingress from namespaces tenant notin (acme) on TCP 5432 — cnp/x (Admin, priority 10)
/// rule `deny-others` #0".
pub fn rule_line(policy: &CompiledTier, rule: &TierRule, ingress: bool) -> String {
    let way = if ingress { "ingress from" } else { "egress to" };
    let peers: Vec<String> = rule.peers.iter().map(peer_text).collect();
    let ports = match &rule.ports {
        None => String::new(),
        Some(ports) => format!(
            " on {}",
            ports.iter().map(port_text).collect::<Vec<_>>().join(", ")
        ),
    };
    let name = match rule.name.is_empty() {
        true => String::new(),
        false => format!(" `{}`", rule.name),
    };
    format!(
        "{} {way} {}{ports} — {} rule{name} #{}",
        rule.action.as_str(),
        peers.join(" or "),
        policy_label(policy),
        rule.index
    )
}

/// "cnp/tenant-isolation (Admin, priority 10)".
pub fn policy_label(policy: &CompiledTier) -> String {
    format!("{} ({})", policy.id, tier_label(policy))
}

/// "Admin, priority 10", or "Baseline" for a BaselineAdminNetworkPolicy.
pub fn tier_label(policy: &CompiledTier) -> String {
    match policy.priority {
        Some(p) => format!("{}, priority {p}", policy.tier.as_str()),
        None => policy.tier.as_str().to_string(),
    }
}

pub fn subject_text(subject: &TierSubject) -> String {
    match subject {
        TierSubject::Namespaces(ns) => format!("pods of namespaces {ns}"),
        TierSubject::Pods { namespaces, pods } => {
            format!("pods {pods} of namespaces {namespaces}")
        }
    }
}

pub fn peer_text(peer: &TierPeer) -> String {
    match peer {
        TierPeer::Namespaces(ns) => format!("namespaces {ns}"),
        TierPeer::Pods { namespaces, pods } => format!("pods {pods} of namespaces {namespaces}"),
        TierPeer::Networks { cidrs, .. } => format!("networks {}", cidrs.join(",")),
        TierPeer::Nodes(nodes) => format!("nodes {nodes}"),
        TierPeer::DomainNames(names) => format!("domain names {}", names.join(",")),
    }
}

pub fn port_text(port: &TierPort) -> String {
    match port {
        TierPort::Range { proto, lo, hi } if lo == hi => format!("{proto} {lo}"),
        TierPort::Range { proto, lo, hi } => format!("{proto} {lo}-{hi}"),
        TierPort::Named(name) => format!("port `{name}`"),
    }
}

/// The directions in which a tier policy has rules.
pub fn tier_directions(policy: &CompiledTier) -> crate::model::Directions {
    crate::model::Directions {
        ingress: crate::policy::tier_match::applies(policy, Direction::Ingress),
        egress: crate::policy::tier_match::applies(policy, Direction::Egress),
    }
}

/// The summary above a tier policy's YAML, in the detail pane and the policies table's detail:
/// its tier and priority, subject, what it selects and its rules, or why it is invalid. `reach`
/// is what the analysis found it selects.
pub fn tier_summary(engine: &Engine, reach: Option<&TierReach>, id: &TierRef) -> Vec<String> {
    let Some(policy) = engine.tiers().get(id) else {
        let mut lines = vec!["invalid: the API server rejects it, so it decides nothing:".into()];
        lines.extend(
            engine
                .validation_errors()
                .filter(|e| e.kind == id.kind.kind() && e.object.name == id.name)
                .map(|e| format!("  {}: {}", e.field, e.reason)),
        );
        return lines;
    };
    let reach = reach.cloned().unwrap_or_default();
    let namespaces: Vec<&str> = reach.namespaces.iter().map(String::as_str).collect();
    let mut lines = vec![
        format!("tier: {}", tier_label(policy)),
        format!("subject: {}", subject_text(&policy.subject)),
        match reach.pods {
            0 => "selects: no pod".into(),
            n => format!("selects: {n} pod(s) in {}", namespaces.join(", ")),
        },
    ];
    if policy.ingress.is_empty() && policy.egress.is_empty() {
        lines.push("rules: none (it decides nothing)".into());
    } else {
        lines.push("rules, in the order they are tried:".into());
        for ingress in [true, false] {
            lines.extend(
                policy
                    .rules(ingress)
                    .iter()
                    .map(|r| format!("  {}", rule_line(policy, r, ingress))),
            );
        }
    }
    lines
}
