//! Tenant isolation analysis. Pure: no IO, no kube client.

pub mod analysis;
pub mod dns;
pub mod findings;
pub mod intent;
pub mod lint;
pub mod matrix;
mod pairs;
pub mod tenants;

#[cfg(test)]
mod intent_tests;
#[cfg(test)]
mod lint_tests;
