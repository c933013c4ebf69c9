//! `palisade flows`.

use clap::{Args, ValueEnum};

use super::console::FlowSourceArgs;
use crate::isolation::tenants::parse_name_pattern;
use crate::policy::IpBlockPodsSetting;

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
    /// Whether ipBlocks also match pods by IP, for palisade's verdict (as for `analyze`)
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub ipblock_pods: IpBlockPodsSetting,
    /// Namespace label naming the tenant (default: tenant, capsule.clastix.io/tenant, projectcapsule.dev/tenant, toolkit.fluxcd.io/tenant; HNC trees are always read)
    #[arg(long, value_name = "KEY")]
    pub tenant_label: Option<String>,
    /// Namespaces whose name matches PATTERN belong to TENANT (as for `analyze`); repeatable
    #[arg(long, value_name = "TENANT=PATTERN", value_parser = parse_name_pattern)]
    pub tenant_pattern: Vec<(String, String)>,
}
