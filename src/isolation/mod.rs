//! Tenant isolation analysis. Pure: no IO, no kube client.

pub mod matrix;
mod pairs;
pub mod tenants;
