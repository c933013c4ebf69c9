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

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::metrics::Cni;
use crate::model::ClusterSnapshot;
pub use discover::{How, Target, discover, url_targets};
pub use fetch::Fetcher;
pub use rules::{AGENTS_FILE, AgentRule, Scheme, default_rules, load_rules, parse_metrics_url};
pub use scraper::{ScrapeOptions, scrape_round};

/// What a metrics source reports, on its own channel (the console wraps it into its messages,
/// headless users read it as it is).
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsEvent {
    /// One round of agent figures.
    Reading(Box<crate::metrics::Reading>),
    /// A round is under way: `done` of `total` agents answered so far.
    Progress { done: usize, total: usize },
}

/// Time between rounds unless `--scrape-interval` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Agents scraped per second at most, on average over a round, unless `--scrape-interval` is
/// given: every scrape is a request through the API server's pod proxy and a parse here, so a
/// fleet of 1,000 nodes (2,000 agents) every 5 s would be 400 proxied requests a second and most
/// of an idle console's CPU. Larger fleets get longer rounds (or use `--prometheus`).
pub const AGENTS_PER_SECOND: u32 = 50;
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
            options: match args.scrape_interval {
                // Asked for: kept, however many agents there are.
                Some(secs) => ScrapeOptions {
                    interval: Duration::from_secs(secs),
                    agents_per_second: None,
                    ..ScrapeOptions::default()
                },
                None => ScrapeOptions::default(),
            },
        }
    }
}

/// Least time between two discoveries: a pass over 20 000 pods takes milliseconds, too much
/// for every frame of a churning cluster, and the scraper only reads the list once a round.
pub const DISCOVERY_EVERY: Duration = Duration::from_secs(1);

/// A running metrics source; dropping it stops it. Belongs to one context's feed.
pub struct MetricsTask {
    task: JoinHandle<()>,
    /// Pod discovery: the rules and the channel the scraper reads its targets from.
    discovery: Option<(Vec<AgentRule>, watch::Sender<Vec<Target>>)>,
    /// The snapshot changed since the last discovery.
    stale: bool,
    last_discovery: Option<Instant>,
}

impl MetricsTask {
    /// Starts the source `setup` names (`None` for `Off`). `client` reaches the pod proxy; it should
    /// not retry 503s (`Connection::scrape_client`), or a down agent reads as a timeout.
    pub fn start(
        setup: &MetricsSetup,
        client: &kube::Client,
        tx: &mpsc::UnboundedSender<MetricsEvent>,
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
                    stale: false,
                    last_discovery: None,
                })
            }
            MetricsSource::Agents { rules, urls } => {
                let (targets_tx, targets_rx) = watch::channel(Vec::new());
                let task = tokio::spawn(scraper::run(fetcher, targets_rx, options, tx.clone()));
                let discover_pods = urls.is_empty();
                if !discover_pods {
                    targets_tx.send_replace(url_targets(urls));
                }
                // The scraper stops when the sender goes: keep it for the task's life.
                Some(MetricsTask {
                    task,
                    discovery: Some((rules.clone(), targets_tx)),
                    stale: discover_pods,
                    last_discovery: None,
                })
            }
        }
    }

    /// The cluster snapshot changed: the agent pods may have (pod discovery only).
    pub fn cluster_changed(&mut self) {
        self.stale |= self.last_discovery.is_some();
    }

    /// When the next discovery is due, if one is wanted: the runtime wakes up for it.
    pub fn discovery_due(&self) -> Option<Instant> {
        self.stale.then(|| {
            self.last_discovery
                .map_or_else(Instant::now, |t| t + DISCOVERY_EVERY)
        })
    }

    /// Rediscovers the agent pods when the snapshot changed and [`DISCOVERY_EVERY`] has passed,
    /// and hands the list to the scraper when it differs (always the first time).
    pub fn discover_if_due(&mut self, cluster: &ClusterSnapshot, now: Instant) {
        let Some((rules, targets)) = &self.discovery else {
            return;
        };
        let due = self.last_discovery.map(|t| t + DISCOVERY_EVERY);
        if !self.stale || due.is_some_and(|due| now < due) {
            return;
        }
        let found = discover(cluster, rules);
        let first = self.last_discovery.is_none();
        targets.send_if_modified(|current| {
            if first || *current != found {
                *current = found;
                true
            } else {
                false
            }
        });
        self.stale = false;
        self.last_discovery = Some(now);
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
    use crate::model::{ObjectRef, PodInfo};

    fn cilium_pod(name: &str) -> PodInfo {
        PodInfo {
            id: ObjectRef::new("kube-system", name),
            labels: std::sync::Arc::new([("k8s-app".to_string(), "cilium".to_string())].into()),
            ips: vec!["10.0.0.1".into()],
            ports: vec![],
            phase: "Running".into(),
            node: Some("w1".into()),
        }
    }

    fn discovering_task() -> (MetricsTask, watch::Receiver<Vec<Target>>) {
        let (tx, rx) = watch::channel(Vec::new());
        let task = MetricsTask {
            task: tokio::spawn(async {}),
            discovery: Some((default_rules(), tx)),
            stale: true,
            last_discovery: None,
        };
        (task, rx)
    }

    #[tokio::test]
    async fn discovery_is_throttled_and_publishes_only_changes() {
        let (mut task, mut rx) = discovering_task();
        let mut cluster = ClusterSnapshot::default();
        let t0 = Instant::now();
        assert!(
            task.discovery_due()
                .is_some_and(|due| due <= Instant::now())
        );
        // The first discovery is always published, even when it finds nothing.
        task.discover_if_due(&cluster, t0);
        assert!(rx.has_changed().unwrap());
        assert!(rx.borrow_and_update().is_empty());
        assert_eq!(task.discovery_due(), None, "nothing changed since");

        let pod = cilium_pod("cilium-a");
        cluster.pods.insert(pod.id.clone(), pod);
        task.cluster_changed();
        assert_eq!(task.discovery_due(), Some(t0 + DISCOVERY_EVERY));
        task.discover_if_due(&cluster, t0 + Duration::from_millis(100));
        assert!(!rx.has_changed().unwrap(), "not due yet");
        task.discover_if_due(&cluster, t0 + DISCOVERY_EVERY);
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().len(), 2, "cilium and hubble ports");

        // A change elsewhere in the snapshot finds the same agents: no new list.
        task.cluster_changed();
        task.discover_if_due(&cluster, t0 + DISCOVERY_EVERY * 2);
        assert!(!rx.has_changed().unwrap());
        assert_eq!(task.discovery_due(), None);
    }

    #[tokio::test]
    async fn explicit_urls_are_never_rediscovered() {
        let (tx, rx) = watch::channel(Vec::new());
        tx.send_replace(url_targets(&[(
            Cni::Cilium,
            "http://127.0.0.1:1/metrics".into(),
        )]));
        let mut task = MetricsTask {
            task: tokio::spawn(async {}),
            discovery: Some((default_rules(), tx)),
            stale: false,
            last_discovery: None,
        };
        task.cluster_changed();
        assert_eq!(task.discovery_due(), None);
        let mut cluster = ClusterSnapshot::default();
        let pod = cilium_pod("cilium-a");
        cluster.pods.insert(pod.id.clone(), pod);
        task.discover_if_due(&cluster, Instant::now());
        assert_eq!(rx.borrow().len(), 1);
    }

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
