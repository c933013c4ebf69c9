//! What the analysis cannot see, on screen: the status bar and the matrix's warning line.

use k8s_openapi::jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::testing::listed;
use crate::app::{Msg, State, update};
use crate::config::Config;
use crate::model::{Count, Health, ResourceKind, TierKind, Unevaluated, WatchEvent};

fn screen(state: &State, config: &Config, width: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, 24)).unwrap();
    terminal
        .draw(|frame| super::view(state, &config.theme, frame))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let symbols: Vec<&str> = buffer.content().iter().map(|c| c.symbol()).collect();
    symbols
        .chunks(usize::from(width))
        .map(|row| row.concat())
        .collect()
}

/// The fixture cluster, analysed, with the matrix on screen.
fn on_the_matrix() -> (State, Config) {
    let (config, _) = Config::load(None, false);
    let mut state = State::new("ctx", config.keymap.clone(), vec![]);
    listed(&mut state, crate::model::fixture::small_cluster());
    let analysis = crate::isolation::analysis::analyze(
        state.cluster.clone(),
        &state.tenant_rules,
        state.ip_block_pods,
        None,
    );
    let flow = state.analysis_job.running.expect("an analysis");
    update(
        &mut state,
        Msg::Analyzed {
            flow,
            analysis: Box::new(analysis),
        },
    );
    update(
        &mut state,
        Msg::Key(crate::config::keys::KeyPress::parse("2").unwrap()),
    );
    (state, config)
}

#[test]
fn nothing_about_tiers_on_a_cluster_without_them() {
    let (state, config) = on_the_matrix();
    let text = screen(&state, &config, 200).join("\n");
    for word in [
        "cnp",
        "anp",
        "banp",
        "ClusterNetworkPolicy",
        "not evaluated",
        "forbidden",
    ] {
        assert!(!text.contains(word), "{word} in\n{text}");
    }
}

#[test]
fn forbidden_and_not_evaluated_kinds_are_said_in_the_status_bar_and_above_the_matrix() {
    let (mut state, config) = on_the_matrix();
    update(
        &mut state,
        Msg::Watch {
            kind: ResourceKind::Tier(TierKind::AdminNetworkPolicy),
            event: WatchEvent::Health(Health::Forbidden {
                since: Timestamp::UNIX_EPOCH,
                error: "list failed: 403 Forbidden".into(),
            }),
        },
    );
    let kind = |group: &str, kind: &str, n| Unevaluated {
        group: group.into(),
        version: "v2".into(),
        kind: kind.into(),
        count: Count::Objects(n),
    };
    update(
        &mut state,
        Msg::Unevaluated(vec![
            kind("cilium.io", "CiliumNetworkPolicy", 12),
            kind("projectcalico.org", "GlobalNetworkPolicy", 3),
        ]),
    );
    // On a terminal of usual width, the sentences have a line of their own above the bar.
    let lines = screen(&state, &config, 120);
    let bar_at = lines
        .iter()
        .position(|l| l.contains("ns ● live"))
        .expect("a status bar");
    assert!(lines[bar_at].contains("anp ⊘ forbidden"), "{lines:#?}");
    let warning = lines[bar_at - 1].trim();
    assert!(
        warning.starts_with(
            "⚠ AdminNetworkPolicy is served but forbidden to you: the matrix cannot be trusted │ not evaluated: 12 Cilium"
        ),
        "{lines:#?}"
    );
    // The matrix says it above its grid, before anything else in the body.
    let first_body_line = lines[1].trim();
    assert!(
        first_body_line.starts_with("⚠ AdminNetworkPolicy is served but forbidden"),
        "{lines:#?}"
    );
    assert!(
        lines[2]
            .trim()
            .starts_with("⚠ not evaluated: 12 CiliumNetworkPolicy"),
        "{lines:#?}"
    );
    assert!(lines[0].contains("partial: anp forbidden"), "{}", lines[0]);
}

#[test]
fn a_gitops_suspension_still_in_place_is_on_the_status_bar() {
    let (mut state, config) = on_the_matrix();
    let line = "GitOps: flux-system/apps suspended by alice 40 min ago — resume when fixed";
    let before = screen(&state, &config, 200).join("\n");
    assert!(!before.contains("GitOps:"), "{before}");
    state.journal.gitops_reminders = vec![line.to_string(), "GitOps: argocd/shop …".to_string()];
    let after = screen(&state, &config, 200).join("\n");
    assert!(
        after.contains(&format!("{line} (+1 more: palisade gitops suspended)")),
        "{after}"
    );
}

/// Every kind served and live on a 120-column terminal: the live kinds of a family share a chip,
/// so the bar is not cut (it ended in `ciliumnp ● live │ cc`); wide, each keeps its own.
#[test]
fn a_narrow_status_bar_groups_the_live_kinds_of_a_family() {
    use crate::app::state::SyncState;
    use crate::model::NativeKind;
    let (mut state, config) = on_the_matrix();
    state.context = "palisade-demo".into();
    for kind in TierKind::ALL.map(ResourceKind::Tier) {
        state.sync.insert(kind, SyncState::Live);
    }
    for kind in NativeKind::CILIUM.map(ResourceKind::Native) {
        state.sync.insert(kind, SyncState::Live);
    }
    let bar = |state: &State, width: u16| -> String {
        let rows = screen(state, &config, width);
        rows.iter()
            .find(|r| r.contains("palisade-demo  │"))
            .cloned()
            .unwrap_or_else(|| panic!("no status bar: {rows:#?}"))
    };
    let narrow = bar(&state, 120);
    assert!(
        narrow.contains(
            "ns ● live │ pods ● live │ netpol ● live │ anp banp cnp ● live │ ccnp ciliumnp ● live"
        ),
        "{narrow}"
    );
    let wide = bar(&state, 200);
    assert!(
        wide.contains(
            "netpol ● live │ cnp ● live │ anp ● live │ banp ● live │ ciliumnp ● live │ ccnp ● live"
        ),
        "{wide}"
    );
    // A kind in trouble keeps its own chip even when narrow.
    state.sync.insert(
        ResourceKind::Native(NativeKind::CiliumClusterwideNetworkPolicy),
        SyncState::Syncing,
    );
    let narrow = bar(&state, 120);
    assert!(narrow.contains("│ ccnp ◌ syncing"), "{narrow}");
}

/// A Calico cluster: its six kinds live share one chip when the bar is narrow (`gnp`, the
/// familiar one, last), each keeps its own when wide; a forbidden one keeps its own.
#[test]
fn a_narrow_status_bar_groups_the_live_calico_kinds() {
    use crate::app::state::SyncState;
    use crate::model::NativeKind;
    let (mut state, config) = on_the_matrix();
    state.context = "palisade-demo".into();
    for kind in TierKind::ALL.map(ResourceKind::Tier) {
        state.sync.insert(kind, SyncState::Live);
    }
    for kind in NativeKind::CALICO.map(ResourceKind::Native) {
        state.sync.insert(kind, SyncState::Live);
    }
    let bar = |state: &State, width: u16| -> String {
        let rows = screen(state, &config, width);
        rows.iter()
            .find(|r| r.contains("palisade-demo  │"))
            .cloned()
            .unwrap_or_else(|| panic!("no status bar: {rows:#?}"))
    };
    let narrow = bar(&state, 120);
    assert!(
        narrow.contains("│ anp banp cnp ● live │ caliconp sgnp sknp snp tier gnp ● live"),
        "{narrow}"
    );
    let wide = bar(&state, 250);
    assert!(
        wide.contains("│ caliconp ● live │ gnp ● live │ tier ● live │ snp ● live"),
        "{wide}"
    );
    state.sync.insert(
        ResourceKind::Native(NativeKind::CalicoTier),
        SyncState::Forbidden {
            since: k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            error: "403".into(),
        },
    );
    let narrow = bar(&state, 140);
    assert!(
        narrow.contains("caliconp sgnp sknp snp gnp ● live │ tier ⊘ forbidden"),
        "{narrow}"
    );
}
