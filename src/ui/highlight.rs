//! The characters a `/` filter matched, drawn in the `fuzzy_match` style over the text's own.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

use crate::config::{Theme, Token};

/// `text` as spans: the graphemes at `positions` (ascending, see `app::fuzzy::indices`) in
/// `base` with `fuzzy_match` over it, the rest in `base`.
pub(super) fn matched(
    text: &str,
    positions: &[usize],
    base: Style,
    theme: &Theme,
) -> Line<'static> {
    if positions.is_empty() {
        return Line::from(Span::styled(text.to_string(), base));
    }
    let emphasis = base.patch(theme.style(Token::FuzzyMatch));
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_on = false;
    let mut next = positions.iter().peekable();
    for (i, grapheme) in text.graphemes(true).enumerate() {
        let on = next.next_if(|&&p| p == i).is_some();
        if on != run_on && !run.is_empty() {
            let style = if run_on { emphasis } else { base };
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        run_on = on;
        run.push_str(grapheme);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, if run_on { emphasis } else { base }));
    }
    Line::from(spans)
}

/// Positions of `second` shifted to where it starts in `first`, `gap`, `second`.
pub(super) fn joined(first: (&str, &[usize]), gap: &str, second: &[usize]) -> Vec<usize> {
    let offset = first.0.graphemes(true).count() + gap.graphemes(true).count();
    let mut out = first.1.to_vec();
    out.extend(second.iter().map(|i| i + offset));
    out
}
