//! Render time per view at ~10k rows: `cargo bench --bench render`.
//!
//! Builds one large cluster straight from model types (50 tenants × 40 namespaces = 2,000
//! namespaces, 10,000 policies, a pod in every third namespace), feeds it through `update` like
//! the watchers do, runs the analysis like the runtime does, then times `terminal.draw` of
//! `ui::view` on a 200×50 `TestBackend` for each screen. Prints a Markdown table of the median,
//! p90 and max of N draws. Not part of `cargo test`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use palisade::app::screen::{MatrixScreen, Screen, TableScreen};
use palisade::app::state::Focus;
use palisade::app::{Msg, State, WatchEvent, update};
use palisade::config::Config;
use palisade::isolation::analysis::analyze;
use palisade::model::{
    ClusterObject, Labels, NamedPort, NamespaceInfo, ObjectRef, PodInfo, PolicyInfo, ResourceKind,
};
use palisade::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

const TENANTS: usize = 50;
const NAMESPACES_PER_TENANT: usize = 40;
const POLICIES_PER_NAMESPACE: usize = 5;
/// Every third namespace has a pod; the policies of the others select nothing (a finding each).
const POD_EVERY: usize = 3;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
const WARM_UP: usize = 3;
const RUNS: usize = 30;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn namespace(name: &str, tenant: Option<&str>) -> ClusterObject {
    let labels = labels(
        &tenant
            .map(|t| ("tenant", t))
            .into_iter()
            .collect::<Vec<_>>(),
    );
    ClusterObject::Namespace(NamespaceInfo {
        name: name.into(),
        labels: labels.clone(),
        object: Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        },
    })
}

fn pod(namespace: &str, name: &str, app: &str, ip: usize) -> ClusterObject {
    ClusterObject::Pod(PodInfo {
        id: ObjectRef::new(namespace, name),
        labels: labels(&[("app", app)]).into(),
        ips: vec![format!(
            "10.{}.{}.{}",
            ip >> 16 & 255,
            ip >> 8 & 255,
            ip & 255
        )],
        ports: vec![NamedPort {
            name: "http".into(),
            port: 8080,
            protocol: "TCP".into(),
        }],
        phase: "Running".into(),
        node: Some("node-0".into()),
    })
}

fn policy(namespace: &str, name: &str, tenant: &str, app: &str) -> ClusterObject {
    let object: NetworkPolicy = serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "generation": 1,
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"tenant": tenant}}}],
                "ports": [{"protocol": "TCP", "port": 8080}],
            }],
        },
    }))
    .expect("bench policy is valid");
    ClusterObject::Policy(PolicyInfo {
        id: ObjectRef::new(namespace, name),
        object,
    })
}

/// The cluster, per kind, as a watcher's initial list would deliver it.
fn cluster() -> Vec<(ResourceKind, Vec<ClusterObject>)> {
    let (mut namespaces, mut pods, mut policies) = (Vec::new(), Vec::new(), Vec::new());
    namespaces.push(namespace("kube-system", None));
    pods.push(pod("kube-system", "coredns-0", "kube-dns", 1));
    for t in 0..TENANTS {
        let tenant = format!("t{t:02}");
        for n in 0..NAMESPACES_PER_TENANT {
            let ns = format!("{tenant}-ns{n:02}");
            namespaces.push(namespace(&ns, Some(&tenant)));
            let index = t * NAMESPACES_PER_TENANT + n;
            if index.is_multiple_of(POD_EVERY) {
                pods.push(pod(&ns, "web-0", "web", index + 2));
            }
            for p in 0..POLICIES_PER_NAMESPACE {
                policies.push(policy(&ns, &format!("allow-web-{p}"), &tenant, "web"));
            }
        }
    }
    vec![
        (ResourceKind::Namespace, namespaces),
        (ResourceKind::Pod, pods),
        (ResourceKind::NetworkPolicy, policies),
    ]
}

fn build_state(config: &Config) -> State {
    let mut state = State::new("bench", config.keymap.clone(), Vec::new());
    update(
        &mut state,
        Msg::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    for (kind, objects) in cluster() {
        update(
            &mut state,
            Msg::Watch {
                kind,
                event: WatchEvent::Listed(objects),
            },
        );
    }
    update(&mut state, Msg::Settle);
    let started = Instant::now();
    let analysis = analyze(
        state.cluster.clone(),
        &state.tenant_rules,
        state.ip_block_pods,
        None,
    );
    eprintln!(
        "analysis: {} findings, {} matrix groups, in {:.2} s",
        analysis.findings.len(),
        analysis.matrix.groups.len(),
        started.elapsed().as_secs_f64()
    );
    // The analysis answers the request the listed cluster made.
    if let Some(flow) = state.analysis_job.running {
        update(
            &mut state,
            Msg::Analyzed {
                flow,
                analysis: Box::new(analysis),
            },
        );
    }
    state
}

struct Timing {
    median: Duration,
    p90: Duration,
    max: Duration,
}

fn time_draws(state: &State, config: &Config) -> Timing {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test backend");
    let mut draw = || {
        let started = Instant::now();
        terminal
            .draw(|frame| ui::view(black_box(state), &config.theme, frame))
            .expect("draw");
        started.elapsed()
    };
    for _ in 0..WARM_UP {
        draw();
    }
    let mut times: Vec<Duration> = (0..RUNS).map(|_| draw()).collect();
    times.sort();
    Timing {
        median: times[RUNS / 2],
        p90: times[RUNS * 9 / 10],
        max: times[RUNS - 1],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let (config, _) = Config::load(None, true);
    let base = build_state(&config);
    let namespaces = base.cluster.namespaces.len();
    let policies = base.cluster.policies.len();
    let findings = base.analysis.as_ref().map_or(0, |a| a.findings.len());
    let tenants = base.analysis.as_ref().map_or(0, |a| a.matrix.groups.len());

    let mut views: Vec<(String, State)> = Vec::new();
    let tree = |open_namespaces: bool| {
        let mut state = base.clone();
        state.screen = Screen::Tenants;
        state.focus = Focus::Tree;
        for path in state.tree.expandable_paths() {
            if open_namespaces || path.len() == 1 {
                state.nav.opened.insert(path);
            }
        }
        // Select a namespace in the middle, so the tree scrolls.
        let middle = &state.tree.groups[state.tree.groups.len() / 2];
        state.nav.selected = vec![middle.id.clone(), middle.namespaces[0].id.clone()];
        let rows = state.tree.visible_paths(&state.nav.opened).len();
        (rows, state)
    };
    let (rows, state) = tree(false);
    views.push((
        format!("tenants tree, tenants expanded ({rows} rows)"),
        state,
    ));
    let (rows, state) = tree(true);
    views.push((format!("tenants tree, all expanded ({rows} rows)"), state));
    let mut state = base.clone();
    state.screen = Screen::Policies(TableScreen::default());
    views.push((format!("policies table ({policies} rows)"), state));
    let mut state = base.clone();
    state.screen = Screen::Policies(TableScreen {
        filter: "ns17allow3".into(),
        ..TableScreen::default()
    });
    views.push((
        format!("policies table, fuzzy filter `ns17allow3` ({policies} rows)"),
        state,
    ));
    let mut state = base.clone();
    state.screen = Screen::Findings(TableScreen::default());
    views.push((format!("findings table ({findings} rows)"), state));
    let mut state = base.clone();
    state.screen = Screen::Matrix(MatrixScreen::groups());
    views.push((format!("isolation matrix ({tenants} groups)"), state));

    // What one watch event costs in `update` (snapshot change, tree rebuild): the runtime pays it
    // per message, before the frame.
    let mut state = base.clone();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|i| {
            let msg = Msg::Watch {
                kind: ResourceKind::Pod,
                event: WatchEvent::Applied(Box::new(pod(
                    "t00-ns00",
                    &format!("extra-{i}"),
                    "web",
                    9,
                ))),
            };
            let started = Instant::now();
            black_box(update(&mut state, msg));
            // One event per batch: the worst case, a rebuild for a single change.
            black_box(update(&mut state, Msg::Settle));
            started.elapsed()
        })
        .collect();
    times.sort();
    eprintln!(
        "update, one pod watch event: median {} ms, max {} ms",
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );

    println!(
        "Render time per view: {namespaces} namespaces, {policies} policies, {findings} findings, \
         {WIDTH}×{HEIGHT} TestBackend, {RUNS} draws after {WARM_UP} warm-up\n"
    );
    println!("| view | median ms | p90 ms | max ms |");
    println!("|---|---|---|---|");
    for (name, state) in &views {
        let t = time_draws(state, &config);
        println!(
            "| {name} | {} | {} | {} |",
            ms(t.median),
            ms(t.p90),
            ms(t.max)
        );
    }
}
