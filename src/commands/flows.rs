//! `palisade flows`: the dataplane's flows with palisade's verdict beside each one, for incident
//! notes and scripts. The cluster is listed once and then followed through the same watchers
//! as the console, so palisade's verdict follows policy changes while `--follow` runs.
//!
//! Exit codes: 0 printed (also when no flow matched); 1 no flow source could be reached, or the
//! cluster could not be listed; 2 bad input.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::Result;
use tokio::sync::mpsc;

use crate::cli::{ClusterArgs, FlowsArgs, FlowsOutput, FlowsVerdict};
use crate::cluster::{self, snapshot::LiveCluster, snapshot::list_and_keep_watching};
use crate::flows::describe::{json_flow, json_gap, text_gap, text_line};
use crate::flows::{
    AggregateKey, FlowEndpoint, FlowNews, FlowQuery, FlowRecord, Gap, Judge, Judgement,
    SourceStatus, VerdictFilter,
};
use crate::flowsrc;
use crate::isolation::config::AnalysisConfig;
use crate::isolation::tenants::TenantRules;
use crate::model::ClusterSnapshot;
use crate::policy::{Direction, Engine, Settings};

/// Policy changes while following are taken together: the engine is rebuilt at most this often.
const REBUILD_EVERY: Duration = Duration::from_secs(2);
/// Verdicts cached at most (one per aggregate, direction and reply flag).
const JUDGED_KEPT: usize = 10_000;

pub async fn run(args: &FlowsArgs, cluster_args: &ClusterArgs) -> Result<ExitCode> {
    let options = args.source.options();
    let source = cluster::resolve_kubeconfig(cluster_args.kubeconfig.as_deref())?;
    let mut connection = cluster::connect(source, cluster_args.context.as_deref()).await?;
    // The context's `namespaces` (flows' own --namespace is a filter, not the scope).
    super::input::narrow(&mut connection, &[]);
    let LiveCluster {
        live,
        watchers: _watchers,
        news: mut cluster_news,
    } = match list_and_keep_watching(&connection, &mut |_| {}).await {
        Ok(cluster) => cluster,
        Err(err) => {
            eprintln!("palisade: error: {err}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let config = super::input::analysis_config(&args.analysis.choices(), &connection.context);
    let mut printer = Printer::new(args, config, live.snapshot);
    if !args.follow {
        return match flowsrc::fetch(&options, Some(connection.client.clone()), args.last).await {
            Ok((flows, gaps)) => {
                for gap in &gaps {
                    printer.gap(gap);
                }
                printer.flows(&flows);
                Ok(ExitCode::SUCCESS)
            }
            Err(err) => {
                eprintln!("palisade: error: {err}");
                Ok(ExitCode::FAILURE)
            }
        };
    }
    let (tx, mut flow_news) = mpsc::unbounded_channel();
    let _sources = flowsrc::start(
        &options,
        Some(connection.client.clone()),
        Arc::new(move |news| {
            let _ = tx.send(news);
        }),
    );
    let mut changed = false;
    let mut rebuild = tokio::time::interval(REBUILD_EVERY);
    let mut said = BTreeSet::new();
    loop {
        tokio::select! {
            news = flow_news.recv() => match news {
                None => return Ok(ExitCode::FAILURE),
                Some(FlowNews::Flows { flows, .. }) => printer.flows(&flows),
                Some(FlowNews::Gap { gap, .. }) => printer.gap(&gap),
                Some(FlowNews::Status { source, status }) => match status {
                    SourceStatus::Absent { reason } => {
                        eprintln!("palisade: {}: {reason}", source.display_name());
                        return Ok(ExitCode::FAILURE);
                    }
                    SourceStatus::Reconnecting { target, error, .. } => {
                        // Once per distinct error: a retry loop must not flood stderr.
                        if said.insert(error.clone()) {
                            eprintln!("palisade: {} {target}: {error} (retrying)", source.display_name());
                        }
                    }
                    SourceStatus::Live { target } => {
                        said.clear();
                        eprintln!("palisade: {} {target}: live", source.display_name());
                    }
                    SourceStatus::Connecting { .. } => {}
                },
            },
            news = cluster_news.recv() => match news {
                Some(news) => changed |= LiveCluster::apply(&mut printer.snapshot, news),
                None => return Ok(ExitCode::FAILURE),
            },
            _ = rebuild.tick(), if changed => {
                changed = false;
                printer.rebuild();
            }
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// Judges, filters and prints flows; keeps the engine for the snapshot it follows.
struct Printer {
    query: FlowQuery,
    output: FlowsOutput,
    tenant_rules: TenantRules,
    settings: Settings,
    snapshot: ClusterSnapshot,
    engine: Engine,
    /// Palisade's verdict per aggregate, direction and reply flag, for the current engine.
    judged: HashMap<(AggregateKey, Option<Direction>, Option<bool>), Judgement>,
}

impl Printer {
    fn new(args: &FlowsArgs, config: AnalysisConfig, snapshot: ClusterSnapshot) -> Printer {
        let settings = config.settings_for(&snapshot);
        let engine = Engine::new(&snapshot, settings);
        let tenant_rules = config.tenant_rules;
        Printer {
            query: FlowQuery {
                verdict: match args.verdict {
                    FlowsVerdict::Dropped => VerdictFilter::Dropped,
                    FlowsVerdict::Drift => VerdictFilter::Drift,
                    FlowsVerdict::All => VerdictFilter::All,
                },
                tenant: args.tenant.clone(),
                namespace: args.namespace.clone(),
                port: args.port,
            },
            output: args.output,
            tenant_rules,
            settings,
            snapshot,
            engine,
            judged: HashMap::new(),
        }
    }

    fn rebuild(&mut self) {
        self.engine = Engine::new(&self.snapshot, self.settings);
        self.judged.clear();
    }

    fn tenant_of_namespace(&self, namespace: &str) -> Option<String> {
        let labels = self.snapshot.namespaces.get(namespace)?.labels.clone();
        Some(
            self.tenant_rules
                .group_of(namespace, &labels)
                .label()
                .to_string(),
        )
    }

    fn flows(&mut self, flows: &[FlowRecord]) {
        let missing: Vec<_> = flows
            .iter()
            .map(|f| (AggregateKey::of(f), f.direction, f.is_reply))
            .zip(flows)
            .filter(|(key, _)| !self.judged.contains_key(key))
            .collect();
        if !missing.is_empty() {
            // Bounded: endless distinct workloads cost a re-judging, never unbounded memory.
            if self.judged.len() > JUDGED_KEPT {
                self.judged.clear();
            }
            let judge = Judge::detailed(&self.engine);
            let fresh: Vec<_> = missing
                .into_iter()
                .map(|(key, flow)| (key, judge.judge(flow)))
                .collect();
            self.judged.extend(fresh);
        }
        let tenant_of = |end: &FlowEndpoint| {
            end.namespace
                .as_deref()
                .and_then(|ns| self.tenant_of_namespace(ns))
        };
        let mut out = std::io::stdout().lock();
        for flow in flows {
            let judgement =
                self.judged
                    .get(&(AggregateKey::of(flow), flow.direction, flow.is_reply));
            let passes = self
                .query
                .matches(flow, judgement, |ns| self.tenant_of_namespace(ns));
            if !passes {
                continue;
            }
            let line = match self.output {
                FlowsOutput::Text => text_line(flow, judgement, &tenant_of),
                FlowsOutput::Json => json_flow(flow, judgement, &tenant_of).to_string(),
            };
            if writeln!(out, "{line}").is_err() {
                return;
            }
        }
        let _ = out.flush();
    }

    fn gap(&self, gap: &Gap) {
        let line = match self.output {
            FlowsOutput::Text => text_gap(gap),
            FlowsOutput::Json => json_gap(gap).to_string(),
        };
        println!("{line}");
    }
}
