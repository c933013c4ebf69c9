//! The console's analysis at one size (`src/sim/generate.rs`), part by part, and what one
//! change costs before (a full `analyze_as` of a snapshot copy) and after (the runtime's analyst
//! updating the engine it keeps):
//!
//! ```text
//! cargo bench --bench analysis                                   # 200,20000,2000
//! PALISADE_BENCH_SIZE=200,20000,2000,200 cargo bench --bench analysis   # plus 200 tier policies
//! ```
//!
//! Prints a breakdown of `analyze_as`, then the time from a policy change (from a pod
//! relabelled, from a replica added or removed) to a ready `Analysis`, p50 and p95 over `CHANGES` changes, each path checked to
//! give the same matrix as a full rebuild.

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade::app::changes::{Changes, Rebuild};
use palisade::app::subscriptions::AnalysisSettings;
use palisade::isolation::analysis::{
    self, Analysis, analyze_as, findings, isolation, namespaces_by_group, native_pods, policy_pods,
};
use palisade::isolation::cni::{self, CniChoice};
use palisade::isolation::matrix::tenant_matrix;
use palisade::isolation::tenants::TenantRules;
use palisade::isolation::tiers::{tenant_boundaries, tier_reach};
use palisade::model::{ClusterSnapshot, PodInfo, PolicyInfo, TierKind, TierPolicyInfo};
use palisade::policy::{Engine, IpBlockPodsSetting};
use palisade::runtime::analyst::{Analyst, Job};
use palisade::sim::{ScaleSpec, Scenario};

const CHANGES: usize = 20;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench binaries without `--bench`: nothing to do.
        return eprintln!("analysis benchmark: run it with `cargo bench --bench analysis`");
    }
    let size = std::env::var("PALISADE_BENCH_SIZE").unwrap_or_else(|_| "200,20000,2000".into());
    let (spec, tiers) = match size.rsplit_once(',') {
        Some((spec, t)) if size.matches(',').count() == 3 => {
            (spec.to_string(), t.parse().expect("tier policy count"))
        }
        _ => (size.clone(), 0),
    };
    let spec: ScaleSpec = spec.parse().expect("NAMESPACES,PODS,POLICIES[,TIERS]");
    let mut snapshot = Scenario::generated(spec)
        .snapshot()
        .expect("generated objects decode");
    for tier in tier_policies(tiers) {
        snapshot.tiers.insert(tier.id.clone(), tier);
    }
    let settings = AnalysisSettings {
        rules: TenantRules::default(),
        ip_block_pods: IpBlockPodsSetting::Auto,
        cni: CniChoice::Auto,
        intent: None,
        labels_unknown: false,
    };
    println!(
        "## {size}: {} pods, {} policies",
        snapshot.pods.len(),
        snapshot.policies.len()
    );
    breakdown(&snapshot, &settings);
    println!();
    changes(&snapshot, &settings);
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

/// Each part of `analyze_as`, in its order.
fn breakdown(snapshot: &ClusterSnapshot, settings: &AnalysisSettings) {
    let rules = &settings.rules;
    let mut parts: Vec<(&str, Duration)> = Vec::new();
    let (copy, took) = time(|| snapshot.clone());
    parts.push(("snapshot copy (the console's, before)", took));
    let (resolved, took) = time(|| cni::resolve(settings.cni, &copy));
    parts.push(("CNI resolution", took));
    let engine_settings = settings.ip_block_pods.for_cni(resolved.cni);
    let (engine, took) = time(|| Engine::from_snapshot(copy, engine_settings));
    parts.push(("engine build", took));
    let snap = engine.snapshot();
    parts.push(("isolation badges", time(|| isolation(&engine)).1));
    parts.push((
        "namespaces by group",
        time(|| namespaces_by_group(snap, rules)).1,
    ));
    parts.push(("policy_pods", time(|| policy_pods(&engine)).1));
    parts.push(("native_pods", time(|| native_pods(&engine)).1));
    let (reach, took) = time(|| tier_reach(&engine));
    parts.push(("tier_reach", took));
    let boundaries = time(|| tenant_boundaries(&engine, snap, rules, &reach)).1;
    parts.push(("tenant boundaries", boundaries));
    parts.push(("lint findings", time(|| findings(&engine, rules, None)).1));
    parts.push((
        "tenant matrix",
        time(|| tenant_matrix(&engine, snap, rules)).1,
    ));
    parts.push((
        "engine clone (Arc::make_mut when shared)",
        time(|| engine.clone()).1,
    ));
    parts.push((
        "read-only copy (analyst)",
        time(|| engine.read_only_copy()).1,
    ));
    parts.push((
        "into_read_only (full build)",
        time(|| engine.into_read_only()).1,
    ));
    let total = time(|| {
        analyze_as(
            snapshot.clone(),
            rules,
            settings.ip_block_pods,
            settings.cni,
            None,
        )
    })
    .1;
    println!("| part of the analysis | time |\n|---|---|");
    for (name, took) in parts {
        println!("| {name} | {} |", ms(took));
    }
    println!(
        "| whole `analyze_as` with its snapshot copy | {} |",
        ms(total)
    );
}

/// One policy changed, then one pod relabelled, `CHANGES` times each: before and after.
fn changes(snapshot: &ClusterSnapshot, settings: &AnalysisSettings) {
    let deny: Vec<&PolicyInfo> = (snapshot.policies.values())
        .filter(|p| p.id.name == "default-deny")
        .collect();
    let original = deny[deny.len() / 2].clone();
    let changed = with_scrape_rule(&original);
    let pod = snapshot
        .pods
        .values()
        .nth(snapshot.pods.len() / 2)
        .unwrap()
        .clone();
    let relabelled = relabelled(&pod);
    let replica = replica(&pod);

    let mut analyst = Analyst::default();
    let (_, rebuild) = analyst.analyse(settings, Job::Full(snapshot.clone()));
    assert_eq!(rebuild, Rebuild::Full);
    let mut current = snapshot.clone();
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut pods_before = Vec::new();
    let mut pods_after = Vec::new();
    let mut replicas_before = Vec::new();
    let mut replicas_after = Vec::new();
    for run in 0..CHANGES {
        let version = if run % 2 == 0 { &changed } else { &original };
        current.policies.insert(version.id.clone(), version.clone());
        let delta = Changes {
            policies: vec![(version.id.clone(), Some(Arc::new(version.clone())))],
            ..Default::default()
        };
        let (full, incremental) = measure(
            &mut analyst,
            settings,
            &current,
            delta,
            Rebuild::Incremental,
        );
        before.push(full);
        after.push(incremental);

        let version = if run % 2 == 0 { &relabelled } else { &pod };
        current.pods.insert(version.id.clone(), version.clone());
        let delta = Changes {
            pods: vec![(version.id.clone(), Some(Arc::new(version.clone())))],
            ..Default::default()
        };
        let (full, incremental) =
            measure(&mut analyst, settings, &current, delta, Rebuild::NewClasses);
        pods_before.push(full);
        pods_after.push(incremental);

        // A replica added (every other run) and removed: it joins its twin's class.
        let added = (run % 2 == 0).then(|| replica.clone());
        match &added {
            Some(pod) => current.pods.insert(pod.id.clone(), pod.clone()),
            None => current.pods.remove(&replica.id),
        };
        let delta = Changes {
            pods: vec![(replica.id.clone(), added.map(Arc::new))],
            ..Default::default()
        };
        let (full, incremental) =
            measure(&mut analyst, settings, &current, delta, Rebuild::Members);
        replicas_before.push(full);
        replicas_after.push(incremental);
    }
    println!(
        "| change → analysis ready ({CHANGES} changes) | before: snapshot copy + analyze_as, p50 / p95 | after: the analyst, p50 / p95 |\n|---|---|---|"
    );
    for (name, before, after) in [
        ("one NetworkPolicy changed", before, after),
        (
            "one pod relabelled (a label no pod had: a new class)",
            pods_before,
            pods_after,
        ),
        (
            "one pod added or removed (a replica: its class stays)",
            replicas_before,
            replicas_after,
        ),
    ] {
        println!(
            "| {name} | {} / {} | {} / {} |",
            ms(quantile(&before, 0.5)),
            ms(quantile(&before, 0.95)),
            ms(quantile(&after, 0.5)),
            ms(quantile(&after, 0.95)),
        );
    }
}

/// What the console did before the analyst: copy the snapshot, analyse it from scratch.
/// One change both ways: a full analysis of `current`, and the analyst's delta job (which must
/// take the `expected` path); checked equal. Their times.
fn measure(
    analyst: &mut Analyst,
    settings: &AnalysisSettings,
    current: &ClusterSnapshot,
    delta: Changes,
    expected: Rebuild,
) -> (Duration, Duration) {
    let (full, full_took) = time(|| full_analysis(current, settings));
    let ((incremental, rebuild), took) = time(|| {
        analyst.analyse(
            settings,
            Job::Delta {
                changes: delta,
                now: current.clone(),
            },
        )
    });
    assert_eq!(rebuild, expected);
    assert_same(&incremental, &full);
    (full_took, took)
}

fn full_analysis(snapshot: &ClusterSnapshot, settings: &AnalysisSettings) -> Analysis {
    analysis::analyze_as(
        snapshot.clone(),
        &settings.rules,
        settings.ip_block_pods,
        settings.cni,
        None,
    )
}

fn assert_same(a: &Analysis, b: &Analysis) {
    assert!(a.matrix == b.matrix && a.isolation == b.isolation && a.findings == b.findings);
    assert!(a.policy_pods == b.policy_pods && a.tier_reach == b.tier_reach);
}

fn quantile(times: &[Duration], q: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn with_scrape_rule(policy: &PolicyInfo) -> PolicyInfo {
    let mut changed = policy.clone();
    let rule = serde_json::from_value(serde_json::json!({
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"protocol": "TCP", "port": 9100}],
    }))
    .expect("rule decodes");
    let spec = changed.object.spec.get_or_insert_with(Default::default);
    spec.ingress.get_or_insert_with(Vec::new).push(rule);
    changed
}

/// A second pod like `pod` (same labels and ports, the next address), named after it so it
/// sorts right after it.
fn replica(pod: &PodInfo) -> PodInfo {
    let mut replica = pod.clone();
    replica.id.name.push_str("-replica");
    replica.ips = vec!["10.255.255.1".into()];
    replica
}

fn relabelled(pod: &PodInfo) -> PodInfo {
    let mut pod = pod.clone();
    Arc::make_mut(&mut pod.labels).insert("canary".into(), "true".into());
    pod
}

/// One Admin policy per tenant isolating it, in the shape of benches/engine.rs's.
fn tier_policies(count: usize) -> Vec<TierPolicyInfo> {
    (0..count)
        .map(|i| {
            let tenant = format!("t{i:04}");
            let object = serde_json::from_value(serde_json::json!({
                "apiVersion": "policy.networking.k8s.io/v1alpha2",
                "kind": "ClusterNetworkPolicy",
                "metadata": {"name": format!("isolate-{tenant}")},
                "spec": {
                    "tier": "Admin",
                    "priority": 10 + i,
                    "subject": {"namespaces": {"matchLabels": {"tenant": tenant}}},
                    "ingress": [
                        {"name": "same-tenant", "action": "Pass",
                         "from": [{"namespaces": {"matchLabels": {"tenant": tenant}}}]},
                        {"name": "others", "action": "Deny", "from": [{"namespaces": {}}]},
                    ],
                },
            }))
            .expect("tier policy decodes");
            TierPolicyInfo::new(TierKind::ClusterNetworkPolicy, object).expect("named")
        })
        .collect()
}
