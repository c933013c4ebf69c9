//! Mouse input: the wheel scrolls like up/down; a click selects the row under the pointer in the
//! tenants tree and the tables.

use ratatui::layout::{Position, Rect};

use super::action::Action;
use super::layout::{screen_areas, tenants_split, window};
pub use super::msg::MouseInput;
use super::rows::{selected_index, table_keys};
use super::screen::Screen;
use super::state::{Focus, State};
use super::tree_nav::{select, shown_tree};

/// Returns the action a wheel turn stands for; clicks are handled here directly.
pub fn mouse(state: &mut State, input: MouseInput) -> Option<Action> {
    match input {
        MouseInput::WheelUp => Some(Action::Up),
        MouseInput::WheelDown => Some(Action::Down),
        MouseInput::Click { column, row } => {
            click(state, Position::new(column, row));
            None
        }
    }
}

fn click(state: &mut State, at: Position) {
    let (width, height) = state.session.terminal_size;
    let body = screen_areas(Rect::new(0, 0, width, height), state.has_warning_line()).body;
    match state.screen.clone() {
        Screen::Tenants => {
            let [tree, detail] = tenants_split(body);
            if detail.contains(at) {
                state.focus = Focus::Detail;
            } else if let Some(row) = inner_row(tree, at, 0) {
                state.focus = Focus::Tree;
                let (shown, opened) = shown_tree(state);
                let rows = shown.visible_paths(&opened);
                let selected = rows
                    .iter()
                    .position(|p| *p == state.nav.selected)
                    .unwrap_or(0);
                let visible = window(
                    rows.len(),
                    selected,
                    usize::from(tree.height.saturating_sub(2)),
                );
                if let Some(path) = rows.get(visible.start + row).cloned() {
                    select(state, path);
                }
            }
        }
        Screen::Policies(table) | Screen::Findings(table) => {
            let Some(row) = inner_row(body, at, 1) else {
                return;
            };
            let keys = table_keys(state, &table);
            let selected = selected_index(&keys, table.selected.as_ref());
            let visible = window(
                keys.len(),
                selected,
                usize::from(body.height.saturating_sub(3)),
            );
            if let Some(key) = keys.get(visible.start + row).cloned()
                && let Screen::Policies(t) | Screen::Findings(t) = &mut state.screen
            {
                t.selected = Some(key);
            }
        }
        Screen::Flows => {
            let Some(row) = inner_row(body, at, 1) else {
                return;
            };
            let flows = &mut state.flows;
            let visible = window(
                flows.rows.len(),
                flows.cursor,
                usize::from(body.height.saturating_sub(3)),
            );
            if visible.start + row < visible.end {
                flows.cursor = visible.start + row;
            }
        }
        _ => {}
    }
}

/// The row index inside a bordered panel (below `header_rows` header lines), if `at` is on one.
fn inner_row(area: Rect, at: Position, header_rows: u16) -> Option<usize> {
    let inner = Rect::new(
        area.x + 1,
        area.y + 1 + header_rows,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2 + header_rows),
    );
    inner.contains(at).then(|| usize::from(at.y - inner.y))
}
