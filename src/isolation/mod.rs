//! Tenant isolation analysis. Pure: no IO, no kube client.

pub mod matrix;
pub mod tenants;
