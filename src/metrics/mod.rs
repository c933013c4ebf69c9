//! Agent metrics, pure core: Prometheus text → owned samples → Palisade domain facts
//! (drops, latency histograms, agent health) → rates and quantiles.
//!
//! No IO lives here: scraping (pod proxy), a Prometheus HTTP source and the console views
//! are not built yet. See `docs/metrics.md`.

pub mod adapters;
pub mod dedupe;
pub mod l7;
pub mod math;
pub mod parse;
pub mod reading;

pub use adapters::{AgentMetrics, Cni, Drop, HealthFact, LatencyHistogram, MetricSpec, extract};
pub use l7::{DnsFigure, L7Reading, PairTraffic};
pub use math::{
    DropRate, Quantiles, counter_rate, drop_rates, histogram_delta, histogram_quantile, quantiles,
};
pub use parse::{Family, Limits, LineError, MetricType, ParseError, Sample, Scrape, parse};
pub use reading::{AgentId, AgentScrape, AgentStatus, Deltas, Extracted, LatencyFigure, Reading};
