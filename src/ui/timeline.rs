//! The timeline screen: newest first, one row an event (a seeding folded into one), the cursor
//! kept in view, each spike with its likely cause below it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::panel;
use crate::app::suspects::SuspectsView;
use crate::app::suspects_flow::spike_observation;
use crate::app::timeline_view::{TimelineRow, TimelineScreen};
use crate::config::{Theme, Token};
use crate::timeline::{Event, aligned, cells, show_time};

/// The timeline; the GitOps suspensions still in place (`reminders`) follow it.
pub fn render(
    screen: &TimelineScreen,
    suspects: &SuspectsView,
    reminders: &[String],
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let mut title = match &screen.tenant {
        Some(t) => format!("Timeline of {t}, newest first"),
        None => {
            "Timeline, newest first (policy changes, rollbacks, spikes, latency breaches)".into()
        }
    };
    if let Some(filter) = screen.filter.describe() {
        title = format!("{title} · {filter} (c: clear)");
    }
    let (lines, cursor_lines) = match &screen.events {
        None => (vec![muted("reading the journal…", theme)], None),
        Some(Err(why)) => (
            vec![Line::from(Span::styled(
                format!("the journal could not be read: {why}"),
                theme.style(Token::Error),
            ))],
            None,
        ),
        Some(Ok(events)) => rows(screen, events, suspects, theme),
    };
    let mut lines = lines;
    lines.extend(
        reminders
            .iter()
            .map(|r| Line::from(Span::styled(r.clone(), theme.style(Token::Warn)))),
    );
    // Scrolled just enough that the selected row (and its cause line) is on screen.
    let height = usize::from(area.height.saturating_sub(2)).max(1);
    let offset = cursor_lines.map_or(0, |(_, last)| (last + 1).saturating_sub(height));
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((u16::try_from(offset).unwrap_or(u16::MAX), 0))
            .block(panel(&title, true, theme)),
        area,
    );
}

fn muted(text: &str, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(text.to_string(), theme.style(Token::Muted)))
}

/// The header and the rows, and the first and last line of the selected row.
fn rows(
    screen: &TimelineScreen,
    events: &[Event],
    suspects: &SuspectsView,
    theme: &Theme,
) -> (Vec<Line<'static>>, Option<(usize, usize)>) {
    let rows = screen.rows();
    if rows.is_empty() {
        let text = match screen.filter.describe() {
            Some(filter) => format!("no events match {filter} (c: clear the filter)"),
            None => "no events".to_string(),
        };
        return (vec![muted(&text, theme)], None);
    }
    let texts: Vec<[String; 5]> = rows
        .iter()
        .map(|row| match *row {
            TimelineRow::Event(i) => cells(&events[i]),
            TimelineRow::Seeding { oldest, count, .. } => [
                show_time(events[oldest].at),
                "policy change".into(),
                "-".into(),
                "-".into(),
                format!(
                    "{count} policies first seen at {} (enter: list them)",
                    events[oldest].at.strftime("%H:%M:%S")
                ),
            ],
        })
        .collect();
    let mut aligned = aligned(&texts).into_iter();
    let header = aligned.next().unwrap_or_default();
    let mut lines = vec![Line::from(Span::styled(header, theme.style(Token::Title)))];
    let selected = screen.cursor.min(rows.len() - 1);
    let mut cursor_lines = None;
    for (n, (row, text)) in rows.iter().zip(aligned).enumerate() {
        let first = lines.len();
        let token = match n == selected {
            true => Token::Selection,
            false => Token::Text,
        };
        lines.push(Line::from(Span::styled(text, theme.style(token))));
        if let TimelineRow::Event(i) = *row
            && let Some(observation) = spike_observation(&events[i])
        {
            lines.push(Line::from(Span::styled(
                format!("    ↳ {}", suspects.line(&observation)),
                theme.style(Token::Warn),
            )));
        }
        if n == selected {
            cursor_lines = Some((first, lines.len() - 1));
        }
    }
    (lines, cursor_lines)
}
