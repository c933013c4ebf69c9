//! Per namespace pair L7 figures of a reading: HTTP request and 5xx rates from consecutive
//! scrapes, request latency as the histogram of observations within the latency window (kept
//! whole so callers can merge namespaces into tenants before taking quantiles), and DNS
//! response and error rates per source namespace.

use std::collections::BTreeMap;

use super::adapters::hubble_l7::{DNS_OK, add_histogram};
use super::adapters::{L7Count, LatencyHistogram};
use super::math::counter_rate;

/// HTTP figures of one (source namespace, destination namespace) pair.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PairTraffic {
    pub source_namespace: String,
    pub destination_namespace: String,
    /// `None` before two scrapes of the series.
    pub requests_per_second: Option<f64>,
    pub server_errors_per_second: Option<f64>,
    /// Observations within the latency window; `None` when Hubble served no duration.
    pub latency: Option<LatencyHistogram>,
}

/// DNS responses of the pods of one namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsFigure {
    pub namespace: String,
    pub responses_per_second: f64,
    /// Responses whose `rcode` is not "No Error".
    pub errors_per_second: f64,
}

/// The L7 part of a reading.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct L7Reading {
    pub pairs: Vec<PairTraffic>,
    pub dns: Vec<DnsFigure>,
    pub http_seen: bool,
    pub dns_seen: bool,
}

/// Per-second increase of each (pair, outcome) series present in both scrapes.
pub fn count_rates(
    prev: &[L7Count],
    curr: &[L7Count],
    dt_secs: f64,
) -> Vec<(String, Option<String>, String, f64)> {
    let key = |c: &L7Count| {
        (
            c.source_namespace.clone().unwrap_or_default(),
            c.destination_namespace.clone(),
            c.outcome.clone(),
        )
    };
    let before: BTreeMap<_, f64> = prev.iter().map(|c| (key(c), c.count)).collect();
    curr.iter()
        .filter_map(|c| {
            let k = key(c);
            let rate = counter_rate(*before.get(&k)?, c.count, dt_secs)?;
            Some((k.0, k.1, k.2, rate))
        })
        .collect()
}

/// Accumulates agents' figures into one [`L7Reading`].
#[derive(Debug, Default)]
pub struct L7Builder {
    pairs: BTreeMap<(String, String), PairTraffic>,
    dns: BTreeMap<String, DnsFigure>,
    pub http_seen: bool,
    pub dns_seen: bool,
}

impl L7Builder {
    fn pair(&mut self, src: &str, dst: &str) -> &mut PairTraffic {
        self.pairs
            .entry((src.to_string(), dst.to_string()))
            .or_insert_with(|| PairTraffic {
                source_namespace: src.to_string(),
                destination_namespace: dst.to_string(),
                ..Default::default()
            })
    }

    pub fn add_http_rates(&mut self, rates: &[(String, Option<String>, String, f64)]) {
        for (src, dst, status, rate) in rates {
            let Some(dst) = dst else { continue };
            let p = self.pair(src, dst);
            *p.requests_per_second.get_or_insert(0.0) += rate;
            let errors = p.server_errors_per_second.get_or_insert(0.0);
            if status.starts_with('5') {
                *errors += rate;
            }
        }
    }

    pub fn add_latency(&mut self, windowed: &LatencyHistogram) {
        let label = |k: &str| windowed.labels.get(k).cloned().unwrap_or_default();
        let p = self.pair(&label("source_namespace"), &label("destination_namespace"));
        match &mut p.latency {
            Some(acc) => add_histogram(acc, windowed),
            None => p.latency = Some(windowed.clone()),
        }
    }

    pub fn add_dns_rates(&mut self, rates: &[(String, Option<String>, String, f64)]) {
        for (ns, _, rcode, rate) in rates {
            let f = self.dns.entry(ns.clone()).or_insert_with(|| DnsFigure {
                namespace: ns.clone(),
                responses_per_second: 0.0,
                errors_per_second: 0.0,
            });
            f.responses_per_second += rate;
            if rcode != DNS_OK {
                f.errors_per_second += rate;
            }
        }
    }

    pub fn finish(self) -> L7Reading {
        L7Reading {
            pairs: self.pairs.into_values().collect(),
            dns: self.dns.into_values().collect(),
            http_seen: self.http_seen,
            dns_seen: self.dns_seen,
        }
    }
}
