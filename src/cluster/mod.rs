//! The kube-rs edge: a client from a kubeconfig (real cluster or the demo server, same path),
//! and the watchers that feed the console. Independent of the console: the watchers deliver
//! `model::WatchEvent`s to a sink their caller provides.

pub mod connect;
pub mod convert;
mod credentials;
pub mod discovery;
mod informer;
pub mod liveness;
pub mod scope;
mod scoped_watch;
pub mod slim_pod;
pub mod snapshot;
pub mod watch;

pub use connect::{Connection, connect, resolve_kubeconfig};
pub use informer::PAGE_SIZE;
pub use liveness::Timing;
pub use watch::Watchers;
