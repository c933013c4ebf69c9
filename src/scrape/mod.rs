//! The IO side of agent metrics: finding the CNI agents, scraping them (through the API server's
//! pod proxy or at explicit URLs), or asking Prometheus instead. Every source sends the console
//! `Msg::MetricsProgress` and `Msg::Metrics(Reading)`; the pure core is `crate::metrics`.
//!
//! | file | role |
//! |---|---|
//! | `rules.rs` | [`AgentRule`]s: built-in, `agents.toml`, `--metrics-url` (pure) |
//! | `discover.rs` | [`discover`]: snapshot + rules → [`Target`]s (pure) |
//! | `fetch.rs` | one bounded GET with a deadline, clear error messages |
//! | `scraper.rs` | the direct-scraping task: rounds, concurrency, progress |
//! | `prometheus/` | the Prometheus source: query table, answer → `Reading`, its task |

pub mod discover;
pub mod fetch;
pub mod prometheus;
pub mod rules;
pub mod scraper;

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::app::Msg;
use crate::metrics::Cni;
use crate::model::ClusterSnapshot;
pub use discover::{How, Target, discover, url_targets};
pub use fetch::Fetcher;
pub use rules::{AGENTS_FILE, AgentRule, Scheme, default_rules, load_rules, parse_metrics_url};
pub use scraper::{ScrapeOptions, scrape_round};

/// Time between rounds unless `--scrape-interval` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Deadline of one agent scrape (or one Prometheus query).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Window of the latency quantiles, the same for both sources (PromQL `[5m]`).
pub const LATENCY_WINDOW: Duration = prometheus::convert::LATENCY_WINDOW;

/// Where the console's agent figures come from.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsSource {
    /// `--no-metrics`.
    Off,
    /// Scrape the agents: the pods the rules find, or only `urls` when any are given.
    Agents {
        rules: Vec<AgentRule>,
        urls: Vec<(Cni, String)>,
    },
    /// Ask Prometheus (the rules' `job` expressions name the agents' jobs).
    Prometheus { url: String, rules: Vec<AgentRule> },
}

/// The metrics part of a console session.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSetup {
    pub source: MetricsSource,
    pub options: ScrapeOptions,
}

impl MetricsSetup {
    pub fn off() -> MetricsSetup {
        MetricsSetup {
            source: MetricsSource::Off,
            options: ScrapeOptions::default(),
        }
    }

    /// The source the flags ask for: `--no-metrics`, `--prometheus`, `--metrics-url`s, or by
    /// default the agent pods `rules` find.
    pub fn from_args(args: &crate::cli::MetricsArgs, rules: Vec<AgentRule>) -> MetricsSetup {
        let source = if args.no_metrics {
            MetricsSource::Off
        } else if let Some(url) = &args.prometheus {
            MetricsSource::Prometheus {
                url: url.clone(),
                rules,
            }
        } else {
            MetricsSource::Agents {
                rules,
                urls: args.metrics_url.clone(),
            }
        };
        MetricsSetup {
            source,
            options: ScrapeOptions {
                interval: Duration::from_secs(args.scrape_interval),
                ..ScrapeOptions::default()
            },
        }
    }
}

/// A running metrics source; dropping it stops it. Belongs to one context's feed.
pub struct MetricsTask {
    task: JoinHandle<()>,
    /// Pod discovery: the rules and the channel the scraper reads its targets from.
    discovery: Option<(Vec<AgentRule>, watch::Sender<Vec<Target>>)>,
    published: bool,
}

impl MetricsTask {
    /// Starts the source `setup` names (`None` for `Off`). `client` reaches the pod proxy.
    pub fn start(
        setup: &MetricsSetup,
        client: &kube::Client,
        tx: &mpsc::UnboundedSender<Msg>,
    ) -> Option<MetricsTask> {
        let options = setup.options;
        let fetcher = Fetcher::new(
            Some(client.clone()),
            options.timeout,
            options.limits.max_bytes,
        );
        match &setup.source {
            MetricsSource::Off => None,
            MetricsSource::Prometheus { url, rules } => {
                let source = prometheus::Prometheus::new(url, fetcher);
                let queries = prometheus::queries(rules);
                Some(MetricsTask {
                    task: tokio::spawn(prometheus::run(source, queries, options, tx.clone())),
                    discovery: None,
                    published: true,
                })
            }
            MetricsSource::Agents { rules, urls } => {
                let (targets_tx, targets_rx) = watch::channel(Vec::new());
                let task = tokio::spawn(scraper::run(fetcher, targets_rx, options, tx.clone()));
                if urls.is_empty() {
                    Some(MetricsTask {
                        task,
                        discovery: Some((rules.clone(), targets_tx)),
                        published: false,
                    })
                } else {
                    targets_tx.send_replace(url_targets(urls));
                    // The scraper stops when the sender goes: keep it for the task's life.
                    Some(MetricsTask {
                        task,
                        discovery: Some((Vec::new(), targets_tx)),
                        published: true,
                    })
                }
            }
        }
    }

    /// After a settle: rediscovers the agent pods and hands the list to the scraper when it
    /// changed (always the first time). Does nothing for explicit URLs and Prometheus.
    pub fn publish_targets(&mut self, cluster: &ClusterSnapshot) {
        let Some((rules, targets)) = &self.discovery else {
            return;
        };
        if rules.is_empty() && self.published {
            return; // explicit URLs: fixed list
        }
        let found = discover(cluster, rules);
        let first = !self.published;
        targets.send_if_modified(|current| {
            if first || *current != found {
                *current = found;
                true
            } else {
                false
            }
        });
        self.published = true;
    }
}

impl Drop for MetricsTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A URL as it may be shown: without user and password, and with any query replaced by `?…`
/// (queries may carry tokens).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let tail = match tail.find(['?', '#']) {
        Some(i) => format!("{}?…", &tail[..i]),
        None => tail.to_string(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{tail}"),
        None => format!("{host}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_queries() {
        assert_eq!(
            redact_url("http://10.0.0.5:9962/metrics"),
            "http://10.0.0.5:9962/metrics"
        );
        assert_eq!(
            redact_url("https://admin:hunter2@prom.example:9090/prom?token=abc"),
            "https://prom.example:9090/prom?…"
        );
        assert_eq!(redact_url("http://u@h"), "http://h");
        assert_eq!(redact_url("http://h/p#frag"), "http://h/p?…");
    }
}
