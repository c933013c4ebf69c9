//! The recent flows, bounded by count and by age, and the gaps the sources announced.
//!
//! Age is measured against the newest flow's own time, not a clock, so the ring stays pure: a
//! source that stops sending keeps its last flows until newer ones push them out.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::record::{FlowRecord, Gap};

/// Gaps kept, newest last.
const GAPS_KEPT: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLimits {
    pub max_flows: usize,
    pub max_age: Duration,
}

impl Default for RingLimits {
    /// 20,000 flows or 10 minutes, whichever is reached first: at 5,000 flows/s the ring holds
    /// the last 4 s; at a quiet cluster's few per second, the last 10 minutes.
    fn default() -> RingLimits {
        RingLimits {
            max_flows: 20_000,
            max_age: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct FlowRing {
    limits: RingLimits,
    flows: VecDeque<FlowRecord>,
    gaps: VecDeque<Gap>,
    newest: Option<SystemTime>,
    /// Flows received since the ring was made.
    pub received: u64,
    /// Flows pushed out by the count or age limit.
    pub evicted: u64,
}

impl FlowRing {
    pub fn new(limits: RingLimits) -> FlowRing {
        FlowRing {
            limits: RingLimits {
                max_flows: limits.max_flows.max(1),
                max_age: limits.max_age,
            },
            ..FlowRing::default()
        }
    }

    pub fn limits(&self) -> RingLimits {
        self.limits
    }

    pub fn push(&mut self, flow: FlowRecord) {
        self.received += 1;
        if self.newest.is_none_or(|n| flow.time > n) {
            self.newest = Some(flow.time);
        }
        self.flows.push_back(flow);
        while self.flows.len() > self.limits.max_flows {
            self.flows.pop_front();
            self.evicted += 1;
        }
        self.expire();
    }

    pub fn extend(&mut self, flows: impl IntoIterator<Item = FlowRecord>) {
        for flow in flows {
            self.push(flow);
        }
    }

    pub fn push_gap(&mut self, gap: Gap) {
        self.gaps.push_back(gap);
        while self.gaps.len() > GAPS_KEPT {
            self.gaps.pop_front();
        }
    }

    /// Drops flows older than the age limit, counted back from the newest flow. Flows arrive
    /// nearly in time order, so only the front needs looking at.
    fn expire(&mut self) {
        let Some(cutoff) = self.newest.and_then(|n| n.checked_sub(self.limits.max_age)) else {
            return;
        };
        while self.flows.front().is_some_and(|f| f.time < cutoff) {
            self.flows.pop_front();
            self.evicted += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &FlowRecord> {
        self.flows.iter().rev()
    }

    /// Gaps, newest first.
    pub fn gaps(&self) -> impl Iterator<Item = &Gap> {
        self.gaps.iter().rev()
    }

    pub fn newest_time(&self) -> Option<SystemTime> {
        self.newest
    }

    /// Forgets everything (a context switch, a new source).
    pub fn clear(&mut self) {
        *self = FlowRing::new(self.limits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::DataplaneVerdict;
    use crate::flows::record::tests::test_flow;

    fn at(secs: u64) -> FlowRecord {
        let mut f = test_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
        f.time = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        f
    }

    #[test]
    fn keeps_at_most_max_flows_newest_first() {
        let mut ring = FlowRing::new(RingLimits {
            max_flows: 3,
            max_age: Duration::from_secs(1_000),
        });
        ring.extend((1..=5).map(at));
        let times: Vec<_> = ring.newest_first().map(|f| f.time).collect();
        assert_eq!(
            times,
            [5, 4, 3].map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
        );
        assert_eq!((ring.received, ring.evicted), (5, 2));
    }

    #[test]
    fn drops_flows_older_than_max_age_counted_from_the_newest_flow() {
        let mut ring = FlowRing::new(RingLimits {
            max_flows: 100,
            max_age: Duration::from_secs(10),
        });
        ring.extend([at(100), at(105), at(112)]);
        // 112 - 10 = 102: the flow at 100 is too old, the one at 105 is not.
        assert_eq!(ring.len(), 2);
        // A late flow does not move the reference back.
        ring.push(at(50));
        assert_eq!(
            ring.newest_time(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(112))
        );
    }

    #[test]
    fn gaps_are_kept_newest_first_and_bounded() {
        let mut ring = FlowRing::new(RingLimits::default());
        for i in 0..(GAPS_KEPT as u64 + 5) {
            ring.push_gap(Gap {
                at: SystemTime::UNIX_EPOCH + Duration::from_secs(i),
                lost: i,
                what: "test".into(),
            });
        }
        assert_eq!(ring.gaps().count(), GAPS_KEPT);
        assert_eq!(
            ring.gaps().next().map(|g| g.lost),
            Some(GAPS_KEPT as u64 + 4)
        );
    }
}
