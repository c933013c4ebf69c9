//! Where each part of the screen goes. Shared by `view` (to draw) and `update` (to map mouse
//! clicks to rows), so the two always agree.

use ratatui::layout::{Constraint, Layout, Rect};

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
