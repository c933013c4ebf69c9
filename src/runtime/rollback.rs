//! The cluster side of the console's rollback flow (`app/rollback.rs` is the state machine).
//! Each step runs as a task and answers with one `Msg::Rollback`. The journal is opened per step
//! (SQLite serialises writers; the console's journal thread keeps its own connection).

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::config::Kubeconfig;
use tokio::sync::mpsc;

use crate::team::client::TeamClient;
use crate::team::sync::sync_policy;

use crate::app::Msg;
use crate::app::msg::JournalNews;
use crate::app::rollback::{Attempt, OwnerSuspension, Prepared, RollbackNews, SuspensionWritten};
use crate::cluster::Connection;
use crate::flow::FlowId;
use crate::history::{Journal, PolicyKey};
use crate::isolation::config::AnalysisConfig;
use crate::model::ClusterSnapshot;
use crate::rollback::audit::{self, plan_from_journal};
use crate::rollback::reminders;
use crate::rollback::suspend::{self, SuspendError};
use crate::rollback::suspend_audit;
use crate::rollback::{
    AuditRecord, DryRunPassed, Outcome, RollbackKind, apply, blast_radius, dry_run, event,
    preflight, verify, who_am_i,
};

/// How long verification waits for the watch to show the rollback.
const VERIFY_WITHIN: Duration = Duration::from_secs(30);

/// What every step needs: the cluster, the journal, and the write gate.
#[derive(Clone)]
pub struct RollbackContext {
    pub connection: Connection,
    pub kubeconfig: Option<Kubeconfig>,
    pub journal: Option<PathBuf>,
    /// The team's recorder: plans sync from it first, and every attempt's audit goes to it too.
    pub team: Option<TeamClient>,
    /// Why writes are off (`--read-only`, contexts.toml), if they are.
    pub read_only: Option<String>,
}

impl RollbackContext {
    fn journal(&self) -> Result<Journal, String> {
        let path = self
            .journal
            .as_ref()
            .ok_or("no revision journal is open, so there is no history to roll back to")?;
        Journal::open(path)
            .map(|j| j.with_source(&self.connection.server, &self.connection.context))
            .map_err(|e| format!("journal {}: {e}", path.display()))
    }
}

/// Every reply names the flow that asked, so the console applies it to that flow only.
fn send(tx: &mpsc::UnboundedSender<Msg>, flow: FlowId, news: RollbackNews) {
    let _ = tx.send(Msg::Rollback { flow, news });
}

/// Steps 1–4: the journal catches up with the live object, then plan, blast radius (on a
/// blocking thread: it builds two engines), pre-flight and the actor.
pub fn spawn_prepare(
    ctx: RollbackContext,
    flow: FlowId,
    policy: PolicyKey,
    kind: RollbackKind,
    snapshot: ClusterSnapshot,
    analysis: AnalysisConfig,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let news = match prepare(&ctx, &policy, kind, snapshot, analysis).await {
            Ok(prepared) => RollbackNews::Prepared(Box::new(prepared)),
            Err(why) => RollbackNews::PrepareFailed(why),
        };
        send(&tx, flow, news);
    });
}

async fn prepare(
    ctx: &RollbackContext,
    policy: &PolicyKey,
    kind: RollbackKind,
    snapshot: ClusterSnapshot,
    analysis: AnalysisConfig,
) -> Result<Prepared, String> {
    let client = &ctx.connection.client;
    let live = crate::rollback::apply::get_live(client, policy)
        .await
        .map_err(|e| unreadable(policy, &e))?;
    if let (Some(team), Some(path)) = (&ctx.team, &ctx.journal) {
        // The plan sees every revision the team's recorder saw; without it, the local ones.
        let _ = sync_policy(team, path, policy).await;
    }
    let mut journal = ctx.journal()?;
    let plan = plan_from_journal(&mut journal, kind, policy, live.as_ref(), Timestamp::now())
        .map_err(|e| e.to_string())?;
    let for_blast = plan.clone();
    let blast = tokio::task::spawn_blocking(move || blast_radius(&snapshot, &analysis, &for_blast))
        .await
        .map_err(|e| format!("blast radius: {e}"));
    let preflight = preflight(client, &plan, ctx.read_only.clone()).await;
    let actor = who_am_i(
        client,
        ctx.kubeconfig.as_ref(),
        Some(&ctx.connection.context),
    )
    .await;
    let suspension = match &plan.owner {
        Some(owner) => Some(offer_suspension(client, owner).await),
        None => None,
    };
    Ok(Prepared {
        plan,
        blast,
        preflight,
        actor,
        suspension,
    })
}

/// Reads the GitOps owner: its suspension and the operator's access to it, or why none.
async fn offer_suspension(
    client: &kube::Client,
    owner: &crate::rollback::GitOpsOwner,
) -> OwnerSuspension {
    match suspend::prepare(client, owner).await {
        Ok(suspension) => {
            let access = suspend::access(client, &suspension).await;
            OwnerSuspension::Offered { suspension, access }
        }
        Err(SuspendError::Already(what)) => {
            OwnerSuspension::Unavailable(format!("{what} is not reconciling: nothing to suspend"))
        }
        Err(err) => OwnerSuspension::Unavailable(err.to_string()),
    }
}

/// A suspension that did not happen ends both records with `outcome`: the suspension's (its
/// result already set), then the rollback's, "not attempted: {why}". Where they went.
async fn audited_unsuspended(
    ctx: &RollbackContext,
    rollback: &mut AuditRecord,
    suspension: &mut AuditRecord,
    outcome: Outcome,
    why: &str,
) -> String {
    suspension.outcome = outcome;
    let first = audited(ctx, suspension, None).await;
    rollback.apply = format!("not attempted: {why}");
    rollback.outcome = outcome;
    let second = audited(ctx, rollback, None).await;
    format!("suspension: {first}; rollback: {second}")
}

/// A fresh audit record for an attempt.
fn record(ctx: &RollbackContext, prepared: &Prepared, reason: &str) -> AuditRecord {
    AuditRecord::for_plan(
        &prepared.plan,
        &prepared.actor,
        &ctx.connection.server,
        &ctx.connection.context,
        reason,
        Timestamp::now(),
    )
}

/// Appends the record, then sends it to the team's recorder; the text says where, or why it
/// could not be written.
async fn audited(
    ctx: &RollbackContext,
    record: &mut AuditRecord,
    written: Option<&crate::rollback::Written>,
) -> String {
    let result = ctx
        .journal()
        .and_then(|mut j| audit::append(&mut j, record, written).map_err(|e| e.to_string()));
    let local = match result {
        Ok(_) => format!("audit #{}", record.id.unwrap_or_default()),
        Err(why) => format!("THE AUDIT RECORD COULD NOT BE WRITTEN: {why}"),
    };
    match &ctx.team {
        None => local,
        Some(team) => match team.append(record).await {
            Ok(stored) => format!("{local}; team audit #{}", stored.id.unwrap_or_default()),
            Err(err) => format!("{local}; {err}"),
        },
    }
}

/// Audits a refusal (nothing was attempted) and says so.
async fn refuse(ctx: &RollbackContext, record: &mut AuditRecord, why: String) -> RollbackNews {
    record.apply = format!("not attempted: {why}");
    record.outcome = Outcome::Refused;
    let where_ = audited(ctx, record, None).await;
    finished("refused", format!("{why} ({where_})"), false)
}

/// Steps 5–6: a refusal is audited and ends the attempt; otherwise the server's dry run. The
/// reply carries the attempt back, so a reply nobody waits for any more can still be audited.
pub fn spawn_dry_run(ctx: RollbackContext, attempt: Attempt, tx: &mpsc::UnboundedSender<Msg>) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let flow = attempt.flow;
        let prepared = &attempt.prepared;
        let mut record = record(&ctx, prepared, attempt.confirmation.reason());
        if let Some(step) = &attempt.suspension
            && let Some(why) = suspend_audit::refusal(&prepared.preflight, &step.access)
        {
            let mut suspension = suspend_audit::record_for(&mut record, &step.suspension);
            suspension.apply = format!("not attempted: {why}");
            let where_ =
                audited_unsuspended(&ctx, &mut record, &mut suspension, Outcome::Refused, &why)
                    .await;
            return send(
                &tx,
                flow,
                finished("refused", format!("{why} ({where_})"), false),
            );
        }
        if let Some(why) = prepared.preflight.refusal(attempt.owner_handled()) {
            return send(&tx, flow, refuse(&ctx, &mut record, why).await);
        }
        let client = &ctx.connection.client;
        let mut attempt = Box::new(attempt);
        let result = match dry_run(client, &attempt.prepared.plan).await {
            Ok(result) => Ok(result.passed),
            Err(err) => {
                record.dry_run = err.to_string();
                record.outcome = err.outcome();
                let where_ = audited(&ctx, &mut record, None).await;
                Err(format!("{err} ({where_})"))
            }
        };
        // Both writes pass the server's dry run before either is made.
        let result = match (result, attempt.suspension.as_mut()) {
            (Ok(passed), Some(step)) => {
                match suspend::patch(client, &step.suspension, true).await {
                    Ok(text) => {
                        step.dry_run = Some(text);
                        Ok(passed)
                    }
                    Err(why) => {
                        record.dry_run = passed.summary().to_string();
                        let mut suspension =
                            suspend_audit::record_for(&mut record, &step.suspension);
                        suspension.dry_run = why.clone();
                        let why = format!("the suspension's dry run failed: {why}");
                        let where_ = audited_unsuspended(
                            &ctx,
                            &mut record,
                            &mut suspension,
                            Outcome::Failed,
                            &why,
                        )
                        .await;
                        Err(format!("{why} ({where_})"))
                    }
                }
            }
            (result, _) => result,
        };
        send(&tx, flow, RollbackNews::DryRan { attempt, result });
    });
}

/// Steps 7–9: the apply under the pre-flight's clearance (which needs this plan's confirmation
/// and passed dry run) and the live resourceVersion, the audit (any outcome), then verification
/// through a watch.
pub fn spawn_apply(
    ctx: RollbackContext,
    attempt: Attempt,
    passed: DryRunPassed,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let flow = attempt.flow;
        let prepared = &attempt.prepared;
        let mut record = record(&ctx, prepared, attempt.confirmation.reason());
        record.dry_run = passed.summary().to_string();
        let suspended = link_suspension(&attempt, &mut record);
        let clearance =
            match prepared
                .preflight
                .clear(attempt.owner_handled(), &attempt.confirmation, &passed)
            {
                Ok(clearance) => clearance,
                Err(why) => return send(&tx, flow, refuse(&ctx, &mut record, why).await),
            };
        record.acknowledged_owner = clearance.acknowledged_owner.clone();
        if !suspended.is_empty() {
            // Named where it was found, as the suspension's record names it.
            record.acknowledged_owner = attempt
                .suspension
                .as_ref()
                .map(|step| suspend::resolved(&step.suspension.owner).describe());
        }
        let client = &ctx.connection.client;
        let applied = match apply(client, &prepared.plan, &clearance).await {
            Ok(applied) => applied,
            Err(err) => {
                record.apply = err.to_string();
                record.outcome = err.outcome();
                if matches!(record.outcome, Outcome::Failed | Outcome::Conflict) {
                    let events = prepared.preflight.events.as_ref();
                    let note = event::emit(client, events, &prepared.plan, None, &record).await;
                    record.apply = format!("{}; {note}", record.apply);
                }
                let where_ = audited(&ctx, &mut record, None).await;
                let conflict = record.outcome == Outcome::Conflict;
                let outcome = record.outcome.as_str();
                return send(
                    &tx,
                    flow,
                    finished(outcome, format!("{suspended}{err} ({where_})"), conflict),
                );
            }
        };
        record.apply = applied.summary();
        record.to_resource_version = applied.resource_version.clone();
        record.outcome = Outcome::Done;
        let events = prepared.preflight.events.as_ref();
        let note = event::emit(
            client,
            events,
            &prepared.plan,
            Some(&applied.object),
            &record,
        )
        .await;
        record.apply = format!("{}; {note}", record.apply);
        let where_ = audited(&ctx, &mut record, Some(&applied.written())).await;
        let detail = match verify(client, &prepared.plan, &applied, VERIFY_WITHIN).await {
            Ok(seen) => format!(
                "{suspended}{}; the watch showed it after {} ms; {note} ({where_})",
                applied.summary(),
                seen.elapsed.as_millis()
            ),
            Err(err) => format!(
                "{suspended}{} but not verified: {err}; {note} ({where_})",
                applied.summary()
            ),
        };
        send(&tx, flow, finished("done", detail, false));
    });
}

/// After a suspension, the rollback's record is the one the suspension's already links to: its
/// uid and link are set; the suspension's note for the screen ("" without one).
fn link_suspension(attempt: &Attempt, record: &mut AuditRecord) -> String {
    let Some(written) = attempt.suspension.as_ref().and_then(|s| s.written.as_ref()) else {
        return String::new();
    };
    record.uid = written.rollback_uid.clone();
    record.linked_to = written.suspension_uid.clone();
    format!("{}; ", written.note)
}

/// Before the apply, when the operator chose it: suspends the GitOps owner (both dry runs
/// passed) and audits it, its record and the rollback's linked both ways. Written: the attempt
/// comes back carrying the link, for the apply. Failed: both records end, the policy is not
/// written, and the attempt ends with why.
pub fn spawn_suspend(
    ctx: RollbackContext,
    attempt: Attempt,
    passed: DryRunPassed,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let flow = attempt.flow;
        let mut attempt = Box::new(attempt);
        let mut record = record(&ctx, &attempt.prepared, attempt.confirmation.reason());
        record.dry_run = passed.summary().to_string();
        let Some(step) = attempt.suspension.as_mut() else {
            let why = "no GitOps suspension was chosen".to_string();
            return send(&tx, flow, refuse(&ctx, &mut record, why).await);
        };
        let planned = &step.suspension;
        let mut suspension = suspend_audit::record_for(&mut record, planned);
        suspension.dry_run = step.dry_run.clone().unwrap_or_default();
        match suspend::patch(&ctx.connection.client, planned, false).await {
            Ok(text) => {
                suspension.apply = format!("{text}; {}", suspend::was_text(planned));
                suspension.outcome = Outcome::Done;
                let where_ = audited(&ctx, &mut suspension, None).await;
                let resume = suspend::resume_command(
                    planned.owner.tool,
                    &planned.namespace,
                    &planned.owner.name,
                    &planned.before.to_string(),
                );
                step.written = Some(SuspensionWritten {
                    rollback_uid: record.uid.clone(),
                    suspension_uid: suspension.uid.clone(),
                    note: format!(
                        "{}: {text} ({where_}; resume it when fixed: {resume})",
                        planned.summary
                    ),
                });
                send(&tx, flow, RollbackNews::Suspended { attempt, passed });
            }
            Err(why) => {
                suspension.apply = why.clone();
                let why = format!("the suspension failed: {why}");
                let where_ =
                    audited_unsuspended(&ctx, &mut record, &mut suspension, Outcome::Failed, &why)
                        .await;
                let detail = format!("{why}; the policy was NOT written ({where_})");
                send(&tx, flow, finished("failed", detail, false));
            }
        }
    });
}

/// Audits an attempt that ends without an apply: the operator left after the dry run
/// (`in_flight: None`), or while a step was in flight, or a dry run answered a flow nobody is on
/// any more (`why`).
pub fn spawn_audit_unapplied(ctx: RollbackContext, attempt: Attempt, ending: Unapplied) {
    tokio::spawn(async move {
        let mut record = record(&ctx, &attempt.prepared, attempt.confirmation.reason());
        record.dry_run = ending.dry_run;
        match ending.in_flight {
            Some(step) => {
                record.apply = format!(
                    "not attempted by the console: the operator left ({}) while {step} was in flight; \
                     a write in flight audits its own outcome",
                    attempt.flow
                );
                record.outcome = Outcome::Abandoned;
            }
            None => {
                record.apply = format!("not attempted: {}", ending.why);
                record.outcome = Outcome::DryRun;
            }
        }
        audited(&ctx, &mut record, None).await;
    });
}

/// How an attempt ended without an apply (see [`spawn_audit_unapplied`]).
pub struct Unapplied {
    pub dry_run: String,
    pub in_flight: Option<String>,
    pub why: String,
}

fn finished(outcome: &str, detail: String, replan: bool) -> RollbackNews {
    RollbackNews::Finished {
        outcome: outcome.to_string(),
        detail,
        replan,
    }
}

/// Reads the audit's GitOps suspensions, asks the cluster which are still in place, and answers
/// with their status lines (none when there is no journal or the audit cannot be read).
pub fn spawn_reminders(ctx: RollbackContext, tx: &mpsc::UnboundedSender<Msg>) {
    let tx = tx.clone();
    tokio::spawn(async move {
        // The journal is read before any await: its connection stays on one thread.
        let records = match ctx
            .journal()
            .and_then(|j| audit::records(&j, None).map_err(|e| e.to_string()))
        {
            Ok(records) => records,
            Err(_) => return,
        };
        let found = reminders::reminders(&ctx.connection.client, &records).await;
        let now = Timestamp::now();
        let lines = found.iter().map(|r| r.status_line(now)).collect();
        let _ = tx.send(Msg::Journal(JournalNews::GitOpsReminders(lines)));
    });
}

/// Why the live policy could not be read, in a sentence: the API server's message, not the
/// error's debug form; a 403 says the rollback stops there (a Role in other namespaces).
fn unreadable(policy: &PolicyKey, err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 403 => format!(
            "you may not read {policy}, so it cannot be rolled back and nothing was written: {}",
            status.message
        ),
        kube::Error::Api(status) => format!(
            "cannot read {policy}: {} ({} {})",
            status.message, status.code, status.reason
        ),
        other => format!("cannot read {policy}: {other}"),
    }
}

#[cfg(test)]
mod unreadable_tests {
    use super::*;

    #[test]
    fn a_forbidden_read_is_one_sentence_with_the_servers_reason() {
        let status = kube::core::Status {
            code: 403,
            message: "networkpolicies.networking.k8s.io \"allow-dns\" is forbidden".into(),
            reason: "Forbidden".into(),
            ..kube::core::Status::default()
        };
        let policy = PolicyKey::network("globex-web", "allow-dns");
        let text = unreadable(&policy, &kube::Error::Api(Box::new(status)));
        assert_eq!(
            text,
            "you may not read globex-web/allow-dns, so it cannot be rolled back and nothing was \
             written: networkpolicies.networking.k8s.io \"allow-dns\" is forbidden"
        );
    }
}
