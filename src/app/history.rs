//! The revision journal as the console sees it: where it is, the newest change per policy (the
//! policies table's CHANGED column), and the history screen of one policy. Pure data; the
//! transitions are in `history_flow.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::action::Action;
use crate::flow::FlowId;
use crate::history::{Change, PolicyKey, Revision};
use crate::rollback::audit::{AuditRecord, Outcome};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct JournalView {
    pub path: Option<PathBuf>,
    pub changes: BTreeMap<PolicyKey, Change>,
    /// The last journal failure, shown on the history screen.
    pub error: Option<String>,
    /// GitOps suspensions Palisade made that are still in place, one status line each
    /// (`rollback::reminders`): on the status bar and `:timeline`.
    pub gitops_reminders: Vec<String>,
}

/// One policy's revisions, newest first on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryScreen {
    /// A NetworkPolicy (`NS/NAME`) or a cluster-scoped tier policy (`cnp/NAME`).
    pub policy: PolicyKey,
    /// The load asked last; only its answer is shown.
    pub flow: FlowId,
    /// `None` while the journal thread answers.
    pub revisions: Option<Result<Vec<Revision>, String>>,
    /// The selected revision number.
    pub selected: Option<u32>,
    /// What the team's recorder said: what it added, or why it could not be reached.
    pub team: Option<String>,
    /// The policy's audit records, this journal's and the team's, each once (by uid), oldest
    /// first: who rolled it back (or tried), when, why.
    pub audit: Vec<AuditRecord>,
}

impl HistoryScreen {
    pub fn new(policy: PolicyKey, flow: FlowId) -> HistoryScreen {
        HistoryScreen {
            policy,
            flow,
            revisions: None,
            selected: None,
            team: None,
            audit: Vec::new(),
        }
    }

    /// Adds audit records (the local journal's, or the team's) to those shown.
    pub fn add_audit(&mut self, records: Vec<AuditRecord>) {
        let known = std::mem::take(&mut self.audit);
        self.audit = crate::team::sync::merge_audit(known, records);
    }

    /// The rollbacks that went to `revision` (restored its content), newest first.
    pub fn rollbacks_to(&self, revision: &Revision) -> Vec<&AuditRecord> {
        self.audit
            .iter()
            .rev()
            .filter(|r| r.outcome == Outcome::Done && r.to_revision == Some(revision.number))
            .filter(|r| r.kind != crate::rollback::suspend::AUDIT_KIND)
            .collect()
    }

    /// Revisions newest first, as listed.
    pub fn listed(&self) -> Vec<&Revision> {
        match &self.revisions {
            Some(Ok(revisions)) => revisions.iter().rev().collect(),
            _ => Vec::new(),
        }
    }

    /// The selected revision, or the newest.
    pub fn current(&self) -> Option<&Revision> {
        let listed = self.listed();
        self.selected
            .and_then(|n| listed.iter().find(|r| r.number == n).copied())
            .or_else(|| listed.first().copied())
    }

    /// Up, down, top and bottom move between revisions; other actions are not the screen's.
    pub fn select(&mut self, action: Action) {
        let numbers: Vec<u32> = self.listed().iter().map(|r| r.number).collect();
        let Some(current) = self.current().map(|r| r.number) else {
            return;
        };
        let index = numbers.iter().position(|n| *n == current).unwrap_or(0);
        let last = numbers.len().saturating_sub(1);
        let next = match action {
            Action::Down => (index + 1).min(last),
            Action::Up => index.saturating_sub(1),
            Action::Top => 0,
            Action::Bottom => last,
            _ => return,
        };
        self.selected = numbers.get(next).copied();
    }

    /// The revision before `revision`, to diff against.
    pub fn previous(&self, revision: &Revision) -> Option<&Revision> {
        match &self.revisions {
            Some(Ok(revisions)) => revisions.iter().rev().find(|r| r.number < revision.number),
            _ => None,
        }
    }
}
