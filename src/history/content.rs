//! What a revision keeps of a policy (spec, labels, annotations and where it came from), in the
//! canonical JSON the journal stores and compares, and the one-line summary of a change.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::key::native_body;
use super::{Error, PolicyKey, PolicyKind, PolicyObject, Result, Revision};

/// The stored, compared part of a policy: canonical JSON text (k8s-openapi's serialisation of
/// a NetworkPolicy's typed spec; a tier policy's spec as served, keys sorted; labels and
/// annotations as sorted maps), so equal content is equal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub spec: String,
    pub labels: String,
    pub annotations: String,
}

impl Content {
    pub fn of(
        spec: Option<&NetworkPolicySpec>,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Content {
        Content {
            spec: to_json(&spec),
            labels: to_json(labels),
            annotations: to_json(annotations),
        }
    }

    pub fn of_policy(policy: &NetworkPolicy) -> Content {
        let meta = &policy.metadata;
        Content::of(
            policy.spec.as_ref(),
            meta.labels.as_ref().unwrap_or(&BTreeMap::new()),
            meta.annotations.as_ref().unwrap_or(&BTreeMap::new()),
        )
    }

    pub fn of_object(object: &PolicyObject) -> Content {
        match object {
            PolicyObject::Network(policy) => Content::of_policy(policy),
            PolicyObject::Tier(tier) => Content::of_served(&tier.spec(), &tier.object.metadata),
            PolicyObject::Native(native) => {
                let body = native_body(&native.object);
                Content::of_served(&Some(&body), &native.object.metadata)
            }
        }
    }

    /// A tier policy's spec or a native policy's body, with the object's labels and annotations.
    fn of_served(spec: &Option<&Value>, meta: &ObjectMeta) -> Content {
        Content {
            spec: to_json(spec),
            labels: to_json(meta.labels.as_ref().unwrap_or(&BTreeMap::new())),
            annotations: to_json(meta.annotations.as_ref().unwrap_or(&BTreeMap::new())),
        }
    }

    pub fn of_revision(revision: &Revision) -> Content {
        match revision.kind {
            PolicyKind::NetworkPolicy => Content::of(
                revision.spec.as_ref(),
                &revision.labels,
                &revision.annotations,
            ),
            PolicyKind::Tier(_) | PolicyKind::Native(_) => Content {
                spec: to_json(&revision.tier_spec),
                labels: to_json(&revision.labels),
                annotations: to_json(&revision.annotations),
            },
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising typed k8s-openapi values and string maps cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// The key and the metadata a revision records, from an API object.
pub struct Observed<'a> {
    pub key: PolicyKey,
    pub resource_version: Option<&'a str>,
    pub generation: Option<i64>,
    pub manager: Option<String>,
}

impl<'a> Observed<'a> {
    pub fn of(object: &'a PolicyObject) -> Result<Observed<'a>> {
        let meta = object.meta();
        if meta.name.as_deref().is_none_or(str::is_empty) {
            return Err(Error::Incomplete("metadata.name"));
        }
        let key = object
            .key()
            .ok_or(Error::Incomplete("metadata.namespace"))?;
        Ok(Observed {
            key,
            resource_version: meta.resource_version.as_deref(),
            generation: meta.generation,
            manager: newest_manager(meta),
        })
    }
}

/// The manager of the newest managedFields entry (entries without a time count as oldest).
pub fn newest_manager(meta: &ObjectMeta) -> Option<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .max_by_key(|entry| entry.time.as_ref().map(|t| t.0))
        .and_then(|entry| entry.manager.clone())
}

/// What changed from `previous` to `current`, in one line: "created", "deleted", "re-created",
/// or a list such as "ingress rules 2→3, podSelector changed, labels changed".
pub fn summarize(previous: Option<&Revision>, current: &Revision) -> String {
    if current.deleted {
        return "deleted".to_string();
    }
    match current.kind {
        PolicyKind::Tier(_) => return summarize_tier(previous, current),
        PolicyKind::Native(_) => return summarize_native(previous, current),
        PolicyKind::NetworkPolicy => {}
    }
    let Some(previous) = previous else {
        return format!("first seen: {}", shape(current.spec.as_ref()));
    };
    if previous.deleted {
        return format!("re-created: {}", shape(current.spec.as_ref()));
    }
    let mut parts = Vec::new();
    let (old, new) = (previous.spec.as_ref(), current.spec.as_ref());
    if old.and_then(|s| s.pod_selector.as_ref()) != new.and_then(|s| s.pod_selector.as_ref()) {
        parts.push("podSelector changed".to_string());
    }
    let types = |s: Option<&NetworkPolicySpec>| {
        s.and_then(|s| s.policy_types.clone())
            .map(|t| t.join("+"))
            .unwrap_or_else(|| "default".to_string())
    };
    if types(old) != types(new) {
        parts.push(format!("policyTypes {}→{}", types(old), types(new)));
    }
    rules_of(
        &mut parts,
        "ingress",
        old.and_then(|s| s.ingress.as_ref()),
        new.and_then(|s| s.ingress.as_ref()),
    );
    rules_of(
        &mut parts,
        "egress",
        old.and_then(|s| s.egress.as_ref()),
        new.and_then(|s| s.egress.as_ref()),
    );
    metadata_parts(&mut parts, previous, current);
    if parts.is_empty() {
        "no content change".to_string()
    } else {
        parts.join(", ")
    }
}

/// [`summarize`] for a tier policy: tier, priority, subject and rules from the spec as served
/// (both API versions name them alike).
fn summarize_tier(previous: Option<&Revision>, current: &Revision) -> String {
    let new = current.tier_spec.as_ref().unwrap_or(&Value::Null);
    let Some(previous) = previous.filter(|p| !p.deleted) else {
        let how = if previous.is_some() {
            "re-created"
        } else {
            "first seen"
        };
        return format!("{how}: {}", tier_shape(new));
    };
    let old = previous.tier_spec.as_ref().unwrap_or(&Value::Null);
    let mut parts = Vec::new();
    for field in ["tier", "priority"] {
        if old.get(field) != new.get(field) {
            parts.push(format!(
                "{field} {}→{}",
                scalar(old.get(field)),
                scalar(new.get(field))
            ));
        }
    }
    if old.get("subject") != new.get("subject") {
        parts.push("subject changed".to_string());
    }
    for direction in ["ingress", "egress"] {
        let rules = |spec: &Value| spec.get(direction).and_then(Value::as_array).cloned();
        rules_of(
            &mut parts,
            direction,
            rules(old).as_ref(),
            rules(new).as_ref(),
        );
    }
    metadata_parts(&mut parts, previous, current);
    if parts.is_empty() {
        "no content change".to_string()
    } else {
        parts.join(", ")
    }
}

/// [`summarize`] for a native policy: the selector, order, tier and rules of its spec (Cilium's
/// `endpointSelector`, `ingress`/`egress` and their deny forms; Calico's `selector`, `order`,
/// `tier`, `types`), or "specs changed" for a multi-spec CiliumNetworkPolicy.
fn summarize_native(previous: Option<&Revision>, current: &Revision) -> String {
    let empty = Value::Null;
    let body = |revision: &Revision| revision.tier_spec.clone().unwrap_or(Value::Null);
    let new_body = body(current);
    let new = new_body.get("spec").unwrap_or(&empty);
    let Some(previous) = previous.filter(|p| !p.deleted) else {
        let how = if previous.is_some() {
            "re-created"
        } else {
            "first seen"
        };
        return format!("{how}: {}", native_shape(&new_body));
    };
    let old_body = body(previous);
    let old = old_body.get("spec").unwrap_or(&empty);
    let mut parts = Vec::new();
    for field in ["tier", "order"] {
        if old.get(field) != new.get(field) {
            parts.push(format!(
                "{field} {}→{}",
                scalar(old.get(field)),
                scalar(new.get(field))
            ));
        }
    }
    for field in [
        "endpointSelector",
        "nodeSelector",
        "selector",
        "namespaceSelector",
        "types",
        "enableDefaultDeny",
    ] {
        if old.get(field) != new.get(field) {
            parts.push(format!("{field} changed"));
        }
    }
    for direction in NATIVE_RULE_LISTS {
        let rules = |spec: &Value| spec.get(direction).and_then(Value::as_array).cloned();
        rules_of(
            &mut parts,
            direction,
            rules(old).as_ref(),
            rules(new).as_ref(),
        );
    }
    if old_body.get("specs") != new_body.get("specs") {
        parts.push("specs changed".to_string());
    }
    metadata_parts(&mut parts, previous, current);
    if parts.is_empty() {
        "no content change".to_string()
    } else {
        parts.join(", ")
    }
}

/// The rule lists of the native kinds' specs (Cilium's allow and deny lists; Calico's).
const NATIVE_RULE_LISTS: [&str; 4] = ["ingress", "ingressDeny", "egress", "egressDeny"];

fn native_shape(body: &Value) -> String {
    if let Some(specs) = body.get("specs").and_then(Value::as_array) {
        return format!("{} specs", specs.len());
    }
    let spec = body.get("spec").unwrap_or(&Value::Null);
    let mut out = String::new();
    for field in ["tier", "order"] {
        if let Some(value) = spec.get(field) {
            out.push_str(&format!("{field} {}, ", scalar(Some(value))));
        }
    }
    let counts: Vec<String> = NATIVE_RULE_LISTS
        .iter()
        .filter_map(|list| {
            let n = spec.get(*list).and_then(Value::as_array)?.len();
            Some(format!("{list} rules {n}"))
        })
        .collect();
    if counts.is_empty() {
        out + "no rules"
    } else {
        out + &counts.join(", ")
    }
}

fn scalar(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "none".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn tier_shape(spec: &Value) -> String {
    let count = |direction: &str| {
        spec.get(direction)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let mut out = String::new();
    if let Some(tier) = spec.get("tier") {
        out.push_str(&format!("tier {}, ", scalar(Some(tier))));
    }
    if let Some(priority) = spec.get("priority") {
        out.push_str(&format!("priority {}, ", scalar(Some(priority))));
    }
    out + &format!(
        "ingress rules {}, egress rules {}",
        count("ingress"),
        count("egress")
    )
}

fn metadata_parts(parts: &mut Vec<String>, previous: &Revision, current: &Revision) {
    if previous.labels != current.labels {
        parts.push(format!(
            "labels {}",
            map_delta(&previous.labels, &current.labels)
        ));
    }
    if previous.annotations != current.annotations {
        parts.push(format!(
            "annotations {}",
            map_delta(&previous.annotations, &current.annotations)
        ));
    }
}

fn shape(spec: Option<&NetworkPolicySpec>) -> String {
    let count = |rules: Option<usize>| rules.unwrap_or(0);
    format!(
        "ingress rules {}, egress rules {}",
        count(spec.and_then(|s| s.ingress.as_ref().map(Vec::len))),
        count(spec.and_then(|s| s.egress.as_ref().map(Vec::len)))
    )
}

fn rules_of<T: PartialEq>(
    parts: &mut Vec<String>,
    what: &str,
    old: Option<&Vec<T>>,
    new: Option<&Vec<T>>,
) {
    let (old_len, new_len) = (old.map_or(0, Vec::len), new.map_or(0, Vec::len));
    if old_len != new_len {
        parts.push(format!("{what} rules {old_len}→{new_len}"));
    } else if old != new {
        parts.push(format!("{what} rules changed"));
    }
}

/// "+a -b ~c" for added, removed and changed keys.
fn map_delta(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> String {
    let mut out = Vec::new();
    for (key, value) in new {
        match old.get(key) {
            None => out.push(format!("+{key}")),
            Some(previous) if previous != value => out.push(format!("~{key}")),
            Some(_) => {}
        }
    }
    out.extend(
        old.keys()
            .filter(|k| !new.contains_key(*k))
            .map(|k| format!("-{k}")),
    );
    out.join(" ")
}
