//! The simulated Hubble's `httpV2` and `dns` metrics, derived from the allowed traffic of the
//! traffic plan (labels as with `labelsContext=source_namespace,destination_namespace`,
//! reporter `client`, on the source pod's node).
//!
//! Every 10 allowed TCP packets between workloads count as one HTTP request; a small share
//! (0 to 2 % per pair, fixed) answer 503. Durations follow a log-logistic distribution whose
//! median (4 to 60 ms) is fixed per pair, so the histogram is an exact function of the request
//! count and grows with it; none takes over 10 s. Every allowed DNS packet is one query answered "No Error". A pair
//! that policy denies has no allowed packets, so no requests and no DNS responses: a dropped
//! DNS query never reaches the resolver, so a namespace whose DNS egress breaks stops getting
//! responses (Hubble's DNS metrics come from the DNS proxy, which never sees the query).

use super::exposition::Exposition;
use super::telemetry::DELAY_BOUNDS;
use super::traffic::{AllowedKey, unit};
use crate::metrics::adapters::hubble_l7::{DNS_OK, DNS_RESPONSES, HTTP_DURATION, HTTP_REQUESTS};

/// Allowed packets per HTTP request.
const PACKETS_PER_REQUEST: f64 = 10.0;

fn pair_name(key: &AllowedKey) -> String {
    format!("{}/{}", key.source_namespace, key.destination_namespace)
}

fn error_share(key: &AllowedKey) -> f64 {
    0.02 * unit(&format!("http-errors/{}", pair_name(key)))
}

fn median_seconds(key: &AllowedKey) -> f64 {
    0.004 + 0.056 * unit(&format!("http-median/{}", pair_name(key)))
}

/// Share of requests at or under `bound` seconds.
fn below(bound: f64, median: f64) -> f64 {
    1.0 / (1.0 + (bound / median).powf(-3.0))
}

/// Appends the families for the `(key, allowed packets so far)` series of one node.
pub fn render(e: &mut Exposition, series: &[(&AllowedKey, f64)]) {
    let http: Vec<_> = series.iter().filter(|(k, _)| !k.dns).collect();
    e.family(HTTP_REQUESTS, "counter", "Count of HTTP requests");
    for (key, packets) in &http {
        let requests = (packets / PACKETS_PER_REQUEST).floor();
        let errors = (requests * error_share(key)).floor();
        for (status, value) in [("200", requests - errors), ("503", errors)] {
            let labels = [
                ("destination_namespace", key.destination_namespace.as_str()),
                ("method", "GET"),
                ("protocol", "HTTP/1.1"),
                ("reporter", "client"),
                ("source_namespace", key.source_namespace.as_str()),
                ("status", status),
            ];
            e.sample(HTTP_REQUESTS, &labels, value);
        }
    }
    e.family(
        HTTP_DURATION,
        "histogram",
        "Histogram of HTTP request duration in seconds",
    );
    for (key, packets) in &http {
        let requests = (packets / PACKETS_PER_REQUEST).floor();
        let median = median_seconds(key);
        let labels = [
            ("destination_namespace", key.destination_namespace.as_str()),
            ("method", "GET"),
            ("reporter", "client"),
            ("source_namespace", key.source_namespace.as_str()),
        ];
        let bucket = format!("{HTTP_DURATION}_bucket");
        for (i, bound) in DELAY_BOUNDS.iter().enumerate() {
            let le = super::exposition::format_value(*bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            // Every request completes within the largest bound (no timeouts are simulated), so
            // rounding never leaves a stray request in `+Inf` that would read as a 10 s p99.
            let within = if i + 1 == DELAY_BOUNDS.len() {
                requests
            } else {
                (requests * below(*bound, median)).round().min(requests)
            };
            e.sample(&bucket, &with_le, within);
        }
        let mut with_le = labels.to_vec();
        with_le.push(("le", "+Inf"));
        e.sample(&bucket, &with_le, requests);
        // The log-logistic mean with shape 3 is about 1.21 × the median.
        e.sample(
            &format!("{HTTP_DURATION}_sum"),
            &labels,
            requests * median * 1.21,
        );
        e.sample(&format!("{HTTP_DURATION}_count"), &labels, requests);
    }
    e.family(DNS_RESPONSES, "counter", "Number of DNS responses observed");
    for (key, packets) in series.iter().filter(|(k, _)| k.dns) {
        let labels = [
            ("destination_namespace", key.destination_namespace.as_str()),
            ("ips_returned", "1"),
            ("qtypes", "A"),
            ("rcode", DNS_OK),
            ("source_namespace", key.source_namespace.as_str()),
        ];
        e.sample(DNS_RESPONSES, &labels, packets.floor());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::adapters::hubble_l7;
    use crate::metrics::parse::parse;

    fn key(src: &str, dst: &str, dns: bool) -> AllowedKey {
        AllowedKey {
            node: "n1".into(),
            source_namespace: src.into(),
            destination_namespace: dst.into(),
            dns,
        }
    }

    #[test]
    fn served_metrics_read_back_per_pair() {
        let (web, dns) = (
            key("acme-web", "acme-api", false),
            key("acme-web", "kube-system", true),
        );
        let mut e = Exposition::new();
        render(&mut e, &[(&web, 10_000.0), (&dns, 300.0)]);
        let scrape = parse(&e.finish()).unwrap();
        assert!(scrape.errors.is_empty());
        let m = hubble_l7::extract(&scrape);
        let total: f64 = m.http_requests.iter().map(|c| c.count).sum();
        assert_eq!(total, 1000.0);
        let h = &m.http_latency[0];
        assert_eq!(h.count, 1000.0);
        let q = crate::metrics::quantiles(h).unwrap();
        let median = median_seconds(&web);
        assert!(
            q.p50 > median / 3.0 && q.p50 < median * 3.0,
            "{q:?} vs {median}"
        );
        assert!(q.p99 > q.p50 && q.p99 < 1.0, "{q:?}");
        assert_eq!(m.dns_responses[0].count, 300.0);
        assert_eq!(m.dns_responses[0].outcome, DNS_OK);
    }
}
