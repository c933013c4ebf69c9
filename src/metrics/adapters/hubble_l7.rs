//! Hubble's L7 metrics: `httpV2` (or the older `http`) and `dns`.
//!
//! Only namespaces Hubble's context options put in the labels are used: `source_namespace` /
//! `destination_namespace` (`labelsContext`), or `source`/`destination` values of the form
//! `ns/pod` (`sourceContext=pod`, `workload`). Series without them count toward nothing.
//!
//! The older `http` metric reports `http_responses_total` and the duration from the response
//! flow, with source and destination swapped; `httpV2` (recognised by a `status` label on
//! `http_requests_total`) does not. When both a `client` and a `server` reporter saw a pair's
//! requests, only the client's series are used, so no request counts twice.
//! Hubble exports no DNS latency: DNS figures are response counts by `rcode` only.

use std::collections::{BTreeMap, BTreeSet};

use super::{L7Count, L7Metrics, LatencyHistogram, family_samples, latency, namespace_of, owned};
use crate::metrics::parse::{Sample, Scrape};

pub const HTTP_REQUESTS: &str = "hubble_http_requests_total";
pub const HTTP_RESPONSES: &str = "hubble_http_responses_total";
pub const HTTP_DURATION: &str = "hubble_http_request_duration_seconds";
pub const DNS_QUERIES: &str = "hubble_dns_queries_total";
pub const DNS_RESPONSES: &str = "hubble_dns_responses_total";
/// The `rcode` of a successful DNS response, as Hubble spells it.
pub const DNS_OK: &str = "No Error";

type Pair = (Option<String>, Option<String>);

fn context(labels: &BTreeMap<String, String>, explicit: &str, context: &str) -> Option<String> {
    owned(labels.get(explicit).map(String::as_str)).or_else(|| {
        let v = labels.get(context)?;
        if v.contains('/') {
            namespace_of(v)
        } else {
            None
        }
    })
}

fn pair(labels: &BTreeMap<String, String>, swapped: bool) -> Pair {
    let src = context(labels, "source_namespace", "source");
    let dst = context(labels, "destination_namespace", "destination");
    if swapped { (dst, src) } else { (src, dst) }
}

fn reporter(labels: &BTreeMap<String, String>) -> &str {
    labels.get("reporter").map_or("", String::as_str)
}

/// Pairs seen by a `client` reporter: their `server` series are left out.
fn client_pairs<'a>(
    series: impl Iterator<Item = &'a BTreeMap<String, String>>,
    swapped: bool,
) -> BTreeSet<Pair> {
    series
        .filter(|l| reporter(l) == "client")
        .map(|l| pair(l, swapped))
        .collect()
}

fn keep(labels: &BTreeMap<String, String>, p: &Pair, clients: &BTreeSet<Pair>) -> bool {
    reporter(labels) == "client" || !clients.contains(p)
}

fn counts(samples: &[&Sample], outcome: &str, swapped: bool) -> Vec<L7Count> {
    let clients = client_pairs(samples.iter().map(|s| &s.labels), swapped);
    let mut summed: BTreeMap<(Pair, String), f64> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.value.is_finite()) {
        let p = pair(&s.labels, swapped);
        if p.0.is_none() || !keep(&s.labels, &p, &clients) {
            continue;
        }
        let o = s.label(outcome).unwrap_or("").to_string();
        *summed.entry((p, o)).or_default() += s.value;
    }
    summed
        .into_iter()
        .map(|((p, outcome), count)| L7Count {
            source_namespace: p.0,
            destination_namespace: p.1,
            outcome,
            count,
        })
        .collect()
}

fn exact<'a>(scrape: &'a Scrape, name: &str) -> Vec<&'a Sample> {
    family_samples(scrape, name)
        .iter()
        .filter(|s| s.name == name)
        .collect()
}

pub fn extract(scrape: &Scrape) -> L7Metrics {
    let requests = exact(scrape, HTTP_REQUESTS);
    let responses = exact(scrape, HTTP_RESPONSES);
    let v2 = requests.iter().any(|s| s.label("status").is_some());
    let http_requests = if v2 || responses.is_empty() {
        counts(&requests, "status", false)
    } else {
        counts(&responses, "status", true)
    };
    let durations = latency(scrape, HTTP_DURATION, 1.0);
    let swapped = !v2 && !responses.is_empty();
    let clients = client_pairs(durations.iter().map(|h| &h.labels), swapped);
    let mut by_pair: BTreeMap<Pair, LatencyHistogram> = BTreeMap::new();
    for h in durations.into_iter().filter(|h| !h.buckets.is_empty()) {
        let p = pair(&h.labels, swapped);
        let (Some(src), Some(dst)) = (&p.0, &p.1) else {
            continue;
        };
        if !keep(&h.labels, &p, &clients) {
            continue;
        }
        let labels = BTreeMap::from([
            ("source_namespace".to_string(), src.clone()),
            ("destination_namespace".to_string(), dst.clone()),
        ]);
        match by_pair.get_mut(&p) {
            Some(acc) => add_histogram(acc, &h),
            None => {
                by_pair.insert(p, LatencyHistogram { labels, ..h });
            }
        }
    }
    L7Metrics {
        http_requests,
        http_latency: by_pair.into_values().collect(),
        dns_responses: counts(&exact(scrape, DNS_RESPONSES), "rcode", false),
        http_seen: [HTTP_REQUESTS, HTTP_RESPONSES, HTTP_DURATION]
            .iter()
            .any(|n| scrape.family(n).is_some()),
        dns_seen: [DNS_QUERIES, DNS_RESPONSES]
            .iter()
            .any(|n| scrape.family(n).is_some()),
    }
}

/// Adds `h` into `acc` when their buckets share a layout; other layouts are left out.
pub fn add_histogram(acc: &mut LatencyHistogram, h: &LatencyHistogram) {
    let same = acc.buckets.len() == h.buckets.len()
        && acc.buckets.iter().zip(&h.buckets).all(|(a, b)| a.0 == b.0);
    if !same {
        return;
    }
    for (a, b) in acc.buckets.iter_mut().zip(&h.buckets) {
        a.1 += b.1;
    }
    acc.sum += h.sum;
    acc.count += h.count;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse::parse;

    /// `httpV2` with `labelsContext=source_namespace,destination_namespace`, and `dns` with
    /// `sourceContext=pod` (values `ns/pod`), label shapes as the Hubble docs list them.
    const V2: &str = r#"# TYPE hubble_http_requests_total counter
hubble_http_requests_total{method="GET",protocol="HTTP/1.1",reporter="client",status="200",source_namespace="acme",destination_namespace="globex"} 90
hubble_http_requests_total{method="GET",protocol="HTTP/1.1",reporter="client",status="503",source_namespace="acme",destination_namespace="globex"} 10
hubble_http_requests_total{method="GET",protocol="HTTP/1.1",reporter="server",status="200",source_namespace="acme",destination_namespace="globex"} 90
hubble_http_requests_total{method="GET",protocol="HTTP/1.1",reporter="server",status="200",source_namespace="initech",destination_namespace="acme"} 7
hubble_http_requests_total{method="GET",protocol="HTTP/1.1",reporter="client",status="200"} 1000
# TYPE hubble_http_request_duration_seconds histogram
hubble_http_request_duration_seconds_bucket{method="GET",reporter="client",source_namespace="acme",destination_namespace="globex",le="0.01"} 50
hubble_http_request_duration_seconds_bucket{method="GET",reporter="client",source_namespace="acme",destination_namespace="globex",le="0.1"} 90
hubble_http_request_duration_seconds_bucket{method="GET",reporter="client",source_namespace="acme",destination_namespace="globex",le="+Inf"} 100
hubble_http_request_duration_seconds_sum{method="GET",reporter="client",source_namespace="acme",destination_namespace="globex"} 4.2
hubble_http_request_duration_seconds_count{method="GET",reporter="client",source_namespace="acme",destination_namespace="globex"} 100
hubble_http_request_duration_seconds_bucket{method="POST",reporter="client",source_namespace="acme",destination_namespace="globex",le="0.01"} 0
hubble_http_request_duration_seconds_bucket{method="POST",reporter="client",source_namespace="acme",destination_namespace="globex",le="0.1"} 5
hubble_http_request_duration_seconds_bucket{method="POST",reporter="client",source_namespace="acme",destination_namespace="globex",le="+Inf"} 10
hubble_http_request_duration_seconds_sum{method="POST",reporter="client",source_namespace="acme",destination_namespace="globex"} 2
hubble_http_request_duration_seconds_count{method="POST",reporter="client",source_namespace="acme",destination_namespace="globex"} 10
hubble_http_request_duration_seconds_bucket{method="GET",reporter="server",source_namespace="acme",destination_namespace="globex",le="0.01"} 100
hubble_http_request_duration_seconds_bucket{method="GET",reporter="server",source_namespace="acme",destination_namespace="globex",le="0.1"} 100
hubble_http_request_duration_seconds_bucket{method="GET",reporter="server",source_namespace="acme",destination_namespace="globex",le="+Inf"} 100
hubble_http_request_duration_seconds_sum{method="GET",reporter="server",source_namespace="acme",destination_namespace="globex"} 0.1
hubble_http_request_duration_seconds_count{method="GET",reporter="server",source_namespace="acme",destination_namespace="globex"} 100
# TYPE hubble_dns_responses_total counter
hubble_dns_responses_total{rcode="No Error",qtypes="A",ips_returned="1",source="acme/web-1",destination="kube-system/coredns-1"} 40
hubble_dns_responses_total{rcode="Non-Existent Domain",qtypes="A",ips_returned="0",source="acme/web-1",destination="kube-system/coredns-1"} 10
hubble_dns_responses_total{rcode="No Error",qtypes="AAAA",ips_returned="0",source="acme/web-2",destination="kube-system/coredns-1"} 5
hubble_dns_responses_total{rcode="Server Failure",qtypes="A",ips_returned="0",source="web",destination="coredns"} 3
"#;

    fn count(m: &L7Metrics, src: &str, dst: Option<&str>, status: &str) -> Option<f64> {
        m.http_requests
            .iter()
            .find(|c| {
                c.source_namespace.as_deref() == Some(src)
                    && c.destination_namespace.as_deref() == dst
                    && c.outcome == status
            })
            .map(|c| c.count)
    }

    #[test]
    fn http_v2_pairs_prefer_the_client_reporter() {
        let m = extract(&parse(V2).unwrap());
        assert!(m.http_seen && m.dns_seen);
        assert_eq!(
            count(&m, "acme", Some("globex"), "200"),
            Some(90.0),
            "server copy left out"
        );
        assert_eq!(count(&m, "acme", Some("globex"), "503"), Some(10.0));
        assert_eq!(
            count(&m, "initech", Some("acme"), "200"),
            Some(7.0),
            "server only: kept"
        );
        assert_eq!(
            m.http_requests.len(),
            3,
            "the series without context is not attributed"
        );
        assert_eq!(m.http_latency.len(), 1);
        let h = &m.http_latency[0];
        assert_eq!(
            h.buckets,
            vec![(0.01, 50.0), (0.1, 95.0), (f64::INFINITY, 110.0)]
        );
        assert_eq!((h.count, h.sum), (110.0, 6.2));
        assert_eq!(
            h.labels.get("source_namespace").map(String::as_str),
            Some("acme")
        );
    }

    #[test]
    fn dns_responses_by_source_namespace_and_rcode() {
        let m = extract(&parse(V2).unwrap());
        let rcodes: Vec<(&str, f64)> = m
            .dns_responses
            .iter()
            .map(|c| (c.outcome.as_str(), c.count))
            .collect();
        assert_eq!(
            rcodes,
            vec![("No Error", 45.0), ("Non-Existent Domain", 10.0)]
        );
        assert!(
            m.dns_responses
                .iter()
                .all(|c| c.source_namespace.as_deref() == Some("acme"))
        );
    }

    #[test]
    fn http_v1_swaps_the_response_context() {
        let text = r#"# TYPE hubble_http_requests_total counter
hubble_http_requests_total{method="GET",protocol="HTTP/1.1",reporter="client",source_namespace="a",destination_namespace="b"} 10
# TYPE hubble_http_responses_total counter
hubble_http_responses_total{method="GET",status="500",reporter="client",source_namespace="b",destination_namespace="a"} 4
# TYPE hubble_http_request_duration_seconds histogram
hubble_http_request_duration_seconds_bucket{method="GET",reporter="client",source_namespace="b",destination_namespace="a",le="0.1"} 4
hubble_http_request_duration_seconds_bucket{method="GET",reporter="client",source_namespace="b",destination_namespace="a",le="+Inf"} 4
"#;
        let m = extract(&parse(text).unwrap());
        assert_eq!(count(&m, "a", Some("b"), "500"), Some(4.0));
        let h = &m.http_latency[0];
        assert_eq!(
            h.labels.get("source_namespace").map(String::as_str),
            Some("a")
        );
    }

    #[test]
    fn nothing_served_nothing_guessed() {
        let m = extract(&parse("hubble_drop_total{reason=\"x\"} 1\n").unwrap());
        assert_eq!(m, L7Metrics::default());
    }
}
