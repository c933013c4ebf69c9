//! Scraping many agents: the console's direct scraper against the demo cluster's simulated
//! Cilium agents, through the demo API server's pod proxy, one round every 5 s.
//!
//! ```text
//! cargo bench --bench scrape
//! PALISADE_BENCH_SCALE=10,80,4 PALISADE_BENCH_SECS=15 cargo bench --bench scrape   # quick
//! ```
//!
//! Three processes, so each figure belongs to one side:
//! - the demo API server with its agents (`palisade demo --serve-only --scale 200,20000,2000`:
//!   200 nodes, so 200 agents and 400 targets with Hubble);
//! - a child of this benchmark that runs only the scraper: `cluster::connect`, agent discovery
//!   as the console does it (`scrape::discover` over the listed pods), a wait for the agents'
//!   first policy evaluation, then `scrape_round` and `Deltas` every 5 s (the default interval,
//!   options as the console's) for 60 s;
//! - this parent, which starts both and prints the table.
//!
//! The child reports its CPU time over the rounds (getrusage, user + system, from just before
//! the first round to just after the last), its peak RSS (VmHWM, whole life) and RSS before the
//! first round, round durations (p50 / p95 / max), per-round drop series (extracted as each
//! payload is parsed; before session 13 this column counted parsed samples) and errors. The
//! parent adds
//! the server's CPU time over the same period (from /proc/PID/stat) — the cost of answering the
//! proxied scrapes, which on a real cluster falls on the API server and the agents.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use palisade::metrics::{Cni, Deltas};
use palisade::scrape::{ScrapeOptions, default_rules, discover, scrape_round};

const ROLE_VAR: &str = "PALISADE_BENCH_SCRAPER";
const SCALE_VAR: &str = "PALISADE_BENCH_SCALE";
const SECS_VAR: &str = "PALISADE_BENCH_SECS";
const DEFAULT_SCALE: &str = "200,20000,2000";
const DEFAULT_SECS: u64 = 60;

fn main() {
    match std::env::var(ROLE_VAR) {
        Ok(kubeconfig) => scraper(Path::new(&kubeconfig)),
        // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: no run there.
        Err(_) if std::env::args().any(|a| a == "--bench") => parent(),
        Err(_) => eprintln!("scrape benchmark: run it with `cargo bench --bench scrape`"),
    }
}

fn secs() -> u64 {
    std::env::var(SECS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SECS)
}

/// Kills the server when the benchmark ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn parent() {
    let scale = std::env::var(SCALE_VAR).unwrap_or_else(|_| DEFAULT_SCALE.to_string());
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("scale.kubeconfig");
    let started = Instant::now();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args([
                "demo",
                "--serve-only",
                "--scale",
                &scale,
                "--kubeconfig-out",
            ])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .spawn()
            .expect("demo server starts"),
    );
    while !std::fs::read_to_string(&kubeconfig).is_ok_and(|t| t.contains("server:")) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no kubeconfig from the demo server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "demo server --scale {scale} up in {:.1?}",
        started.elapsed()
    );
    let server_cpu_before = process_cpu(server.0.id());
    let out = Command::new(std::env::current_exe().expect("own executable path"))
        .env(ROLE_VAR, &kubeconfig)
        .stderr(Stdio::inherit())
        .output()
        .expect("scraper runs");
    let server_cpu = process_cpu(server.0.id()) - server_cpu_before;
    let server_rss = status_kb(&format!("/proc/{}/status", server.0.id()), "VmHWM:");
    if !out.status.success() {
        println!("scraper failed: {}", out.status);
        return;
    }
    let report = String::from_utf8_lossy(&out.stdout);
    // The child's last line is `seconds_of_rounds`; the rest is its table row.
    let (row, rounds_secs) = report.trim_end().rsplit_once('\n').expect("two lines");
    let rounds_secs: f64 = rounds_secs.trim().parse().expect("seconds");
    println!(
        "| scale | agents / targets | rounds | round p50 / p95 / max | drop series per round | errors | scraper CPU (share of one core) | scraper peak RSS (RSS before rounds) | server CPU over the rounds | server peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {scale} {row} {:.1} s ({:.1} %) | {:.0} MB |",
        server_cpu,
        server_cpu / rounds_secs * 100.0,
        server_rss as f64 / 1024.0
    );
}

/// utime + stime of a process, in seconds.
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime is field 14, stime 15 (1-based); `rest` starts at field 3.
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

fn status_kb(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of this process so far, in seconds.
fn own_cpu() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn scraper(kubeconfig: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(scrape_for(kubeconfig, Duration::from_secs(secs())));
}

async fn scrape_for(kubeconfig: &Path, duration: Duration) {
    use k8s_openapi::api::core::v1::Pod;
    use palisade::model::{ClusterSnapshot, ObjectRef, PodInfo};

    let source = palisade::cluster::connect::ClusterSource::Kubeconfig(Box::new(
        kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig"),
    ));
    let connection = palisade::cluster::connect(source, None)
        .await
        .expect("connects");
    // The agent pods, found as the console finds them in its snapshot.
    let pods = kube::Api::<Pod>::namespaced(connection.client.clone(), "kube-system")
        .list(&kube::api::ListParams::default().labels("k8s-app=cilium"))
        .await
        .expect("list agents");
    let mut cluster = ClusterSnapshot::default();
    for pod in &pods.items {
        let info = PodInfo {
            id: ObjectRef::new("kube-system", kube::ResourceExt::name_any(pod)),
            labels: kube::ResourceExt::labels(pod).clone().into(),
            ips: pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .into_iter()
                .collect(),
            ports: vec![],
            phase: pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default(),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        };
        cluster.pods.insert(info.id.clone(), info);
    }
    let targets = discover(&cluster, &default_rules());
    let agents = targets.iter().filter(|t| t.id.cni == Cni::Cilium).count();
    let options = ScrapeOptions::default();
    let fetcher = palisade::scrape::Fetcher::new(
        Some(connection.scrape_client.clone()),
        options.timeout,
        options.limits.max_bytes,
    );
    // The agents serve counters once their first policy evaluation is done (a few seconds on a
    // large cluster): wait for it, so every measured round scrapes full payloads.
    let first = targets
        .iter()
        .find(|t| t.id.cni == Cni::Cilium)
        .expect("an agent");
    let waited = Instant::now();
    loop {
        let evaluated = fetcher.fetch(&first.how).await.is_ok_and(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("cilium_policy_max_revision "))
                .any(|v| v.trim().parse::<f64>().is_ok_and(|v| v > 0.0))
        });
        if evaluated {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(300),
            "the agents never evaluated the policies"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("agents ready after {:.1?}", waited.elapsed());
    let mut deltas = Deltas::new(options.latency_window);
    let rss_before = status_kb("/proc/self/status", "VmRSS:");
    let cpu_before = own_cpu();
    let started = Instant::now();
    let mut durations = Vec::new();
    let mut samples = Vec::new();
    let mut errors = 0;
    let mut drops = 0;
    while started.elapsed() < duration {
        let round_started = Instant::now();
        let scrapes = scrape_round(&fetcher, &targets, &options, |_, _| {}).await;
        samples.push(
            scrapes
                .iter()
                .filter_map(|s| s.outcome.as_ref().ok())
                .map(|s| s.metrics.drops.len())
                .sum::<usize>(),
        );
        let reading = deltas.observe(SystemTime::now(), scrapes);
        durations.push(round_started.elapsed());
        errors += reading.agents.iter().filter(|a| !a.up()).count();
        drops = reading.drops.len();
        tokio::time::sleep_until((round_started + options.interval).into()).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = own_cpu() - cpu_before;
    let peak = status_kb("/proc/self/status", "VmHWM:");
    let mut sorted = durations.clone();
    sorted.sort();
    let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    eprintln!(
        "rounds: {:?}",
        durations.iter().map(|d| ms(*d)).collect::<Vec<_>>()
    );
    eprintln!("last reading: {drops} drop figures");
    samples.sort_unstable();
    println!(
        "| {agents} / {} | {} in {elapsed:.0} s | {} / {} / {} | {} | {errors} | {cpu:.2} s ({:.1} %) | {:.0} MB ({:.0} MB) |",
        targets.len(),
        durations.len(),
        ms(pct(0.5)),
        ms(pct(0.95)),
        ms(sorted[sorted.len() - 1]),
        samples[samples.len() / 2],
        cpu / elapsed * 100.0,
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0,
    );
    println!("{elapsed}");
}
