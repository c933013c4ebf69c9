//! The console's own watch lag: from receiving a watch event to the end of the frame that shows
//! it. Kept over a sliding set of recent frames and reported to the state at most every few
//! seconds, so measuring never costs a frame of its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frames kept for the quantiles.
const SAMPLES: usize = 256;
/// How often the figures are handed to the state.
const REPORT_EVERY: Duration = Duration::from_secs(2);

pub struct LagMeter {
    samples: VecDeque<Duration>,
    last_report: Option<Instant>,
    changed: bool,
}

impl LagMeter {
    pub fn new() -> LagMeter {
        LagMeter {
            samples: VecDeque::with_capacity(SAMPLES),
            last_report: None,
            changed: false,
        }
    }

    /// A frame showing watch events received at `received` finished drawing at `drawn`.
    pub fn record(&mut self, received: Instant, drawn: Instant) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples
            .push_back(drawn.saturating_duration_since(received));
        self.changed = true;
    }

    /// p50 and p95 when there is news and the last report is old enough.
    pub fn report(&mut self, now: Instant) -> Option<(Duration, Duration)> {
        let due = self
            .last_report
            .is_none_or(|t| now.saturating_duration_since(t) >= REPORT_EVERY);
        if !(self.changed && due) || self.samples.is_empty() {
            return None;
        }
        self.changed = false;
        self.last_report = Some(now);
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.95)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_recent_frames_reported_at_most_every_interval() {
        let mut meter = LagMeter::new();
        let t0 = Instant::now();
        assert_eq!(meter.report(t0), None, "nothing measured yet");
        for ms in 1..=100u64 {
            meter.record(t0, t0 + Duration::from_millis(ms));
        }
        let (p50, p95) = meter.report(t0).unwrap();
        assert_eq!(p50, Duration::from_millis(51));
        assert_eq!(p95, Duration::from_millis(95));
        meter.record(t0, t0 + Duration::from_millis(1));
        assert_eq!(meter.report(t0 + Duration::from_secs(1)), None, "too soon");
        assert!(meter.report(t0 + REPORT_EVERY).is_some());
        assert_eq!(meter.report(t0 + REPORT_EVERY * 3), None, "no news");
    }

    #[test]
    fn only_recent_frames_count() {
        let mut meter = LagMeter::new();
        let t0 = Instant::now();
        for _ in 0..SAMPLES {
            meter.record(t0, t0 + Duration::from_secs(1));
        }
        for _ in 0..SAMPLES {
            meter.record(t0, t0 + Duration::from_millis(2));
        }
        assert_eq!(meter.report(t0).unwrap().1, Duration::from_millis(2));
    }
}
