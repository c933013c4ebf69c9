//! The violations, latency and agents screens. Only visible rows become widgets.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Cell, Chart, Dataset, GraphType, Paragraph, Row};

use super::highlight::{joined, matched};
use super::panel;
use super::tables::{List, draw};
use super::tenants::per_second;
use crate::app::State;
use crate::app::denials::{DenialSource, Denied};
use crate::app::fuzzy::part_indices;
use crate::app::screen::TableScreen;
use crate::app::suspects_flow::selected_observation;
use crate::app::telemetry::{SourceKind, Telemetry, clock};
use crate::app::telemetry_rows::{
    AGENT_COLUMNS, LATENCY_COLUMNS, VIOLATION_COLUMNS, agent_filter_parts, agent_key, agent_rows,
    agent_state, last_ok, latency_rows, seconds, violation_filter_parts, violation_rows,
};
use crate::config::{Theme, Token};

/// Eight-level bar characters for one-line sparklines.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Why the screen is empty, when it is: metrics off, nothing read yet, or a source error.
fn status_line(source: &SourceKind, telemetry: &Telemetry) -> String {
    let source = match source {
        SourceKind::Off => return "agent metrics are off (--no-metrics)".into(),
        SourceKind::Direct => "agents scraped through the API server".to_string(),
        SourceKind::Urls(urls) => match urls.as_slice() {
            [one] => format!("the agent at {one} (--metrics-url)"),
            [first, rest @ ..] => format!(
                "{} agents by --metrics-url ({first} and {} more)",
                urls.len(),
                rest.len()
            ),
            [] => "no agent URL".to_string(),
        },
        SourceKind::Prometheus(url) => format!("Prometheus at {url}"),
    };
    let progress = telemetry
        .progress
        .map(|(done, total)| format!("   scraping {done}/{total}…"))
        .unwrap_or_default();
    match &telemetry.latest {
        None => format!("{source}: waiting for the first reading{progress}"),
        Some(r) => {
            let errors = if r.errors.is_empty() {
                String::new()
            } else {
                format!("   error: {}", r.errors.join("; "))
            };
            // The pace is the reading's own: rounds over a large fleet stretch (docs/metrics.md).
            let pace = match r.interval.as_secs_f64().round() {
                secs if secs >= 1.0 => format!(", every {secs} s"),
                _ => String::new(),
            };
            format!("{source}, as of {}{pace}{progress}{errors}", clock(r.at))
        }
    }
}

/// One line per bar of the last points, scaled to the largest.
pub fn sparkline(points: impl Iterator<Item = f64>) -> String {
    let points: Vec<f64> = points.collect();
    let max = points.iter().copied().fold(0.0_f64, f64::max);
    points
        .iter()
        .map(|p| {
            if max <= 0.0 || *p <= 0.0 {
                ' '
            } else {
                let level = ((p / max) * 7.0).round() as usize;
                BARS[level.min(7)]
            }
        })
        .collect()
}

pub fn violations(
    state: &State,
    table: &TableScreen,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let telemetry = &state.telemetry;
    let source = state.denial_source();
    let pairs = match source {
        DenialSource::Flows(_) => state.flows.denials.groups.len(),
        DenialSource::Counters => telemetry.pair_history.len(),
    };
    let [top, cause, bottom] = Layout::vertical([
        Constraint::Length(pairs.min(8) as u16 + 3),
        Constraint::Length(1),
        Constraint::Min(5),
    ])
    .areas(area);
    if let DenialSource::Flows(_) = source {
        flow_pairs(state, theme, frame, top);
    } else {
        counter_pairs(state, theme, frame, top);
    }
    suspect_line(state, theme, frame, cause);
    violation_table(state, table, theme, frame, bottom);
}

/// The selected denial's likely cause (`suspects`), or why there is none.
pub fn suspect_line(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(observation) = selected_observation(state) else {
        return;
    };
    let line = state.suspects.line(&observation);
    let token = if line.starts_with("likely cause: ") && !line.contains("computing") {
        Token::Warn
    } else {
        Token::Muted
    };
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(line, theme.style(token)))),
        area,
    );
}

/// The tenant pairs' flows dropped by policy over the flow ring's age, most first.
fn flow_pairs(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let flows = &state.flows;
    let age = flows.ring.limits().max_age.as_secs();
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "flows dropped by policy over the last {} (what the flow ring keeps), per tenant pair",
            if age.is_multiple_of(60) {
                format!("{} min", age / 60)
            } else {
                format!("{age} s")
            }
        ),
        theme.style(Token::Muted),
    ))];
    let mut pairs: Vec<_> = flows.denials.groups.iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for ((from, to), n) in pairs.into_iter().take(8) {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>28} ", format!("{from} → {to}")),
                theme.style(Token::Text),
            ),
            Span::styled(Denied::Flows(*n).label(), theme.style(Token::Open)),
        ]));
    }
    if flows.denials.groups.is_empty() {
        lines.push(Line::from(Span::styled(
            "no flows dropped by policy",
            theme.style(Token::Closed),
        )));
    }
    let title = format!(
        "Dropped flows per tenant pair · {}",
        state.denial_source().describe()
    );
    frame.render_widget(
        Paragraph::new(lines).block(panel(&title, false, theme)),
        area,
    );
}

/// The tenant pairs' denied rates from the agents' counters, with their recent history.
fn counter_pairs(state: &State, theme: &Theme, frame: &mut Frame, top: Rect) {
    let telemetry = &state.telemetry;
    let mut lines = vec![Line::from(Span::styled(
        status_line(&state.session.metrics_source, telemetry),
        theme.style(Token::Muted),
    ))];
    let mut by_now: Vec<_> = telemetry.pair_history.iter().collect();
    by_now.sort_by(|a, b| {
        let now = |p: &std::collections::VecDeque<f64>| p.back().copied().unwrap_or(0.0);
        now(b.1).total_cmp(&now(a.1))
    });
    for ((from, to), points) in by_now.into_iter().take(8) {
        let now = points.back().copied().unwrap_or(0.0);
        let token = if now > 0.0 { Token::Open } else { Token::Muted };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>28} ", format!("{from} → {to}")),
                theme.style(Token::Text),
            ),
            Span::styled(sparkline(points.iter().copied()), theme.style(token)),
            Span::styled(format!(" {}", per_second(now)), theme.style(token)),
        ]));
    }
    if telemetry.pair_history.is_empty() && telemetry.latest.is_some() {
        lines.push(Line::from(Span::styled(
            "no denied flows in the recent history",
            theme.style(Token::Closed),
        )));
    }
    let title = format!(
        "Denied flows per tenant pair · {}",
        DenialSource::Counters.describe()
    );
    frame.render_widget(
        Paragraph::new(lines).block(panel(&title, false, theme)),
        top,
    );
}

fn violation_table(
    state: &State,
    table: &TableScreen,
    theme: &Theme,
    frame: &mut Frame,
    bottom: Rect,
) {
    let rows = violation_rows(state, table);
    let keys: Vec<String> = rows.iter().map(|v| v.key()).collect();
    let row = |i: usize| {
        let v = rows[i];
        let ns = |n: &Option<String>| n.clone().unwrap_or_else(|| "?".into());
        let hits = part_indices(&table.filter, &violation_filter_parts(v), " ");
        let text = |s: &str, hits: &[usize]| matched(s, hits, Style::default(), theme);
        let tenants = joined((&v.source_tenant, &hits[0]), " → ", &hits[1]);
        Row::new(vec![
            Cell::from(clock(v.at)),
            Cell::from(text(
                &format!("{} → {}", v.source_tenant, v.destination_tenant),
                &tenants,
            )),
            Cell::from(text(&ns(&v.source_namespace), &hits[2])),
            Cell::from(text(&ns(&v.destination_namespace), &hits[3])),
            Cell::from(text(
                &match &v.direction {
                    Some(d) => format!("{} ({d})", v.reason),
                    None => v.reason.clone(),
                },
                &hits[4],
            )),
            Cell::from(text(v.node.as_deref().unwrap_or_default(), &hits[5])),
            Cell::from(Span::styled(
                format!("{:.0}", v.count),
                theme.style(Token::Open),
            )),
            Cell::from(v.policy.clone().unwrap_or_else(|| "—".into())),
        ])
    };
    let widths = [
        Constraint::Length(8),
        Constraint::Percentage(18),
        Constraint::Percentage(14),
        Constraint::Percentage(14),
        Constraint::Percentage(20),
        Constraint::Percentage(10),
        Constraint::Length(7),
        Constraint::Min(6),
    ];
    let list = List {
        name: "Violations (enter: workload pairs)",
        columns: &VIOLATION_COLUMNS,
        widths: &widths,
    };
    draw(list, &keys, table, row, theme, frame, bottom);
}

pub fn latency(state: &State, table: &TableScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [status, tenant_pairs, top, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(super::tenant_traffic::height(state)),
        Constraint::Percentage(40),
        Constraint::Min(6),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Span::styled(
            status_line(&state.session.metrics_source, &state.telemetry),
            theme.style(Token::Muted),
        )),
        status,
    );
    frame.render_widget(
        Paragraph::new(super::tenant_traffic::section(state, theme)),
        tenant_pairs,
    );
    let rows = latency_rows(state, table);
    let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let row = |i: usize| {
        let r = &rows[i];
        let hits = part_indices(&table.filter, &[&r.metric, &r.scope], " ");
        Row::new(vec![
            Cell::from(matched(&r.metric, &hits[0], Style::default(), theme)),
            Cell::from(matched(&r.scope, &hits[1], Style::default(), theme)),
            Cell::from(seconds(r.p50)),
            Cell::from(seconds(r.p95)),
            Cell::from(seconds(r.p99)),
            Cell::from(r.observations.map_or("—".into(), |n| format!("{n:.0}"))),
        ])
    };
    let widths = [
        Constraint::Percentage(40),
        Constraint::Percentage(24),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Min(6),
    ];
    let window = state
        .telemetry
        .latest
        .as_ref()
        .map_or(0, |r| r.latency_window.as_secs());
    let name = format!("Latency (quantiles over {window} s)");
    let list = List {
        name: &name,
        columns: &LATENCY_COLUMNS,
        widths: &widths,
    };
    draw(list, &keys, table, row, theme, frame, top);

    let selected = table
        .selected
        .as_ref()
        .and_then(|k| rows.iter().find(|r| &r.key == k))
        .or(rows.first());
    let metric = selected.map(|r| r.metric.clone()).unwrap_or_default();
    chart(state, &metric, theme, frame, bottom);
}

/// p50/p95/p99 of one metric over the readings kept.
fn chart(state: &State, metric: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
    let history = state.telemetry.latency_history.get(metric);
    let series = |pick: fn(&crate::metrics::Quantiles) -> f64| -> Vec<(f64, f64)> {
        history
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, q)| q.as_ref().map(|q| (i as f64, pick(q))))
            .collect()
    };
    let (p50, p95, p99) = (series(|q| q.p50), series(|q| q.p95), series(|q| q.p99));
    let top = p99
        .iter()
        .chain(&p95)
        .map(|(_, y)| *y)
        .fold(0.0_f64, f64::max);
    let title = format!("{metric}: p50 · p95 · p99 over the last readings");
    if p50.is_empty() {
        let text = if history.is_some() {
            "no observations in the window yet (a policy change adds some)"
        } else {
            "select an agent metric to chart it"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.style(Token::Muted)))
                .block(panel(&title, false, theme)),
            area,
        );
        return;
    }
    let points = history.map_or(0, |h| h.len()).max(2) as f64;
    let datasets = vec![
        dataset("p50", &p50, theme.style(Token::Closed)),
        dataset("p95", &p95, theme.style(Token::Partial)),
        dataset("p99", &p99, theme.style(Token::Open)),
    ];
    let widget = Chart::new(datasets)
        .block(panel(&title, false, theme))
        .x_axis(Axis::default().bounds([0.0, points - 1.0]))
        .y_axis(
            Axis::default()
                .bounds([0.0, top.max(0.001) * 1.1])
                .labels(vec![Span::raw("0"), Span::raw(seconds(Some(top)))]),
        );
    frame.render_widget(widget, area);
}

fn dataset<'a>(name: &'a str, data: &'a [(f64, f64)], style: ratatui::style::Style) -> Dataset<'a> {
    Dataset::default()
        .name(name)
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(style)
        .data(data)
}

pub fn agents(state: &State, table: &TableScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [status, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    frame.render_widget(
        Paragraph::new(Span::styled(
            status_line(&state.session.metrics_source, &state.telemetry),
            theme.style(Token::Muted),
        )),
        status,
    );
    let rows = agent_rows(state, table);
    let keys: Vec<String> = rows.iter().map(|a| agent_key(a)).collect();
    let row = |i: usize| {
        let a = rows[i];
        let condition = agent_state(state, a);
        let hits = part_indices(&table.filter, &agent_filter_parts(a), " ");
        let token = match condition {
            "up" => Token::Closed,
            "retrying" => Token::Partial,
            _ => Token::Open,
        };
        Row::new(vec![
            Cell::from(matched(
                a.agent.cni.name(),
                &hits[0],
                Style::default(),
                theme,
            )),
            Cell::from(matched(
                a.agent.node.as_deref().unwrap_or_default(),
                &hits[2],
                Style::default(),
                theme,
            )),
            Cell::from(matched(&a.agent.target, &hits[1], Style::default(), theme)),
            Cell::from(Span::styled(condition, theme.style(token))),
            Cell::from(last_ok(a)),
            Cell::from(seconds(Some(a.duration.as_secs_f64()))),
            Cell::from(a.policy_count().map_or("—".into(), |n| format!("{n:.0}"))),
            Cell::from(match (&a.error, a.line_errors) {
                (Some(e), _) => e.clone(),
                (None, 0) => String::new(),
                (None, n) => format!("{n} unreadable lines skipped"),
            }),
        ])
    };
    let widths = [
        Constraint::Length(7),
        Constraint::Percentage(14),
        Constraint::Percentage(26),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    let list = List {
        name: "Agents",
        columns: &AGENT_COLUMNS,
        widths: &widths,
    };
    draw(list, &keys, table, row, theme, frame, body);
}
