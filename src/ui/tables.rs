//! The policies and findings tables. Only the visible rows are turned into widgets.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::highlight::matched;
use super::tenants::directions_label;
use super::{panel, severity_token};
use crate::app::State;
use crate::app::fuzzy::part_indices;
use crate::app::layout::window;
use crate::app::rows::{
    FINDING_COLUMNS, POLICY_COLUMNS, finding_key, finding_rows, policy_rows, selected_index,
};
use crate::app::screen::TableScreen;
use crate::config::{Theme, Token};

pub(super) fn header(columns: &[&str], sort: usize, theme: &Theme) -> Row<'static> {
    Row::new(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let text = if i == sort % columns.len() {
                    format!("{c}▾")
                } else {
                    c.to_string()
                };
                Cell::from(Span::styled(text, theme.style(Token::Title)))
            })
            .collect::<Vec<_>>(),
    )
}

fn title(name: &str, shown: usize, table: &TableScreen) -> String {
    if table.filter.is_empty() {
        format!("{name} ({shown})   s: sort   /: filter   enter: open")
    } else {
        format!("{name} ({shown}) /{}", table.filter)
    }
}

/// A list screen's visible window: `row(i)` builds row `i` of `keys.len()`; the selection is the
/// row whose key the table remembers.
pub(super) struct List<'a> {
    pub name: &'a str,
    pub columns: &'a [&'a str],
    pub widths: &'a [Constraint],
}

pub(super) fn draw<'r>(
    list: List<'_>,
    keys: &[String],
    table: &TableScreen,
    row: impl Fn(usize) -> Row<'r>,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let selected = selected_index(keys, table.selected.as_ref());
    let range = window(
        keys.len(),
        selected,
        usize::from(area.height.saturating_sub(3)),
    );
    let visible: Vec<Row> = range.clone().map(row).collect();
    let widget = Table::new(visible, list.widths.to_vec())
        .header(header(list.columns, table.sort, theme))
        .row_highlight_style(theme.style(Token::Selection))
        .highlight_symbol("› ")
        .block(panel(&title(list.name, keys.len(), table), true, theme));
    let mut table_state =
        TableState::default().with_selected((!keys.is_empty()).then(|| selected - range.start));
    frame.render_stateful_widget(widget, area, &mut table_state);
}

pub fn policies(state: &State, table: &TableScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = policy_rows(state, table);
    let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let row = |i: usize| {
        let r = &rows[i];
        // The filter matched `namespace/name`: each column shows its part's matches.
        let hits = part_indices(&table.filter, &[&r.namespace, &r.name], "/");
        let text = |s: &str, hits: &[usize]| matched(s, hits, Style::default(), theme);
        Row::new(vec![
            Cell::from(text(&r.namespace, &hits[0])),
            Cell::from(text(&r.name, &hits[1])),
            Cell::from(r.tier.clone().unwrap_or_else(|| "—".into())),
            Cell::from(r.priority.map_or("—".into(), |p| p.to_string())),
            Cell::from(r.tenant.clone()),
            // `…` until the analysis counts them; `—` for a Cilium policy it does not count.
            Cell::from(r.pods.map_or_else(
                || if r.id.is_some() { "…" } else { "—" }.to_string(),
                |n| n.to_string(),
            )),
            Cell::from(directions_label(r.directions).to_string()),
            Cell::from(r.changed.clone()),
        ])
    };
    let widths = [
        Constraint::Percentage(16),
        Constraint::Percentage(24),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Percentage(10),
        Constraint::Length(6),
        Constraint::Length(15),
        Constraint::Min(20),
    ];
    let list = List {
        name: "Policies",
        columns: &POLICY_COLUMNS,
        widths: &widths,
    };
    draw(list, &keys, table, row, theme, frame, area);
}

pub fn findings(state: &State, table: &TableScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = finding_rows(state, table);
    let keys: Vec<String> = rows.iter().map(|f| finding_key(f)).collect();
    let row = |i: usize| {
        let f = rows[i];
        let hits = part_indices(&table.filter, &[f.id, &f.object, &f.message], " ");
        let text = |s: &str, hits: &[usize]| matched(s, hits, Style::default(), theme);
        Row::new(vec![
            Cell::from(Span::styled(
                f.severity.as_str(),
                theme.style(severity_token(f.severity)),
            )),
            Cell::from(text(f.id, &hits[0])),
            Cell::from(text(&f.object, &hits[1])),
            // The message comes first: the hint after it is not filtered on.
            Cell::from(text(&format!("{}  — fix: {}", f.message, f.hint), &hits[2])),
        ])
    };
    let widths = [
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Percentage(30),
        Constraint::Min(30),
    ];
    let name = if state.analysis.is_none() {
        "Findings (analysing…)"
    } else {
        "Findings"
    };
    let list = List {
        name,
        columns: &FINDING_COLUMNS,
        widths: &widths,
    };
    draw(list, &keys, table, row, theme, frame, area);
}
