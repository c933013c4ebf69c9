//! The demo's namespace-scoped user, `palisade-demo-acme`: what a Role bound in a few
//! namespaces gives on a real cluster. It may read everything namespaced in the `acme-*`
//! namespaces and write NetworkPolicies (and CiliumNetworkPolicies) there; everything else,
//! every cluster-scoped list (namespaces included) and every other namespace, is 403, as RBAC
//! answers. A namespaced Role cannot grant `get` on the Namespace objects themselves.
//!
//! Also the SelfSubjectRulesReview answer for every demo user, per namespace.

use serde_json::{Value, json};

use super::auth::{Role, User};
use super::protobuf::field;
use super::status::{ApiError, ApiResult};

/// The scoped user's namespaces: those whose name starts with this.
pub const SCOPED_PREFIX: &str = "acme-";

/// Whether `namespace` is one of the scoped user's.
pub fn in_scope(namespace: Option<&str>) -> bool {
    namespace.is_some_and(|ns| ns.starts_with(SCOPED_PREFIX) && ns.len() > SCOPED_PREFIX.len())
}

/// The kinds the scoped user may write in its namespaces.
const WRITABLE: [&str; 2] = ["networkpolicies", "ciliumnetworkpolicies"];

/// What the scoped user may do: `verb` on `resource` (plural, with `/subresource` if any) of
/// `group`, in `namespace` (`None`: cluster-scoped, or across all namespaces).
pub fn scoped_may(verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    if !in_scope(namespace) {
        return false;
    }
    let (plural, sub) = resource.split_once('/').unwrap_or((resource, ""));
    match (verb, sub) {
        ("get" | "list" | "watch", "" | "status" | "log") => true,
        // Reading through the pod and service proxies, and port-forward (kubectl port-forward).
        ("get", "proxy") => true,
        ("create", "portforward") => true,
        ("create" | "update" | "patch" | "delete", "") => WRITABLE.contains(&plural),
        _ => false,
    }
}

/// The answer to a SelfSubjectRulesReview: the rules the caller has in `spec.namespace`.
pub fn rules_review(user: User, request: &Value) -> Value {
    let namespace = request
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let read = ["get", "list", "watch"];
    let write = ["create", "update", "patch", "delete"];
    // Every authenticated user may ask about itself (system:basic-user).
    let mut rules = vec![json!({
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    })];
    match user.role {
        Role::Admin => rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})),
        Role::Viewer => rules.push(json!({"verbs": read, "apiGroups": ["*"], "resources": ["*"]})),
        Role::NoTiers => rules.push(json!({
            "verbs": ["*"],
            "apiGroups": ["", "apps", "batch", "networking.k8s.io", "kustomize.toolkit.fluxcd.io", "argoproj.io"],
            "resources": ["*"],
        })),
        Role::Recorder => {
            rules.push(json!({"verbs": read, "apiGroups": ["*"], "resources": ["*"]}));
            rules.push(json!({"verbs": ["create"],
                "apiGroups": ["authentication.k8s.io", "authorization.k8s.io"],
                "resources": ["tokenreviews", "subjectaccessreviews"]}));
        }
        Role::Scoped if in_scope(Some(namespace)) => {
            rules.push(json!({"verbs": read, "apiGroups": ["*"], "resources": ["*"]}));
            rules.push(json!({"verbs": write,
                "apiGroups": ["networking.k8s.io", "cilium.io"], "resources": WRITABLE}));
            rules.push(json!({"verbs": ["get"], "apiGroups": [""],
                "resources": ["pods/proxy", "services/proxy"]}));
            rules.push(json!({"verbs": ["create"], "apiGroups": [""],
                "resources": ["pods/portforward"]}));
        }
        Role::Scoped => {}
    }
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "metadata": {},
        "spec": {"namespace": namespace},
        "status": {
            "resourceRules": rules,
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version"]}],
            "incomplete": false,
        },
    })
}

/// A protobuf SelfSubjectRulesReview (kubectl's `auth can-i --list`) as the JSON
/// [`rules_review`] reads: only `spec.namespace`.
pub fn rules_review_from_protobuf(bytes: &[u8]) -> ApiResult<Value> {
    let bad = || ApiError::bad_request("cannot decode the protobuf SelfSubjectRulesReview");
    let body = bytes.strip_prefix(b"k8s\0").ok_or_else(bad)?;
    // Unknown: 2 = raw (the object); the object's 2 = spec; the spec's 1 = namespace.
    let raw = field(body, 2).ok_or_else(bad)?;
    let spec = field(raw, 2).unwrap_or_default();
    let namespace = field(spec, 1).unwrap_or_default();
    Ok(json!({"spec": {"namespace": String::from_utf8_lossy(namespace)}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scoped_user_reads_its_namespaces_and_writes_only_policies_there() {
        assert!(scoped_may("list", "pods", Some("acme-web")));
        assert!(scoped_may("watch", "networkpolicies", Some("acme-api")));
        assert!(scoped_may("patch", "networkpolicies", Some("acme-web")));
        assert!(!scoped_may("delete", "pods", Some("acme-web")));
        assert!(!scoped_may("list", "pods", Some("globex-web")));
        assert!(
            !scoped_may("list", "pods", None),
            "cluster-wide lists are 403"
        );
        assert!(
            !scoped_may("get", "namespaces", None),
            "namespace objects are 403"
        );
        assert!(!scoped_may("list", "pods", Some("acme-")));
    }

    #[test]
    fn rules_reviews_answer_per_namespace() {
        let scoped = User { role: Role::Scoped };
        let inside = rules_review(scoped, &json!({"spec": {"namespace": "acme-web"}}));
        let rules = inside["status"]["resourceRules"].as_array().unwrap();
        assert!(
            rules
                .iter()
                .any(|r| r["verbs"] == json!(["get", "list", "watch"]))
        );
        let outside = rules_review(scoped, &json!({"spec": {"namespace": "globex-web"}}));
        let rules = outside["status"]["resourceRules"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "only the self reviews: {rules:?}");
        assert_eq!(outside["status"]["incomplete"], json!(false));
    }
}
