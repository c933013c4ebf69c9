//! `palisade analyze` and `palisade check`, which share what to analyse.

use std::path::PathBuf;

use clap::Args;

use crate::isolation::config::AnalysisChoices;
use crate::isolation::findings::Severity;
use crate::isolation::tenants::parse_name_pattern;
use crate::policy::{CniSetting, IpBlockPodsSetting};

/// What to analyse and how; shared by `analyze` and `check`.
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Manifest files or directories (read recursively); without it, the live cluster is analysed
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    #[command(flatten)]
    pub flags: AnalysisFlags,
    #[command(flatten)]
    pub scope: super::ScopeArgs,
    /// No progress on stderr (shown only when stderr is a terminal; NO_COLOR drops its colour)
    #[arg(long, short)]
    pub quiet: bool,
}

/// How namespaces map to tenants and whether ipBlocks match pods: the same flags for the
/// console, `analyze`, `check` and `flows`. Each wins over the context's contexts.toml entry
/// (`tenant_label`, `tenant_patterns`, `ipblock_pods`, `cni`), which wins over the defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct AnalysisFlags {
    /// Whether ipBlocks also match pods by IP: match (Calico, Antrea), ignore (Cilium,
    /// netpol-analyzer), auto (the default; manifests: ignore; live: ignore when Cilium is
    /// detected, else match)
    #[arg(long, value_name = "MODE")]
    pub ipblock_pods: Option<IpBlockPodsSetting>,
    /// Which CNI enforces the policies, so whose order of evaluation applies: auto (the
    /// default: its agents' pods, then the kinds of its policies present), cilium, calico or
    /// generic (neither's own kinds evaluated)
    #[arg(long, value_name = "CNI")]
    pub cni: Option<CniSetting>,
    /// Namespace label naming the tenant (default: tenant, capsule.clastix.io/tenant, projectcapsule.dev/tenant, toolkit.fluxcd.io/tenant; HNC trees are always read)
    #[arg(long, value_name = "KEY")]
    pub tenant_label: Option<String>,
    /// Namespaces whose name matches PATTERN (exact, or a prefix ending in *) belong to TENANT,
    /// when they carry no tenant label; repeatable, e.g. --tenant-pattern 'acme=acme-*'
    #[arg(long, value_name = "TENANT=PATTERN", value_parser = parse_name_pattern)]
    pub tenant_pattern: Vec<(String, String)>,
}

impl AnalysisFlags {
    pub fn choices(&self) -> AnalysisChoices {
        AnalysisChoices {
            tenant_label: self.tenant_label.clone(),
            tenant_patterns: self.tenant_pattern.clone(),
            ipblock_pods: self.ipblock_pods,
            cni: self.cni,
        }
    }
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
