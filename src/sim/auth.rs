//! Token authentication and a two-role authorizer for the demo server, plus the
//! SelfSubjectAccessReview and SelfSubjectReview endpoints (`kubectl auth can-i`, `whoami`).
//!
//! Two users, each with a bearer token made up when the server starts: `palisade-demo` (admin:
//! every verb) and `palisade-demo-viewer` (get, list, watch only; writes, dry runs included, are
//! 403 Forbidden). A request without a token is served as the admin, so clients of older demo
//! kubeconfigs keep working; a request with an unknown token is 401 Unauthorized. The server
//! only listens on 127.0.0.1.

use std::hash::{BuildHasher, Hasher};

use hyper::Method;
use serde_json::{Value, json};

use super::status::{ApiError, ApiResult};

pub const ADMIN_USER: &str = "palisade-demo";
pub const VIEWER_USER: &str = "palisade-demo-viewer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
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
        }
    }

    fn groups(self) -> Vec<&'static str> {
        match self.role {
            Role::Admin => vec!["system:masters", "system:authenticated"],
            Role::Viewer => vec!["palisade:viewers", "system:authenticated"],
        }
    }

    /// Whether the user may do `verb` (Kubernetes verb names).
    pub fn may(self, verb: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Viewer => matches!(verb, "get" | "list" | "watch"),
        }
    }
}

/// The server's two tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub admin: String,
    pub viewer: String,
}

impl Tokens {
    /// Fresh random tokens (std's randomly keyed hasher; the demo needs no cryptography).
    pub fn generate() -> Tokens {
        let random = |salt: &str| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write(salt.as_bytes());
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            format!("{salt}-{:016x}", hasher.finish())
        };
        Tokens {
            admin: random("admin"),
            viewer: random("viewer"),
        }
    }

    /// Who sends `authorization` (the header's value, if any).
    pub fn authenticate(&self, authorization: Option<&str>) -> ApiResult<User> {
        let Some(value) = authorization else {
            return Ok(User { role: Role::Admin });
        };
        let token = value.strip_prefix("Bearer ").unwrap_or("").trim();
        if token == self.admin {
            Ok(User { role: Role::Admin })
        } else if token == self.viewer {
            Ok(User { role: Role::Viewer })
        } else {
            Err(ApiError::unauthorized())
        }
    }
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
    let allowed = user.may(verb);
    let reason = if allowed {
        format!("palisade demo: user {:?} may {verb}", user.name())
    } else {
        format!(
            "palisade demo: user {:?} may only get, list and watch",
            user.name()
        )
    };
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": request.get("spec").cloned().unwrap_or(json!({})),
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
    fn tokens_name_users_and_no_token_is_the_admin() {
        let tokens = Tokens::generate();
        assert_ne!(tokens.admin, tokens.viewer);
        let admin = format!("Bearer {}", tokens.admin);
        let viewer = format!("Bearer {}", tokens.viewer);
        assert_eq!(tokens.authenticate(Some(&admin)).unwrap().role, Role::Admin);
        assert_eq!(
            tokens.authenticate(Some(&viewer)).unwrap().role,
            Role::Viewer
        );
        assert_eq!(tokens.authenticate(None).unwrap().role, Role::Admin);
        assert_eq!(
            tokens.authenticate(Some("Bearer nope")).unwrap_err().code,
            401
        );
    }

    #[test]
    fn viewers_may_only_read() {
        let viewer = User { role: Role::Viewer };
        assert!(viewer.may("get") && viewer.may("list") && viewer.may("watch"));
        assert!(!viewer.may("update") && !viewer.may("delete") && !viewer.may("create"));
        let review = access_review(
            viewer,
            &json!({"spec": {"resourceAttributes": {"verb": "delete", "resource": "networkpolicies"}}}),
        );
        assert_eq!(review["status"]["allowed"], json!(false));
    }
}
