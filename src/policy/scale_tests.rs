//! 50k pods must collapse into a few classes, so work grows with classes, not pods.

use std::time::Instant;

use super::*;
use crate::model::fixture::labels;
use crate::model::{
    ClusterSnapshot, NativeKind, NativePolicyInfo, NativeRef, ObjectRef, PodInfo, PolicyInfo,
};

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
                labels: labels(&[("app", &app)]).into(),
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

/// The same isolation written as one CiliumNetworkPolicy per tenant, plus a clusterwide deny.
fn big_cilium_cluster() -> ClusterSnapshot {
    let mut snap = big_cluster();
    snap.policies.clear();
    let mut add = |kind: NativeKind, yaml: String| {
        let object = crate::yaml::from_str(&yaml).expect("test yaml");
        let info = NativePolicyInfo::new(kind, object).expect("named");
        snap.natives.insert(info.id.clone(), info);
    };
    for t in 0..20 {
        add(
            NativeKind::CiliumNetworkPolicy,
            format!(
                "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n\
                 metadata: {{name: isolate, namespace: tenant-{t}}}\nspec:\n  endpointSelector: {{}}\n  \
                 ingress: [{{fromEndpoints: [{{}}]}}]\n  egress: [{{toEndpoints: [{{}}]}}]\n"
            ),
        );
    }
    add(
        NativeKind::CiliumClusterwideNetworkPolicy,
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: no-app-4}\n\
         spec:\n  endpointSelector: {matchLabels: {app: app-4}}\n  enableDefaultDeny: {ingress: false}\n  \
         ingressDeny: [{fromEndpoints: [{matchLabels: {app: app-0}}]}]\n"
            .to_string(),
    );
    snap
}

#[test]
fn fifty_thousand_pods_under_cilium_policies_are_computed_on_classes() {
    let snap = big_cilium_cluster();
    let start = Instant::now();
    let mut e = Engine::new(&snap, Settings::default());
    assert!(e.validation_errors().next().is_none());
    assert_eq!(e.classes().classes.len(), 100);
    // pod-i is tenant-(i % 20), app-((i / 20) % 5).
    let a = ObjectRef::new("tenant-3", "pod-3");
    let b = ObjectRef::new("tenant-3", "pod-23");
    let c = ObjectRef::new("tenant-4", "pod-4");
    let web4 = ObjectRef::new("tenant-3", "pod-83");
    assert!(e.allowed_between_pods(&a, &b).unwrap().is_all());
    assert!(e.allowed_between_pods(&a, &c).unwrap().is_empty());
    assert!(
        e.allowed_between_pods(&a, &web4).unwrap().is_empty(),
        "the CCNP deny"
    );
    assert!(e.allowed_between_pods(&b, &web4).unwrap().is_all());
    let id = NativeRef::new(NativeKind::CiliumNetworkPolicy, "tenant-4", "isolate");
    let (stats, _) = e.update_native(&id, None);
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

/// The same isolation as Calico NetworkPolicies in the default tier, plus a security tier whose
/// GlobalNetworkPolicy denies app-0 → app-4 and passes the rest.
fn big_calico_cluster() -> ClusterSnapshot {
    let mut snap = big_cluster();
    snap.policies.clear();
    let mut add = |kind: NativeKind, yaml: String| {
        let object = crate::yaml::from_str(&yaml).expect("test yaml");
        let info = NativePolicyInfo::new(kind, object).expect("named");
        snap.natives.insert(info.id.clone(), info);
    };
    for t in 0..20 {
        add(
            NativeKind::CalicoNetworkPolicy,
            format!(
                "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n\
                 metadata: {{name: isolate, namespace: tenant-{t}}}\nspec:\n  selector: all()\n  \
                 types: [Ingress, Egress]\n  ingress: [{{action: Allow, source: {{selector: all()}}}}]\n  \
                 egress: [{{action: Allow, destination: {{namespaceSelector: projectcalico.org/name == 'tenant-{t}'}}}}]\n"
            ),
        );
    }
    add(
        NativeKind::CalicoTier,
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}\n"
            .to_string(),
    );
    add(
        NativeKind::CalicoGlobalNetworkPolicy,
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.no-app-4}\n\
         spec:\n  tier: security\n  selector: app == 'app-4'\n  \
         ingress: [{action: Deny, source: {selector: app == 'app-0'}}, {action: Pass}]\n"
            .to_string(),
    );
    snap
}

#[test]
fn fifty_thousand_pods_under_calico_policies_are_computed_on_classes() {
    let snap = big_calico_cluster();
    let start = Instant::now();
    let settings = Settings {
        cni: Cni::Calico,
        ..Settings::uniform(IpBlockPods::Match)
    };
    let mut e = Engine::new(&snap, settings);
    let built = start.elapsed();
    assert!(e.validation_errors().next().is_none());
    assert_eq!(e.classes().classes.len(), 100);
    let a = ObjectRef::new("tenant-3", "pod-3");
    let b = ObjectRef::new("tenant-3", "pod-23");
    let c = ObjectRef::new("tenant-4", "pod-4");
    let web4 = ObjectRef::new("tenant-3", "pod-83");
    assert!(e.allowed_between_pods(&a, &b).unwrap().is_all());
    assert!(e.allowed_between_pods(&a, &c).unwrap().is_empty());
    assert!(
        e.allowed_between_pods(&a, &web4).unwrap().is_empty(),
        "the security tier's Deny"
    );
    assert!(e.allowed_between_pods(&b, &web4).unwrap().is_all(), "Pass");
    let id = NativeRef::new(NativeKind::CalicoNetworkPolicy, "tenant-4", "isolate");
    let (stats, _) = e.update_native(&id, None);
    assert_eq!(stats.recomputed_classes, 5);
    assert!(
        e.allowed_between_pods(&a, &c).unwrap().is_empty(),
        "a's egress"
    );
    assert!(
        e.allowed_between_pods(&c, &a).unwrap().is_empty(),
        "a's ingress"
    );
    assert!(
        start.elapsed().as_secs() < 30,
        "took {:?} (build {built:?})",
        start.elapsed()
    );
}
