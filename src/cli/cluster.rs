//! Which cluster: global options, accepted before or after any subcommand.

use std::path::PathBuf;

use clap::Args;

/// Which namespaces to watch: `-n/--namespace NS`, repeatable, for the commands that read the
/// live cluster (console, analyze, check, suspects, rollback; `record`, `timeline`, `history`,
/// `gitops` and `baseline` have their own `-n`, whose help says what it does there). Without it, the context's
/// `namespaces` in contexts.toml; without that, the whole cluster, or the kubeconfig context's
/// namespace when cluster-wide lists are forbidden.
#[derive(Debug, Clone, Default, Args)]
pub struct ScopeArgs {
    /// Watch only this namespace (repeatable); cells to or from other namespaces are unknown
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
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
