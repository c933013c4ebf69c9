//! The one place state changes: `update(&mut State, Msg) -> Vec<Effect>`. Pure: no IO, no clock.

use super::action::{Action, KeyContext};
use super::msg::{Effect, Msg, WatchEvent};
use super::state::{Focus, State, SyncState};
use super::tree::{NodePath, TenantTree};
use crate::config::Resolution;
use crate::config::keys::{KeyCodeName, KeyPress};
use crate::model::ResourceKind;

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => {
            // Esc abandons an unfinished chord (and does nothing else).
            if key == KeyPress::plain(KeyCodeName::Esc) && !state.pending_keys.is_empty() {
                state.pending_keys.clear();
                return Vec::new();
            }
            let context = key_context(state);
            state.pending_keys.push(key);
            match state.keymap.resolve(context, &state.pending_keys) {
                Resolution::Action(action) => {
                    state.pending_keys.clear();
                    perform(state, context, action)
                }
                Resolution::Pending => Vec::new(),
                Resolution::Unbound => {
                    state.pending_keys.clear();
                    Vec::new()
                }
            }
        }
        Msg::Resize { height, .. } => {
            // Title, borders, status and hint lines take six rows.
            state.viewport_rows = height.saturating_sub(6).max(1);
            Vec::new()
        }
        Msg::Watch { kind, event } => apply_watch(state, kind, event),
        Msg::Analyzed(analysis) => {
            state.analysis = Some(analysis);
            state.analysis_job.running = false;
            rebuild_tree(state);
            if std::mem::take(&mut state.analysis_job.stale) {
                request_analysis(state)
            } else {
                Vec::new()
            }
        }
    }
}

/// The keymap context the next key press is resolved in.
pub fn key_context(state: &State) -> KeyContext {
    if state.help.is_some() {
        KeyContext::Help
    } else {
        match state.focus {
            Focus::Tree => KeyContext::Tree,
            Focus::Detail => KeyContext::Detail,
        }
    }
}

fn perform(state: &mut State, context: KeyContext, action: Action) -> Vec<Effect> {
    match (context, action) {
        (_, Action::Quit) => {
            state.quitting = true;
            return vec![Effect::Quit];
        }
        (KeyContext::Help, Action::Back | Action::Help) => state.help = None,
        (KeyContext::Help, other) => {
            state.help = Some(scroll(state.help.unwrap_or(0), other, state.viewport_rows))
        }
        (_, Action::Help) => state.help = Some(0),
        (_, Action::NextPane) => {
            state.focus = match state.focus {
                Focus::Tree => Focus::Detail,
                Focus::Detail => Focus::Tree,
            }
        }
        (KeyContext::Detail, Action::Back) => state.focus = Focus::Tree,
        (KeyContext::Detail, other) => {
            state.detail_scroll = scroll(state.detail_scroll, other, state.viewport_rows)
        }
        (_, tree_action) => navigate_tree(state, tree_action),
    }
    Vec::new()
}

fn scroll(offset: u16, action: Action, page: u16) -> u16 {
    match action {
        Action::Down => offset.saturating_add(1),
        Action::Up => offset.saturating_sub(1),
        Action::PageDown => offset.saturating_add(page),
        Action::PageUp => offset.saturating_sub(page),
        Action::Top => 0,
        // The view clamps to the content length.
        Action::Bottom => u16::MAX,
        _ => offset,
    }
}

fn navigate_tree(state: &mut State, action: Action) {
    let rows = state.tree.visible_paths(&state.nav.opened);
    if rows.is_empty() {
        return;
    }
    let current = rows.iter().position(|p| *p == state.nav.selected);
    let index = current.unwrap_or(0);
    let last = rows.len() - 1;
    let page = usize::from(state.viewport_rows.max(1));
    let selected = state.nav.selected.clone();
    let target = match action {
        Action::Down => Some((index + usize::from(current.is_some())).min(last)),
        Action::Up => Some(index.saturating_sub(1)),
        Action::Top => Some(0),
        Action::Bottom => Some(last),
        Action::PageDown => Some((index + page).min(last)),
        Action::PageUp => Some(index.saturating_sub(page)),
        Action::Expand => {
            // Opens a closed node; on an open one, steps into the first child, as file trees do.
            let has_children = state.tree.has_children(&selected);
            (has_children && !state.nav.opened.insert(selected)).then_some((index + 1).min(last))
        }
        Action::Collapse | Action::Back => {
            if action == Action::Collapse && state.nav.opened.remove(&selected) {
                None
            } else {
                parent(&selected).and_then(|p| rows.iter().position(|r| *r == p))
            }
        }
        Action::Toggle => {
            if state.tree.has_children(&selected) && !state.nav.opened.remove(&selected) {
                state.nav.opened.insert(selected);
            }
            None
        }
        Action::ExpandAll => {
            state.nav.opened.extend(state.tree.expandable_paths());
            None
        }
        Action::CollapseAll => {
            state.nav.opened.clear();
            state.nav.selected.truncate(1);
            None
        }
        _ => None,
    };
    if let Some(row) = target {
        select(state, rows[row].clone());
    } else if current.is_none() {
        select(state, rows[0].clone());
    }
}

fn select(state: &mut State, path: NodePath) {
    if state.nav.selected != path {
        state.nav.selected = path;
        state.detail_scroll = 0;
    }
}

fn parent(path: &[String]) -> Option<NodePath> {
    (path.len() > 1).then(|| path[..path.len() - 1].to_vec())
}

fn apply_watch(state: &mut State, kind: ResourceKind, event: WatchEvent) -> Vec<Effect> {
    let changed = match event {
        WatchEvent::Restarted => {
            state.sync.insert(kind, SyncState::Syncing);
            false
        }
        WatchEvent::Failed(error) => {
            state.sync.insert(kind, SyncState::Stale(error));
            false
        }
        WatchEvent::Listed(objects) => {
            state.cluster.replace_kind(kind, objects);
            state.sync.insert(kind, SyncState::Live);
            true
        }
        WatchEvent::Applied(object) => {
            state.cluster.upsert(*object);
            true
        }
        WatchEvent::Deleted { namespace, name } => {
            state.cluster.remove(kind, namespace.as_deref(), &name);
            true
        }
    };
    if !changed {
        return Vec::new();
    }
    rebuild_tree(state);
    // Analysing a half-listed cluster would flash wrong findings; wait until every kind is live.
    if state.is_live() {
        request_analysis(state)
    } else {
        Vec::new()
    }
}

fn request_analysis(state: &mut State) -> Vec<Effect> {
    if state.analysis_job.running {
        state.analysis_job.stale = true;
        Vec::new()
    } else {
        state.analysis_job.running = true;
        vec![Effect::Analyze]
    }
}

fn rebuild_tree(state: &mut State) {
    state.tree = TenantTree::build(
        &state.cluster,
        &state.tenant_rules,
        state.analysis.as_deref(),
    );
    keep_selection(state);
}

/// After the tree changes, keep the selected node, or its nearest surviving ancestor.
fn keep_selection(state: &mut State) {
    let mut path = state.nav.selected.clone();
    while !path.is_empty() && state.tree.find(&path).is_none() {
        path.pop();
    }
    if path.is_empty() {
        path = state
            .tree
            .visible_paths(&state.nav.opened)
            .into_iter()
            .next()
            .unwrap_or_default();
    }
    select(state, path);
}
