//! A small writer for the Prometheus text exposition format (version 0.0.4), and the histogram
//! the simulated agents keep.

use std::fmt::Write;

/// The Content-Type agents send with the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Accumulates families of samples into exposition text.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: `# HELP` and `# TYPE` lines. `kind` is counter, gauge or histogram.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape_label(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    /// The `_bucket`, `_sum` and `_count` lines of one histogram series.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, bound) in h.bounds.iter().enumerate() {
            cumulative += h.counts[i];
            let le = format_value(*bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative as f64);
        }
        let mut with_le = labels.to_vec();
        with_le.push(("le", "+Inf"));
        self.sample(&bucket, &with_le, h.count as f64);
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count as f64);
    }

    /// The quantile lines, `_sum` and `_count` of one summary series, as a Go client's summary
    /// with objectives writes them (`NaN` for a quantile of an empty window).
    pub fn summary(&mut self, name: &str, labels: &[(&str, &str)], s: &Summary) {
        for q in SUMMARY_QUANTILES {
            let quantile = format_value(*q);
            let mut with_q = labels.to_vec();
            with_q.push(("quantile", &quantile));
            self.sample(name, &with_q, s.quantile(*q).unwrap_or(f64::NAN));
        }
        self.sample(&format!("{name}_sum"), labels, s.sum);
        self.sample(&format!("{name}_count"), labels, s.count as f64);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Integers without a fraction, `+Inf`/`-Inf`/`NaN` spelled as Prometheus does.
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// A cumulative histogram over fixed upper bounds (seconds), like a Prometheus client keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); those above every bound only count in `count`.
    counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

/// The quantiles a summary reports.
pub const SUMMARY_QUANTILES: &[f64] = &[0.5, 0.9, 0.99];

/// A summary over the last [`Summary::WINDOW`] observations (a Go client's summary keeps a
/// time window; a count window is as good for a simulation and needs no clock).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    recent: std::collections::VecDeque<f64>,
    pub sum: f64,
    pub count: u64,
}

impl Summary {
    pub const WINDOW: usize = 500;

    pub fn observe(&mut self, value: f64) {
        if self.recent.len() == Summary::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(value);
        self.sum += value;
        self.count += 1;
    }

    /// The `q` quantile of the window (nearest rank); `None` when it is empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let mut sorted: Vec<f64> = self.recent.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.saturating_sub(1)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse::parse;

    #[test]
    fn writes_text_the_parser_reads_back() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 3.0] {
            h.observe(v);
        }
        let mut e = Exposition::new();
        e.family("x_total", "counter", "Odd \\ help\nline");
        e.sample("x_total", &[("reason", "a \"b\", c\\d")], 12.0);
        e.sample("x_total", &[], 0.25);
        e.family("d", "histogram", "Delay");
        e.histogram("d", &[("source", "k8s")], &h);
        let text = e.finish();
        let scrape = parse(&text).unwrap();
        assert!(scrape.errors.is_empty(), "{:?}\n{text}", scrape.errors);
        let x = &scrape.family("x_total").unwrap().samples;
        assert_eq!(x[0].label("reason"), Some("a \"b\", c\\d"));
        assert_eq!((x[0].value, x[1].value), (12.0, 0.25));
        assert!(text.contains("d_bucket{source=\"k8s\",le=\"0.1\"} 1\n"));
        assert!(text.contains("d_bucket{source=\"k8s\",le=\"1\"} 2\n"));
        assert!(text.contains("d_bucket{source=\"k8s\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("d_count{source=\"k8s\"} 3\n"));
    }

    #[test]
    fn a_summary_reports_quantiles_of_its_window_and_totals_of_everything() {
        let mut s = Summary::default();
        let mut e = Exposition::new();
        e.summary("apply", &[], &s);
        assert!(e.finish().contains("apply{quantile=\"0.5\"} NaN\n"));
        for i in 1..=(Summary::WINDOW + 100) {
            s.observe(i as f64);
        }
        // The window holds 101..=600.
        assert_eq!(s.quantile(0.5), Some(350.0));
        assert_eq!(s.quantile(0.99), Some(595.0));
        assert_eq!(s.count, 600);
        let mut e = Exposition::new();
        e.family("apply", "summary", "Apply time");
        e.summary("apply", &[], &s);
        let text = e.finish();
        let scrape = parse(&text).unwrap();
        assert!(scrape.errors.is_empty(), "{:?}", scrape.errors);
        assert!(text.contains("apply{quantile=\"0.9\"} 550\n"), "{text}");
        assert!(text.contains("apply_count 600\n"), "{text}");
        assert!(text.contains("apply_sum 180300\n"), "{text}");
    }

    #[test]
    fn values_are_spelled_like_prometheus() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.005), "0.005");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}
