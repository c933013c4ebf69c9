//! `palisade suspects`: for every denial seen lately (agents' counters, flows dropped by policy),
//! the policy changes of the journal that may have caused it, ranked (`suspects/`).
//!
//! Observations: two scrapes of the agents' counters `--scrape-interval` apart (their rates; a
//! counter cannot say when a denial began, so its start is the first scrape), or one round of
//! queries to `--prometheus` (its start is the round's time), and the flow
//! source's recent flows when one is reachable (`flowsrc::fetch`, as `palisade flows`), from
//! `--since`. Changes: the journal's revisions from `--window` before `--since`. Each change's
//! radius is computed once, on the cluster as it is now.
//!
//! Exit codes: 0 suspects printed; 1 nothing observed, or no suspect (said which), or no journal
//! or cluster; 2 bad input.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use color_eyre::eyre::{Result, WrapErr};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::cli::{ClusterArgs, SuspectsArgs, SuspectsOutput};
use crate::cluster::{self, Connection};
use crate::commands::history::journal_path;
use crate::flowsrc;
use crate::history::{Error, Journal, PolicyKey};
use crate::isolation::config::AnalysisChoices;
use crate::isolation::tenants::TenantRules;
use crate::metrics::{Deltas, Limits};
use crate::model::ClusterSnapshot;
use crate::rollback::RollbackKind;
use crate::scrape::discover::discover;
use crate::scrape::fetch::Fetcher;
use crate::scrape::rules::default_rules;
use crate::scrape::scraper::{ScrapeOptions, scrape_round};
use crate::suspects::{
    Evidence, Observation, PolicyChange, Radius, Suspect, before, from_drops, from_flows,
    from_journal, radius, rank,
};
use crate::timeline::{parse_since, show_time};

pub async fn run(args: &SuspectsArgs, cluster_args: &ClusterArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let (since, window) = match inputs(args, now) {
        Ok(inputs) => inputs,
        Err(problem) => {
            eprintln!("palisade: error: {problem}");
            return Ok(ExitCode::from(2));
        }
    };
    let path = journal_path(args.journal.as_deref(), cluster_args)?;
    let journal = match Journal::open_existing(&path) {
        Ok(journal) => journal,
        Err(err @ Error::Missing(_)) => {
            eprintln!("palisade: error: {err}");
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => {
            return Err(err)
                .wrap_err_with(|| format!("cannot open the journal {}", path.display()));
        }
    };
    let changes_since = since
        .checked_sub(SignedDuration::try_from(window)?)
        .unwrap_or(since);
    let changes = from_journal(&journal, changes_since)
        .wrap_err_with(|| format!("cannot read the journal {}", path.display()))?;
    drop(journal);
    let source = cluster::resolve_kubeconfig(cluster_args.kubeconfig.as_deref())?;
    let mut connection = cluster::connect(source, cluster_args.context.as_deref()).await?;
    super::input::narrow(&mut connection, &args.scope.namespaces);
    let snapshot = match cluster::snapshot::fetch_snapshot(&connection).await {
        Ok(snapshot) => snapshot,
        Err(err) => {
            eprintln!("palisade: error: cannot list the cluster: {err:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let config = super::input::analysis_config(&AnalysisChoices::default(), &connection.context);
    let rules = &config.tenant_rules;
    let group_of = |ns: &str| group(&snapshot, rules, ns);
    let mut observations = Vec::new();
    if let Some(url) = &args.prometheus {
        match from_prometheus(url).await {
            Ok((started, drops)) => observations.extend(from_drops(&drops, started, &group_of)),
            Err(why) => eprintln!("palisade suspects: note: Prometheus: {why}"),
        }
    } else if !args.no_metrics {
        match counters(&connection, &snapshot, args.scrape_interval).await {
            Ok((started, drops)) => observations.extend(from_drops(&drops, started, &group_of)),
            Err(why) => eprintln!("palisade suspects: note: agents' counters: {why}"),
        }
    }
    if !args.source.no_flows {
        let options = args.source.options();
        match flowsrc::fetch(&options, Some(connection.client.clone()), args.last).await {
            Ok((flows, _gaps)) => observations.extend(from_flows(&flows, since, &group_of)),
            Err(why) => eprintln!("palisade suspects: note: no flows: {why}"),
        }
    }
    if let Some(tenant) = &args.tenant {
        observations.retain(|o| &o.from == tenant || &o.to == tenant);
    }
    // Only the changes in some observation's window cost a radius.
    let mut radii: BTreeMap<(PolicyKey, u32), Radius> = BTreeMap::new();
    for change in &changes {
        let wanted = observations
            .iter()
            .any(|o| before(change.at, o.started).is_some_and(|d| d <= window));
        if wanted {
            let computed = radius(&snapshot, &config, change);
            radii.insert(change.id(), computed);
        }
    }
    let reports: Vec<(Observation, Vec<Suspect>)> = observations
        .into_iter()
        .map(|o| {
            let pairs = changes
                .iter()
                .filter_map(|c| radii.get(&c.id()).map(|r| (c, r)));
            let suspects = rank(&o, pairs, window);
            (o, suspects)
        })
        .collect();
    let mut reports = reports;
    // Those with a suspect first (by their top suspect's recency), then the rest as observed.
    reports.sort_by_key(|(_, s)| s.first().map(|top| top.before).unwrap_or(Duration::MAX));
    let any_suspect = reports.iter().any(|(_, s)| !s.is_empty());
    match args.output {
        SuspectsOutput::Text => print!("{}", render_text(&reports, changes.len(), since)),
        SuspectsOutput::Json => println!("{}", render_json(&reports, since, window)),
    }
    if reports.is_empty() {
        eprintln!(
            "palisade suspects: nothing denied observed since {}",
            show_time(since)
        );
    } else if !any_suspect {
        eprintln!(
            "palisade suspects: {} denial(s) observed, no suspect: none of the {} policy change(s) in the journal closes them",
            reports.len(),
            changes.len()
        );
    }
    Ok(if any_suspect {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--since` and `--window`, checked.
fn inputs(args: &SuspectsArgs, now: Timestamp) -> Result<(Timestamp, Duration), String> {
    let since = parse_since(&args.since, now).map_err(|p| format!("--since {p}"))?;
    if since > now {
        return Err(format!("--since `{}` is in the future", args.since));
    }
    if args.window.trim().parse::<Timestamp>().is_ok() {
        return Err(format!(
            "--window expects a duration such as 30m; got `{}`",
            args.window
        ));
    }
    let start = parse_since(&args.window, now).map_err(|p| format!("--window {p}"))?;
    let window = Duration::try_from(now.duration_since(start))
        .map_err(|_| format!("--window `{}` is negative", args.window))?;
    if let Some(url) = &args.prometheus {
        crate::scrape::rules::check_url(url).map_err(|e| format!("--prometheus {e}"))?;
    }
    if args.scrape_interval == 0 {
        return Err("--scrape-interval must be at least 1 second".into());
    }
    Ok((since, window))
}

fn group(snapshot: &ClusterSnapshot, rules: &TenantRules, namespace: &str) -> String {
    rules.group_in(snapshot, namespace).label().to_string()
}

/// Two scrapes of every agent `interval` apart: the denied rates, and when the first began.
async fn counters(
    connection: &Connection,
    snapshot: &ClusterSnapshot,
    interval: u64,
) -> Result<(Timestamp, Vec<crate::metrics::DropRate>), String> {
    let targets = discover(snapshot, &default_rules());
    if targets.is_empty() {
        return Err("no CNI agent pods found (see docs/configuration.md, agents.toml)".into());
    }
    let options = ScrapeOptions::default();
    let fetcher = Fetcher::new(
        Some(connection.scrape_client.clone()),
        options.timeout,
        Limits::default().max_bytes,
    );
    let mut deltas = Deltas::new(options.latency_window);
    let first_at = SystemTime::now();
    let first = scrape_round(&fetcher, &targets, &options, |_, _| {}).await;
    deltas.observe(first_at, first);
    tokio::time::sleep(Duration::from_secs(interval)).await;
    let second = scrape_round(&fetcher, &targets, &options, |_, _| {}).await;
    let reading = deltas.observe(SystemTime::now(), second);
    if reading.agents.iter().all(|a| !a.up()) {
        return Err(format!(
            "no agent answered: {}",
            reading
                .agents
                .iter()
                .filter_map(|a| a.error.clone())
                .next()
                .unwrap_or_default()
        ));
    }
    let started = Timestamp::try_from(first_at).map_err(|e| e.to_string())?;
    Ok((started, reading.drops))
}

/// One round of the Prometheus queries the console's `--prometheus` source sends: the denied
/// rates as Prometheus computes them, at the time of the round.
async fn from_prometheus(url: &str) -> Result<(Timestamp, Vec<crate::metrics::DropRate>), String> {
    let options = ScrapeOptions::default();
    let fetcher = Fetcher::new(None, options.timeout, Limits::default().max_bytes);
    let source = crate::scrape::prometheus::Prometheus::new(url, fetcher);
    let at = SystemTime::now();
    let reading = source
        .round(&crate::scrape::prometheus::queries(&default_rules()))
        .await;
    if reading.drops.is_empty() && !reading.errors.is_empty() {
        return Err(reading.errors.join("; "));
    }
    let started = Timestamp::try_from(at).map_err(|e| e.to_string())?;
    Ok((started, reading.drops))
}

/// The `palisade rollback` command line that undoes exactly this change.
pub fn rollback_command(change: &PolicyChange) -> String {
    let how = match change.rollback_kind() {
        RollbackKind::Revert { to } => format!("--to {to}"),
        RollbackKind::Restore { revision: Some(r) } => format!("--restore --revision {r}"),
        RollbackKind::Restore { revision: None } => "--restore".into(),
        RollbackKind::Remove => "--remove".into(),
        RollbackKind::Undo => "--undo".into(),
    };
    format!("palisade rollback {} {how} --reason TEXT", change.policy)
}

fn render_text(
    reports: &[(Observation, Vec<Suspect>)],
    changes: usize,
    since: Timestamp,
) -> String {
    let mut out = String::new();
    if reports.is_empty() {
        return out;
    }
    out.push_str(&format!(
        "{} denial(s) observed since {}; {changes} policy change(s) in the journal's window\n",
        reports.len(),
        show_time(since)
    ));
    for (observation, suspects) in reports {
        out.push_str(&match observation.evidence {
            Evidence::Counters => format!(
                "\n{} denied at {} (agent counters: changes before the first scrape count)\n",
                observation.label(),
                show_time(observation.started)
            ),
            Evidence::Flows => format!(
                "\n{} denied since {} (flows dropped by policy)\n",
                observation.label(),
                show_time(observation.started)
            ),
        });
        match suspects.first() {
            None => out.push_str("  no suspect: no change before it closes it\n"),
            Some(top) => {
                out.push_str(&format!("  likely cause: {}\n", top.describe()));
                out.push_str(&format!("    undo: {}\n", rollback_command(&top.change)));
                for other in &suspects[1..] {
                    out.push_str(&format!("  also: {}\n", other.describe()));
                }
            }
        }
    }
    out
}

fn suspect_json(suspect: &Suspect) -> Value {
    let change = &suspect.change;
    json!({
        "policy": change.policy.to_string(),
        "kind": change.policy.kind().as_str(),
        "namespace": change.policy.namespace(),
        "name": change.policy.name(),
        "revision": change.to_revision,
        "revision_before": change.from_revision,
        "at": change.at.to_string(),
        "manager": change.manager,
        "operation": change.operation.as_str(),
        "seconds_before": suspect.before.as_secs(),
        "closes": suspect.closes.iter().map(|c| json!({
            "from": c.from_group,
            "to": c.to_group,
            "from_namespace": c.from_namespace,
            "to_namespace": c.to_namespace,
            "connections": c.closed.to_string(),
        })).collect::<Vec<_>>(),
        "namespace_pairs_closed": suspect.breadth.0,
        "rollback": serde_json::to_value(change.rollback_kind()).unwrap_or(Value::Null),
        "rollback_command": rollback_command(change),
        "summary": suspect.describe(),
    })
}

fn render_json(
    reports: &[(Observation, Vec<Suspect>)],
    since: Timestamp,
    window: Duration,
) -> Value {
    json!({
        "since": since.to_string(),
        "window_seconds": window.as_secs(),
        "observations": reports.iter().map(|(o, suspects)| json!({
            "from": o.from,
            "to": o.to,
            "from_namespace": o.from_namespace,
            "to_namespace": o.to_namespace,
            "protocol": o.port.map(|(p, _)| p.as_str()),
            "port": o.port.map(|(_, n)| n),
            "started": o.started.to_string(),
            "evidence": o.evidence,
            "suspects": suspects.iter().map(suspect_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
