//! The fallback revision when no journal saw the policy change: the spec and labels in
//! `kubectl.kubernetes.io/last-applied-configuration`, when they differ from the live ones (the
//! classic `kubectl edit` or `kubectl patch` after a `kubectl apply`). It is synthetic: revision
//! number 0, never stored in the journal, made afresh from the live object (pure).
//!
//! The revision keeps the live annotations: a rollback to it restores the annotation's spec and
//! labels only, never its stale metadata.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicySpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::history::content::Content;
use crate::history::{Operation, PolicyKind, PolicyObject, Revision, stamp};

pub const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The revision number the fallback revision takes (journal revisions start at 1).
pub const NUMBER: u32 = 0;
/// How the operator names it: `--to last-applied`.
pub const ARG: &str = "last-applied";
pub const LABEL: &str = "last applied by kubectl";
/// kubectl's field manager for a client-side apply.
pub const CLIENT_SIDE_APPLY: &str = "kubectl-client-side-apply";

/// Whether a revision is the synthetic last-applied one.
pub fn is_last_applied(revision: &Revision) -> bool {
    revision.number == NUMBER
}

/// The last-applied revision of `live`: `Ok(None)` when the annotation is absent or says what
/// is live; `Err` (a one-line note) when it is malformed.
pub fn of_object(
    live: &PolicyObject,
    cluster: &str,
    context: &str,
) -> Result<Option<Revision>, String> {
    let meta = live.meta();
    let Some(text) = meta.annotations.as_ref().and_then(|a| a.get(ANNOTATION)) else {
        return Ok(None);
    };
    let applied: Value = serde_json::from_str(text)
        .map_err(|e| format!("{ANNOTATION} of {} is not JSON ({e}): ignored", name(live)))?;
    if !applied.is_object() {
        return Err(format!(
            "{ANNOTATION} of {} is not an object: ignored",
            name(live)
        ));
    }
    let labels: BTreeMap<String, String> = match applied.pointer("/metadata/labels") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(labels) => serde_json::from_value(labels.clone()).map_err(|e| {
            format!(
                "{ANNOTATION} of {}: bad metadata.labels ({e}): ignored",
                name(live)
            )
        })?,
    };
    let applied_spec = applied.get("spec").cloned().unwrap_or(Value::Null);
    let (spec, tier_spec) = match live.kind() {
        PolicyKind::NetworkPolicy => {
            let spec: NetworkPolicySpec = match applied_spec {
                Value::Null => NetworkPolicySpec::default(),
                other => serde_json::from_value(other).map_err(|e| {
                    format!("{ANNOTATION} of {}: bad spec ({e}): ignored", name(live))
                })?,
            };
            (Some(spec), None)
        }
        PolicyKind::Tier(_) => (None, Some(applied_spec)),
        // A native policy's body: every field but the object's identity and status.
        PolicyKind::Native(_) => {
            let mut body = applied.clone();
            if let Some(map) = body.as_object_mut() {
                for field in ["apiVersion", "kind", "metadata", "status"] {
                    map.remove(field);
                }
            }
            (None, Some(body))
        }
    };
    let revision = Revision {
        cluster: cluster.to_string(),
        context: context.to_string(),
        kind: live.kind(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        number: NUMBER,
        resource_version: None,
        generation: None,
        observed_at: applied_at(meta).unwrap_or_default(),
        manager: Some(CLIENT_SIDE_APPLY.to_string()),
        operation: Operation::Observed,
        deleted: false,
        spec,
        tier_spec,
        labels,
        annotations: meta.annotations.clone().unwrap_or_default(),
    };
    Ok((Content::of_revision(&revision) != Content::of_object(live)).then_some(revision))
}

/// The time of the `kubectl-client-side-apply` managedFields entry, if there is one.
pub fn applied_at(meta: &ObjectMeta) -> Option<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|e| e.manager.as_deref() == Some(CLIENT_SIDE_APPLY))
        .filter_map(|e| e.time.as_ref().map(|t| t.0))
        .max()
        .map(stamp)
}

/// "last applied by kubectl at 2026-12-06T14:02:00.000Z", or without a time.
pub fn describe(revision: &Revision) -> String {
    if revision.observed_at.is_empty() {
        LABEL.to_string()
    } else {
        format!("{LABEL} at {}", revision.observed_at)
    }
}

fn name(live: &PolicyObject) -> String {
    match live.key() {
        Some(key) => key.to_string(),
        None => live.meta().name.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use serde_json::json;

    fn live(annotation: Option<&str>, port: u16, labels: Value) -> PolicyObject {
        let mut annotations = json!({"team": "web"});
        if let Some(text) = annotation {
            annotations[ANNOTATION] = json!(text);
        }
        PolicyObject::Network(
            serde_json::from_value::<NetworkPolicy>(json!({
                "metadata": {
                    "name": "allow-dns", "namespace": "acme-web", "resourceVersion": "12",
                    "labels": labels, "annotations": annotations,
                    "managedFields": [
                        {"manager": "kubectl-client-side-apply", "operation": "Update",
                         "time": "2026-12-06T14:02:00Z"},
                        {"manager": "kubectl-patch", "operation": "Update",
                         "time": "2026-12-06T14:05:00Z"}
                    ]
                },
                "spec": {"podSelector": {}, "egress": [{"ports": [{"port": port, "protocol": "UDP"}]}]}
            }))
            .unwrap(),
        )
    }

    fn applied(port: u16, labels: Value) -> String {
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns", "namespace": "acme-web", "labels": labels,
                         "annotations": {"team": "stale"}},
            "spec": {"podSelector": {}, "egress": [{"ports": [{"port": port, "protocol": "UDP"}]}]}
        })
        .to_string()
    }

    #[test]
    fn a_patched_spec_offers_the_applied_one_with_live_annotations() {
        let text = applied(53, json!({"app": "dns"}));
        let object = live(Some(&text), 5353, json!({"app": "dns"}));
        let revision = of_object(&object, "https://c", "ctx")
            .unwrap()
            .expect("differs");
        assert!(is_last_applied(&revision));
        let port = &revision.spec.as_ref().unwrap().egress.as_ref().unwrap()[0]
            .ports
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            port.port,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(53))
        );
        assert_eq!(revision.labels["app"], "dns");
        assert_eq!(
            revision.annotations["team"], "web",
            "live, not the stale one"
        );
        assert!(revision.annotations.contains_key(ANNOTATION));
        assert_eq!(revision.observed_at, "2026-12-06T14:02:00.000Z");
        assert_eq!(
            describe(&revision),
            "last applied by kubectl at 2026-12-06T14:02:00.000Z"
        );
    }

    #[test]
    fn changed_labels_alone_differ_too() {
        let text = applied(53, json!({"app": "dns"}));
        let object = live(Some(&text), 53, json!({"app": "dns", "extra": "x"}));
        let revision = of_object(&object, "", "").unwrap().expect("labels differ");
        assert_eq!(revision.labels.len(), 1);
    }

    #[test]
    fn the_same_or_no_annotation_offers_nothing() {
        let text = applied(53, json!({"app": "dns"}));
        let same = live(Some(&text), 53, json!({"app": "dns"}));
        assert_eq!(of_object(&same, "", ""), Ok(None));
        assert_eq!(of_object(&live(None, 53, json!({})), "", ""), Ok(None));
    }

    #[test]
    fn malformed_annotations_are_a_note_not_a_panic() {
        for bad in [
            "{not json",
            "[1,2]",
            r#"{"spec": {"podSelector": 7}}"#,
            r#"{"metadata": {"labels": ["x"]}, "spec": {}}"#,
        ] {
            let note = of_object(&live(Some(bad), 53, json!({})), "", "").unwrap_err();
            assert!(note.contains(ANNOTATION), "{note}");
            assert!(note.contains("acme-web/allow-dns"), "{note}");
            assert!(!note.contains('\n'), "one line: {note}");
        }
    }
}
