//! `palisade suspects`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::console::FlowSourceArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuspectsOutput {
    /// One block per observation: what is denied since when, and its suspects, best first
    Text,
    /// One JSON document: the observations, each with its ranked suspects
    Json,
}

#[derive(Debug, Args)]
pub struct SuspectsArgs {
    /// Denials observed since then: a duration back from now (30m, 2h) or an RFC 3339 time
    #[arg(long, value_name = "WHEN", default_value = "30m")]
    pub since: String,
    /// How long before a denial began a policy change may be and still be a suspect
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub window: String,
    /// Only denials from or to this tenant
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
    /// Output format
    #[arg(long, short, value_enum, default_value = "text")]
    pub output: SuspectsOutput,
    /// Journal file (default: the current context's journal in the data dir)
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    #[command(flatten)]
    pub source: FlowSourceArgs,
    #[command(flatten)]
    pub scope: super::ScopeArgs,
    /// Do not read the agents' denied counters (flows only)
    #[arg(long)]
    pub no_metrics: bool,
    /// Read the agents' denied rates from this Prometheus (one round of queries) instead of
    /// scraping the agents
    #[arg(long, value_name = "URL", conflicts_with = "no_metrics")]
    pub prometheus: Option<String>,
    /// Seconds between the two scrapes of the agents' counters that give their rates
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    pub scrape_interval: u64,
    /// How many of the most recent flows to ask the flow source for
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub last: u64,
}
