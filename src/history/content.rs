//! What a revision keeps of a policy (spec, labels, annotations and where it came from), in the
//! canonical JSON the journal stores and compares, and the one-line summary of a change.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};

use super::{Error, Result, Revision};

/// The stored, compared part of a policy: canonical JSON text (k8s-openapi's serialisation of
/// the typed spec; labels and annotations as sorted maps), so equal content is equal text.
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

    pub fn of_revision(revision: &Revision) -> Content {
        Content::of(
            revision.spec.as_ref(),
            &revision.labels,
            &revision.annotations,
        )
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising typed k8s-openapi values and string maps cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// Namespace, name and the metadata a revision records, from an API object.
pub struct Observed<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub resource_version: Option<&'a str>,
    pub generation: Option<i64>,
    pub manager: Option<String>,
}

impl<'a> Observed<'a> {
    pub fn of(policy: &'a NetworkPolicy) -> Result<Observed<'a>> {
        let meta = &policy.metadata;
        Ok(Observed {
            namespace: meta
                .namespace
                .as_deref()
                .ok_or(Error::Incomplete("metadata.namespace"))?,
            name: meta
                .name
                .as_deref()
                .ok_or(Error::Incomplete("metadata.name"))?,
            resource_version: meta.resource_version.as_deref(),
            generation: meta.generation,
            manager: newest_manager(policy),
        })
    }
}

/// The manager of the newest managedFields entry (entries without a time count as oldest).
pub fn newest_manager(policy: &NetworkPolicy) -> Option<String> {
    policy
        .metadata
        .managed_fields
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
    rules(
        &mut parts,
        "ingress",
        old.and_then(|s| s.ingress.as_ref()),
        new.and_then(|s| s.ingress.as_ref()),
    );
    rules(
        &mut parts,
        "egress",
        old.and_then(|s| s.egress.as_ref()),
        new.and_then(|s| s.egress.as_ref()),
    );
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
    if parts.is_empty() {
        "no content change".to_string()
    } else {
        parts.join(", ")
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

fn rules<T: PartialEq>(
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
