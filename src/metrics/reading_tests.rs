use super::*;
use crate::metrics::parse::parse;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn agent(node: &str) -> AgentId {
    AgentId {
        cni: Cni::Hubble,
        target: format!("kube-system/cilium-{node}:9965"),
        node: Some(node.into()),
    }
}

fn cilium(node: &str) -> AgentId {
    AgentId {
        cni: Cni::Cilium,
        ..agent(node)
    }
}

fn ok(id: AgentId, secs: u64, text: &str) -> AgentScrape {
    AgentScrape {
        outcome: Ok(Extracted::of(&id, &parse(text).unwrap())),
        agent: id,
        started: at(secs),
        duration: Duration::from_millis(20),
    }
}

fn failed(id: AgentId, secs: u64, error: &str) -> AgentScrape {
    AgentScrape {
        agent: id,
        started: at(secs),
        duration: Duration::from_secs(2),
        outcome: Err(error.into()),
    }
}

fn hubble(count: u64) -> String {
    format!(
        "hubble_drop_total{{reason=\"POLICY_DENIED\",protocol=\"TCP\",source_namespace=\"a\",destination_namespace=\"b\"}} {count}\n"
    )
}

fn delay(buckets: [u64; 3]) -> String {
    let [fast, slow, all] = buckets;
    format!(
        "# TYPE cilium_policy_implementation_delay histogram\n\
         cilium_policy_implementation_delay_bucket{{le=\"0.1\"}} {fast}\n\
         cilium_policy_implementation_delay_bucket{{le=\"1\"}} {slow}\n\
         cilium_policy_implementation_delay_bucket{{le=\"+Inf\"}} {all}\n\
         cilium_policy_implementation_delay_count {all}\n\
         cilium_policy_implementation_delay_sum 1\n\
         cilium_policy 7\n"
    )
}

#[test]
fn first_round_has_no_rates_second_has_them() {
    let mut deltas = Deltas::new(Duration::from_secs(60));
    let first = deltas.observe(at(0), vec![ok(agent("n1"), 0, &hubble(100))]);
    assert!(first.drops.is_empty(), "no earlier scrape, no rate");
    assert!(first.agents[0].up());
    let second = deltas.observe(at(5), vec![ok(agent("n1"), 5, &hubble(150))]);
    assert_eq!(second.drops.len(), 1);
    let d = &second.drops[0];
    assert_eq!(d.per_second, 10.0);
    assert_eq!(d.source_namespace.as_deref(), Some("a"));
    assert_eq!(d.node.as_deref(), Some("n1"));
    assert_eq!(second.interval, Duration::from_secs(5));
}

#[test]
fn a_failing_agent_is_reported_and_others_keep_working() {
    let mut deltas = Deltas::new(Duration::from_secs(60));
    deltas.observe(
        at(0),
        vec![
            ok(agent("n1"), 0, &hubble(0)),
            ok(agent("n2"), 0, &hubble(0)),
        ],
    );
    let r = deltas.observe(
        at(5),
        vec![
            ok(agent("n1"), 5, &hubble(25)),
            failed(agent("n2"), 5, "timed out after 2s"),
        ],
    );
    assert_eq!(r.drops.len(), 1);
    assert_eq!(r.drops[0].per_second, 5.0);
    let down = r.agents.iter().find(|a| !a.up()).unwrap();
    assert_eq!(down.agent.node.as_deref(), Some("n2"));
    assert_eq!(down.error.as_deref(), Some("timed out after 2s"));
    assert_eq!(
        down.last_ok,
        Some(at(0)),
        "the earlier success is remembered"
    );
}

#[test]
fn counter_reset_counts_from_zero() {
    let mut deltas = Deltas::new(Duration::from_secs(60));
    deltas.observe(at(0), vec![ok(agent("n1"), 0, &hubble(1000))]);
    let r = deltas.observe(at(10), vec![ok(agent("n1"), 10, &hubble(30))]);
    assert_eq!(r.drops[0].per_second, 3.0);
}

#[test]
fn bad_lines_are_counted_not_fatal() {
    let mut deltas = Deltas::new(Duration::from_secs(60));
    let text = format!(
        "{}garbage{{ 1\nhubble_drop_total{{reason=\"x\"}} NaNx\n",
        hubble(1)
    );
    let r = deltas.observe(at(0), vec![ok(agent("n1"), 0, &text)]);
    assert!(r.agents[0].up());
    assert_eq!(r.agents[0].line_errors, 2);
}

#[test]
fn latency_counts_only_observations_inside_the_window() {
    let mut deltas = Deltas::new(Duration::from_secs(30));
    let first = deltas.observe(at(0), vec![ok(cilium("n1"), 0, &delay([10, 10, 10]))]);
    let fig = &first.latency[0];
    assert_eq!(
        fig.observations, 0.0,
        "history before the first scrape is not in the window"
    );
    assert_eq!(fig.quantiles, None);
    // 10 slow observations arrive: all between 0.1 s and 1 s.
    let second = deltas.observe(at(10), vec![ok(cilium("n1"), 10, &delay([10, 20, 20]))]);
    let fig = &second.latency[0];
    assert_eq!(fig.observations, 10.0);
    let q = fig.quantiles.unwrap();
    assert!(q.p50 > 0.1 && q.p50 <= 1.0, "p50 {}", q.p50);
    // Once the window has passed, those observations age out.
    deltas.observe(at(40), vec![ok(cilium("n1"), 40, &delay([10, 20, 20]))]);
    let later = deltas.observe(at(75), vec![ok(cilium("n1"), 75, &delay([11, 20, 21]))]);
    let fig = &later.latency[0];
    assert_eq!(fig.observations, 1.0);
    assert!(fig.quantiles.unwrap().p99 <= 0.1);
    assert_eq!(later.agents[0].policy_count(), Some(7.0));
}

#[test]
fn histograms_merge_across_agents() {
    let mut deltas = Deltas::new(Duration::from_secs(60));
    deltas.observe(
        at(0),
        vec![
            ok(cilium("n1"), 0, &delay([0, 0, 0])),
            ok(cilium("n2"), 0, &delay([0, 0, 0])),
        ],
    );
    let r = deltas.observe(
        at(5),
        vec![
            ok(cilium("n1"), 5, &delay([3, 3, 3])),
            ok(cilium("n2"), 5, &delay([0, 4, 4])),
        ],
    );
    assert_eq!(r.latency.len(), 1);
    assert_eq!(r.latency[0].observations, 7.0);
    assert_eq!(r.latency[0].node, None);
}

#[test]
fn summaries_stay_per_agent() {
    let text = "# TYPE felix_int_dataplane_apply_time_seconds summary\n\
        felix_int_dataplane_apply_time_seconds{quantile=\"0.5\"} 0.01\n\
        felix_int_dataplane_apply_time_seconds{quantile=\"0.9\"} 0.05\n\
        felix_int_dataplane_apply_time_seconds{quantile=\"0.99\"} 0.2\n\
        felix_int_dataplane_apply_time_seconds_sum 3\n\
        felix_int_dataplane_apply_time_seconds_count 100\n";
    let calico = |node: &str| AgentId {
        cni: Cni::Calico,
        target: format!("calico-system/calico-node-{node}:9091"),
        node: Some(node.into()),
    };
    let mut deltas = Deltas::new(Duration::from_secs(60));
    let r = deltas.observe(
        at(0),
        vec![ok(calico("n1"), 0, text), ok(calico("n2"), 0, text)],
    );
    assert_eq!(r.latency.len(), 2);
    assert!(r.latency.iter().all(|f| f.from_summary));
    assert_eq!(r.latency[0].node.as_deref(), Some("n1"));
    assert_eq!(r.latency[0].quantiles.unwrap().p99, 0.2);
}

#[test]
fn agents_that_are_no_longer_targets_are_forgotten() {
    let mut deltas = Deltas::new(Duration::from_secs(60));
    deltas.observe(at(0), vec![ok(agent("n1"), 0, &hubble(10))]);
    deltas.observe(at(5), vec![ok(agent("n2"), 5, &hubble(10))]);
    // n1 comes back: its old counter must not be used as a baseline.
    let r = deltas.observe(at(10), vec![ok(agent("n1"), 10, &hubble(500))]);
    assert!(r.drops.is_empty());
}

#[test]
fn few_snapshots_are_kept_however_often_agents_are_scraped() {
    let mut deltas = Deltas::new(Duration::from_secs(60));
    let mut observed = 0;
    for i in 0..120u64 {
        // One scrape a second for two minutes, one observation every ten seconds.
        if i % 10 == 0 {
            observed += 1;
        }
        let r = deltas.observe(
            at(i),
            vec![ok(cilium("n1"), i, &delay([observed, observed, observed]))],
        );
        if i == 119 {
            // The window (60 s, stretched by at most a sixth) holds 6 or 7 observations.
            let n = r.latency[0].observations;
            assert!((6.0..=7.0).contains(&n), "{n} observations in the window");
        }
    }
    let kept = deltas
        .agents
        .values()
        .map(|h| h.latency.len())
        .max()
        .unwrap();
    assert!(kept <= 8, "{kept} snapshots kept");
}

fn l7(ok_requests: u64, errors: u64, fast: u64, all: u64, nxdomain: u64) -> String {
    let ctx = "source_namespace=\"a\",destination_namespace=\"b\"";
    format!(
        "# TYPE hubble_http_requests_total counter\n\
         hubble_http_requests_total{{method=\"GET\",protocol=\"HTTP/1.1\",reporter=\"client\",status=\"200\",{ctx}}} {ok_requests}\n\
         hubble_http_requests_total{{method=\"GET\",protocol=\"HTTP/1.1\",reporter=\"client\",status=\"502\",{ctx}}} {errors}\n\
         # TYPE hubble_http_request_duration_seconds histogram\n\
         hubble_http_request_duration_seconds_bucket{{method=\"GET\",reporter=\"client\",{ctx},le=\"0.1\"}} {fast}\n\
         hubble_http_request_duration_seconds_bucket{{method=\"GET\",reporter=\"client\",{ctx},le=\"1\"}} {all}\n\
         hubble_http_request_duration_seconds_bucket{{method=\"GET\",reporter=\"client\",{ctx},le=\"+Inf\"}} {all}\n\
         hubble_http_request_duration_seconds_sum{{method=\"GET\",reporter=\"client\",{ctx}}} 1\n\
         hubble_http_request_duration_seconds_count{{method=\"GET\",reporter=\"client\",{ctx}}} {all}\n\
         # TYPE hubble_dns_responses_total counter\n\
         hubble_dns_responses_total{{rcode=\"No Error\",qtypes=\"A\",ips_returned=\"1\",source=\"a/web\"}} 100\n\
         hubble_dns_responses_total{{rcode=\"Non-Existent Domain\",qtypes=\"A\",ips_returned=\"0\",source=\"a/web\"}} {nxdomain}\n"
    )
}

#[test]
fn l7_rates_and_windowed_latency_per_namespace_pair() {
    let mut d = Deltas::new(Duration::from_secs(300));
    let first = d.observe(at(0), vec![ok(agent("n1"), 0, &l7(100, 0, 10, 10, 0))]);
    assert!(first.l7.http_seen && first.l7.dns_seen);
    let p = &first.l7.pairs[0];
    assert_eq!(p.requests_per_second, None, "one scrape gives no rate");
    assert_eq!(
        p.latency.as_ref().map(|h| h.count),
        Some(0.0),
        "history is not this window"
    );
    let r = d.observe(at(10), vec![ok(agent("n1"), 10, &l7(180, 20, 30, 110, 50))]);
    let p = &r.l7.pairs[0];
    assert_eq!(
        (
            p.source_namespace.as_str(),
            p.destination_namespace.as_str()
        ),
        ("a", "b")
    );
    assert_eq!(p.requests_per_second, Some(10.0));
    assert_eq!(p.server_errors_per_second, Some(2.0));
    let h = p.latency.as_ref().unwrap();
    assert_eq!(h.count, 100.0);
    let q = crate::metrics::quantiles(h).unwrap();
    assert!(q.p50 > 0.1 && q.p99 <= 1.0, "{q:?}");
    assert!(
        r.latency.is_empty(),
        "HTTP latency is not an enforcement figure"
    );
    let dns = &r.l7.dns[0];
    assert_eq!(dns.namespace, "a");
    assert_eq!(
        (dns.responses_per_second, dns.errors_per_second),
        (5.0, 5.0)
    );
}
