//! `palisade flows`.

use clap::{Args, ValueEnum};

use super::console::FlowSourceArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowsOutput {
    /// One line per flow: both ends with their tenants, the dataplane's verdict, palisade's
    Text,
    /// One JSON object per line (JSON lines), for scripts
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowsVerdict {
    /// Flows the dataplane dropped (or would have, in audit mode)
    Dropped,
    /// Flows where palisade's verdict and the dataplane's differ
    Drift,
    /// Every flow, forwarded ones included
    All,
}

#[derive(Debug, Args)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub source: FlowSourceArgs,
    /// Keep printing flows as they arrive, until interrupted
    #[arg(long, short)]
    pub follow: bool,
    /// Without --follow: how many of the most recent flows to ask the source for
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub last: u64,
    /// Which flows to print
    #[arg(long, value_enum, default_value = "dropped")]
    pub verdict: FlowsVerdict,
    /// Only flows with an end in this tenant
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
    /// Only flows with an end in this namespace
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Only flows to this destination port
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Output format
    #[arg(long, short, value_enum, default_value = "text")]
    pub output: FlowsOutput,
    /// For palisade's verdict: tenants and ipBlocks as for `analyze`
    #[command(flatten)]
    pub analysis: super::analysis::AnalysisFlags,
}
