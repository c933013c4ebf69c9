//! Flow handling at a sustained rate: what the console does with every flow a source delivers
//! (decode the gRPC message, convert it through the interner, keep it in the ring, add it to the
//! aggregates, judge new aggregates with the engine), measured on one core.
//!
//! ```text
//! cargo bench --bench flows
//! PALISADE_BENCH_FLOWS="5000,600" cargo bench --bench flows   # flows/s, seconds (default)
//! ```
//!
//! The cluster is the generated 200 namespaces / 20,000 pods / 2,000 policies (`sim/generate.rs`);
//! flows go between its pods (deterministic, no randomness): 60% to neighbours in the same
//! namespace, 25% DNS, 15% to 300 shared services; 1 in 5 dropped. Time is simulated:
//! the flows carry timestamps `1/rate` apart, so the ring's age limit and the aggregates' expiry
//! act as at the real rate, and the figure reported is the CPU time the handling takes, as a
//! share of one core at that rate. Memory: the heap the flow structures hold at the end, above
//! what was live before the first flow (a counting allocator), and the peak.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use palisade::flows::hubble_convert::{Received, hubble_flow, read_response};
use palisade::flows::hubble_wire::{GetFlowsResponse, ResponseType, Timestamp};
use palisade::flows::{
    AggregateKey, Aggregates, DataplaneVerdict, FlowEndpoint, FlowRecord, FlowRing, FlowSourceKind,
    Interner, Judge, Judgement, RingLimits,
};
use palisade::model::PodInfo;
use palisade::policy::{Direction, Engine, Protocol, Settings};
use palisade::sim::{ScaleSpec, Scenario};
use prost::Message;

#[path = "common/counting.rs"]
mod counting;
use counting::{Counting, LIVE, PEAK};

#[global_allocator]
static GLOBAL: Counting = Counting;

const RATE_VAR: &str = "PALISADE_BENCH_FLOWS";
/// Flows per delivered batch (the clients batch up to 256).
const BATCH: usize = 256;
/// Pods other tenants' traffic goes to (shared services).
const SHARED: usize = 300;
/// Distinct encoded messages, replayed with fresh times.
const POOL: usize = 50_000;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("flows benchmark: run it with `cargo bench --bench flows`");
        return;
    }
    let (rate, seconds) = std::env::var(RATE_VAR)
        .ok()
        .and_then(|v| {
            let (r, s) = v.split_once(',')?;
            Some((r.parse::<u64>().ok()?, s.parse::<u64>().ok()?))
        })
        .unwrap_or((5_000, 600));
    run(rate, seconds);
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Pick(u64);

impl Pick {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn endpoint(pod: &PodInfo, interner: &mut Interner) -> FlowEndpoint {
    FlowEndpoint {
        namespace: Some(interner.name(&pod.id.namespace)),
        pod: Some(interner.name(&pod.id.name)),
        workload: None,
        ip: pod.ips.first().and_then(|ip| ip.parse().ok()),
        entity: None,
    }
}

fn run(rate: u64, seconds: u64) {
    let spec: ScaleSpec = "200,20000,2000".parse().expect("size");
    let snapshot = Scenario::generated(spec)
        .snapshot()
        .expect("generated objects decode");
    let pods: Vec<&PodInfo> = snapshot.pods.values().collect();
    let engine = Engine::new(&snapshot, Settings::default());
    let dns: Vec<&PodInfo> = pods
        .iter()
        .copied()
        .filter(|p| p.id.namespace == "kube-system")
        .take(2)
        .collect();
    assert!(
        !dns.is_empty(),
        "the generated cluster has kube-system pods"
    );
    let nodes: Vec<String> = (0..8).map(|i| format!("worker-{i}")).collect();
    let ports = [53u16, 80, 443, 5432, 8080, 9090];

    let total = rate * seconds;
    let step = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let mut pick = Pick(0x9e37_79b9_7f4a_7c15);

    // The wire: a pool of encoded GetFlowsResponse messages, as the relay sends them.
    let pool: Vec<Vec<u8>> = {
        let mut interner = Interner::new(Interner::DEFAULT_LIMIT);
        (0..POOL)
            .map(|i| {
                let s = pick.next(pods.len());
                let src = pods[s];
                // Most traffic stays near (the next pods, mostly of the same namespace), a
                // quarter is DNS, some goes to a few hundred shared services across tenants.
                let dst = match pick.next(20) {
                    0..=11 => pods[(s + 1 + pick.next(8)) % pods.len()],
                    12..=16 => dns[pick.next(dns.len())],
                    _ => pods[(pick.next(SHARED) * 97) % pods.len()],
                };
                let dropped = pick.next(5) == 0;
                let node = nodes[pick.next(nodes.len())].clone();
                let record = FlowRecord {
                    time: start + step * i as u32,
                    source_kind: FlowSourceKind::Hubble,
                    node: Some(interner.name(&node)),
                    src: endpoint(src, &mut interner),
                    dst: endpoint(dst, &mut interner),
                    protocol: Some(Protocol::Tcp),
                    port: Some(ports[pick.next(ports.len())]),
                    verdict: if dropped {
                        DataplaneVerdict::Dropped
                    } else {
                        DataplaneVerdict::Forwarded
                    },
                    reason: dropped.then(|| interner.name("POLICY_DENIED")),
                    direction: Some(if dropped {
                        Direction::Egress
                    } else {
                        Direction::Ingress
                    }),
                    policies: Vec::new(),
                    is_reply: Some(false),
                    count: 1,
                };
                GetFlowsResponse {
                    response_types: Some(ResponseType::Flow(hubble_flow(&record))),
                    node_name: node,
                    time: Some(Timestamp::from_system_time(record.time)),
                }
                .encode_to_vec()
            })
            .collect()
    };
    let wire_bytes: usize = pool.iter().map(Vec::len).sum();

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut interner = Interner::new(Interner::DEFAULT_LIMIT);
    let mut ring = FlowRing::new(RingLimits::default());
    let mut aggregates =
        Aggregates::new(Aggregates::DEFAULT_ENTRIES, RingLimits::default().max_age);
    let mut judged: std::collections::HashMap<(AggregateKey, Option<Direction>), Judgement> =
        std::collections::HashMap::new();
    let mut judgements = 0u64;
    let judge = Judge::new(&engine);
    let mut batch = Vec::with_capacity(BATCH);
    let t = Instant::now();
    for i in 0..total {
        let bytes = &pool[i as usize % pool.len()];
        let response = GetFlowsResponse::decode(bytes.as_slice()).expect("decodes");
        let now = start + step * i as u32;
        if let Received::Flow(mut flow) = read_response(&response, now, &mut interner) {
            // The pool repeats; time does not.
            flow.time = now;
            batch.push(*flow);
        }
        if batch.len() == BATCH || i + 1 == total {
            aggregates.extend(&batch);
            for flow in &batch {
                let key = (AggregateKey::of(flow), flow.direction);
                if let std::collections::hash_map::Entry::Vacant(entry) = judged.entry(key) {
                    entry.insert(judge.judge(flow));
                    judgements += 1;
                }
            }
            if judged.len() > 10_000 {
                judged.clear();
            }
            ring.extend(batch.drain(..));
        }
    }
    let elapsed = t.elapsed();
    let held = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    let per_flow = elapsed.as_nanos() as f64 / total as f64;
    let core_share = per_flow * rate as f64 / 1e9 * 100.0;
    println!(
        "| flows/s × s | flows | wire bytes per flow | handling time (decode → ring, aggregates, verdicts) | per flow | share of one core at the rate | ring kept | aggregates | verdicts computed | heap held at end | heap peak |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {rate} × {seconds} | {total} | {} | {:.1} s | {per_flow:.0} ns | {core_share:.1}% | {} | {} | {judgements} | {:.1} MB | {:.1} MB |",
        wire_bytes / POOL,
        elapsed.as_secs_f64(),
        ring.len(),
        aggregates.len(),
        held as f64 / 1e6,
        peak as f64 / 1e6,
    );
}
