//! `palisade gitops`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GitOpsOutput {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum GitOpsCommand {
    /// The GitOps owners Palisade suspended before a rollback that are still suspended, with who,
    /// when, why and the command to resume each; exit 0
    Suspended(GitOpsSuspendedArgs),
}

#[derive(Debug, Args)]
pub struct GitOpsSuspendedArgs {
    /// Output format
    #[arg(long, short, value_enum, default_value = "text")]
    pub output: GitOpsOutput,
    /// Journal file whose audit to read (default: the current context's journal)
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// The team's audit is read too: suspensions made from any laptop
    #[command(flatten)]
    pub recorder: super::team::RecorderArgs,
    /// Only the suspensions made for the rollback of a policy in this namespace (repeatable)
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
}
