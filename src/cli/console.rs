//! The console's options, shared by `palisade` (no subcommand), `demo` and `tour`.

use std::path::PathBuf;

use clap::Args;

use crate::metrics::Cni;
use crate::scrape::rules::{check_url, parse_metrics_url};

/// The console's journal and write gate, for `palisade` and `palisade demo`.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Revision journal (default: the context's own, as `palisade record` uses; for the demo, a
    /// file of this run, removed when it ends)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Never write to the cluster: rollbacks are refused (and audited as refused)
    #[arg(long)]
    pub read_only: bool,
}

/// Where the console reads CNI agent metrics from (see docs/metrics.md).
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Read agent metrics from this Prometheus server's HTTP API instead of scraping the agents
    #[arg(long, value_name = "URL", value_parser = parse_prometheus_url, conflicts_with_all = ["metrics_url", "no_metrics"])]
    pub prometheus: Option<String>,
    /// Scrape this agent URL instead of discovering agent pods; repeatable,
    /// e.g. --metrics-url cilium=http://10.0.0.5:9962/metrics
    #[arg(long = "metrics-url", value_name = "CNI=URL", value_parser = parse_metrics_url)]
    pub metrics_url: Vec<(Cni, String)>,
    /// Seconds between two metrics rounds (1 to 3600)
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub scrape_interval: u64,
    /// Do not read agent metrics at all
    #[arg(long, conflicts_with_all = ["prometheus", "metrics_url"])]
    pub no_metrics: bool,
}

fn parse_prometheus_url(text: &str) -> Result<String, String> {
    check_url(text.trim())?;
    Ok(text.trim().to_string())
}
