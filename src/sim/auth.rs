//! Token authentication and a two-role authorizer for the demo server, plus the
//! SelfSubjectAccessReview and SelfSubjectReview endpoints (`kubectl auth can-i`, `whoami`).
//!
//! Two users, each with a bearer token made up when the server starts: `palisade-demo` (admin:
//! every verb) and `palisade-demo-viewer` (get, list, watch only; writes, dry runs included, are
//! 403 Forbidden). With `--tiers-forbidden-user` a third, `palisade-demo-no-tiers`, may do
//! everything except touch the tier group (`policy.networking.k8s.io`: every verb 403, as RBAC
//! answers a user without a ClusterRole for it). Every request needs one of the two tokens: one without a token, with an
//! unknown token or with a header that is not a bearer token in ASCII is 401 Unauthorized, as on
//! an API server without anonymous access. The server only listens on 127.0.0.1, over TLS
//! (`tls.rs`): kubectl sends a kubeconfig's token only to an `https://` server.
//!
//! An authenticated user may impersonate the viewer (`Impersonate-User`, fewer rights); only the
//! admin may impersonate the admin. kubectl sends SelfSubjectAccessReviews as protobuf;
//! [`access_review_from_protobuf`] reads the few fields.

use hyper::Method;
use serde_json::{Value, json};

use super::protobuf::field;
use super::status::{ApiError, ApiResult};

pub const ADMIN_USER: &str = "palisade-demo";
pub const VIEWER_USER: &str = "palisade-demo-viewer";
pub const NO_TIERS_USER: &str = "palisade-demo-no-tiers";
/// The namespace-scoped user: a Role in the `acme-*` namespaces only (see `rbac_scoped.rs`).
pub const SCOPED_USER: &str = "palisade-demo-acme";
/// The in-process recorder's service account (see `team_recorder.rs`).
pub const RECORDER_USER: &str = "system:serviceaccount:palisade:palisade-recorder";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
    /// Every verb, except on the tier group and on the CNIs' `cilium.io` and Calico's groups.
    NoTiers,
    /// The team's recorder: reads everything, and creates TokenReviews and
    /// SubjectAccessReviews.
    Recorder,
    /// Reads and writes NetworkPolicies in the `acme-*` namespaces only.
    Scoped,
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub role: Role,
}

impl User {
    pub fn name(self) -> &'static str {
        match self.role {
            Role::Admin => ADMIN_USER,
            Role::Viewer => VIEWER_USER,
            Role::NoTiers => NO_TIERS_USER,
            Role::Recorder => RECORDER_USER,
            Role::Scoped => SCOPED_USER,
        }
    }

    /// The demo user called `name`, if there is one (for SubjectAccessReviews).
    pub fn named(name: &str) -> Option<User> {
        [
            Role::Admin,
            Role::Viewer,
            Role::NoTiers,
            Role::Recorder,
            Role::Scoped,
        ]
        .into_iter()
        .map(|role| User { role })
        .find(|user| user.name() == name)
    }

    fn groups(self) -> Vec<&'static str> {
        match self.role {
            Role::Admin => vec!["system:masters", "system:authenticated"],
            Role::Viewer => vec!["palisade:viewers", "system:authenticated"],
            Role::NoTiers => vec!["palisade:tenant-operators", "system:authenticated"],
            Role::Scoped => vec!["palisade:acme-engineers", "system:authenticated"],
            Role::Recorder => vec![
                "system:serviceaccounts",
                "system:serviceaccounts:palisade",
                "system:authenticated",
            ],
        }
    }

    /// Whether the user may do `verb` (Kubernetes verb names) on resources of API `group`
    /// everywhere (the scoped user may nothing everywhere: see [`User::allows`]).
    pub fn may(self, verb: &str, group: &str) -> bool {
        match self.role {
            Role::Scoped => false,
            Role::Admin => true,
            Role::Viewer => matches!(verb, "get" | "list" | "watch"),
            Role::NoTiers => {
                group != crate::model::TIER_GROUP
                    && group != CILIUM_GROUP
                    && !CALICO_GROUPS.contains(&group)
            }
            Role::Recorder => {
                matches!(verb, "get" | "list" | "watch")
                    || (verb == "create" && matches!(group, AUTHENTICATION | AUTHORIZATION))
            }
        }
    }
}

impl User {
    /// Whether the user may do `verb` on `resource` (plural, `/subresource` if any) of `group`
    /// in `namespace` (`None`: cluster-scoped or across all namespaces).
    pub fn allows(self, verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> bool {
        match self.role {
            Role::Scoped => super::rbac_scoped::scoped_may(verb, resource, namespace),
            _ => self.may(verb, group),
        }
    }
}

pub const AUTHENTICATION: &str = "authentication.k8s.io";
const CILIUM_GROUP: &str = "cilium.io";
const CALICO_GROUPS: [&str; 2] = ["projectcalico.org", "crd.projectcalico.org"];
pub const AUTHORIZATION: &str = "authorization.k8s.io";

/// The server's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub admin: String,
    pub viewer: String,
    /// Only when asked for (`--tiers-forbidden-user`).
    pub no_tiers: Option<String>,
    /// The in-process recorder's service account token.
    pub recorder: String,
    /// The namespace-scoped user's (`palisade-demo-acme`).
    pub scoped: String,
}

impl Tokens {
    /// Fresh tokens of 128 random bits each, from the operating system's generator: they are
    /// all that stands between another local user and the demo's write access.
    pub fn generate(no_tiers: bool) -> std::io::Result<Tokens> {
        let random = rustls::crypto::ring::default_provider().secure_random;
        let token = |prefix: &str| -> std::io::Result<String> {
            let mut bytes = [0u8; 16];
            random
                .fill(&mut bytes)
                .map_err(|_| std::io::Error::other("no random bytes for the demo's tokens"))?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Ok(format!("{prefix}-{hex}"))
        };
        Ok(Tokens {
            admin: token("admin")?,
            viewer: token("viewer")?,
            no_tiers: if no_tiers {
                Some(token("no-tiers")?)
            } else {
                None
            },
            recorder: token("recorder")?,
            scoped: token("acme")?,
        })
    }

    /// Who sends `authorization` (the header's raw bytes, if any), acting as `impersonate` (the
    /// `Impersonate-User` header, if any). No token, an unknown one or bytes that are not an
    /// ASCII bearer token: 401.
    pub fn authenticate(
        &self,
        authorization: Option<&[u8]>,
        impersonate: Option<&str>,
    ) -> ApiResult<User> {
        let token = authorization
            .and_then(|value| std::str::from_utf8(value).ok())
            .filter(|value| value.is_ascii())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let user = match token {
            Some(token) if same_secret(token, &self.admin) => User { role: Role::Admin },
            Some(token) if same_secret(token, &self.viewer) => User { role: Role::Viewer },
            Some(token) if same_secret(token, &self.recorder) => User {
                role: Role::Recorder,
            },
            Some(token) if same_secret(token, &self.scoped) => User { role: Role::Scoped },
            Some(token)
                if self
                    .no_tiers
                    .as_deref()
                    .is_some_and(|secret| same_secret(token, secret)) =>
            {
                User {
                    role: Role::NoTiers,
                }
            }
            _ => return Err(ApiError::unauthorized()),
        };
        match impersonate {
            None => Ok(user),
            Some(VIEWER_USER) => Ok(User { role: Role::Viewer }),
            Some(SCOPED_USER) => Ok(User { role: Role::Scoped }),
            Some(ADMIN_USER) if user.role == Role::Admin => Ok(user),
            Some(other) => Err(ApiError::forbidden(format!(
                "users \"{other}\" is forbidden: User \"{}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
                user.name()
            ))),
        }
    }
}

/// Whether `given` is `secret`, in a time that does not depend on where they first differ.
fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len()
        && !secret.is_empty()
        && given
            .bytes()
            .zip(secret.bytes())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

/// The verb of a resource request.
pub fn verb(method: &Method, named: bool, watch: bool) -> &'static str {
    match *method {
        Method::GET if watch => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "unknown",
    }
}

/// The answer to a SelfSubjectAccessReview `request`.
pub fn access_review(user: User, request: &Value) -> Value {
    let attributes = request.pointer("/spec/resourceAttributes");
    let verb = attributes
        .and_then(|a| a.get("verb"))
        .or_else(|| request.pointer("/spec/nonResourceAttributes/verb"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let group = attributes
        .and_then(|a| a.get("group"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let text = |key: &str| attributes.and_then(|a| a.get(key)).and_then(Value::as_str);
    let resource = match text("subresource").filter(|s| !s.is_empty()) {
        Some(sub) => format!("{}/{sub}", text("resource").unwrap_or("")),
        None => text("resource").unwrap_or("").to_string(),
    };
    let namespace = text("namespace").filter(|ns| !ns.is_empty());
    let allowed = user.allows(verb, group, &resource, namespace);
    let reason = match (allowed, user.role) {
        (true, _) => format!("palisade demo: user {:?} may {verb}", user.name()),
        (false, Role::Scoped) => format!(
            "palisade demo: user {:?} has a Role in the acme-* namespaces only, and may write only networkpolicies there",
            user.name()
        ),
        (false, Role::NoTiers) => format!(
            "palisade demo: user {:?} has no rights in API group {group:?}",
            user.name()
        ),
        (false, _) => format!(
            "palisade demo: user {:?} may only get, list and watch",
            user.name()
        ),
    };
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": request.get("spec").cloned().unwrap_or(json!({})),
        "status": {"allowed": allowed, "denied": !allowed, "reason": reason},
    })
}

/// A protobuf SelfSubjectAccessReview (the `k8s\0` envelope around `runtime.Unknown`) as the
/// JSON [`access_review`] reads: only the spec's string fields.
pub fn access_review_from_protobuf(bytes: &[u8]) -> ApiResult<Value> {
    let bad = || ApiError::bad_request("cannot decode the protobuf SelfSubjectAccessReview");
    let body = bytes.strip_prefix(b"k8s\0").ok_or_else(bad)?;
    // Unknown: 2 = raw (the object).
    let raw = field(body, 2).ok_or_else(bad)?;
    let spec = field(raw, 2).unwrap_or_default();
    let strings = |message: &[u8], names: &[(u64, &str)]| {
        let mut out = serde_json::Map::new();
        for (number, name) in names {
            if let Some(value) = field(message, *number) {
                out.insert((*name).to_string(), json!(String::from_utf8_lossy(value)));
            }
        }
        Value::Object(out)
    };
    let mut spec_json = serde_json::Map::new();
    if let Some(attributes) = field(spec, 1) {
        let names = [
            (1, "namespace"),
            (2, "verb"),
            (3, "group"),
            (4, "version"),
            (5, "resource"),
            (6, "subresource"),
            (7, "name"),
        ];
        spec_json.insert("resourceAttributes".into(), strings(attributes, &names));
    }
    if let Some(attributes) = field(spec, 2) {
        let names = [(1, "path"), (2, "verb")];
        spec_json.insert("nonResourceAttributes".into(), strings(attributes, &names));
    }
    Ok(json!({"spec": Value::Object(spec_json)}))
}

/// The answer to a TokenReview: who the token in `spec.token` is, if anyone.
pub fn token_review(tokens: &Tokens, request: &Value) -> Value {
    let token = request
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    let header = format!("Bearer {token}");
    let status = match tokens.authenticate(Some(header.as_bytes()), None) {
        Ok(user) => json!({
            "authenticated": true,
            "user": {"username": user.name(), "groups": user.groups()},
        }),
        Err(_) => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "metadata": {},
        // The token is not echoed back.
        "spec": {},
        "status": status,
    })
}

/// The answer to a SubjectAccessReview: the demo's rules for the named user (an unknown user
/// may do nothing).
pub fn subject_access_review(request: &Value) -> Value {
    let spec = request.get("spec").cloned().unwrap_or(json!({}));
    let attributes = spec.get("resourceAttributes");
    let text = |key: &str| {
        attributes
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let name = spec.get("user").and_then(Value::as_str).unwrap_or("");
    let user = User::named(name);
    let resource = match text("subresource") {
        "" => text("resource").to_string(),
        sub => format!("{}/{sub}", text("resource")),
    };
    let namespace = Some(text("namespace")).filter(|ns| !ns.is_empty());
    let allowed = attributes.is_some()
        && user.is_some_and(|u| u.allows(text("verb"), text("group"), &resource, namespace));
    let reason = if allowed {
        format!(
            "palisade demo: user {name:?} may {} {resource}",
            text("verb")
        )
    } else {
        format!(
            "palisade demo: user {name:?} may not {} {resource}",
            text("verb")
        )
    };
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {},
        "spec": spec,
        "status": {"allowed": allowed, "denied": !allowed, "reason": reason},
    })
}

/// The answer to a SelfSubjectReview.
pub fn self_review(user: User) -> Value {
    json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": {},
        "status": {"userInfo": {"username": user.name(), "groups": user.groups()}},
    })
}

/// 403 for a write the user may not do, worded like the API server's RBAC denials.
pub fn forbidden(
    user: User,
    verb: &str,
    qualified: &str,
    plural: &str,
    group: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> ApiError {
    let subject = match name {
        Some(name) => format!("{qualified} \"{name}\""),
        None => qualified.to_string(),
    };
    let scope = match namespace {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    ApiError::forbidden(format!(
        "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{plural}\" in API group \"{group}\"{scope}",
        user.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_users_and_anything_else_is_unauthorized() {
        let tokens = Tokens::generate(false).unwrap();
        assert_ne!(tokens.admin, tokens.viewer);
        let admin = format!("Bearer {}", tokens.admin);
        let viewer = format!("Bearer {}", tokens.viewer);
        let who = |auth: Option<&[u8]>, as_user: Option<&str>| tokens.authenticate(auth, as_user);
        assert_eq!(who(Some(admin.as_bytes()), None).unwrap().role, Role::Admin);
        assert_eq!(
            who(Some(viewer.as_bytes()), None).unwrap().role,
            Role::Viewer
        );
        let lower = format!("bearer {}", tokens.admin);
        assert_eq!(who(Some(lower.as_bytes()), None).unwrap().role, Role::Admin);
        let non_ascii = [admin.as_bytes(), "\u{e9}".as_bytes()].concat();
        let unauthorized: [Option<&[u8]>; 7] = [
            None,
            Some(&b"Bearer nope"[..]),
            Some(&b"Bearer "[..]),
            Some(&b"Bearer \xff\xfe"[..]),
            Some(&non_ascii),
            Some(tokens.admin.as_bytes()),
            Some(&b"Basic YWRtaW46YWRtaW4="[..]),
        ];
        for authorization in unauthorized {
            let err = who(authorization, None).unwrap_err();
            assert_eq!((err.code, err.reason), (401, "Unauthorized"));
        }
        // Impersonating the viewer needs a token too.
        assert_eq!(who(None, Some(VIEWER_USER)).unwrap_err().code, 401);
        assert_eq!(
            who(Some(admin.as_bytes()), Some(VIEWER_USER)).unwrap().role,
            Role::Viewer
        );
        assert_eq!(
            who(Some(viewer.as_bytes()), Some(ADMIN_USER))
                .unwrap_err()
                .code,
            403
        );
        assert_eq!(
            who(Some(admin.as_bytes()), Some(ADMIN_USER)).unwrap().role,
            Role::Admin
        );
    }

    #[test]
    fn token_reviews_name_the_user_and_access_reviews_follow_the_demo_roles() {
        let tokens = Tokens::generate(false).unwrap();
        let review = token_review(&tokens, &json!({"spec": {"token": tokens.viewer}}));
        assert_eq!(review["status"]["authenticated"], json!(true));
        assert_eq!(review["status"]["user"]["username"], json!(VIEWER_USER));
        assert!(!review.to_string().contains(&tokens.viewer));
        let bad = token_review(&tokens, &json!({"spec": {"token": "nope"}}));
        assert_eq!(bad["status"]["authenticated"], json!(false));
        let ask = |user: &str, verb: &str| {
            subject_access_review(&json!({"spec": {"user": user, "resourceAttributes": {
                "namespace": "palisade", "verb": verb, "resource": "services",
                "subresource": "proxy", "name": "palisade-recorder"}}}))["status"]["allowed"]
                .clone()
        };
        assert_eq!(ask(VIEWER_USER, "get"), json!(true));
        assert_eq!(ask(VIEWER_USER, "create"), json!(false));
        assert_eq!(ask(ADMIN_USER, "create"), json!(true));
        assert_eq!(ask("mallory", "get"), json!(false));
        let recorder = User::named(RECORDER_USER).unwrap();
        assert!(recorder.may("create", AUTHENTICATION) && recorder.may("create", AUTHORIZATION));
        assert!(
            !recorder.may("create", "")
                && !User { role: Role::Viewer }.may("create", AUTHENTICATION)
        );
    }

    #[test]
    fn viewers_may_only_read() {
        let viewer = User { role: Role::Viewer };
        assert!(viewer.may("get", "") && viewer.may("list", "") && viewer.may("watch", ""));
        assert!(
            !viewer.may("update", "") && !viewer.may("delete", "") && !viewer.may("create", "")
        );
        let review = access_review(
            viewer,
            &json!({"spec": {"resourceAttributes": {"verb": "delete", "resource": "networkpolicies"}}}),
        );
        assert_eq!(review["status"]["allowed"], json!(false));
    }

    #[test]
    fn the_no_tiers_user_exists_only_when_asked_and_may_not_touch_tiers() {
        let without = Tokens::generate(false).unwrap();
        assert!(without.no_tiers.is_none());
        let tokens = Tokens::generate(true).unwrap();
        let header = format!("Bearer {}", tokens.no_tiers.as_deref().unwrap());
        let user = tokens.authenticate(Some(header.as_bytes()), None).unwrap();
        assert_eq!(user.role, Role::NoTiers);
        assert_eq!(
            without
                .authenticate(Some(header.as_bytes()), None)
                .unwrap_err()
                .code,
            401
        );
        assert!(user.may("list", "networking.k8s.io") && user.may("delete", ""));
        for verb in ["get", "list", "watch", "create"] {
            assert!(!user.may(verb, "policy.networking.k8s.io"), "{verb}");
        }
        let review = access_review(
            user,
            &json!({"spec": {"resourceAttributes": {"verb": "list",
                "group": "policy.networking.k8s.io", "resource": "clusternetworkpolicies"}}}),
        );
        assert_eq!(review["status"]["allowed"], json!(false));
    }

    #[test]
    fn protobuf_reviews_are_read() {
        // k8s\0 + Unknown{raw(2): SSAR{spec(2): {resourceAttributes(1): {namespace(1), verb(2)}}}}
        let attributes = [&[0x0a, 2][..], b"ns", &[0x12, 6], b"delete"].concat();
        let spec = [&[0x0a, attributes.len() as u8][..], &attributes].concat();
        let ssar = [&[0x12, spec.len() as u8][..], &spec].concat();
        let unknown = [&[0x0a, 0][..], &[0x12, ssar.len() as u8], &ssar].concat();
        let bytes = [&b"k8s\0"[..], &unknown].concat();
        let review = access_review_from_protobuf(&bytes).unwrap();
        assert_eq!(
            review["spec"]["resourceAttributes"],
            json!({"namespace": "ns", "verb": "delete"})
        );
        assert!(access_review_from_protobuf(b"junk").is_err());
    }
}
