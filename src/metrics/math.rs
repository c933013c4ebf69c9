//! Rates and quantiles from two scrapes.
//!
//! Counter reset rule: a value lower than the previous one means the agent restarted, so the
//! increase is the new value counted from zero (as Prometheus' `rate` does).
//!
//! Quantile rule (as Prometheus' `histogram_quantile`): buckets are cumulative and sorted by
//! upper bound; the highest must be `+Inf`. The rank `q * total` is located in the first bucket
//! whose cumulative count reaches it, and the value is interpolated linearly between that
//! bucket's lower and upper bound. The lowest bucket's lower bound is 0 when its upper bound
//! is positive. A rank that falls in the `+Inf` bucket returns the highest finite bound.
//! Empty histograms, a missing `+Inf` bucket, fewer than two buckets, or `q` outside `[0, 1]`
//! give `None` instead of Prometheus' NaN/±Inf, so callers cannot show a made-up number.

use std::collections::BTreeMap;

use super::adapters::{Drop, LatencyHistogram};

/// Per-second increase of a counter between two scrapes `dt_secs` apart, with reset handling.
/// `None` for a non-positive interval or non-finite values.
pub fn counter_rate(prev: f64, curr: f64, dt_secs: f64) -> Option<f64> {
    if !(dt_secs > 0.0 && dt_secs.is_finite() && prev.is_finite() && curr.is_finite()) {
        return None;
    }
    Some(counter_increase(prev, curr) / dt_secs)
}

/// Increase between two counter values; a drop means a reset, so the new value counts from zero.
pub fn counter_increase(prev: f64, curr: f64) -> f64 {
    if curr < prev {
        curr.max(0.0)
    } else {
        curr - prev
    }
}

/// Denied-flow rate of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct DropRate {
    pub metric: &'static str,
    pub node: Option<String>,
    pub reason: String,
    pub direction: Option<String>,
    pub source_namespace: Option<String>,
    pub destination_namespace: Option<String>,
    pub policy: Option<String>,
    pub per_second: f64,
}

type DropKey = (
    &'static str,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn drop_key(d: &Drop) -> DropKey {
    (
        d.metric,
        d.node.clone(),
        d.reason.clone(),
        d.direction.clone(),
        d.source_namespace.clone(),
        d.destination_namespace.clone(),
        d.policy.clone(),
    )
}

/// Per-series drop rates. Series only in `curr` are skipped: their start is unknown, so any
/// rate would be a guess. Series whose identity repeats (e.g. Calico per-source-IP rows with
/// the same policy) are summed first.
pub fn drop_rates(prev: &[Drop], curr: &[Drop], dt_secs: f64) -> Vec<DropRate> {
    let sum = |drops: &[Drop]| {
        let mut m: BTreeMap<DropKey, f64> = BTreeMap::new();
        for d in drops {
            *m.entry(drop_key(d)).or_default() += d.count;
        }
        m
    };
    let before = sum(prev);
    sum(curr)
        .into_iter()
        .filter_map(|(key, now)| {
            let rate = counter_rate(*before.get(&key)?, now, dt_secs)?;
            let (metric, node, reason, direction, source_namespace, destination_namespace, policy) =
                key;
            Some(DropRate {
                metric,
                node,
                reason,
                direction,
                source_namespace,
                destination_namespace,
                policy,
                per_second: rate,
            })
        })
        .collect()
}

/// Quantile `q` of cumulative `(upper bound, count)` buckets; see the module docs for the rule.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || buckets.len() < 2 {
        return None;
    }
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, c)| !le.is_nan() && c.is_finite())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.len() < 2 || b.last().map(|x| x.0) != Some(f64::INFINITY) {
        return None;
    }
    // Scrapes are not atomic, so counts can dip; force them monotonic like Prometheus does.
    let mut running = 0.0_f64;
    for x in &mut b {
        running = running.max(x.1);
        x.1 = running;
    }
    let total = b[b.len() - 1].1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let i = b.iter().position(|x| x.1 >= rank).unwrap_or(b.len() - 1);
    if i == b.len() - 1 {
        return Some(b[b.len() - 2].0);
    }
    let (upper, count) = b[i];
    let (lower, below) = if i == 0 {
        if upper <= 0.0 {
            return Some(upper);
        }
        (0.0, 0.0)
    } else {
        b[i - 1]
    };
    let in_bucket = count - below;
    if in_bucket <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / in_bucket)
}

/// p50/p95/p99 of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Quantiles of a histogram (from buckets) or of a summary (its exported quantiles, only when
/// it exports 0.5, 0.95 or 0.9, and 0.99 — a summary cannot be re-quantiled).
pub fn quantiles(h: &LatencyHistogram) -> Option<Quantiles> {
    if !h.buckets.is_empty() {
        return Some(Quantiles {
            p50: histogram_quantile(0.5, &h.buckets)?,
            p95: histogram_quantile(0.95, &h.buckets)?,
            p99: histogram_quantile(0.99, &h.buckets)?,
        });
    }
    let at = |q: f64| {
        h.quantiles
            .iter()
            .find(|(k, _)| (k - q).abs() < 1e-9)
            .map(|(_, v)| *v)
            .filter(|v| v.is_finite())
    };
    // Calico exports 0.9 rather than 0.95; report it in the p95 slot rather than invent one.
    Some(Quantiles {
        p50: at(0.5)?,
        p95: at(0.95).or_else(|| at(0.9))?,
        p99: at(0.99)?,
    })
}

/// `curr - prev` for one histogram series, i.e. the observations made during the window.
/// A reset (any bucket, the count or the sum going down) or a changed bucket layout returns
/// `curr` unchanged: everything since the restart is in the window. Summaries return `curr`,
/// since their quantiles cannot be subtracted.
pub fn histogram_delta(prev: &LatencyHistogram, curr: &LatencyHistogram) -> LatencyHistogram {
    let same_layout = prev.buckets.len() == curr.buckets.len()
        && prev
            .buckets
            .iter()
            .zip(&curr.buckets)
            .all(|(p, c)| p.0 == c.0);
    let reset = curr.count < prev.count
        || curr.sum < prev.sum
        || prev
            .buckets
            .iter()
            .zip(&curr.buckets)
            .any(|(p, c)| c.1 < p.1);
    if curr.buckets.is_empty() || !same_layout || reset {
        return curr.clone();
    }
    LatencyHistogram {
        metric: curr.metric.clone(),
        labels: curr.labels.clone(),
        buckets: prev
            .buckets
            .iter()
            .zip(&curr.buckets)
            .map(|(p, c)| (c.0, c.1 - p.1))
            .collect(),
        quantiles: Vec::new(),
        sum: curr.sum - prev.sum,
        count: curr.count - prev.count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INF: f64 = f64::INFINITY;

    fn hist(buckets: &[(f64, f64)], sum: f64) -> LatencyHistogram {
        LatencyHistogram {
            metric: "m".into(),
            buckets: buckets.to_vec(),
            sum,
            count: buckets.last().map_or(0.0, |b| b.1),
            ..Default::default()
        }
    }

    #[test]
    fn rate_and_reset() {
        assert_eq!(counter_rate(10.0, 40.0, 15.0), Some(2.0));
        assert_eq!(counter_rate(100.0, 30.0, 15.0), Some(2.0));
        assert_eq!(counter_rate(1.0, 2.0, 0.0), None);
        assert_eq!(counter_rate(f64::NAN, 2.0, 1.0), None);
    }

    #[test]
    fn quantile_interpolates() {
        let b = [(0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (INF, 40.0)];
        assert_eq!(histogram_quantile(0.25, &b), Some(0.1));
        assert!((histogram_quantile(0.5, &b).unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(histogram_quantile(0.0, &b), Some(0.0));
        assert_eq!(histogram_quantile(1.0, &b), Some(1.0));
    }

    #[test]
    fn quantile_edge_cases() {
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 0.0), (INF, 0.0)]),
            None,
            "empty"
        );
        assert_eq!(
            histogram_quantile(0.5, &[(0.1, 1.0), (1.0, 2.0)]),
            None,
            "no +Inf"
        );
        assert_eq!(histogram_quantile(0.5, &[(INF, 2.0)]), None, "one bucket");
        assert_eq!(histogram_quantile(1.5, &[(0.1, 1.0), (INF, 2.0)]), None);
        // Rank lands in +Inf: highest finite bound.
        assert_eq!(
            histogram_quantile(0.99, &[(0.1, 1.0), (INF, 10.0)]),
            Some(0.1)
        );
        // Non-monotonic counts are repaired, not trusted.
        assert!(histogram_quantile(0.5, &[(0.1, 5.0), (0.2, 3.0), (INF, 6.0)]).is_some());
    }

    #[test]
    fn delta_and_reset() {
        let a = hist(&[(0.1, 2.0), (INF, 4.0)], 1.0);
        let b = hist(&[(0.1, 5.0), (INF, 10.0)], 3.0);
        let d = histogram_delta(&a, &b);
        assert_eq!(d.buckets, vec![(0.1, 3.0), (INF, 6.0)]);
        assert_eq!((d.sum, d.count), (2.0, 6.0));
        let restarted = hist(&[(0.1, 1.0), (INF, 1.0)], 0.05);
        assert_eq!(histogram_delta(&b, &restarted), restarted);
    }

    #[test]
    fn summary_quantiles() {
        let h = LatencyHistogram {
            quantiles: vec![(0.5, 0.004), (0.9, 0.011), (0.99, 0.093)],
            ..Default::default()
        };
        assert_eq!(
            quantiles(&h),
            Some(Quantiles {
                p50: 0.004,
                p95: 0.011,
                p99: 0.093
            })
        );
        assert_eq!(quantiles(&LatencyHistogram::default()), None);
    }

    #[test]
    fn drop_rates_per_series() {
        let d = |reason: &str, count: f64| Drop {
            metric: "m",
            node: Some("n1".into()),
            reason: reason.into(),
            direction: None,
            source_namespace: None,
            destination_namespace: None,
            policy: None,
            count,
        };
        let rates = drop_rates(
            &[d("a", 10.0), d("b", 50.0)],
            &[d("a", 20.0), d("b", 5.0), d("c", 9.0)],
            10.0,
        );
        assert_eq!(rates.len(), 2, "new series c is skipped");
        assert_eq!(rates[0].per_second, 1.0);
        assert_eq!(rates[1].per_second, 0.5, "reset counts from zero");
    }

    fn arb_buckets() -> impl Strategy<Value = Vec<(f64, f64)>> {
        prop::collection::vec((0.001f64..100.0, 0.0f64..1000.0), 1..8).prop_map(|raw| {
            let mut le = 0.0;
            let mut count = 0.0;
            let mut out: Vec<(f64, f64)> = raw
                .into_iter()
                .map(|(w, c)| {
                    le += w;
                    count += c;
                    (le, count)
                })
                .collect();
            out.push((INF, count + 1.0));
            out
        })
    }

    proptest! {
        #[test]
        fn quantile_monotonic_in_q(b in arb_buckets(), q1 in 0.0f64..=1.0, q2 in 0.0f64..=1.0) {
            let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
            let a = histogram_quantile(lo, &b).unwrap();
            let c = histogram_quantile(hi, &b).unwrap();
            prop_assert!(a <= c + 1e-9, "q {lo} -> {a}, q {hi} -> {c}");
        }

        #[test]
        fn reset_rule(prev in 0.0f64..1e9, curr in 0.0f64..1e9, dt in 0.1f64..600.0) {
            let r = counter_rate(prev, curr, dt).unwrap();
            prop_assert!(r >= 0.0);
            let expected = if curr < prev { curr / dt } else { (curr - prev) / dt };
            prop_assert!((r - expected).abs() <= 1e-9 * expected.max(1.0));
        }

        #[test]
        fn delta_never_negative(b in arb_buckets(), extra in prop::collection::vec(0.0f64..50.0, 8), reset in any::<bool>()) {
            let prev = hist(&b, 10.0);
            let mut add = 0.0;
            let mut next: Vec<(f64, f64)> = b.iter().zip(&extra).map(|((le, c), e)| {
                add += e;
                (*le, if reset { c / 2.0 } else { c + add })
            }).collect();
            next.extend(b.iter().skip(extra.len()).copied());
            let curr = hist(&next, if reset { 1.0 } else { 10.0 + add });
            let d = histogram_delta(&prev, &curr);
            prop_assert!(d.buckets.iter().all(|x| x.1 >= 0.0));
            prop_assert!(d.count >= 0.0);
        }
    }
}
