//! Moving around the tenants tree and scrolling text panes.

use std::borrow::Cow;
use std::collections::HashSet;

use super::action::Action;
use super::state::State;
use super::tree::{NodePath, TenantTree};

/// The tree as shown: filtered by `/` (with every node open, so matches are visible) or whole.
pub fn shown_tree(state: &State) -> (Cow<'_, TenantTree>, Cow<'_, HashSet<NodePath>>) {
    if state.tree_filter.is_empty() {
        return (Cow::Borrowed(&state.tree), Cow::Borrowed(&state.nav.opened));
    }
    let tree = state.tree.filtered(&state.tree_filter);
    let opened = tree.expandable_paths().into_iter().collect();
    (Cow::Owned(tree), Cow::Owned(opened))
}

pub fn scroll(offset: u16, action: Action, page: u16) -> u16 {
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

pub fn navigate_tree(state: &mut State, action: Action) {
    // What the actions below need of the tree, taken before they change `state.nav` (a copy
    // of the whole tree per key press was a visible delay at 100k pods).
    let (rows, selected_has_children, expandable) = {
        let (tree, opened) = shown_tree(state);
        let expandable = (action == Action::ExpandAll).then(|| tree.expandable_paths());
        let rows = tree.visible_paths(&opened);
        (rows, tree.has_children(&state.nav.selected), expandable)
    };
    if rows.is_empty() {
        return;
    }
    let current = rows.iter().position(|p| *p == state.nav.selected);
    let index = current.unwrap_or(0);
    let last = rows.len() - 1;
    let page = usize::from(super::layout::page_rows(state).max(1));
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
            let open = selected_has_children;
            (open && !state.nav.opened.insert(selected)).then_some((index + 1).min(last))
        }
        Action::Collapse | Action::Back => {
            if action == Action::Collapse && state.nav.opened.remove(&selected) {
                None
            } else {
                parent(&selected).and_then(|p| rows.iter().position(|r| *r == p))
            }
        }
        Action::Toggle => {
            if selected_has_children && !state.nav.opened.remove(&selected) {
                state.nav.opened.insert(selected);
            }
            None
        }
        Action::ExpandAll => {
            state.nav.opened.extend(expandable.into_iter().flatten());
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

/// Puts the cursor on `path` for the operator.
pub fn select(state: &mut State, path: NodePath) {
    state.nav.chosen = true;
    place(state, path);
}

fn place(state: &mut State, path: NodePath) {
    if state.nav.selected != path {
        state.nav.selected = path;
        state.detail_scroll = 0;
    }
}

fn parent(path: &[String]) -> Option<NodePath> {
    (path.len() > 1).then(|| path[..path.len() - 1].to_vec())
}

/// After the tree changes, keep the selected node, or its nearest surviving ancestor; a cursor
/// nobody moved stays on the first row.
pub fn keep_selection(state: &mut State) {
    let mut path = if state.nav.chosen {
        state.nav.selected.clone()
    } else {
        Vec::new()
    };
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
    place(state, path);
}
