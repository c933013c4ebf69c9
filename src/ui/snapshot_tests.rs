use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::testing::listed;
use crate::app::{Msg, State, update};
use crate::config::keys::KeyPress;
use crate::config::{Config, Token};
use crate::isolation::analysis::analyze;
use crate::isolation::intent::Intent;
use crate::model::fixture::small_cluster;

/// Tenants must not reach each other; every tenant must reach kube-dns (acme cannot).
const FIXTURE_INTENT: &str = "required:\n- name: dns\n  from: {tenant: '*'}\n  to: {namespace: kube-system}\n  ports: [UDP/53]\nforbidden:\n- name: cross-tenant\n  from: {tenant: '*'}\n  to: {tenant: '*'}\n  scope: other-tenant\n";

fn fixture_state() -> (State, Config) {
    let (config, warnings) = Config::load(None, false);
    assert!(warnings.is_empty());
    let mut state = State::new("fixture-ctx", config.keymap.clone(), vec![]);
    listed(&mut state, small_cluster());
    // What the runtime does for Effect::Analyze, done inline.
    let intent = Intent::from_yaml(FIXTURE_INTENT).unwrap();
    let analysis = analyze(
        state.cluster.clone(),
        &state.tenant_rules,
        state.ip_block_pods,
        Some(&intent),
    );
    let flow = state
        .analysis_job
        .running
        .expect("the listed cluster asked for an analysis");
    update(
        &mut state,
        Msg::Analyzed {
            flow,
            analysis: Box::new(analysis),
        },
    );
    (state, config)
}

fn render(state: &State, config: &Config) -> Terminal<TestBackend> {
    render_at(state, config, 100)
}

fn render_at(state: &State, config: &Config, width: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, 24)).unwrap();
    terminal
        .draw(|frame| super::view(state, &config.theme, frame))
        .unwrap();
    terminal
}

fn press(state: &mut State, key: &str) {
    update(state, Msg::Key(KeyPress::parse(key).unwrap()));
}

#[test]
fn tenants_screen() {
    let (mut state, config) = fixture_state();
    press(&mut state, "enter"); // open acme
    press(&mut state, "j");
    press(&mut state, "j");
    press(&mut state, "enter"); // open acme-web
    press(&mut state, "j"); // its one workload (web-1, web-2)
    press(&mut state, "j"); // its deny-all policy
    let terminal = render(&state, &config);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn help_screen_lists_the_keymap() {
    let (mut state, config) = fixture_state();
    press(&mut state, "?");
    let terminal = render(&state, &config);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn isolation_badges_use_the_theme_tokens() {
    let (mut state, config) = fixture_state();
    press(&mut state, "enter");
    let terminal = render(&state, &config);
    let buffer = terminal.backend().buffer();
    let find = |needle: &str| {
        (0..buffer.area.height).find_map(|y| {
            let row: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            row.find(needle)
                .map(|byte| (row[..byte].chars().count() as u16, y))
        })
    };
    // acme-db is isolated both ways (✓, closed); in the globex row egress is open (✗).
    let (x, y) = find("in✓").expect("an isolated badge is drawn");
    assert_eq!(
        buffer[(x, y)].fg,
        config.theme.style(Token::Closed).fg.unwrap()
    );
    press(&mut state, "G");
    press(&mut state, "k");
    press(&mut state, "enter");
    let terminal = render(&state, &config);
    let buffer = terminal.backend().buffer();
    let row_of_globex = (0..buffer.area.height)
        .find(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, *y)].symbol().to_string())
                .collect::<String>()
                .contains("globex-app")
        })
        .expect("globex-app row");
    let row: String = (0..buffer.area.width)
        .map(|x| buffer[(x, row_of_globex)].symbol().to_string())
        .collect();
    let col = row[..row.find("eg✗").expect("open egress badge")]
        .chars()
        .count() as u16;
    assert_eq!(
        buffer[(col, row_of_globex)].fg,
        config.theme.style(Token::Open).fg.unwrap()
    );
}

fn type_line(state: &mut State, prefix: &str, text: &str) {
    press(state, prefix);
    for c in text.chars() {
        update(state, Msg::Key(KeyPress::parse(&c.to_string()).unwrap()));
    }
    press(state, "enter");
}

#[test]
fn matrix_screen() {
    let (mut state, config) = fixture_state();
    type_line(&mut state, ":", "matrix");
    press(&mut state, "G"); // platform row
    press(&mut state, "l"); // globex column
    insta::assert_snapshot!(render(&state, &config).backend());
}

#[test]
fn matrix_drill_down_to_explain() {
    let (mut state, config) = fixture_state();
    type_line(&mut state, ":", "matrix");
    press(&mut state, "G");
    press(&mut state, "l");
    press(&mut state, "enter"); // platform → globex: namespaces
    insta::assert_snapshot!("namespaces", render(&state, &config).backend());
    press(&mut state, "enter"); // kube-system → globex-app: workload pairs
    insta::assert_snapshot!("pairs", render(&state, &config).backend());
    press(&mut state, "enter"); // explain the pair
    insta::assert_snapshot!("explain", render(&state, &config).backend());
}

#[test]
fn policies_and_findings_screens() {
    let (mut state, config) = fixture_state();
    type_line(&mut state, ":", "policies");
    insta::assert_snapshot!("policies", render(&state, &config).backend());
    type_line(&mut state, ":", "findings");
    insta::assert_snapshot!("findings", render(&state, &config).backend());
}

/// The fixture plus one agent reading: acme-web → globex-app is being denied at 4/s, and a
/// per-node drop without namespaces.
fn with_reading() -> (State, Config) {
    use crate::app::testing::{denied, sample_reading};
    let (mut state, config) = fixture_state();
    state.session.metrics_source = crate::app::telemetry::SourceKind::Direct;
    let reading = sample_reading(vec![
        denied(Some("acme-web"), Some("globex-app"), 4.0),
        denied(None, None, 0.5),
    ]);
    update(&mut state, Msg::Metrics(Box::new(reading)));
    (state, config)
}

#[test]
fn the_header_names_the_metrics_urls_when_they_are_the_source() {
    let (mut state, config) = with_reading();
    state.session.metrics_source =
        crate::app::telemetry::SourceKind::Urls(vec!["http://10.0.0.5:9962/metrics".into()]);
    type_line(&mut state, ":", "violations");
    let screen = render(&state, &config).backend().to_string();
    assert!(
        screen.contains("the agent at http://10.0.0.5:9962/metrics (--metrics-url), as of"),
        "{screen}"
    );
    assert!(!screen.contains("through the API server"), "{screen}");
    state.session.metrics_source = crate::app::telemetry::SourceKind::Urls(vec![
        "http://10.0.0.5:9962/metrics".into(),
        "http://10.0.0.6:9962/metrics".into(),
    ]);
    let screen = render(&state, &config).backend().to_string();
    assert!(
        screen.contains("2 agents by --metrics-url (http://10.0.0.5:9962/metrics and 1 more)"),
        "{screen}"
    );
}

#[test]
fn violations_latency_and_agents_screens() {
    let (mut state, config) = with_reading();
    type_line(&mut state, ":", "violations");
    insta::assert_snapshot!("violations", render(&state, &config).backend());
    type_line(&mut state, ":", "latency");
    insta::assert_snapshot!("latency", render(&state, &config).backend());
    type_line(&mut state, ":", "agents");
    insta::assert_snapshot!("agents", render(&state, &config).backend());
}

#[test]
fn denied_flows_show_in_the_tree_and_matrix() {
    let (mut state, config) = with_reading();
    insta::assert_snapshot!("tree_denied", render(&state, &config).backend());
    type_line(&mut state, ":", "matrix");
    press(&mut state, "l"); // acme → globex
    insta::assert_snapshot!("matrix_denied", render(&state, &config).backend());
}

#[test]
fn the_tour_panel_shows_the_step_and_outlines_its_region() {
    let (mut state, config) = fixture_state();
    update(
        &mut state,
        Msg::TourLoaded {
            saved: None,
            offer: false,
            start: true,
        },
    );
    let terminal = render(&state, &config);
    let buffer = terminal.backend().buffer();
    let text: String = buffer.content().iter().map(|c| c.symbol()).collect();
    assert!(
        text.contains("Tour 1/10: Tenants and how they are defined"),
        "{text}"
    );
    assert!(text.contains("press enter to open the tenant"), "{text}");
    // Step 1 points at the tree: its top-left corner carries the tour's style.
    let highlight = config.theme.style(Token::TourHighlight);
    assert_eq!(buffer[(0, 1)].fg, highlight.fg.unwrap());
    assert_ne!(
        buffer[(99, 1)].fg,
        highlight.fg.unwrap(),
        "the detail pane is not outlined"
    );
    // Leaving the tour removes the panel.
    press(&mut state, ":");
    for c in "tour off".chars() {
        press(&mut state, &c.to_string());
    }
    press(&mut state, "enter");
    let terminal = render(&state, &config);
    let text: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(!text.contains("Tour 1/10"));
}

fn screen_text(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    let width = usize::from(buffer.area.width);
    let symbols: Vec<&str> = buffer.content().iter().map(|c| c.symbol()).collect();
    symbols.chunks(width).map(|row| row.concat()).collect()
}

#[test]
fn the_status_bar_says_when_and_why_a_kind_is_not_live() {
    use crate::model::{Health, ResourceKind, WatchEvent};
    use k8s_openapi::jiff::Timestamp;
    let (mut state, config) = fixture_state();
    let lines = screen_text(&render(&state, &config));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ns ● live │ pods ● live │ netpol ● live")),
        "{lines:#?}"
    );
    assert!(!lines[0].contains("partial"), "{}", lines[0]);
    let health = |kind, health| Msg::Watch {
        kind,
        event: WatchEvent::Health(health),
    };
    // 2027-01-15T08:00:00Z and ten seconds later.
    let since = Timestamp::from_second(1_800_000_000).unwrap();
    update(
        &mut state,
        health(
            ResourceKind::Pod,
            Health::Reconnecting {
                since,
                error: "watch failed: connection refused".into(),
            },
        ),
    );
    update(
        &mut state,
        health(
            ResourceKind::NetworkPolicy,
            Health::Stale {
                since: Timestamp::from_second(1_800_000_010).unwrap(),
                reason: "no event for 12 s and the probe failed".into(),
            },
        ),
    );
    let lines = screen_text(&render_at(&state, &config, 160));
    let bar = lines
        .iter()
        .find(|l| l.contains("ns ● live"))
        .expect("a status bar");
    assert!(
        bar.contains("pods ↻ reconnecting since 08:00:00Z │ netpol ✗ stale since 08:00:10Z"),
        "{bar}"
    );
    assert!(
        bar.contains("│ pods: watch failed: connection refused"),
        "{bar}"
    );
    assert!(
        lines[0].contains("partial: pods reconnecting, netpol stale"),
        "the header marks the analysis partial: {}",
        lines[0]
    );
}

/// A matrix taller and wider than the screen: the frame draws only the rows and columns around
/// the cursor, scrolled as the table would scroll them.
#[test]
fn a_large_matrix_scrolls_to_the_cursor_both_ways() {
    use crate::model::fixture::{namespace, pod};
    let mut objects = Vec::new();
    for t in 0..40 {
        let name = format!("team{t:02}");
        objects.push(namespace(&name, &[("tenant", &name)]));
        objects.push(pod(&name, "web", &[("app", "web")]));
    }
    let mut state = crate::app::testing::analysed_with(objects);
    type_line(&mut state, ":", "matrix");
    let text = |state: &State| crate::app::testing::rendered(state, 100, 24);
    let top = text(&state);
    assert!(top.contains("team00") && !top.contains("team39"), "{top}");
    press(&mut state, "G");
    for _ in 0..39 {
        press(&mut state, "l");
    }
    let bottom = text(&state);
    // The last row (its label at the line's start) and the last tenant column (in the header)
    // are on screen; the first row is not.
    assert!(bottom.lines().any(|l| l.starts_with("┃team39")), "{bottom}");
    assert!(
        !bottom.lines().any(|l| l.starts_with("┃team00")),
        "{bottom}"
    );
    assert!(bottom.contains("team39 → team39"), "{bottom}");
}

/// A tree taller than the screen: the frame builds only the tenants with a row on screen, and
/// shows what the whole tree would, scrolled to the cursor, open tenants included.
#[test]
fn a_long_tenant_tree_scrolls_to_the_cursor() {
    use crate::model::fixture::{namespace, pod};
    let mut objects = Vec::new();
    for t in 0..40 {
        let name = format!("team{t:02}");
        for ns in ["app", "db"] {
            let ns = format!("{name}-{ns}");
            objects.push(namespace(&ns, &[("tenant", &name)]));
            objects.push(pod(&ns, "web", &[("app", "web")]));
        }
    }
    let mut state = crate::app::testing::analysed_with(objects);
    let text = |state: &State| crate::app::testing::rendered(state, 100, 24);
    let row = |text: &str, needle: &str| text.lines().position(|l| l.contains(needle));
    let top = text(&state);
    assert!(
        row(&top, "team00").is_some() && row(&top, "team39").is_none(),
        "{top}"
    );
    press(&mut state, "G");
    let bottom = text(&state);
    assert!(row(&bottom, "› ▶ team39").is_some(), "{bottom}");
    assert!(row(&bottom, "team00").is_none(), "{bottom}");
    // Opened at the bottom: its namespaces follow it, and the rows above scroll up by two.
    press(&mut state, "space");
    press(&mut state, "G");
    let opened = text(&state);
    let tenant = row(&opened, "▼ team39 ").expect(&opened);
    let last_ns = row(&opened, "▶ team39-db").expect(&opened);
    assert_eq!(last_ns, tenant + 2, "{opened}");
    assert!(row(&opened, "team37").is_some(), "{opened}");
}
