//! Parsed samples → Palisade's domain: denied flows, latency histograms, agent health.
//!
//! Each CNI has one file with a `METRICS` table (names, label keys, meaning) that the docs
//! list, and an `extract` function. Attribution to tenants is only made from labels that
//! carry it; otherwise it stays `None`.

use std::collections::BTreeMap;

use super::parse::{Sample, Scrape};

pub mod antrea;
pub mod calico;
pub mod cilium;
pub mod hubble;
pub mod hubble_l7;

/// Which agent produced a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cni {
    Cilium,
    Hubble,
    Calico,
    Antrea,
}

impl Cni {
    pub const ALL: [Cni; 4] = [Cni::Cilium, Cni::Hubble, Cni::Calico, Cni::Antrea];

    /// Lower-case name, as used in config files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Cni::Cilium => "cilium",
            Cni::Hubble => "hubble",
            Cni::Calico => "calico",
            Cni::Antrea => "antrea",
        }
    }

    pub fn from_name(name: &str) -> Option<Cni> {
        Cni::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Cni {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a metric is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Drops,
    Latency,
    Health,
}

/// One row of a per-CNI metrics table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub kind: &'static str,
    pub labels: &'static [&'static str],
    pub used_for: Use,
    pub meaning: &'static str,
}

/// Cumulative denied-packet counter for one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Drop {
    /// The family it was read from: the same denial can be counted by several families.
    pub metric: &'static str,
    pub node: Option<String>,
    pub reason: String,
    pub direction: Option<String>,
    pub source_namespace: Option<String>,
    pub destination_namespace: Option<String>,
    pub policy: Option<String>,
    pub count: f64,
}

/// One histogram or summary series, in seconds. Histograms fill `buckets` (cumulative,
/// sorted by upper bound); summaries fill `quantiles` (lifetime quantiles, not windowable).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LatencyHistogram {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub buckets: Vec<(f64, f64)>,
    pub quantiles: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// A gauge-like fact about the agent, summed over its series.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthFact {
    pub metric: String,
    pub value: f64,
}

/// A cumulative L7 counter for one namespace pair and outcome (HTTP status, DNS rcode).
#[derive(Debug, Clone, PartialEq)]
pub struct L7Count {
    pub source_namespace: Option<String>,
    pub destination_namespace: Option<String>,
    pub outcome: String,
    pub count: f64,
}

/// Hubble's L7 figures of one scrape. `http_latency` has one histogram per namespace pair,
/// labelled only `source_namespace`/`destination_namespace` (methods and reporters summed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct L7Metrics {
    pub http_requests: Vec<L7Count>,
    pub http_latency: Vec<LatencyHistogram>,
    pub dns_responses: Vec<L7Count>,
    /// Any `hubble_http_*` family was served (attributable or not).
    pub http_seen: bool,
    pub dns_seen: bool,
}

/// Everything Palisade reads from one agent scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentMetrics {
    pub drops: Vec<Drop>,
    pub latencies: Vec<LatencyHistogram>,
    pub health: Vec<HealthFact>,
    pub l7: L7Metrics,
}

/// Extracts domain facts; `node` is the node the scrape came from, when known.
pub fn extract(cni: Cni, scrape: &Scrape, node: Option<&str>) -> AgentMetrics {
    match cni {
        Cni::Cilium => cilium::extract(scrape, node),
        Cni::Hubble => hubble::extract(scrape, node),
        Cni::Calico => calico::extract(scrape, node),
        Cni::Antrea => antrea::extract(scrape, node),
    }
}

/// The metrics table of a CNI.
pub fn metrics_table(cni: Cni) -> &'static [MetricSpec] {
    match cni {
        Cni::Cilium => cilium::METRICS,
        Cni::Hubble => hubble::METRICS,
        Cni::Calico => calico::METRICS,
        Cni::Antrea => antrea::METRICS,
    }
}

/// All samples of family `name` (any suffix).
pub(crate) fn family_samples<'a>(scrape: &'a Scrape, name: &str) -> &'a [Sample] {
    scrape
        .family(name)
        .map(|f| f.samples.as_slice())
        .unwrap_or(&[])
}

/// Groups a histogram or summary family into series, scaling values by `scale`
/// (e.g. 0.001 for milliseconds). Series with non-finite or negative counts are skipped.
pub(crate) fn latency(scrape: &Scrape, metric: &str, scale: f64) -> Vec<LatencyHistogram> {
    // Series by their labels borrowed from the samples (sorted by name, as the map's order), so
    // only a new series copies its labels: a histogram has a sample per bucket.
    let mut series: BTreeMap<Vec<(&str, &str)>, LatencyHistogram> = BTreeMap::new();
    let bucket = format!("{metric}_bucket");
    let sum = format!("{metric}_sum");
    let count = format!("{metric}_count");
    for s in family_samples(scrape, metric) {
        let series_labels: Vec<(&str, &str)> = (s.labels.iter())
            .filter(|(k, _)| *k != "le" && *k != "quantile")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let h = series
            .entry(series_labels)
            .or_insert_with_key(|labels| LatencyHistogram {
                metric: metric.to_string(),
                labels: (labels.iter())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            });
        if s.name == bucket {
            if let Some(le) = s.label("le").and_then(super::parse::parse_value) {
                h.buckets.push((le * scale, s.value));
            }
        } else if s.name == sum {
            h.sum = s.value * scale;
        } else if s.name == count {
            h.count = s.value;
        } else if s.name == metric
            && let Some(q) = s.label("quantile").and_then(super::parse::parse_value)
        {
            h.quantiles.push((q, s.value * scale));
        }
    }
    series
        .into_values()
        .filter(|h| !h.buckets.is_empty() || !h.quantiles.is_empty())
        .map(|mut h| {
            h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            h.quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
            h
        })
        .collect()
}

/// Sum of all series of a gauge family, if present.
pub(crate) fn health(scrape: &Scrape, metric: &str) -> Option<HealthFact> {
    let samples = family_samples(scrape, metric);
    let values = samples
        .iter()
        .filter(|s| s.name == metric && s.value.is_finite());
    let mut any = false;
    let value = values.map(|s| {
        any = true;
        s.value
    });
    let total: f64 = value.sum();
    any.then(|| HealthFact {
        metric: metric.to_string(),
        value: total,
    })
}

/// A namespace from a Hubble-style context label: `ns/pod` gives `ns`; a bare DNS-label
/// value is taken as a namespace; IPs and identity strings are not namespaces.
pub(crate) fn namespace_of(value: &str) -> Option<String> {
    let ns = value.split_once('/').map_or(value, |(ns, _)| ns);
    let dns_label = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !ns.starts_with('-')
        && !ns.chars().all(|c| c.is_ascii_digit());
    dns_label.then(|| ns.to_string())
}

pub(crate) fn owned(s: Option<&str>) -> Option<String> {
    s.filter(|v| !v.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_from_context_values() {
        assert_eq!(namespace_of("tenant-a/web-5f7c9"), Some("tenant-a".into()));
        assert_eq!(namespace_of("tenant-b"), Some("tenant-b".into()));
        assert_eq!(namespace_of("10.0.3.7"), None);
        assert_eq!(namespace_of(""), None);
        assert_eq!(namespace_of("12345"), None);
    }

    #[test]
    fn latency_skips_bad_bounds_and_splits_series() {
        let text = "# TYPE d histogram\nd_bucket{op=\"a\",le=\"oops\"} 1\nd_bucket{op=\"a\",le=\"+Inf\"} 2\nd_bucket{op=\"b\",le=\"+Inf\"} 5\nd_count{op=\"c\"} 3\n";
        let h = latency(&crate::metrics::parse::parse(text).unwrap(), "d", 1.0);
        assert_eq!(h.len(), 2, "series c has no buckets and is dropped");
        assert_eq!(h[0].buckets, vec![(f64::INFINITY, 2.0)]);
        assert_eq!(h[1].labels.get("op").map(String::as_str), Some("b"));
    }

    #[test]
    fn every_table_is_non_empty_and_names_unique() {
        for cni in [Cni::Cilium, Cni::Hubble, Cni::Calico, Cni::Antrea] {
            let t = metrics_table(cni);
            assert!(!t.is_empty());
            let mut names: Vec<_> = t.iter().map(|m| m.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), t.len());
        }
    }
}
