//! Calico policies whose rules pick namespaces by labels the user cannot read
//! (`source`/`destination` `namespaceSelector`, in Calico's selector language), taken at a bound.
//! An Allow (or Pass, which hands the connection on towards the profile's allow) matches more
//! as it widens; a Deny matching more allows less, so its bounds are the other way round.
//! Known to be unknown: the name labels (`projectcalico.org/name`, `kubernetes.io/metadata.name`).

use serde_json::{Value, json};

use super::{Bound, NO_NAMESPACE};
use crate::model::scope::NAME_LABEL;
use crate::policy::Direction;
use crate::policy::calico::selector::{Selector, parse};

/// Calico's own name label of a namespace, which it always sets.
const CALICO_NAME_LABEL: &str = "projectcalico.org/name";

/// Whether a selector text reads a namespace label other than the name labels. One that does
/// not parse is left to the engine (which reports it invalid).
fn reads_unreadable(text: &str) -> bool {
    let Ok(selector) = parse(text) else {
        return false;
    };
    let mut keys = Vec::new();
    label_keys(&selector, &mut keys);
    keys.iter()
        .any(|key| *key != NAME_LABEL && *key != CALICO_NAME_LABEL)
}

fn label_keys<'a>(selector: &'a Selector, keys: &mut Vec<&'a str>) {
    match selector {
        Selector::All | Selector::Global => {}
        Selector::Has(k)
        | Selector::Equals(k, _)
        | Selector::NotEquals(k, _)
        | Selector::In(k, _)
        | Selector::NotIn(k, _)
        | Selector::Contains(k, _)
        | Selector::StartsWith(k, _)
        | Selector::EndsWith(k, _) => keys.push(k),
        Selector::Not(inner) => label_keys(inner, keys),
        Selector::And(a, b) | Selector::Or(a, b) => {
            label_keys(a, keys);
            label_keys(b, keys);
        }
    }
}

/// The rules of a Calico policy's `data` with such a namespaceSelector, as (direction, field);
/// with `bound`, each selector rewritten to it.
pub(super) fn rewrite(data: &mut Value, bound: Option<Bound>) -> Vec<(Direction, &'static str)> {
    let mut found = Vec::new();
    let Some(spec) = data.get_mut("spec") else {
        return found;
    };
    for (section, direction) in [
        ("ingress", Direction::Ingress),
        ("egress", Direction::Egress),
    ] {
        let Some(rules) = spec.get_mut(section).and_then(Value::as_array_mut) else {
            continue;
        };
        for rule in rules {
            let denies = rule.get("action").and_then(Value::as_str) == Some("Deny");
            for end in ["source", "destination"] {
                let Some(selector) = rule
                    .get_mut(end)
                    .and_then(|e| e.get_mut("namespaceSelector"))
                else {
                    continue;
                };
                if !selector.as_str().is_some_and(reads_unreadable) {
                    continue;
                }
                found.push((direction, "namespaceSelector"));
                if let Some(bound) = bound {
                    let widen = (bound == Bound::MatchAll) != denies;
                    *selector = match widen {
                        // Over-wide on purpose: the name terms go too (more unknown, never wrong).
                        true => json!("all()"),
                        false => json!(format!("{CALICO_NAME_LABEL} == '{NO_NAMESPACE}'")),
                    };
                }
            }
        }
    }
    found.sort_unstable_by_key(|(dir, field)| (*dir, *field));
    found.dedup();
    found
}
