//! Where each part of the screen goes. Shared by `view` (to draw) and `update` (to map mouse
//! clicks to rows), so the two always agree.

use ratatui::layout::{Constraint, Layout, Rect};

use super::state::State;

pub struct ScreenAreas {
    pub header: Rect,
    pub body: Rect,
    pub warnings: Rect,
    pub status: Rect,
    pub hints: Rect,
}

pub fn screen_areas(area: Rect, has_warnings: bool) -> ScreenAreas {
    let [header, body, warnings, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(u16::from(has_warnings)),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    ScreenAreas {
        header,
        body,
        warnings,
        status,
        hints,
    }
}

/// Rows the guided tour's panel takes under the screen while the tour runs.
pub const TOUR_PANEL_ROWS: u16 = 8;

/// Splits the body into the screen and the tour's panel: none when the tour is not running,
/// or when the body is too short to give it room.
pub fn tour_split(body: Rect, touring: bool) -> (Rect, Option<Rect>) {
    if !touring || body.height < TOUR_PANEL_ROWS * 2 {
        return (body, None);
    }
    let [screen, panel] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(TOUR_PANEL_ROWS)]).areas(body);
    (screen, Some(panel))
}

/// The whole terminal, and the body's part of it that the screen (not the tour) draws in.
pub fn screen_body(state: &State) -> (Rect, Rect) {
    let (area, screen, _) = split_terminal(state);
    (area, screen)
}

/// Rows a page-up or page-down moves: the lists' rows, less the tour's panel while it shows
/// (a page of the whole body jumped past rows the panel hid).
pub fn page_rows(state: &State) -> u16 {
    let rows = state.session.viewport_rows;
    match split_terminal(state).2 {
        Some(_) => rows.saturating_sub(TOUR_PANEL_ROWS).max(1),
        None => rows,
    }
}

fn split_terminal(state: &State) -> (Rect, Rect, Option<Rect>) {
    let (width, height) = state.session.terminal_size;
    let area = Rect::new(0, 0, width, height);
    let body = screen_areas(area, state.has_warning_line()).body;
    let (screen, panel) = tour_split(body, state.session.tour.step().is_some());
    (area, screen, panel)
}

/// The tenants screen: tree on the left, detail on the right.
pub fn tenants_split(body: Rect) -> [Rect; 2] {
    Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(body)
}

/// The window of `len` rows that fits `height`, keeping `selected` in view (as the tree and
/// table widgets scroll).
pub fn window(len: usize, selected: usize, height: usize) -> std::ops::Range<usize> {
    let height = height.max(1);
    let start = selected
        .saturating_sub(height - 1)
        .min(len.saturating_sub(height));
    start..(start + height).min(len)
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn window_keeps_the_selection_visible() {
        assert_eq!(window(100, 0, 10), 0..10);
        assert_eq!(window(100, 15, 10), 6..16);
        assert_eq!(window(100, 99, 10), 90..100);
        assert_eq!(window(3, 2, 10), 0..3);
        assert_eq!(window(0, 0, 10), 0..0);
    }
}
