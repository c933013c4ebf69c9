//! API errors and their rendering as Kubernetes `Status` objects.

use serde_json::{Value, json};

use super::resource::Resource;

/// An error the API server reports to clients as a `Status` object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: errors travel in every `Result` of the server, so they stay small.
    pub details: Option<Box<Details>>,
    /// `details.retryAfterSeconds` in the Status, and the `Retry-After` header.
    pub retry_after: Option<u32>,
    /// `details.causes[0]`: (reason, message).
    pub cause: Option<&'static (&'static str, &'static str)>,
    /// `details.causes` of a validation error: one per invalid field.
    pub field_causes: Vec<FieldCause>,
}

/// One invalid field, as a custom resource's schema validation reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, `FieldValueTooMany`.
    pub reason: &'static str,
    /// The field path, e.g. `spec.ingress[0].action`.
    pub field: String,
    /// What is wrong, without the field path.
    pub message: String,
}

/// The `details` block of a Status: which object the error concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub name: String,
    pub group: &'static str,
    pub kind: &'static str,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
            cause: None,
            field_causes: Vec::new(),
        }
    }

    /// Throttled (API priority and fairness, or a fault): retry after a second.
    pub fn too_many_requests() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            )
        }
    }

    pub fn internal_error(message: impl Into<String>) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// A list from a resourceVersion the server has not reached, after waiting ~3 s for it.
    pub fn too_large_resource_version(asked: u64, current: u64) -> ApiError {
        ApiError {
            retry_after: Some(1),
            cause: Some(&("ResourceVersionTooLarge", "Too large resource version")),
            ..ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {asked}, current: {current}"),
            )
        }
    }

    fn about(mut self, resource: Resource, name: &str) -> ApiError {
        self.details = Some(Box::new(Details {
            name: name.to_string(),
            group: resource.group(),
            kind: resource.plural(),
        }));
        self
    }

    pub fn not_found(resource: Resource, name: &str) -> ApiError {
        let msg = format!("{} \"{name}\" not found", resource.qualified());
        ApiError::new(404, "NotFound", msg).about(resource, name)
    }

    pub fn already_exists(resource: Resource, name: &str) -> ApiError {
        let msg = format!("{} \"{name}\" already exists", resource.qualified());
        ApiError::new(409, "AlreadyExists", msg).about(resource, name)
    }

    /// Optimistic-concurrency failure, worded like the real API server.
    pub fn conflict(resource: Resource, name: &str) -> ApiError {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            resource.qualified()
        );
        ApiError::new(409, "Conflict", msg).about(resource, name)
    }

    pub fn invalid(resource: Resource, name: &str, message: impl Into<String>) -> ApiError {
        let msg = format!(
            "{} \"{name}\" is invalid: {}",
            resource.kind(),
            message.into()
        );
        ApiError::new(422, "Invalid", msg).about(resource, name)
    }

    /// A custom resource that fails its CRD's schema: 422 with one cause per field, worded like
    /// the API server's (`Kind.group "name" is invalid: [field: detail, ...]`).
    pub fn invalid_fields(resource: Resource, name: &str, causes: Vec<FieldCause>) -> ApiError {
        let each: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = match each.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let msg = format!(
            "{} \"{name}\" is invalid: {joined}",
            resource.qualified_kind()
        );
        let mut err = ApiError::new(422, "Invalid", msg);
        err.details = Some(Box::new(Details {
            name: name.to_string(),
            group: resource.group(),
            kind: resource.kind(),
        }));
        err.field_causes = causes;
        err
    }

    /// Strategic merge patch on a custom resource: a real API server has no patch strategy for
    /// it and answers 415.
    pub fn strategic_merge_unsupported() -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        )
    }

    /// RBAC said no.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }

    /// No valid credentials.
    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// A body in a media type the demo server does not decode (protobuf, CBOR): clients such as
    /// kubectl fall back to JSON on 415.
    pub fn undecodable_body(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type})"
            ),
        )
    }

    /// A resource version (watch start or continue token) too old to serve.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    pub fn path_not_found(path: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// The API server could not reach a pod or service it proxies to.
    pub fn service_unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = json!({"name": d.name, "group": d.group, "kind": d.kind});
        }
        if let Some((reason, message)) = self.cause {
            status["details"]["causes"] = json!([{"reason": reason, "message": message}]);
        }
        if !self.field_causes.is_empty() {
            let causes: Vec<Value> = self
                .field_causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            status["details"]["causes"] = json!(causes);
        }
        if let Some(seconds) = self.retry_after {
            status["details"]["retryAfterSeconds"] = json!(seconds);
        }
        status
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
