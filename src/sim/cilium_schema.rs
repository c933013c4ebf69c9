//! The checks of Cilium's CRD schema that a client can run into: `spec` an object and `specs`
//! a list of them, each rule selecting its endpoints with exactly one of `endpointSelector` and
//! `nodeSelector`, and every rule list a list. Unknown fields inside rules are kept (the demo
//! does not prune them), as older and newer Cilium versions add fields.

use serde_json::Value;

use super::status::FieldCause;

/// The rule lists of a Cilium policy rule.
const RULE_LISTS: [&str; 4] = ["ingress", "egress", "ingressDeny", "egressDeny"];

/// Every schema violation of a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy.
pub fn validate(object: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let spec = object.get("spec").filter(|v| !v.is_null());
    let specs = object.get("specs").filter(|v| !v.is_null());
    if let Some(spec) = spec {
        rule("spec", spec, &mut causes);
    }
    match specs {
        None => {}
        Some(Value::Array(rules)) => {
            for (i, r) in rules.iter().enumerate() {
                rule(&format!("specs[{i}]"), r, &mut causes);
            }
        }
        Some(other) => causes.push(wrong_type("specs", other, "array")),
    }
    causes
}

fn rule(path: &str, rule: &Value, causes: &mut Vec<FieldCause>) {
    let Some(map) = rule.as_object() else {
        causes.push(wrong_type(path, rule, "object"));
        return;
    };
    let selectors = ["endpointSelector", "nodeSelector"]
        .iter()
        .filter(|s| map.get(**s).is_some_and(|v| !v.is_null()))
        .count();
    if selectors != 1 {
        causes.push(FieldCause {
            reason: "FieldValueInvalid",
            field: path.to_string(),
            message: format!(
                "Invalid value: \"object\": {path} must have exactly one of endpointSelector and nodeSelector"
            ),
        });
    }
    for list in RULE_LISTS {
        match map.get(list) {
            None | Some(Value::Null) | Some(Value::Array(_)) => {}
            Some(other) => causes.push(wrong_type(&format!("{path}.{list}"), other, "array")),
        }
    }
}

fn wrong_type(field: &str, value: &Value, expected: &str) -> FieldCause {
    let shown = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    FieldCause {
        reason: "FieldValueInvalid",
        field: field.to_string(),
        message: format!(
            "Invalid value: \"{shown}\": {field} in body must be of type {expected}: \"{shown}\""
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(object: Value) -> Vec<String> {
        validate(&object).into_iter().map(|c| c.field).collect()
    }

    #[test]
    fn valid_policies_pass_and_each_broken_part_is_named() {
        let ok = json!({"metadata": {"name": "a"}, "spec": {
            "endpointSelector": {"matchLabels": {"app": "web"}},
            "egress": [{"toEntities": ["world"]}], "ingressDeny": []}});
        assert!(validate(&ok).is_empty());
        let specs = json!({"specs": [{"nodeSelector": {}}, {"endpointSelector": {}}]});
        assert!(validate(&specs).is_empty());
        assert_eq!(
            fields(json!({"spec": {"egress": {"toEntities": ["world"]}}})),
            ["spec", "spec.egress"]
        );
        assert_eq!(
            fields(json!({"specs": [{"endpointSelector": {}, "nodeSelector": {}}, 3]})),
            ["specs[0]", "specs[1]"]
        );
        assert_eq!(fields(json!({"specs": {}})), ["specs"]);
    }
}
