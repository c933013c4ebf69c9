//! The demo's flows on their way to the simulated flow APIs: the traffic simulation publishes
//! what the dataplane "saw", the simulated Hubble Relay (and Goldmane) serve it to clients.
//! Like Hubble's ring buffer it keeps the most recent items for clients asking for the last N,
//! and a client too slow for the stream learns how many items it lost.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::flows::FlowRecord;

/// What the simulated dataplane emits.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedItem {
    Flow(Box<FlowRecord>),
    /// Events the simulated observer lost before they reached the feed (a deliberate gap).
    Lost {
        count: u64,
        what: String,
    },
}

pub struct FlowFeed {
    sender: broadcast::Sender<FeedItem>,
    recent: Mutex<VecDeque<FeedItem>>,
    keep: usize,
}

impl FlowFeed {
    /// Hubble's default ring buffer size.
    pub const KEEP: usize = 4095;
    /// A subscriber this far behind is told it lost events.
    pub const LAG: usize = 8192;

    /// `keep`: items kept for "the last N" requests (Hubble's ring buffer, 4095 by default);
    /// `lag`: items a subscriber may fall behind before it is told it lost some.
    pub fn new(keep: usize, lag: usize) -> FlowFeed {
        let (sender, _) = broadcast::channel(lag.max(1));
        FlowFeed {
            sender,
            recent: Mutex::new(VecDeque::with_capacity(keep.min(4096))),
            keep,
        }
    }

    pub fn publish(&self, item: FeedItem) {
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.push_back(item.clone());
            while recent.len() > self.keep {
                recent.pop_front();
            }
        }
        // No subscriber is not an error: nobody is watching yet.
        let _ = self.sender.send(item);
    }

    /// The kept items (oldest first) and a receiver for what comes after them; subscribing
    /// under the lock means nothing falls between the two.
    pub fn subscribe(&self) -> (Vec<FeedItem>, broadcast::Receiver<FeedItem>) {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        (recent.iter().cloned().collect(), self.sender.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(n: u64) -> FeedItem {
        FeedItem::Lost {
            count: n,
            what: "test".into(),
        }
    }

    #[test]
    fn a_subscriber_gets_the_kept_items_then_the_new_ones_without_a_gap() {
        let feed = FlowFeed::new(2, 16);
        feed.publish(lost(1));
        feed.publish(lost(2));
        feed.publish(lost(3));
        let (recent, mut rx) = feed.subscribe();
        assert_eq!(recent, vec![lost(2), lost(3)]);
        feed.publish(lost(4));
        assert_eq!(rx.try_recv().ok(), Some(lost(4)));
    }

    #[test]
    fn a_slow_subscriber_learns_how_many_it_lost() {
        let feed = FlowFeed::new(0, 2);
        let (_, mut rx) = feed.subscribe();
        for i in 0..5 {
            feed.publish(lost(i));
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(3))
        ));
    }
}
