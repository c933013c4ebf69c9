//! The Prometheus source (`--prometheus URL`): every interval, the queries of [`queries::table`]
//! against `/api/v1/query`, turned into the same [`Reading`](crate::metrics::Reading) as direct
//! scraping. Prometheus being unreachable, HTTP errors and `status: error` answers become the
//! reading's `errors`; NaN and empty answers become absent figures.

pub mod convert;
pub mod queries;

use std::time::{Instant, SystemTime};

use futures::StreamExt;
use tokio::sync::mpsc;

use super::MetricsEvent;
use super::fetch::{Fetcher, timeout_message};
use super::scraper::ScrapeOptions;
use crate::metrics::Reading;
pub use convert::{VectorSample, build_reading, parse_response};
pub use queries::{Query, QuerySpec, Role, queries, table};

/// Queries sent at the same time.
const CONCURRENCY: usize = 8;

/// A Prometheus server's query API.
#[derive(Clone)]
pub struct Prometheus {
    /// Base URL without a trailing `/`, e.g. `http://prometheus:9090` or `https://host/prom`.
    base: String,
    fetcher: Fetcher,
}

impl Prometheus {
    pub fn new(base: &str, fetcher: Fetcher) -> Prometheus {
        Prometheus {
            base: base.trim_end_matches('/').to_string(),
            fetcher,
        }
    }

    /// The instant vector of one query, or why there is none.
    pub async fn query(&self, promql: &str) -> Result<Vec<VectorSample>, String> {
        let url = format!("{}/api/v1/query?query={}", self.base, encode(promql));
        let attempt = self.fetcher.get_url(&url, "application/json");
        let body = match tokio::time::timeout(self.fetcher.timeout, attempt).await {
            Ok(Ok(body)) => body,
            // HTTP errors carry Prometheus' own `error` text (see `fetch::http_error`).
            Ok(Err(message)) => return Err(message),
            Err(_) => return Err(timeout_message(self.fetcher.timeout)),
        };
        parse_response(&String::from_utf8_lossy(&body))
    }

    /// One round: every query, at most [`CONCURRENCY`] at a time.
    pub async fn round(&self, queries: &[Query]) -> Reading {
        let answers: Vec<_> = futures::stream::iter(queries.to_vec())
            .map(|q| {
                let source = self.clone();
                async move {
                    let answer = source.query(&q.promql).await;
                    (q, answer)
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut reading = build_reading(SystemTime::now(), &answers);
        let shown = super::redact_url(&self.base);
        for error in &mut reading.errors {
            *error = error.replacen("prometheus:", &format!("prometheus at {shown}:"), 1);
        }
        reading
    }
}

/// The long-running task: a round every interval (never two at once) until the console is gone.
pub async fn run(
    prometheus: Prometheus,
    queries: Vec<Query>,
    options: ScrapeOptions,
    tx: mpsc::UnboundedSender<MetricsEvent>,
) {
    loop {
        let started = Instant::now();
        let reading = prometheus.round(&queries).await;
        if tx.send(MetricsEvent::Reading(Box::new(reading))).is_err() {
            return;
        }
        tokio::time::sleep_until((started + options.interval).into()).await;
    }
}

/// Percent-encodes a query parameter value (everything but RFC 3986's unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
