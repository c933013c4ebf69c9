//! Engine and tenant-matrix benchmark on generated clusters (`src/sim/generate.rs`):
//!
//! ```text
//! cargo bench --bench engine
//! PALISADE_BENCH_SIZES="2000,50000,10000" cargo bench --bench engine   # chosen sizes only
//! PALISADE_BENCH_SIZES="2000,50000,10000,200" cargo bench --bench engine   # plus 200 tier policies
//! PALISADE_BENCH_SIZES="2000,50000,7000,200,2800" cargo bench --bench engine   # plus 2800 Cilium
//! PALISADE_BENCH_CNI=calico PALISADE_BENCH_SIZES="2000,50000,7000,200,2800" cargo bench --bench engine
//! ```
//!
//! For each size: engine build and full tenant matrix (single thread), the median of several
//! one-policy updates, and peak memory (VmHWM). A fourth number adds that many
//! ClusterNetworkPolicies (`tier_policies`); the one-policy update then changes one of them. A
//! fifth adds that many Cilium policies (`cilium_policies`: CNPs in tenant namespaces, one CCNP
//! in a hundred), or with `PALISADE_BENCH_CNI=calico` that many Calico objects evaluated in
//! Calico's order (`calico_policies`: a `security` tier, one GlobalNetworkPolicy in a hundred,
//! namespaced Calico NetworkPolicies in the default tier). VmHWM is process-wide, so every size runs in a
//! fresh child process: this binary re-invokes itself with `PALISADE_BENCH_SIZE` set. The parent
//! kills a child that exceeds a memory or time limit and reports that instead of a figure.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use palisade::isolation::matrix::{Matrix, tenant_matrix};
use palisade::isolation::tenants::TenantRules;
use palisade::model::{
    ClusterSnapshot, NativeKind, NativePolicyInfo, ObjectRef, PolicyInfo, TierKind, TierPolicyInfo,
};
use palisade::policy::{Cni, Engine, Settings};
use palisade::sim::{ScaleSpec, Scenario, generated_tier_policies, tenant_isolation};

const SIZE_VAR: &str = "PALISADE_BENCH_SIZE";
const SIZES_VAR: &str = "PALISADE_BENCH_SIZES";
/// `calico`: the fifth number is Calico's kinds (`calico_policies`), evaluated in Calico's order.
const CNI_VAR: &str = "PALISADE_BENCH_CNI";
const DEFAULT_SIZES: &str = "100,10000,2000;1000,10000,2000;2000,10000,2000;1000,50000,10000;\
                             2000,50000,10000;2000,50000,10000,200;2000,50000,7000,200,2800";
/// Timed one-policy updates per size; the table gives the median.
const UPDATE_RUNS: usize = 21;
/// A child above this resident size or running longer is stopped (the machine is shared).
const RSS_LIMIT_KB: u64 = 8 * 1024 * 1024;
const TIME_LIMIT: Duration = Duration::from_secs(600);

#[path = "common/counting.rs"]
mod counting;
use counting::{Counting, LIVE, PEAK};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    match std::env::var(SIZE_VAR) {
        Ok(size) => child(&size),
        // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: no run there.
        Err(_) if std::env::args().any(|a| a == "--bench") => parent(),
        Err(_) => eprintln!("engine benchmark: run it with `cargo bench --bench engine`"),
    }
}

fn parent() {
    let sizes = std::env::var(SIZES_VAR).unwrap_or_else(|_| DEFAULT_SIZES.to_string());
    let exe = std::env::current_exe().expect("own executable path");
    println!(
        "| namespaces / pods / policies | classes | groups | engine build | tenant matrix | build + matrix | one-policy update (median of {UPDATE_RUNS}) | classes recomputed | peak RSS (VmHWM) | snapshot RSS | heap: snapshot → peak |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for size in sizes.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let row = run_child(&exe, size).unwrap_or_else(|why| {
            let cols = " |".repeat(9);
            format!("| {size} | {why} |{cols}")
        });
        println!("{row}");
    }
}

/// Runs one size in a fresh process, watching its memory; returns its table row.
fn run_child(exe: &std::path::Path, size: &str) -> Result<String, String> {
    let mut child = Command::new(exe)
        .env(SIZE_VAR, size)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        let rss = proc_status_kb(&format!("/proc/{}/status", child.id()), "VmRSS:");
        let over_memory = rss.is_some_and(|kb| kb > RSS_LIMIT_KB);
        if over_memory || start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(if over_memory {
                format!("stopped above {} (RSS limit)", mb(RSS_LIMIT_KB))
            } else {
                format!("stopped after {:?} (time limit)", TIME_LIMIT)
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out).map_err(|e| e.to_string())?;
    }
    if !status.success() {
        return Err(format!("child failed: {status}"));
    }
    Ok(out.trim().to_string())
}

/// One size: prints a breakdown to stderr and the table row to stdout.
fn child(size: &str) {
    let (size_spec, tiers, natives) = match size.splitn(5, ',').collect::<Vec<_>>().as_slice() {
        [a, b, c, t] => (
            format!("{a},{b},{c}"),
            t.parse().expect("tier policy count"),
            0,
        ),
        [a, b, c, t, n] => (
            format!("{a},{b},{c}"),
            t.parse().expect("tier policy count"),
            n.parse().expect("Cilium policy count"),
        ),
        _ => (size.to_string(), 0, 0),
    };
    let spec: ScaleSpec = size_spec
        .parse()
        .expect("PALISADE_BENCH_SIZE is NAMESPACES,PODS,POLICIES[,TIER_POLICIES]");
    let t = Instant::now();
    let mut snapshot = Scenario::generated(spec)
        .snapshot()
        .expect("generated objects decode");
    for tier in tier_policies(tiers) {
        snapshot.tiers.insert(tier.id.clone(), tier);
    }
    let calico = std::env::var(CNI_VAR).is_ok_and(|v| v == "calico");
    let generated = match calico {
        true => calico_policies(natives, &snapshot),
        false => cilium_policies(natives, &snapshot),
    };
    for native in generated {
        snapshot.natives.insert(native.id.clone(), native);
    }
    let generate = t.elapsed();
    let generation_peak = self_status_kb("VmHWM:");
    let snapshot_rss = self_status_kb("VmRSS:");
    // Start the peak afresh, so it covers the snapshot plus the engine, not the JSON generator.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let snapshot_heap = LIVE.load(Ordering::Relaxed);
    PEAK.store(snapshot_heap, Ordering::Relaxed);

    let t = Instant::now();
    let settings = Settings {
        cni: if calico { Cni::Calico } else { Cni::Cilium },
        ..Settings::default()
    };
    let mut engine = Engine::new(&snapshot, settings);
    let build = t.elapsed();
    let t = Instant::now();
    let matrix = tenant_matrix(&engine, &snapshot, &TenantRules::default());
    let matrix_time = t.elapsed();

    let (updates, recomputed) = match tiers {
        0 => time_updates(&mut engine, &snapshot),
        _ => time_tier_updates(&mut engine, &snapshot),
    };
    let peak = self_status_kb("VmHWM:");
    let peak_heap = PEAK.load(Ordering::Relaxed);
    let median = updates[updates.len() / 2];

    eprintln!(
        "[{size}] generate {generate:.2?} (peak {}), classes {}, build {build:.2?}, matrix {matrix_time:.2?}, \
         updates min {:.2?} median {median:.2?} max {:.2?}, peak {}{}, matrix hash {:016x}, invalid objects {}",
        mb(generation_peak),
        engine.classes().classes.len(),
        updates[0],
        updates[updates.len() - 1],
        mb(peak),
        if reset { "" } else { " (not reset)" },
        matrix_hash(&matrix),
        engine.validation_errors().count(),
    );
    let mut tier_column = match tiers {
        0 => String::new(),
        n => format!(" + {n} CNP"),
    };
    if natives > 0 {
        let family = if calico { "Calico" } else { "Cilium" };
        tier_column.push_str(&format!(" + {natives} {family}"));
    }
    println!(
        "| {} / {} / {}{tier_column} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        spec.namespaces,
        spec.pods,
        spec.policies,
        engine.classes().classes.len(),
        matrix.groups.len(),
        secs(build),
        secs(matrix_time),
        secs(build + matrix_time),
        millis(median),
        recomputed,
        mb(peak),
        mb(snapshot_rss),
        mb_bytes(snapshot_heap, peak_heap),
    );
}

/// Alternately applies a changed and the original version of one namespace-wide policy (the
/// default-deny of a tenant namespace in the middle), timing each `update_policy`.
fn time_updates(engine: &mut Engine, snapshot: &ClusterSnapshot) -> (Vec<Duration>, usize) {
    let deny: Vec<&PolicyInfo> = snapshot
        .policies
        .values()
        .filter(|p| p.id.name == "default-deny")
        .collect();
    let original = deny[deny.len() / 2].clone();
    let changed = with_scrape_rule(&original);
    let id: ObjectRef = original.id.clone();
    let mut times = Vec::with_capacity(UPDATE_RUNS);
    let mut recomputed = 0;
    for run in 0..UPDATE_RUNS {
        let version = if run % 2 == 0 { &changed } else { &original };
        let t = Instant::now();
        let (stats, errors) = engine.update_policy(&id, Some(version));
        times.push(t.elapsed());
        assert!(
            errors.is_empty() && !stats.full_rebuild,
            "{stats:?} {errors:?}"
        );
        recomputed = stats.recomputed_classes;
    }
    // End on the original, so the engine matches the snapshot again.
    engine.update_policy(&id, Some(&original));
    times.sort();
    (times, recomputed)
}

/// `count` ClusterNetworkPolicies as `palisade demo --scale N,P,Q,count` seeds them (one Admin
/// isolation per tenant, kube-system's protection, a Baseline default deny).
fn tier_policies(count: usize) -> Vec<TierPolicyInfo> {
    generated_tier_policies(count)
        .into_iter()
        .map(|object| {
            let object = serde_json::from_value(object).expect("tier policy decodes");
            TierPolicyInfo::new(TierKind::ClusterNetworkPolicy, object).expect("named")
        })
        .collect()
}

/// `count` Cilium policies in the shapes tenants and platform teams write: per tenant
/// namespace in turn, a workload's egress to `world` on 443, an `ingressDeny` from the next
/// tenant, a `toFQDNs` egress (undecided), and a same-tenant allow on 8080 without default
/// deny; every hundredth is a CCNP denying ingress from `world` to one tenant.
fn cilium_policies(count: usize, snapshot: &ClusterSnapshot) -> Vec<NativePolicyInfo> {
    let tenant_namespaces = tenant_namespaces(snapshot);
    if tenant_namespaces.is_empty() {
        return Vec::new();
    }
    let info = |kind: NativeKind, ns: Option<&str>, name: String, spec: serde_json::Value| {
        let mut metadata = serde_json::json!({"name": name});
        if let Some(ns) = ns {
            metadata["namespace"] = ns.into();
        }
        let object = serde_json::from_value(serde_json::json!({
            "apiVersion": "cilium.io/v2", "kind": kind.kind(), "metadata": metadata, "spec": spec,
        }))
        .expect("Cilium policy decodes");
        NativePolicyInfo::new(kind, object).expect("named")
    };
    (0..count)
        .map(|i| {
            let (ns, tenant) = &tenant_namespaces[i % tenant_namespaces.len()];
            let app = format!("svc-{:03}", i % 7);
            let subject = serde_json::json!({"matchLabels": {"app": app}});
            let next = format!("t{:04}", (i / 4 + 1) % (tenant_namespaces.len() / 4).max(1));
            let ns_label = "k8s:io.cilium.k8s.namespace.labels.tenant";
            let (kind, ns, spec) = match i % 100 {
                99 => (
                    NativeKind::CiliumClusterwideNetworkPolicy,
                    None,
                    serde_json::json!({
                        "endpointSelector": {"matchLabels": {(ns_label): tenant}},
                        "ingressDeny": [{"fromEntities": ["world"]}],
                    }),
                ),
                n => (
                    NativeKind::CiliumNetworkPolicy,
                    Some(*ns),
                    match n % 4 {
                        0 => serde_json::json!({
                            "endpointSelector": subject,
                            "egress": [{"toEntities": ["world"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}],
                        }),
                        1 => serde_json::json!({
                            "endpointSelector": {},
                            "enableDefaultDeny": {"ingress": false},
                            "ingressDeny": [{"fromEndpoints": [{"matchLabels": {(ns_label): next}}]}],
                        }),
                        2 => serde_json::json!({
                            "endpointSelector": subject,
                            "enableDefaultDeny": {"egress": false},
                            "egress": [{"toFQDNs": [{"matchName": "api.partner.example.com"}], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}],
                        }),
                        _ => serde_json::json!({
                            "endpointSelector": subject,
                            "enableDefaultDeny": {"ingress": false},
                            "ingress": [{"fromEndpoints": [{"matchLabels": {(ns_label): tenant}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}],
                        }),
                    },
                ),
            };
            info(kind, ns, format!("bench-{i:05}"), spec)
        })
        .collect()
}

/// Alternately applies a changed and the original version of one tenant's isolation policy
/// (the scrape port moves), timing each `update_tier`.
fn time_tier_updates(engine: &mut Engine, snapshot: &ClusterSnapshot) -> (Vec<Duration>, usize) {
    let tenants: Vec<&TierPolicyInfo> = snapshot
        .tiers
        .values()
        .filter(|t| t.id.name.starts_with("isolate-"))
        .collect();
    let original = tenants[tenants.len() / 2].clone();
    let mut changed = original.clone();
    let tenant = original.id.name.trim_start_matches("isolate-").to_string();
    let priority = original
        .spec()
        .and_then(|s| s["priority"].as_i64())
        .unwrap_or(10);
    changed.object.data["spec"] = tenant_isolation(&tenant, priority, 9200);
    let mut times = Vec::with_capacity(UPDATE_RUNS);
    let mut recomputed = 0;
    for run in 0..UPDATE_RUNS {
        let version = if run % 2 == 0 { &changed } else { &original };
        let t = Instant::now();
        let (stats, errors) = engine.update_tier(&original.id, Some(version));
        times.push(t.elapsed());
        assert!(
            errors.is_empty() && !stats.full_rebuild,
            "{stats:?} {errors:?}"
        );
        recomputed = stats.recomputed_classes;
    }
    engine.update_tier(&original.id, Some(&original));
    times.sort();
    (times, recomputed)
}

/// The policy plus an ingress rule admitting monitoring on the metrics port.
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

/// A fingerprint of the whole matrix, to check that an optimisation kept the results.
fn matrix_hash(matrix: &Matrix) -> u64 {
    let mut h = DefaultHasher::new();
    matrix.groups.hash(&mut h);
    let cells = matrix.cells.iter().flatten();
    for cell in cells.chain(&matrix.external_in).chain(&matrix.external_out) {
        (
            cell.level,
            &cell.conns,
            cell.pairs_allowed,
            cell.pairs_total,
        )
            .hash(&mut h);
    }
    h.finish()
}

fn self_status_kb(field: &str) -> u64 {
    proc_status_kb("/proc/self/status", field).unwrap_or(0)
}

fn proc_status_kb(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn mb(kb: u64) -> String {
    format!("{:.0} MB", kb as f64 / 1024.0)
}

fn mb_bytes(before: usize, peak: usize) -> String {
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    format!("{:.0} → {:.0} MB", mib(before), mib(peak))
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Tenant namespaces with their tenant, in name order.
fn tenant_namespaces(snapshot: &ClusterSnapshot) -> Vec<(&str, String)> {
    snapshot
        .namespaces
        .values()
        .filter_map(|ns| Some((ns.name.as_str(), ns.labels.get("tenant")?.clone())))
        .collect()
}

/// `count` Calico objects in the shape of the demo's seed, at scale: a `security` tier whose
/// GlobalNetworkPolicies (one in a hundred) deny a tenant's ingress from every other tenant and
/// pass the rest, and namespaced Calico NetworkPolicies in the default tier, in turn: egress to
/// the internet on 443, a deny from the next tenant then an allow from the own tenant, egress
/// to a database network on 5432, and an allow from the own tenant on 8080.
fn calico_policies(count: usize, snapshot: &ClusterSnapshot) -> Vec<NativePolicyInfo> {
    let tenant_namespaces = tenant_namespaces(snapshot);
    if tenant_namespaces.is_empty() || count == 0 {
        return Vec::new();
    }
    let info = |kind: NativeKind, ns: Option<&str>, name: String, spec: serde_json::Value| {
        let mut metadata = serde_json::json!({"name": name});
        if let Some(ns) = ns {
            metadata["namespace"] = ns.into();
        }
        let object = serde_json::from_value(serde_json::json!({
            "apiVersion": "projectcalico.org/v3", "kind": kind.kind(), "metadata": metadata, "spec": spec,
        }))
        .expect("Calico policy decodes");
        NativePolicyInfo::new(kind, object).expect("named")
    };
    let tier = info(
        NativeKind::CalicoTier,
        None,
        "security".into(),
        serde_json::json!({"order": 100, "defaultAction": "Deny"}),
    );
    let policies = (0..count).map(|i| {
        let (ns, tenant) = &tenant_namespaces[i % tenant_namespaces.len()];
        let selector = format!("app == 'svc-{:03}'", i % 7);
        let next = format!("t{:04}", (i / 4 + 1) % (tenant_namespaces.len() / 4).max(1));
        let own = format!("tenant == '{tenant}'");
        match i % 100 {
            99 => info(
                NativeKind::CalicoGlobalNetworkPolicy,
                None,
                format!("security.isolate-{i:05}"),
                serde_json::json!({
                    "tier": "security", "order": 10, "namespaceSelector": own, "types": ["Ingress"],
                    "ingress": [
                        {"action": "Deny", "source": {"namespaceSelector": format!("has(tenant) && tenant != '{tenant}'")}},
                        {"action": "Pass"},
                    ],
                }),
            ),
            n => {
                let spec = match n % 4 {
                    0 => serde_json::json!({
                        "selector": selector, "types": ["Egress"],
                        "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"nets": ["0.0.0.0/0"], "ports": [443]}}],
                    }),
                    1 => serde_json::json!({
                        "selector": "all()", "types": ["Ingress"],
                        "ingress": [
                            {"action": "Deny", "source": {"namespaceSelector": format!("tenant == '{next}'")}},
                            {"action": "Allow", "source": {"namespaceSelector": own}},
                        ],
                    }),
                    2 => serde_json::json!({
                        "selector": selector, "types": ["Egress"],
                        "egress": [{"action": "Allow", "protocol": "TCP", "destination": {"nets": ["10.200.0.0/16"], "ports": [5432]}}],
                    }),
                    _ => serde_json::json!({
                        "selector": selector, "types": ["Ingress"],
                        "ingress": [{"action": "Allow", "protocol": "TCP", "source": {"namespaceSelector": own}, "destination": {"ports": [8080]}}],
                    }),
                };
                info(NativeKind::CalicoNetworkPolicy, Some(*ns), format!("bench-{i:05}"), spec)
            }
        }
    });
    std::iter::once(tier).chain(policies).collect()
}
