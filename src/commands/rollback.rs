//! `palisade rollback (NS/NAME | cnp/NAME | anp/NAME | banp/NAME) (--to REV | --restore [--revision REV] | --remove | --undo)
//! --reason TEXT [--yes] [--dry-run] [--read-only] [--ack-gitops] [--journal PATH]`.
//!
//! Exit codes: 0 done (or the dry run passed); 1 failed (API or network error, or applied but not
//! seen by the watch in time); 2 bad input (arguments, a plan that cannot be made); 3 refused
//! (read-only, access denied, GitOps owner not acknowledged, no confirmation); 4 conflict (the
//! policy changed since it was planned: nothing was written). Every attempt that got as far as a
//! plan is audited.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use k8s_openapi::jiff::Timestamp;

use super::history::EXPECTED;
use crate::cli::{ClusterArgs, RollbackArgs};
use crate::cluster::connect::ClusterSource;
use crate::cluster::snapshot::{LiveSnapshot, fetch_snapshot_reporting};
use crate::cluster::{connect, resolve_kubeconfig};
use crate::config::{load_contexts, user_config_dir};
use crate::flow::FlowId;
use crate::history::location::{default_journal_path, identity_from_source};
use crate::history::{Journal, PolicyKey};
use crate::isolation::config::{AnalysisChoices, AnalysisConfig};
use crate::rollback::apply::get_live;
use crate::rollback::audit::{self, AuditRecord, JournalPlanError, Outcome};
use crate::rollback::suspend::{self, SuspendError, Suspension};
use crate::rollback::suspend_audit as rollback_suspend;
use crate::rollback::{
    ApplyError, Confirmation, Diff, Plan, Written, apply, blast_radius, dry_run, event, preflight,
    read_only_reason, verify, who_am_i,
};
use crate::team::client::TeamClient;
use crate::team::sync::sync_policy;

pub const EXIT_DONE: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_REFUSED: u8 = 3;
pub const EXIT_CONFLICT: u8 = 4;

fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

pub async fn run(args: &RollbackArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let Some(target) = PolicyKey::parse(&args.policy) else {
        eprintln!("palisade: error: {EXPECTED}; got `{}`", args.policy);
        return Ok(code(EXIT_BAD_INPUT));
    };
    if args.reason.trim().is_empty() {
        eprintln!("palisade: error: --reason must say why (free text or a ticket id)");
        return Ok(code(EXIT_BAD_INPUT));
    }
    let dir = user_config_dir();
    let (contexts, warnings) = load_contexts(dir.as_deref());
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let source = resolve_kubeconfig(cluster.kubeconfig.as_deref())?;
    let identity = identity_from_source(&source, cluster.context.as_deref())?;
    let kubeconfig = match &source {
        ClusterSource::Kubeconfig(k) => Some((**k).clone()),
        ClusterSource::InCluster => None,
    };
    let path = match &args.journal {
        Some(path) => path.clone(),
        None => default_journal_path(&identity)?,
    };
    let mut connection = connect(source, cluster.context.as_deref()).await?;
    let configured = contexts.namespaces(&connection.context).to_vec();
    connection.scope.ask(&args.scope.namespaces, &configured);
    let client = connection.client.clone();
    let mut journal = Journal::open(&path)
        .wrap_err_with(|| format!("cannot open the journal {}", path.display()))?
        .with_source(&identity.server, &connection.context);

    let team = TeamClient::of(
        &connection,
        &args.recorder.choice(contexts.recorder(&connection.context)),
    );
    if let Some(team) = &team {
        // Plan from everything the team's recorder saw, not only what this journal saw.
        match sync_policy(team, &path, &target).await {
            Ok(_) => {}
            Err(err) => eprintln!("palisade: {err}; planning from the local journal"),
        }
    }
    let live = get_live(&client, &target)
        .await
        .wrap_err_with(|| format!("cannot read {target}"))?;
    let now = Timestamp::now();
    let plan =
        match audit::plan_from_journal(&mut journal, args.kind(), &target, live.as_ref(), now) {
            Ok(plan) => plan,
            Err(JournalPlanError::Plan(err)) => {
                eprintln!("palisade: error: {err}");
                return Ok(code(EXIT_BAD_INPUT));
            }
            Err(err @ JournalPlanError::Journal(_)) => return Err(err.into()),
        };
    let mut out = std::io::stdout().lock();
    writeln!(out, "plan: {}", plan.summary())?;
    for note in &plan.notes {
        writeln!(out, "  note: {note}")?;
    }
    writeln!(out, "\ndiff (live -> after):\n{}", plan.diff.to_text())?;
    // The snapshot holds the served tier policies too: the blast radius of any policy depends
    // on them. What it could not read is said, since the radius is then incomplete.
    match fetch_snapshot_reporting(&connection, &mut |_| {}).await {
        Ok(LiveSnapshot { snapshot, coverage }) => {
            for line in coverage.lines() {
                writeln!(out, "warning: {line}")?;
            }
            let for_blast = plan.clone();
            let analysis = AnalysisConfig::resolve(
                &AnalysisChoices::default(),
                contexts.analysis(&connection.context),
            );
            let blast =
                tokio::task::spawn_blocking(move || blast_radius(&snapshot, &analysis, &for_blast))
                    .await?;
            writeln!(out, "blast radius: {}", blast.summary())?;
        }
        Err(err) => writeln!(out, "blast radius: unavailable ({err})")?,
    }
    let read_only = read_only_reason(args.read_only, &connection.context, &contexts);
    let checks = preflight(&client, &plan, read_only).await;
    writeln!(out, "pre-flight:")?;
    for line in checks.lines() {
        writeln!(out, "  {line}")?;
    }
    out.flush()?;
    let actor = who_am_i(&client, kubeconfig.as_ref(), Some(&connection.context)).await;
    let mut record = AuditRecord::for_plan(
        &plan,
        &actor,
        &identity.server,
        &connection.context,
        args.reason.trim(),
        Timestamp::now(),
    );
    // The GitOps owner: suspended first (--suspend-gitops, its own guarded write), acknowledged
    // (--ack-gitops), or the rollback is refused with how to suspend it.
    let mut owner_handled = args.ack_gitops;
    let mut suspension: Option<(Suspension, AuditRecord)> = None;
    if let Some(owner) = plan.owner.as_ref().filter(|_| args.suspend_gitops) {
        match suspend::prepare(&client, owner).await {
            Ok(planned) => {
                let access = suspend::access(&client, &planned).await;
                let mut suspend_record = rollback_suspend::record_for(&mut record, &planned);
                writeln!(
                    out,
                    "  gitops suspension: {}: patch {}",
                    planned.summary,
                    rollback_suspend::access_text(&access)
                )?;
                if let Some(why) = rollback_suspend::refusal(&checks, &access) {
                    suspend_record.apply = format!("not attempted: {why}");
                    let (sid, id) = finish_unsuspended(
                        &mut journal,
                        team.as_ref(),
                        &mut suspend_record,
                        &mut record,
                        Outcome::Refused,
                        &why,
                    )
                    .await?;
                    eprintln!("palisade: refused: {why} (audit #{sid} and #{id})");
                    return Ok(code(EXIT_REFUSED));
                }
                owner_handled = true;
                suspension = Some((planned, suspend_record));
            }
            Err(SuspendError::Already(what)) => {
                writeln!(
                    out,
                    "  gitops: {what} is not reconciling: no suspension needed"
                )?;
                owner_handled = true;
            }
            Err(err) => {
                let why = format!("the GitOps owner cannot be suspended: {err}");
                return refuse(&mut journal, team.as_ref(), &mut record, &why).await;
            }
        }
    } else if let Some(owner) = plan.owner.as_ref().filter(|_| !args.ack_gitops) {
        eprintln!("{}", rollback_suspend::revert_warning(owner));
    }
    if owner_handled {
        // A suspension names the owner where it was found; an acknowledgement as labelled.
        record.acknowledged_owner = plan.owner.as_ref().map(|o| match &suspension {
            Some(_) => suspend::resolved(o).describe(),
            None => o.describe(),
        });
    }
    out.flush()?;

    if let Some(why) = checks.refusal(owner_handled) {
        return refuse(&mut journal, team.as_ref(), &mut record, &why).await;
    }
    if let Some((planned, _)) = &suspension {
        println!(
            "the confirmation covers two writes: the rollback, and first: {}",
            planned.summary
        );
    }
    // `--yes` stands for the typed name; `--dry-run` writes nothing and needs no confirmation.
    let typed = if args.yes || args.dry_run {
        Ok(plan.target.to_string())
    } else {
        confirm(&plan.target)
    };
    let confirmation = match typed
        .and_then(|typed| Confirmation::given(FlowId::HEADLESS, &plan, &typed, &args.reason))
    {
        Ok(confirmation) => confirmation,
        Err(why) => {
            return refuse(&mut journal, team.as_ref(), &mut record, &why).await;
        }
    };
    let passed = match dry_run(&client, &plan).await {
        Ok(result) => {
            record.dry_run = result.summary.clone();
            println!("dry run: {}", result.summary);
            result.passed
        }
        Err(err) => {
            record.dry_run = err.to_string();
            let (outcome, exit) = error_outcome(&err);
            let id = finish(&mut journal, team.as_ref(), &mut record, outcome, None).await?;
            eprintln!("palisade: dry run {err} (audit #{id})");
            show_conflict(&plan, &err);
            return Ok(code(exit));
        }
    };
    if let Some((planned, suspend_record)) = &mut suspension {
        match suspend::patch(&client, planned, true).await {
            Ok(text) => {
                println!("dry run: {text}");
                suspend_record.dry_run = text;
            }
            Err(why) => {
                suspend_record.dry_run = why.clone();
                let (sid, id) = finish_unsuspended(
                    &mut journal,
                    team.as_ref(),
                    suspend_record,
                    &mut record,
                    Outcome::Failed,
                    &format!("the suspension's dry run failed: {why}"),
                )
                .await?;
                eprintln!("palisade: suspension dry run {why} (audit #{sid} and #{id})");
                return Ok(code(EXIT_FAILED));
            }
        }
    }
    if args.dry_run {
        if let Some((_, suspend_record)) = &mut suspension {
            finish(
                &mut journal,
                team.as_ref(),
                suspend_record,
                Outcome::DryRun,
                None,
            )
            .await?;
        }
        let id = finish(
            &mut journal,
            team.as_ref(),
            &mut record,
            Outcome::DryRun,
            None,
        )
        .await?;
        println!("dry run only: nothing was written (audit #{id})");
        return Ok(code(EXIT_DONE));
    }
    let clearance = match checks.clear(owner_handled, &confirmation, &passed) {
        Ok(clearance) => clearance,
        Err(why) => {
            return refuse(&mut journal, team.as_ref(), &mut record, &why).await;
        }
    };
    // The suspension first: a rollback the controller would revert at once helps nobody.
    if let Some((planned, mut suspend_record)) = suspension {
        match suspend::patch(&client, &planned, false).await {
            Ok(text) => {
                suspend_record.apply = format!("{text}; {}", suspend::was_text(&planned));
                let sid = finish(
                    &mut journal,
                    team.as_ref(),
                    &mut suspend_record,
                    Outcome::Done,
                    None,
                )
                .await?;
                println!("{}: {text} (audit #{sid})", planned.summary);
                println!(
                    "remember to resume it when fixed: {}",
                    suspend::resume_command(
                        planned.owner.tool,
                        &planned.namespace,
                        &planned.owner.name,
                        &planned.before.to_string()
                    )
                );
            }
            Err(why) => {
                suspend_record.apply = why.clone();
                let (sid, id) = finish_unsuspended(
                    &mut journal,
                    team.as_ref(),
                    &mut suspend_record,
                    &mut record,
                    Outcome::Failed,
                    &format!("the suspension failed: {why}"),
                )
                .await?;
                eprintln!("palisade: suspension {why} (audit #{sid} and #{id})");
                return Ok(code(EXIT_FAILED));
            }
        }
    }
    let applied = match apply(&client, &plan, &clearance).await {
        Ok(applied) => applied,
        Err(err) => {
            record.apply = err.to_string();
            let (outcome, exit) = error_outcome(&err);
            if matches!(outcome, Outcome::Failed | Outcome::Conflict) {
                record.outcome = outcome;
                let note = event::emit(&client, checks.events.as_ref(), &plan, None, &record).await;
                eprintln!("event: {note}");
                record.apply = format!("{}; {note}", record.apply);
            }
            let id = finish(&mut journal, team.as_ref(), &mut record, outcome, None).await?;
            eprintln!("palisade: apply {err} (audit #{id})");
            show_conflict(&plan, &err);
            return Ok(code(exit));
        }
    };
    record.apply = applied.summary();
    record.to_resource_version = applied.resource_version.clone();
    record.outcome = Outcome::Done;
    let note = event::emit(
        &client,
        checks.events.as_ref(),
        &plan,
        Some(&applied.object),
        &record,
    )
    .await;
    println!("event: {note}");
    record.apply = format!("{}; {note}", record.apply);
    let id = finish(
        &mut journal,
        team.as_ref(),
        &mut record,
        Outcome::Done,
        Some(&applied.written()),
    )
    .await?;
    println!(
        "applied: {} (audit #{id}{})",
        applied.summary(),
        record
            .journal_revision
            .map_or(String::new(), |n| format!(", journal revision {n}"))
    );
    match verify(
        &client,
        &plan,
        &applied,
        Duration::from_secs(args.verify_timeout),
    )
    .await
    {
        Ok(seen) => {
            println!(
                "verified: the watch shows the rollback after {} ms",
                seen.elapsed.as_millis()
            );
            println!(
                "audit: {} and {}",
                path.display(),
                audit::audit_path(&path).display()
            );
            Ok(code(EXIT_DONE))
        }
        Err(err) => {
            eprintln!("palisade: applied (audit #{id}) but not verified: {err}");
            Ok(code(EXIT_FAILED))
        }
    }
}

/// Audits the attempt locally (the journal's table and JSON lines), then on the team's
/// recorder; the local audit record's id.
async fn finish(
    journal: &mut Journal,
    team: Option<&TeamClient>,
    record: &mut AuditRecord,
    outcome: Outcome,
    written: Option<&Written>,
) -> Result<i64> {
    record.outcome = outcome;
    audit::append(journal, record, written).wrap_err("cannot write the audit record")?;
    if let Some(team) = team {
        team.append_reporting(record).await;
    }
    Ok(record.id.unwrap_or_default())
}

/// A refusal before anything is written: the record ends "not attempted: {why}", refused, and
/// the command exits 3 naming the audit record.
async fn refuse(
    journal: &mut Journal,
    team: Option<&TeamClient>,
    record: &mut AuditRecord,
    why: &str,
) -> Result<ExitCode> {
    record.apply = format!("not attempted: {why}");
    let id = finish(journal, team, record, Outcome::Refused, None).await?;
    eprintln!("palisade: refused: {why} (audit #{id})");
    Ok(code(EXIT_REFUSED))
}

/// A GitOps suspension that did not happen ends both its records with `outcome`: the
/// suspension's (its result already set), then the rollback's, "not attempted: {why}". Returns
/// their audit ids.
async fn finish_unsuspended(
    journal: &mut Journal,
    team: Option<&TeamClient>,
    suspension: &mut AuditRecord,
    record: &mut AuditRecord,
    outcome: Outcome,
    why: &str,
) -> Result<(i64, i64)> {
    let sid = finish(journal, team, suspension, outcome, None).await?;
    record.apply = format!("not attempted: {why}");
    let id = finish(journal, team, record, outcome, None).await?;
    Ok((sid, id))
}

fn error_outcome(err: &ApplyError) -> (Outcome, u8) {
    let outcome = err.outcome();
    let exit = match outcome {
        Outcome::Conflict => EXIT_CONFLICT,
        Outcome::Refused => EXIT_REFUSED,
        _ => EXIT_FAILED,
    };
    (outcome, exit)
}

/// After a conflict: what changed on the cluster since the plan.
fn show_conflict(plan: &Plan, err: &ApplyError) {
    if let ApplyError::Conflict { live, .. } = err {
        let diff = Diff::of_objects(plan.live.as_ref(), live.as_deref());
        eprintln!(
            "changed on the cluster since the plan (planned -> now):\n{}plan again to roll back from the new state",
            diff.to_text()
        );
    }
}

/// The typed confirmation on a terminal; refused when stdin is not one.
/// Asks for the typed confirmation on the terminal; the line as typed.
fn confirm(target: &PolicyKey) -> Result<String, String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(
            "stdin is not a terminal, so the typed confirmation cannot be asked: pass --yes"
                .to_string(),
        );
    }
    eprint!("type {target} to confirm: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the confirmation: {e}"))?;
    if line.trim() == target.to_string() {
        Ok(line)
    } else {
        Err(format!(
            "the confirmation `{}` is not `{target}`",
            line.trim()
        ))
    }
}
