//! Pod changes on a kept engine: pods that only move between existing classes must leave the
//! engine exactly as a fresh build of the same snapshot would be (classes numbered by their
//! first pod, the first pod's addresses on the class), and anything else re-forms the classes.

use super::*;
use crate::model::{ClusterObject, ClusterSnapshot, ObjectRef, PodInfo, fixture};

/// Namespace `a`, a policy letting web reach db, and each pod `(name, app, last octet)`.
fn cluster(pods: &[(&str, &str, u8)]) -> ClusterSnapshot {
    let mut snapshot = ClusterSnapshot::default();
    let mut objects = vec![
        fixture::namespace("a", &[]),
        fixture::policy(
            "metadata: {name: db, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  \
             ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n",
        ),
    ];
    objects.extend(pods.iter().map(|(name, app, octet)| {
        let ClusterObject::Pod(mut pod) = fixture::pod("a", name, &[("app", app)]) else {
            unreachable!("a pod fixture")
        };
        pod.ips = vec![format!("10.0.0.{octet}")];
        ClusterObject::Pod(pod)
    }));
    for object in objects {
        snapshot.upsert(object);
    }
    snapshot
}

fn pod_of(snapshot: &ClusterSnapshot, name: &str) -> PodInfo {
    snapshot.pods[&ObjectRef::new("a", name)].clone()
}

/// Applies the change to an engine built from `before` and checks it against a fresh build of
/// `after`; whether the classes had to be formed again.
fn apply(before: &[(&str, &str, u8)], after: &[(&str, &str, u8)]) -> bool {
    let (old, new) = (cluster(before), cluster(after));
    let mut engine = Engine::new(&old, Settings::default());
    // A read-only copy shares the classes, as the console's last analysis does.
    let copy = engine.read_only_copy();
    let mut changes: Vec<(ObjectRef, Option<PodInfo>)> = Vec::new();
    for id in old.pods.keys().chain(new.pods.keys()) {
        let wanted = new.pods.get(id).cloned();
        if old.pods.get(id) != wanted.as_ref() && !changes.iter().any(|(c, _)| c == id) {
            changes.push((id.clone(), wanted));
        }
    }
    let stats = engine.update_workloads(Vec::new(), changes);
    let fresh = Engine::new(&new, Settings::default());
    assert_eq!(engine.classes(), fresh.classes(), "classes");
    assert_eq!(engine.rows_fingerprint(), fresh.rows_fingerprint(), "rows");
    assert_eq!(
        copy.classes(),
        Engine::new(&old, Settings::default()).classes()
    );
    stats.full_rebuild
}

#[test]
fn a_replica_with_an_existing_pods_labels_joins_its_class() {
    let before = [("p1", "web", 1), ("p2", "db", 2)];
    assert!(!apply(
        &before,
        &[("p1", "web", 1), ("p2", "db", 2), ("p3", "web", 3)]
    ));
    // Replaced under a new name (a StatefulSet pod restarted elsewhere).
    assert!(!apply(&before, &[("p1", "web", 1), ("p3", "db", 9)]));
}

#[test]
fn a_class_whose_first_pod_leaves_takes_the_next_ones_addresses() {
    let before = [("p1", "web", 1), ("p2", "web", 2), ("p3", "db", 3)];
    assert!(!apply(&before, &[("p2", "web", 2), ("p3", "db", 3)]));
    let engine = Engine::new(&cluster(&before), Settings::default());
    let mut kept = engine.clone();
    kept.update_workloads(Vec::new(), vec![(ObjectRef::new("a", "p1"), None)]);
    let web = kept.classes().of_pod[&ObjectRef::new("a", "p2")];
    assert_eq!(
        kept.classes().classes[web].endpoint.ips,
        ["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn a_pod_that_needs_a_new_class_or_empties_one_re_forms_the_classes() {
    let before = [("p1", "web", 1), ("p2", "db", 2)];
    assert!(apply(
        &before,
        &[("p1", "web", 1), ("p2", "db", 2), ("p3", "cache", 3)]
    ));
    assert!(apply(&before, &[("p1", "web", 1)]));
    // p2 relabelled to web: db's class is left empty.
    assert!(apply(&before, &[("p1", "web", 1), ("p2", "web", 2)]));
}

#[test]
fn a_pod_that_would_move_its_class_ahead_of_another_re_forms_the_classes() {
    // web (first p1) is numbered before db (first p2); p0 joining db puts db first.
    let before = [("p1", "web", 1), ("p2", "db", 2)];
    assert!(apply(
        &before,
        &[("p0", "db", 5), ("p1", "web", 1), ("p2", "db", 2)]
    ));
}

#[test]
fn a_changed_pod_is_found_at_its_new_address() {
    let before = [("p1", "web", 1), ("p2", "db", 2)];
    let mut engine = Engine::new(&cluster(&before), Settings::default());
    let _ = engine.read_only_copy();
    let moved = PodInfo {
        ips: vec!["10.0.0.7".into()],
        ..pod_of(&cluster(&before), "p1")
    };
    let stats = engine.update_workloads(Vec::new(), vec![(moved.id.clone(), Some(moved))]);
    assert!(!stats.full_rebuild);
    let copy = engine.read_only_copy();
    assert_eq!(
        copy.kept_pod_at("10.0.0.7".parse().unwrap()),
        Some(&ObjectRef::new("a", "p1"))
    );
}
