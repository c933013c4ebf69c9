//! PATCH bodies: JSON merge patch, JSON patch, an approximated strategic merge patch and an
//! approximated server-side apply.

use serde_json::Value;

use super::status::{ApiError, ApiResult};

/// The patch flavours the server understands, chosen by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    Strategic,
    /// Server-side apply (`kubectl apply --server-side`).
    Apply,
}

impl PatchKind {
    /// Maps a Content-Type header to a patch kind; others are refused with 415.
    pub fn from_content_type(content_type: &str) -> ApiResult<PatchKind> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" => Ok(PatchKind::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// Applies `body` to `target`, returning the patched object.
pub fn apply(kind: PatchKind, target: &Value, body: &[u8]) -> ApiResult<Value> {
    let mut doc = target.clone();
    match kind {
        PatchKind::Merge => json_patch::merge(&mut doc, &parse(body)?),
        PatchKind::Strategic => {
            // Approximation: the real strategic merge patch merges lists by key
            // (e.g. containers by name). We drop the `$`-prefixed directives and
            // treat the rest as an RFC 7386 merge patch, so lists are replaced
            // wholesale. kubectl apply sends complete lists for NetworkPolicy
            // rules, so this is enough for the resources we serve.
            let mut patch = parse(body)?;
            strip_directives(&mut patch);
            json_patch::merge(&mut doc, &patch);
        }
        PatchKind::Apply => server_side_apply(&mut doc, &parse_applied(body)?),
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut doc, &ops).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!(
                    "the server rejected our request due to an error in our request: {e}"
                ),
                details: None,
                retry_after: None,
                cause: None,
                field_causes: Vec::new(),
            })?;
        }
    }
    Ok(doc)
}

/// An applied configuration: YAML (JSON is YAML too), an object.
pub fn parse_applied(body: &[u8]) -> ApiResult<Value> {
    let value: Value = crate::yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid apply patch body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("apply patch body must be an object"));
    }
    Ok(value)
}

/// Approximation of server-side apply without field ownership: labels and annotations are
/// merged, `spec` and other top-level fields are replaced by the applied ones (what one
/// manager applying whole manifests sees). No conflicts are detected.
fn server_side_apply(doc: &mut Value, applied: &Value) {
    let Some(applied) = applied.as_object() else {
        return;
    };
    for (key, value) in applied {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for field in ["labels", "annotations"] {
                    if let Some(map) = value.get(field).filter(|m| m.is_object()) {
                        if !doc["metadata"][field].is_object() {
                            doc["metadata"][field] = serde_json::json!({});
                        }
                        json_patch::merge(&mut doc["metadata"][field], map);
                    }
                }
            }
            _ => doc[key] = value.clone(),
        }
    }
}

fn parse(body: &[u8]) -> ApiResult<Value> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid patch body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("patch body must be a JSON object"));
    }
    Ok(value)
}

/// Removes strategic-merge directive keys (`$patch`, `$setElementOrder/...`, `$retainKeys`, ...).
fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_sets_and_removes() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let out = apply(
            PatchKind::Merge,
            &doc,
            br#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#,
        )
        .expect("patch applies");
        assert_eq!(out, json!({"metadata": {"labels": {"b": "2", "c": "3"}}}));
    }

    #[test]
    fn strategic_patch_drops_directives() {
        let doc = json!({"spec": {"policyTypes": ["Ingress"]}});
        let body = br#"{"$setElementOrder/policyTypes":[{"x":1}],"spec":{"$retainKeys":["a"],"policyTypes":["Ingress","Egress"]}}"#;
        let out = apply(PatchKind::Strategic, &doc, body).expect("patch applies");
        assert_eq!(out, json!({"spec": {"policyTypes": ["Ingress", "Egress"]}}));
    }

    #[test]
    fn json_patch_test_failure_is_422() {
        let doc = json!({"a": 1});
        let body =
            br#"[{"op":"test","path":"/a","value":2},{"op":"replace","path":"/a","value":3}]"#;
        let err = apply(PatchKind::Json, &doc, body).expect_err("test op fails");
        assert_eq!(err.code, 422);
        let ok = apply(
            PatchKind::Json,
            &doc,
            br#"[{"op":"replace","path":"/a","value":3}]"#,
        );
        assert_eq!(ok.expect("applies"), json!({"a": 3}));
    }

    #[test]
    fn server_side_apply_replaces_spec_and_merges_labels() {
        let doc = json!({"metadata": {"name": "a", "labels": {"x": "1"}, "uid": "u"},
                         "spec": {"priority": 1, "egress": [{"action": "Deny"}]}});
        let body = b"metadata: {name: a, labels: {y: '2'}}\nspec: {priority: 2}\n";
        let out = apply(PatchKind::Apply, &doc, body).expect("applies");
        assert_eq!(
            out,
            json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}, "uid": "u"},
                   "spec": {"priority": 2}})
        );
    }

    #[test]
    fn bad_bodies_are_400_and_unknown_types_are_415() {
        assert_eq!(
            apply(PatchKind::Merge, &json!({}), b"{nope")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            apply(PatchKind::Json, &json!({}), b"{}").unwrap_err().code,
            400
        );
        let err = PatchKind::from_content_type("application/x-www-form-urlencoded").unwrap_err();
        assert_eq!(err.code, 415);
        assert_eq!(
            PatchKind::from_content_type("application/apply-patch+yaml").unwrap(),
            PatchKind::Apply
        );
    }
}
