//! The history screen's transitions and the journal thread's news (the data is in
//! `history.rs`). Pure.

use super::history::HistoryScreen;
use super::msg::{Effect, JournalNews};
use super::nav::{self, Navigation};
use super::screen::Screen;
use super::state::State;
use super::timeline_view::TimelineScreen;
use super::tree::NodeTarget;
use crate::history::PolicyKey;
use crate::timeline::EventKind;

pub fn journal_news(state: &mut State, news: JournalNews) -> Vec<Effect> {
    match news {
        JournalNews::Opened(path) => {
            state.journal.path = Some(path);
            // A suspension left from an earlier incident is reminded as soon as the console
            // opens.
            return vec![Effect::LoadGitOpsReminders];
        }
        JournalNews::GitOpsReminders(lines) => state.journal.gitops_reminders = lines,
        JournalNews::Changes(all) => {
            state.journal.changes = *all;
            return follow_history(state);
        }
        JournalNews::ChangesFor(some) => {
            state.journal.changes.extend(*some);
            return follow_history(state);
        }
        JournalNews::Revisions {
            flow,
            policy,
            revisions,
        } => {
            let error = revisions.as_ref().err().cloned();
            for screen in std::iter::once(&mut state.screen).chain(state.back.iter_mut()) {
                if let Screen::History(h) = screen
                    && h.flow == flow
                    && h.policy == policy
                {
                    h.revisions = Some(revisions.clone());
                }
            }
            if error.is_some() {
                state.journal.error = error;
            }
        }
        JournalNews::Team { flow, policy, note } => {
            for screen in std::iter::once(&mut state.screen).chain(state.back.iter_mut()) {
                if let Screen::History(h) = screen
                    && h.flow == flow
                    && h.policy == policy
                {
                    h.team = Some(note.clone());
                }
            }
        }
        JournalNews::Audit {
            flow,
            policy,
            records,
        } => {
            for screen in std::iter::once(&mut state.screen).chain(state.back.iter_mut()) {
                if let Screen::History(h) = screen
                    && h.flow == flow
                    && h.policy == policy
                {
                    h.add_audit(records.clone());
                }
            }
        }
        // The timeline's answer goes to timeline_flow (from `update`, which opens histories).
        JournalNews::Timeline { .. } => {}
        JournalNews::RecentChanges(changes) => super::suspects_flow::changes_loaded(state, changes),
        JournalNews::Failed(error) => {
            state.notice = Some(error.clone());
            state.journal.error = Some(error);
        }
    }
    Vec::new()
}

/// A history on screen follows new revisions of its policy.
fn follow_history(state: &mut State) -> Vec<Effect> {
    if let Screen::History(h) = &mut state.screen {
        let shown = h.listed().first().map_or(0, |r| r.number);
        let newest = state.journal.changes.get(&h.policy).map_or(0, |c| c.number);
        if newest > shown && h.revisions.is_some() {
            let flow = state.session.flows.issue();
            h.flow = flow;
            return vec![Effect::LoadHistory {
                flow,
                policy: h.policy.clone(),
            }];
        }
    }
    Vec::new()
}

/// The policy `:history` without an argument means: the selected tree node or policies row
/// (a row's key is `NS/NAME`, or `cnp/NAME` for a tier policy the cluster has).
pub fn selected_policy(state: &State) -> Option<PolicyKey> {
    match &state.screen {
        Screen::Tenants => match state.tree.find(&state.nav.selected)? {
            NodeTarget::Policy(p) => Some(PolicyKey::Network(p.policy.clone())),
            NodeTarget::Native(n) => Some(PolicyKey::Native(n.policy.clone())),
            _ => None,
        },
        Screen::Policies(table) => {
            let key = table.selected.as_ref()?;
            if let Some(native) = key.strip_prefix("native:") {
                return crate::model::NativeRef::parse(native).map(PolicyKey::Native);
            }
            let network = state
                .cluster
                .policies
                .keys()
                .find(|id| &id.to_string() == key);
            let tier = || state.cluster.tiers.keys().find(|id| &id.to_string() == key);
            match (network, tier()) {
                (Some(id), _) => Some(PolicyKey::Network(id.clone())),
                (None, Some(id)) => Some(PolicyKey::Tier(id.clone())),
                (None, None) => None,
            }
        }
        Screen::History(h) => Some(h.policy.clone()),
        Screen::Timeline(t) => timeline_policy(t),
        _ => None,
    }
}

/// On the timeline: the policy of the policy change or rollback under the cursor, a tier
/// policy's (`cnp/NAME`) included.
fn timeline_policy(timeline: &TimelineScreen) -> Option<PolicyKey> {
    let event = timeline.selected_event()?;
    matches!(event.kind, EventKind::PolicyChange | EventKind::Rollback)
        .then(|| PolicyKey::parse(event.object.as_deref()?))
        .flatten()
}

/// Opens the history of a policy (`NS/NAME`, `cnp/NAME`, `ciliumnp/NS/NAME`, `ccnp/NAME`, ...,
/// or the selected one) and asks the journal for it.
pub fn open(state: &mut State, target: Option<&str>) -> Vec<Effect> {
    let policy = match target {
        Some(text) => match PolicyKey::parse(text) {
            Some(policy) => policy,
            None => {
                state.notice = Some(format!(
                    "`{text}` is not NAMESPACE/NAME, nor cnp/NAME (anp/, banp/), nor \
                     ciliumnp/NAMESPACE/NAME or ccnp/NAME (caliconp/NAMESPACE/NAME, gnp/NAME)"
                ));
                return Vec::new();
            }
        },
        None => match selected_policy(state) {
            Some(policy) => policy,
            None => {
                state.notice = Some(
                    "select a policy first (tree or :policies), or type :history NAMESPACE/NAME or cnp/NAME"
                        .into(),
                );
                return Vec::new();
            }
        },
    };
    open_policy(state, policy)
}

/// The history screen of `policy` (a NetworkPolicy or a tier policy): what `:history` opens.
pub fn open_policy(state: &mut State, policy: PolicyKey) -> Vec<Effect> {
    let step = history_step(state, policy);
    nav::take(state, step)
}

/// The step to the history of `policy`, a NetworkPolicy or a tier policy (a row of the policies
/// table: `PolicyKey::Tier(TierRef)`): the history screen and its journal load, from which `R`,
/// `x` and `u` open the rollback flow. Without an open journal: no step, and a notice.
pub fn history_step(state: &mut State, policy: impl Into<PolicyKey>) -> nav::Step {
    if state.journal.path.is_none() {
        let why = state
            .journal
            .error
            .clone()
            .unwrap_or_else(|| "the journal is not open yet".into());
        state.notice = Some(format!("no revision history: {why}"));
        return nav::Step::default();
    }
    let policy = policy.into();
    let flow = state.session.flows.issue();
    nav::Step::to(
        Navigation::Show(Screen::History(HistoryScreen::new(policy.clone(), flow))),
        vec![Effect::LoadHistory { flow, policy }],
    )
}

/// `R`, `x`, `u` on the history screen: the rollback flow for this policy.
pub fn start_rollback(state: &mut State, action: super::action::Action) -> Vec<Effect> {
    use super::action::Action;
    use crate::rollback::RollbackKind;
    let Screen::History(h) = &state.screen else {
        return Vec::new();
    };
    let current = h.current();
    let kind = match action {
        Action::RemovePolicy => RollbackKind::Remove,
        Action::UndoRollback => RollbackKind::Undo,
        _ => match current {
            None => {
                state.notice = Some("no revision selected".into());
                return Vec::new();
            }
            // A deleted policy comes back as the selected revision (a tombstone: its last spec).
            Some(_) if !is_live(&state.cluster, h) => RollbackKind::Restore {
                revision: current.filter(|r| !r.deleted).map(|r| r.number),
            },
            Some(r) => RollbackKind::Revert { to: r.number },
        },
    };
    let policy = h.policy.clone();
    let step = super::rollback_flow::open(&mut state.session.flows, policy, kind);
    super::nav::take(state, step)
}

/// Whether the policy of a history is on the cluster: in the console's snapshot, or, for a tier
/// or CNI policy (whose kinds the console may not watch: not served, forbidden), as far as the journal
/// knows: its newest revision is not a tombstone. The plan checks the live object either way.
fn is_live(snapshot: &crate::model::ClusterSnapshot, history: &HistoryScreen) -> bool {
    match &history.policy {
        PolicyKey::Network(id) => snapshot.policies.contains_key(id),
        PolicyKey::Tier(id) => {
            snapshot.tiers.contains_key(id) || history.listed().first().is_some_and(|r| !r.deleted)
        }
        PolicyKey::Native(id) => {
            snapshot.natives.contains_key(id)
                || history.listed().first().is_some_and(|r| !r.deleted)
        }
    }
}
