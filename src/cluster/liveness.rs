//! When to believe a watch: the liveness probe's verdict and the retry backoff. Pure (durations
//! and resourceVersions in, a verdict out), so every rule is unit-tested without a server.
//!
//! A silent watch proves nothing: a real API server sends a bookmark about once in two minutes on
//! an idle watch, keeps a watch from a resourceVersion it has not reached open and silent, and
//! keeps watches open and silent for a minute while it shuts down. So every `probe_every` the
//! watcher lists one object (`limit=1`, no resourceVersion: a consistent read), which answers
//! the collection's current resourceVersion, and compares it with the newest one the watch
//! delivered (an event, a bookmark or the list it started from).

use std::time::Duration;

/// The watcher's clocks. `Timing::default()` is what the console and the headless commands use;
/// tests shorten it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often the probe lists one object while a watch is open.
    pub probe_every: Duration,
    /// A probe not answered within this counts as failed (a stopped server answers nothing).
    pub probe_deadline: Duration,
    /// Silence (no event, no bookmark) tolerated while the server's resourceVersion moves on.
    /// Longer than a real server's bookmark interval, so an idle but healthy watch never trips it.
    pub silence_grace: Duration,
    /// A list page or a watch that does not start answering within this is abandoned and retried.
    pub request_deadline: Duration,
    /// Retry delays after a failure: from `backoff_min`, doubling, at most `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// The server ends each watch after this many seconds (the watcher resumes at once).
    pub watch_timeout_secs: u32,
    /// How often the objects of the policy kinds Palisade does not evaluate are counted again
    /// (metadata-only lists: counts, not data).
    pub count_every: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            probe_every: Duration::from_secs(10),
            probe_deadline: Duration::from_secs(5),
            silence_grace: Duration::from_secs(150),
            request_deadline: Duration::from_secs(30),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            watch_timeout_secs: 290,
            count_every: Duration::from_secs(300),
        }
    }
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The collection's current resourceVersion.
    Answered(String),
    /// An error, or no answer within the deadline.
    Failed(String),
}

/// What the watcher does about a probe's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Healthy,
    /// The server did not answer and the watch is silent: show the kind stale and re-open the
    /// watch from where it was (a hung connection is dropped; a live one resumes losslessly).
    Stale(String),
    /// The watch cannot catch up by itself: list again.
    Relist(String),
}

/// Judges one probe. `seen` is the newest resourceVersion the watch delivered; `silent_for` the
/// time since the watch last delivered anything (event or bookmark); `took` how long the probe
/// waited for its answer.
pub fn judge(
    probe: &Probe,
    seen: &str,
    silent_for: Duration,
    took: Duration,
    timing: &Timing,
) -> Verdict {
    let server = match probe {
        // Nothing heard while the probe waited (at least its deadline's worth): a stopped
        // server is noticed one deadline after the first probe that follows the stop.
        Probe::Failed(error) if silent_for >= took.max(timing.probe_deadline) => {
            return Verdict::Stale(format!(
                "no event for {} s and the probe failed: {error}",
                silent_for.as_secs()
            ));
        }
        // Events flowed meanwhile: a failed probe (a throttled list, say) proves nothing.
        Probe::Failed(_) => return Verdict::Healthy,
        Probe::Answered(server) => server,
    };
    // resourceVersions are opaque strings to clients; etcd (and the demo) use integers. With
    // anything else, ordering is unknown and the comparison is skipped: the answer alone shows
    // the server is up.
    let (Ok(server), Ok(seen)) = (server.parse::<u64>(), seen.parse::<u64>()) else {
        return Verdict::Healthy;
    };
    if server < seen {
        return Verdict::Relist(format!(
            "the server's resourceVersion went back from {seen} to {server} (replaced or restored)"
        ));
    }
    if server > seen && silent_for > timing.silence_grace {
        return Verdict::Relist(format!(
            "no event or bookmark for {} s while the server moved from {seen} to {server}",
            silent_for.as_secs()
        ));
    }
    Verdict::Healthy
}

/// Exponential retry delays.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(timing: &Timing) -> Backoff {
        Backoff {
            next: timing.backoff_min,
            min: timing.backoff_min,
            max: timing.backoff_max.max(timing.backoff_min),
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// After a success the next failure starts from the minimum again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing::default()
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_server_behind_the_watch_was_replaced() {
        let verdict = judge(
            &Probe::Answered("40".into()),
            "1200",
            SECOND,
            SECOND,
            &timing(),
        );
        assert!(
            matches!(&verdict, Verdict::Relist(why) if why.contains("from 1200 to 40")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_server_ahead_of_a_quiet_watch_is_fine_within_the_grace() {
        let t = timing();
        let quiet = t.silence_grace - SECOND;
        assert_eq!(
            judge(&Probe::Answered("900".into()), "800", quiet, SECOND, &t),
            Verdict::Healthy
        );
        let silent = t.silence_grace + SECOND;
        assert!(matches!(
            judge(&Probe::Answered("900".into()), "800", silent, SECOND, &t),
            Verdict::Relist(_)
        ));
        // A silent watch on an unchanged server is simply idle.
        assert_eq!(
            judge(
                &Probe::Answered("800".into()),
                "800",
                silent * 10,
                SECOND,
                &t
            ),
            Verdict::Healthy
        );
    }

    #[test]
    fn an_unanswered_probe_makes_a_silent_watch_stale_but_not_a_busy_one() {
        let t = timing();
        let failed = Probe::Failed("no answer within 5 s".into());
        let waited = t.probe_deadline;
        assert!(matches!(
            judge(&failed, "10", waited, waited, &t),
            Verdict::Stale(why) if why.contains("no answer")
        ));
        // An event arrived while the probe waited.
        assert_eq!(judge(&failed, "10", SECOND, waited, &t), Verdict::Healthy);
        // A refused connection fails at once: stale only if the watch was quiet for a deadline.
        assert_eq!(
            judge(&failed, "10", SECOND, Duration::ZERO, &t),
            Verdict::Healthy
        );
        assert!(matches!(
            judge(&failed, "10", waited, Duration::ZERO, &t),
            Verdict::Stale(_)
        ));
    }

    #[test]
    fn opaque_resource_versions_are_not_compared() {
        let t = timing();
        let long = t.silence_grace * 2;
        assert_eq!(
            judge(&Probe::Answered("abc".into()), "1200", long, SECOND, &t),
            Verdict::Healthy
        );
        assert_eq!(
            judge(&Probe::Answered("5".into()), "x-9", long, SECOND, &t),
            Verdict::Healthy
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut t = timing();
        t.backoff_min = Duration::from_millis(100);
        t.backoff_max = Duration::from_millis(350);
        let mut b = Backoff::new(&t);
        let delays: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
