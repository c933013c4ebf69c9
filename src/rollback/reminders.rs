//! Reminders of the GitOps suspensions Palisade made that are still in place: the newest
//! successful `suspend` audit record per owner whose live object still does not reconcile. For
//! `palisade gitops suspended`, the console's status bar and `:timeline`.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use super::audit::{AuditRecord, Outcome};
use super::owner::{GitOpsOwner, GitOpsTool};
use super::suspend;

/// One suspension still in place.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reminder {
    pub tool: GitOpsTool,
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

/// The reminders: each newest suspension in `records` (the audit, oldest first) whose owner the
/// cluster still shows suspended (or that cannot be read).
pub async fn reminders(client: &kube::Client, records: &[AuditRecord]) -> Vec<Reminder> {
    let mut out = Vec::new();
    for (owner, record) in newest_suspensions(records) {
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
    out
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
            record(
                "suspend",
                Outcome::Failed,
                "Argo CD Application argocd/x",
                "t",
            ),
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
            tool: GitOpsTool::Flux,
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
