//! Answers written after the Prometheus HTTP API's documented format
//! (`/api/v1/query`: `status`, `data.resultType`, `data.result`, `errorType`, `error`).

use super::*;
use crate::metrics::adapters::metrics_table;
use crate::metrics::adapters::{antrea, calico, cilium, hubble};
use crate::metrics::{Cni, Drop};
use crate::scrape::prometheus::queries::{queries, table};
use crate::scrape::rules::default_rules;

fn vector(elements: &[(&str, &str)]) -> String {
    let result: Vec<String> = elements
        .iter()
        .map(|(metric, value)| {
            format!(r#"{{"metric":{metric},"value":[1700000000.123,"{value}"]}}"#)
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        result.join(",")
    )
}

/// Answers for every query of the default table: `answer(promql)` or an empty vector.
fn answers(
    answer: impl Fn(&str) -> Option<String>,
) -> Vec<(Query, Result<Vec<VectorSample>, String>)> {
    queries(&default_rules())
        .into_iter()
        .map(|q| {
            let body = answer(&q.promql).unwrap_or_else(|| vector(&[]));
            let parsed = parse_response(&body);
            (q, parsed)
        })
        .collect()
}

fn at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

#[test]
fn responses_parse_vectors_scalars_nan_and_errors() {
    let v = parse_response(&vector(&[
        (r#"{"node":"w1","reason":"Policy denied"}"#, "0.25"),
        ("{}", "NaN"),
        ("{}", "+Inf"),
    ]))
    .unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].labels.get("node").map(String::as_str), Some("w1"));
    assert_eq!(v[0].value, 0.25);
    assert!(v[1].value.is_nan());
    assert_eq!(v[2].value, f64::INFINITY);

    let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"4"]}}"#;
    assert_eq!(parse_response(scalar).unwrap()[0].value, 4.0);
    assert_eq!(parse_response(&vector(&[])).unwrap(), vec![]);

    let error = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:8: parse error: unexpected \"(\""}"#;
    assert_eq!(
        parse_response(error).unwrap_err(),
        "Prometheus error (bad_data): invalid parameter \"query\": 1:8: parse error: unexpected \"(\""
    );
    let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
    assert_eq!(
        parse_response(matrix).unwrap_err(),
        "expected an instant vector, got a matrix"
    );
    assert!(
        parse_response("<html>502</html>")
            .unwrap_err()
            .contains("not a Prometheus API response")
    );
    assert!(
        parse_response(&vector(&[("{}", "lots")]))
            .unwrap_err()
            .contains("bad value `lots`")
    );
}

#[test]
fn drop_rates_go_through_the_adapters_with_the_same_identity() {
    let read = build_reading(
        at(),
        &answers(|promql| {
            if promql.contains("rate(cilium_drop_count_total[1m])") {
                Some(vector(&[
                    (
                        r#"{"node":"w1","instance":"10.0.0.1:9962","reason":"Policy denied","direction":"INGRESS"}"#,
                        "2.5",
                    ),
                    (
                        r#"{"instance":"10.0.0.2:9962","reason":"Policy denied","direction":"EGRESS"}"#,
                        "NaN",
                    ),
                ]))
            } else if promql.contains("hubble_policy_verdicts_total") {
                Some(vector(&[(
                    r#"{"node":"w2","action":"dropped","direction":"egress","match":"none","source_namespace":"tenant-b","destination_namespace":"tenant-a"}"#,
                    "0.5",
                )]))
            } else if promql.contains("calico_denied_packets") {
                Some(vector(&[(
                    r#"{"instance":"10.0.0.3:9091","policy":"default|tenant-b/knp.default.deny|0|deny"}"#,
                    "1",
                )]))
            } else {
                None
            }
        }),
    );
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(read.interval, RATE_WINDOW);
    assert_eq!(read.drops.len(), 3, "NaN gives no figure: {:?}", read.drops);
    let cilium = &read.drops[0];
    assert_eq!(
        (
            cilium.node.as_deref(),
            cilium.reason.as_str(),
            cilium.direction.as_deref(),
            cilium.per_second
        ),
        (Some("w1"), "Policy denied", Some("ingress"), 2.5)
    );
    // The same sample scraped directly gives a Drop with the same identity fields.
    let direct = crate::metrics::extract(
        Cni::Hubble,
        &crate::metrics::parse(
            "hubble_policy_verdicts_total{action=\"dropped\",direction=\"egress\",match=\"none\",source_namespace=\"tenant-b\",destination_namespace=\"tenant-a\"} 7\n",
        )
        .unwrap(),
        Some("w2"),
    );
    let Drop {
        reason,
        direction,
        source_namespace,
        destination_namespace,
        policy,
        node,
        ..
    } = direct.drops[0].clone();
    let hubble = &read.drops[1];
    assert_eq!(
        (
            &hubble.node,
            &hubble.reason,
            &hubble.direction,
            &hubble.source_namespace,
            &hubble.destination_namespace,
            &hubble.policy
        ),
        (
            &node,
            &reason,
            &direction,
            &source_namespace,
            &destination_namespace,
            &policy
        )
    );
    assert_eq!(hubble.per_second, 0.5);
    let calico = &read.drops[2];
    assert_eq!(
        calico.node.as_deref(),
        Some("10.0.0.3:9091"),
        "no node label: instance"
    );
    assert!(
        calico
            .policy
            .as_deref()
            .unwrap()
            .contains("knp.default.deny")
    );
}

#[test]
fn latency_quantiles_observations_units_and_nan() {
    let read = build_reading(
        at(),
        &answers(|promql| {
            let scalar_like = |v: &str| Some(vector(&[("{}", v)]));
            match promql {
                p if p.starts_with("histogram_quantile(0.5, ")
                    && p.contains(cilium::POLICY_DELAY) =>
                {
                    scalar_like("0.01")
                }
                p if p.starts_with("histogram_quantile(0.95, ")
                    && p.contains(cilium::POLICY_DELAY) =>
                {
                    scalar_like("0.2")
                }
                p if p.starts_with("histogram_quantile(0.99, ")
                    && p.contains(cilium::POLICY_DELAY) =>
                {
                    scalar_like("0.4")
                }
                p if p.contains(&format!("{}_count", cilium::POLICY_DELAY)) => scalar_like("42"),
                // Antrea: milliseconds in, seconds out.
                p if p.starts_with("histogram_quantile(")
                    && p.contains(antrea::FLOW_OPS_LATENCY) =>
                {
                    scalar_like("20")
                }
                p if p.contains(&format!("{}_count", antrea::FLOW_OPS_LATENCY)) => scalar_like("9"),
                // Propagation delay: nothing observed, so histogram_quantile is NaN.
                p if p.starts_with("histogram_quantile(")
                    && p.contains(cilium::PROPAGATION_DELAY) =>
                {
                    scalar_like("NaN")
                }
                p if p.contains(&format!("{}_count", cilium::PROPAGATION_DELAY)) => {
                    scalar_like("0")
                }
                p if p.contains("quantile) (felix_int_dataplane_apply_time_seconds)") => {
                    Some(vector(&[
                        (r#"{"node":"w3","quantile":"0.5"}"#, "0.004"),
                        (r#"{"node":"w3","quantile":"0.9"}"#, "0.011"),
                        (r#"{"node":"w3","quantile":"0.99"}"#, "0.093"),
                    ]))
                }
                p if p.contains("felix_int_dataplane_apply_time_seconds_count") => {
                    Some(vector(&[(r#"{"node":"w3"}"#, "1804")]))
                }
                _ => None,
            }
        }),
    );
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let names: Vec<(&str, Option<&str>)> = read
        .latency
        .iter()
        .map(|f| (f.metric.as_str(), f.node.as_deref()))
        .collect();
    assert_eq!(
        names,
        vec![
            (antrea::FLOW_OPS_LATENCY, None),
            (cilium::PROPAGATION_DELAY, None),
            (cilium::POLICY_DELAY, None),
            (calico::APPLY_TIME, Some("w3")),
        ]
    );
    let antrea_figure = &read.latency[0];
    assert_eq!(antrea_figure.quantiles.unwrap().p99, 0.02);
    let propagation = &read.latency[1];
    assert_eq!(
        (propagation.quantiles, propagation.observations),
        (None, 0.0)
    );
    let policy = &read.latency[2];
    assert_eq!(
        policy.quantiles,
        Some(Quantiles {
            p50: 0.01,
            p95: 0.2,
            p99: 0.4
        })
    );
    assert_eq!((policy.observations, policy.from_summary), (42.0, false));
    let felix = &read.latency[3];
    assert!(felix.from_summary);
    assert_eq!(
        felix.quantiles,
        Some(Quantiles {
            p50: 0.004,
            p95: 0.011,
            p99: 0.093
        })
    );
    assert_eq!(felix.observations, 1804.0);
    assert_eq!(read.latency_window, LATENCY_WINDOW);
}

#[test]
fn agents_from_up_with_scrape_duration_and_policy_counts() {
    let read = build_reading(
        at(),
        &answers(|promql| match promql {
            p if p.starts_with("up{job=~\".*cilium.*\"}") => Some(vector(&[
                (
                    r#"{"__name__":"up","job":"cilium-agent","instance":"10.0.0.1:9962","node":"w1"}"#,
                    "1",
                ),
                (
                    r#"{"__name__":"up","job":"cilium-agent","instance":"10.0.0.2:9962"}"#,
                    "0",
                ),
            ])),
            p if p.starts_with("scrape_duration_seconds{job=~\".*cilium.*\"}") => {
                Some(vector(&[(
                    r#"{"job":"cilium-agent","instance":"10.0.0.1:9962","node":"w1"}"#,
                    "0.25",
                )]))
            }
            "sum by (node, instance) (cilium_policy)" => Some(vector(&[(
                r#"{"node":"w1","instance":"10.0.0.1:9962"}"#,
                "37",
            )])),
            _ => None,
        }),
    );
    assert_eq!(read.agents.len(), 2);
    let up = &read.agents[0];
    assert_eq!(up.agent.target, "cilium-agent/10.0.0.1:9962");
    assert_eq!(up.agent.node.as_deref(), Some("w1"));
    assert!(up.up());
    assert_eq!(up.duration, Duration::from_millis(250));
    assert_eq!(up.policy_count(), Some(37.0));
    assert_eq!(up.last_ok, Some(at()));
    let down = &read.agents[1];
    assert_eq!(down.agent.node.as_deref(), Some("10.0.0.2:9962"));
    assert!(down.error.as_deref().unwrap().contains("up = 0"));
    assert_eq!(down.last_ok, None);
}

#[test]
fn failed_queries_become_reading_errors_once_per_message() {
    let unreachable =
        "cannot connect: tcp connect error: Connection refused (os error 111)".to_string();
    let all_failed: Vec<_> = queries(&default_rules())
        .into_iter()
        .map(|q| (q, Err(unreachable.clone())))
        .collect();
    let read = build_reading(at(), &all_failed);
    assert_eq!(read.errors.len(), 1, "{:?}", read.errors);
    assert_eq!(
        read.errors[0],
        format!(
            "prometheus: {unreachable} (all {} queries)",
            all_failed.len()
        )
    );
    assert!(read.drops.is_empty() && read.latency.is_empty() && read.agents.is_empty());

    let mut some = answers(|_| None);
    some[0].1 = Err("HTTP 503 Service Unavailable".into());
    let read = build_reading(at(), &some);
    assert_eq!(read.errors.len(), 1);
    assert!(
        read.errors[0].starts_with("prometheus: HTTP 503 Service Unavailable (`sum by ("),
        "{}",
        read.errors[0]
    );
}

#[test]
fn the_table_names_the_adapters_metrics_and_fills_in_jobs() {
    let names: Vec<(Cni, &str)> = Cni::ALL
        .into_iter()
        .flat_map(|cni| metrics_table(cni).iter().map(move |m| (cni, m.name)))
        .collect();
    for spec in table() {
        let metric = match spec.role {
            Role::Drops { metric }
            | Role::Quantile { metric, .. }
            | Role::Observations { metric }
            | Role::SummaryQuantiles { metric }
            | Role::SummaryCount { metric }
            | Role::Health { metric } => metric,
            Role::L7 { family, sample } => {
                // Hubble's L7 adapter reads these families, not the agent table.
                assert!(sample.starts_with(family), "{sample}");
                assert!(spec.promql.contains(sample), "{}", spec.promql);
                continue;
            }
            Role::Up | Role::ScrapeDuration => continue,
        };
        assert!(
            names.contains(&(spec.cni, metric)),
            "{metric} is not in the {} table",
            spec.cni
        );
        assert!(spec.promql.contains(metric), "{}", spec.promql);
    }
    // Antrea's histogram is in milliseconds: the query's scale is the adapter's.
    let adapter = crate::metrics::extract(
        Cni::Antrea,
        &crate::metrics::parse(&format!(
            "# TYPE {m} histogram\n{m}_bucket{{le=\"1\"}} 1\n{m}_bucket{{le=\"+Inf\"}} 1\n",
            m = antrea::FLOW_OPS_LATENCY
        ))
        .unwrap(),
        None,
    );
    for spec in table() {
        if let Role::Quantile { metric, scale, .. } = spec.role {
            let expected = if metric == antrea::FLOW_OPS_LATENCY {
                adapter.latencies[0].buckets[0].0
            } else {
                1.0
            };
            assert_eq!(scale, expected, "{metric}");
        }
    }
    let filled = queries(&default_rules());
    assert!(filled.iter().any(|q| q.promql == "up{job=~\".*antrea.*\"}"));
    assert!(filled.iter().all(|q| !q.promql.contains("{job}")));
    let mut rules = default_rules();
    rules.retain(|r| r.cni != Cni::Hubble);
    assert!(queries(&rules).iter().all(|q| q.spec.cni != Cni::Hubble));
    assert!(table().iter().any(|s| s.promql.contains(hubble::VERDICTS)));
}

#[test]
fn docs_list_every_query() {
    let docs = include_str!("../../../docs/metrics.md").replace("\\|", "|");
    for spec in table() {
        assert!(
            docs.contains(&format!("`{}`", spec.promql)),
            "docs/metrics.md does not list `{}`",
            spec.promql
        );
    }
}

/// The drop queries keep labels the adapters do not read (`protocol`, `instance`): series that
/// differ only by those are one figure, summed, as `metrics::drop_rates` does when scraping.
#[test]
fn series_differing_only_by_unread_labels_are_one_summed_figure() {
    let read = build_reading(
        at(),
        &answers(|promql| {
            promql.contains("rate(hubble_drop_total[1m])").then(|| {
                vector(&[
                    (
                        r#"{"node":"w1","instance":"cilium-a","reason":"POLICY_DENIED","protocol":"TCP","source_namespace":"b","destination_namespace":"a"}"#,
                        "1.5",
                    ),
                    (
                        r#"{"node":"w1","instance":"cilium-a","reason":"POLICY_DENIED","protocol":"UDP","source_namespace":"b","destination_namespace":"a"}"#,
                        "0.25",
                    ),
                    // The agent pod was replaced within the rate window: a second instance.
                    (
                        r#"{"node":"w1","instance":"cilium-b","reason":"POLICY_DENIED","protocol":"TCP","source_namespace":"b","destination_namespace":"a"}"#,
                        "0.25",
                    ),
                    (
                        r#"{"node":"w2","instance":"cilium-c","reason":"POLICY_DENIED","protocol":"TCP","source_namespace":"b","destination_namespace":"a"}"#,
                        "1",
                    ),
                ])
            })
        }),
    );
    let figures: Vec<(Option<&str>, f64)> = read
        .drops
        .iter()
        .map(|d| (d.node.as_deref(), d.per_second))
        .collect();
    assert_eq!(figures, [(Some("w1"), 2.0), (Some("w2"), 1.0)]);
}

/// Hubble's `httpV2` with `labelsContext=source_namespace,destination_namespace` and `dns` with
/// `sourceContext=pod`, as Prometheus answers the L7 queries: rates per second, and the
/// duration histogram's increase over the window (buckets in no particular order).
#[test]
fn hubble_l7_answers_become_per_namespace_pair_figures() {
    let pair = r#""source_namespace":"acme-web","destination_namespace":"globex-api""#;
    let read = build_reading(
        at(),
        &answers(|promql| {
            let rows: Vec<(String, &str)> = if promql
                .contains("rate(hubble_http_requests_total[1m])")
            {
                vec![
                    (
                        format!(r#"{{{pair},"reporter":"client","status":"200"}}"#),
                        "9",
                    ),
                    (
                        format!(r#"{{{pair},"reporter":"client","status":"503"}}"#),
                        "1",
                    ),
                    // The server's copy of the same requests: left out, as when scraping.
                    (
                        format!(r#"{{{pair},"reporter":"server","status":"200"}}"#),
                        "10",
                    ),
                ]
            } else if promql.contains("increase(hubble_http_request_duration_seconds_bucket[5m])") {
                vec![
                    (
                        format!(r#"{{{pair},"reporter":"client","le":"+Inf"}}"#),
                        "100",
                    ),
                    (
                        format!(r#"{{{pair},"reporter":"client","le":"0.01"}}"#),
                        "50",
                    ),
                    (
                        format!(r#"{{{pair},"reporter":"client","le":"0.1"}}"#),
                        "90",
                    ),
                ]
            } else if promql.contains("increase(hubble_http_request_duration_seconds_count[5m])") {
                vec![(format!(r#"{{{pair},"reporter":"client"}}"#), "100")]
            } else if promql.contains("increase(hubble_http_request_duration_seconds_sum[5m])") {
                vec![(format!(r#"{{{pair},"reporter":"client"}}"#), "4.2")]
            } else if promql.contains("rate(hubble_dns_responses_total[1m])") {
                let dns = r#""source":"acme-web/web-1","destination":"kube-system/coredns-1""#;
                vec![
                    (format!(r#"{{{dns},"rcode":"No Error"}}"#), "4"),
                    (format!(r#"{{{dns},"rcode":"Non-Existent Domain"}}"#), "1"),
                ]
            } else {
                return None;
            };
            let rows: Vec<(&str, &str)> = rows.iter().map(|(m, v)| (m.as_str(), *v)).collect();
            Some(vector(&rows))
        }),
    );
    let l7 = &read.l7;
    assert!(l7.http_seen && l7.dns_seen);
    assert_eq!(l7.pairs.len(), 1, "{l7:?}");
    let p = &l7.pairs[0];
    assert_eq!(
        (
            p.source_namespace.as_str(),
            p.destination_namespace.as_str()
        ),
        ("acme-web", "globex-api")
    );
    assert_eq!(p.requests_per_second, Some(10.0));
    assert_eq!(p.server_errors_per_second, Some(1.0));
    let latency = p.latency.as_ref().expect("a windowed histogram");
    assert_eq!(
        latency.buckets,
        [(0.01, 50.0), (0.1, 90.0), (f64::INFINITY, 100.0)]
    );
    assert_eq!((latency.count, latency.sum), (100.0, 4.2));
    let q = crate::metrics::quantiles(latency).unwrap();
    assert_eq!((q.p50, q.p95), (0.01, 0.1), "{q:?}");
    assert_eq!(l7.dns.len(), 1);
    assert_eq!(l7.dns[0].namespace, "acme-web");
    assert_eq!(
        (l7.dns[0].responses_per_second, l7.dns[0].errors_per_second),
        (5.0, 1.0)
    );

    // Nothing answered: nothing seen, so `:latency` says the metrics are missing.
    let none = build_reading(at(), &answers(|_| None));
    assert!(!none.l7.http_seen && !none.l7.dns_seen && none.l7.pairs.is_empty());
}
