//! The flow sources, at the edge: a Hubble Relay client and a Goldmane client (tonic, with the
//! messages defined in `flows/`), each a task that delivers [`FlowNews`] to a sink its caller
//! gives (the console turns them into messages, `palisade flows` prints them).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::flows::FlowNews;

/// Where a source's news go. Called from the source's task: it must not block.
pub type FlowSink = Arc<dyn Fn(FlowNews) + Send + Sync>;

/// TLS files for a gRPC source: the CA that signed the server's certificate, and the client
/// certificate and key for mutual TLS. All absent: plain text (`http://`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate is checked against, when it is not the address's host.
    pub server_name: Option<String>,
}

/// Reconnect backoff for the streams: 200 ms doubling to 10 s, reset once a stream delivers
/// (the same curve as the watchers').
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(200);
    pub const MAX: Duration = Duration::from_secs(10);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The wait before the next attempt; each call doubles the following one.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        wait
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new();
        let waits: Vec<_> = (0..8).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        b.reset();
        assert_eq!(b.next_wait(), Backoff::FIRST);
    }
}
