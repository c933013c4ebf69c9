//! Where the console's heap goes, component by component, on a generated cluster:
//!
//! ```text
//! cargo bench --bench memory
//! PALISADE_BENCH_MEMORY="5000,100000,20000" cargo bench --bench memory   # another size
//! ```
//!
//! Builds what the console builds, in the order it builds it, through the same public code: the
//! watchers' lists (the demo generator's objects through the watchers' conversions) fed to
//! `update` kind by kind, `Msg::Settle` (the tenants tree), the analysis on a copy of the snapshot
//! as the runtime starts it, `Msg::Analyzed`, and frames of the tree and the matrix drawn on a
//! 200×50 `TestBackend`. A counting allocator gives the live heap each step adds and the peak
//! while it runs. Flows, agent metrics and the journal are not built here: flows have their own
//! benchmark (`benches/flows.rs`), and the journal's memory is SQLite's, outside Rust's
//! allocator; docs/performance.md measures both on the running console instead.

use std::sync::atomic::Ordering;
use std::time::Instant;

use palisade::app::screen::{MatrixScreen, Screen};
use palisade::app::{Msg, State, WatchEvent, update};
use palisade::config::Config;
use palisade::isolation::analysis::analyze;
use palisade::model::{ClusterObject, ClusterSnapshot, NativeKind, ResourceKind, TierKind};
use palisade::sim::{ScaleSpec, Scenario};
use palisade::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "common/counting.rs"]
mod counting;
use counting::{Counting, LIVE, PEAK};

#[global_allocator]
static GLOBAL: Counting = Counting;

const SIZE_VAR: &str = "PALISADE_BENCH_MEMORY";
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("memory benchmark: run it with `cargo bench --bench memory`");
        return;
    }
    let size = std::env::var(SIZE_VAR).unwrap_or_else(|_| "200,20000,2000".into());
    let spec: ScaleSpec = size
        .parse()
        .expect("PALISADE_BENCH_MEMORY is NAMESPACES,PODS,POLICIES");
    run(spec);
}

/// Live heap now.
fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Runs `step`, returning its result, the live heap it added and its peak above the start.
fn measured<T>(step: impl FnOnce() -> T) -> (T, isize, usize) {
    let before = live();
    PEAK.store(before, Ordering::Relaxed);
    let out = step();
    let added = live() as isize - before as isize;
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    (out, added, peak)
}

fn mb(bytes: isize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The snapshot as the watchers' initial lists deliver it, one list per kind.
fn lists(snapshot: ClusterSnapshot) -> Vec<(ResourceKind, Vec<ClusterObject>)> {
    let mut by_kind: Vec<(ResourceKind, Vec<ClusterObject>)> = vec![
        (ResourceKind::Namespace, Vec::new()),
        (ResourceKind::Pod, Vec::new()),
        (ResourceKind::NetworkPolicy, Vec::new()),
    ];
    by_kind[0].1 = snapshot
        .namespaces
        .into_values()
        .map(ClusterObject::Namespace)
        .collect();
    by_kind[1].1 = snapshot
        .pods
        .into_values()
        .map(ClusterObject::Pod)
        .collect();
    by_kind[2].1 = snapshot
        .policies
        .into_values()
        .map(ClusterObject::Policy)
        .collect();
    by_kind
}

fn run(spec: ScaleSpec) {
    let (config, _) = Config::load(None, true);
    let started = Instant::now();
    let snapshot = Scenario::generated(spec)
        .snapshot()
        .expect("generated objects decode");
    eprintln!("generated {spec} in {:.1?}", started.elapsed());
    let mut rows: Vec<(String, isize, usize)> = Vec::new();

    let mut state = State::new("bench", config.keymap.clone(), Vec::new());
    update(
        &mut state,
        Msg::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    // The optional kinds as on a cluster without them, so the state can take the analysis.
    let optional = (TierKind::ALL.map(ResourceKind::Tier).into_iter())
        .chain(NativeKind::ALL.map(ResourceKind::Native));
    for kind in optional {
        update(
            &mut state,
            Msg::Watch {
                kind,
                event: WatchEvent::NotServed,
            },
        );
    }
    for (kind, objects) in lists(snapshot) {
        update(
            &mut state,
            Msg::Watch {
                kind,
                event: WatchEvent::Listed(objects),
            },
        );
    }
    // The snapshot's share of each kind, as the heap a copy of it takes (the lists' messages are
    // gone, so the live figure around `update` would hide their buffers).
    let cluster = &state.cluster;
    let (copy, added, peak) = measured(|| cluster.namespaces.clone());
    rows.push((format!("snapshot: {} namespaces", copy.len()), added, peak));
    drop(copy);
    let (copy, added, peak) = measured(|| cluster.pods.clone());
    rows.push((format!("snapshot: {} pods", copy.len()), added, peak));
    drop(copy);
    let (copy, added, peak) = measured(|| cluster.policies.clone());
    rows.push((format!("snapshot: {} policies", copy.len()), added, peak));
    drop(copy);
    let ((), added, peak) = measured(|| {
        update(&mut state, Msg::Settle);
    });
    rows.push(("tenants tree (Msg::Settle)".into(), added, peak));

    let (copy, added, peak) = measured(|| state.cluster.clone());
    rows.push((
        "snapshot, whole (also the size of the analysis' input copy)".into(),
        added,
        peak,
    ));
    drop(copy);

    let started = Instant::now();
    let (analysis, added, peak) = measured(|| {
        analyze(
            state.cluster.clone(),
            &state.tenant_rules,
            state.ip_block_pods,
            None,
        )
    });
    eprintln!("analysis in {:.1?}", started.elapsed());
    rows.push((
        "analysis kept (read-only engine, matrix, findings); peak: snapshot copy + build".into(),
        added,
        peak,
    ));
    let flow = state
        .analysis_job
        .running
        .expect("the listed cluster asked for an analysis");
    let ((), added, peak) = measured(|| {
        update(
            &mut state,
            Msg::Analyzed {
                flow,
                analysis: Box::new(analysis),
            },
        );
    });
    rows.push((
        "Msg::Analyzed (what the state derives from the analysis)".into(),
        added,
        peak,
    ));

    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test backend");
    let ((), added, peak) = measured(|| {
        for screen in [Screen::Tenants, Screen::Matrix(MatrixScreen::groups())] {
            state.screen = screen;
            terminal
                .draw(|frame| ui::view(&state, &config.theme, frame))
                .expect("draw");
        }
    });
    rows.push((
        format!("render: the tree and the matrix drawn ({WIDTH}×{HEIGHT})"),
        added,
        peak,
    ));

    println!("Heap per component, {spec} (namespaces, pods, policies)\n");
    println!("| component | heap kept | heap peak while built |");
    println!("|---|---|---|");
    for (name, added, peak) in &rows {
        println!("| {name} | {} | {} |", mb(*added), mb(*peak as isize));
    }
    println!("| **live heap at the end** | {} | |", mb(live() as isize));
}
