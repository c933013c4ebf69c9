//! The checks of Calico's API server (`projectcalico.org/v3`) a client can run into: `spec` an
//! object, selectors in Calico's selector language, `order` a number, rule lists lists whose
//! `action` is one of Allow, Deny, Pass and Log, `types` Ingress or Egress; a Tier's
//! `defaultAction` Deny or Pass. Unknown fields are kept, as Calico versions add them.

use serde_json::Value;

use super::status::FieldCause;
use crate::model::NativeKind;
use crate::policy::calico::selector;

const ACTIONS: [&str; 4] = ["Allow", "Deny", "Pass", "Log"];
const SELECTORS: [&str; 3] = ["selector", "namespaceSelector", "serviceAccountSelector"];

/// Every violation of a Calico object of `kind`.
pub fn validate(kind: NativeKind, object: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let spec = match object.get("spec") {
        None | Some(Value::Null) => return causes,
        Some(Value::Object(spec)) => spec,
        Some(other) => {
            causes.push(invalid("spec", other, "must be an object"));
            return causes;
        }
    };
    if let Some(order) = spec.get("order").filter(|v| !v.is_null() && !v.is_number()) {
        causes.push(invalid("spec.order", order, "must be a number"));
    }
    if kind == NativeKind::CalicoTier {
        if let Some(action) = spec.get("defaultAction").filter(|v| !v.is_null())
            && !matches!(action.as_str(), Some("Deny" | "Pass"))
        {
            causes.push(invalid(
                "spec.defaultAction",
                action,
                "supported values: \"Deny\", \"Pass\"",
            ));
        }
        return causes;
    }
    for key in SELECTORS {
        selector_field(&format!("spec.{key}"), spec.get(key), &mut causes);
    }
    if let Some(types) = spec.get("types").filter(|v| !v.is_null()) {
        let valid = types.as_array().is_some_and(|list| {
            list.iter()
                .all(|t| matches!(t.as_str(), Some("Ingress" | "Egress")))
        });
        if !valid {
            causes.push(invalid(
                "spec.types",
                types,
                "must be a list of \"Ingress\" and \"Egress\"",
            ));
        }
    }
    for list in ["ingress", "egress"] {
        match spec.get(list) {
            None | Some(Value::Null) => {}
            Some(Value::Array(rules)) => {
                for (i, rule) in rules.iter().enumerate() {
                    check_rule(&format!("spec.{list}[{i}]"), rule, &mut causes);
                }
            }
            Some(other) => causes.push(invalid(&format!("spec.{list}"), other, "must be a list")),
        }
    }
    causes
}

fn check_rule(path: &str, rule: &Value, causes: &mut Vec<FieldCause>) {
    let Some(map) = rule.as_object() else {
        causes.push(invalid(path, rule, "must be an object"));
        return;
    };
    match map.get("action").and_then(Value::as_str) {
        Some(action) if ACTIONS.contains(&action) => {}
        Some(_) | None => causes.push(FieldCause {
            reason: "FieldValueNotSupported",
            field: format!("{path}.action"),
            message: format!(
                "Unsupported value: {}: supported values: \"Allow\", \"Deny\", \"Pass\", \"Log\"",
                map.get("action").unwrap_or(&Value::Null)
            ),
        }),
    }
    for side in ["source", "destination"] {
        let Some(entity) = map.get(side).and_then(Value::as_object) else {
            continue;
        };
        for key in SELECTORS {
            selector_field(&format!("{path}.{side}.{key}"), entity.get(key), causes);
        }
    }
}

fn selector_field(field: &str, value: Option<&Value>, causes: &mut Vec<FieldCause>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            if let Err(err) = selector::parse(text) {
                causes.push(FieldCause {
                    reason: "FieldValueInvalid",
                    field: field.to_string(),
                    message: format!("Invalid value: {text:?}: invalid selector: {err}"),
                });
            }
        }
        Some(other) => causes.push(invalid(field, other, "must be a string")),
    }
}

fn invalid(field: &str, value: &Value, why: &str) -> FieldCause {
    FieldCause {
        reason: "FieldValueInvalid",
        field: field.to_string(),
        message: format!("Invalid value: {value}: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(kind: NativeKind, object: Value) -> Vec<String> {
        validate(kind, &object)
            .into_iter()
            .map(|c| c.field)
            .collect()
    }

    #[test]
    fn valid_objects_pass_and_each_broken_part_is_named() {
        let gnp = NativeKind::CalicoGlobalNetworkPolicy;
        let ok = json!({"spec": {"tier": "security", "order": 10, "selector": "tenant == 'acme'",
            "types": ["Ingress"], "ingress": [{"action": "Deny",
            "source": {"namespaceSelector": "tenant != 'acme'"}}, {"action": "Pass"}]}});
        assert!(validate(gnp, &ok).is_empty(), "{:?}", fields(gnp, ok));
        assert_eq!(
            fields(
                gnp,
                json!({"spec": {"order": "first", "selector": "app ==",
                "types": ["Inbound"], "ingress": [{"action": "Drop"},
                {"action": "Allow", "source": {"selector": "has(("}}], "egress": {}}})
            ),
            [
                "spec.order",
                "spec.selector",
                "spec.types",
                "spec.ingress[0].action",
                "spec.ingress[1].source.selector",
                "spec.egress"
            ]
        );
        let tier = NativeKind::CalicoTier;
        assert!(
            validate(
                tier,
                &json!({"spec": {"order": 100, "defaultAction": "Pass"}})
            )
            .is_empty()
        );
        assert_eq!(
            fields(tier, json!({"spec": {"defaultAction": "Allow"}})),
            ["spec.defaultAction"]
        );
    }
}
