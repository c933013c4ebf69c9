use std::time::Duration;

use super::screen::{MatrixLevel, Screen};
use super::telemetry_rows::{agent_rows, agent_state, latency_rows, violation_rows};
use super::testing::{analysed, denied as drop, press, sample_reading as reading, type_text};
use super::{Msg, State, update};

fn command(s: &mut State, name: &str) {
    press(s, ":");
    type_text(s, name);
    press(s, "enter");
}

#[test]
fn violations_list_newest_first_and_open_the_namespace_pairs() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Metrics(Box::new(reading(vec![
            drop(Some("acme-web"), Some("globex-app"), 4.0),
            drop(None, None, 1.0),
        ]))),
    );
    command(&mut s, "violations");
    let Screen::Violations(table) = s.screen.clone() else {
        panic!("not on violations: {:?}", s.screen);
    };
    let rows = violation_rows(&s, &table);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].source_tenant, "acme");
    assert_eq!(rows[0].destination_tenant, "globex");
    assert_eq!(rows[0].count, 20.0);
    press(&mut s, "enter");
    let Screen::Matrix(m) = &s.screen else {
        panic!("enter did not open the matrix: {:?}", s.screen);
    };
    let MatrixLevel::Pairs {
        from, to, pairs, ..
    } = &m.level
    else {
        panic!("not the pairs level");
    };
    assert_eq!((from.as_str(), to.as_str()), ("acme-web", "globex-app"));
    assert!(!pairs.is_empty());
    press(&mut s, "enter");
    assert!(matches!(s.screen, Screen::Explain(_)), "pairs open explain");
    press(&mut s, "esc");
    press(&mut s, "esc");
    assert!(matches!(s.screen, Screen::Violations(_)), "esc walks back");
}

#[test]
fn a_violation_without_namespaces_says_why_it_cannot_open() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Metrics(Box::new(reading(vec![drop(None, None, 1.0)]))),
    );
    command(&mut s, "violations");
    press(&mut s, "enter");
    assert!(matches!(s.screen, Screen::Violations(_)));
    assert!(s.notice.as_deref().unwrap().contains("per node only"));
}

#[test]
fn violations_filter_by_tenant() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Metrics(Box::new(reading(vec![
            drop(Some("acme-web"), Some("globex-app"), 4.0),
            drop(Some("globex-app"), Some("acme-db"), 1.0),
        ]))),
    );
    command(&mut s, "violations");
    press(&mut s, "/");
    type_text(&mut s, "acme-db");
    press(&mut s, "enter");
    let Screen::Violations(table) = s.screen.clone() else {
        panic!()
    };
    let rows = violation_rows(&s, &table);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].destination_namespace.as_deref(), Some("acme-db"));
}

#[test]
fn agents_show_up_stale_and_down() {
    let mut s = analysed();
    update(&mut s, Msg::Metrics(Box::new(reading(Vec::new()))));
    command(&mut s, "agents");
    let Screen::Agents(table) = s.screen.clone() else {
        panic!()
    };
    let states: Vec<(&str, &str)> = agent_rows(&s, &table)
        .into_iter()
        .map(|a| (a.agent.node.as_deref().unwrap(), agent_state(&s, a)))
        .collect();
    assert_eq!(
        states,
        [("node-a", "up"), ("node-b", "stale"), ("node-c", "down")]
    );
}

#[test]
fn latency_lists_figures_and_the_consoles_own_lag() {
    let mut s = analysed();
    update(&mut s, Msg::Metrics(Box::new(reading(Vec::new()))));
    update(
        &mut s,
        Msg::WatchLag {
            p50: Duration::from_millis(4),
            p95: Duration::from_millis(9),
        },
    );
    command(&mut s, "latency");
    let Screen::Latency(table) = s.screen.clone() else {
        panic!()
    };
    let rows = latency_rows(&s, &table);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].p99, Some(0.4));
    assert_eq!(rows[1].p95, Some(0.009));
    press(&mut s, "j");
    let Screen::Latency(table) = &s.screen else {
        panic!()
    };
    assert_eq!(table.selected.as_ref(), Some(&rows[1].key));
}

#[test]
fn progress_shows_until_the_reading_arrives() {
    let mut s = analysed();
    update(&mut s, Msg::MetricsProgress { done: 3, total: 9 });
    assert_eq!(s.telemetry.progress, Some((3, 9)));
    update(&mut s, Msg::Metrics(Box::new(reading(Vec::new()))));
    assert_eq!(s.telemetry.progress, None);
}

#[test]
fn the_timeline_merges_the_journal_with_this_sessions_spikes() {
    use super::msg::{Effect, JournalNews};
    use crate::timeline::{Event, EventKind};
    use k8s_openapi::jiff::Timestamp;
    let mut s = analysed();
    // A quiet reading, then acme → globex denied at 4/s: one spike.
    update(&mut s, Msg::Metrics(Box::new(reading(Vec::new()))));
    update(
        &mut s,
        Msg::Metrics(Box::new(reading(vec![drop(
            Some("acme-web"),
            Some("globex-app"),
            4.0,
        )]))),
    );
    let effects = {
        press(&mut s, ":");
        type_text(&mut s, "timeline acme");
        press(&mut s, "enter")
    };
    let [Effect::LoadTimeline { flow, tenants }] = effects.as_slice() else {
        panic!("expected the journal request, got {effects:?}");
    };
    assert_eq!(tenants.get("acme-web"), Some(&Some("acme".to_string())));
    assert_eq!(tenants.get("kube-system"), Some(&None));
    let change = |tenant: &str, at: i64| Event {
        at: Timestamp::from_second(at).unwrap(),
        kind: EventKind::PolicyChange,
        tenant: Some(tenant.into()),
        object: Some(format!("{tenant}-web/allow-dns")),
        summary: "rev 2".into(),
    };
    update(
        &mut s,
        Msg::Journal(JournalNews::Timeline {
            flow: *flow,
            events: Ok(vec![
                change("acme", 1_700_000_000),
                change("globex", 1_700_000_001),
            ]),
        }),
    );
    let Screen::Timeline(t) = &s.screen else {
        panic!("not on the timeline")
    };
    let events = t.events.clone().unwrap().unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::PolicyChange, EventKind::ViolationSpike],
        "acme's only: its change first, then the spike: {events:?}"
    );
    assert_eq!(events[1].object.as_deref(), Some("acme → globex"));
}
