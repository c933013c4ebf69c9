//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::sim::ScaleSpec;

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
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// Check or print the theme and keymap configuration
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Only run the demo API server (for kubectl and other clients); stop with ctrl-c
    #[arg(long)]
    pub serve_only: bool,
    /// Write a kubeconfig for the demo server to FILE (kubectl --kubeconfig FILE ...)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Seed a generated multi-tenant cluster of this size instead of the built-in scenario,
    /// e.g. 200,20000,2000
    #[arg(long, value_name = "NAMESPACES,PODS,POLICIES")]
    pub scale: Option<ScaleSpec>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the user files (keymap.toml, theme.toml) in the config dir; exit 1 on problems
    Check,
    /// Print the built-in keymap and theme
    PrintDefault,
}
