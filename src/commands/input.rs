//! What the headless commands analyse: manifests from disk, or the live cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr};

use crate::cli::{AnalysisArgs, ClusterArgs};
use crate::cluster::{self, snapshot::fetch_snapshot_reporting};
use crate::config::{load_contexts, user_config_dir};
use crate::isolation::config::{AnalysisChoices, AnalysisConfig};
use crate::isolation::intent::Intent;
use crate::isolation::tenants::TenantRules;
use crate::manifest::{self, Warning, WarningClass};
use crate::model::{ClusterSnapshot, Coverage};
use crate::policy::connlist::pod_peers;
use crate::policy::{Engine, NamedPeer, Settings};
use crate::progress::{Phase, Progress};

pub struct Input {
    pub snapshot: ClusterSnapshot,
    /// Peers for connlist output: workloads for manifests, pods for a live cluster.
    pub peers: Vec<NamedPeer>,
    pub settings: Settings,
    pub warnings: Vec<Warning>,
    pub tenant_rules: TenantRules,
    /// What a live cluster's analysis could not see; `None` for manifests.
    pub coverage: Option<Coverage>,
}

impl Input {
    pub fn engine(&self) -> Engine {
        Engine::new(&self.snapshot, self.settings)
    }
}

/// Exit code of `analyze` and `check` when the input cannot be analysed as given.
pub const BAD_INPUT: u8 = 2;

/// Which command reads the input; they differ only in what an object the API server would
/// reject means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Reads such objects as written (ignoring the unknown fields, the last of a key given
    /// twice), as netpol-analyzer does, and warns.
    Analyze,
    /// Refuses them: a cluster would never hold them, so findings about them would mislead.
    Check,
}

impl Reader {
    /// Whether a problem of this class stops the command. A file or document that could not be
    /// read always does: a partial result must not pass for the whole one.
    pub fn stops_on(self, class: WarningClass) -> bool {
        match class {
            WarningClass::Broken => true,
            WarningClass::UnusedKind => false,
            WarningClass::Rejected => self == Reader::Check,
        }
    }
}

/// Loads the input for `analyze` or `check` and reports its problems on stderr, the same way for
/// both: `warning:` for what the command reads anyway, `error:` for what stops it. `Err` is the
/// exit code to stop with ([`BAD_INPUT`]) when the input cannot be loaded or has such errors.
/// The lists' pages are shown on `progress`.
pub async fn load_reported(
    args: &AnalysisArgs,
    cluster_args: &ClusterArgs,
    reader: Reader,
    progress: &Progress,
) -> Result<Input, ExitCode> {
    let input = match load(args, cluster_args, &mut progress.observer()).await {
        Ok(input) => input,
        Err(err) => {
            progress.finish();
            eprintln!("palisade: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            return Err(ExitCode::from(BAD_INPUT));
        }
    };
    let (errors, warnings): (Vec<&Warning>, Vec<&Warning>) = input
        .warnings
        .iter()
        .partition(|w| reader.stops_on(w.class));
    for warning in warnings {
        progress.note(&format!("warning: {warning}"));
    }
    if errors.is_empty() {
        return Ok(input);
    }
    progress.finish();
    for error in &errors {
        eprintln!("error: {error}");
    }
    eprintln!("{}", stop_summary(&errors));
    Err(ExitCode::from(BAD_INPUT))
}

/// The last line when the input stops a command: how many problems, and what to do.
fn stop_summary(errors: &[&Warning]) -> String {
    let unread = errors
        .iter()
        .filter(|w| w.class == WarningClass::Broken)
        .count();
    let rejected = errors.len() - unread;
    let mut parts = Vec::new();
    if unread > 0 {
        parts.push(format!("{unread} document(s) could not be read"));
    }
    if rejected > 0 {
        parts.push(format!(
            "{rejected} object(s) would be rejected by the API server, so a cluster would not hold them"
        ));
    }
    format!(
        "{}; nothing was analysed: fix them and run again",
        parts.join(", ")
    )
}

pub async fn load(
    args: &AnalysisArgs,
    cluster_args: &ClusterArgs,
    on_phase: &mut dyn FnMut(&Phase),
) -> Result<Input> {
    let choices = args.flags.choices();
    if !args.manifests.is_empty() {
        on_phase(&Phase::step("reading manifests"));
        return from_manifests(&args.manifests, AnalysisConfig::resolve(&choices, None));
    }
    let source = cluster::resolve_kubeconfig(cluster_args.kubeconfig.as_deref())?;
    on_phase(&Phase::step("connecting"));
    let mut connection = cluster::connect(source, cluster_args.context.as_deref()).await?;
    narrow(&mut connection, &args.scope.namespaces);
    let live = fetch_snapshot_reporting(&connection, on_phase).await?;
    let snapshot = live.snapshot;
    let config = analysis_config(&choices, &connection.context);
    let mut coverage = live.coverage;
    coverage.cni = Some(config.cni_for(&snapshot).note());
    Ok(Input {
        peers: pod_peers(snapshot.pods.keys()),
        settings: config.settings_for(&snapshot),
        snapshot,
        warnings: Vec::new(),
        tenant_rules: config.tenant_rules,
        coverage: Some(coverage),
    })
}

fn from_manifests(paths: &[PathBuf], config: AnalysisConfig) -> Result<Input> {
    let topology = manifest::load_paths(paths).wrap_err("cannot load the manifests")?;
    let (settings, _, both) = config.settings_for_manifests(&topology.snapshot);
    let mut warnings = topology.warnings;
    // Both CNIs' kinds: evaluated as one of them, said where warnings go (it never stops).
    warnings.extend(both.map(|reason| Warning {
        file: PathBuf::from("--manifests"),
        document: None,
        reason,
        class: WarningClass::UnusedKind,
    }));
    Ok(Input {
        snapshot: topology.snapshot,
        peers: topology.peers,
        settings,
        warnings,
        tenant_rules: config.tenant_rules,
        coverage: None,
    })
}

/// The analysis configuration for `context`: the command line's `choices` over the context's
/// contexts.toml entry over the defaults. The file's problems are warned about on stderr (a
/// broken setting is not used).
pub fn analysis_config(choices: &AnalysisChoices, context: &str) -> AnalysisConfig {
    let (contexts, warnings) = load_contexts(user_config_dir().as_deref());
    for warning in &warnings {
        eprintln!("palisade: warning: {warning}");
    }
    AnalysisConfig::resolve(choices, contexts.analysis(context))
}

/// Reads and validates an intent file; the error names the file (and the line or rule).
pub fn read_intent(path: &std::path::Path) -> Result<Intent, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read intent file {}: {e}", path.display()))?;
    Intent::from_yaml(&text).map_err(|e| format!("intent file {}: {e}", path.display()))
}

/// Narrows the connection to `-n`'s namespaces, else the context's `namespaces` in
/// contexts.toml (see `cluster/scope.rs`).
pub fn narrow(connection: &mut cluster::Connection, flags: &[String]) {
    let (contexts, _) = load_contexts(user_config_dir().as_deref());
    let configured = contexts.namespaces(&connection.context).to_vec();
    connection.scope.ask(flags, &configured);
}
