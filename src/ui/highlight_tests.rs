//! What the view emphasises inside a line: the changed words of the rollback diff and the
//! characters a `/` filter matched.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use serde_json::json;

use crate::app::rollback::{Prepared, RollbackNews};
use crate::app::testing::analysed;
use crate::app::{Msg, State, update};
use crate::config::{Config, Token};
use crate::history::{Operation, Revision};
use crate::model::ObjectRef;
use crate::rollback::{Access, Preflight, RollbackKind, plan};

fn render(state: &State, config: &Config) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(100, 24)).unwrap();
    terminal
        .draw(|frame| super::view(state, &config.theme, frame))
        .unwrap();
    terminal
}

/// The cell position of `needle`'s first character on screen.
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    (0..buffer.area.height).find_map(|y| {
        let row: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        row.find(needle)
            .map(|byte| (row[..byte].chars().count() as u16, y))
    })
}

/// The screen's rows from `rows`, with each run of cells carrying `modifier` between `«` `»`:
/// a text snapshot that shows what is emphasised.
fn marked(buffer: &Buffer, rows: std::ops::Range<u16>, modifier: Modifier) -> String {
    let mut out = String::new();
    for y in rows {
        let mut inside = false;
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            let on = cell.modifier.contains(modifier);
            if on != inside {
                out.push(if on { '«' } else { '»' });
                inside = on;
            }
            out.push_str(cell.symbol());
        }
        if inside {
            out.push('»');
        }
        out.push('\n');
    }
    out
}

fn revision(number: u32, port: u16, tier: &str) -> Revision {
    Revision {
        cluster: "http://127.0.0.1".into(),
        context: "demo".into(),
        kind: crate::history::PolicyKind::NetworkPolicy,
        namespace: "acme-web".into(),
        name: "allow-dns".into(),
        number,
        resource_version: Some(format!("{number}0")),
        generation: Some(i64::from(number)),
        observed_at: format!("2026-11-24T01:0{number}:00.000Z"),
        manager: None,
        operation: Operation::Observed,
        deleted: false,
        spec: serde_json::from_value(json!({
            "podSelector": {}, "egress": [{"ports": [{"port": port, "protocol": "UDP"}]}]
        }))
        .ok(),
        tier_spec: None,
        labels: BTreeMap::from([("tier".to_string(), tier.to_string())]),
        annotations: BTreeMap::new(),
    }
}

/// The rollback screen reverting acme-web/allow-dns from port 5353 back to 53.
fn reviewing_a_port_revert() -> State {
    let mut state = analysed();
    let policy: crate::history::PolicyKey = ObjectRef::new("acme-web", "allow-dns").into();
    let kind = RollbackKind::Revert { to: 1 };
    let step = crate::app::rollback_flow::open(&mut state.session.flows, policy.clone(), kind);
    let flow = match crate::app::nav::take(&mut state, step).as_slice() {
        [crate::app::Effect::PrepareRollback { flow, .. }] => *flow,
        other => panic!("expected planning, got {other:?}"),
    };
    let live: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "allow-dns", "namespace": "acme-web", "resourceVersion": "20",
                     "labels": {"tier": "frontend"}},
        "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 5353, "protocol": "UDP"}]}]}
    }))
    .unwrap();
    let revisions = [revision(1, 53, "dns"), revision(2, 5353, "frontend")];
    let plan = plan(kind, &policy, &revisions, Some(&live.into()), None).unwrap();
    let access = Access {
        allowed: true,
        reason: "test".into(),
    };
    let preflight = Preflight::new(&plan, None, access, None);
    let prepared = Box::new(Prepared {
        plan,
        blast: Err("not computed in this test".into()),
        preflight,
        actor: "tester".into(),
        suspension: None,
    });
    update(
        &mut state,
        Msg::Rollback {
            flow,
            news: RollbackNews::Prepared(prepared),
        },
    );
    state
}

#[test]
fn rollback_diff_screen() {
    let (config, _) = Config::load(None, false);
    let state = reviewing_a_port_revert();
    insta::assert_snapshot!(render(&state, &config).backend());
}

#[test]
fn rollback_diff_changed_words_marked() {
    let (config, _) = Config::load(None, false);
    let state = reviewing_a_port_revert();
    let terminal = render(&state, &config);
    insta::assert_snapshot!(marked(
        terminal.backend().buffer(),
        2..14,
        Modifier::REVERSED
    ));
}

#[test]
fn the_rollback_diff_emphasises_the_changed_words_only() {
    let (config, _) = Config::load(None, false);
    let state = reviewing_a_port_revert();
    let terminal = render(&state, &config);
    let buffer = terminal.backend().buffer();
    let word = config.theme.style(Token::DiffWord).add_modifier;
    assert!(word.contains(Modifier::REVERSED), "{word:?}");

    let (x, y) = find(buffer, "port: 5353").expect("the removed port line");
    let removed = config.theme.style(Token::Open);
    assert_eq!(
        buffer[(x, y)].fg,
        removed.fg.unwrap(),
        "`port:` keeps the line's colour"
    );
    assert!(
        !buffer[(x, y)].modifier.contains(Modifier::REVERSED),
        "`port:` is not a changed word"
    );
    let at = x + "port: ".len() as u16;
    assert_eq!(buffer[(at, y)].fg, removed.fg.unwrap());
    assert!(
        buffer[(at, y)].modifier.contains(word),
        "5353 is the changed word"
    );
    assert!(
        !buffer[(at + 4, y)].modifier.contains(Modifier::REVERSED),
        "nothing after it"
    );

    let (x, y) = find(buffer, "port: 53 ").expect("the added port line");
    let at = x + "port: ".len() as u16;
    assert_eq!(
        buffer[(at, y)].fg,
        config.theme.style(Token::Closed).fg.unwrap()
    );
    assert!(
        buffer[(at, y)].modifier.contains(word),
        "53 is the changed word"
    );

    let (x, y) = find(buffer, "tier: dns").expect("the added label");
    assert!(!buffer[(x, y)].modifier.contains(Modifier::REVERSED));
    assert!(
        buffer[(x + 6, y)].modifier.contains(word),
        "the label's new value"
    );
}

fn type_line(state: &mut State, prefix: &str, text: &str) {
    crate::app::testing::press(state, prefix);
    crate::app::testing::type_text(state, text);
    crate::app::testing::press(state, "enter");
}

#[test]
fn filtered_lists_mark_the_matched_characters() {
    let (config, _) = Config::load(None, false);
    let mut state = analysed();
    let mark = |state: &State| {
        let terminal = render(state, &config);
        marked(terminal.backend().buffer(), 1..10, Modifier::UNDERLINED)
    };
    type_line(&mut state, "/", "aweb");
    insta::assert_snapshot!("tree", mark(&state));
    type_line(&mut state, ":", "policies");
    type_line(&mut state, "/", "webdeny");
    insta::assert_snapshot!("policies", mark(&state));
    type_line(&mut state, ":", "findings");
    type_line(&mut state, "/", "acmedb");
    insta::assert_snapshot!("findings", mark(&state));
    type_line(&mut state, ":", "matrix");
    crate::app::testing::press(&mut state, "G");
    crate::app::testing::press(&mut state, "l");
    crate::app::testing::press(&mut state, "enter");
    crate::app::testing::press(&mut state, "enter");
    type_line(&mut state, "/", "gapp");
    insta::assert_snapshot!("matrix_pairs", mark(&state));
}

#[test]
fn a_tree_match_keeps_the_name_style_and_adds_the_emphasis() {
    let (config, _) = Config::load(None, false);
    let mut state = analysed();
    type_line(&mut state, "/", "db");
    let terminal = render(&state, &config);
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "acme-db").expect("the matching namespace is shown");
    let emphasis = config.theme.style(Token::FuzzyMatch).add_modifier;
    assert!(emphasis.contains(Modifier::UNDERLINED), "{emphasis:?}");
    let text = config.theme.style(Token::Text).fg.unwrap();
    let (a, d, b) = (&buffer[(x, y)], &buffer[(x + 5, y)], &buffer[(x + 6, y)]);
    assert!(
        !a.modifier.contains(Modifier::UNDERLINED),
        "`a` did not match"
    );
    assert!(d.modifier.contains(emphasis) && b.modifier.contains(emphasis));
    assert_eq!((a.fg, d.fg), (text, text), "the name's colour stays");
}

#[test]
fn telemetry_lists_mark_the_matched_characters() {
    use crate::app::testing::{denied, sample_reading};
    let (config, _) = Config::load(None, false);
    let mut state = analysed();
    state.session.metrics_source = crate::app::telemetry::SourceKind::Direct;
    let reading = sample_reading(vec![denied(Some("acme-web"), Some("globex-app"), 4.0)]);
    update(&mut state, Msg::Metrics(Box::new(reading)));
    let mark = |state: &State, rows| {
        let terminal = render(state, &config);
        marked(terminal.backend().buffer(), rows, Modifier::UNDERLINED)
    };
    type_line(&mut state, ":", "violations");
    type_line(&mut state, "/", "globexnodea");
    insta::assert_snapshot!("violations", mark(&state, 1..14));
    type_line(&mut state, ":", "latency");
    type_line(&mut state, "/", "lag");
    insta::assert_snapshot!("latency", mark(&state, 1..6));
    type_line(&mut state, ":", "agents");
    type_line(&mut state, "/", "ciliumnode");
    insta::assert_snapshot!("agents", mark(&state, 1..6));
}
