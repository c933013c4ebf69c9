//! `palisade history`: a policy's revisions (`NS/NAME`, or a tier policy's `cnp/NAME`,
//! `anp/NAME`, `banp/NAME`), export and import of the journal.
//!
//! Exit codes: 0 done; 1 no journal yet or unknown policy; 2 bad input (a malformed policy name, a
//! bad import file: nothing is imported); 3 `history export` met rows it could not read (named
//! on stderr; every other revision was exported).

use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr};

use crate::cli::{ClusterArgs, HistoryArgs, HistoryCommand, HistoryOutput, RecorderArgs};
use crate::cluster::{Connection, connect, resolve_kubeconfig};
use crate::config::{load_contexts, user_config_dir};
use crate::history::exchange::RevisionLine;
use crate::history::location::{default_journal_path, identity_from_source};
use crate::history::{Error, Journal, PolicyKey, Revision, summarize};
use crate::progress::Progress;
use crate::rollback::AuditRecord;
use crate::rollback::last_applied;
use crate::team::client::{DEADLINE, TeamClient};
use crate::team::sync::{merge_audit, sync_policy};

/// `palisade history …`.
pub async fn history(args: &HistoryArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    match (&args.command, &args.policy) {
        (Some(_), Some(policy)) => fail(
            2,
            &format!("`{policy}` and a subcommand: export and import take no policy"),
        ),
        (Some(HistoryCommand::Import { .. }), _) if !args.namespaces.is_empty() => fail(
            2,
            "import merges the whole file: -n applies to export and to a named policy",
        ),
        (Some(HistoryCommand::Export { file }), _) => export(
            &journal_path(args.journal.as_deref(), cluster)?,
            file.as_deref(),
            &args.namespaces,
            // Lines on a terminal's stdout would tear the spinner: progress only when redirected.
            &Progress::stderr(
                args.quiet || (writes_stdout(file.as_deref()) && std::io::stdout().is_terminal()),
            ),
        ),
        (Some(HistoryCommand::Import { file }), _) => import(
            &journal_path(args.journal.as_deref(), cluster)?,
            file,
            &Progress::stderr(args.quiet),
        ),
        (None, Some(policy)) => {
            let Some(key) = PolicyKey::parse(policy) else {
                return fail(2, &format!("{EXPECTED}; got `{policy}`"));
            };
            if !super::timeline::within(&key, &args.namespaces) {
                return fail(
                    2,
                    &format!(
                        "`{policy}` is outside the namespaces asked for (-n {})",
                        args.namespaces.join(", -n ")
                    ),
                );
            }
            let path = journal_path(args.journal.as_deref(), cluster)?;
            // One connection for both: the team's history and the live last-applied revision.
            let connection = reach_cluster(cluster).await;
            let team = match &connection {
                Ok(connection) => team_history(&args.recorder, connection, &path, &key).await,
                Err(Unreached::NoKubeconfig) if !args.recorder.no_recorder => {
                    eprintln!(
                        "palisade: no cluster to ask for the team's history; local history only"
                    );
                    None
                }
                Err(why) if !args.recorder.no_recorder => {
                    eprintln!(
                        "palisade: the team's history is unavailable ({why}); local history only"
                    );
                    None
                }
                Err(_) => None,
            };
            let fallback = match &connection {
                Ok(connection) => live_last_applied(connection, &key).await,
                Err(Unreached::NoKubeconfig) => Ok(None),
                Err(why) => Err(format!(
                    "the live policy could not be read, so no last-applied revision is offered: \
                     {why}"
                )),
            };
            let fallback = match fallback {
                Ok(revision) => revision,
                Err(note) => {
                    eprintln!("note: {note}");
                    None
                }
            };
            show(&path, &key, args.output, team, fallback)
        }
        (None, None) => fail(
            2,
            "name a policy (palisade history NAMESPACE/NAME, or cnp/NAME for a tier policy), or use `history export` / `history import`",
        ),
    }
}

/// `--journal`, else the journal of the kubeconfig's context: no cluster is contacted.
pub fn journal_path(explicit: Option<&Path>, cluster: &ClusterArgs) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let source = resolve_kubeconfig(cluster.kubeconfig.as_deref())
        .wrap_err("cannot tell which journal to read; pass --journal PATH")?;
    default_journal_path(&identity_from_source(&source, cluster.context.as_deref())?)
}

/// What a policy argument may be, for error messages.
pub const EXPECTED: &str = "expected NAMESPACE/NAME (e.g. acme-web/default-deny), a tier \
    policy's cnp/NAME, anp/NAME or banp/NAME, or a CNI policy's ciliumnp/NAMESPACE/NAME, \
    ccnp/NAME, caliconp/NAMESPACE/NAME, gnp/NAME (networkpolicy/NS/NAME for a NetworkPolicy in a \
    namespace named like those)";

fn fail(code: u8, message: &str) -> Result<ExitCode> {
    eprintln!("palisade: error: {message}");
    Ok(ExitCode::from(code))
}

fn open_existing(path: &Path) -> Result<Option<Journal>> {
    match Journal::open_existing(path) {
        Ok(journal) => Ok(Some(journal)),
        Err(err @ Error::Missing(_)) => {
            eprintln!("palisade: error: {err}");
            Ok(None)
        }
        Err(err) => {
            Err(err).wrap_err_with(|| format!("cannot open the journal {}", path.display()))
        }
    }
}

/// Why `history` could not reach the cluster (it works from the journal without it).
#[derive(Debug)]
enum Unreached {
    NoKubeconfig,
    Failed(String),
    Slow,
}

impl std::fmt::Display for Unreached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreached::NoKubeconfig => write!(f, "no kubeconfig names a cluster"),
            Unreached::Failed(err) => write!(f, "{err}"),
            Unreached::Slow => write!(
                f,
                "the API server did not answer within {} s",
                DEADLINE.as_secs()
            ),
        }
    }
}

/// The cluster, connected once for everything `history` asks it; the journal needs no cluster,
/// so an unreachable one must not hold the answer up.
async fn reach_cluster(cluster: &ClusterArgs) -> Result<Connection, Unreached> {
    let source =
        resolve_kubeconfig(cluster.kubeconfig.as_deref()).map_err(|_| Unreached::NoKubeconfig)?;
    match tokio::time::timeout(DEADLINE, connect(source, cluster.context.as_deref())).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(err)) => Err(Unreached::Failed(err.to_string())),
        Err(_) => Err(Unreached::Slow),
    }
}

/// The team's audit records of `key`, after its revisions on the recorder were merged into the
/// journal at `path`; `None` (said in one line on stderr) when the recorder is off, absent or
/// unreachable: the local journal is all there is then.
async fn team_history(
    recorder: &RecorderArgs,
    connection: &Connection,
    path: &Path,
    key: &PolicyKey,
) -> Option<Vec<AuditRecord>> {
    if recorder.no_recorder {
        return None;
    }
    let (contexts, _) = load_contexts(user_config_dir().as_deref());
    let choice = recorder.choice(contexts.recorder(&connection.context));
    let team = TeamClient::of(connection, &choice)?;
    match sync_policy(&team, path, key).await {
        Ok(history) => Some(history.audit),
        Err(err) => {
            eprintln!("palisade: {err}; local history only");
            None
        }
    }
}

/// How long `history` waits for the live policy when looking for the last-applied revision.
const LIVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The live policy's last-applied revision (see `rollback::last_applied`), best effort: `Err`
/// is a one-line note (unreadable policy, malformed annotation), `Ok(None)` when there is
/// nothing to offer.
async fn live_last_applied(
    connection: &Connection,
    key: &PolicyKey,
) -> Result<Option<Revision>, String> {
    let read = async {
        let live = crate::rollback::apply::get_live(&connection.client, key)
            .await
            .map_err(|e| e.to_string())?;
        match live {
            Some(live) => last_applied::of_object(&live, &connection.server, &connection.context),
            None => Ok(None),
        }
    };
    match tokio::time::timeout(LIVE_WITHIN, read).await {
        Ok(Ok(revision)) => Ok(revision),
        Ok(Err(why)) if why.contains(last_applied::ANNOTATION) => Err(why),
        Ok(Err(why)) => Err(format!(
            "the live policy could not be read, so no last-applied revision is offered: {why}"
        )),
        Err(_) => Err(format!(
            "the cluster did not answer within {} s, so no last-applied revision is offered",
            LIVE_WITHIN.as_secs()
        )),
    }
}

fn show(
    path: &Path,
    key: &PolicyKey,
    output: HistoryOutput,
    team: Option<Vec<AuditRecord>>,
    fallback: Option<Revision>,
) -> Result<ExitCode> {
    let journal = match (Journal::open_existing(path), &fallback) {
        (Ok(journal), _) => Some(journal),
        // No journal at all, but kubectl's last-applied configuration is a revision to offer.
        (Err(Error::Missing(_)), Some(_)) => None,
        (Err(err @ Error::Missing(_)), None) => {
            eprintln!("palisade: error: {err}");
            return Ok(ExitCode::FAILURE);
        }
        (Err(err), _) => {
            return Err(err)
                .wrap_err_with(|| format!("cannot open the journal {}", path.display()));
        }
    };
    let mut revisions = match &journal {
        Some(journal) => journal.revisions_of(key)?,
        None => Vec::new(),
    };
    if let (Some(journal), true, None) = (&journal, revisions.is_empty(), &fallback) {
        // Neighbours: the namespace's policies, or the tier policies of the same kind.
        let known: Vec<String> = journal
            .policies()?
            .into_iter()
            .filter(|p| p.kind() == key.kind() && p.namespace() == key.namespace())
            .map(|p| p.to_string())
            .collect();
        let (none, some) = match key {
            PolicyKey::Network(id) => (
                format!("the journal has no policy in namespace `{}`", id.namespace),
                format!("policies of `{}` in the journal", id.namespace),
            ),
            PolicyKey::Tier(tier) => (
                format!("the journal has no {}", tier.kind.kind()),
                format!("{}s in the journal", tier.kind.kind()),
            ),
            PolicyKey::Native(native) if native.kind.namespaced() => (
                format!(
                    "the journal has no {} in namespace `{}`",
                    native.kind.kind(),
                    native.namespace
                ),
                format!(
                    "{}s of `{}` in the journal",
                    native.kind.kind(),
                    native.namespace
                ),
            ),
            PolicyKey::Native(native) => (
                format!("the journal has no {}", native.kind.kind()),
                format!("{}s in the journal", native.kind.kind()),
            ),
        };
        let hint = if known.is_empty() {
            none
        } else {
            format!("{some}: {}", known.join(", "))
        };
        return fail(
            1,
            &format!("no revisions of {key} in {}; {hint}", path.display()),
        );
    }
    let mut summaries: Vec<String> = revisions
        .iter()
        .enumerate()
        .map(|(i, r)| summarize(i.checked_sub(1).map(|p| &revisions[p]), r))
        .collect();
    if let Some(revision) = fallback {
        // Number 0, first: what kubectl applied before the live object was edited or patched.
        summaries.insert(
            0,
            format!(
                "{} (spec/labels differ from live; not in the journal; roll back with --to {})",
                last_applied::describe(&revision),
                last_applied::ARG
            ),
        );
        revisions.insert(0, revision);
    }
    let text = match output {
        HistoryOutput::Json => json(&revisions, summaries),
        HistoryOutput::Table => {
            let local = match &journal {
                Some(journal) => crate::rollback::audit::records(journal, Some(key))?,
                None => Vec::new(),
            };
            let records = merge_audit(local, team.unwrap_or_default());
            table(&revisions, &summaries) + &audit_table(&records)
        }
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn json(revisions: &[Revision], summaries: Vec<String>) -> String {
    let lines: Vec<RevisionLine> = revisions
        .iter()
        .zip(summaries)
        .map(|(revision, summary)| RevisionLine {
            summary: Some(summary),
            ..RevisionLine::of(revision)
        })
        .collect();
    serde_json::to_string_pretty(&lines).unwrap_or_default() + "\n"
}

fn table(revisions: &[Revision], summaries: &[String]) -> String {
    let rows: Vec<[String; 6]> = revisions
        .iter()
        .zip(summaries)
        .map(|(r, summary)| {
            [
                if last_applied::is_last_applied(r) {
                    last_applied::ARG.to_string()
                } else {
                    r.number.to_string()
                },
                r.observed_at.clone(),
                r.manager.clone().unwrap_or_else(|| "-".into()),
                r.operation.to_string(),
                r.resource_version.clone().unwrap_or_else(|| "-".into()),
                summary.clone(),
            ]
        })
        .collect();
    let header = ["REV", "OBSERVED", "MANAGER", "OPERATION", "RV", "CHANGE"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

fn writes_stdout(file: Option<&Path>) -> bool {
    file.is_none_or(|f| f.as_os_str() == "-")
}

fn export(
    path: &Path,
    file: Option<&Path>,
    namespaces: &[String],
    progress: &Progress,
) -> Result<ExitCode> {
    let Some(journal) = open_existing(path)? else {
        return Ok(ExitCode::FAILURE);
    };
    let keep = |revision: &Revision| super::timeline::within(&revision.key(), namespaces);
    let report = match file.filter(|f| f.as_os_str() != "-") {
        Some(file) => {
            let out = std::fs::File::create(file)
                .wrap_err_with(|| format!("cannot create {}", file.display()))?;
            let mut out = std::io::BufWriter::new(out);
            let report = journal.export_where(&mut out, &keep, &mut progress.observer())?;
            out.into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()
                .wrap_err_with(|| format!("cannot write {}", file.display()))?;
            report
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let report = journal.export_where(&mut out, &keep, &mut progress.observer())?;
            out.flush()?;
            report
        }
    };
    progress.finish();
    eprintln!(
        "exported {} revision(s) from {}",
        report.written,
        path.display()
    );
    if report.unreadable.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for row in &report.unreadable {
        eprintln!("palisade: error: skipped {row}");
    }
    fail(
        3,
        &format!(
            "{} row(s) of {} could not be read and are not in the export; every other revision is",
            report.unreadable.len(),
            path.display()
        ),
    )
}

fn import(path: &Path, file: &Path, progress: &Progress) -> Result<ExitCode> {
    let mut input: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(file)
                .wrap_err_with(|| format!("cannot open {}", file.display()))?,
        ))
    };
    let mut journal = Journal::open(path)
        .wrap_err_with(|| format!("cannot open the journal {}", path.display()))?;
    let imported = journal.import_reporting(&mut input, &mut progress.observer());
    progress.finish();
    match imported {
        Ok(report) => {
            println!(
                "imported {} of {} revision(s) into {} ({} already present or unchanged, {} policies renumbered)",
                report.imported,
                report.read,
                path.display(),
                report.duplicates,
                report.renumbered
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err @ Error::Import { .. }) => fail(
            2,
            &format!("{}: {err}; nothing was imported", file.display()),
        ),
        Err(err) => Err(err).wrap_err_with(|| format!("cannot import {}", file.display())),
    }
}

/// The policy's rollback attempts under the revisions table (nothing when there are none).
fn audit_table(records: &[crate::rollback::AuditRecord]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nrollbacks (audit):\n");
    for r in records {
        let revisions = match (r.from_revision, r.to_revision) {
            (Some(from), Some(to)) => format!("#{from} -> #{to}"),
            (None, Some(to)) => format!("absent -> #{to}"),
            (Some(from), None) => format!("#{from} -> deleted"),
            (None, None) => "-".to_string(),
        };
        out.push_str(&format!(
            "  #{} {} {} {} {} by {}: {} ({})\n",
            r.id.map_or_else(|| "-".to_string(), |id| id.to_string()),
            r.at,
            r.kind,
            revisions,
            r.outcome.as_str(),
            r.actor,
            r.reason,
            r.apply
        ));
    }
    out
}
