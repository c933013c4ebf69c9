//! The direct-scraping task: every interval, one round over the current targets, with bounded
//! concurrency and a deadline per agent, then one `Msg::Metrics`. Rounds never overlap: the next
//! starts an interval after this one started, or at once when this one took longer.

use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use super::MetricsEvent;
use super::discover::Target;
use super::fetch::Fetcher;
use crate::metrics::{AgentScrape, Deltas, Extracted, Limits, Reading, parse::parse_with_limits};

/// How the scraper paces and bounds its work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrapeOptions {
    /// Between the starts of two rounds, at least.
    pub interval: Duration,
    /// When set, a round over more agents than this many a second would reach in `interval`
    /// waits longer: see `round_interval`.
    pub agents_per_second: Option<u32>,
    /// Per agent, connecting and reading included.
    pub timeout: Duration,
    pub limits: Limits,
    /// Agents scraped at the same time.
    pub concurrency: usize,
    /// Window of the latency quantiles.
    pub latency_window: Duration,
}

impl Default for ScrapeOptions {
    fn default() -> Self {
        ScrapeOptions {
            interval: super::DEFAULT_INTERVAL,
            agents_per_second: Some(super::AGENTS_PER_SECOND),
            timeout: super::DEFAULT_TIMEOUT,
            limits: Limits::default(),
            concurrency: 16,
            latency_window: super::LATENCY_WINDOW,
        }
    }
}

impl ScrapeOptions {
    /// Time from the start of a round over `agents` to the start of the next: the interval, or
    /// as long as the agents take at `agents_per_second`, whichever is longer.
    pub fn round_interval(&self, agents: usize) -> Duration {
        match self.agents_per_second {
            Some(rate) if rate > 0 => {
                let paced = Duration::from_secs(agents.div_ceil(rate as usize) as u64);
                self.interval.max(paced)
            }
            _ => self.interval,
        }
    }
}

/// Least time between two `Msg::MetricsProgress` of one round.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Scrapes `targets` once. Answers are handled as they arrive (`progress(done, total)` after
/// each); a slow agent only holds its own slot until the fetcher's deadline.
pub async fn scrape_round(
    fetcher: &Fetcher,
    targets: &[Target],
    options: &ScrapeOptions,
    mut progress: impl FnMut(usize, usize),
) -> Vec<AgentScrape> {
    let total = targets.len();
    let limits = options.limits;
    // Owned items: the futures must not borrow the slice (a spawned task needs `'static`-proof
    // futures).
    let mut answers = futures::stream::iter(targets.to_vec())
        .map(|target| {
            let fetcher = fetcher.clone();
            async move { scrape_one(&fetcher, target, limits).await }
        })
        .buffer_unordered(options.concurrency.max(1));
    let mut scrapes = Vec::with_capacity(total);
    while let Some(scrape) = answers.next().await {
        scrapes.push(scrape);
        progress(scrapes.len(), total);
    }
    scrapes
}

async fn scrape_one(fetcher: &Fetcher, target: Target, limits: Limits) -> AgentScrape {
    let started = SystemTime::now();
    let clock = Instant::now();
    let parsed = fetcher
        .fetch(&target.how)
        .await
        .and_then(|text| parse_with_limits(&text, limits).map_err(|e| e.to_string()));
    let duration = clock.elapsed();
    AgentScrape {
        outcome: parsed.map(|parsed| Extracted::of(&target.id, &parsed)),
        agent: target.id,
        started,
        duration,
    }
}

/// The long-running task. It waits for the first target list, then scrapes every interval until
/// the console's channel or the target channel is gone. With no targets it says so once and
/// waits for the list to change.
pub async fn run(
    fetcher: Fetcher,
    mut targets: watch::Receiver<Vec<Target>>,
    options: ScrapeOptions,
    tx: mpsc::UnboundedSender<MetricsEvent>,
) {
    if targets.changed().await.is_err() {
        return;
    }
    let mut deltas = Deltas::new(options.latency_window);
    loop {
        let started = Instant::now();
        let list = targets.borrow_and_update().clone();
        let reading = if list.is_empty() {
            // Forget earlier agents, so rates restart cleanly when agents come back.
            let mut reading = deltas.observe(SystemTime::now(), Vec::new());
            reading.errors.push(
                "no CNI agent pods found: no Running pod with an IP matches the agent rules \
                 (see docs/configuration.md, agents.toml)"
                    .to_string(),
            );
            reading
        } else {
            let mut last_progress: Option<Instant> = None;
            let progress = |done: usize, total: usize| {
                let now = Instant::now();
                if done < total && last_progress.is_some_and(|t| now - t < PROGRESS_EVERY) {
                    return;
                }
                last_progress = Some(now);
                let _ = tx.send(MetricsEvent::Progress { done, total });
            };
            let _ = tx.send(MetricsEvent::Progress {
                done: 0,
                total: list.len(),
            });
            let scrapes = scrape_round(&fetcher, &list, &options, progress).await;
            observe(&mut deltas, scrapes)
        };
        if tx.send(MetricsEvent::Reading(Box::new(reading))).is_err() {
            return; // the console (or this context's feed) is gone
        }
        tokio::select! {
            _ = tokio::time::sleep_until((started + options.round_interval(list.len())).into()), if !list.is_empty() => {}
            changed = targets.changed(), if list.is_empty() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

fn observe(deltas: &mut Deltas, scrapes: Vec<AgentScrape>) -> Reading {
    deltas.observe(SystemTime::now(), scrapes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn rounds_stretch_past_fifty_agents_a_second_unless_an_interval_was_asked_for() {
        let default = ScrapeOptions::default();
        assert_eq!(default.round_interval(0), secs(5));
        assert_eq!(default.round_interval(250), secs(5), "250 agents in 5 s");
        assert_eq!(
            default.round_interval(251),
            secs(6),
            "a started second counts"
        );
        assert_eq!(
            default.round_interval(400),
            secs(8),
            "200 nodes, two agents each"
        );
        assert_eq!(default.round_interval(2_000), secs(40), "1,000 nodes");

        let asked = ScrapeOptions {
            interval: secs(2),
            agents_per_second: None,
            ..default
        };
        assert_eq!(asked.round_interval(2_000), secs(2));
    }

    #[test]
    fn the_flag_turns_the_pacing_off() {
        use clap::Parser;
        let options = |args: &[&str]| {
            let cli = crate::cli::Cli::parse_from(
                std::iter::once("palisade").chain(args.iter().copied()),
            );
            crate::scrape::MetricsSetup::from_args(&cli.metrics, Vec::new()).options
        };
        assert_eq!(options(&[]).agents_per_second, Some(50));
        assert_eq!(options(&[]).interval, secs(5));
        let asked = options(&["--scrape-interval", "5"]);
        assert_eq!((asked.interval, asked.agents_per_second), (secs(5), None));
    }
}
