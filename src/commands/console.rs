//! `palisade` without a subcommand: the console on the kubeconfig's cluster. The demo runs the
//! same console on its own server.

use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};

use crate::cli::{Cli, FlowArgs, MetricsArgs};
use crate::cluster::{self, connect::ClusterSource};
use crate::commands::input::read_intent;
use crate::config::{self, Config};
use crate::isolation::intent::Intent;
use crate::runtime::{JournalChoice, Session, run_console};
use crate::scrape::{self, MetricsSetup};

/// `palisade` with no subcommand.
pub async fn run(cli: &Cli) -> Result<ExitCode> {
    let intent = cli
        .intent
        .as_deref()
        .map(read_intent)
        .transpose()
        .map_err(|e| eyre!(e))?;
    let source = cluster::resolve_kubeconfig(cli.cluster.kubeconfig.as_deref())?;
    let journal = match &cli.session.journal {
        Some(path) => JournalChoice::Fixed(path.clone()),
        None => JournalChoice::PerContext,
    };
    let options = ConsoleOptions {
        intent,
        metrics: &cli.metrics,
        flows: &cli.flows,
        journal,
        read_only: cli.session.read_only,
        recorder: cli.session.recorder.clone(),
        analysis: cli.analysis.choices(),
        tour: None,
        namespaces: cli.scope.namespaces.clone(),
    };
    console(source, cli.cluster.context.as_deref(), options).await
}

/// What the console runs with, besides the cluster.
pub(super) struct ConsoleOptions<'a> {
    pub intent: Option<Intent>,
    pub metrics: &'a MetricsArgs,
    pub flows: &'a FlowArgs,
    pub journal: JournalChoice,
    pub read_only: bool,
    /// How to reach the team's recorder (`--recorder`, `--no-recorder`).
    pub recorder: crate::cli::RecorderArgs,
    /// `--tenant-label`, `--tenant-pattern`, `--ipblock-pods` (over contexts.toml's).
    pub analysis: crate::isolation::config::AnalysisChoices,
    /// On the demo cluster; `Some(true)` starts the guided tour at once.
    pub tour: Option<bool>,
    /// `-n/--namespace`: watch only these (over contexts.toml's `namespaces`).
    pub namespaces: Vec<String>,
}

pub(super) async fn console(
    source: ClusterSource,
    context: Option<&str>,
    options: ConsoleOptions<'_>,
) -> Result<ExitCode> {
    let kubeconfig = match &source {
        ClusterSource::Kubeconfig(k) => Some((**k).clone()),
        ClusterSource::InCluster => None,
    };
    let mut connection = cluster::connect(source, context).await?;
    let dir = config::user_config_dir();
    let (config, mut warnings) = Config::load(dir.as_deref(), config::no_colour_requested());
    let (rules, rule_warnings) = scrape::load_rules(dir.as_deref());
    warnings.extend(rule_warnings);
    let (contexts, context_warnings) = config::load_contexts(dir.as_deref());
    warnings.extend(context_warnings);
    let configured = contexts.namespaces(&connection.context);
    connection.scope.ask(&options.namespaces, configured);
    let ending = run_console(
        Session {
            connection,
            kubeconfig,
            intent: options.intent,
            metrics: MetricsSetup::from_args(options.metrics, rules),
            flows: options.flows.settings(),
            journal: options.journal,
            read_only: options.read_only,
            recorder: options.recorder,
            analysis: options.analysis,
            contexts,
            demo: options.tour.is_some(),
            start_tour: options.tour == Some(true),
        },
        config,
        warnings,
    )
    .await?;
    Ok(ending.exit_code())
}
