//! Palisade's verdict on reported flows, with expectations taken from the NetworkPolicy
//! documentation: a pod selected by a policy for a direction is isolated in it and only what
//! some rule allows passes; a connection needs the source's egress and the destination's
//! ingress to allow it.

use std::sync::Arc;
use std::time::SystemTime;

use super::*;
use crate::flows::record::{FlowSourceKind, Name};
use crate::model::fixture::{namespace, pod, policy};
use crate::model::{ClusterObject, ClusterSnapshot};
use crate::policy::{IpBlockPods, Settings};

const DEFAULT_DENY_EGRESS: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny-egress, namespace: acme-web}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n";

const ALLOW_DNS: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-dns, namespace: acme-web}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}\n    ports:\n    - {protocol: UDP, port: 53}\n";

fn with_ip(object: ClusterObject, ip: &str) -> ClusterObject {
    match object {
        ClusterObject::Pod(mut pod) => {
            pod.ips = vec![ip.to_string()];
            ClusterObject::Pod(pod)
        }
        other => other,
    }
}

/// acme-web's frontend (egress denied by default) and kube-system's DNS, plus `extra`.
fn engine(extra: &[&str]) -> Engine {
    let mut snapshot = ClusterSnapshot::default();
    let objects = [
        namespace("acme-web", &[("tenant", "acme")]),
        namespace("kube-system", &[]),
        with_ip(
            pod(
                "acme-web",
                "frontend-7d9f8b6c5d-x2k4q",
                &[("app", "frontend")],
            ),
            "10.244.1.5",
        ),
        with_ip(
            pod(
                "kube-system",
                "coredns-5d78c9869d-bcdfg",
                &[("k8s-app", "kube-dns")],
            ),
            "10.244.0.2",
        ),
        policy(DEFAULT_DENY_EGRESS),
    ];
    for object in objects.into_iter().chain(extra.iter().map(|y| policy(y))) {
        snapshot.upsert(object);
    }
    let e = Engine::new(&snapshot, Settings::uniform(IpBlockPods::Match));
    assert_eq!(e.validation_errors().count(), 0);
    e
}

fn dns_flow(verdict: DataplaneVerdict, reason: Option<&str>) -> FlowRecord {
    let end = |ns: &str, pod: &str| FlowEndpoint {
        namespace: Some(Name::from(ns)),
        pod: Some(Name::from(pod)),
        ..FlowEndpoint::default()
    };
    FlowRecord {
        time: SystemTime::UNIX_EPOCH,
        source_kind: FlowSourceKind::Hubble,
        node: Some("worker-1".into()),
        src: end("acme-web", "frontend-7d9f8b6c5d-x2k4q"),
        dst: end("kube-system", "coredns-5d78c9869d-bcdfg"),
        protocol: Some(Protocol::Udp),
        port: Some(53),
        verdict,
        reason: reason.map(Name::from),
        direction: Some(Direction::Egress),
        policies: Vec::new(),
        is_reply: Some(false),
        count: 1,
    }
}

#[test]
fn a_drop_the_policies_predict_is_not_drift() {
    let e = engine(&[]);
    let j = Judge::new(&e).judge(&dns_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED")));
    assert_eq!(j.prediction.word(), "denied", "{:?}", j.prediction);
    assert!(
        j.prediction
            .detail()
            .contains("acme-web/default-deny-egress"),
        "{}",
        j.prediction.detail()
    );
    assert_eq!(j.drift, None);
}

#[test]
fn a_drop_of_what_the_policies_allow_is_drift() {
    let e = engine(&[ALLOW_DNS]);
    let j = Judge::new(&e).judge(&dns_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED")));
    assert_eq!(j.prediction.word(), "allowed");
    assert!(
        j.prediction.detail().contains("acme-web/allow-dns"),
        "{}",
        j.prediction.detail()
    );
    assert_eq!(j.drift, Some(Drift::DroppedButAllowed));
}

#[test]
fn a_forwarded_flow_the_policies_deny_is_drift_but_not_a_reply() {
    let e = engine(&[]);
    let judge = Judge::new(&e);
    let flow = dns_flow(DataplaneVerdict::Forwarded, None);
    assert_eq!(judge.judge(&flow).drift, Some(Drift::ForwardedButDenied));
    let reply = FlowRecord {
        is_reply: Some(true),
        ..flow
    };
    assert_eq!(
        judge.judge(&reply).drift,
        None,
        "replies follow their connection"
    );
}

#[test]
fn a_non_policy_drop_is_never_drift() {
    let e = engine(&[ALLOW_DNS]);
    let j = Judge::new(&e).judge(&dns_flow(
        DataplaneVerdict::Dropped,
        Some("CT_MAP_INSERTION_FAILED"),
    ));
    assert_eq!(j.prediction.word(), "allowed");
    assert_eq!(j.drift, None);
}

#[test]
fn only_the_observing_side_is_judged() {
    // Ingress of kube-system is open and egress of acme-web is not: a flow observed at the
    // destination's ingress was allowed there, whatever the source's egress says.
    let e = engine(&[]);
    let flow = FlowRecord {
        direction: Some(Direction::Ingress),
        ..dns_flow(DataplaneVerdict::Forwarded, None)
    };
    let j = Judge::new(&e).judge(&flow);
    assert_eq!(j.prediction.word(), "allowed");
    assert_eq!(j.drift, None);
}

#[test]
fn a_gone_pod_is_judged_as_another_replica_of_its_workload_or_by_address() {
    let e = engine(&[]);
    let judge = Judge::new(&e);
    let mut flow = dns_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
    flow.src.pod = Some("frontend-7d9f8b6c5d-zzzzz".into());
    assert_eq!(judge.judge(&flow).prediction.word(), "denied");
    flow.src.namespace = None;
    flow.src.pod = None;
    flow.src.ip = Some("10.244.1.5".parse().unwrap());
    assert_eq!(judge.judge(&flow).prediction.word(), "denied");
    flow.src.namespace = Some("acme-web".into());
    flow.src.pod = Some("batch-x2k4q".into());
    flow.src.ip = None;
    let j = judge.judge(&flow);
    assert_eq!(j.prediction.word(), "unknown");
    assert!(
        j.prediction.detail().contains("not in the cluster"),
        "{:?}",
        j.prediction
    );
}

#[test]
fn an_external_destination_is_judged_by_its_address() {
    let e = engine(&[]);
    let mut flow = dns_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
    flow.dst = FlowEndpoint {
        ip: Some("1.1.1.1".parse().unwrap()),
        entity: Some("world".into()),
        ..FlowEndpoint::default()
    };
    let j = Judge::new(&e).judge(&flow);
    assert_eq!(j.prediction.word(), "denied");
    assert_eq!(j.drift, None);
}

#[test]
fn icmp_has_no_verdict() {
    let e = engine(&[]);
    let flow = FlowRecord {
        protocol: None,
        port: None,
        ..dns_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"))
    };
    let j = Judge::new(&e).judge(&flow);
    assert_eq!(j.prediction.word(), "unknown");
    assert_eq!(j.drift, None);
}

#[test]
fn the_plain_judge_names_no_policy_for_allowed_traffic_the_detailed_one_does() {
    let e = engine(&[ALLOW_DNS]);
    let flow = dns_flow(DataplaneVerdict::Forwarded, None);
    let plain = Judge::new(&e).judge(&flow);
    assert_eq!(plain.prediction, Prediction::Allowed { by: String::new() });
    let detailed = Judge::detailed(&e).judge(&flow);
    assert_eq!(detailed.prediction.word(), "allowed");
    assert!(
        detailed.prediction.detail().contains("acme-web/allow-dns"),
        "{:?}",
        detailed
    );
}

/// Cilium's deny rules take precedence over every allow, NetworkPolicy allows included
/// (Cilium's "Deny Policies"): the verdict names the deny, not the NetworkPolicies it beat.
#[test]
fn a_cilium_deny_is_named_as_what_decided() {
    use crate::model::{NativeKind, NativePolicyInfo};
    let doc = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: no-dns, namespace: acme-web}\nspec:\n  endpointSelector: {}\n  egressDeny:\n  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system}}]\n    toPorts: [{ports: [{port: '53', protocol: UDP}]}]\n";
    let allowed = engine(&[ALLOW_DNS]);
    let mut snapshot = allowed.snapshot().clone();
    let object: kube::core::DynamicObject = crate::yaml::from_str(doc).unwrap();
    let info = NativePolicyInfo::new(NativeKind::CiliumNetworkPolicy, object).unwrap();
    snapshot.natives.insert(info.id.clone(), info);
    let e = Engine::new(&snapshot, allowed.settings());
    let j = Judge::new(&e).judge(&dns_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED")));
    assert_eq!(j.prediction.word(), "denied", "{:?}", j.prediction);
    let detail = j.prediction.detail();
    assert!(
        detail.starts_with("ciliumnp/acme-web/no-dns") && detail.contains("over every allow"),
        "{detail}"
    );
    assert!(!detail.contains("allow-dns"), "{detail}");
    assert_eq!(j.drift, None);
}

/// Goldmane names a Deployment's pods by their generate-name; the console's engine is read-only
/// (its pod objects dropped), and the workload is found from the classes' pods all the same (it
/// said "pod acme-web/frontend-7d9f8b6c5d is not in the cluster any more").
#[test]
fn a_goldmane_name_prefix_is_placed_on_its_workloads_pods_by_a_read_only_engine() {
    let e = engine(&[]).into_read_only();
    let end = FlowEndpoint {
        namespace: Some(Name::from("acme-web")),
        pod: Some(Name::from("frontend-7d9f8b6c5d")),
        ..FlowEndpoint::default()
    };
    let judge = Judge::new(&e);
    let pod = ObjectRef::new("acme-web", "frontend-7d9f8b6c5d-x2k4q");
    assert_eq!(
        judge.peer(&end, Direction::Egress),
        Ok(Peer::Class(e.class_of(&pod).unwrap()))
    );
    let gone = FlowEndpoint {
        pod: Some(Name::from("backend-7d9f8b6c5d")),
        ..end
    };
    assert_eq!(
        judge.peer(&gone, Direction::Egress),
        Err("pod acme-web/backend-7d9f8b6c5d is not in the cluster any more".to_string())
    );
}

/// Under Calico the deciding step is the walk's (a tier's rule, a tier's end, the profile): a
/// GlobalNetworkPolicy's Deny was worded "ingress: no policy applies".
#[test]
fn a_calico_denial_names_the_tier_rule_that_decided() {
    use crate::model::{NativeKind, NativePolicyInfo};
    let native = |kind: NativeKind, yaml: &str| {
        let object: kube::core::DynamicObject = crate::yaml::from_str(yaml).unwrap();
        ClusterObject::Native(NativePolicyInfo::new(kind, object).unwrap())
    };
    let mut snapshot = ClusterSnapshot::default();
    for object in [
        namespace("a", &[("tenant", "a")]),
        namespace("b", &[("tenant", "b")]),
        pod("a", "web-7d9f8b6c5d-x2k4q", &[("app", "web")]),
        pod("b", "client-7d9f8b6c5d-bcdfg", &[("app", "client")]),
        native(
            NativeKind::CalicoTier,
            "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}\n",
        ),
        native(
            NativeKind::CalicoGlobalNetworkPolicy,
            "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.isolate-a}\nspec:\n  tier: security\n  namespaceSelector: tenant == 'a'\n  types: [Ingress]\n  ingress:\n  - action: Deny\n    source: {namespaceSelector: tenant == 'b'}\n",
        ),
    ] {
        snapshot.upsert(object);
    }
    let settings = Settings {
        cni: crate::policy::Cni::Calico,
        ..Settings::uniform(IpBlockPods::Match)
    };
    let e = Engine::new(&snapshot, settings);
    let end = |ns: &str, pod: &str| FlowEndpoint {
        namespace: Some(Name::from(ns)),
        pod: Some(Name::from(pod)),
        ..FlowEndpoint::default()
    };
    let flow = FlowRecord {
        src: end("b", "client-7d9f8b6c5d"),
        dst: end("a", "web-7d9f8b6c5d"),
        protocol: Some(Protocol::Tcp),
        port: Some(8080),
        direction: Some(Direction::Ingress),
        source_kind: FlowSourceKind::Goldmane,
        node: None,
        ..dns_flow(DataplaneVerdict::Dropped, None)
    };
    let j = Judge::new(&e).judge(&flow);
    assert_eq!(
        j.prediction,
        Prediction::Denied {
            by: "GlobalNetworkPolicy security.isolate-a ingress rule #0 Deny (Calico)".into()
        }
    );
}

/// A flow that names its source by address only (Hubble without pod context, Goldmane's
/// `pub` ends) is placed by the console's read-only engine too, whose pod objects are dropped.
#[test]
fn a_flow_known_only_by_address_is_placed_by_a_read_only_engine() {
    let e = engine(&[]).into_read_only();
    let mut flow = dns_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
    flow.src.namespace = None;
    flow.src.pod = None;
    flow.src.ip = Some("10.244.1.5".parse().unwrap());
    let j = Judge::new(&e).judge(&flow);
    assert_eq!(j.prediction.word(), "denied", "{:?}", j.prediction);
}

/// The analyst's engine hands out a read-only copy after every change: a pod that moved to
/// another address is found at the new one, not the old.
#[test]
fn a_copy_made_after_a_pod_moved_places_it_by_its_new_address() {
    let mut e = engine(&[]);
    let first = e.read_only_copy();
    let old: std::net::IpAddr = "10.244.1.5".parse().unwrap();
    let new: std::net::IpAddr = "10.244.1.9".parse().unwrap();
    assert!(first.kept_pod_at(old).is_some());
    let ClusterObject::Pod(moved) = with_ip(
        pod(
            "acme-web",
            "frontend-7d9f8b6c5d-x2k4q",
            &[("app", "frontend")],
        ),
        "10.244.1.9",
    ) else {
        panic!("a pod fixture");
    };
    e.update_workloads(Vec::new(), vec![(moved.id.clone(), Some(Arc::new(moved)))]);
    let second = e.read_only_copy();
    assert_eq!(
        second.kept_pod_at(new).map(|p| p.name.as_str()),
        Some("frontend-7d9f8b6c5d-x2k4q")
    );
    assert_eq!(second.kept_pod_at(old), None);
    assert!(
        first.kept_pod_at(old).is_some(),
        "the earlier copy keeps what it had"
    );
}
