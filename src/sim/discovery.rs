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

fn group_entry() -> Value {
    let version = json!({"groupVersion": format!("{NETWORKING}/v1"), "version": "v1"});
    json!({"name": NETWORKING, "versions": [version], "preferredVersion": version})
}

pub fn group_list() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_entry()]})
}

pub fn networking_group() -> Value {
    let mut group = group_entry();
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    group
}

/// APIResourceList for a group ("" is core) or None for an unknown group.
pub fn resource_list(group: &str) -> Option<Value> {
    let group_version = if group.is_empty() {
        "v1".to_string()
    } else if group == NETWORKING {
        format!("{NETWORKING}/v1")
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
