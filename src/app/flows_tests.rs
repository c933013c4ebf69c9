//! `:flows` and the flows part of the state, fed as the runtime would: `Msg::Flows`,
//! `Msg::Analyzed`, keys and `Msg::Settle`.

use std::time::{Duration, SystemTime};

use super::flows::FlowRow;
use super::msg::{Effect, Msg, WatchEvent};
use super::screen::Screen;
use super::state::State;
use super::testing::{analyse, analysed, press, type_text};
use super::update::update;
use crate::flows::{
    DataplanePolicy, DataplaneVerdict, FlowEndpoint, FlowNews, FlowRecord, FlowSourceKind, Gap,
    Name, SourceStatus, VerdictFilter,
};
use crate::model::ResourceKind;
use crate::policy::{Direction, Protocol};

pub(crate) fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn end(namespace: &str, pod: &str) -> FlowEndpoint {
    FlowEndpoint {
        namespace: Some(namespace.into()),
        pod: Some(pod.into()),
        ..FlowEndpoint::default()
    }
}

/// A flow between two pods of the fixture cluster, to `port` (UDP for 53, else TCP).
pub(crate) fn flow(
    src: (&str, &str),
    dst: (&str, &str),
    port: u16,
    verdict: DataplaneVerdict,
    secs: u64,
) -> FlowRecord {
    let dropped = verdict == DataplaneVerdict::Dropped;
    FlowRecord {
        time: at(secs),
        source_kind: FlowSourceKind::Hubble,
        node: Some("worker-1".into()),
        src: end(src.0, src.1),
        dst: end(dst.0, dst.1),
        protocol: Some(if port == 53 {
            Protocol::Udp
        } else {
            Protocol::Tcp
        }),
        port: Some(port),
        verdict,
        reason: dropped.then(|| Name::from("POLICY_DENIED")),
        direction: Some(Direction::Egress),
        policies: Vec::new(),
        is_reply: Some(false),
        count: 1,
    }
}

pub(crate) fn live(state: &mut State) {
    update(
        state,
        Msg::Flows(FlowNews::Status {
            source: FlowSourceKind::Hubble,
            status: SourceStatus::Live {
                target: "localhost:4245".into(),
            },
        }),
    );
}

pub(crate) fn feed(state: &mut State, flows: Vec<FlowRecord>) {
    update(
        state,
        Msg::Flows(FlowNews::Flows {
            source: FlowSourceKind::Hubble,
            flows,
        }),
    );
    update(state, Msg::Settle);
}

/// acme-web is denied everything (deny-all); globex-app's egress and kube-system are open.
pub(crate) fn acme_dns_dropped(secs: u64) -> FlowRecord {
    flow(
        ("acme-web", "web-1"),
        ("kube-system", "coredns-1"),
        53,
        DataplaneVerdict::Dropped,
        secs,
    )
}

/// Dropped by the dataplane, allowed by the policies: drift.
pub(crate) fn globex_dns_dropped(secs: u64) -> FlowRecord {
    flow(
        ("globex-app", "app-1"),
        ("kube-system", "coredns-1"),
        53,
        DataplaneVerdict::Dropped,
        secs,
    )
}

fn globex_dns_forwarded(secs: u64) -> FlowRecord {
    flow(
        ("globex-app", "app-1"),
        ("kube-system", "coredns-1"),
        53,
        DataplaneVerdict::Forwarded,
        secs,
    )
}

/// The listed flows' times (seconds), newest first; gaps as `None`.
fn listed(state: &State) -> Vec<Option<u64>> {
    state
        .flows
        .rows
        .iter()
        .map(|r| match r {
            FlowRow::Flow(seq) => state
                .flows
                .flow(*seq)
                .map(|f| f.time.duration_since(at(0)).unwrap().as_secs()),
            FlowRow::Gap(_) => None,
        })
        .collect()
}

fn on_flows() -> State {
    let mut s = analysed();
    live(&mut s);
    press(&mut s, ":");
    type_text(&mut s, "flows");
    press(&mut s, "enter");
    assert_eq!(s.screen, Screen::Flows);
    s
}

#[test]
fn flows_are_listed_newest_first_with_gaps_inline_and_the_source_in_the_title() {
    let mut s = on_flows();
    feed(&mut s, vec![acme_dns_dropped(1), acme_dns_dropped(2)]);
    update(
        &mut s,
        Msg::Flows(FlowNews::Gap {
            source: FlowSourceKind::Hubble,
            gap: Gap {
                at: at(3),
                lost: 1204,
                what: "Hubble ring buffer on worker-2".into(),
            },
        }),
    );
    feed(&mut s, vec![acme_dns_dropped(4), globex_dns_forwarded(5)]);
    // Dropped flows only, by default; the gap sits between the flows around it.
    assert_eq!(listed(&s), [Some(4), None, Some(2), Some(1)]);
    let title = super::flows::title(&s.flows);
    assert!(
        title.starts_with("Hubble Relay · live · 4 flows kept · dropped"),
        "{title}"
    );
    assert_eq!(s.flows.source_in_use(), Some(FlowSourceKind::Hubble));
}

#[test]
fn flow_messages_do_not_rebuild_the_list_before_the_settle() {
    let mut s = on_flows();
    update(
        &mut s,
        Msg::Flows(FlowNews::Flows {
            source: FlowSourceKind::Hubble,
            flows: vec![acme_dns_dropped(1)],
        }),
    );
    assert!(s.flows.rows.is_empty());
    assert!(super::subscriptions::subscriptions(&s).settle_pending);
    // Flows alone leave the snapshot, so the agents' discovery, alone.
    assert!(!super::subscriptions::subscriptions(&s).cluster_changed);
    update(&mut s, Msg::Settle);
    assert_eq!(listed(&s), [Some(1)]);
    assert!(!super::subscriptions::subscriptions(&s).settle_pending);
}

#[test]
fn the_verdict_filter_cycles_dropped_drift_all() {
    let mut s = on_flows();
    feed(
        &mut s,
        vec![
            acme_dns_dropped(1),
            globex_dns_dropped(2),
            globex_dns_forwarded(3),
        ],
    );
    assert_eq!(s.flows.query.verdict, VerdictFilter::Dropped);
    assert_eq!(listed(&s), [Some(2), Some(1)]);
    press(&mut s, "v");
    assert_eq!(s.flows.query.verdict, VerdictFilter::Drift);
    assert_eq!(listed(&s), [Some(2)], "only globex' DNS drop drifts");
    press(&mut s, "v");
    assert_eq!(listed(&s), [Some(3), Some(2), Some(1)]);
    press(&mut s, "v");
    assert_eq!(s.flows.query.verdict, VerdictFilter::Dropped);
}

#[test]
fn drift_is_marked_and_counted_from_the_engines_verdict() {
    let mut s = on_flows();
    feed(
        &mut s,
        vec![
            acme_dns_dropped(1),
            globex_dns_dropped(2),
            globex_dns_dropped(3),
        ],
    );
    let acme = s.flows.judgement(&acme_dns_dropped(1)).expect("judged");
    assert_eq!(acme.prediction.word(), "denied");
    assert_eq!(acme.drift, None);
    let globex = s.flows.judgement(&globex_dns_dropped(2)).expect("judged");
    assert_eq!(globex.prediction.word(), "allowed");
    assert_eq!(globex.drift, Some(crate::flows::Drift::DroppedButAllowed));
    assert_eq!(s.flows.drift, 2, "two flows of one drifting aggregate");
}

#[test]
fn a_new_analysis_clears_the_judgements_and_they_follow_the_new_policies() {
    let mut s = on_flows();
    feed(&mut s, vec![acme_dns_dropped(1)]);
    assert_eq!(s.flows.judgement(&acme_dns_dropped(1)).unwrap().drift, None);
    // The deny-all goes: acme-web's DNS is allowed now, and the drop the dataplane still
    // reports drifts (an agent behind the API server).
    update(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::NetworkPolicy,
            event: WatchEvent::Deleted {
                namespace: Some("acme-web".into()),
                name: "deny-all".into(),
            },
        },
    );
    let effects = update(&mut s, Msg::Settle);
    let Some(Effect::Analyze(flow)) = effects.into_iter().next() else {
        panic!("a changed cluster asks for an analysis");
    };
    analyse(&mut s, flow);
    assert!(s.flows.judgements.is_empty(), "cleared by the new analysis");
    update(&mut s, Msg::Settle);
    let judgement = s
        .flows
        .judgement(&acme_dns_dropped(1))
        .expect("judged again");
    assert_eq!(judgement.prediction.word(), "allowed");
    assert_eq!(
        judgement.drift,
        Some(crate::flows::Drift::DroppedButAllowed)
    );
    assert_eq!(s.flows.drift, 1);
}

#[test]
fn the_cursor_never_runs_past_either_end() {
    let mut s = on_flows();
    feed(&mut s, (1..=5).map(acme_dns_dropped).collect());
    press(&mut s, "G");
    assert_eq!(s.flows.cursor, 4);
    press(&mut s, "j");
    press(&mut s, "pagedown");
    assert_eq!(s.flows.cursor, 4, "the last row is the end");
    press(&mut s, "g");
    press(&mut s, "g");
    assert_eq!(s.flows.cursor, 0);
    press(&mut s, "k");
    press(&mut s, "pageup");
    assert_eq!(s.flows.cursor, 0);
    // An empty list has its cursor at 0, and moving does nothing.
    press(&mut s, "c");
    press(&mut s, "p"); // no selected flow
    let mut empty = on_flows();
    press(&mut empty, "G");
    press(&mut empty, "j");
    assert_eq!(empty.flows.cursor, 0);
}

#[test]
fn the_cursor_stays_on_its_flow_as_new_ones_arrive_and_at_the_top_follows_the_newest() {
    let mut s = on_flows();
    feed(&mut s, (1..=3).map(acme_dns_dropped).collect());
    press(&mut s, "j"); // the flow at 2
    feed(&mut s, vec![acme_dns_dropped(4)]);
    assert_eq!(s.flows.cursor, 2);
    assert_eq!(listed(&s)[s.flows.cursor], Some(2));
    press(&mut s, "g");
    press(&mut s, "g");
    feed(&mut s, vec![acme_dns_dropped(5)]);
    assert_eq!(s.flows.cursor, 0);
    assert_eq!(listed(&s)[0], Some(5));
}

#[test]
fn paused_the_list_is_frozen_and_new_flows_are_counted_and_kept() {
    let mut s = on_flows();
    feed(&mut s, vec![acme_dns_dropped(1), acme_dns_dropped(2)]);
    press(&mut s, "space");
    feed(&mut s, (3..=5).map(acme_dns_dropped).collect());
    assert_eq!(listed(&s), [Some(2), Some(1)], "frozen");
    assert_eq!(s.flows.new_while_paused(), Some(3));
    assert!(super::flows::title(&s.flows).ends_with("paused · 3 new"));
    assert_eq!(s.flows.ring.len(), 5, "kept meanwhile");
    press(&mut s, "space");
    assert_eq!(s.flows.new_while_paused(), None);
    assert_eq!(listed(&s), [5, 4, 3, 2, 1].map(Some));
}

#[test]
fn a_paused_list_survives_its_flows_leaving_the_ring() {
    let mut s = analysed();
    s.flows = super::flows::FlowsState::new(crate::flows::RingLimits {
        max_flows: 2,
        max_age: Duration::from_secs(600),
    });
    live(&mut s);
    press(&mut s, "6");
    assert_eq!(s.screen, Screen::Flows);
    feed(&mut s, vec![acme_dns_dropped(1), acme_dns_dropped(2)]);
    press(&mut s, "space");
    feed(&mut s, (3..=6).map(acme_dns_dropped).collect());
    assert_eq!(listed(&s), [Some(2), Some(1)]);
}

#[test]
fn tenant_namespace_and_port_filters_come_from_the_selected_flow_and_clear() {
    let mut s = on_flows();
    let mut web = flow(
        ("acme-web", "web-1"),
        ("acme-db", "db-0"),
        5432,
        DataplaneVerdict::Dropped,
        3,
    );
    web.policies.push(DataplanePolicy {
        kind: "NetworkPolicy".into(),
        namespace: Some("acme-web".into()),
        name: "deny-all".into(),
        tier: None,
        action: None,
        rule: None,
    });
    feed(
        &mut s,
        vec![acme_dns_dropped(1), globex_dns_dropped(2), web],
    );
    assert_eq!(listed(&s), [Some(3), Some(2), Some(1)]);
    press(&mut s, "t"); // acme-web → acme
    assert_eq!(s.flows.query.tenant.as_deref(), Some("acme"));
    assert_eq!(listed(&s), [Some(3), Some(1)]);
    press(&mut s, "p"); // 5432
    assert_eq!(listed(&s), [Some(3)]);
    press(&mut s, "c");
    assert_eq!(listed(&s), [Some(3), Some(2), Some(1)]);
    press(&mut s, "j"); // globex
    press(&mut s, "n");
    assert_eq!(s.flows.query.namespace.as_deref(), Some("globex-app"));
    assert_eq!(listed(&s), [Some(2)]);
    press(&mut s, "c");
    // The `/` filter is fuzzy over what the row shows, the dataplane's policy included.
    press(&mut s, "/");
    type_text(&mut s, "deny-all");
    assert_eq!(listed(&s), [Some(3)]);
    press(&mut s, "esc");
    assert_eq!(listed(&s), [Some(3), Some(2), Some(1)]);
}

#[test]
fn enter_explains_the_flows_two_ends() {
    let mut s = on_flows();
    feed(&mut s, vec![acme_dns_dropped(1)]);
    press(&mut s, "enter");
    let Screen::Explain(explain) = &s.screen else {
        panic!("enter opens explain, not {:?}", s.screen);
    };
    assert_eq!(explain.title, "acme-web/web-1 → kube-system/coredns-1");
    assert!(
        explain.text.contains("palisade: denied"),
        "{}",
        explain.text
    );
    assert!(
        explain
            .text
            .contains("Connections between acme-web/web-1 => kube-system/coredns-1"),
        "{}",
        explain.text
    );
    press(&mut s, "esc");
    assert_eq!(s.screen, Screen::Flows);
}

#[test]
fn without_a_source_flows_say_why_once_and_nothing_is_in_use() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Flows(FlowNews::Status {
            source: FlowSourceKind::Hubble,
            status: SourceStatus::Absent {
                reason: "no hubble-relay Service in kube-system".into(),
            },
        }),
    );
    assert_eq!(
        s.flows.absent(),
        Some(vec![
            "Hubble Relay: no hubble-relay Service in kube-system".to_string()
        ])
    );
    assert_eq!(s.flows.source_in_use(), None);
}

#[test]
fn a_context_switch_starts_the_flows_afresh_with_the_sessions_limits() {
    let mut s = on_flows();
    s.session.flow_limits.max_flows = 123;
    feed(&mut s, vec![acme_dns_dropped(1)]);
    let s = State::for_context("other", s.session.clone());
    assert!(s.flows.ring.is_empty());
    assert_eq!(s.flows.ring.limits().max_flows, 123);
}

#[test]
fn violations_tree_and_matrix_count_flows_while_a_source_is_live_and_fall_back_to_counters() {
    use super::denials::{DenialSource, Denied};
    use super::screen::TableScreen;
    use super::telemetry_rows::violation_rows;
    let mut s = analysed();
    update(
        &mut s,
        Msg::Metrics(Box::new(super::testing::sample_reading(vec![
            super::testing::denied(Some("acme-web"), Some("acme-db"), 2.0),
        ]))),
    );
    // No flow source yet: the counters.
    assert_eq!(s.denial_source(), DenialSource::Counters);
    assert_eq!(s.denied_between_groups("acme", "acme"), Denied::Rate(2.0));
    assert_eq!(violation_rows(&s, &TableScreen::default()).len(), 1);

    live(&mut s);
    feed(
        &mut s,
        vec![
            acme_dns_dropped(1),
            acme_dns_dropped(2),
            globex_dns_forwarded(3),
        ],
    );
    assert_eq!(
        s.denial_source(),
        DenialSource::Flows(FlowSourceKind::Hubble)
    );
    let platform = s.group_label("kube-system");
    assert_eq!(s.denied_between_groups("acme", &platform), Denied::Flows(2));
    assert_eq!(s.denied_between_groups("acme", "acme"), Denied::Flows(0));
    assert_eq!(
        s.denied_around_namespace("acme-web"),
        (Denied::Flows(0), Denied::Flows(2))
    );
    assert_eq!(
        s.denied_between_namespaces("acme-web", "kube-system"),
        Denied::Flows(2)
    );
    let rows = violation_rows(&s, &TableScreen::default());
    assert_eq!(
        rows.len(),
        1,
        "one aggregate dropped by policy; forwarded flows are not violations"
    );
    assert_eq!(rows[0].count, 2.0);
    assert_eq!(rows[0].source_namespace.as_deref(), Some("acme-web"));

    // The source goes away: back to the counters.
    update(
        &mut s,
        Msg::Flows(FlowNews::Status {
            source: FlowSourceKind::Hubble,
            status: SourceStatus::Absent {
                reason: "gone".into(),
            },
        }),
    );
    assert_eq!(s.denial_source(), DenialSource::Counters);
    assert_eq!(s.denied_between_groups("acme", "acme"), Denied::Rate(2.0));
}

#[test]
fn judging_is_spread_over_frames_and_completes() {
    use super::flows_settle::JUDGED_PER_SETTLE;
    let mut s = on_flows();
    let many: Vec<FlowRecord> = (0..JUDGED_PER_SETTLE as u16 + 10)
        .map(|i| {
            let mut f = acme_dns_dropped(1);
            f.port = Some(10_000 + i);
            f.protocol = Some(Protocol::Tcp);
            f
        })
        .collect();
    feed(&mut s, many);
    assert_eq!(s.flows.judgements.len(), JUDGED_PER_SETTLE);
    assert!(
        super::subscriptions::subscriptions(&s).settle_pending,
        "the rest is owed a frame"
    );
    update(&mut s, Msg::Settle);
    assert_eq!(s.flows.judgements.len(), JUDGED_PER_SETTLE + 10);
    assert!(!super::subscriptions::subscriptions(&s).settle_pending);
}

#[test]
fn a_click_selects_the_flow_under_the_pointer_and_the_wheel_moves() {
    let mut s = on_flows();
    update(
        &mut s,
        Msg::Resize {
            width: 120,
            height: 30,
        },
    );
    feed(&mut s, (1..=4).map(acme_dns_dropped).collect());
    // Header line, the panel's border, the column names: the third flow is on row 5.
    update(
        &mut s,
        Msg::Mouse(super::msg::MouseInput::Click { column: 10, row: 5 }),
    );
    assert_eq!(s.flows.cursor, 2);
    update(&mut s, Msg::Mouse(super::msg::MouseInput::WheelDown));
    update(&mut s, Msg::Mouse(super::msg::MouseInput::WheelDown));
    assert_eq!(s.flows.cursor, 3, "the wheel stops at the last row");
    // A click below the last row selects nothing new.
    update(
        &mut s,
        Msg::Mouse(super::msg::MouseInput::Click {
            column: 10,
            row: 20,
        }),
    );
    assert_eq!(s.flows.cursor, 3);
}

#[test]
fn flows_that_came_while_away_are_listed_on_the_way_back() {
    let mut s = on_flows();
    feed(&mut s, vec![acme_dns_dropped(1)]);
    press(&mut s, "enter"); // explain
    feed(&mut s, vec![acme_dns_dropped(2)]);
    press(&mut s, "esc");
    assert_eq!(s.screen, Screen::Flows);
    assert_eq!(listed(&s), [Some(2), Some(1)]);
}
