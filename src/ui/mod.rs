//! Rendering: `view(&State, &Theme, &mut Frame)`. Pure: reads state, draws, changes nothing.

mod detail;
mod flows;
mod help;
mod highlight;
mod history;
mod matrix;
mod rollback;
mod status;
mod tables;
mod telemetry;
mod tenant_traffic;
mod tenants;
mod timeline;
mod tour;
mod yaml;

#[cfg(test)]
mod coverage_tests;
#[cfg(test)]
mod flows_snapshot_tests;
#[cfg(test)]
mod highlight_tests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tier_snapshot_tests;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use crate::app::State;
use crate::app::layout::{ScreenAreas, screen_areas, screen_body, tenants_split, tour_split};
use crate::app::screen::Screen;
use crate::app::state::ScrollLimits;
use crate::config::{Theme, Token};
use crate::isolation::findings::Severity;

pub fn view(state: &State, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    let areas = screen_areas(area, state.has_warning_line());
    let ScreenAreas {
        header,
        warnings,
        status: status_row,
        hints,
        ..
    } = areas;
    // The guided tour's panel takes the bottom of the body while it runs.
    let (body, tour_panel) = tour_split(areas.body, state.session.tour.step().is_some());
    status::header(state, theme, frame, header);
    match &state.screen {
        Screen::Tenants => {
            let [tree_area, detail_area] = tenants_split(body);
            tenants::render(state, theme, frame, tree_area);
            detail::render(state, theme, frame, detail_area);
        }
        Screen::Matrix(matrix) => matrix::render(state, matrix, theme, frame, body),
        Screen::Policies(table) => tables::policies(state, table, theme, frame, body),
        Screen::Findings(table) => tables::findings(state, table, theme, frame, body),
        Screen::Explain(explain) => detail::explain(explain, theme, frame, body),
        Screen::Violations(table) => telemetry::violations(state, table, theme, frame, body),
        Screen::Latency(table) => telemetry::latency(state, table, theme, frame, body),
        Screen::Agents(table) => telemetry::agents(state, table, theme, frame, body),
        Screen::History(screen) => history::render(state, screen, theme, frame, body),
        Screen::Rollback(screen) => rollback::render(state, screen, theme, frame, body),
        Screen::Timeline(screen) => timeline::render(
            screen,
            &state.suspects,
            &state.journal.gitops_reminders,
            theme,
            frame,
            body,
        ),
        Screen::Flows => flows::render(state, theme, frame, body),
    }
    status::warnings(state, theme, frame, warnings);
    status::sync_bar(state, theme, frame, status_row);
    if state.input.is_some() || state.notice.is_some() {
        status::input_line(state, theme, frame, hints);
    } else {
        status::hints(state, theme, frame, hints);
    }
    if let Some(panel) = tour_panel {
        tour::render(state, theme, frame, &areas, body, panel);
    }
    if let Some(scroll) = state.help {
        help::render(state, theme, scroll, frame, area);
    }
}

/// How far the scrollable text panes scroll for the state as drawn (the runtime hands them to
/// `update` after a frame, so a page-down past the end stops where the pane stops).
pub fn scroll_limits(state: &State, theme: &Theme) -> ScrollLimits {
    let (area, body) = screen_body(state);
    let detail = match &state.screen {
        Screen::Tenants => detail::max_scroll(state, theme, tenants_split(body)[1]),
        Screen::Explain(explain) => detail::explain_max_scroll(explain, theme, body),
        _ => u16::MAX,
    };
    ScrollLimits {
        detail,
        help: help::max_scroll(state, theme, area),
    }
}

/// How a finding's severity is drawn.
fn severity_token(severity: Severity) -> Token {
    match severity {
        Severity::Error => Token::Error,
        Severity::Warning => Token::Warn,
        Severity::Info => Token::Muted,
    }
}

/// A bordered panel whose border shows whether it has the focus.
fn panel(title: &str, focused: bool, theme: &Theme) -> Block<'static> {
    let border = if focused {
        Token::BorderFocused
    } else {
        Token::Border
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.style(border))
        .title(Line::from(Span::styled(
            format!(" {title} "),
            theme.style(Token::Title),
        )))
}

/// `label value` pairs as a line, for summaries.
fn field<'a>(label: &'a str, value: String, theme: &Theme, value_style: Style) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<12}"), theme.style(Token::Muted)),
        Span::styled(value, value_style),
    ])
}

/// A rectangle centred in `area`, in percent of its size.
fn centred(area: Rect, width_percent: u16, height_percent: u16) -> Rect {
    let [_, middle, _] = Layout::vertical([
        Constraint::Percentage((100 - height_percent) / 2),
        Constraint::Percentage(height_percent),
        Constraint::Percentage((100 - height_percent) / 2),
    ])
    .areas(area);
    let [_, centre, _] = Layout::horizontal([
        Constraint::Percentage((100 - width_percent) / 2),
        Constraint::Percentage(width_percent),
        Constraint::Percentage((100 - width_percent) / 2),
    ])
    .areas(middle);
    centre
}
