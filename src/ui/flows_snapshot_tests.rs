//! `:flows` as drawn: drops, drift, a gap, and the one line said when no source exists.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::flows_tests::{acme_dns_dropped, feed, globex_dns_dropped, live};
use crate::app::testing::{analysed, press};
use crate::app::{Msg, State, update};
use crate::config::Config;
use crate::flows::{FlowNews, FlowSourceKind, Gap, SourceStatus};

fn render(state: &State) -> Terminal<TestBackend> {
    let (config, _) = Config::load(None, false);
    let mut terminal = Terminal::new(TestBackend::new(160, 14)).unwrap();
    terminal
        .draw(|frame| super::view(state, &config.theme, frame))
        .unwrap();
    terminal
}

#[test]
fn flows_with_drops_drift_and_a_gap() {
    let mut s = analysed();
    live(&mut s);
    press(&mut s, "6");
    feed(&mut s, vec![acme_dns_dropped(1), globex_dns_dropped(2)]);
    update(
        &mut s,
        Msg::Flows(FlowNews::Gap {
            source: FlowSourceKind::Hubble,
            gap: Gap {
                at: crate::app::flows_tests::at(3),
                lost: 1204,
                what: "Hubble ring buffer on worker-2".into(),
            },
        }),
    );
    feed(&mut s, vec![acme_dns_dropped(4)]);
    insta::assert_snapshot!(render(&s).backend());
}

#[test]
fn flows_without_a_source_say_so_in_one_line() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Flows(FlowNews::Status {
            source: FlowSourceKind::Hubble,
            status: SourceStatus::Absent {
                reason: "no hubble-relay Service in kube-system, and no --hubble-relay".into(),
            },
        }),
    );
    press(&mut s, "6");
    insta::assert_snapshot!(render(&s).backend());
}

#[test]
fn violations_from_flows_say_so_and_the_header_counts_drift() {
    let mut s = analysed();
    live(&mut s);
    feed(&mut s, vec![acme_dns_dropped(1), globex_dns_dropped(2)]);
    press(&mut s, ":");
    crate::app::testing::type_text(&mut s, "violations");
    press(&mut s, "enter");
    insta::assert_snapshot!(render(&s).backend());
}

#[test]
fn flows_while_a_source_reconnects_and_nothing_matches() {
    let mut s = analysed();
    live(&mut s);
    press(&mut s, "6");
    feed(&mut s, vec![globex_dns_dropped(1)]);
    update(
        &mut s,
        Msg::Flows(FlowNews::Status {
            source: FlowSourceKind::Hubble,
            status: SourceStatus::Reconnecting {
                target: "localhost:4245".into(),
                since: crate::app::flows_tests::at(2),
                error: "connection refused".into(),
            },
        }),
    );
    press(&mut s, "/");
    crate::app::testing::type_text(&mut s, "zzz");
    press(&mut s, "enter");
    insta::assert_snapshot!(render(&s).backend());
}

#[test]
fn the_tree_and_the_matrix_count_dropped_flows_from_a_live_source() {
    let mut s = analysed();
    live(&mut s);
    feed(&mut s, vec![acme_dns_dropped(1), acme_dns_dropped(2)]);
    let tree = format!("{:?}", render(&s).backend());
    assert!(
        tree.contains("denied 2 flows out"),
        "acme's badge counts its dropped flows:\n{tree}"
    );
    press(&mut s, "2");
    let matrix = format!("{:?}", render(&s).backend());
    assert!(
        matrix.contains("drops from Hubble Relay flows") && matrix.contains("⚠2"),
        "{matrix}"
    );
}
