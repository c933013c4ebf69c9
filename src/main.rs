use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{Result, WrapErr, eyre};

use palisade::cli::{Cli, Command, ConfigCommand, DemoArgs, MetricsArgs};
use palisade::cluster::{self, connect::ClusterSource};
use palisade::commands;
use palisade::commands::input::read_intent;
use palisade::config::{self, Config};
use palisade::isolation::intent::Intent;
use palisade::runtime::{JournalChoice, Session, run_console};
use palisade::scrape::{self, MetricsSetup};
use palisade::sim::{DemoServer, Scenario, ServerOptions};

fn main() -> ExitCode {
    if let Err(err) = color_eyre::install() {
        eprintln!("palisade: cannot install error reporting: {err}");
    }
    let cli = Cli::parse();
    if quiet_on_broken_pipe(cli.command.as_ref()) {
        // `palisade analyze -o json | head` must end quietly when the reader leaves, as other
        // Unix tools do, rather than panic on the broken pipe (Rust ignores SIGPIPE by default).
        // SAFETY: before the async runtime starts any thread; restores the default disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("palisade: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            // A plain message chain, not a stack trace: these are operator-facing errors.
            eprintln!("palisade: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether a broken pipe may end the process silently (SIGPIPE's default action). Only for the
/// headless commands that print a result and hold nothing else: a server, the console or a
/// recorder keeps SIGPIPE ignored, so a client or peer that leaves is an EPIPE error on that one
/// connection (issue 1b: a watch client that left killed the demo server with status 141).
/// Rollback too, so a reader that leaves can never cut it off between the apply and its audit.
fn quiet_on_broken_pipe(command: Option<&Command>) -> bool {
    match command {
        Some(
            Command::Analyze(_)
            | Command::Check(_)
            | Command::Config(_)
            | Command::History(_)
            | Command::Baseline(_)
            | Command::Timeline(_),
        ) => true,
        None
        | Some(Command::Demo(_) | Command::Tour(_) | Command::Record(_) | Command::Rollback(_)) => {
            false
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        None => {
            let intent = cli
                .intent
                .as_deref()
                .map(read_intent)
                .transpose()
                .map_err(|e| eyre!(e))?;
            let source = cluster::resolve_kubeconfig(cli.cluster.kubeconfig.as_deref())?;
            let journal = match cli.session.journal {
                Some(path) => JournalChoice::Fixed(path),
                None => JournalChoice::PerContext,
            };
            let options = ConsoleOptions {
                intent,
                metrics: &cli.metrics,
                journal,
                read_only: cli.session.read_only,
                tour: None,
            };
            console(source, cli.cluster.context.as_deref(), options).await
        }
        Some(Command::Demo(args)) => demo(args, false).await,
        Some(Command::Tour(args)) => demo(args, true).await,
        Some(Command::Analyze(args)) => commands::analyze::run(&args, &cli.cluster).await,
        Some(Command::Check(args)) => commands::check::run(&args, &cli.cluster).await,
        Some(Command::Config(command)) => Ok(config_command(command)),
        Some(Command::Record(args)) => {
            palisade::history::command::record(&args, &cli.cluster).await
        }
        Some(Command::History(args)) => palisade::history::command::history(&args, &cli.cluster),
        Some(Command::Rollback(args)) => {
            palisade::rollback::command::run(&args, &cli.cluster).await
        }
        Some(Command::Baseline(args)) => commands::baseline::run(&args, &cli.cluster).await,
        Some(Command::Timeline(args)) => commands::timeline::run(&args, &cli.cluster).await,
    }
}

/// What the console runs with, besides the cluster.
struct ConsoleOptions<'a> {
    intent: Option<Intent>,
    metrics: &'a MetricsArgs,
    journal: JournalChoice,
    read_only: bool,
    /// On the demo cluster; `Some(true)` starts the guided tour at once.
    tour: Option<bool>,
}

async fn console(
    source: ClusterSource,
    context: Option<&str>,
    options: ConsoleOptions<'_>,
) -> Result<ExitCode> {
    let kubeconfig = match &source {
        ClusterSource::Kubeconfig(k) => Some((**k).clone()),
        ClusterSource::InCluster => None,
    };
    let connection = cluster::connect(source, context).await?;
    let dir = config::user_config_dir();
    let (config, mut warnings) = Config::load(dir.as_deref(), config::no_colour_requested());
    let (rules, rule_warnings) = scrape::load_rules(dir.as_deref());
    warnings.extend(rule_warnings);
    let (contexts, context_warnings) = config::load_contexts(dir.as_deref());
    warnings.extend(context_warnings);
    let ending = run_console(
        Session {
            connection,
            kubeconfig,
            intent: options.intent,
            metrics: MetricsSetup::from_args(options.metrics, rules),
            journal: options.journal,
            read_only: options.read_only,
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

/// The demo's own isolation contract, so the matrix shows intended cells and breaches.
const DEMO_INTENT: &str = include_str!("../docs/examples/intent.yaml");

async fn demo(args: DemoArgs, start_tour: bool) -> Result<ExitCode> {
    let intent = match (&args.intent, args.scale) {
        (Some(path), _) => Some(read_intent(path).map_err(|e| eyre!(e))?),
        // The example names the built-in scenario's namespaces; a generated cluster has none.
        (None, None) => {
            Some(Intent::from_yaml(DEMO_INTENT).map_err(|e| eyre!("built-in intent: {e}"))?)
        }
        (None, Some(_)) => None,
    };
    let scenario = match args.scale {
        Some(spec) => Scenario::generated(spec),
        None => Scenario::builtin(),
    };
    let options = ServerOptions {
        churn: args.churn.and_then(std::num::NonZeroU32::new),
        faults: args.faults.clone(),
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(scenario, options)
        .await
        .wrap_err("cannot start the demo API server on 127.0.0.1")?;
    if let Some(path) = &args.kubeconfig_out {
        server
            .write_kubeconfig(path)
            .wrap_err_with(|| format!("cannot write kubeconfig {}", path.display()))?;
    }
    if args.serve_only {
        println!("palisade demo API server listening on {}", server.url());
        if let Some(rate) = args.churn {
            println!("churning pods and policies at about {rate} watch events per second");
        }
        if let Some(plan) = &args.faults {
            println!(
                "injecting {} fault(s), one every {} ms, round and round",
                plan.faults.len(),
                plan.every.as_millis()
            );
        }
        if let Some(path) = &args.kubeconfig_out {
            println!(
                "kubeconfig written to {}; try: kubectl --kubeconfig {} get netpol -A",
                path.display(),
                path.display()
            );
        }
        println!("press ctrl-c to stop");
        wait_for_stop_signal().await?;
        server.shutdown().await;
        return Ok(ExitCode::SUCCESS);
    }
    // The demo's history lives as long as the demo, unless asked to keep it elsewhere.
    let run_dir = std::env::temp_dir().join(format!("palisade-demo-{}", std::process::id()));
    let journal = JournalChoice::Fixed(
        args.session
            .journal
            .clone()
            .unwrap_or_else(|| run_dir.join("journal.sqlite")),
    );
    let options = ConsoleOptions {
        intent,
        metrics: &args.metrics,
        journal,
        read_only: args.session.read_only,
        tour: Some(start_tour),
    };
    let code = console(
        ClusterSource::Kubeconfig(Box::new(server.kubeconfig())),
        None,
        options,
    )
    .await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&run_dir);
    code
}

async fn wait_for_stop_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = sigterm.recv() => {}
    }
    Ok(())
}

fn config_command(command: ConfigCommand) -> ExitCode {
    match command {
        ConfigCommand::PrintDefault => {
            println!("# ---- keymap.toml (built-in \"default\") ----");
            println!("{}", config::DEFAULT_KEYMAP);
            println!("# ---- theme.toml (built-in \"dark\") ----");
            println!("{}", config::DEFAULT_THEME);
            println!("# ---- built-in keymaps (keymap.toml: base = \"NAME\") ----");
            println!("# {}", config::builtin_keymap_names().join(", "));
            println!("# ---- built-in themes (theme.toml: parent = \"NAME\") ----");
            println!("# {}", config::builtin_theme_names().join(", "));
            println!("# ---- actions a keymap can bind ----");
            for action in palisade::config::action::Action::ALL {
                println!("# {:<14} {}", action.name(), action.description());
            }
            ExitCode::SUCCESS
        }
        ConfigCommand::Check => {
            let Some(dir) = config::user_config_dir() else {
                eprintln!("palisade: no config directory (is $HOME set?)");
                return ExitCode::FAILURE;
            };
            let (_, mut warnings) = Config::load(Some(&dir), false);
            warnings.extend(scrape::load_rules(Some(&dir)).1);
            let (contexts, context_warnings) = config::load_contexts(Some(&dir));
            warnings.extend(context_warnings);
            for file in [
                config::KEYMAP_FILE,
                config::THEME_FILE,
                scrape::AGENTS_FILE,
                config::CONTEXTS_FILE,
            ] {
                let path = dir.join(file);
                let state = if path.exists() {
                    "checked"
                } else {
                    "absent (defaults apply)"
                };
                println!("{}: {state}", path.display());
            }
            if warnings.is_empty() {
                println!("ok: no problems found");
                ExitCode::SUCCESS
            } else {
                for warning in &warnings {
                    eprintln!("{warning}");
                }
                eprintln!("{}", config::check_summary(&warnings, &contexts));
                ExitCode::FAILURE
            }
        }
    }
}
