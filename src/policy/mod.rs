//! NetworkPolicy semantics (networking.k8s.io/v1), pure: compile and validate policies, group
//! pods into classes, compute allowed connection sets, explain them and print the connlist.
//! See `docs/semantics.md`.

mod addresses;
pub mod calico;
pub mod cilium;
pub mod classes;
pub mod compile;
pub mod connlist;
pub mod connset;
pub mod decide;
pub mod engine;
pub mod error;
pub mod explain;
pub mod externals;
pub mod ipset;
pub mod matching;
pub mod rangeset;
pub mod rows;
pub mod selector;
pub mod settings;
pub mod tier;
mod tier_compile;
pub mod tier_match;

pub use compile::{CompiledPolicy, Direction, compile_policy};
pub use connlist::{ConnLine, NamedPeer, connlist, format_connlist, format_undecided};
pub use connset::{ConnSet, Protocol};
pub use engine::{Engine, Peer, ReadOnlyEngine, RowHandles, Settings, UpdateStats, Verdict};
pub use error::ValidationError;
pub use explain::{Explanation, explain, render_explanation};
pub use matching::IpBlockPods;
pub use settings::{Cni, CniSetting, IpBlockPodsSetting};

#[cfg(test)]
mod calico_metamorphic_tests;
#[cfg(test)]
mod calico_order_tests;
#[cfg(test)]
mod calico_tests;
#[cfg(test)]
mod cilium_metamorphic_tests;
#[cfg(test)]
mod cilium_tests;
#[cfg(test)]
mod incremental_tests;
#[cfg(test)]
mod scale_tests;
#[cfg(test)]
mod semantics_tests;
#[cfg(test)]
mod tier_incremental_tests;
#[cfg(test)]
mod tier_tests;
#[cfg(test)]
mod validation_tests;
#[cfg(test)]
mod workloads_tests;
