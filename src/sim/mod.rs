//! The built-in demo cluster: a Kubernetes-compatible API server on loopback.

mod meta;
mod patch;
mod resource;
mod selector;
mod status;
mod store;
mod scenario;

pub use scenario::{Scenario, ScenarioError};
