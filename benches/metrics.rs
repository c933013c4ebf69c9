//! Agent-metrics parse and extract throughput on generated exposition payloads:
//!
//! ```text
//! cargo bench --bench metrics
//! PALISADE_BENCH_MB=4 cargo bench --bench metrics      # smaller payloads
//! ```
//!
//! Two payloads are generated (deterministic, no randomness):
//! - `cilium+hubble`: one node's cilium-agent and Hubble metrics of a busy multi-tenant cluster:
//!   Hubble drop and policy-verdict counters per namespace pair with context labels, a Hubble
//!   HTTP latency histogram per pair (12 buckets), Cilium drop counters, Cilium policy
//!   histograms and per-endpoint gauges Palisade does not read;
//! - `calico`: Felix with `calico_denied_packets` per denying policy and source IP, and the
//!   apply-time summary.
//!
//! For each: `metrics::parse` and `metrics::extract` are timed over several runs (median and
//! range reported, in MB/s of payload), and peak memory (VmHWM) is read at the end. VmHWM is
//! process-wide, so each payload runs in a fresh child process, as in `benches/engine.rs`. A
//! counting allocator also gives the heap the parsed `Scrape` keeps and the heap peak during
//! one parse, above the payload text.

use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use palisade::metrics::{Cni, Scrape, extract, parse};

const PAYLOAD_VAR: &str = "PALISADE_BENCH_PAYLOAD";
const SIZE_VAR: &str = "PALISADE_BENCH_MB";
const PAYLOADS: [&str; 2] = ["cilium+hubble", "calico"];
/// Timed runs per payload; the table gives the median.
const RUNS: usize = 9;

#[path = "common/counting.rs"]
mod counting;
use counting::{Counting, LIVE, PEAK};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    match std::env::var(PAYLOAD_VAR) {
        Ok(payload) => child(&payload),
        // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: no run there.
        Err(_) if std::env::args().any(|a| a == "--bench") => parent(),
        Err(_) => eprintln!("metrics benchmark: run it with `cargo bench --bench metrics`"),
    }
}

fn parent() {
    let exe = std::env::current_exe().expect("own executable path");
    println!(
        "| payload | size | lines | families / samples | parse, median of {RUNS} (range) | extract, median | parse + extract | drops / latency series | peak RSS (VmHWM) | RSS before parsing | heap: scrape kept / peak in parse |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for payload in PAYLOADS {
        let out = Command::new(&exe)
            .env(PAYLOAD_VAR, payload)
            .output()
            .expect("child runs");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            print!("{}", String::from_utf8_lossy(&out.stdout));
        } else {
            println!("| {payload} | child failed: {} |", out.status);
        }
    }
}

fn target_bytes() -> usize {
    let mb: f64 = std::env::var(SIZE_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    (mb * 1_000_000.0) as usize
}

fn child(payload: &str) {
    let target = target_bytes();
    let t = Instant::now();
    let (text, cnis): (String, &[Cni]) = match payload {
        "cilium+hubble" => (cilium_hubble(target), &[Cni::Cilium, Cni::Hubble]),
        "calico" => (calico(target), &[Cni::Calico]),
        other => panic!("unknown payload {other}"),
    };
    let generate = t.elapsed();
    let rss_before = self_status_kb("VmRSS:");
    let bytes = text.len();
    let lines = text.lines().count();

    let mut parse_times = Vec::with_capacity(RUNS);
    let mut extract_times = Vec::with_capacity(RUNS);
    let mut last: Option<Scrape> = None;
    let mut extracted = (0, 0);
    let mut heap = (0, 0);
    for _ in 0..RUNS {
        drop(last.take());
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let t = Instant::now();
        let scrape = parse(&text).expect("payload under the size limit");
        parse_times.push(t.elapsed());
        heap = (
            LIVE.load(Ordering::Relaxed) - base,
            PEAK.load(Ordering::Relaxed) - base,
        );
        let t = Instant::now();
        let mut drops = 0;
        let mut latencies = 0;
        for &cni in cnis {
            let m = extract(cni, &scrape, Some("worker-1"));
            drops += m.drops.len();
            latencies += m.latencies.len();
        }
        extract_times.push(t.elapsed());
        extracted = (drops, latencies);
        last = Some(scrape);
    }
    let scrape = last.expect("at least one run");
    assert!(scrape.errors.is_empty(), "{:?}", &scrape.errors[..1]);
    let samples: usize = scrape.families.values().map(|f| f.samples.len()).sum();
    let peak = self_status_kb("VmHWM:");
    parse_times.sort();
    extract_times.sort();
    let mut both: Vec<Duration> = parse_times
        .iter()
        .zip(&extract_times)
        .map(|(p, e)| *p + *e)
        .collect();
    both.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    let rate = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();

    eprintln!(
        "[{payload}] generated {:.1} MB in {generate:.2?}; parse min {:.2?} median {:.2?} max {:.2?}; \
         extract median {:.2?}; {} duplicates",
        bytes as f64 / 1e6,
        parse_times[0],
        median(&parse_times),
        parse_times[RUNS - 1],
        median(&extract_times),
        scrape.duplicates,
    );
    println!(
        "| {payload} | {:.1} MB | {lines} | {} / {samples} | {:.1} MB/s ({:.1}–{:.1}), {} | {:.0} MB/s, {} | {:.1} MB/s | {} / {} | {} | {} | {:.0} / {:.0} MB |",
        bytes as f64 / 1e6,
        scrape.families.len(),
        rate(median(&parse_times)),
        rate(parse_times[RUNS - 1]),
        rate(parse_times[0]),
        millis(median(&parse_times)),
        rate(median(&extract_times)),
        millis(median(&extract_times)),
        rate(median(&both)),
        extracted.0,
        extracted.1,
        mb(peak),
        mb(rss_before),
        heap.0 as f64 / 1e6,
        heap.1 as f64 / 1e6,
    );
}

/// Namespaces of the generated cluster: 50 tenants × 4 namespaces, plus platform ones.
fn namespaces() -> Vec<String> {
    let mut ns: Vec<String> = (0..50)
        .flat_map(|t| {
            ["web", "api", "data", "jobs"]
                .into_iter()
                .map(move |tier| format!("tenant-{t:02}-{tier}"))
        })
        .collect();
    ns.extend(
        [
            "kube-system",
            "monitoring",
            "ingress-nginx",
            "shared-services",
        ]
        .map(str::to_string),
    );
    ns
}

/// A cheap deterministic mixer, so counts look irregular without a random generator.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

fn cilium_hubble(target: usize) -> String {
    let ns = namespaces();
    let mut out = String::with_capacity(target + (1 << 20));
    // Cilium agent: drop counters, policy histograms, gauges.
    out.push_str("# HELP cilium_drop_count_total Total dropped packets, tagged by drop reason and ingress/egress direction\n# TYPE cilium_drop_count_total counter\n");
    for reason in [
        "Policy denied",
        "Policy denied by denylist",
        "Stale or unroutable IP",
        "Unsupported L3 protocol",
        "CT: Map insertion failed",
    ] {
        for dir in ["INGRESS", "EGRESS"] {
            let _ = writeln!(
                out,
                "cilium_drop_count_total{{direction=\"{dir}\",reason=\"{reason}\"}} {}",
                mix(reason.len() as u64 + dir.len() as u64) % 100_000
            );
        }
    }
    out.push_str("# HELP cilium_policy Number of policies currently loaded\n# TYPE cilium_policy gauge\ncilium_policy 2000\n");
    for (metric, labels) in [
        (
            "cilium_policy_implementation_delay",
            &[
                "source=\"k8s\"",
                "source=\"custom-resource\"",
                "source=\"local\"",
            ][..],
        ),
        ("cilium_endpoint_propagation_delay_seconds", &[""][..]),
    ] {
        let _ = writeln!(out, "# TYPE {metric} histogram");
        for (i, l) in labels.iter().enumerate() {
            histogram(&mut out, metric, l, i as u64);
        }
    }
    // Hubble: per namespace pair, until the payload reaches its size.
    out.push_str("# HELP hubble_drop_total Number of drops\n# TYPE hubble_drop_total counter\n");
    let mut verdicts = String::new();
    let mut http = String::new();
    let mut endpoints = String::new();
    let mut i: u64 = 0;
    'pairs: for src in &ns {
        for dst in &ns {
            i += 1;
            let h = mix(i);
            for (reason, proto) in [("POLICY_DENIED", "TCP"), ("POLICY_DENIED", "UDP")] {
                let _ = writeln!(
                    out,
                    "hubble_drop_total{{destination_namespace=\"{dst}\",protocol=\"{proto}\",reason=\"{reason}\",source_namespace=\"{src}\"}} {}",
                    h % 50_000
                );
            }
            for (action, dir) in [("forwarded", "ingress"), ("dropped", "egress")] {
                let _ = writeln!(
                    verdicts,
                    "hubble_policy_verdicts_total{{action=\"{action}\",destination_namespace=\"{dst}\",direction=\"{dir}\",match=\"l3-l4\",source_namespace=\"{src}\"}} {}",
                    (h >> 8) % 1_000_000
                );
            }
            if i.is_multiple_of(4) {
                let labels = format!(
                    "destination=\"{dst}/api-{:05x}\",method=\"GET\",source=\"{src}/web-{:05x}\"",
                    h % 0xfffff,
                    (h >> 20) % 0xfffff
                );
                histogram(
                    &mut http,
                    "hubble_http_request_duration_seconds",
                    &labels,
                    h,
                );
            }
            if i.is_multiple_of(2) {
                let _ = writeln!(
                    endpoints,
                    "cilium_endpoint_state{{endpoint_state=\"ready\",namespace=\"{dst}\",pod=\"{dst}-{:06x}\"}} 1",
                    h % 0xffffff
                );
            }
            if out.len() + verdicts.len() + http.len() + endpoints.len() >= target {
                break 'pairs;
            }
        }
    }
    out.push_str("# TYPE hubble_policy_verdicts_total counter\n");
    out.push_str(&verdicts);
    out.push_str("# TYPE hubble_http_request_duration_seconds histogram\n");
    out.push_str(&http);
    out.push_str("# TYPE cilium_endpoint_state gauge\n");
    out.push_str(&endpoints);
    out
}

fn calico(target: usize) -> String {
    let ns = namespaces();
    let mut out = String::with_capacity(target + (1 << 20));
    out.push_str("# HELP felix_int_dataplane_apply_time_seconds Time in seconds that it took to apply a dataplane update.\n# TYPE felix_int_dataplane_apply_time_seconds summary\n");
    for (q, v) in [("0.5", "0.012"), ("0.9", "0.081"), ("0.99", "0.244")] {
        let _ = writeln!(
            out,
            "felix_int_dataplane_apply_time_seconds{{quantile=\"{q}\"}} {v}"
        );
    }
    out.push_str("felix_int_dataplane_apply_time_seconds_sum 812.5\nfelix_int_dataplane_apply_time_seconds_count 40211\n");
    out.push_str("# TYPE felix_active_local_policies gauge\nfelix_active_local_policies 412\n");
    out.push_str("# HELP calico_denied_packets Total number of packets denied by calico policies.\n# TYPE calico_denied_packets gauge\n");
    let mut i: u64 = 0;
    while out.len() < target {
        i += 1;
        let h = mix(i);
        let policy_ns = &ns[(h % ns.len() as u64) as usize];
        let _ = writeln!(
            out,
            "calico_denied_packets{{policy=\"default|{policy_ns}/default-deny-{}|{}|deny\",srcIP=\"10.{}.{}.{}\"}} {}",
            (h >> 8) % 8,
            (h >> 12) % 4,
            (h >> 16) % 256,
            (h >> 24) % 256,
            (h >> 32) % 254 + 1,
            (h >> 40) % 100_000
        );
    }
    out
}

/// Writes one histogram series (`labels` may be empty) with increasing cumulative counts.
fn histogram(out: &mut String, metric: &str, labels: &str, seed: u64) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (b, le) in BUCKETS.iter().enumerate() {
        cumulative += mix(seed + b as u64) % 500;
        let _ = writeln!(
            out,
            "{metric}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
        );
    }
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(
        out,
        "{metric}_sum{braces} {}.{:03}",
        cumulative / 7,
        seed % 1000
    );
    let _ = writeln!(out, "{metric}_count{braces} {cumulative}");
}

fn self_status_kb(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| {
            l[field.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn mb(kb: u64) -> String {
    format!("{:.0} MB", kb as f64 / 1000.0)
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
