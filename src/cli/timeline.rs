//! `palisade timeline`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimelineOutput {
    Text,
    /// A heading and a table, to paste into an incident ticket
    Md,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Only events since then: a duration back from now (30m, 2h, 1d) or an RFC 3339 time
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only the events of this tenant
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
    /// Output format
    #[arg(long, short, value_enum, default_value = "text")]
    pub output: TimelineOutput,
    /// Journal file (default: the current context's journal in the data dir)
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Only the events of policies in this namespace (repeatable; cluster-scoped policies are
    /// left out). Also the scope of the live read of tenant labels when cluster-wide lists are
    /// forbidden to you (without it: contexts.toml `namespaces`, else the kubeconfig namespace)
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
}
