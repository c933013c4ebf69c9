//! The incident timeline: events from several sources merged in time order, and rendered as a
//! text table or Markdown (to paste into an incident ticket). Pure: the sources are read at the
//! edge (`commands::timeline` for the journal and the audit, the console for its live readings).

use std::fmt::Write as _;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A NetworkPolicy was created, changed or deleted (a journal revision).
    PolicyChange,
    /// A rollback attempt (an audit record), whatever its outcome.
    Rollback,
    /// Denied traffic between two groups rose above a threshold.
    ViolationSpike,
    /// Latency went above a threshold.
    LatencyBreach,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PolicyChange => "policy change",
            EventKind::Rollback => "rollback",
            EventKind::ViolationSpike => "violation spike",
            EventKind::LatencyBreach => "latency breach",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
    /// The tenant it concerns (for a pair of groups, the source's), if any.
    pub tenant: Option<String>,
    /// The object, e.g. `acme-web/allow-dns`, or `acme → platform` for a pair of groups.
    pub object: Option<String>,
    /// What happened, in one line.
    pub summary: String,
}

/// Merges the sources into one list in time order. Events at the same time keep their order:
/// sources in the order given, each source's own order within it. `since` drops older events;
/// `tenant` keeps only the events attributed to that tenant.
pub fn merge(
    sources: Vec<Vec<Event>>,
    since: Option<Timestamp>,
    tenant: Option<&str>,
) -> Vec<Event> {
    let mut events: Vec<Event> = sources
        .into_iter()
        .flatten()
        .filter(|e| since.is_none_or(|since| e.at >= since))
        .filter(|e| tenant.is_none_or(|t| e.tenant.as_deref() == Some(t)))
        .collect();
    // `sort_by_key` is stable.
    events.sort_by_key(|e| e.at);
    events
}

/// Parses `--since`: a duration back from `now` (`30m`, `2h`, `1d`, also `45s` and `1w`), or an
/// RFC 3339 time (`2026-03-01T12:00:00Z`).
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    let unit_seconds = |unit: &str| match unit {
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3600),
        "d" => Some(86_400),
        "w" => Some(7 * 86_400),
        _ => None,
    };
    if let Some(split) = text.find(|c: char| !c.is_ascii_digit())
        && split > 0
        && let Some(seconds) = unit_seconds(&text[split..])
    {
        let count: i64 = text[..split]
            .parse()
            .map_err(|_| format!("`{text}`: the number is too large"))?;
        let back = count
            .checked_mul(seconds)
            .map(SignedDuration::from_secs)
            .ok_or_else(|| format!("`{text}`: too far back"))?;
        return now
            .checked_sub(back)
            .map_err(|_| format!("`{text}`: too far back"));
    }
    text.parse::<Timestamp>().map_err(|_| {
        format!("expected a duration such as 30m, 2h or 1d, or an RFC 3339 time; got `{text}`")
    })
}

/// A timestamp as the timeline shows it: UTC, to the second.
pub fn show_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

pub fn cells(event: &Event) -> [String; 5] {
    [
        show_time(event.at),
        event.kind.to_string(),
        event.tenant.clone().unwrap_or_else(|| "-".into()),
        event.object.clone().unwrap_or_else(|| "-".into()),
        event.summary.clone(),
    ]
}

const HEADER: [&str; 5] = ["TIME (UTC)", "KIND", "TENANT", "OBJECT", "WHAT"];

/// An aligned text table, one event a line; "no events" when there are none.
pub fn render_text(events: &[Event]) -> String {
    if events.is_empty() {
        return "no events\n".to_string();
    }
    let rows: Vec<[String; 5]> = events.iter().map(cells).collect();
    aligned(&rows).into_iter().map(|l| l + "\n").collect()
}

/// The header and `rows` as lines, each column as wide as its widest cell (the last column is
/// not padded): the text table, and the console's timeline screen.
pub fn aligned(rows: &[[String; 5]]) -> Vec<String> {
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |row: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.trim_end().to_string()
    };
    std::iter::once(line(HEADER))
        .chain(
            rows.iter()
                .map(|row| line(row.each_ref().map(String::as_str))),
        )
        .collect()
}

/// What the Markdown heading says about the selection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub since: Option<Timestamp>,
    pub tenant: Option<String>,
    /// Where the events came from, e.g. the journal's path.
    pub source: Option<String>,
}

/// A Markdown section for an incident ticket: a heading, one line of scope, a table.
pub fn render_markdown(events: &[Event], scope: &Scope) -> String {
    let mut out = String::from("## Incident timeline");
    match &scope.tenant {
        Some(tenant) => {
            let _ = write!(out, ": tenant {}", escape(tenant));
        }
        None => out.push_str(": all tenants"),
    }
    out.push_str("\n\n");
    let since = scope
        .since
        .map(|s| format!("since {}", show_time(s)))
        .unwrap_or_else(|| "all recorded time".to_string());
    let _ = write!(out, "{} event(s), {since}", events.len());
    if let Some(source) = &scope.source {
        let _ = write!(out, ", from `{source}`");
    }
    out.push_str("; generated by palisade.\n\n");
    if events.is_empty() {
        out.push_str("_No events._\n");
        return out;
    }
    out.push_str("| Time (UTC) | Kind | Tenant | Object | What |\n");
    out.push_str("|---|---|---|---|---|\n");
    for event in events {
        let row = cells(event).map(|c| escape(&c));
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// A table cell: pipes escaped, line breaks flattened.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// One live reading the console takes for a pair of groups: a denied-traffic rate, or a latency.
#[derive(Debug, Clone, PartialEq)]
pub struct PairReading {
    pub at: Timestamp,
    /// The source group (a tenant name, `platform`, `unassigned`, `external`).
    pub from: String,
    /// The destination group.
    pub to: String,
    /// Drops per second for [`spike_events`], milliseconds for [`latency_breach_events`].
    pub value: f64,
}

/// Violation spikes: one event each time a pair's denied rate rises above `threshold` (drops per
/// second) after having been at or below it (or at its first reading). Readings may come in any
/// order; they are taken per pair in time order.
pub fn spike_events(readings: &[PairReading], threshold: f64) -> Vec<Event> {
    crossings(readings, threshold, |r| Event {
        at: r.at,
        kind: EventKind::ViolationSpike,
        tenant: tenant_of_group(&r.from),
        object: Some(format!("{} → {}", r.from, r.to)),
        summary: format!(
            "denied traffic rose to {:.1}/s (threshold {threshold}/s)",
            r.value
        ),
    })
}

/// Latency breaches: one event each time a pair's latency rises above `threshold_ms`, as
/// [`spike_events`] does for rates.
pub fn latency_breach_events(readings: &[PairReading], threshold_ms: f64) -> Vec<Event> {
    crossings(readings, threshold_ms, |r| Event {
        at: r.at,
        kind: EventKind::LatencyBreach,
        tenant: tenant_of_group(&r.from),
        object: Some(format!("{} → {}", r.from, r.to)),
        summary: format!(
            "latency rose to {:.0} ms (threshold {threshold_ms} ms)",
            r.value
        ),
    })
}

fn tenant_of_group(group: &str) -> Option<String> {
    (!matches!(group, "platform" | "unassigned" | "external" | "")).then(|| group.to_string())
}

fn crossings(
    readings: &[PairReading],
    threshold: f64,
    event: impl Fn(&PairReading) -> Event,
) -> Vec<Event> {
    let mut sorted: Vec<&PairReading> = readings.iter().collect();
    sorted.sort_by(|a, b| (&a.from, &a.to, a.at).cmp(&(&b.from, &b.to, b.at)));
    let mut out = Vec::new();
    let mut above: Option<(&str, &str, bool)> = None;
    for r in sorted {
        let was_above = match above {
            Some((from, to, state)) if from == r.from && to == r.to => state,
            _ => false,
        };
        let is_above = r.value > threshold;
        if is_above && !was_above {
            out.push(event(r));
        }
        above = Some((&r.from, &r.to, is_above));
    }
    out.sort_by_key(|e| e.at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn event(time: &str, kind: EventKind, tenant: Option<&str>, summary: &str) -> Event {
        Event {
            at: at(time),
            kind,
            tenant: tenant.map(String::from),
            object: Some("acme-web/allow-dns".into()),
            summary: summary.into(),
        }
    }

    #[test]
    fn merge_orders_by_time_and_keeps_ties_stable() {
        let journal = vec![
            event(
                "2026-03-01T10:00:00Z",
                EventKind::PolicyChange,
                Some("acme"),
                "a",
            ),
            event(
                "2026-03-01T10:05:00Z",
                EventKind::PolicyChange,
                Some("acme"),
                "tie-journal",
            ),
            event(
                "2026-03-01T10:20:00Z",
                EventKind::PolicyChange,
                Some("globex"),
                "d",
            ),
        ];
        let audit = vec![event(
            "2026-03-01T10:05:00Z",
            EventKind::Rollback,
            Some("acme"),
            "tie-audit",
        )];
        let live = vec![event(
            "2026-03-01T09:00:00Z",
            EventKind::ViolationSpike,
            Some("acme"),
            "first",
        )];
        let merged = merge(vec![journal, audit, live], None, None);
        let order: Vec<&str> = merged.iter().map(|e| e.summary.as_str()).collect();
        assert_eq!(order, ["first", "a", "tie-journal", "tie-audit", "d"]);
    }

    #[test]
    fn merge_filters_by_since_and_tenant() {
        let events = vec![
            event(
                "2026-03-01T10:00:00Z",
                EventKind::PolicyChange,
                Some("acme"),
                "old",
            ),
            event(
                "2026-03-01T11:00:00Z",
                EventKind::PolicyChange,
                Some("acme"),
                "edge",
            ),
            event(
                "2026-03-01T11:30:00Z",
                EventKind::PolicyChange,
                Some("globex"),
                "other",
            ),
            event(
                "2026-03-01T11:40:00Z",
                EventKind::PolicyChange,
                None,
                "platform",
            ),
        ];
        let since = Some(at("2026-03-01T11:00:00Z"));
        let all: Vec<String> = merge(vec![events.clone()], since, None)
            .into_iter()
            .map(|e| e.summary)
            .collect();
        assert_eq!(all, ["edge", "other", "platform"]);
        let acme: Vec<String> = merge(vec![events], since, Some("acme"))
            .into_iter()
            .map(|e| e.summary)
            .collect();
        assert_eq!(acme, ["edge"]);
        assert!(merge(Vec::new(), None, None).is_empty());
    }

    #[test]
    fn since_takes_durations_and_times() {
        let now = at("2026-03-01T12:00:00Z");
        assert_eq!(parse_since("30m", now), Ok(at("2026-03-01T11:30:00Z")));
        assert_eq!(parse_since("2h", now), Ok(at("2026-03-01T10:00:00Z")));
        assert_eq!(parse_since("1d", now), Ok(at("2026-02-28T12:00:00Z")));
        assert_eq!(parse_since("45s", now), Ok(at("2026-03-01T11:59:15Z")));
        assert_eq!(
            parse_since("2026-03-01T08:15:00Z", now),
            Ok(at("2026-03-01T08:15:00Z"))
        );
        assert_eq!(
            parse_since("2026-03-01T09:15:00+01:00", now),
            Ok(at("2026-03-01T08:15:00Z"))
        );
        for bad in ["", "h", "2x", "yesterday", "-2h", "99999999999999999999h"] {
            assert!(parse_since(bad, now).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn markdown_has_a_heading_a_scope_line_and_a_table() {
        let events = vec![
            event(
                "2026-03-01T10:00:00Z",
                EventKind::PolicyChange,
                Some("acme"),
                "egress rules 1→0 | by kubectl",
            ),
            Event {
                object: None,
                tenant: None,
                ..event("2026-03-01T10:05:00Z", EventKind::Rollback, None, "revert")
            },
        ];
        let scope = Scope {
            since: Some(at("2026-03-01T09:00:00Z")),
            tenant: Some("acme".into()),
            source: Some("/tmp/j.sqlite".into()),
        };
        let md = render_markdown(&events, &scope);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "## Incident timeline: tenant acme");
        assert_eq!(lines[1], "");
        assert!(
            lines[2].starts_with("2 event(s), since 2026-03-01 09:00:00Z, from `/tmp/j.sqlite`")
        );
        assert_eq!(lines[4], "| Time (UTC) | Kind | Tenant | Object | What |");
        assert_eq!(lines[5], "|---|---|---|---|---|");
        assert_eq!(
            lines[6],
            "| 2026-03-01 10:00:00Z | policy change | acme | acme-web/allow-dns | egress rules 1→0 \\| by kubectl |"
        );
        assert_eq!(
            lines[7],
            "| 2026-03-01 10:05:00Z | rollback | - | - | revert |"
        );
        assert_eq!(lines.len(), 8);
        for row in &lines[4..] {
            // Every row has the five columns: six unescaped pipes.
            let pipes = row.replace("\\|", "").matches('|').count();
            assert_eq!(pipes, 6, "{row}");
        }
        let empty = render_markdown(&[], &Scope::default());
        assert!(
            empty.starts_with("## Incident timeline: all tenants\n\n0 event(s), all recorded time")
        );
        assert!(empty.contains("_No events._"));
    }

    #[test]
    fn text_table_is_aligned() {
        let events = vec![event(
            "2026-03-01T10:00:00Z",
            EventKind::Rollback,
            Some("acme"),
            "revert by ops",
        )];
        let text = render_text(&events);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("TIME (UTC)            KIND      TENANT  OBJECT"));
        assert!(lines[1].starts_with(
            "2026-03-01 10:00:00Z  rollback  acme    acme-web/allow-dns  revert by ops"
        ));
        assert_eq!(render_text(&[]), "no events\n");
    }

    fn reading(time: &str, from: &str, to: &str, value: f64) -> PairReading {
        PairReading {
            at: at(time),
            from: from.into(),
            to: to.into(),
            value,
        }
    }

    #[test]
    fn spikes_are_rising_edges_per_pair() {
        let readings = vec![
            reading("2026-03-01T10:00:10Z", "acme", "platform", 9.0),
            reading("2026-03-01T10:00:00Z", "acme", "platform", 0.5),
            reading("2026-03-01T10:00:20Z", "acme", "platform", 12.0),
            reading("2026-03-01T10:00:30Z", "acme", "platform", 1.0),
            reading("2026-03-01T10:00:40Z", "acme", "platform", 6.0),
            reading("2026-03-01T10:00:05Z", "platform", "globex", 7.0),
        ];
        let events = spike_events(&readings, 5.0);
        let got: Vec<(String, Option<String>, String)> = events
            .iter()
            .map(|e| (show_time(e.at), e.tenant.clone(), e.object.clone().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "2026-03-01 10:00:05Z".to_string(),
                    None,
                    "platform → globex".to_string()
                ),
                (
                    "2026-03-01 10:00:10Z".to_string(),
                    Some("acme".to_string()),
                    "acme → platform".to_string()
                ),
                (
                    "2026-03-01 10:00:40Z".to_string(),
                    Some("acme".to_string()),
                    "acme → platform".to_string()
                ),
            ]
        );
        assert!(events.iter().all(|e| e.kind == EventKind::ViolationSpike));
        assert!(events[1].summary.contains("9.0/s"));
        let latency = latency_breach_events(
            &[reading("2026-03-01T10:00:00Z", "acme", "acme", 250.0)],
            200.0,
        );
        assert_eq!(latency.len(), 1);
        assert_eq!(latency[0].kind, EventKind::LatencyBreach);
        assert!(latency[0].summary.contains("250 ms"));
    }
}
