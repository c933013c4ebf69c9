//! Loading Kubernetes manifests (files or directories of YAML/JSON) into a topology the policy
//! engine can analyse. `parse` and `topology` are pure; `load` reads the files.

pub mod load;
pub mod parse;
pub mod topology;

pub use load::{LoadError, load_paths};
pub use parse::{Document, Warning, parse_text};
pub use topology::{Topology, build_topology};
