//! When to draw and when to analyse. Input is drawn at once; watch traffic alone is drawn at most
//! every `FRAME`, and the engine's analysis starts at most every `ANALYSIS_INTERVAL`, so a cluster
//! churning a thousand events a second neither floods the terminal nor keeps a core busy
//! re-analysing. Times are passed in, so the rules are tested without a clock.

use std::time::{Duration, Instant};

/// ~30 frames per second for watch-driven redraws.
pub const FRAME: Duration = Duration::from_millis(33);
/// At most one analysis start per second under churn.
pub const ANALYSIS_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Pacer {
    last_draw: Option<Instant>,
    /// Something changed since the last frame.
    dirty: bool,
    /// The change came from the user (key, mouse, resize): draw without waiting.
    urgent: bool,
    last_analysis: Option<Instant>,
    analysis_wanted: bool,
    last_settle: Option<Instant>,
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer {
            last_draw: None,
            dirty: true,
            urgent: true,
            last_analysis: None,
            analysis_wanted: false,
            last_settle: None,
        }
    }

    /// A batch of messages was applied; `urgent` when it held user input.
    pub fn changed(&mut self, urgent: bool) {
        self.dirty = true;
        self.urgent |= urgent;
    }

    pub fn want_analysis(&mut self) {
        self.analysis_wanted = true;
    }

    /// Whether to draw now; if so, the frame counts as drawn.
    pub fn take_draw(&mut self, now: Instant) -> bool {
        let due = self
            .last_draw
            .is_none_or(|last| now.duration_since(last) >= FRAME);
        if self.dirty && (self.urgent || due) {
            self.dirty = false;
            self.urgent = false;
            self.last_draw = Some(now);
            return true;
        }
        false
    }

    /// Whether derived state may be rebuilt now (at most once per `FRAME`); if so, it counts.
    pub fn take_settle(&mut self, now: Instant) -> bool {
        let due = self
            .last_settle
            .is_none_or(|last| now.duration_since(last) >= FRAME);
        if due {
            self.last_settle = Some(now);
        }
        due
    }

    /// Whether to start the wanted analysis now; if so, it counts as started.
    pub fn take_analysis(&mut self, now: Instant) -> bool {
        let due = self
            .last_analysis
            .is_none_or(|last| now.duration_since(last) >= ANALYSIS_INTERVAL);
        if self.analysis_wanted && due {
            self.analysis_wanted = false;
            self.last_analysis = Some(now);
            return true;
        }
        false
    }

    /// When the loop must wake up even if no message arrives.
    pub fn wake_at(&self) -> Option<Instant> {
        let draw = self
            .dirty
            .then(|| self.last_draw.map(|last| last + FRAME))
            .flatten();
        let analysis = self
            .analysis_wanted
            .then(|| self.last_analysis.map(|last| last + ANALYSIS_INTERVAL))
            .flatten();
        match (draw, analysis) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_draws_at_once_and_watch_traffic_waits_for_the_frame() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        assert!(pacer.take_draw(t0), "the first frame");
        assert!(!pacer.take_draw(t0), "nothing changed");
        pacer.changed(false);
        let soon = t0 + Duration::from_millis(5);
        assert!(!pacer.take_draw(soon), "watch traffic waits");
        assert_eq!(pacer.wake_at(), Some(t0 + FRAME));
        pacer.changed(true);
        assert!(pacer.take_draw(soon), "a key draws at once");
        pacer.changed(false);
        assert!(pacer.take_draw(soon + FRAME));
        assert_eq!(pacer.wake_at(), None, "nothing pending");
    }

    #[test]
    fn settles_at_most_once_per_frame() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        assert!(pacer.take_settle(t0));
        assert!(!pacer.take_settle(t0 + Duration::from_millis(10)));
        assert!(pacer.take_settle(t0 + FRAME));
    }

    #[test]
    fn analyses_start_at_most_once_per_interval() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        assert!(!pacer.take_analysis(t0), "not wanted yet");
        pacer.want_analysis();
        assert!(pacer.take_analysis(t0));
        pacer.want_analysis();
        let soon = t0 + Duration::from_millis(100);
        assert!(!pacer.take_analysis(soon));
        assert_eq!(pacer.wake_at(), Some(t0 + ANALYSIS_INTERVAL));
        assert!(pacer.take_analysis(t0 + ANALYSIS_INTERVAL));
        assert!(
            !pacer.take_analysis(t0 + ANALYSIS_INTERVAL * 3),
            "wanted once, started once"
        );
    }
}
