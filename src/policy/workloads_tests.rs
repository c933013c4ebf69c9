//! Pod changes on a kept engine: pods that move between existing classes, form classes of their
//! own or leave one empty must leave the engine exactly as a fresh build of the same snapshot
//! would be (classes numbered by their first pod, the first pod's addresses on the class, every
//! row); a change of the kept classes' order re-forms them all.

use std::sync::Arc;

use super::*;
use crate::model::{ClusterObject, ClusterSnapshot, ObjectRef, PodInfo, fixture};

/// Namespace `a`, policies letting web and db reach each other and canaries reach cache, and each
/// pod `(name, app, last octet)`; an app `web+canary` is app `web` with `track: canary`.
fn cluster(pods: &[(&str, &str, u8)]) -> ClusterSnapshot {
    let mut snapshot = ClusterSnapshot::default();
    let mut objects = vec![
        fixture::namespace("a", &[]),
        fixture::policy(
            "metadata: {name: db, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  \
             ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]\n",
        ),
        fixture::policy(
            "metadata: {name: web, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  \
             ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]\n",
        ),
        fixture::policy(
            "metadata: {name: cache, namespace: a}\nspec:\n  \
             podSelector: {matchLabels: {app: cache}}\n  ingress: [{from: [{podSelector: \
             {matchLabels: {track: canary}}}], ports: [{port: 6379}]}]\n",
        ),
    ];
    objects.extend(pods.iter().map(|(name, app, octet)| {
        let labels = match app.split_once('+') {
            Some((app, track)) => vec![("app", app), ("track", track)],
            None => vec![("app", *app)],
        };
        let ClusterObject::Pod(mut pod) = fixture::pod("a", name, &labels) else {
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
/// `after`; how the update went.
fn apply(before: &[(&str, &str, u8)], after: &[(&str, &str, u8)]) -> UpdateStats {
    let (old, new) = (cluster(before), cluster(after));
    let mut engine = Engine::new(&old, Settings::default());
    // A read-only copy shares the classes, as the console's last analysis does.
    let copy = engine.read_only_copy();
    let mut changes: Vec<(ObjectRef, Option<Arc<PodInfo>>)> = Vec::new();
    for id in old.pods.keys().chain(new.pods.keys()) {
        let wanted = new.pods.get_shared(id).cloned();
        if old.pods.get(id) != wanted.as_deref() && !changes.iter().any(|(c, _)| c == id) {
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
    stats
}

/// Pods only moved: no class formed or dropped.
fn moved(stats: UpdateStats) -> bool {
    !stats.full_rebuild && !stats.renumbered
}

/// Classes formed or dropped, without forming them all again.
fn renumbered(stats: UpdateStats) -> bool {
    !stats.full_rebuild && stats.renumbered
}

#[test]
fn a_replica_with_an_existing_pods_labels_joins_its_class() {
    let before = [("p1", "web", 1), ("p2", "db", 2)];
    assert!(moved(apply(
        &before,
        &[("p1", "web", 1), ("p2", "db", 2), ("p3", "web", 3)]
    )));
    // Replaced under a new name (a StatefulSet pod restarted elsewhere).
    assert!(moved(apply(&before, &[("p1", "web", 1), ("p3", "db", 9)])));
}

#[test]
fn a_class_whose_first_pod_leaves_takes_the_next_ones_addresses() {
    let before = [("p1", "web", 1), ("p2", "web", 2), ("p3", "db", 3)];
    assert!(moved(apply(&before, &[("p2", "web", 2), ("p3", "db", 3)])));
    let engine = Engine::new(&cluster(&before), Settings::default());
    let mut kept = engine.clone();
    kept.update_workloads(Vec::new(), vec![(ObjectRef::new("a", "p1"), None)]);
    let web = kept.classes().class_of(&ObjectRef::new("a", "p2")).unwrap();
    assert_eq!(
        kept.classes().classes[web].endpoint.ips,
        ["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn a_pod_that_needs_a_new_class_or_empties_one_renumbers_the_classes() {
    let before = [("p1", "web", 1), ("p2", "db", 2)];
    assert!(renumbered(apply(
        &before,
        &[("p1", "web", 1), ("p2", "db", 2), ("p3", "cache", 3)]
    )));
    assert!(renumbered(apply(&before, &[("p1", "web", 1)])));
    // p2 relabelled to web: db's class is left empty.
    assert!(renumbered(apply(
        &before,
        &[("p1", "web", 1), ("p2", "web", 2)]
    )));
}

#[test]
fn a_new_class_between_others_shifts_them_and_every_row_gains_its_column() {
    // web (p1), cache (p3) and db (p5) are isolated; web and db reach each other. A canary
    // formed at p2 is numbered between web and cache, reaches cache on 6379 (a new exception
    // in cache's row) and nothing else; web's exception at db moves from class 2 to 3.
    let before = [("p1", "web", 1), ("p3", "cache", 3), ("p5", "db", 5)];
    let with_canary = [
        ("p1", "web", 1),
        ("p2", "web+canary", 2),
        ("p3", "cache", 3),
        ("p5", "db", 5),
    ];
    assert!(renumbered(apply(&before, &with_canary)));
    // The canary relabelled back to web joins p1's class: its own class goes.
    let back = [
        ("p1", "web", 1),
        ("p2", "web", 2),
        ("p3", "cache", 3),
        ("p5", "db", 5),
    ];
    assert!(renumbered(apply(&with_canary, &back)));
    // Two canaries at once share one new class; the last cache pod leaving drops its class.
    let two = [
        ("p1", "web", 1),
        ("p2", "web+canary", 2),
        ("p4", "web+canary", 4),
        ("p5", "db", 5),
    ];
    assert!(renumbered(apply(&before, &two)));
}

#[test]
fn a_pod_that_would_move_its_class_ahead_of_another_re_forms_the_classes() {
    // web (first p1) is numbered before db (first p2); p0 joining db puts db first.
    let before = [("p1", "web", 1), ("p2", "db", 2)];
    assert!(
        apply(
            &before,
            &[("p0", "db", 5), ("p1", "web", 1), ("p2", "db", 2)]
        )
        .full_rebuild
    );
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
    let stats =
        engine.update_workloads(Vec::new(), vec![(moved.id.clone(), Some(Arc::new(moved)))]);
    assert!(!stats.full_rebuild);
    let copy = engine.read_only_copy();
    assert_eq!(
        copy.kept_pod_at("10.0.0.7".parse().unwrap()),
        Some(&ObjectRef::new("a", "p1"))
    );
}

#[test]
fn classes_share_their_namespace_and_pod_label_maps() {
    // A label map per class would hold the cluster's labels a second time: classes point at
    // the pods' own maps, and the classes of one namespace at one map of its labels.
    let before = cluster(&[("p1", "web", 1), ("p3", "db", 3)]);
    let mut engine = Engine::new(&before, Settings::default());
    let endpoint = |engine: &Engine, class: usize| engine.classes().classes[class].endpoint.clone();
    let p1 = ObjectRef::new("a", "p1");
    assert!(Arc::ptr_eq(
        &endpoint(&engine, 0).labels,
        &before.pods[&p1].labels
    ));
    assert!(Arc::ptr_eq(
        &endpoint(&engine, 0).ns_labels,
        &endpoint(&engine, 1).ns_labels
    ));
    // A class formed by a change (a canary between web and db) shares them too.
    let after = cluster(&[("p1", "web", 1), ("p2", "web+canary", 2), ("p3", "db", 3)]);
    let p2 = ObjectRef::new("a", "p2");
    let stats = engine.update_workloads(
        Vec::new(),
        vec![(p2.clone(), after.pods.get_shared(&p2).cloned())],
    );
    assert!(renumbered(stats));
    assert_eq!(engine.classes().classes.len(), 3);
    assert!(Arc::ptr_eq(
        &endpoint(&engine, 1).labels,
        &after.pods[&p2].labels
    ));
    for class in [1, 2] {
        assert!(Arc::ptr_eq(
            &endpoint(&engine, 0).ns_labels,
            &endpoint(&engine, class).ns_labels
        ));
    }
}
