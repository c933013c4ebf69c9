//! The CRD schema checks of the tier kinds that matter to a client: required fields, the
//! priority range, the tier and action enums, exactly one subject form, at least one peer per
//! rule, exactly one field per peer and protocol, and the list limits. A real API server answers
//! these with 422 Invalid and one cause per field; so does the demo (see `status.rs`).

use serde_json::Value;

use crate::model::TierKind;

use super::status::FieldCause;

/// The limits and enums of one kind, from its CRD.
struct Schema {
    actions: &'static [&'static str],
    /// Rules per direction, and peers per rule.
    max_items: usize,
    /// `spec.priority` is required (not in BaselineAdminNetworkPolicy).
    priority: bool,
    /// `spec.tier` is required (ClusterNetworkPolicy only).
    tier: bool,
}

fn schema(kind: TierKind) -> Schema {
    match kind {
        TierKind::ClusterNetworkPolicy => Schema {
            actions: &["Accept", "Deny", "Pass"],
            max_items: 25,
            priority: true,
            tier: true,
        },
        TierKind::AdminNetworkPolicy => Schema {
            actions: &["Allow", "Deny", "Pass"],
            max_items: 100,
            priority: true,
            tier: false,
        },
        TierKind::BaselineAdminNetworkPolicy => Schema {
            actions: &["Allow", "Deny"],
            max_items: 100,
            priority: false,
            tier: false,
        },
    }
}

/// Every schema violation of `object`, empty when it is valid.
pub fn validate(kind: TierKind, object: &Value) -> Vec<FieldCause> {
    let schema = schema(kind);
    let mut errors = Errors::default();
    if kind == TierKind::BaselineAdminNetworkPolicy
        && object.pointer("/metadata/name").and_then(Value::as_str) != Some("default")
    {
        // The CRD's CEL rule on the whole object.
        errors.invalid(
            "<nil>",
            "\"object\"",
            "Only one baseline admin network policy with metadata.name=\"default\" can be created in the cluster",
        );
    }
    let Some(spec) = object.get("spec").filter(|s| !s.is_null()) else {
        errors.required("spec");
        return errors.0;
    };
    if !spec.is_object() {
        errors.wrong_type("spec", spec, "object");
        return errors.0;
    }
    if schema.tier {
        match spec.get("tier") {
            None | Some(Value::Null) => errors.required("spec.tier"),
            Some(Value::String(t)) if t == "Admin" || t == "Baseline" => {}
            Some(other) => errors.not_supported("spec.tier", other, &["Admin", "Baseline"]),
        }
    }
    if schema.priority {
        match spec.get("priority") {
            None | Some(Value::Null) => errors.required("spec.priority"),
            Some(p) => match p.as_i64().filter(|_| p.is_i64() || p.is_u64()) {
                None => errors.wrong_type("spec.priority", p, "integer"),
                Some(n) if n < 0 => errors.invalid(
                    "spec.priority",
                    &n.to_string(),
                    "spec.priority in body should be greater than or equal to 0",
                ),
                Some(n) if n > 1000 => errors.invalid(
                    "spec.priority",
                    &n.to_string(),
                    "spec.priority in body should be less than or equal to 1000",
                ),
                Some(_) => {}
            },
        }
    }
    match spec.get("subject") {
        None | Some(Value::Null) => errors.required("spec.subject"),
        Some(subject) => subject_errors(subject, &mut errors),
    }
    for (direction, peers) in [("ingress", "from"), ("egress", "to")] {
        rules(spec, direction, peers, &schema, &mut errors);
    }
    errors.0
}

fn subject_errors(subject: &Value, errors: &mut Errors) {
    let Some(map) = subject.as_object() else {
        errors.wrong_type("spec.subject", subject, "object");
        return;
    };
    exactly_one("spec.subject", map, errors);
    if let Some(pods) = map.get("pods")
        && pods.get("podSelector").is_none()
    {
        errors.required("spec.subject.pods.podSelector");
    }
}

fn rules(spec: &Value, direction: &str, peers_field: &str, schema: &Schema, errors: &mut Errors) {
    let Some(value) = spec.get(direction).filter(|v| !v.is_null()) else {
        return;
    };
    let path = format!("spec.{direction}");
    let Some(rules) = value.as_array() else {
        errors.wrong_type(&path, value, "array");
        return;
    };
    errors.too_many(&path, rules.len(), schema.max_items);
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("{path}[{i}]");
        match rule.get("action") {
            None | Some(Value::Null) => errors.required(&format!("{rule_path}.action")),
            Some(Value::String(a)) if schema.actions.contains(&a.as_str()) => {}
            Some(other) => {
                errors.not_supported(&format!("{rule_path}.action"), other, schema.actions)
            }
        }
        if let Some(name) = rule.get("name").and_then(Value::as_str)
            && name.chars().count() > 100
        {
            errors.too_long(&format!("{rule_path}.name"), 100);
        }
        let peers_path = format!("{rule_path}.{peers_field}");
        match rule.get(peers_field) {
            None | Some(Value::Null) => errors.required(&peers_path),
            Some(Value::Array(peers)) => {
                if peers.is_empty() {
                    errors.invalid(
                        &peers_path,
                        "0",
                        &format!("{peers_path} in body should have at least 1 items"),
                    );
                }
                errors.too_many(&peers_path, peers.len(), schema.max_items);
                for (j, peer) in peers.iter().enumerate() {
                    let peer_path = format!("{peers_path}[{j}]");
                    match peer.as_object() {
                        Some(map) => exactly_one(&peer_path, map, errors),
                        None => errors.wrong_type(&peer_path, peer, "object"),
                    }
                }
            }
            Some(other) => errors.wrong_type(&peers_path, other, "array"),
        }
        // v1alpha2 says `protocols`, v1alpha1 `ports`: each entry names exactly one form.
        for ports_field in ["protocols", "ports"] {
            let Some(Value::Array(ports)) = rule.get(ports_field) else {
                continue;
            };
            let ports_path = format!("{rule_path}.{ports_field}");
            errors.too_many(&ports_path, ports.len(), schema.max_items);
            for (j, port) in ports.iter().enumerate() {
                if let Some(map) = port.as_object() {
                    exactly_one(&format!("{ports_path}[{j}]"), map, errors);
                }
            }
        }
    }
}

fn exactly_one(path: &str, map: &serde_json::Map<String, Value>, errors: &mut Errors) {
    let n = map.len();
    if n == 0 {
        errors.invalid(
            path,
            "0",
            &format!("{path} in body should have at least 1 properties"),
        );
    } else if n > 1 {
        errors.invalid(
            path,
            &n.to_string(),
            &format!("{path} in body should have at most 1 properties"),
        );
    }
}

/// The errors found so far, in the API server's words.
#[derive(Default)]
struct Errors(Vec<FieldCause>);

impl Errors {
    fn push(&mut self, reason: &'static str, field: &str, message: String) {
        self.0.push(FieldCause {
            reason,
            field: field.to_string(),
            message,
        });
    }

    fn required(&mut self, field: &str) {
        self.push("FieldValueRequired", field, "Required value".into());
    }

    fn invalid(&mut self, field: &str, value: &str, detail: &str) {
        self.push(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {value}: {detail}"),
        );
    }

    fn wrong_type(&mut self, field: &str, value: &Value, expected: &str) {
        let shown = json_type(value);
        self.invalid(
            field,
            &format!("\"{shown}\""),
            &format!("{field} in body must be of type {expected}: \"{shown}\""),
        );
    }

    fn not_supported(&mut self, field: &str, value: &Value, supported: &[&str]) {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        self.push(
            "FieldValueNotSupported",
            field,
            format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
        );
    }

    fn too_many(&mut self, field: &str, len: usize, max: usize) {
        if len > max {
            self.push(
                "FieldValueTooMany",
                field,
                format!("Too many: {len}: must have at most {max} items"),
            );
        }
    }

    fn too_long(&mut self, field: &str, max: usize) {
        self.push(
            "FieldValueTooLong",
            field,
            format!("Too long: may not be more than {max} bytes"),
        );
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cnp(spec: Value) -> Value {
        json!({"metadata": {"name": "x"}, "spec": spec})
    }

    fn fields(errors: &[FieldCause]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_valid_cluster_network_policy_passes() {
        let ok = cnp(json!({
            "tier": "Admin", "priority": 10,
            "subject": {"namespaces": {}},
            "ingress": [{"name": "a", "action": "Deny", "from": [{"namespaces": {}}],
                         "protocols": [{"tcp": {"destinationPort": {"number": 80}}}]}],
        }));
        assert_eq!(validate(TierKind::ClusterNetworkPolicy, &ok), vec![]);
    }

    #[test]
    fn each_key_field_is_checked_with_its_path() {
        let bad = cnp(json!({
            "tier": "Platform", "priority": 1001,
            "subject": {"namespaces": {}, "pods": {"podSelector": {}}},
            "ingress": [{"action": "Allow", "from": []}],
            "egress": [{"action": "Accept"}],
        }));
        let errors = validate(TierKind::ClusterNetworkPolicy, &bad);
        assert_eq!(
            fields(&errors),
            [
                "spec.tier",
                "spec.priority",
                "spec.subject",
                "spec.ingress[0].action",
                "spec.ingress[0].from",
                "spec.egress[0].to"
            ]
        );
        assert_eq!(
            errors[0].message,
            "Unsupported value: \"Platform\": supported values: \"Admin\", \"Baseline\""
        );
        let missing = validate(TierKind::ClusterNetworkPolicy, &cnp(json!({})));
        assert_eq!(
            fields(&missing),
            ["spec.tier", "spec.priority", "spec.subject"]
        );
        let too_many = cnp(json!({
            "tier": "Admin", "priority": 0, "subject": {"namespaces": {}},
            "egress": vec![json!({"action": "Deny", "to": [{"namespaces": {}}]}); 26],
        }));
        let errors = validate(TierKind::ClusterNetworkPolicy, &too_many);
        assert_eq!(errors[0].reason, "FieldValueTooMany");
    }

    #[test]
    fn v1alpha1_kinds_use_their_own_actions() {
        let anp = json!({"metadata": {"name": "a"}, "spec": {
            "priority": 5, "subject": {"namespaces": {}},
            "ingress": [{"action": "Accept", "from": [{"namespaces": {}}]}]}});
        let errors = validate(TierKind::AdminNetworkPolicy, &anp);
        assert_eq!(fields(&errors), ["spec.ingress[0].action"]);
        let banp = json!({"metadata": {"name": "not-default"}, "spec": {
            "subject": {"namespaces": {}},
            "egress": [{"action": "Pass", "to": [{"namespaces": {}}]}]}});
        let errors = validate(TierKind::BaselineAdminNetworkPolicy, &banp);
        assert_eq!(fields(&errors), ["<nil>", "spec.egress[0].action"]);
    }
}
