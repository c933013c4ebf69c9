//! `:flows`: the dataplane's flows, newest first, with palisade's own verdict beside the
//! dataplane's and DRIFT where they differ. Only the visible rows become widgets.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::panel;
use crate::app::State;
use crate::app::flows::{FlowRow, Tenants, thousands, title, troubles};
use crate::app::layout::window;
use crate::app::suspects_flow::selected_observation;
use crate::app::telemetry::clock;
use crate::config::{Theme, Token};
use crate::flows::{DataplaneVerdict, FlowEndpoint, FlowRecord, Prediction, WorkloadId};

pub const FLOW_COLUMNS: [&str; 9] = [
    "TIME",
    "SOURCE",
    "DESTINATION",
    "SERVICE",
    "DATAPLANE",
    "NODE",
    "NAMED POLICY",
    "PALISADE",
    "",
];

/// Wide enough for most node names; longer ones keep both ends (`ip-10-0-1…c2.internal`,
/// `gke-prod-po…-xyz9`): which node dropped a flow is what tells a lagging agent apart.
const NODE_WIDTH: u16 = 14;

fn node_text(node: &str) -> String {
    let chars: Vec<char> = node.chars().collect();
    let width = usize::from(NODE_WIDTH);
    if chars.len() <= width {
        return node.to_string();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut text: String = chars[..head].iter().collect();
    text.push('…');
    text.extend(&chars[chars.len() - tail..]);
    text
}

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let flows = &state.flows;
    if let Some(reasons) = flows.absent()
        && flows.ring.is_empty()
    {
        let line = Line::from(Span::styled(
            format!("No flow source: {}", reasons.join("; ")),
            theme.style(Token::Muted),
        ));
        frame.render_widget(
            Paragraph::new(line).block(panel("Flows", true, theme)),
            area,
        );
        return;
    }
    let height = usize::from(area.height.saturating_sub(3));
    let range = window(flows.rows.len(), flows.cursor, height);
    let tenants = Tenants::new(&state.cluster, &state.tenant_rules);
    let rows: Vec<Row> = flows.rows[range.clone()]
        .iter()
        .map(|row| match row {
            FlowRow::Gap(gap) => gap_row(gap, theme),
            FlowRow::Flow(seq) => match flows.flow(*seq) {
                Some(flow) => flow_row(state, flow, &tenants, theme),
                None => Row::new(vec![Cell::from("(gone from the ring)")]),
            },
        })
        .collect();
    let widths = [
        Constraint::Length(8),
        Constraint::Percentage(16),
        Constraint::Percentage(16),
        Constraint::Length(8),
        Constraint::Length(21),
        Constraint::Length(NODE_WIDTH),
        Constraint::Percentage(12),
        Constraint::Min(20),
        Constraint::Length(5),
    ];
    let shown = flows
        .rows
        .iter()
        .filter(|r| matches!(r, FlowRow::Flow(_)))
        .count();
    let mut name = format!("{} · {} shown", title(flows), thousands(shown as u64));
    if flows.drift > 0 {
        name.push_str(&format!(" · {} drift", thousands(flows.drift)));
    }
    name.push_str(&troubles(flows));
    let widget = Table::new(rows, widths)
        .header(Row::new(FLOW_COLUMNS.map(|c| {
            Cell::from(Span::styled(c, theme.style(Token::Title)))
        })))
        .row_highlight_style(theme.style(Token::Selection))
        .highlight_symbol("› ")
        .block(with_suspect(panel(&name, true, theme), state, theme));
    let mut table_state = TableState::default()
        .with_selected((!flows.rows.is_empty()).then(|| flows.cursor - range.start));
    frame.render_stateful_widget(widget, area, &mut table_state);
    if flows.rows.is_empty() {
        let why = if flows.ring.is_empty() {
            "waiting for flows…"
        } else {
            "no flow matches: v shows dropped → drift → all, c clears the other filters"
        };
        let line = Rect::new(
            area.x + 1,
            area.y + 2,
            area.width.saturating_sub(2),
            u16::from(area.height > 3),
        );
        frame.render_widget(
            Paragraph::new(Span::styled(why, theme.style(Token::Muted))),
            line,
        );
    }
}

/// The selected dropped flow's likely cause (`suspects`) in the bottom border, which leaves the
/// rows where the mouse expects them.
fn with_suspect<'a>(block: Block<'a>, state: &State, theme: &Theme) -> Block<'a> {
    match selected_observation(state) {
        Some(observation) => block.title_bottom(Line::from(Span::styled(
            format!(" {} ", state.suspects.line(&observation)),
            theme.style(Token::Warn),
        ))),
        None => block,
    }
}

fn gap_row(gap: &crate::flows::Gap, theme: &Theme) -> Row<'static> {
    // A row has no cell spanning columns: the count under SOURCE, where under DESTINATION on.
    let lost = if gap.lost > 0 {
        format!("⋯ {} events lost", thousands(gap.lost))
    } else {
        "⋯ events may be lost".to_string()
    };
    let style = theme.style(Token::Warn);
    Row::new(vec![
        Cell::from(clock(gap.at)),
        Cell::from(Span::styled(lost, style)),
        Cell::from(Span::styled(gap.what.clone(), style)),
    ])
}

/// `acme-web/frontend · acme`: the end's workload and its tenant.
fn end_label(end: &FlowEndpoint, tenants: &Tenants) -> String {
    let workload = WorkloadId::of(end);
    match end.namespace.as_deref() {
        Some(ns) => format!("{workload} · {}", tenants.of(Some(ns))),
        None => workload.to_string(),
    }
}

fn flow_row(state: &State, flow: &FlowRecord, tenants: &Tenants, theme: &Theme) -> Row<'static> {
    let dataplane = match &flow.reason {
        Some(reason) => format!("{} {reason}", flow.verdict),
        None => flow.verdict.to_string(),
    };
    let dataplane_token = match flow.verdict {
        DataplaneVerdict::Dropped | DataplaneVerdict::Audit | DataplaneVerdict::Error => {
            Token::Open
        }
        _ => Token::Text,
    };
    let named = match flow.policies.as_slice() {
        [] => "—".to_string(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (+{})", rest.len()),
    };
    let judgement = state.flows.judgement(flow);
    let (palisade, palisade_token) = match judgement.map(|j| &j.prediction) {
        None if state.analysis.is_none() => ("(analysing)".to_string(), Token::Muted),
        None => ("…".to_string(), Token::Muted),
        Some(p) => (
            format!("{} · {}", p.word(), p.detail()),
            match p {
                Prediction::Allowed { .. } => Token::Ok,
                Prediction::Denied { .. } => Token::Open,
                _ => Token::Muted,
            },
        ),
    };
    let drift = judgement.and_then(|j| j.drift).is_some();
    Row::new(vec![
        Cell::from(clock(flow.time)),
        Cell::from(end_label(&flow.src, tenants)),
        Cell::from(end_label(&flow.dst, tenants)),
        Cell::from(flow.service()),
        Cell::from(Span::styled(dataplane, theme.style(dataplane_token))),
        Cell::from(node_text(flow.node.as_deref().unwrap_or("—"))),
        Cell::from(named),
        Cell::from(Span::styled(palisade, theme.style(palisade_token))),
        Cell::from(if drift {
            Span::styled("DRIFT", theme.style(Token::Error))
        } else {
            Span::raw("")
        }),
    ])
}

#[cfg(test)]
mod node_tests {
    use super::node_text;

    #[test]
    fn long_node_names_keep_both_ends() {
        assert_eq!(node_text("demo-node-c"), "demo-node-c");
        assert_eq!(node_text("ip-10-0-1-23.ec2.internal"), "ip-10-0…ternal");
        assert_eq!(node_text("ip-10-0-1-23.ec2.internal").chars().count(), 14);
        assert_ne!(
            node_text("gke-prod-pool-1-abcd1234-xyz9"),
            node_text("gke-prod-pool-1-abcd1234-xyz8")
        );
    }
}
