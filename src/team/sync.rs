//! The team's history into the local journal: before a policy's history is shown or a rollback
//! planned, its revisions on the recorder are imported (the export's merge: deduped by
//! resourceVersion, renumbered when older revisions come in), and its team audit records are
//! fetched to be shown with the local ones. The local journal stays the cache and the fallback.

use std::path::Path;

use super::client::{TeamClient, TeamError};
use crate::history::{ImportReport, Journal, PolicyKey};
use crate::rollback::audit::AuditRecord;

/// What the team added to a policy's history.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamHistory {
    pub imported: ImportReport,
    /// The team's audit records of the policy.
    pub audit: Vec<AuditRecord>,
}

/// Fetches the policy's revisions and audit from the recorder and imports the revisions into
/// the journal at `journal` (created if missing).
pub async fn sync_policy(
    team: &TeamClient,
    journal: &Path,
    key: &PolicyKey,
) -> Result<TeamHistory, TeamError> {
    let (revisions, audit) = tokio::join!(team.revisions(key), team.audit(key));
    let revisions = revisions?;
    let audit = audit?;
    let path = journal.to_path_buf();
    let imported = tokio::task::spawn_blocking(move || {
        let mut journal = Journal::open(&path).map_err(|e| e.to_string())?;
        journal
            .import(&mut revisions.as_ref())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| TeamError::Failed(e.to_string()))?
    .map_err(|e| TeamError::Failed(format!("the team's revisions could not be merged: {e}")))?;
    Ok(TeamHistory { imported, audit })
}

/// The local records and the team's, each once (by uid), in time order.
pub fn merge_audit(local: Vec<AuditRecord>, team: Vec<AuditRecord>) -> Vec<AuditRecord> {
    let mut merged = local;
    for record in team {
        let known = record.uid.is_some()
            && merged
                .iter()
                .any(|r| r.uid.is_some() && r.uid == record.uid);
        if !known {
            merged.push(record);
        }
    }
    merged.sort_by(|a, b| a.at.cmp(&b.at));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollback::audit::Outcome;

    fn record(uid: &str, at: &str, actor: &str) -> AuditRecord {
        AuditRecord {
            id: None,
            at: at.into(),
            actor: actor.into(),
            context: "c".into(),
            cluster: "s".into(),
            object: PolicyKey::network("ns", "p"),
            kind: "revert".into(),
            from_revision: None,
            to_revision: None,
            from_resource_version: None,
            to_resource_version: None,
            journal_revision: None,
            reason: "r".into(),
            acknowledged_owner: None,
            dry_run: String::new(),
            apply: String::new(),
            outcome: Outcome::Done,
            uid: Some(uid.into()),
            linked_to: None,
        }
    }

    #[test]
    fn team_records_join_local_ones_once_in_time_order() {
        let local = vec![record("a", "2026-01-01T00:00:02.000Z", "me")];
        let team = vec![
            record("a", "2026-01-01T00:00:02.000Z", "palisade-demo"),
            record("b", "2026-01-01T00:00:01.000Z", "alice"),
        ];
        let merged = merge_audit(local, team);
        let actors: Vec<&str> = merged.iter().map(|r| r.actor.as_str()).collect();
        assert_eq!(actors, ["alice", "me"]);
    }
}
