//! Discovery documents: /version, /api, /api/v1, /apis and the networking group.
//!
//! Only the legacy (unaggregated) discovery format is served; clients asking for
//! aggregated discovery fall back to it because the response is plain JSON.

use serde_json::{Value, json};

use super::resource::Resource;

const NETWORKING: &str = "networking.k8s.io";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.4-palisade-demo",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T00:00:00Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTHENTICATION: &str = "authentication.k8s.io";
/// The served groups, besides the core group.
const GROUPS: [&str; 3] = [NETWORKING, AUTHORIZATION, AUTHENTICATION];

fn group_entry(name: &str) -> Value {
    let version = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"name": name, "versions": [version], "preferredVersion": version})
}

pub fn group_list() -> Value {
    let groups: Vec<Value> = GROUPS.into_iter().map(group_entry).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The APIGroup document of a served group.
pub fn group(name: &str) -> Option<Value> {
    if !GROUPS.contains(&name) {
        return None;
    }
    let mut group = group_entry(name);
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    Some(group)
}

/// The review resources: create-only, cluster-scoped.
fn review_list(group: &str, plural: &str, singular: &str, kind: &str) -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/v1"),
        "resources": [{
            "name": plural,
            "singularName": singular,
            "namespaced": false,
            "kind": kind,
            "verbs": ["create"],
            "storageVersionHash": "",
        }],
    })
}

/// APIResourceList for a group ("" is core) or None for an unknown group.
pub fn resource_list(group: &str) -> Option<Value> {
    let group_version = if group.is_empty() {
        "v1".to_string()
    } else if group == NETWORKING {
        format!("{NETWORKING}/v1")
    } else if group == AUTHORIZATION {
        return Some(review_list(
            AUTHORIZATION,
            "selfsubjectaccessreviews",
            "selfsubjectaccessreview",
            "SelfSubjectAccessReview",
        ));
    } else if group == AUTHENTICATION {
        return Some(review_list(
            AUTHENTICATION,
            "selfsubjectreviews",
            "selfsubjectreview",
            "SelfSubjectReview",
        ));
    } else {
        return None;
    };
    let resources: Vec<Value> = Resource::ALL
        .into_iter()
        .filter(|r| r.group() == group)
        .map(|r| {
            json!({
                "name": r.plural(),
                "singularName": r.singular(),
                "namespaced": r.namespaced(),
                "kind": r.kind(),
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                "shortNames": r.short_names(),
                "storageVersionHash": "",
            })
        })
        .collect();
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}
