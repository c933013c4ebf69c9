//! The isolation matrix and its drill-down levels.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell as TableCell, Paragraph, Row, Table, Wrap};

use super::highlight::matched;
use super::panel;
use crate::app::State;
use crate::app::denials::{DenialSource, Denied};
use crate::app::fuzzy::part_indices;
use crate::app::screen::{MatrixLevel, MatrixScreen};
use crate::config::{Theme, Token};
use crate::isolation::matrix::{Cell, Level, shown_grid};

pub fn render(state: &State, matrix: &MatrixScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    // What the matrix cannot see, above it at every level: it may be wrong in either direction.
    let warnings = state.coverage().lines();
    let [warning_area, area] = Layout::vertical([
        Constraint::Length(warnings.len() as u16),
        Constraint::Min(0),
    ])
    .areas(area);
    if !warnings.is_empty() {
        let lines: Vec<Line> = warnings
            .into_iter()
            .map(|w| Line::from(Span::styled(format!(" ⚠ {w}"), theme.style(Token::Warn))))
            .collect();
        frame.render_widget(Paragraph::new(lines), warning_area);
    }
    let [grid_area, detail_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(6)]).areas(area);
    let Some(analysis) = &state.analysis else {
        let text = Paragraph::new(Span::styled(
            "Analysing the cluster…",
            theme.style(Token::Muted),
        ));
        frame.render_widget(text.block(panel("Isolation matrix", true, theme)), area);
        return;
    };
    match &matrix.level {
        MatrixLevel::Groups => {
            let m = &analysis.matrix;
            let shown = shown_grid(m, state.scope.is_some());
            let (labels, cols) = (&shown.rows, &shown.cols);
            let intent = analysis.intent.as_ref();
            let verdict_at = |r: usize, c: usize| -> &'static str {
                let (Some(report), Some(from), Some(to)) =
                    (intent, m.groups.get(r), m.groups.get(c))
                else {
                    return "";
                };
                let pair = (from.clone(), to.clone());
                if report.breached.contains(&pair) {
                    " ✗"
                } else if report.covered.contains(&pair) {
                    " ✓"
                } else {
                    ""
                }
            };
            let denied_at = |r: usize, c: usize| match (labels.get(r), cols.get(c)) {
                (Some(from), Some(to)) => state.denied_between_groups(from, to),
                _ => Denied::Rate(0.0),
            };
            let marks = |r: usize, c: usize| {
                format!("{}{}", verdict_at(r, c), denied_mark(denied_at(r, c)))
            };
            // Only cells with an intent verdict or a denial carry marks.
            let index: HashMap<&str, usize> = (labels.iter().enumerate())
                .map(|(i, l)| (l.as_str(), i))
                .collect();
            let verdict_pairs = intent
                .into_iter()
                .flat_map(|report| report.covered.iter().chain(&report.breached))
                .map(|(from, to)| (from.label().to_string(), to.label().to_string()));
            let marked = (state.denied_group_pairs().into_iter())
                .chain(verdict_pairs)
                .filter_map(|(from, to)| {
                    // Group columns come first, in row order.
                    Some((*index.get(from.as_str())?, *index.get(to.as_str())?))
                })
                .collect();
            let view = GridView {
                row_labels: labels,
                col_labels: cols,
                cell: &|r, c| shown.cell(r, c),
                marks: &marks,
                marked: Some(marked),
            };
            grid(
                &view,
                matrix,
                &format!(
                    "Isolation matrix: from (rows) → to (columns){}{}",
                    tiers_in_title(analysis),
                    drops_in_title(state)
                ),
                theme,
                frame,
                grid_area,
            );
            let in_range = matrix.row < labels.len() && matrix.col < cols.len();
            let selected = in_range.then(|| shown.cell(matrix.row, matrix.col));
            let from = labels.get(matrix.row).cloned().unwrap_or_default();
            let to = cols.get(matrix.col).cloned().unwrap_or_default();
            // Only the tenant level carries intent verdicts.
            let verdict = analysis
                .intent
                .as_ref()
                .map(|_| verdict_at(matrix.row, matrix.col));
            cell_detail(
                &format!("{from} → {to}"),
                selected,
                verdict,
                denied_at(matrix.row, matrix.col),
                theme,
                frame,
                detail_area,
            );
        }
        MatrixLevel::Namespaces { grid: g, from, to } => {
            let title = format!(
                "{} → {}: namespaces{}",
                from.label(),
                to.label(),
                drops_in_title(state)
            );
            let marks = |r: usize, c: usize| match (g.rows.get(r), g.cols.get(c)) {
                (Some(from), Some(to)) => denied_mark(state.denied_between_namespaces(from, to)),
                _ => String::new(),
            };
            let view = GridView {
                row_labels: &g.rows,
                col_labels: &g.cols,
                cell: &|r, c| &g.cells[r][c],
                marks: &marks,
                // Two groups' namespaces: small enough to measure every cell.
                marked: None,
            };
            grid(&view, matrix, &title, theme, frame, grid_area);
            let selected = g.cells.get(matrix.row).and_then(|r| r.get(matrix.col));
            let from = g.rows.get(matrix.row).cloned().unwrap_or_default();
            let to = g.cols.get(matrix.col).cloned().unwrap_or_default();
            cell_detail(
                &format!("{from} → {to}"),
                selected,
                None,
                state.denied_between_namespaces(&from, &to),
                theme,
                frame,
                detail_area,
            );
        }
        MatrixLevel::Pairs {
            from, to, filter, ..
        } => {
            let rows: Vec<Row> = matrix
                .level
                .shown_pairs()
                .into_iter()
                .map(|p| {
                    let token = if p.pair.conns.is_empty() {
                        Token::Closed
                    } else if p.pair.conns.is_all() {
                        Token::Open
                    } else {
                        Token::Partial
                    };
                    let mut conns = if p.pair.conns.is_empty() {
                        "No Connections".to_string()
                    } else {
                        p.pair.conns.to_string()
                    };
                    if !p.undecided.is_empty() {
                        conns.push_str(&format!("  ? undecided: {}", p.undecided));
                    }
                    let hits = part_indices(filter, &[&p.src, &p.dst], " ");
                    let text = |s: &str, hits: &[usize]| {
                        matched(s, hits, ratatui::style::Style::default(), theme)
                    };
                    Row::new(vec![
                        TableCell::from(text(&p.src, &hits[0])),
                        TableCell::from(text(&p.dst, &hits[1])),
                        TableCell::from(Span::styled(conns, theme.style(token))),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Percentage(35),
                    Constraint::Percentage(35),
                    Constraint::Percentage(30),
                ],
            )
            .header(Row::new(["SOURCE", "DESTINATION", "ALLOWED"]).style(theme.style(Token::Title)))
            .row_highlight_style(theme.style(Token::Selection))
            .block(panel(
                &if filter.is_empty() {
                    format!("{from} → {to}: workload pairs (enter: explain, /: filter)")
                } else {
                    format!("{from} → {to}: workload pairs /{filter}")
                },
                true,
                theme,
            ));
            let mut table_state =
                ratatui::widgets::TableState::default().with_selected(Some(matrix.row));
            frame.render_stateful_widget(table, grid_area, &mut table_state);
            let hint = Paragraph::new(Span::styled(
                "Each row is a kind of workload (pods no policy can tell apart). Enter explains which policies allow or deny what.",
                theme.style(Token::Muted),
            ))
            .wrap(Wrap { trim: true })
            .block(panel("Pairs", false, theme));
            frame.render_widget(hint, detail_area);
        }
    }
}

/// " · tier policies: 2 Admin, 1 Baseline": what the cells were decided with, beyond the
/// NetworkPolicies.
/// ` · ⚠ drops from Hubble Relay flows` when the cells' marks count flows (with the agents'
/// counters the cell detail says "agents deny … now").
fn drops_in_title(state: &State) -> String {
    match state.denial_source() {
        source @ DenialSource::Flows(_) => format!(" · ⚠ drops {}", source.describe()),
        DenialSource::Counters => String::new(),
    }
}

fn tiers_in_title(analysis: &crate::isolation::analysis::Analysis) -> String {
    use crate::policy::tier::Tier;
    let tiers = analysis.engine.tiers();
    if tiers.is_empty() {
        return String::new();
    }
    let admin = tiers.values().filter(|t| t.tier == Tier::Admin).count();
    let parts: Vec<String> = [(admin, "Admin"), (tiers.len() - admin, "Baseline")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, tier)| format!("{n} {tier}"))
        .collect();
    format!(" · tier policies: {}", parts.join(", "))
}

fn level_token(level: Level) -> Token {
    match level {
        Level::Closed => Token::Closed,
        Level::Partial => Token::Partial,
        Level::Open => Token::Open,
        Level::Unknown => Token::Muted,
    }
}

/// What a grid of cells shows, by row and column index.
struct GridView<'a> {
    row_labels: &'a [String],
    col_labels: &'a [String],
    cell: &'a dyn Fn(usize, usize) -> &'a Cell,
    marks: &'a dyn Fn(usize, usize) -> String,
    /// The cells that may carry marks, when known: the others are measured by their level
    /// alone, so a frame does not format every cell of a 1,250-tenant matrix.
    marked: Option<Vec<(usize, usize)>>,
}

impl GridView<'_> {
    fn text(&self, r: usize, c: usize) -> String {
        let cell = (self.cell)(r, c);
        format!(
            "{} {}{}{}",
            cell.level.symbol(),
            cell.level.as_str(),
            if cell.undecided.is_empty() { "" } else { " ?" },
            (self.marks)(r, c)
        )
    }

    /// The widest cell text, marks included.
    fn widest_cell(&self) -> usize {
        let all = (0..self.row_labels.len())
            .flat_map(|r| (0..self.col_labels.len()).map(move |c| (r, c)));
        let width = |(r, c): (usize, usize)| self.text(r, c).chars().count();
        match &self.marked {
            None => all.map(width).max().unwrap_or(0),
            Some(marked) => {
                let unmarked = all.map(|(r, c)| {
                    let cell = (self.cell)(r, c);
                    let undecided = if cell.undecided.is_empty() { 0 } else { 2 };
                    cell.level.symbol().chars().count() + 1 + cell.level.as_str().len() + undecided
                });
                unmarked
                    .chain(marked.iter().map(|&rc| width(rc)))
                    .max()
                    .unwrap_or(0)
            }
        }
    }
}

fn grid(
    view: &GridView,
    matrix: &MatrixScreen,
    title: &str,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let (row_labels, col_labels) = (view.row_labels, view.col_labels);
    let label_width = row_labels
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .clamp(4, 24) as u16
        + 1;
    // Wide enough for the longest label or cell text (marks included), within bounds.
    let col_width = col_labels
        .iter()
        .map(String::len)
        .chain([view.widest_cell()])
        .max()
        .unwrap_or(8)
        .clamp(11, 20) as u16
        + 1;
    // Only the columns that fit, scrolled so the cursor column is visible.
    let visible = usize::from((area.width.saturating_sub(label_width + 2)) / col_width).max(1);
    let first = matrix.col.saturating_sub(visible - 1);
    let shown: Vec<usize> = (first..col_labels.len()).take(visible).collect();
    // Likewise only the rows that fit (borders and header take three lines), scrolled as the
    // table would scroll them.
    let fit = usize::from(area.height.saturating_sub(3)).max(1);
    let first_row = matrix.row.saturating_sub(fit - 1);
    let header = Row::new(
        std::iter::once(TableCell::from(""))
            .chain(shown.iter().map(|c| {
                TableCell::from(Span::styled(
                    col_labels[*c].clone(),
                    theme.style(Token::Title),
                ))
            }))
            .collect::<Vec<_>>(),
    );
    let rows: Vec<Row> = (first_row..row_labels.len())
        .take(fit)
        .map(|r| {
            let mut out = vec![TableCell::from(Span::styled(
                row_labels[r].clone(),
                theme.style(Token::Title),
            ))];
            for &c in &shown {
                let style = if r == matrix.row && c == matrix.col {
                    theme.style(Token::Selection)
                } else {
                    theme.style(level_token((view.cell)(r, c).level))
                };
                out.push(TableCell::from(Span::styled(view.text(r, c), style)));
            }
            Row::new(out)
        })
        .collect();
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(label_width))
        .chain(shown.iter().map(|_| Constraint::Length(col_width)))
        .collect();
    let mut table_state =
        ratatui::widgets::TableState::default().with_selected(Some(matrix.row - first_row));
    let table = Table::new(rows, widths)
        .header(header)
        .block(panel(title, true, theme));
    frame.render_stateful_widget(table, area, &mut table_state);
}

/// Appends what the agents currently deny on this cell, if anything.
fn with_denied(mut line: Line<'static>, denied: Denied, theme: &Theme) -> Line<'static> {
    let text = match denied {
        Denied::Rate(_) => format!("agents deny {} here now (:violations)", denied.label()),
        Denied::Flows(_) => format!("{} dropped by policy here (:flows)", denied.label()),
    };
    if denied.any() {
        line.spans.push(Span::styled(
            format!("   ⚠ {text}"),
            theme.style(Token::Open),
        ));
    }
    line
}

/// ` ⚠3/s` (agents' rate) or ` ⚠412` (flows dropped) after a cell where traffic is denied.
fn denied_mark(denied: Denied) -> String {
    if denied.any() {
        format!(" ⚠{}", denied.compact())
    } else {
        String::new()
    }
}

/// "  ◧ depends on DNS names: TCP 443", when tier rules palisade cannot evaluate decide part of
/// the cell (those connections are not counted as allowed).
fn undecided_span(cell: &Cell, theme: &Theme) -> Span<'static> {
    if cell.undecided.is_empty() {
        return Span::raw("");
    }
    let reasons = match cell.undecided_reasons.as_slice() {
        [] => "depends on peers palisade cannot evaluate".to_string(),
        reasons => reasons.join(", "),
    };
    Span::styled(
        format!(
            "   ◧ {reasons}: {} (undecided, not counted as allowed)",
            cell.undecided
        ),
        theme.style(Token::Partial),
    )
}

fn cell_detail(
    pair: &str,
    cell: Option<&Cell>,
    verdict: Option<&str>,
    denied: Denied,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let lines = match cell {
        Some(cell) => vec![
            Line::from(vec![
                Span::styled(format!("{pair}: "), theme.style(Token::Text)),
                Span::styled(
                    format!("{} {}", cell.level.symbol(), cell.level.as_str()),
                    theme.style(level_token(cell.level)),
                ),
                Span::styled(
                    format!(
                        "  ({} of {} workload pairs allow something)",
                        cell.pairs_allowed, cell.pairs_total
                    ),
                    theme.style(Token::Muted),
                ),
            ]),
            Line::from(vec![
                Span::styled(
                    if cell.conns.is_empty() {
                        "No Connections".to_string()
                    } else {
                        cell.conns.to_string()
                    },
                    theme.style(Token::Text),
                ),
                undecided_span(cell, theme),
            ]),
            with_denied(
                Line::from(match verdict {
                    Some(" ✗") => Span::styled(
                        "✗ breach of the intent file: see :findings (PAL060/PAL061)",
                        theme.style(Token::Error),
                    ),
                    Some(" ✓") => {
                        Span::styled("✓ as the intent file wants it", theme.style(Token::Ok))
                    }
                    Some(_) => {
                        Span::styled("not covered by an intent rule", theme.style(Token::Muted))
                    }
                    None => Span::raw(""),
                }),
                denied,
                theme,
            ),
            Line::from(Span::styled(
                "enter: drill down   ■ closed  ◧ partial  □ open   ? undecided  ✓ intended  ✗ breach  ⚠ denied now",
                theme.style(Token::Muted),
            )),
        ],
        None => vec![Line::from(Span::styled(
            "No cell selected.",
            theme.style(Token::Muted),
        ))],
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(panel("Cell", false, theme)),
        area,
    );
}
