//! The timeline screen: the same text table as `palisade timeline`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::panel;
use crate::app::suspects::SuspectsView;
use crate::app::suspects_flow::spike_observation;
use crate::app::timeline_view::TimelineScreen;
use crate::config::{Theme, Token};
use crate::timeline::render_text;

/// The timeline, each spike with its likely cause; the GitOps suspensions still in place
/// (`reminders`) follow it.
pub fn render(
    screen: &TimelineScreen,
    suspects: &SuspectsView,
    reminders: &[String],
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let title = match &screen.tenant {
        Some(t) => format!("Timeline of {t} (policy changes, rollbacks, spikes, latency breaches)"),
        None => "Timeline (policy changes, rollbacks, violation spikes, latency breaches)".into(),
    };
    let mut lines: Vec<Line> = Vec::new();
    lines.extend(match &screen.events {
        None => vec![Line::from(Span::styled(
            "reading the journal…",
            theme.style(Token::Muted),
        ))],
        Some(Err(why)) => vec![Line::from(Span::styled(
            format!("the journal could not be read: {why}"),
            theme.style(Token::Error),
        ))],
        Some(Ok(events)) => {
            // Each violation spike gets its likely cause on the line below it (the lines
            // `suspects_flow::timeline_lines` counts, for `S`).
            let mut lines = Vec::new();
            for (i, l) in render_text(events).lines().enumerate() {
                let token = if i == 0 { Token::Title } else { Token::Text };
                lines.push(Line::from(Span::styled(l.to_string(), theme.style(token))));
                if let Some(observation) = i
                    .checked_sub(1)
                    .and_then(|e| events.get(e))
                    .and_then(spike_observation)
                {
                    lines.push(Line::from(Span::styled(
                        format!("    ↳ {}", suspects.line(&observation)),
                        theme.style(Token::Warn),
                    )));
                }
            }
            lines
        }
    });
    // Under the events, so the scroll-to-the-top-and-`5` mapping of events stays as it is.
    lines.extend(
        reminders
            .iter()
            .map(|r| Line::from(Span::styled(r.clone(), theme.style(Token::Warn)))),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((screen.scroll, 0))
            .block(panel(&title, true, theme)),
        area,
    );
}
