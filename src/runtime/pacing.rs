//! When to draw, rebuild and analyse. Input is drawn at once; watch traffic alone is drawn at
//! most every `FRAME`; flows alone (a busy cluster's Hubble streams without pause) at most every
//! `LIVE_FRAME` on the `:flows` screen and every `BACKGROUND_FRAME` elsewhere; derived state is
//! rebuilt at most once per `FRAME` and not on frames that answer input (until
//! `INPUT_STALENESS`); the engine's analysis starts at most every `ANALYSIS_INTERVAL`. So a cluster churning a thousand events a second neither floods the
//! terminal nor delays key presses nor keeps a core busy re-analysing. Times are passed in, so
//! the rules are tested without a clock.

use std::time::{Duration, Instant};

/// ~30 frames per second for watch-driven redraws.
pub const FRAME: Duration = Duration::from_millis(33);
/// Four frames a second when only flows arrived and `:flows` shows them: enough for a live
/// tail, while each frame re-judges every flow aggregate and redraws (at 100k pods, 30 of those
/// a second were most of an idle console's CPU).
pub const LIVE_FRAME: Duration = Duration::from_millis(250);
/// One frame a second for flows off screen (they only move counts) and scrape progress.
pub const BACKGROUND_FRAME: Duration = Duration::from_secs(1);
/// How stale the tree may get while input keeps arriving: input frames skip the rebuild (the
/// costly part of a frame under churn) until it is this old.
pub const INPUT_STALENESS: Duration = Duration::from_millis(100);
/// At most one analysis start per second under churn.
pub const ANALYSIS_INTERVAL: Duration = Duration::from_secs(1);

/// How soon a change must reach the screen, least urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pace {
    /// Flows off screen and scrape progress: within `BACKGROUND_FRAME`.
    Background,
    /// Flows on the `:flows` screen: within `LIVE_FRAME`.
    Live,
    /// Watch events, analyses, replies: within `FRAME`.
    Prompt,
    /// The user's key, click or resize: at once.
    Input,
}

#[derive(Debug, Default)]
pub struct Pacer {
    last_draw: Option<Instant>,
    /// The most urgent change since the last frame, if any.
    pending: Option<Pace>,
    last_settle: Option<Instant>,
    last_analysis: Option<Instant>,
    analysis_wanted: bool,
}

fn elapsed(since: Option<Instant>, now: Instant, limit: Duration) -> bool {
    since.is_none_or(|last| now.duration_since(last) >= limit)
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer {
            pending: Some(Pace::Input),
            ..Pacer::default()
        }
    }

    /// A batch of messages was applied, the most urgent of them at `pace`.
    pub fn changed(&mut self, pace: Pace) {
        self.pending = self.pending.max(Some(pace));
    }

    /// When the pending change is due on screen.
    fn draw_due(&self) -> Option<Instant> {
        let wait = match self.pending? {
            // Due since the last frame: at once.
            Pace::Input => return self.last_draw,
            Pace::Prompt => FRAME,
            Pace::Live => LIVE_FRAME,
            Pace::Background => BACKGROUND_FRAME,
        };
        self.last_draw.map(|last| last + wait)
    }

    pub fn want_analysis(&mut self) {
        self.analysis_wanted = true;
    }

    /// Whether to draw now, and if so whether the frame answers input (`Some(true)`); the frame
    /// then counts as drawn.
    pub fn take_draw(&mut self, now: Instant) -> Option<bool> {
        let pace = self.pending?;
        if self.draw_due().is_some_and(|due| due > now) {
            return None;
        }
        self.pending = None;
        self.last_draw = Some(now);
        Some(pace == Pace::Input)
    }

    /// Whether derived state may be rebuilt now; if so, it counts.
    pub fn take_settle(&mut self, now: Instant, for_input: bool) -> bool {
        let limit = if for_input { INPUT_STALENESS } else { FRAME };
        let due = elapsed(self.last_settle, now, limit);
        if due {
            self.last_settle = Some(now);
        }
        due
    }

    /// Whether to start the wanted analysis now; if so, it counts as started.
    pub fn take_analysis(&mut self, now: Instant) -> bool {
        if self.analysis_wanted && elapsed(self.last_analysis, now, ANALYSIS_INTERVAL) {
            self.analysis_wanted = false;
            self.last_analysis = Some(now);
            return true;
        }
        false
    }

    /// When the loop must wake up even if no message arrives.
    pub fn wake_at(&self) -> Option<Instant> {
        let draw = self.draw_due();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_draws_at_once_and_watch_traffic_waits_for_the_frame() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        assert_eq!(pacer.take_draw(t0), Some(true), "the first frame");
        assert_eq!(pacer.take_draw(t0), None, "nothing changed");
        pacer.changed(Pace::Prompt);
        let soon = t0 + Duration::from_millis(5);
        assert_eq!(pacer.take_draw(soon), None, "watch traffic waits");
        assert_eq!(pacer.wake_at(), Some(t0 + FRAME));
        pacer.changed(Pace::Input);
        assert_eq!(pacer.take_draw(soon), Some(true), "a key draws at once");
        pacer.changed(Pace::Prompt);
        assert_eq!(pacer.take_draw(soon + FRAME), Some(false));
        assert_eq!(pacer.wake_at(), None, "nothing pending");
    }

    #[test]
    fn flows_alone_wait_for_their_frame_and_join_any_sooner_one() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        pacer.take_draw(t0);
        pacer.changed(Pace::Background);
        assert_eq!(
            pacer.take_draw(t0 + LIVE_FRAME),
            None,
            "off-screen flows wait"
        );
        assert_eq!(pacer.wake_at(), Some(t0 + BACKGROUND_FRAME));
        pacer.changed(Pace::Live);
        assert_eq!(pacer.wake_at(), Some(t0 + LIVE_FRAME), "flows on screen");
        assert_eq!(pacer.take_draw(t0 + LIVE_FRAME), Some(false));

        let t1 = t0 + LIVE_FRAME;
        pacer.changed(Pace::Live);
        pacer.changed(Pace::Prompt);
        assert_eq!(
            pacer.wake_at(),
            Some(t1 + FRAME),
            "a watch event brings the frame forward"
        );
        pacer.changed(Pace::Background);
        assert_eq!(
            pacer.wake_at(),
            Some(t1 + FRAME),
            "and later flows do not push it back"
        );
        assert_eq!(pacer.take_draw(t1 + FRAME), Some(false));
        pacer.changed(Pace::Background);
        pacer.changed(Pace::Input);
        assert_eq!(
            pacer.take_draw(t1 + FRAME),
            Some(true),
            "a key draws at once"
        );
    }

    #[test]
    fn rebuilds_wait_for_watch_frames_unless_the_tree_gets_stale() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new();
        assert!(pacer.take_settle(t0, false));
        assert!(!pacer.take_settle(t0 + Duration::from_millis(10), false));
        assert!(pacer.take_settle(t0 + FRAME, false));
        assert!(
            !pacer.take_settle(t0 + FRAME * 2, true),
            "input frames skip the rebuild"
        );
        assert!(
            pacer.take_settle(t0 + FRAME + INPUT_STALENESS, true),
            "until it is stale"
        );
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
