//! Lint rules for Cilium's own policies (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy),
//! over the compiled rules and the engine's pod classes:
//! - a rule whose `endpointSelector` takes in no pod (an empty selector never: it cannot be a
//!   typo, and a namespace without pods yet is not a mistake);
//! - `toFQDNs` on endpoints that no DNS rule (`toPorts[].rules.dns`) covers: Cilium learns the
//!   names' addresses only from DNS answers its proxy sees, so without such a rule the
//!   FQDN allow never matches and the traffic is dropped (Cilium's "DNS-based policies" docs).

use serde_json::Value;

use super::findings::{CILIUM_SELECTS_NO_POD, FQDN_WITHOUT_DNS_VISIBILITY, Finding};
use crate::model::{ClusterSnapshot, NativeFamily, NativePolicyInfo};
use crate::policy::Engine;
use crate::policy::cilium::CiliumRule;
use crate::policy::decide::Matched;

pub fn cilium_findings(engine: &Engine, snapshot: &ClusterSnapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    let classes = &engine.classes().classes;
    let selected = |rule: &CiliumRule| -> Vec<usize> {
        (0..classes.len())
            .filter(|&c| rule.subject.matches(&classes[c].endpoint) == Matched::Yes)
            .collect()
    };
    // Every class some DNS rule covers.
    let mut dns_visible = vec![false; classes.len()];
    for (id, native) in engine.natives() {
        let Some(info) = snapshot.natives.get(id) else {
            continue;
        };
        let raws = raw_rules(info);
        for rule in &native.rules {
            if raws.get(rule.index).is_some_and(|r| has_dns_rule(r)) {
                for c in selected(rule) {
                    dns_visible[c] = true;
                }
            }
        }
    }
    for (id, native) in engine.natives() {
        if id.kind.family() != NativeFamily::Cilium {
            continue;
        }
        let Some(info) = snapshot.natives.get(id) else {
            continue;
        };
        let raws = raw_rules(info);
        for rule in &native.rules {
            let pods = selected(rule);
            let object = id.to_string();
            let empty = rule.subject.pods.requirements.is_empty()
                && (rule.subject.namespaces.requirements.len()
                    <= usize::from(!id.namespace.is_empty()));
            if pods.is_empty() && !empty && !snapshot.pods.is_empty() {
                findings.push(Finding::new(
                    CILIUM_SELECTS_NO_POD,
                    &id.namespace,
                    object.clone(),
                    format!(
                        "rule #{} endpointSelector {} takes in no pod{}",
                        rule.index,
                        rule.subject.text,
                        match id.namespace.is_empty() {
                            true => String::new(),
                            false => format!(" of namespace {}", id.namespace),
                        }
                    ),
                ));
            }
            let fqdns = raws
                .get(rule.index)
                .map(|r| fqdn_names(r))
                .unwrap_or_default();
            let blind = pods.iter().filter(|&&c| !dns_visible[c]).count();
            if !fqdns.is_empty() && blind > 0 {
                let members: usize = pods
                    .iter()
                    .filter(|&&c| !dns_visible[c])
                    .map(|&c| classes[c].members.len())
                    .sum();
                findings.push(Finding::new(
                    FQDN_WITHOUT_DNS_VISIBILITY,
                    &id.namespace,
                    object,
                    format!(
                        "rule #{} allows egress to {} by name, but no DNS rule covers {members} \
                         of its pods: Cilium never learns those names' addresses, so the \
                         traffic is dropped",
                        rule.index,
                        fqdns.join(", ")
                    ),
                ));
            }
        }
    }
    findings
}

/// The object's rules in the engine's order: `spec` first, then `specs` (a rule's `index`).
fn raw_rules(info: &NativePolicyInfo) -> Vec<&Value> {
    let spec = info.object.data.get("spec").filter(|v| !v.is_null());
    let specs = info.object.data.get("specs").and_then(Value::as_array);
    spec.into_iter()
        .chain(specs.into_iter().flatten())
        .collect()
}

fn egress(rule: &Value) -> impl Iterator<Item = &Value> {
    rule.get("egress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Whether an egress entry sends DNS through Cilium's proxy (`toPorts[].rules.dns`).
fn has_dns_rule(rule: &Value) -> bool {
    egress(rule).any(|entry| {
        entry
            .get("toPorts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|port| {
                port.pointer("/rules/dns")
                    .and_then(Value::as_array)
                    .is_some_and(|dns| !dns.is_empty())
            })
    })
}

/// The names and patterns of a rule's `toFQDNs`.
fn fqdn_names(rule: &Value) -> Vec<String> {
    egress(rule)
        .filter_map(|entry| entry.get("toFQDNs").and_then(Value::as_array))
        .flatten()
        .filter_map(|f| {
            f.get("matchName")
                .or_else(|| f.get("matchPattern"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}
