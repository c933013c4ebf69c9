//! The kube-rs edge: a client from a kubeconfig (real cluster or the demo server, same path),
//! and the watchers that feed the console.

pub mod connect;
pub mod convert;
mod credentials;
pub mod slim_pod;
pub mod snapshot;
pub mod watch;

pub use connect::{Connection, connect, resolve_kubeconfig};
pub use watch::Watchers;
