//! Command-line interface: every clap definition of `palisade`, one file per subcommand or group.
//! The runners live in `commands/`.

mod analysis;
mod baseline;
mod cluster;
mod config;
mod console;
mod demo;
mod flows;
mod gitops;
mod history;
mod rollback;
mod suspects;
mod team;
mod timeline;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use analysis::{
    AnalysisArgs, AnalysisFlags, AnalyzeArgs, AnalyzeOutput, CheckArgs, CheckFormat,
};
pub use baseline::BaselineArgs;
pub use cluster::{ClusterArgs, ScopeArgs};
pub use config::ConfigCommand;
pub use console::{FlowArgs, FlowSourceArgs, MetricsArgs, SessionArgs};
pub use demo::DemoArgs;
pub use flows::{FlowsArgs, FlowsOutput, FlowsVerdict};
pub use gitops::{GitOpsCommand, GitOpsOutput, GitOpsSuspendedArgs};
pub use history::{HistoryArgs, HistoryCommand, HistoryOutput, RecordArgs};
pub use rollback::RollbackArgs;
pub use suspects::{SuspectsArgs, SuspectsOutput};
pub use team::RecorderArgs;
pub use timeline::{TimelineArgs, TimelineOutput};

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
    pub flows: FlowArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    #[command(flatten)]
    pub analysis: AnalysisFlags,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
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
    Record(RecordArgs),
    /// A policy's revisions from the journal (NS/NAME), or export/import the journal as JSON lines
    History(HistoryArgs),
    /// Roll a NetworkPolicy back (revert, restore, remove, undo) with pre-flight, dry run, guarded
    /// apply and audit; exit 0 done, 1 failed, 2 bad input, 3 refused, 4 conflict
    Rollback(RollbackArgs),
    /// Print a tenant's baseline NetworkPolicy set as YAML (default-deny, DNS, same tenant,
    /// optional monitoring), validated by the engine; exit 2 on bad input
    Baseline(BaselineArgs),
    /// Incident timeline: policy changes (journal) and rollbacks (audit) in time order, as a
    /// table or Markdown
    Timeline(TimelineArgs),
    /// Flows from Hubble Relay or Goldmane, with palisade's verdict beside the dataplane's and
    /// drift marked; exit 1 when no flow source can be reached, 2 on bad input
    Flows(FlowsArgs),
    /// Ranked suspects for every denial seen lately: the policy changes (journal) whose effect,
    /// before → after, closes the denied pair; exit 0 suspects, 1 nothing observed or no
    /// suspect, 2 bad input
    Suspects(SuspectsArgs),
    /// GitOps owners (Flux Kustomizations, Argo CD Applications) that rollbacks suspended:
    /// `gitops suspended` lists those still suspended, with the command to resume each
    #[command(subcommand)]
    Gitops(GitOpsCommand),
}
