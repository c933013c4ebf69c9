//! Feeding a `State` the way the runtime would, for tests of `update` and of the views.

use super::msg::{Effect, Msg, WatchEvent};
use super::state::State;
use super::update::update;
use crate::config::keys::KeyPress;
use crate::config::{Keymap, default_keymap_source};
use crate::metrics::{AgentId, AgentStatus, Cni, DropRate, LatencyFigure, Quantiles, Reading};
use crate::model::fixture::small_cluster;
use crate::model::{ClusterObject, ResourceKind};
use std::time::{Duration, SystemTime};

/// A fresh state with the default keymap.
pub fn state() -> State {
    let (keymap, _) = Keymap::load(&default_keymap_source(), None);
    State::new("test-ctx", keymap, vec![])
}

pub fn press(state: &mut State, key: &str) -> Vec<Effect> {
    update(state, Msg::Key(KeyPress::parse(key).unwrap()))
}

pub fn type_text(s: &mut State, text: &str) {
    for c in text.chars() {
        press(s, &c.to_string());
    }
}

/// The small fixture cluster, listed and analysed.
pub fn analysed() -> State {
    analysed_with(small_cluster())
}

/// A cluster of `objects`, listed (tier kinds too) and analysed.
pub fn analysed_with(objects: Vec<ClusterObject>) -> State {
    let mut s = state();
    listed(&mut s, objects);
    let flow = s
        .analysis_job
        .running
        .expect("the listed cluster asked for an analysis");
    analyse(&mut s, flow);
    s
}

/// The analysis of the state's cluster, delivered as the answer to `flow`, as the analyst
/// would.
pub fn analyse(s: &mut State, flow: crate::flow::FlowId) -> Vec<Effect> {
    let analysis = crate::isolation::analysis::analyze(
        s.cluster.clone(),
        &s.tenant_rules,
        s.ip_block_pods,
        None,
    );
    update(
        s,
        Msg::Analyzed {
            flow,
            analysis: Box::new(analysis),
        },
    )
}

/// Every kind's initial list (the tier kinds present among `objects` listed, the others not
/// served), then the end of the batch.
pub fn listed(state: &mut State, objects: Vec<ClusterObject>) {
    let present = |kind: ResourceKind| objects.iter().any(|o| o.kind() == kind);
    let tier_kinds: Vec<ResourceKind> = crate::model::TierKind::ALL
        .into_iter()
        .map(ResourceKind::Tier)
        .chain(crate::model::NativeKind::ALL.map(ResourceKind::Native))
        .collect();
    for &kind in tier_kinds.iter().filter(|k| !present(**k)) {
        update(
            state,
            Msg::Watch {
                kind,
                event: WatchEvent::NotServed,
            },
        );
    }
    let served: Vec<ResourceKind> = tier_kinds.into_iter().filter(|k| present(*k)).collect();
    for kind in ResourceKind::ALL.into_iter().chain(served) {
        let of_kind = objects
            .iter()
            .filter(|o| o.kind() == kind)
            .cloned()
            .collect();
        update(
            state,
            Msg::Watch {
                kind,
                event: WatchEvent::Listed(of_kind),
            },
        );
    }
    update(state, Msg::Settle);
}

fn metrics_at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

/// A denied-flow rate seen on node-a.
pub fn denied(src: Option<&str>, dst: Option<&str>, per_second: f64) -> DropRate {
    DropRate {
        metric: "hubble_drop_total",
        node: Some("node-a".into()),
        reason: "POLICY_DENIED".into(),
        direction: Some("ingress".into()),
        source_namespace: src.map(str::to_string),
        destination_namespace: dst.map(str::to_string),
        policy: None,
        per_second,
    }
}

fn agent(node: &str, error: Option<&str>, last_ok: Option<u64>) -> AgentStatus {
    AgentStatus {
        agent: AgentId {
            cni: Cni::Cilium,
            target: format!("kube-system/cilium-{node}:9962"),
            node: Some(node.into()),
        },
        scraped_at: metrics_at(100),
        duration: Duration::from_millis(30),
        error: error.map(str::to_string),
        line_errors: 0,
        last_ok: last_ok.map(metrics_at),
        health: Vec::new(),
    }
}

/// A reading with three agents (up, stale, never up) and one latency figure.
pub fn sample_reading(drops: Vec<DropRate>) -> Reading {
    Reading {
        at: metrics_at(100),
        interval: Duration::from_secs(5),
        latency_window: Duration::from_secs(300),
        agents: vec![
            agent("node-a", None, Some(100)),
            agent("node-b", Some("timed out after 3s"), Some(20)),
            agent("node-c", Some("HTTP 403: forbidden"), None),
        ],
        drops,
        latency: vec![LatencyFigure {
            metric: "cilium_policy_implementation_delay".into(),
            node: None,
            quantiles: Some(Quantiles {
                p50: 0.05,
                p95: 0.2,
                p99: 0.4,
            }),
            observations: 12.0,
            from_summary: false,
        }],
        errors: Vec::new(),
        l7: Default::default(),
    }
}

/// Discovery's answer on a cluster that serves no tier kind and no Cilium kind.
pub fn not_served(state: &mut State) {
    let optional = (crate::model::TierKind::ALL
        .map(ResourceKind::Tier)
        .into_iter())
    .chain(crate::model::NativeKind::ALL.map(ResourceKind::Native));
    for kind in optional {
        update(
            state,
            Msg::Watch {
                kind,
                event: WatchEvent::NotServed,
            },
        );
    }
}

/// The whole console drawn on a `width` × `height` test terminal with the default theme, one
/// screen row per line.
pub fn rendered(state: &State, width: u16, height: u16) -> String {
    let (config, _) = crate::config::Config::load(None, false);
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| crate::ui::view(state, &config.theme, frame))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
