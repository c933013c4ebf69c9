//! The history screen: a policy's revisions from the journal, and the selected one's spec.

use crate::rollback::last_applied;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{panel, yaml};
use crate::app::State;
use crate::app::history::HistoryScreen;
use crate::config::{Theme, Token};
use crate::history::{Operation, Revision, summarize};

pub fn render(state: &State, screen: &HistoryScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [list_area, detail_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let title = match &screen.team {
        Some(team) => format!("History of {} · {team}", screen.policy),
        None => format!("History of {}", screen.policy),
    };
    let message = match &screen.revisions {
        None => Some("reading the journal…".to_string()),
        Some(Err(err)) => Some(format!("the journal could not be read: {err}")),
        Some(Ok(r)) if r.is_empty() => Some(format!(
            "the journal has no revision of {} (it records what it sees from now on)",
            screen.policy
        )),
        Some(Ok(_)) => None,
    };
    if let Some(message) = message {
        let mut lines = vec![Line::from(Span::styled(message, theme.style(Token::Muted)))];
        if let Some(path) = &state.journal.path {
            lines.push(Line::from(Span::styled(
                format!("journal: {}", path.display()),
                theme.style(Token::Muted),
            )));
        }
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(panel(&title, true, theme)),
            area,
        );
        return;
    }
    let listed = screen.listed();
    let current = screen.current();
    let rows: Vec<Row> = listed
        .iter()
        .map(|r| {
            let token = match r.operation {
                Operation::Deleted => Token::Error,
                Operation::Rollback => Token::Warn,
                Operation::Observed => Token::Text,
            };
            Row::new(vec![
                Cell::from(format!("r{}", r.number)),
                Cell::from(
                    r.observed_at
                        .get(..19)
                        .unwrap_or(&r.observed_at)
                        .replace('T', " "),
                ),
                Cell::from(r.manager.clone().unwrap_or_else(|| "?".into())),
                Cell::from(Span::styled(
                    if last_applied::is_last_applied(r) {
                        "applied"
                    } else {
                        r.operation.as_str()
                    },
                    theme.style(token),
                )),
                Cell::from(if last_applied::is_last_applied(r) {
                    format!("{} (not in the journal)", last_applied::LABEL)
                } else {
                    summarize(screen.previous(r), r)
                }),
            ])
        })
        .collect();
    let header = Row::new(["REV", "OBSERVED (UTC)", "MANAGER", "WHAT", "CHANGE"])
        .style(theme.style(Token::Title));
    let selected = current.and_then(|c| listed.iter().position(|r| r.number == c.number));
    let table = Table::new(
        rows,
        [
            Constraint::Length(5),
            Constraint::Length(20),
            Constraint::Length(18),
            Constraint::Length(9),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .row_highlight_style(theme.style(Token::Selection))
    .highlight_symbol("› ")
    .block(panel(&format!("{title}   j/k: revision"), true, theme));
    frame.render_stateful_widget(
        table,
        list_area,
        &mut TableState::default().with_selected(selected),
    );
    if let Some(revision) = current {
        detail(revision, theme, frame, detail_area);
    }
}

fn detail(revision: &Revision, theme: &Theme, frame: &mut Frame, area: Rect) {
    // A NetworkPolicy's typed spec, or a tier policy's as served.
    let spec = match revision.spec_value() {
        serde_json::Value::Null => None,
        value => crate::yaml::to_string(&value).ok(),
    }
    .unwrap_or_else(|| "# no spec recorded\n".into());
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "resourceVersion {}   generation {}{}",
            revision.resource_version.as_deref().unwrap_or("?"),
            revision.generation.map_or("?".into(), |g| g.to_string()),
            if revision.deleted {
                "   (deleted: last spec below)"
            } else {
                ""
            }
        ),
        theme.style(Token::Muted),
    ))];
    lines.extend(yaml::highlight(&spec, theme));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(
                &format!("{} spec", revision_name(revision)),
                false,
                theme,
            )),
        area,
    );
}

/// "r3", or "last-applied" for kubectl's last-applied configuration (revision 0, `r0` in the
/// table).
fn revision_name(revision: &crate::history::Revision) -> String {
    if last_applied::is_last_applied(revision) {
        last_applied::ARG.to_string()
    } else {
        format!("r{}", revision.number)
    }
}
