//! `palisade gitops suspended [-o text|json]`: the GitOps owners Palisade suspended before a
//! rollback (audit records of kind `suspend`, outcome done) that the cluster still shows
//! suspended, with who, when, why and the command to resume each. Exit 0, also when there are
//! none; an owner that cannot be read is listed with the reason.

use std::collections::BTreeMap;
use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr};
use k8s_openapi::jiff::Timestamp;

use super::history::journal_path;
use crate::cli::{ClusterArgs, GitOpsCommand, GitOpsOutput, GitOpsSuspendedArgs};
use crate::cluster::{connect, resolve_kubeconfig};
use crate::history::Journal;
use crate::rollback::audit::{self, AuditRecord, Outcome};
use crate::rollback::owner::GitOpsOwner;
use crate::rollback::suspend;

pub async fn run(command: &GitOpsCommand, cluster: &ClusterArgs) -> Result<ExitCode> {
    match command {
        GitOpsCommand::Suspended(args) => suspended(args, cluster).await,
    }
}

/// One suspension still in place.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reminder {
    pub tool: crate::rollback::GitOpsTool,
    pub namespace: String,
    pub name: String,
    pub suspended_by: String,
    pub at: String,
    /// The policy whose rollback needed it.
    pub policy: String,
    pub reason: String,
    /// The suspension's audit uid.
    pub uid: Option<String>,
    pub resume: String,
    /// Why the live state is unknown (the owner could not be read), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

impl Reminder {
    /// "GitOps: flux-system/apps suspended by alice 40 min ago — resume when fixed".
    pub fn status_line(&self, now: Timestamp) -> String {
        format!(
            "GitOps: {}/{} suspended by {} {} — resume when fixed",
            self.namespace,
            self.name,
            self.suspended_by,
            ago(&self.at, now)
        )
    }
}

fn ago(at: &str, now: Timestamp) -> String {
    match at.parse::<Timestamp>() {
        Ok(t) => {
            let minutes = (now.as_second() - t.as_second()).max(0) / 60;
            match minutes {
                0 => "just now".to_string(),
                m if m < 120 => format!("{m} min ago"),
                m => format!("{} h ago", m / 60),
            }
        }
        Err(_) => format!("at {at}"),
    }
}

/// The newest successful suspension per owner (pure), from audit records oldest first.
pub fn newest_suspensions(records: &[AuditRecord]) -> Vec<(GitOpsOwner, AuditRecord)> {
    let mut newest: BTreeMap<String, (GitOpsOwner, AuditRecord)> = BTreeMap::new();
    for record in records {
        if record.kind != suspend::AUDIT_KIND || record.outcome != Outcome::Done {
            continue;
        }
        let Some(owner) = record
            .acknowledged_owner
            .as_deref()
            .and_then(suspend::owner_from_audit)
        else {
            continue;
        };
        newest.insert(owner.describe(), (owner, record.clone()));
    }
    newest.into_values().collect()
}

/// The reminders: each newest suspension whose owner the cluster still shows suspended (or
/// cannot be read).
pub async fn reminders(client: &kube::Client, journal: &Journal) -> Result<Vec<Reminder>> {
    let records = audit::records(journal, None).wrap_err("cannot read the audit")?;
    let mut out = Vec::new();
    for (owner, record) in newest_suspensions(&records) {
        let namespace = suspend::namespace(&owner);
        let unknown = match suspend::get_owner(client, &owner).await {
            Ok(Some(live)) if suspend::is_reconciling(owner.tool, &live) => continue,
            Ok(Some(_)) => None,
            // Deleted: nothing left to resume.
            Ok(None) => continue,
            Err(why) => Some(why),
        };
        out.push(Reminder {
            tool: owner.tool,
            resume: suspend::resume_command(
                owner.tool,
                &namespace,
                &owner.name,
                &suspend::was_from_audit(&record.apply),
            ),
            namespace,
            name: owner.name.clone(),
            suspended_by: record.actor.clone(),
            at: record.at.clone(),
            policy: record.object.to_string(),
            reason: record.reason.clone(),
            uid: record.uid.clone(),
            unknown,
        });
    }
    Ok(out)
}

async fn suspended(args: &GitOpsSuspendedArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let path = journal_path(args.journal.as_deref(), cluster)?;
    let journal = match Journal::open_existing(&path) {
        Ok(journal) => Some(journal),
        Err(crate::history::Error::Missing(_)) => None,
        Err(err) => {
            return Err(err).wrap_err_with(|| format!("cannot open the journal {}", path.display()));
        }
    };
    let found = match journal {
        None => Vec::new(),
        Some(journal) => {
            let source = resolve_kubeconfig(cluster.kubeconfig.as_deref())?;
            let connection = connect(source, cluster.context.as_deref()).await?;
            reminders(&connection.client, &journal).await?
        }
    };
    let now = Timestamp::now();
    match args.output {
        GitOpsOutput::Json => println!("{}", serde_json::to_string_pretty(&found)?),
        GitOpsOutput::Text if found.is_empty() => {
            println!("no GitOps suspension made by palisade is still in place")
        }
        GitOpsOutput::Text => {
            for r in &found {
                println!("{}", r.status_line(now));
                println!(
                    "  {} for the rollback of {}: {}",
                    r.at, r.policy, r.reason
                );
                if let Some(why) = &r.unknown {
                    println!("  state unknown: {why}");
                }
                println!("  resume: {}", r.resume);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::PolicyKey;

    fn record(kind: &str, outcome: Outcome, owner: &str, at: &str) -> AuditRecord {
        AuditRecord {
            id: None,
            at: at.to_string(),
            actor: "alice".into(),
            context: "c".into(),
            cluster: "u".into(),
            object: PolicyKey::network("globex-web", "allow-dns"),
            kind: kind.into(),
            from_revision: None,
            to_revision: None,
            from_resource_version: None,
            to_resource_version: None,
            journal_revision: None,
            reason: "INC-1".into(),
            acknowledged_owner: Some(owner.into()),
            dry_run: String::new(),
            apply: "suspended; was: false".into(),
            outcome,
            uid: Some("u1".into()),
            linked_to: None,
        }
    }

    #[test]
    fn the_newest_done_suspension_per_owner() {
        let flux = "Flux Kustomization flux-system/globex-policies";
        let records = [
            record("suspend", Outcome::Done, flux, "2026-01-01T10:00:00.000Z"),
            record("suspend", Outcome::Done, flux, "2026-01-01T11:00:00.000Z"),
            record("suspend", Outcome::Failed, "Argo CD Application argocd/x", "t"),
            record("revert", Outcome::Done, flux, "t"),
        ];
        let found = newest_suspensions(&records);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.name, "globex-policies");
        assert_eq!(found[0].1.at, "2026-01-01T11:00:00.000Z");
    }

    #[test]
    fn the_status_line_says_who_and_how_long_ago() {
        let r = Reminder {
            tool: crate::rollback::GitOpsTool::Flux,
            namespace: "flux-system".into(),
            name: "apps".into(),
            suspended_by: "alice".into(),
            at: "2026-01-01T10:00:00.000Z".into(),
            policy: "a/b".into(),
            reason: "x".into(),
            uid: None,
            resume: String::new(),
            unknown: None,
        };
        let now: Timestamp = "2026-01-01T10:40:00Z".parse().unwrap();
        assert_eq!(
            r.status_line(now),
            "GitOps: flux-system/apps suspended by alice 40 min ago — resume when fixed"
        );
    }
}
