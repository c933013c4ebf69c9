//! The timeline screen as an on-call engineer uses it in an incident (issue 16 §3): newest
//! first, a cursor that stops at the ends, the journal's seeding in one row, filters, enter.

use k8s_openapi::jiff::Timestamp;

use super::msg::JournalNews;
use super::screen::Screen;
use super::testing::{analysed, press, rendered, type_text};
use super::timeline_view::{TimelineRow, TimelineScreen};
use super::{Effect, Msg, State, update};
use crate::history::PolicyKey;
use crate::timeline::{Event, EventKind};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + seconds).unwrap()
}

fn event(seconds: i64, kind: EventKind, tenant: &str, object: &str, summary: &str) -> Event {
    Event {
        at: at(seconds),
        kind,
        tenant: Some(tenant.into()),
        object: Some(object.into()),
        summary: summary.into(),
    }
}

/// A journal seeded with 54 policies at one second (worded as `palisade timeline` words a first
/// revision), then the incident: a patch, a spike.
fn incident_events() -> Vec<Event> {
    let mut events: Vec<Event> = (0..54)
        .map(|i| {
            event(
                0,
                EventKind::PolicyChange,
                if i % 2 == 0 { "acme" } else { "globex" },
                &format!("ns{i}/p{i}"),
                "rev 1: first seen: ingress 1 rule",
            )
        })
        .collect();
    events.push(event(
        600,
        EventKind::PolicyChange,
        "acme",
        "acme-web/allow-dns",
        "egress rules changed",
    ));
    events.push(event(
        610,
        EventKind::ViolationSpike,
        "acme",
        "acme → platform",
        "denied 4.0/s",
    ));
    events
}

/// `:timeline` opened on `s`, answered with `events`.
fn timeline(s: &mut State, events: Vec<Event>) {
    press(s, ":");
    type_text(s, "timeline");
    let effects = press(s, "enter");
    let flow = effects
        .iter()
        .find_map(|e| match e {
            Effect::LoadTimeline { flow, .. } => Some(*flow),
            _ => None,
        })
        .expect("the timeline asks the journal");
    update(
        s,
        Msg::Journal(JournalNews::Timeline {
            flow,
            events: Ok(events),
        }),
    );
}

fn screen(s: &State) -> &TimelineScreen {
    match &s.screen {
        Screen::Timeline(t) => t,
        other => panic!("not the timeline: {other:?}"),
    }
}

fn selected_summary(s: &State) -> String {
    screen(s)
        .selected_event()
        .map(|e| e.summary.clone())
        .unwrap_or_else(|| "(seeding row)".into())
}

#[test]
fn it_opens_on_the_newest_event_with_the_seeding_in_one_row() {
    let mut s = analysed();
    timeline(&mut s, incident_events());
    assert_eq!(selected_summary(&s), "denied 4.0/s");
    let rows = screen(&s).rows();
    assert_eq!(rows.len(), 3, "spike, patch, one seeding row: {rows:?}");
    assert!(matches!(rows[2], TimelineRow::Seeding { .. }));
}

#[test]
fn the_cursor_stops_at_both_ends() {
    let mut s = analysed();
    timeline(&mut s, incident_events());
    for _ in 0..10 {
        press(&mut s, "j");
    }
    assert_eq!(screen(&s).cursor, 2, "the last row, not past it");
    press(&mut s, "k");
    assert_eq!(selected_summary(&s), "egress rules changed");
    press(&mut s, "G");
    press(&mut s, "pagedown");
    assert_eq!(screen(&s).cursor, 2);
    press(&mut s, "pageup");
    press(&mut s, "k");
    assert_eq!(screen(&s).cursor, 0);
}

#[test]
fn enter_on_the_seeding_lists_it_and_again_folds_it() {
    let mut s = analysed();
    timeline(&mut s, incident_events());
    press(&mut s, "G");
    press(&mut s, "enter");
    assert_eq!(screen(&s).rows().len(), 56);
    assert!(
        selected_summary(&s).starts_with("rev 1: first seen"),
        "the cursor stays in the seeding"
    );
    press(&mut s, "enter");
    assert_eq!(
        screen(&s).rows().len(),
        56,
        "enter on an event is not a fold"
    );
}

#[test]
fn first_seen_revisions_apart_in_time_are_not_one_seeding() {
    let mut s = analysed();
    let events = vec![
        event(
            0,
            EventKind::PolicyChange,
            "acme",
            "a/x",
            "rev 1: first seen: x",
        ),
        event(
            3600,
            EventKind::PolicyChange,
            "acme",
            "a/y",
            "rev 1: first seen: y",
        ),
    ];
    timeline(&mut s, events);
    assert_eq!(
        screen(&s).rows(),
        vec![TimelineRow::Event(1), TimelineRow::Event(0)]
    );
}

#[test]
fn f_filters_by_kind_t_by_tenant_and_c_clears() {
    let mut s = analysed();
    let mut events = incident_events();
    events.push(event(
        620,
        EventKind::Rollback,
        "globex",
        "globex-api/deny",
        "rolled back",
    ));
    timeline(&mut s, events);
    press(&mut s, "f"); // policy changes only
    assert_eq!(selected_summary(&s), "egress rules changed");
    press(&mut s, "f"); // rollbacks only
    assert_eq!(screen(&s).rows().len(), 1);
    assert_eq!(selected_summary(&s), "rolled back");
    press(&mut s, "c");
    assert_eq!(selected_summary(&s), "rolled back", "newest of all again");
    press(&mut s, "j"); // the spike, acme's
    press(&mut s, "t");
    let rows = screen(&s).rows();
    let acme_only = rows.iter().all(|row| match *row {
        TimelineRow::Event(i) => screen(&s).events()[i].tenant.as_deref() == Some("acme"),
        TimelineRow::Seeding { .. } => true,
    });
    assert!(acme_only && rows.len() == 3, "{rows:?}");
    press(&mut s, "t");
    assert_eq!(screen(&s).filter.tenant, None, "t again: every tenant");
}

#[test]
fn enter_on_a_policy_change_opens_its_history() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    timeline(&mut s, incident_events());
    press(&mut s, "j");
    let effects = press(&mut s, "enter");
    let policy = PolicyKey::network("acme-web", "allow-dns");
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::LoadHistory { policy: p, .. } if *p == policy)),
        "{effects:?}"
    );
    assert!(matches!(&s.screen, Screen::History(h) if h.policy == policy));
    press(&mut s, "esc");
    assert_eq!(screen(&s).cursor, 1, "back on the timeline where it was");
}

#[test]
fn the_view_keeps_the_cursor_on_screen() {
    let mut s = analysed();
    let events: Vec<Event> = (0..100)
        .map(|i| {
            event(
                i * 10,
                EventKind::PolicyChange,
                "acme",
                &format!("acme-web/p{i}"),
                &format!("change number {i}"),
            )
        })
        .collect();
    timeline(&mut s, events);
    press(&mut s, "G");
    let text = rendered(&s, 140, 20);
    assert!(
        text.contains("change number 0"),
        "the oldest, selected, is shown"
    );
    assert!(
        !text.contains("change number 99 "),
        "the newest scrolled away"
    );
}

/// Filtered to one tenant, a seeding row counts that tenant's policies only (the other
/// tenant's first revisions lie between them in time).
#[test]
fn a_filtered_seeding_counts_only_what_it_shows() {
    let mut s = analysed();
    timeline(&mut s, incident_events());
    press(&mut s, "t"); // the spike's tenant, acme
    let rows = screen(&s).rows();
    assert!(
        matches!(rows.last(), Some(TimelineRow::Seeding { count: 27, .. })),
        "{rows:?}"
    );
    assert!(rendered(&s, 160, 20).contains("27 policies first seen at"));
}
