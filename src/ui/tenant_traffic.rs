//! The per tenant pair section of `:latency` and a tenant's figures in its detail pane.

use ratatui::text::{Line, Span};

use crate::app::State;
use crate::app::telemetry_rows::seconds;
use crate::app::tenant_traffic::{TenantTraffic, percent, title};
use crate::config::{Theme, Token};

fn rate(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.1}/s"))
}

/// Title, column header, pair rows worst first, then per tenant DNS error ratios.
pub fn section(state: &State, theme: &Theme) -> Vec<Line<'static>> {
    let t = &state.telemetry.traffic;
    let window = state
        .telemetry
        .latest
        .as_ref()
        .map_or(0, |r| r.latency_window.as_secs());
    let muted = theme.style(Token::Muted);
    let text = theme.style(Token::Text);
    let mut lines = vec![Line::from(Span::styled(title(t, window), muted))];
    if !t.pairs.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(
                "  {:<36} {:>9} {:>7} {:>7} {:>7} {:>6}",
                "SOURCE → DESTINATION", "REQ/S", "P50", "P95", "P99", "5XX"
            ),
            muted,
        )));
    }
    for p in &t.pairs {
        let q = p.quantiles;
        lines.push(Line::from(Span::styled(
            format!(
                "  {:<36} {:>9} {:>7} {:>7} {:>7} {:>6}",
                format!("{} → {}", p.source, p.destination),
                rate(p.requests_per_second),
                seconds(q.map(|q| q.p50)),
                seconds(q.map(|q| q.p95)),
                seconds(q.map(|q| q.p99)),
                percent(p.server_error_ratio),
            ),
            text,
        )));
    }
    if !t.dns.is_empty() {
        let dns: Vec<String> = t
            .dns
            .iter()
            .map(|d| {
                format!(
                    "{} {} of {}",
                    d.tenant,
                    percent(d.error_ratio),
                    rate(Some(d.responses_per_second))
                )
            })
            .collect();
        lines.push(Line::from(Span::styled(
            format!("  DNS errors (rcode not \"No Error\"): {}", dns.join(" · ")),
            text,
        )));
    }
    lines
}

/// Rows the section needs, for the layout.
pub fn height(state: &State) -> u16 {
    let t = &state.telemetry.traffic;
    let rows = t.pairs.len() + usize::from(!t.pairs.is_empty()) + usize::from(!t.dns.is_empty());
    (1 + rows).min(10) as u16
}

/// A tenant's own figures: the p95 of its outgoing and incoming requests, its DNS error ratio.
pub fn tenant_lines(state: &State, tenant: &str, theme: &Theme) -> Vec<Line<'static>> {
    let t: &TenantTraffic = &state.telemetry.traffic;
    if t.pairs.is_empty() && t.dns.is_empty() {
        return Vec::new();
    }
    let worst = |outgoing: bool| {
        t.pairs
            .iter()
            .filter(|p| {
                if outgoing {
                    p.source == tenant
                } else {
                    p.destination == tenant
                }
            })
            .filter_map(|p| p.quantiles.map(|q| q.p95))
            .reduce(f64::max)
    };
    let dns = t.dns.iter().find(|d| d.tenant == tenant);
    let muted = theme.style(Token::Muted);
    let text = theme.style(Token::Text);
    vec![
        Line::default(),
        Line::from(Span::styled(
            "Requests and DNS (Hubble's L7 metrics; worst pair's p95):",
            muted,
        )),
        Line::from(Span::styled(
            format!(
                "  outgoing p95 {}  incoming p95 {}  DNS errors {}",
                seconds(worst(true)),
                seconds(worst(false)),
                percent(dns.and_then(|d| d.error_ratio)),
            ),
            text,
        )),
    ]
}
