//! Loading Kubernetes manifests (files or directories of YAML/JSON) into a topology the policy
//! engine can analyse. `parse` and `topology` are pure; `load` reads the files.

pub mod load;
pub mod parse;
pub mod strict;
pub mod topology;

pub use load::{LoadError, load_paths};
pub use parse::{Document, Warning, WarningClass, parse_text};
pub use topology::{Topology, build_topology};

use crate::policy::{Engine, Settings, connlist, format_connlist};

impl Topology {
    /// The engine over this topology's snapshot.
    pub fn engine(&self, settings: Settings) -> Engine {
        Engine::new(&self.snapshot, settings)
    }

    /// The connlist text (corpus format) of every workload and external peer.
    pub fn connlist_text(&self, settings: Settings) -> String {
        format_connlist(&connlist(&self.engine(settings), &self.peers))
    }
}

#[cfg(test)]
mod topology_tests;
