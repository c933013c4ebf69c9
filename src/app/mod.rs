//! The pure application core: `State`, `Msg`, `Action`, `Effect` and `update`.

pub mod action;
pub mod msg;
pub mod state;
pub mod tree;
pub mod update;

#[cfg(test)]
mod update_tests;

pub use msg::{Effect, Msg, WatchEvent};
pub use state::State;
pub use update::update;
