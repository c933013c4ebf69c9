//! 50k pods must collapse into a few classes, so work grows with classes, not pods.

use std::time::Instant;

use super::*;
use crate::model::fixture::labels;
use crate::model::{ClusterSnapshot, ObjectRef, PodInfo, PolicyInfo};

fn big_cluster() -> ClusterSnapshot {
    let mut snap = ClusterSnapshot::default();
    for i in 0..50_000 {
        let ns = format!("tenant-{}", i % 20);
        let app = format!("app-{}", (i / 20) % 5);
        let id = ObjectRef::new(&ns, format!("pod-{i}"));
        snap.pods.insert(
            id.clone(),
            PodInfo {
                id,
                labels: labels(&[("app", &app)]),
                ips: vec![format!("10.{}.{}.{}", i % 20, (i / 256) % 256, i % 256)],
                ports: vec![],
                phase: "Running".into(),
                node: None,
            },
        );
    }
    for t in 0..20 {
        let yaml = format!(
            "metadata: {{name: isolate, namespace: tenant-{t}}}
spec:
  podSelector: {{}}
  ingress: [{{from: [{{podSelector: {{}}}}]}}]
  egress: [{{to: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: tenant-{t}}}}}}}]}}]"
        );
        let p = PolicyInfo {
            id: ObjectRef::new(format!("tenant-{t}"), "isolate"),
            object: crate::yaml::from_str(&yaml).expect("test yaml"),
        };
        snap.policies.insert(p.id.clone(), p);
    }
    snap
}

#[test]
fn fifty_thousand_pods_are_computed_on_classes() {
    let snap = big_cluster();
    let start = Instant::now();
    let mut e = Engine::new(&snap, Settings::default());
    assert_eq!(e.classes().classes.len(), 100);
    let a = ObjectRef::new("tenant-3", "pod-3");
    let b = ObjectRef::new("tenant-3", "pod-23");
    let c = ObjectRef::new("tenant-4", "pod-4");
    assert!(e.allowed_between_pods(&a, &b).unwrap().is_all());
    assert!(e.allowed_between_pods(&a, &c).unwrap().is_empty());
    // A policy in one tenant touches only that tenant's 5 classes.
    let (stats, _) = e.update_policy(&ObjectRef::new("tenant-4", "isolate"), None);
    assert_eq!(stats.recomputed_classes, 5);
    assert!(
        e.allowed_between_pods(&a, &c).unwrap().is_empty(),
        "a's egress"
    );
    assert!(
        e.allowed_between_pods(&c, &a).unwrap().is_empty(),
        "a's ingress"
    );
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
}
