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
use crate::rollback::Outcome;

pub fn render(state: &State, screen: &HistoryScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [list_area, detail_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    // What the team's recorder said, in full under the list (a title would cut the reason).
    let (list_area, team_area) = match &screen.team {
        Some(_) => {
            let [list, team] =
                Layout::vertical([Constraint::Min(4), Constraint::Length(5)]).areas(list_area);
            (list, Some(team))
        }
        None => (list_area, None),
    };
    if let (Some(team), Some(team_area)) = (&screen.team, team_area) {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                team.clone(),
                theme.style(Token::Muted),
            )))
            .wrap(Wrap { trim: true })
            .block(panel("Team recorder", false, theme)),
            team_area,
        );
    }
    let title = format!("History of {}", screen.policy);
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
        if let Some(team) = &screen.team {
            lines.push(Line::from(Span::styled(
                team.clone(),
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
                // ↶: a rollback went to this revision (who and why: the detail pane).
                Cell::from(if screen.rollbacks_to(r).is_empty() {
                    format!("r{}", r.number)
                } else {
                    format!("r{}↶", r.number)
                }),
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
    let Some(revision) = current else {
        return;
    };
    let marker = rollback_marker(screen, revision);
    if screen.audit.is_empty() {
        detail(revision, &marker, theme, frame, detail_area);
        return;
    }
    // Two lines a record, three when the first wraps; at most half the pane.
    let rows = (screen.audit.len() as u16 * 3 + 2)
        .min(detail_area.height / 2)
        .max(5);
    let [audit_area, spec_area] =
        Layout::vertical([Constraint::Length(rows), Constraint::Min(3)]).areas(detail_area);
    frame.render_widget(
        Paragraph::new(audit_lines(screen, revision, theme))
            .wrap(Wrap { trim: false })
            .block(panel("Rollbacks (audit, team and local)", false, theme)),
        audit_area,
    );
    detail(revision, &marker, theme, frame, spec_area);
}

/// " — ↶ rolled back here by alice" for a revision rollbacks went to ("" for the others).
fn rollback_marker(screen: &HistoryScreen, revision: &Revision) -> String {
    match screen.rollbacks_to(revision).first() {
        Some(newest) => format!(" — ↶ rolled back here by {}", newest.actor),
        None => String::new(),
    }
}

/// The policy's audit records, newest first: time, user, action and outcome, then the reason. Those that
/// went to the selected revision stand out.
fn audit_lines(screen: &HistoryScreen, selected: &Revision, theme: &Theme) -> Vec<Line<'static>> {
    screen
        .audit
        .iter()
        .rev()
        .flat_map(|r| {
            let target = match (r.to_revision, r.from_revision) {
                (Some(to), Some(from)) => format!(" r{from}→r{to}"),
                (Some(to), None) => format!(" →r{to}"),
                _ => String::new(),
            };
            let token = match r.outcome {
                Outcome::Done if r.to_revision == Some(selected.number) => Token::Accent,
                Outcome::Done => Token::Text,
                Outcome::Failed | Outcome::Conflict => Token::Error,
                _ => Token::Muted,
            };
            [
                Line::from(Span::styled(
                    format!(
                        "{} {} {}{target} {}",
                        r.at.get(..19).unwrap_or(&r.at).replace('T', " "),
                        r.actor,
                        r.kind,
                        r.outcome.as_str(),
                    ),
                    theme.style(token),
                )),
                Line::from(Span::styled(
                    format!("  why: {}", r.reason),
                    theme.style(token),
                )),
            ]
        })
        .collect()
}

fn detail(revision: &Revision, marker: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
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
                &format!("{} spec{marker}", revision_name(revision)),
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
