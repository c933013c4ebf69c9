//! `palisade record` and `palisade history`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Journal file (default: <data dir>/palisade/journals/<context, server>.sqlite)
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// No progress on stderr while listing and seeding (shown only when stderr is a terminal)
    #[arg(long, short)]
    pub quiet: bool,
    /// Serve the team's history over HTTPS on ADDR (127.0.0.1:PORT; in a pod 0.0.0.0:8443),
    /// reached through the API server's service proxy (see docs/history.md, Team history)
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
    /// The recorder's own Service, whose `services/proxy` RBAC decides who may read and append
    #[arg(long, value_name = "NS/NAME", env = "PALISADE_RECORDER_SERVICE",
          value_parser = crate::team::RecorderRef::parse, default_value = "palisade/palisade-recorder")]
    pub service: crate::team::RecorderRef,
    /// Record only this namespace's policies (repeatable); without it, the context's
    /// `namespaces` in contexts.toml, else the whole cluster, or the kubeconfig context's
    /// namespace when cluster-wide lists are forbidden to you
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryOutput {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    /// The policy, as NAMESPACE/NAME, a tier policy as cnp/NAME, anp/NAME or banp/NAME, or a
    /// CNI policy as ciliumnp/NAMESPACE/NAME, ccnp/NAME (Calico: caliconp/NAMESPACE/NAME,
    /// gnp/NAME, tier/NAME, snp/NAMESPACE/NAME, sgnp/NAME, sknp/NAMESPACE/NAME)
    #[arg(value_name = "NS/NAME|cnp/NAME")]
    pub policy: Option<String>,
    /// Journal file (default: the current context's journal in the data dir)
    #[arg(long, global = true, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Output format
    #[arg(long, short, value_enum, default_value = "table")]
    pub output: HistoryOutput,
    /// No progress on stderr during export and import (shown only when stderr is a terminal)
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(flatten)]
    pub recorder: super::RecorderArgs,
    /// Only policies in this namespace (repeatable): `export` writes their revisions only
    /// (cluster-scoped policies left out), and a policy named outside them is refused. The
    /// live cluster is read for the named policy alone, so a Role in its namespace is enough
    #[arg(short = 'n', long = "namespace", value_name = "NS", global = true)]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Write every revision as JSON lines to FILE (default, or `-`: stdout)
    Export {
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Merge the revisions of a JSON-lines FILE (`-`: stdin) into the journal, all or nothing
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}
