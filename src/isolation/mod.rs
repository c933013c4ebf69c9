//! Tenant isolation analysis. Pure: no IO, no kube client.

pub mod analysis;
pub mod cni;
pub mod config;
pub mod dns;
pub mod findings;
pub mod intent;
pub mod lint;
pub mod lint_calico;
pub mod lint_cilium;
pub mod lint_staged;
pub mod lint_tiers;
pub mod matrix;
mod pairs;
pub mod tenants;
pub mod tiers;
pub mod unreadable;

#[cfg(test)]
mod intent_tests;
#[cfg(test)]
mod lint_cilium_tests;
#[cfg(test)]
mod lint_staged_tests;
#[cfg(test)]
mod lint_tests;
#[cfg(test)]
mod lint_tiers_tests;
#[cfg(test)]
mod unreadable_tests;
