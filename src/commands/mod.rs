//! The CLI edge: one runner per subcommand (arguments in `cli/`), and [`run`], which dispatches
//! to them. The headless commands (`analyze`, `check`, `baseline`, `timeline`, `history`,
//! `rollback`) read their input at the edge, call the pure core or the libraries (`history/`,
//! `rollback/`), and print text with an exit code; `console`, `demo` and `record` run until
//! stopped.

pub mod analyze;
pub mod baseline;
pub mod baseline_tiers;
pub mod check;
pub mod config;
pub mod console;
pub mod demo;
pub mod flows;
pub mod gitops;
pub mod history;
pub mod input;
pub mod record;
pub mod render;
pub mod rollback;
pub mod suspects;
pub mod timeline;

use std::process::ExitCode;

use color_eyre::eyre::Result;

use crate::cli::{Cli, Command};

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        None => console::run(&cli).await,
        Some(Command::Demo(args)) => demo::run(args, false).await,
        Some(Command::Tour(args)) => demo::run(args, true).await,
        Some(Command::Analyze(args)) => analyze::run(&args, &cli.cluster).await,
        Some(Command::Check(args)) => check::run(&args, &cli.cluster).await,
        Some(Command::Config(command)) => Ok(config::run(&command)),
        Some(Command::Record(args)) => record::run(&args, &cli.cluster).await,
        Some(Command::History(args)) => history::history(&args, &cli.cluster).await,
        Some(Command::Rollback(args)) => rollback::run(&args, &cli.cluster).await,
        Some(Command::Baseline(args)) => baseline::run(&args, &cli.cluster).await,
        Some(Command::Timeline(args)) => timeline::run(&args, &cli.cluster).await,
        Some(Command::Flows(args)) => flows::run(&args, &cli.cluster).await,
        Some(Command::Suspects(args)) => suspects::run(&args, &cli.cluster).await,
        Some(Command::Gitops(command)) => gitops::run(&command, &cli.cluster).await,
    }
}
