//! The pure application core: `State`, `Msg`, `Effect` and `update`.

/// The keymaps' vocabulary lives with the keymaps (`config/`); the console acts on it.
pub use crate::config::action;

pub mod changes;
pub mod command;
pub mod denials;
pub mod flows;
pub mod flows_keys;
pub mod flows_settle;
pub mod fuzzy;
pub mod history;
pub mod history_flow;
pub mod input;
pub mod layout;
pub mod mouse;
pub mod msg;
pub mod nav;
pub mod rollback;
pub mod rollback_flow;
pub mod rows;
pub mod screen;
pub mod screen_nav;
pub mod state;
pub mod subscriptions;
pub mod suspects;
pub mod suspects_flow;
pub mod telemetry;
pub mod telemetry_rows;
pub mod tenant_traffic;
pub mod timeline_flow;
pub mod timeline_view;
pub mod tour;
pub mod tour_flow;
pub mod tree;
mod tree_build;
pub mod tree_nav;
pub mod update;

#[cfg(test)]
mod coverage_tests;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
pub(crate) mod flows_tests;
#[cfg(test)]
mod history_audit_tests;
#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod native_flow_tests;
#[cfg(test)]
mod native_tests;
#[cfg(test)]
mod rollback_suspend_tests;
#[cfg(test)]
mod rollback_tests;
#[cfg(test)]
mod scoped_matrix_tests;
#[cfg(test)]
mod scroll_tests;
#[cfg(test)]
mod suspects_tests;
#[cfg(test)]
mod telemetry_update_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tier_flow_tests;
#[cfg(test)]
mod tier_tests;
#[cfg(test)]
mod timeline_tests;
#[cfg(test)]
mod tour_tests;
#[cfg(test)]
mod update_tests;

pub use msg::{Effect, Msg, WatchEvent};
pub use state::State;
pub use update::update;
