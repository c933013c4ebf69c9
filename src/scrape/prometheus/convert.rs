//! Prometheus HTTP API answers → a [`Reading`] (pure).
//!
//! Drop rates, summary quantiles, policy counts and Hubble's L7 figures go through the same CNI adapters as direct
//! scraping: the instant vector of a query becomes a synthetic [`Scrape`] per node whose samples
//! carry the metric's name and labels, with the per-second rate as the value. So a
//! `DropRate` from Prometheus has exactly the identity fields direct scraping would give it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use super::queries::{Query, Role};
use crate::metrics::adapters::hubble_l7;
use crate::metrics::l7::L7Builder;
use crate::metrics::parse::parse_value;
use crate::metrics::{
    AgentId, AgentStatus, Cni, DropRate, Family, L7Reading, LatencyFigure, Quantiles, Reading,
    Sample, Scrape, extract, quantiles,
};

/// Time the drop rates are averaged over (`rate(...[1m])`).
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Window of the latency quantiles (`[5m]`).
pub const LATENCY_WINDOW: Duration = Duration::from_secs(300);

/// One element of an instant vector (or a scalar, with no labels).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Reads a `/api/v1/query` answer: `{"status":"success","data":{"resultType":"vector",
/// "result":[{"metric":{..},"value":[ts,"1.5"]}]}}`, or `{"status":"error","errorType":..,
/// "error":..}`. Values are strings and may be `NaN` or `±Inf`.
pub fn parse_response(body: &str) -> Result<Vec<VectorSample>, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        status: String,
        data: Option<Data>,
        #[serde(rename = "errorType")]
        error_type: Option<String>,
        error: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        #[serde(rename = "resultType")]
        result_type: String,
        result: serde_json::Value,
    }
    #[derive(serde::Deserialize)]
    struct Element {
        #[serde(default)]
        metric: BTreeMap<String, String>,
        value: (f64, String),
    }
    let answer: Answer = serde_json::from_str(body)
        .map_err(|e| format!("the answer is not a Prometheus API response ({e})"))?;
    if answer.status != "success" {
        return Err(match (answer.error_type, answer.error) {
            (Some(t), Some(e)) => format!("Prometheus error ({t}): {e}"),
            (None, Some(e)) => format!("Prometheus error: {e}"),
            _ => format!("Prometheus answered status `{}`", answer.status),
        });
    }
    let data = answer.data.ok_or("Prometheus answered no data")?;
    let value = |text: &str| {
        parse_value(text).ok_or_else(|| format!("Prometheus answered a bad value `{text}`"))
    };
    match data.result_type.as_str() {
        "vector" => {
            let elements: Vec<Element> = serde_json::from_value(data.result)
                .map_err(|e| format!("unexpected vector in the answer ({e})"))?;
            elements
                .into_iter()
                .map(|e| {
                    Ok(VectorSample {
                        labels: e.metric,
                        value: value(&e.value.1)?,
                    })
                })
                .collect()
        }
        "scalar" => {
            let (_, v): (f64, String) = serde_json::from_value(data.result)
                .map_err(|e| format!("unexpected scalar in the answer ({e})"))?;
            Ok(vec![VectorSample {
                labels: BTreeMap::new(),
                value: value(&v)?,
            }])
        }
        other => Err(format!("expected an instant vector, got a {other}")),
    }
}

/// The node a series comes from: its `node` label, else its `instance`.
fn node_of(labels: &BTreeMap<String, String>) -> Option<String> {
    ["node", "instance"]
        .iter()
        .filter_map(|k| labels.get(*k))
        .find(|v| !v.is_empty())
        .cloned()
}

/// Per-node synthetic scrapes of one metric family.
#[derive(Default)]
struct Synthetic {
    per_node: BTreeMap<Option<String>, Scrape>,
}

impl Synthetic {
    fn add(&mut self, family: &str, name: &str, sample: &VectorSample) {
        if sample.value.is_nan() {
            return; // NaN is "no figure", never a number to show
        }
        let mut labels = sample.labels.clone();
        let node = node_of(&labels);
        for k in ["node", "instance", "job", "__name__"] {
            labels.remove(k);
        }
        self.per_node
            .entry(node)
            .or_default()
            .families
            .entry(family.to_string())
            .or_insert_with(|| Family {
                name: family.to_string(),
                ..Family::default()
            })
            .samples
            .push(Sample {
                name: name.to_string(),
                labels,
                value: sample.value,
            });
    }
}

/// Quantiles and observations of one histogram metric, gathered over its queries.
#[derive(Default)]
struct HistogramFigure {
    quantiles: Vec<(f64, Option<f64>)>,
    observations: Option<f64>,
}

/// Builds the round's reading from each query's answer (`Err` for a failed query).
pub fn build_reading(
    at: SystemTime,
    answers: &[(Query, Result<Vec<VectorSample>, String>)],
) -> Reading {
    let mut reading = Reading {
        at,
        interval: RATE_WINDOW,
        latency_window: LATENCY_WINDOW,
        agents: Vec::new(),
        drops: Vec::new(),
        latency: Vec::new(),
        errors: Vec::new(),
        l7: Default::default(),
    };
    let mut failures: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut drops: BTreeMap<Cni, Synthetic> = BTreeMap::new();
    let mut summaries = Synthetic::default();
    let mut health: BTreeMap<Cni, Synthetic> = BTreeMap::new();
    let mut histograms: BTreeMap<&str, HistogramFigure> = BTreeMap::new();
    let mut ups: Vec<(Cni, &VectorSample)> = Vec::new();
    let mut durations: HashMap<(Cni, Option<&String>, Option<&String>), f64> = HashMap::new();
    let mut l7 = Synthetic::default();

    for (query, answer) in answers {
        let samples = match answer {
            Ok(samples) => samples,
            Err(message) => {
                failures
                    .entry(message.clone())
                    .or_default()
                    .push(&query.promql);
                continue;
            }
        };
        let cni = query.spec.cni;
        match query.spec.role {
            Role::Drops { metric } => {
                let synthetic = drops.entry(cni).or_default();
                samples
                    .iter()
                    .for_each(|s| synthetic.add(metric, metric, s));
            }
            Role::Quantile { metric, q, scale } => {
                let value = samples
                    .first()
                    .map(|s| s.value * scale)
                    .filter(|v| v.is_finite());
                histograms
                    .entry(metric)
                    .or_default()
                    .quantiles
                    .push((q, value));
            }
            Role::Observations { metric } => {
                let value = samples.first().map(|s| s.value).filter(|v| v.is_finite());
                histograms.entry(metric).or_default().observations = value;
            }
            Role::SummaryQuantiles { metric } => {
                samples
                    .iter()
                    .for_each(|s| summaries.add(metric, metric, s));
            }
            Role::SummaryCount { metric } => {
                let name = format!("{metric}_count");
                samples.iter().for_each(|s| summaries.add(metric, &name, s));
            }
            Role::Health { metric } => {
                let synthetic = health.entry(cni).or_default();
                samples
                    .iter()
                    .for_each(|s| synthetic.add(metric, metric, s));
            }
            Role::L7 { family, sample } => {
                samples.iter().for_each(|s| l7.add(family, sample, s));
            }
            Role::Up => ups.extend(samples.iter().map(|s| (cni, s))),
            Role::ScrapeDuration => {
                for s in samples.iter().filter(|s| s.value.is_finite()) {
                    durations.insert(
                        (cni, s.labels.get("job"), s.labels.get("instance")),
                        s.value,
                    );
                }
            }
        }
    }

    for (cni, synthetic) in &drops {
        for (node, scrape) in &synthetic.per_node {
            let metrics = extract(*cni, scrape, node.as_deref());
            // Series that differ only by labels the adapter does not read (`protocol`, or the
            // `instance` of an agent replaced within the window) are one figure, summed, as
            // `drop_rates` sums them when scraping.
            let mut index: HashMap<_, usize> = HashMap::new();
            for d in metrics.drops {
                let identity = (
                    d.metric,
                    d.reason.clone(),
                    d.direction.clone(),
                    d.source_namespace.clone(),
                    d.destination_namespace.clone(),
                    d.policy.clone(),
                );
                match index.get(&identity) {
                    Some(&i) => reading.drops[i].per_second += d.count,
                    None => {
                        index.insert(identity, reading.drops.len());
                        reading.drops.push(DropRate {
                            metric: d.metric,
                            node: d.node,
                            reason: d.reason,
                            direction: d.direction,
                            source_namespace: d.source_namespace,
                            destination_namespace: d.destination_namespace,
                            policy: d.policy,
                            per_second: d.count,
                        });
                    }
                }
            }
        }
    }

    for (metric, figure) in histograms {
        // No observation count at all: the metric is not there (as when scraping directly).
        let Some(observations) = figure.observations else {
            continue;
        };
        let q = |wanted: f64| {
            figure
                .quantiles
                .iter()
                .find(|(q, _)| *q == wanted)
                .and_then(|(_, v)| *v)
        };
        let quantiles = match (q(0.5), q(0.95), q(0.99)) {
            (Some(p50), Some(p95), Some(p99)) if observations > 0.0 => {
                Some(Quantiles { p50, p95, p99 })
            }
            _ => None,
        };
        reading.latency.push(LatencyFigure {
            metric: metric.to_string(),
            node: None,
            quantiles,
            observations,
            from_summary: false,
        });
    }
    for (node, scrape) in &summaries.per_node {
        for h in extract(Cni::Calico, scrape, node.as_deref()).latencies {
            reading.latency.push(LatencyFigure {
                node: node.clone(),
                quantiles: quantiles(&h),
                observations: h.count,
                from_summary: true,
                metric: h.metric,
            });
        }
    }
    reading
        .latency
        .sort_by(|a, b| (&a.metric, &a.node).cmp(&(&b.metric, &b.node)));

    for (cni, up) in ups {
        let node = node_of(&up.labels);
        let job = up.labels.get("job");
        let instance = up.labels.get("instance");
        let target = match (job, instance) {
            (Some(job), Some(instance)) => format!("{job}/{instance}"),
            (_, Some(one)) | (Some(one), None) => one.clone(),
            (None, None) => "unknown target".to_string(),
        };
        let healthy = up.value == 1.0;
        let facts = health
            .get(&cni)
            .and_then(|h| h.per_node.get(&node))
            .map(|scrape| extract(cni, scrape, node.as_deref()).health)
            .unwrap_or_default();
        reading.agents.push(AgentStatus {
            agent: AgentId { cni, target, node },
            scraped_at: at,
            duration: durations
                .get(&(cni, job, instance))
                .and_then(|s| Duration::try_from_secs_f64(*s).ok())
                .unwrap_or_default(),
            error: (!healthy).then(|| {
                "Prometheus reports this target down (up = 0): its last scrape failed".to_string()
            }),
            line_errors: 0,
            last_ok: healthy.then_some(at),
            health: facts,
        });
    }
    reading.agents.sort_by(|a, b| a.agent.cmp(&b.agent));
    reading.l7 = l7_reading(&l7);

    let total = answers.len();
    for (message, queries) in failures {
        let which = if queries.len() == total && total > 1 {
            format!("all {total} queries")
        } else if queries.len() > 2 {
            format!("{} queries", queries.len())
        } else {
            queries
                .iter()
                .map(|q| format!("`{q}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        reading
            .errors
            .push(format!("prometheus: {message} ({which})"));
    }
    reading
}

/// Hubble's L7 answers through Hubble's L7 adapter: the counters' values are already
/// per-second rates, the histogram's the observations within the latency window.
fn l7_reading(synthetic: &Synthetic) -> L7Reading {
    let mut builder = L7Builder::default();
    let rates = |counts: &[crate::metrics::adapters::L7Count]| -> Vec<_> {
        (counts.iter())
            .filter_map(|c| {
                let src = c.source_namespace.clone()?;
                Some((
                    src,
                    c.destination_namespace.clone(),
                    c.outcome.clone(),
                    c.count,
                ))
            })
            .collect()
    };
    for scrape in synthetic.per_node.values() {
        let metrics = hubble_l7::extract(scrape);
        builder.add_http_rates(&rates(&metrics.http_requests));
        builder.add_dns_rates(&rates(&metrics.dns_responses));
        for histogram in &metrics.http_latency {
            builder.add_latency(histogram);
        }
        builder.http_seen |= metrics.http_seen;
        builder.dns_seen |= metrics.dns_seen;
    }
    builder.finish()
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
