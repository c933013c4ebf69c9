//! Hubble's L7 figures of the latest reading folded into tenants with the console's tenant
//! rules: request latency, rate and 5xx share per tenant pair, DNS errors per tenant.
//! Namespaces merge by summing their windowed histograms, then quantiles are taken.

use std::collections::{BTreeMap, HashMap};

use crate::metrics::adapters::hubble_l7::add_histogram;
use crate::metrics::{LatencyHistogram, Quantiles, Reading, quantiles};

#[derive(Debug, Clone, PartialEq)]
pub struct TenantPairRow {
    pub source: String,
    pub destination: String,
    pub requests_per_second: Option<f64>,
    pub quantiles: Option<Quantiles>,
    /// Share of requests answered 5xx, 0 to 1.
    pub server_error_ratio: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantDnsRow {
    pub tenant: String,
    pub responses_per_second: f64,
    /// Share of responses whose rcode is not "No Error"; `None` with no responses.
    pub error_ratio: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TenantTraffic {
    /// Worst first: highest p95, then highest 5xx share.
    pub pairs: Vec<TenantPairRow>,
    /// Worst first: highest error ratio.
    pub dns: Vec<TenantDnsRow>,
    pub http_seen: bool,
    pub dns_seen: bool,
}

#[derive(Default)]
struct PairAcc {
    requests: Option<f64>,
    errors: f64,
    latency: Option<LatencyHistogram>,
}

/// Folds a reading's L7 figures by tenant (`tenant_of` maps a namespace to its tenant or group
/// label). Done once per reading, when it arrives: a frame only reads the result.
pub fn fold(reading: &Reading, tenant_of: &dyn Fn(&str) -> String) -> TenantTraffic {
    let mut known: HashMap<String, String> = HashMap::new();
    let mut tenant = |ns: &str| match known.get(ns) {
        Some(label) => label.clone(),
        None => known.entry(ns.to_string()).or_insert(tenant_of(ns)).clone(),
    };
    let mut pairs: BTreeMap<(String, String), PairAcc> = BTreeMap::new();
    for p in &reading.l7.pairs {
        let key = (
            tenant(&p.source_namespace),
            tenant(&p.destination_namespace),
        );
        let acc = pairs.entry(key).or_default();
        if let Some(r) = p.requests_per_second {
            *acc.requests.get_or_insert(0.0) += r;
            acc.errors += p.server_errors_per_second.unwrap_or(0.0);
        }
        match (&mut acc.latency, &p.latency) {
            (Some(a), Some(h)) => add_histogram(a, h),
            (None, Some(h)) => acc.latency = Some(h.clone()),
            _ => {}
        }
    }
    let mut pair_rows: Vec<TenantPairRow> = pairs
        .into_iter()
        .map(|((source, destination), acc)| TenantPairRow {
            source,
            destination,
            requests_per_second: acc.requests,
            quantiles: acc
                .latency
                .as_ref()
                .filter(|h| h.count > 0.0)
                .and_then(quantiles),
            server_error_ratio: acc.requests.filter(|r| *r > 0.0).map(|r| acc.errors / r),
        })
        .collect();
    let p95 = |r: &TenantPairRow| r.quantiles.map_or(-1.0, |q| q.p95);
    let errors = |r: &TenantPairRow| r.server_error_ratio.unwrap_or(-1.0);
    pair_rows.sort_by(|a, b| {
        p95(b)
            .total_cmp(&p95(a))
            .then(errors(b).total_cmp(&errors(a)))
            .then((&a.source, &a.destination).cmp(&(&b.source, &b.destination)))
    });
    let mut dns: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for d in &reading.l7.dns {
        let acc = dns.entry(tenant(&d.namespace)).or_default();
        acc.0 += d.responses_per_second;
        acc.1 += d.errors_per_second;
    }
    let mut dns_rows: Vec<TenantDnsRow> = dns
        .into_iter()
        .map(|(tenant, (responses, errors))| TenantDnsRow {
            tenant,
            responses_per_second: responses,
            error_ratio: (responses > 0.0).then(|| errors / responses),
        })
        .collect();
    let ratio = |r: &TenantDnsRow| r.error_ratio.unwrap_or(-1.0);
    dns_rows.sort_by(|a, b| ratio(b).total_cmp(&ratio(a)).then(a.tenant.cmp(&b.tenant)));
    TenantTraffic {
        pairs: pair_rows,
        dns: dns_rows,
        http_seen: reading.l7.http_seen,
        dns_seen: reading.l7.dns_seen,
    }
}

/// `12.5%`, or "—" without data.
pub fn percent(ratio: Option<f64>) -> String {
    ratio.map_or("—".into(), |r| format!("{:.1}%", r * 100.0))
}

/// The section's title: where the figures come from, or why there are none.
pub fn title(t: &TenantTraffic, window_secs: u64) -> String {
    if !t.http_seen && !t.dns_seen {
        "Tenant pairs: no hubble_http_* metrics: enable Hubble's httpV2 and dns metrics with labelsContext=source_namespace,destination_namespace".into()
    } else if t.pairs.is_empty() && t.dns.is_empty() {
        "Tenant pairs: Hubble's L7 metrics carry no namespaces: set labelsContext=source_namespace,destination_namespace (or sourceContext=pod)".into()
    } else {
        format!("Tenant pairs (Hubble's L7 metrics; quantiles over {window_secs} s)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testing::{analysed, sample_reading, state};
    use crate::metrics::{DnsFigure, PairTraffic};

    fn histogram(fast: f64, slow: f64) -> LatencyHistogram {
        LatencyHistogram {
            metric: "hubble_http_request_duration_seconds".into(),
            buckets: vec![
                (0.01, fast),
                (1.0, fast + slow),
                (f64::INFINITY, fast + slow),
            ],
            count: fast + slow,
            ..Default::default()
        }
    }

    fn pair(src: &str, dst: &str, rps: f64, errors: f64, h: LatencyHistogram) -> PairTraffic {
        PairTraffic {
            source_namespace: src.into(),
            destination_namespace: dst.into(),
            requests_per_second: Some(rps),
            server_errors_per_second: Some(errors),
            latency: Some(h),
        }
    }

    #[test]
    fn namespaces_fold_into_tenant_pairs_worst_first() {
        let mut s = analysed();
        let mut reading = sample_reading(Vec::new());
        reading.l7.http_seen = true;
        reading.l7.dns_seen = true;
        reading.l7.pairs = vec![
            pair("acme-web", "globex-app", 8.0, 0.0, histogram(100.0, 0.0)),
            pair("acme-db", "globex-app", 2.0, 1.0, histogram(0.0, 100.0)),
            pair("globex-app", "kube-system", 5.0, 0.0, histogram(10.0, 0.0)),
        ];
        reading.l7.dns = vec![
            DnsFigure {
                namespace: "acme-web".into(),
                responses_per_second: 10.0,
                errors_per_second: 5.0,
            },
            DnsFigure {
                namespace: "globex-app".into(),
                responses_per_second: 0.0,
                errors_per_second: 0.0,
            },
        ];
        let (acme, globex) = (s.group_label("acme-web"), s.group_label("globex-app"));
        assert_eq!(acme, s.group_label("acme-db"), "fixture: one tenant");
        // As the console folds it: when the reading arrives.
        crate::app::update(&mut s, crate::app::Msg::Metrics(Box::new(reading)));
        let t = &s.telemetry.traffic;
        assert_eq!((acme.as_str(), globex.as_str()), ("acme", "globex"));
        assert_eq!(t.pairs.len(), 2, "{:?}", t.pairs);
        assert_eq!(t.pairs[0].source, acme, "the slower pair first");
        let ag = t.pairs.iter().find(|p| p.source == acme).unwrap();
        assert_eq!(ag.destination, globex);
        assert_eq!(ag.requests_per_second, Some(10.0));
        assert_eq!(ag.server_error_ratio, Some(0.1));
        let q = ag.quantiles.unwrap();
        assert!(q.p50 <= 0.01 && q.p95 > 0.01, "half fast, half slow: {q:?}");
        let dns_acme = t.dns.iter().find(|d| d.tenant == acme).unwrap();
        assert_eq!(dns_acme.error_ratio, Some(0.5));
        assert_eq!(
            t.dns.last().unwrap().error_ratio,
            None,
            "no responses: no ratio"
        );
        assert!(title(t, 300).contains("Hubble's L7 metrics"));
    }

    #[test]
    fn title_says_why_there_are_no_figures() {
        let s = state();
        let t = fold(&sample_reading(Vec::new()), &|ns| s.group_label(ns));
        assert!(t.pairs.is_empty());
        assert!(title(&t, 300).contains("no hubble_http_* metrics"));
        let seen = TenantTraffic {
            http_seen: true,
            ..Default::default()
        };
        assert!(title(&seen, 300).contains("carry no namespaces"));
    }
}
