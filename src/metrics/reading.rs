//! One round of agent figures, whichever source produced it.
//!
//! Direct scraping hands each round's raw scrapes to [`Deltas`], which turns consecutive scrapes
//! into rates and windowed quantiles; the Prometheus source asks Prometheus for the same figures
//! with PromQL. Both produce a [`Reading`], so the console cannot tell them apart.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::adapters::hubble_l7::HTTP_DURATION;
use super::adapters::{AgentMetrics, Cni, HealthFact, LatencyHistogram, extract};
use super::l7::{L7Builder, L7Reading, count_rates};
use super::math::{DropRate, Quantiles, drop_rates, histogram_delta, quantiles};
use super::parse::Scrape;

/// One scraped endpoint: an agent pod's port through the pod proxy, or an explicit URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentId {
    pub cni: Cni,
    /// `namespace/pod:port` for pod-proxy targets, the URL otherwise.
    pub target: String,
    pub node: Option<String>,
}

/// Health of one agent as of a round.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentStatus {
    pub agent: AgentId,
    /// When this round's scrape of the agent started.
    pub scraped_at: SystemTime,
    pub duration: Duration,
    /// Why the scrape failed; `None` when it succeeded.
    pub error: Option<String>,
    /// Lines of the payload that could not be used (the rest still was).
    pub line_errors: usize,
    /// The last successful scrape, this round's or an earlier one.
    pub last_ok: Option<SystemTime>,
    pub health: Vec<HealthFact>,
}

impl AgentStatus {
    pub fn up(&self) -> bool {
        self.error.is_none()
    }

    /// Policies loaded by the agent, when it exports a count.
    pub fn policy_count(&self) -> Option<f64> {
        self.health.first().map(|h| h.value)
    }
}

/// Quantiles of one latency metric over the reading's window.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyFigure {
    pub metric: String,
    /// A node name for per-agent figures (summaries cannot be merged); `None` for all agents.
    pub node: Option<String>,
    /// `None` when nothing was observed in the window.
    pub quantiles: Option<Quantiles>,
    /// Observations in the window (histograms), or over the agent's lifetime (summaries).
    pub observations: f64,
    /// Summary quantiles are the agent's own and not windowed.
    pub from_summary: bool,
}

/// Everything one round produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub at: SystemTime,
    /// Time the drop rates are averaged over.
    pub interval: Duration,
    /// Window of the latency quantiles.
    pub latency_window: Duration,
    pub agents: Vec<AgentStatus>,
    pub drops: Vec<DropRate>,
    pub latency: Vec<LatencyFigure>,
    /// Failures of the source as a whole (e.g. Prometheus unreachable).
    pub errors: Vec<String>,
    /// Hubble's HTTP and DNS figures per namespace pair (scraped, or from Prometheus).
    pub l7: L7Reading,
}

/// This round's result for one agent, as the scraper saw it.
#[derive(Debug, Clone)]
pub struct AgentScrape {
    pub agent: AgentId,
    pub started: SystemTime,
    pub duration: Duration,
    pub outcome: Result<Extracted, String>,
}

/// What one agent's payload gave: its figures, extracted as soon as it is parsed so that the
/// parsed payload is dropped at once (a round held every agent's parsed payload until its end:
/// 2,000 of them at 1,000 nodes).
#[derive(Debug, Clone)]
pub struct Extracted {
    pub metrics: AgentMetrics,
    /// Lines of the payload that did not parse (counted beyond the kept errors too).
    pub line_errors: usize,
}

impl Extracted {
    pub fn of(agent: &AgentId, parsed: &Scrape) -> Extracted {
        Extracted {
            metrics: extract(agent.cni, parsed, agent.node.as_deref()),
            line_errors: parsed.errors.len() + parsed.errors_dropped,
        }
    }
}

/// What is remembered of one agent between rounds.
#[derive(Debug, Default)]
struct AgentHistory {
    last: Option<(SystemTime, AgentMetrics)>,
    last_ok: Option<SystemTime>,
    /// Latency histograms of earlier successful scrapes, oldest first, within the window.
    latency: VecDeque<(SystemTime, Vec<LatencyHistogram>)>,
}

/// Turns rounds of raw scrapes into readings.
///
/// Drop rates come from this agent's previous successful scrape. Latency quantiles are over the
/// observations made within `window`: the difference between the oldest scrape still inside it
/// and the newest, merged over all agents whose buckets share a layout.
#[derive(Debug)]
pub struct Deltas {
    window: Duration,
    agents: HashMap<AgentId, AgentHistory>,
}

impl Deltas {
    pub fn new(window: Duration) -> Deltas {
        Deltas {
            window,
            agents: HashMap::new(),
        }
    }

    /// Folds in one round. Agents missing from `scrapes` are forgotten: they are no longer targets.
    pub fn observe(&mut self, at: SystemTime, scrapes: Vec<AgentScrape>) -> Reading {
        self.agents
            .retain(|id, _| scrapes.iter().any(|s| &s.agent == id));
        let mut reading = Reading {
            at,
            interval: Duration::ZERO,
            latency_window: self.window,
            agents: Vec::new(),
            drops: Vec::new(),
            latency: Vec::new(),
            errors: Vec::new(),
            l7: L7Reading::default(),
        };
        let mut l7 = L7Builder::default();
        let mut windows: Vec<(Option<String>, LatencyHistogram)> = Vec::new();
        let mut intervals: Vec<Duration> = Vec::new();
        for scrape in scrapes {
            let history = self.agents.entry(scrape.agent.clone()).or_default();
            let (error, line_errors, health) = match scrape.outcome {
                Err(error) => (Some(error), 0, Vec::new()),
                Ok(Extracted {
                    mut metrics,
                    line_errors,
                }) => {
                    if let Some((then, before)) = &history.last
                        && let Ok(dt) = scrape.started.duration_since(*then)
                    {
                        let secs = dt.as_secs_f64();
                        reading
                            .drops
                            .extend(drop_rates(&before.drops, &metrics.drops, secs));
                        let (was, now) = (&before.l7, &metrics.l7);
                        l7.add_http_rates(&count_rates(
                            &was.http_requests,
                            &now.http_requests,
                            secs,
                        ));
                        l7.add_dns_rates(&count_rates(
                            &was.dns_responses,
                            &now.dns_responses,
                            secs,
                        ));
                        intervals.push(dt);
                    }
                    l7.http_seen |= metrics.l7.http_seen;
                    l7.dns_seen |= metrics.l7.dns_seen;
                    let node = &scrape.agent.node;
                    // Moved, not copied: the next round's rates need only the counters kept in
                    // `history.last`, and the histograms live on in `history.latency`.
                    let mut histograms = std::mem::take(&mut metrics.latencies);
                    histograms.append(&mut metrics.l7.http_latency);
                    for h in latency_in_window(history, scrape.started, self.window, histograms) {
                        if h.metric == HTTP_DURATION {
                            l7.add_latency(&h);
                        } else {
                            windows.push((node.clone(), h));
                        }
                    }
                    history.last_ok = Some(scrape.started);
                    let health = std::mem::take(&mut metrics.health);
                    history.last = Some((scrape.started, metrics));
                    (None, line_errors, health)
                }
            };
            reading.agents.push(AgentStatus {
                agent: scrape.agent,
                scraped_at: scrape.started,
                duration: scrape.duration,
                error,
                line_errors,
                last_ok: history.last_ok,
                health,
            });
        }
        reading.interval = intervals.iter().max().copied().unwrap_or_default();
        reading.agents.sort_by(|a, b| a.agent.cmp(&b.agent));
        reading.latency = merge_latency(windows);
        reading.l7 = l7.finish();
        reading
    }
}

/// Records this scrape's histograms and returns each one's observations within the window.
fn latency_in_window(
    history: &mut AgentHistory,
    now: SystemTime,
    window: Duration,
    current: Vec<LatencyHistogram>,
) -> Vec<LatencyHistogram> {
    while history.latency.len() > 1
        && history
            .latency
            .get(1)
            .is_some_and(|(t, _)| now.duration_since(*t).unwrap_or_default() >= window)
    {
        history.latency.pop_front();
    }
    let oldest = history.latency.front().map(|(_, h)| h.as_slice());
    let windowed = current
        .iter()
        .map(|curr| {
            let prev = oldest.and_then(|hs| {
                hs.iter()
                    .find(|h| h.metric == curr.metric && h.labels == curr.labels)
            });
            match prev {
                Some(prev) => histogram_delta(prev, curr),
                // First sight: the whole history would pass for this window; count nothing yet.
                None if !curr.buckets.is_empty() => LatencyHistogram {
                    buckets: curr.buckets.iter().map(|(le, _)| (*le, 0.0)).collect(),
                    sum: 0.0,
                    count: 0.0,
                    ..curr.clone()
                },
                None => curr.clone(),
            }
        })
        .collect();
    // Only the oldest snapshot inside the window is ever subtracted, so one kept every sixth of
    // a window is enough: the window stretches by at most that much, and an agent keeps about 7
    // snapshots instead of one per scrape (60 at 5 s over 5 minutes).
    let spacing = window / SNAPSHOTS_PER_WINDOW;
    let due = history
        .latency
        .back()
        .is_none_or(|(t, _)| now.duration_since(*t).unwrap_or_default() >= spacing);
    if due {
        history.latency.push_back((now, current));
    }
    windowed
}

/// Latency snapshots kept per agent and window (see `latency_in_window`).
const SNAPSHOTS_PER_WINDOW: u32 = 6;

/// Sums histogram windows of the same metric and bucket layout; summaries stay per agent.
fn merge_latency(windows: Vec<(Option<String>, LatencyHistogram)>) -> Vec<LatencyFigure> {
    let mut merged: BTreeMap<(String, Vec<u64>), LatencyHistogram> = BTreeMap::new();
    let mut figures = Vec::new();
    for (node, h) in windows {
        if h.buckets.is_empty() {
            figures.push(LatencyFigure {
                node,
                quantiles: quantiles(&h),
                observations: h.count,
                from_summary: true,
                metric: h.metric,
            });
            continue;
        }
        let metric = h.metric.clone();
        let layout = h.buckets.iter().map(|(le, _)| le.to_bits()).collect();
        merged
            .entry((metric, layout))
            .and_modify(|m| {
                for (acc, add) in m.buckets.iter_mut().zip(&h.buckets) {
                    acc.1 += add.1;
                }
                m.sum += h.sum;
                m.count += h.count;
            })
            .or_insert(h);
    }
    figures.extend(merged.into_iter().map(|((metric, _), h)| LatencyFigure {
        metric,
        node: None,
        quantiles: quantiles(&h).filter(|_| h.count > 0.0),
        observations: h.count,
        from_summary: false,
    }));
    figures.sort_by(|a, b| (&a.metric, &a.node).cmp(&(&b.metric, &b.node)));
    figures
}

#[cfg(test)]
#[path = "reading_tests.rs"]
mod tests;
