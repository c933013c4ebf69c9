//! Discovery documents: /version, /api, /api/v1, /apis and the networking group.
//!
//! Only the legacy (unaggregated) discovery format is served; clients asking for
//! aggregated discovery fall back to it because the response is plain JSON.

use serde_json::{Value, json};

use super::resource::Served;

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
/// The built-in groups besides the core group.
const BUILTIN_GROUPS: [&str; 3] = [NETWORKING, AUTHORIZATION, AUTHENTICATION];

/// Every served group with its versions, preferred first: the built-in groups, then the
/// custom resources' groups in the order their kinds are served.
fn groups(served: &Served) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = BUILTIN_GROUPS
        .into_iter()
        .map(|g| (g, vec!["v1"]))
        .collect();
    for r in served.resources().into_iter().filter(|r| r.custom()) {
        match out.iter_mut().find(|(g, _)| *g == r.group()) {
            Some((_, versions)) if !versions.contains(&r.version()) => versions.push(r.version()),
            Some(_) => {}
            None => out.push((r.group(), vec![r.version()])),
        }
    }
    // Kubernetes orders versions by maturity: v1alpha2 before v1alpha1.
    for (_, versions) in &mut out {
        versions.sort_by(|a, b| b.cmp(a));
    }
    out
}

fn group_entry(name: &str, versions: &[&str]) -> Value {
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = entries.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": entries, "preferredVersion": preferred})
}

pub fn group_list(served: &Served) -> Value {
    let groups: Vec<Value> = groups(served)
        .iter()
        .map(|(name, versions)| group_entry(name, versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The APIGroup document of a served group.
pub fn group(served: &Served, name: &str) -> Option<Value> {
    let groups = groups(served);
    let (_, versions) = groups.iter().find(|(g, _)| *g == name)?;
    let mut group = group_entry(name, versions);
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

/// APIResourceList for a group version ("" is core) or None when not served.
pub fn resource_list(served: &Served, group: &str, version: &str) -> Option<Value> {
    if group == AUTHORIZATION && version == "v1" {
        return Some(review_list(
            AUTHORIZATION,
            "selfsubjectaccessreviews",
            "selfsubjectaccessreview",
            "SelfSubjectAccessReview",
        ));
    }
    if group == AUTHENTICATION && version == "v1" {
        return Some(review_list(
            AUTHENTICATION,
            "selfsubjectreviews",
            "selfsubjectreview",
            "SelfSubjectReview",
        ));
    }
    let mut resources: Vec<Value> = served
        .resources()
        .into_iter()
        .filter(|r| r.group() == group && r.version() == version)
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
    if group.is_empty() && version == "v1" {
        // The subresource served besides the kinds, listed as a real server lists it.
        resources.push(json!({
            "name": "pods/portforward",
            "singularName": "",
            "namespaced": true,
            "kind": "PodPortForwardOptions",
            "verbs": ["create", "get"],
        }));
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::foreign::Foreign;

    #[test]
    fn the_tier_group_is_discovered_unless_turned_off() {
        let served = Served::default();
        let list = group_list(&served);
        let tiers = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "policy.networking.k8s.io")
            .expect("tier group listed");
        assert_eq!(tiers["preferredVersion"]["version"], "v1alpha2");
        assert_eq!(tiers["versions"][1]["version"], "v1alpha1");
        let v1alpha1 = resource_list(&served, "policy.networking.k8s.io", "v1alpha1").unwrap();
        let names: Vec<&str> = v1alpha1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["adminnetworkpolicies", "baselineadminnetworkpolicies"]
        );
        let without = Served {
            tiers: false,
            cilium: false,
            calico: false,
            calico_crds: false,
            foreign: vec![Foreign::CalicoGlobalNetworkPolicy],
        };
        assert!(group(&without, "policy.networking.k8s.io").is_none());
        assert!(resource_list(&without, "policy.networking.k8s.io", "v1alpha2").is_none());
        assert!(group(&without, "cilium.io").is_none());
        assert!(group(&without, "projectcalico.org").is_some());
        assert!(resource_list(&without, "projectcalico.org", "v3").is_some());
        assert!(resource_list(&without, "networking.k8s.io", "v2").is_none());
    }

    #[test]
    fn cilium_policy_kinds_are_discovered_with_their_short_names_unless_turned_off() {
        let served = Served::default();
        let v2 = resource_list(&served, "cilium.io", "v2").expect("cilium.io/v2 served");
        let resources = v2["resources"].as_array().unwrap();
        let entry = |name: &str| resources.iter().find(|r| r["name"] == name).unwrap();
        let cnp = entry("ciliumnetworkpolicies");
        assert_eq!(cnp["kind"], "CiliumNetworkPolicy");
        assert_eq!(cnp["namespaced"], true);
        assert_eq!(cnp["shortNames"], json!(["ciliumnp"]));
        let ccnp = entry("ciliumclusterwidenetworkpolicies");
        assert_eq!(ccnp["namespaced"], false);
        assert_eq!(ccnp["shortNames"], json!(["ccnp"]));
        let off = Served {
            cilium: false,
            ..Served::default()
        };
        assert!(group(&off, "cilium.io").is_none());
        assert!(resource_list(&off, "cilium.io", "v2").is_none());
    }

    #[test]
    fn calico_kinds_are_discovered_in_its_api_servers_group_or_only_as_its_crds() {
        let api_server = Served {
            cilium: false,
            calico: true,
            ..Served::default()
        };
        let v3 = resource_list(&api_server, "projectcalico.org", "v3").expect("v3 served");
        let resources = v3["resources"].as_array().unwrap();
        let entry = |name: &str| resources.iter().find(|r| r["name"] == name).unwrap();
        assert_eq!(entry("globalnetworkpolicies")["shortNames"], json!(["gnp"]));
        assert_eq!(entry("networkpolicies")["shortNames"], json!(["caliconp"]));
        assert_eq!(entry("networkpolicies")["namespaced"], true);
        assert_eq!(entry("tiers")["namespaced"], false);
        assert_eq!(resources.len(), 6);
        assert!(group(&api_server, "cilium.io").is_none());
        let crds = Served {
            cilium: false,
            calico_crds: true,
            ..Served::default()
        };
        let v1 = resource_list(&crds, "crd.projectcalico.org", "v1").expect("CRDs served");
        let resources = v1["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 6);
        assert!(
            resources
                .iter()
                .all(|r| r.get("shortNames").is_none_or(|s| s == &json!([])))
        );
        assert!(group(&crds, "projectcalico.org").is_none());
    }

    #[test]
    fn the_core_group_lists_services_and_the_portforward_subresource() {
        let core = resource_list(&Served::default(), "", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "namespaces",
                "pods",
                "services",
                "events",
                "pods/portforward"
            ]
        );
        assert_eq!(core["resources"][2]["shortNames"][0], "svc");
    }
}
