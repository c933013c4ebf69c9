//! Validation errors, named by object and field path like the API server reports them.

use std::fmt;

use crate::model::ObjectRef;

/// One rejected field of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// `NetworkPolicy`, or a tier kind (whose objects have no namespace).
    pub kind: &'static str,
    pub object: ObjectRef,
    /// Field path, e.g. `spec.ingress[0].from[1].ipBlock.cidr`.
    pub field: String,
    pub reason: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.object.namespace.is_empty() {
            true => write!(f, "{} {}", self.kind, self.object.name)?,
            false => write!(f, "{} {}", self.kind, self.object)?,
        }
        write!(f, ": {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ValidationError {}

/// Collects errors while compiling one object.
#[derive(Debug)]
pub(crate) struct Errors<'a> {
    pub kind: &'static str,
    pub object: &'a ObjectRef,
    pub list: Vec<ValidationError>,
}

impl<'a> Errors<'a> {
    pub fn new(object: &'a ObjectRef) -> Self {
        Self::for_kind("NetworkPolicy", object)
    }

    pub fn for_kind(kind: &'static str, object: &'a ObjectRef) -> Self {
        Self {
            kind,
            object,
            list: Vec::new(),
        }
    }

    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.list.push(ValidationError {
            kind: self.kind,
            object: self.object.clone(),
            field: field.into(),
            reason: reason.into(),
        });
    }
}
