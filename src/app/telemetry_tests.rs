use super::*;
use crate::metrics::DropRate;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn drop(src: Option<&str>, dst: Option<&str>, per_second: f64) -> DropRate {
    DropRate {
        metric: "hubble_drop_total",
        node: Some("n1".into()),
        reason: "POLICY_DENIED".into(),
        direction: None,
        source_namespace: src.map(str::to_string),
        destination_namespace: dst.map(str::to_string),
        policy: None,
        per_second,
    }
}

fn reading(secs: u64, drops: Vec<DropRate>) -> Reading {
    Reading {
        at: at(secs),
        interval: Duration::from_secs(5),
        latency_window: Duration::from_secs(300),
        agents: Vec::new(),
        drops,
        latency: Vec::new(),
        errors: Vec::new(),
        l7: Default::default(),
    }
}

/// Namespaces are named `TENANT-something`.
fn tenant_of(ns: &str) -> String {
    ns.split('-').next().unwrap_or(ns).to_string()
}

#[test]
fn violations_are_attributed_and_counted_over_the_interval() {
    let mut t = Telemetry::default();
    t.apply(
        reading(10, vec![drop(Some("acme-web"), Some("globex-db"), 2.0)]),
        &tenant_of,
    );
    let v = &t.feed[0];
    assert_eq!(v.tenant_pair(), ("acme".into(), "globex".into()));
    assert_eq!(v.count, 10.0);
    assert_eq!(t.pair_rate("acme", "globex"), 2.0);
    assert_eq!(t.group_rates("globex"), (2.0, 0.0));
    assert_eq!(t.group_rates("acme"), (0.0, 2.0));
}

#[test]
fn unlabelled_drops_are_unattributed_not_guessed() {
    let mut t = Telemetry::default();
    t.apply(reading(10, vec![drop(None, None, 1.0)]), &tenant_of);
    assert_eq!(
        t.feed[0].tenant_pair(),
        (UNATTRIBUTED.into(), UNATTRIBUTED.into())
    );
}

#[test]
fn zero_and_nan_rates_are_not_violations() {
    let mut t = Telemetry::default();
    t.apply(
        reading(
            10,
            vec![
                drop(Some("a-x"), Some("b-y"), 0.0),
                drop(Some("a-x"), Some("b-y"), f64::NAN),
            ],
        ),
        &tenant_of,
    );
    assert!(t.feed.is_empty());
    assert!(t.pair_history.is_empty());
}

#[test]
fn feed_is_newest_first_and_bounded() {
    let mut t = Telemetry::default();
    for i in 0..(FEED_LIMIT as u64 + 10) {
        t.apply(
            reading(i, vec![drop(Some("a-x"), Some("b-y"), 1.0)]),
            &tenant_of,
        );
    }
    assert_eq!(t.feed.len(), FEED_LIMIT);
    assert_eq!(t.feed[0].at, at(FEED_LIMIT as u64 + 9));
}

#[test]
fn history_keeps_zeros_then_forgets_quiet_pairs() {
    let mut t = Telemetry::default();
    t.apply(
        reading(0, vec![drop(Some("a-x"), Some("b-y"), 3.0)]),
        &tenant_of,
    );
    t.apply(reading(5, vec![]), &tenant_of);
    let points: Vec<f64> = t.pair_history[&("a".into(), "b".into())]
        .iter()
        .copied()
        .collect();
    assert_eq!(points, vec![3.0, 0.0], "a stop shows as a zero");
    assert_eq!(t.pair_rate("a", "b"), 0.0);
    for i in 0..HISTORY_POINTS as u64 {
        t.apply(reading(10 + i, vec![]), &tenant_of);
    }
    assert!(t.pair_history.is_empty());
}

#[test]
fn staleness_is_relative_to_the_latest_reading() {
    let mut t = Telemetry::default();
    assert!(!t.is_stale(None), "nothing read yet is not stale");
    t.apply(reading(100, vec![]), &tenant_of);
    assert!(!t.is_stale(Some(at(95))));
    assert!(t.is_stale(Some(at(80))));
    assert!(t.is_stale(None));
}

#[test]
fn clock_formats_utc() {
    assert_eq!(clock(at(3 * 3600 + 4 * 60 + 5)), "03:04:05");
}
