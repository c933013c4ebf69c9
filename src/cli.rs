//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::isolation::findings::Severity;
use crate::isolation::tenants::parse_name_pattern;
use crate::metrics::Cni;
use crate::policy::IpBlockPodsSetting;
use crate::scrape::rules::{check_url, parse_metrics_url};
use crate::sim::{MAX_CHURN_RATE, ScaleSpec};

#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about = "Terminal console for multi-tenant Kubernetes network isolation",
    long_about = "Terminal console for multi-tenant Kubernetes network isolation.\n\n\
        Without a command, opens the console on the cluster of the current kubeconfig context.\n\
        Try `palisade demo` for a built-in demo cluster that needs no Kubernetes at all."
)]
pub struct Cli {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Intent file for the console: the matrix marks intended cells and breaches
    #[arg(long, value_name = "FILE")]
    pub intent: Option<PathBuf>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

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

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: the current context)
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the console on a built-in demo cluster (an in-process Kubernetes-compatible API on 127.0.0.1)
    Demo(DemoArgs),
    /// The demo with the guided tour started (`:tour off` leaves it, `:tour` resumes)
    Tour(DemoArgs),
    /// Compute reachability from manifests or the live cluster: connlist, JSON, table, tenant matrix or explain
    Analyze(AnalyzeArgs),
    /// Validate policies, run the lint rules (and the intent file); exit 1 on findings, 2 on bad input
    Check(CheckArgs),
    /// Check or print the theme and keymap configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Headless: journal every NetworkPolicy change of the cluster until SIGTERM/SIGINT
    Record(crate::history::command::RecordArgs),
    /// A policy's revisions from the journal (NS/NAME), or export/import the journal as JSON lines
    History(crate::history::command::HistoryArgs),
    /// Roll a NetworkPolicy back (revert, restore, remove, undo) with pre-flight, dry run, guarded
    /// apply and audit; exit 0 done, 1 failed, 2 bad input, 3 refused, 4 conflict
    Rollback(crate::rollback::command::RollbackArgs),
    /// Print a tenant's baseline NetworkPolicy set as YAML (default-deny, DNS, same tenant,
    /// optional monitoring), validated by the engine; exit 2 on bad input
    Baseline(crate::commands::baseline::BaselineArgs),
    /// Incident timeline: policy changes (journal) and rollbacks (audit) in time order, as a
    /// table or Markdown
    Timeline(crate::commands::timeline::TimelineArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Only run the demo API server (for kubectl and other clients); stop with ctrl-c
    #[arg(long)]
    pub serve_only: bool,
    /// Write a kubeconfig for the demo server to FILE (kubectl --kubeconfig FILE ...)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Intent file (default: the demo's own, docs/examples/intent.yaml, built in)
    #[arg(long, value_name = "FILE")]
    pub intent: Option<PathBuf>,
    /// Seed a generated multi-tenant cluster of this size instead of the built-in scenario,
    /// e.g. 200,20000,2000
    #[arg(long, value_name = "NAMESPACES,PODS,POLICIES")]
    pub scale: Option<ScaleSpec>,
    /// Load mode: keep changing pods and policies at about RATE watch events per second
    /// (1 to 10000), e.g. 1000
    #[arg(long, value_name = "RATE", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CHURN_RATE)))]
    pub churn: Option<u32>,
    /// Fault mode: misbehave like a troubled API server, one fault per period, e.g.
    /// drop=1s,expire,throttle=3,error=2,stall=35s,restart=60s,every=20s (see docs/demo-faults.md)
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<crate::sim::FaultPlan>,
    /// Slow admission: every write (create, update, patch, delete; dry run or not) waits
    /// DURATION before the server handles it, as behind a slow validating webhook, e.g. 4s
    /// (see docs/demo-faults.md)
    #[arg(long, value_name = "DURATION", value_parser = crate::sim::parse_duration)]
    pub admission_delay: Option<std::time::Duration>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the user files (keymap.toml, theme.toml, agents.toml, contexts.toml) in the config dir; exit 1 on problems
    Check,
    /// Print the built-in keymap and theme
    PrintDefault,
}

/// What to analyse and how; shared by `analyze` and `check`.
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Manifest files or directories (read recursively); without it, the live cluster is analysed
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    /// Whether ipBlocks also match pods by IP: match (Calico, Antrea), ignore (Cilium,
    /// netpol-analyzer), auto (manifests: ignore; live: ignore when Cilium is detected, else match)
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub ipblock_pods: IpBlockPodsSetting,
    /// Namespace label naming the tenant (default: tenant, capsule.clastix.io/tenant, toolkit.fluxcd.io/tenant)
    #[arg(long, value_name = "KEY")]
    pub tenant_label: Option<String>,
    /// Namespaces whose name matches PATTERN (exact, or a prefix ending in *) belong to TENANT,
    /// when they carry no tenant label; repeatable, e.g. --tenant-pattern 'acme=acme-*'
    #[arg(long, value_name = "TENANT=PATTERN", value_parser = parse_name_pattern)]
    pub tenant_pattern: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnalyzeOutput {
    /// `SRC => DST : conns`, byte-compatible with netpol-analyzer's connlist
    Connlist,
    Json,
    Table,
    /// The tenant × tenant matrix with external exposure
    Matrix,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[arg(long, short, value_enum, default_value = "connlist")]
    pub output: AnalyzeOutput,
    /// Explain the connections from SRC to DST (peer names as in the connlist, e.g. ns/name[Deployment])
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"])]
    pub explain: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Intent file: paths that must stay open (required) or closed (forbidden)
    #[arg(long, value_name = "FILE")]
    pub intent: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
    /// Exit 1 when a finding at or above this severity exists (info, warning, error)
    #[arg(long, default_value = "warning", value_parser = parse_severity, value_name = "SEVERITY")]
    pub fail_on: Severity,
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::parse(text).ok_or_else(|| format!("expected info, warning or error, got `{text}`"))
}
