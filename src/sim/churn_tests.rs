use super::*;
use crate::sim::store::EventKind;

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn refs(names: &[(&str, &str)]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|(ns, n)| (ns.to_string(), n.to_string()))
        .collect()
}

fn planner(r: u32) -> Planner {
    Planner::new(
        rate(r),
        refs(&[("a", "p1"), ("a", "p2"), ("b", "p3")]),
        refs(&[("a", "allow-web")]),
    )
}

fn events(ops: &[Op]) -> u32 {
    ops.iter().map(Op::events).sum()
}

#[test]
fn spends_the_rate_per_tick_and_carries_the_rest() {
    let mut p = planner(1000);
    let per_tick: Vec<u32> = (0..TICKS_PER_SEC).map(|_| events(&p.tick())).collect();
    // 10 events per tick, give or take the second event of a pod replacement.
    assert!(
        per_tick.iter().all(|n| (9..=11).contains(n)),
        "{per_tick:?}"
    );
    let total: u32 = per_tick.iter().sum();
    assert!((1000..=1001).contains(&total), "one second gives {total}");

    // Below one event per tick: one event every other tick.
    let mut slow = planner(50);
    let ops: Vec<usize> = (0..6).map(|_| slow.tick().len()).collect();
    assert_eq!(
        ops,
        [0, 1, 0, 0, 0, 1],
        "a replacement (2 events) pays for 4 ticks"
    );

    let mut rare = planner(1);
    assert!((0..99).all(|_| rare.tick().is_empty()));
    assert_eq!(rare.tick().len(), 1, "the hundredth tick has its event");
}

#[test]
fn cycles_through_pods_and_policies_in_a_fixed_mix() {
    let mut p = planner(TICKS_PER_SEC * 20);
    let ops = p.tick();
    let expected = [
        Op::ReplacePod {
            namespace: "a".into(),
            from: "p1".into(),
            to: "p1-c1".into(),
        },
        Op::RelabelPod {
            namespace: "a".into(),
            name: "p2".into(),
            value: 2,
        },
        Op::ReplacePod {
            namespace: "b".into(),
            from: "p3".into(),
            to: "p3-c1".into(),
        },
        Op::RelabelPod {
            namespace: "a".into(),
            name: "p1-c1".into(),
            value: 4,
        },
        Op::ReplacePod {
            namespace: "a".into(),
            from: "p2".into(),
            to: "p2-c1".into(),
        },
        Op::RelabelPod {
            namespace: "b".into(),
            name: "p3-c1".into(),
            value: 6,
        },
        Op::ReplacePod {
            namespace: "a".into(),
            from: "p1-c1".into(),
            to: "p1-c2".into(),
        },
        Op::TogglePolicyPort {
            namespace: "a".into(),
            name: "allow-web".into(),
            widen: true,
        },
    ];
    assert_eq!(ops[..8], expected);
    // The next policy update takes the port away again.
    let next_policy = ops[8..]
        .iter()
        .chain(p.tick().iter())
        .find(|op| matches!(op, Op::TogglePolicyPort { .. }))
        .cloned();
    assert_eq!(
        next_policy,
        Some(Op::TogglePolicyPort {
            namespace: "a".into(),
            name: "allow-web".into(),
            widen: false,
        })
    );
}

#[test]
fn falls_back_when_a_kind_is_missing() {
    let mut pods_only = Planner::new(rate(TICKS_PER_SEC * 8), refs(&[("a", "p")]), vec![]);
    let ops = pods_only.tick();
    assert!(!ops.is_empty());
    assert!(
        ops.iter()
            .all(|op| !matches!(op, Op::TogglePolicyPort { .. }))
    );

    let mut policies_only = Planner::new(rate(TICKS_PER_SEC * 4), vec![], refs(&[("a", "np")]));
    let ops = policies_only.tick();
    assert_eq!(ops.len(), 4);
    assert!(
        ops.iter()
            .all(|op| matches!(op, Op::TogglePolicyPort { .. }))
    );

    let mut nothing = Planner::new(rate(MAX_RATE), vec![], vec![]);
    assert!((0..10).all(|_| nothing.tick().is_empty()));
    assert_eq!(
        nothing.credit, 0,
        "no credit piles up with nothing to churn"
    );
}

#[test]
fn rate_is_limited_by_the_event_window() {
    assert_eq!(limit(rate(1000), 10_000).get(), 1000);
    assert_eq!(limit(rate(1000), 200).get(), 200);
    assert_eq!(limit(rate(5), 0).get(), 1);
}

fn seeded_store() -> Store {
    let mut s = Store::new(vec!["n1".into()], 1000);
    let opts = WriteOptions::default();
    s.create(
        Resource::Namespaces,
        "",
        json!({"metadata": {"name": "a"}}),
        &opts,
    )
    .unwrap();
    s.create(
        Resource::Pods,
        "a",
        json!({"metadata": {"name": "web-1", "labels": {"app": "web"}},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        &opts,
    )
    .unwrap();
    for (name, ports) in [
        ("allow-web", json!([{"port": "http"}])),
        ("allow-any", Value::Null),
    ] {
        let mut rule = json!({"from": [{"podSelector": {}}]});
        if !ports.is_null() {
            rule["ports"] = ports;
        }
        s.create(
            Resource::NetworkPolicies,
            "a",
            json!({"metadata": {"name": name},
                   "spec": {"podSelector": {}, "ingress": [rule]}}),
            &opts,
        )
        .unwrap();
    }
    s
}

fn kinds_since(store: &Store, resource: Resource, rv: u64) -> Vec<(EventKind, String)> {
    store
        .watch(resource, Some(rv))
        .unwrap()
        .initial
        .iter()
        .map(|e| (e.kind, str_at(&e.object, "/metadata/name").to_string()))
        .collect()
}

#[test]
fn from_store_takes_every_pod_and_the_policies_with_ports() {
    let store = seeded_store();
    let p = Planner::from_store(&store, rate(100));
    assert_eq!(p.pods.len(), 1);
    assert_eq!(p.policies.len(), 1);
    assert_eq!(p.policies[0].name, "allow-web");
    assert_eq!(p.rate, 100);
}

#[test]
fn operations_go_through_the_store_as_watch_events() {
    let mut store = seeded_store();
    let start = store.resource_version();
    let original = store
        .get(Resource::NetworkPolicies, "a", "allow-web")
        .unwrap();
    // One tick of 12 events: the whole mix once (four replacements, three relabels, one policy).
    let mut p = Planner::from_store(&store, rate(TICKS_PER_SEC * 12));
    let ops = p.tick();
    assert_eq!(ops.len(), 8);
    assert!(ops.iter().all(|op| apply(&mut store, op)), "{ops:?}");
    let pods = kinds_since(&store, Resource::Pods, start);
    assert_eq!(
        pods[..3],
        [
            (EventKind::Added, "web-1-c1".to_string()),
            (EventKind::Deleted, "web-1".to_string()),
            (EventKind::Modified, "web-1-c1".to_string()),
        ]
    );
    let replaced = store.get(Resource::Pods, "a", "web-1-c4").unwrap();
    assert_eq!(replaced["metadata"]["labels"]["app"], "web");
    assert_eq!(replaced["metadata"]["labels"][CHURN_LABEL], "6");
    assert_eq!(
        str_at(&replaced, "/status/podIP"),
        "10.244.0.2",
        "the copy keeps the address"
    );
    assert_eq!(store.count(Resource::Pods), 1);

    let widened = store
        .get(Resource::NetworkPolicies, "a", "allow-web")
        .unwrap();
    assert_eq!(
        widened["spec"]["ingress"][0]["ports"],
        json!([{"port": "http"}, {"protocol": "TCP", "port": EXTRA_PORT}])
    );
    // Run until the policy has been toggled back: the spec is the original again.
    while !p.tick().iter().any(|op| {
        apply(&mut store, op);
        matches!(op, Op::TogglePolicyPort { widen: false, .. })
    }) {}
    let restored = store
        .get(Resource::NetworkPolicies, "a", "allow-web")
        .unwrap();
    assert_eq!(restored["spec"], original["spec"]);
    let policy_events = kinds_since(&store, Resource::NetworkPolicies, start);
    assert!(
        policy_events
            .iter()
            .all(|(kind, name)| *kind == EventKind::Modified && name == "allow-web")
    );
    assert_eq!(policy_events.len(), 2);
}

#[test]
fn operations_on_vanished_objects_are_skipped() {
    let mut store = seeded_store();
    let rv = store.resource_version();
    for op in [
        Op::ReplacePod {
            namespace: "a".into(),
            from: "gone".into(),
            to: "gone-c1".into(),
        },
        Op::RelabelPod {
            namespace: "a".into(),
            name: "gone".into(),
            value: 1,
        },
        Op::TogglePolicyPort {
            namespace: "a".into(),
            name: "allow-any".into(),
            widen: true,
        },
    ] {
        assert!(!apply(&mut store, &op), "{op:?}");
    }
    // A replacement whose new name is taken leaves the old pod in place.
    let clash = Op::ReplacePod {
        namespace: "a".into(),
        from: "web-1".into(),
        to: "web-1".into(),
    };
    assert!(!apply(&mut store, &clash));
    assert_eq!(store.resource_version(), rv, "nothing changed");
}
