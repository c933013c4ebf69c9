//! The help popup, generated from the active keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{centred, panel};
use crate::app::State;
use crate::config::action::KeyContext;
use crate::config::{Theme, Token};

pub fn render(state: &State, theme: &Theme, scroll: u16, frame: &mut Frame, area: Rect) {
    let lines = content(state, theme);
    let popup = centred(area, 80, 80);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel("Help: keys (esc to close)", true, theme))
            .scroll((scroll.min(max_scroll(state, theme, area)), 0)),
        popup,
    );
}

/// How far the popup over `area` scrolls: to its last screenful.
pub fn max_scroll(state: &State, theme: &Theme, area: Rect) -> u16 {
    let popup = centred(area, 80, 80);
    u16::try_from(content(state, theme).len())
        .unwrap_or(u16::MAX)
        .saturating_sub(popup.height.saturating_sub(2))
}

fn content(state: &State, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for context in KeyContext::ALL {
        let bindings = state.session.keymap.bindings(context);
        if bindings.is_empty() {
            continue;
        }
        lines.push(Line::from(Span::styled(
            context.name().to_string(),
            theme.style(Token::Title),
        )));
        for (action, keys) in bindings {
            let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<22}", keys.join(", ")),
                    theme.style(Token::HintKey),
                ),
                Span::styled(action.description().to_string(), theme.style(Token::Text)),
            ]));
        }
        lines.push(Line::default());
    }
    lines
}
