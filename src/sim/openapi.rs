//! A minimal OpenAPI v3 surface for kubectl.
//!
//! kubectl apply validates manifests: when OpenAPI v3 shows that a resource's
//! PATCH accepts `fieldValidation`, it leaves validation to the server instead
//! of downloading the full OpenAPI v2 schema (which we do not serve). So each
//! group document lists the object paths with just that parameter; without
//! schemas kubectl computes strategic merge patches from its built-in types.

use serde_json::{Value, json};

use super::resource::{Resource, Served};

/// Group-version path prefixes as OpenAPI v3 names them ("api/v1", "apis/G/v1").
fn gv_path(resource: Resource) -> String {
    if resource.group().is_empty() {
        "api/v1".into()
    } else {
        format!("apis/{}", resource.api_version())
    }
}

pub fn root(served: &Served) -> Value {
    let mut paths = serde_json::Map::new();
    for r in served.resources() {
        let gv = gv_path(r);
        let url = format!("/openapi/v3/{gv}?hash=palisade");
        paths.insert(gv, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// The document for "api/v1", "apis/networking.k8s.io/v1" or another served group version.
pub fn group_version(served: &Served, gv: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for r in served.resources().into_iter().filter(|r| gv_path(*r) == gv) {
        let object_path = if r.namespaced() {
            format!("/{gv}/namespaces/{{namespace}}/{}/{{name}}", r.plural())
        } else {
            format!("/{gv}/{}/{{name}}", r.plural())
        };
        let op = json!({
            "x-kubernetes-group-version-kind": {"group": r.group(), "version": r.version(), "kind": r.kind()},
            "x-kubernetes-action": "patch",
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            ],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(object_path, json!({"patch": op}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.4"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
