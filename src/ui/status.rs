//! Header, config warnings, sync status and the key hint bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::State;
use crate::app::action::Action;
use crate::app::state::SyncState;
use crate::app::update::key_context;
use crate::config::{Theme, Token};

pub fn header(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = Line::from(vec![
        Span::styled(" Palisade ", theme.style(Token::Title)),
        Span::styled("│ tenants │ context ", theme.style(Token::Muted)),
        Span::styled(state.context.clone(), theme.style(Token::Accent)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

pub fn warnings(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(first) = state.warnings.first() else {
        return;
    };
    let more = match state.warnings.len() {
        1 => String::new(),
        n => format!(" (+{} more; run `palisade config check`)", n - 1),
    };
    let line = Line::from(Span::styled(
        format!(" ⚠ config: {first}{more}"),
        theme.style(Token::Warn),
    ));
    frame.render_widget(Paragraph::new(line), area);
}

pub fn sync_bar(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(
        format!(" {} ", state.context),
        theme.style(Token::Accent),
    )];
    for (kind, sync) in &state.sync {
        spans.push(Span::styled(" │ ", theme.style(Token::Muted)));
        spans.push(Span::styled(
            format!("{} ", kind.short_name()),
            theme.style(Token::Text),
        ));
        spans.push(match sync {
            SyncState::Live => Span::styled("● live", theme.style(Token::Ok)),
            SyncState::Syncing => Span::styled("◌ syncing", theme.style(Token::Warn)),
            SyncState::Stale(error) => {
                Span::styled(format!("✗ stale: {error}"), theme.style(Token::Error))
            }
        });
    }
    let bar = Paragraph::new(Line::from(spans)).style(theme.style(Token::StatusBar));
    frame.render_widget(bar, area);
}

/// Generated from the active keymap, so it is never out of date.
pub fn hints(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    const SHOWN: [Action; 8] = [
        Action::Help,
        Action::Quit,
        Action::Down,
        Action::Up,
        Action::Toggle,
        Action::Collapse,
        Action::NextPane,
        Action::Back,
    ];
    let context = key_context(state);
    let mut spans = vec![Span::raw(" ")];
    for action in SHOWN {
        let Some(key) = state.keymap.keys_for(context, action).into_iter().next() else {
            continue;
        };
        spans.push(Span::styled(key.to_string(), theme.style(Token::HintKey)));
        spans.push(Span::styled(
            format!(" {}  ", action.name()),
            theme.style(Token::Hint),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
