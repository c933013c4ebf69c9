//! CiliumNetworkPolicy peers on namespace labels (`k8s:io.cilium.k8s.namespace.labels.<key>`
//! in `fromEndpoints`/`toEndpoints`) that the user cannot read, taken at a bound. A deny peer
//! that matches more allows less, so its bounds are the other way round from an allow peer's.

use serde_json::{Value, json};

use super::{Bound, NO_NAMESPACE};
use crate::model::scope::NAME_LABEL;
use crate::policy::Direction;

const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";
/// The namespace itself, which Cilium maps to the name label.
const NAMESPACE: &str = "k8s:io.kubernetes.pod.namespace";

/// A rule's sections with endpoint peers: (section, peer field, direction, whether it denies).
const SECTIONS: [(&str, &str, Direction, bool); 4] = [
    ("ingress", "fromEndpoints", Direction::Ingress, false),
    ("egress", "toEndpoints", Direction::Egress, false),
    ("ingressDeny", "fromEndpoints", Direction::Ingress, true),
    ("egressDeny", "toEndpoints", Direction::Egress, true),
];

fn unreadable_key(key: &str) -> bool {
    let key = (key.strip_prefix("k8s:"))
        .or_else(|| key.strip_prefix("any:"))
        .unwrap_or(key);
    key.strip_prefix(NAMESPACE_LABELS)
        .is_some_and(|label| label != NAME_LABEL)
}

fn reads_unreadable(selector: &Value) -> bool {
    let labels = (selector.get("matchLabels").and_then(Value::as_object))
        .into_iter()
        .flat_map(|m| m.keys().map(String::as_str));
    let expressions = (selector.get("matchExpressions").and_then(Value::as_array))
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("key")?.as_str());
    labels.chain(expressions).any(unreadable_key)
}

/// The peers of a CiliumNetworkPolicy's `data` on unreadable namespace labels, as (direction,
/// field); with `bound`, each rewritten to it.
pub(super) fn rewrite(data: &mut Value, bound: Option<Bound>) -> Vec<(Direction, &'static str)> {
    let mut found = Vec::new();
    if let Some(spec) = data.get_mut("spec").filter(|v| v.is_object()) {
        rewrite_rule(spec, bound, &mut found);
    }
    if let Some(specs) = data.get_mut("specs").and_then(Value::as_array_mut) {
        for rule in specs {
            rewrite_rule(rule, bound, &mut found);
        }
    }
    found.sort_unstable_by_key(|(dir, field)| (*dir, *field));
    found.dedup();
    found
}

fn rewrite_rule(
    rule: &mut Value,
    bound: Option<Bound>,
    found: &mut Vec<(Direction, &'static str)>,
) {
    for (section, field, direction, denies) in SECTIONS {
        let Some(items) = rule.get_mut(section).and_then(Value::as_array_mut) else {
            continue;
        };
        for item in items {
            let Some(peers) = item.get_mut(field).and_then(Value::as_array_mut) else {
                continue;
            };
            for peer in peers.iter_mut().filter(|p| reads_unreadable(p)) {
                found.push((direction, field));
                if let Some(bound) = bound {
                    *peer = at_bound(peer, (bound == Bound::MatchAll) != denies);
                }
            }
        }
    }
}

/// `match_all`: the requirements on unreadable labels dropped, the selector still naming a
/// namespace (any), so not limited to the policy's own; else a selector matching no namespace.
fn at_bound(selector: &Value, match_all: bool) -> Value {
    let mut out = selector.clone();
    if !out.is_object() {
        out = json!({});
    }
    if match_all {
        if let Some(labels) = out.get_mut("matchLabels").and_then(Value::as_object_mut) {
            labels.retain(|key, _| !unreadable_key(key));
        }
        let expressions = out
            .as_object_mut()
            .map(|o| o.entry("matchExpressions").or_insert_with(|| json!([])));
        if let Some(list) = expressions.and_then(Value::as_array_mut) {
            list.retain(|e| !(e.get("key").and_then(Value::as_str)).is_some_and(unreadable_key));
            list.push(json!({"key": NAMESPACE, "operator": "Exists"}));
        }
    } else if let Some(object) = out.as_object_mut() {
        let labels = object.entry("matchLabels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(NAMESPACE.to_string(), json!(NO_NAMESPACE));
        }
    }
    out
}
