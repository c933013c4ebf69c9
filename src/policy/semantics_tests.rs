//! One test per semantic rule, on small clusters written as YAML.

use std::path::Path;

use super::*;
use crate::manifest::{build_topology, parse_text};
use crate::model::{ClusterSnapshot, ObjectRef};

pub(super) fn snapshot(yaml: &str) -> ClusterSnapshot {
    let (docs, warnings) = parse_text(Path::new("t.yaml"), yaml);
    assert!(warnings.is_empty(), "{warnings:?}");
    build_topology(&docs).snapshot
}

pub(super) fn engine(yaml: &str, mode: IpBlockPods) -> Engine {
    let e = Engine::new(&snapshot(yaml), Settings::uniform(mode));
    let errors: Vec<_> = e.validation_errors().collect();
    assert!(errors.is_empty(), "{errors:?}");
    e
}

/// Allowed set between two pods given as `ns/name` (pods are keyed `name[Pod]`).
pub(super) fn conns(e: &Engine, src: &str, dst: &str) -> String {
    let id = |s: &str| {
        let (ns, n) = s.split_once('/').unwrap();
        ObjectRef::new(ns, format!("{n}[Pod]"))
    };
    e.allowed_between_pods(&id(src), &id(dst))
        .unwrap()
        .to_string()
}

fn from_external(e: &Engine, ip: &str, dst: &str) -> String {
    let ext = e.externals();
    let addr: std::net::Ipv4Addr = ip.parse().unwrap();
    let r = ext
        .sources
        .iter()
        .find(|r| (r.lo..=r.hi).contains(&(u32::from(addr) as u128)))
        .unwrap();
    let (ns, n) = dst.split_once('/').unwrap();
    let d = e
        .class_of(&ObjectRef::new(ns, format!("{n}[Pod]")))
        .unwrap();
    e.allowed(&Peer::External(*r), &Peer::Class(d)).to_string()
}

pub(super) const PODS: &str = "
kind: Namespace
metadata: {name: a, labels: {team: red}}
---
kind: Namespace
metadata: {name: b, labels: {team: blue}}
---
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec:
  containers:
  - ports:
    - {name: http, containerPort: 8080}
    - {name: dns, containerPort: 53, protocol: UDP}
status: {podIP: 10.0.0.1}
---
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
status: {podIP: 10.0.0.2}
---
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
status: {podIP: 10.1.0.1}
";

pub(super) fn with(policy: &str) -> String {
    format!("{PODS}---\n{policy}")
}

#[test]
fn no_policy_allows_everything() {
    let e = engine(PODS, IpBlockPods::Ignore);
    assert_eq!(conns(&e, "b/client", "a/web"), "All Connections");
}

#[test]
fn empty_ingress_list_denies_all_ingress_but_not_egress() {
    let e = engine(
        &with("kind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}}"),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), "No Connections");
    assert_eq!(conns(&e, "a/web", "b/client"), "All Connections");
}

#[test]
fn pod_selector_only_peer_means_own_namespace() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {}}]}]",
        ),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "a/db", "a/web"), "All Connections");
    assert_eq!(conns(&e, "b/client", "a/web"), "No Connections");
    assert_eq!(from_external(&e, "8.8.8.8", "a/web"), "No Connections");
}

#[test]
fn namespace_and_pod_selector_in_one_peer_are_anded_separate_peers_ored() {
    let anded = "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}, podSelector: {matchLabels: {app: db}}}]}]";
    let e = engine(&with(anded), IpBlockPods::Ignore);
    assert_eq!(conns(&e, "b/client", "a/web"), "No Connections");
    assert_eq!(conns(&e, "a/db", "a/web"), "No Connections");
    let ored = "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}, {podSelector: {matchLabels: {app: db}}}]}]";
    let e = engine(&with(ored), IpBlockPods::Ignore);
    assert_eq!(conns(&e, "b/client", "a/web"), "All Connections");
    assert_eq!(conns(&e, "a/db", "a/web"), "All Connections");
}

#[test]
fn empty_from_admits_pods_and_externals() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress: [{from: [], ports: [{port: 80}]}]",
        ),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), "TCP 80");
    assert_eq!(from_external(&e, "1.2.3.4", "a/web"), "TCP 80");
}

#[test]
fn named_ports_need_name_and_protocol_of_the_destination() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http}, {port: dns, protocol: TCP}, {port: dns, protocol: UDP}]}]",
        ),
        IpBlockPods::Ignore,
    );
    // `dns` is UDP on web, so the TCP entry opens nothing; db has no named ports at all.
    assert_eq!(conns(&e, "b/client", "a/web"), "TCP 8080,UDP 53");
    assert_eq!(conns(&e, "b/client", "a/db"), "No Connections");
}

#[test]
fn end_port_ranges_and_protocols() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 5000, endPort: 6000, protocol: UDP}, {protocol: SCTP}, {port: 80}]}]",
        ),
        IpBlockPods::Ignore,
    );
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        "SCTP 1-65535,TCP 80,UDP 5000-6000"
    );
}

#[test]
fn ip_block_except_and_externals() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]}]",
        ),
        IpBlockPods::Ignore,
    );
    assert_eq!(from_external(&e, "10.2.0.1", "a/web"), "All Connections");
    assert_eq!(from_external(&e, "10.1.0.1", "a/web"), "No Connections");
    assert_eq!(from_external(&e, "11.0.0.0", "a/web"), "No Connections");
    let names: Vec<String> = e
        .externals()
        .sources
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "0.0.0.0-9.255.255.255",
            "10.0.0.0-10.0.255.255",
            "10.1.0.0-10.1.255.255",
            "10.2.0.0-10.255.255.255",
            "11.0.0.0-255.255.255.255"
        ]
    );
    assert_eq!(
        e.externals().destinations.len(),
        1,
        "egress atoms are cut by egress rules only"
    );
}

#[test]
fn ip_block_pods_setting() {
    let yaml = with(
        "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{ipBlock: {cidr: 10.1.0.0/16}}]}]",
    );
    let ignore = engine(&yaml, IpBlockPods::Ignore);
    assert_eq!(conns(&ignore, "b/client", "a/web"), "No Connections");
    let matched = engine(&yaml, IpBlockPods::Match);
    assert_eq!(conns(&matched, "b/client", "a/web"), "All Connections");
    assert_eq!(conns(&matched, "a/db", "a/web"), "No Connections");
}

#[test]
fn ipv6_ip_blocks() {
    let yaml = "kind: Pod
metadata: {name: v6, namespace: a}
status: {podIPs: [{ip: 'fd00::5'}]}
---
kind: Pod
metadata: {name: t, namespace: a, labels: {app: t}}
---
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: t}}
  ingress: [{from: [{ipBlock: {cidr: 'fd00::/64', except: ['fd00::/120']}}]}]";
    let e = engine(yaml, IpBlockPods::Match);
    assert_eq!(conns(&e, "a/v6", "a/t"), "No Connections", "inside except");
    let src = &e.externals().sources;
    let v6: Vec<String> = src
        .iter()
        .filter(|r| r.family == ipset::Family::V6)
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        v6,
        [
            "::-fd00::ff",
            "fd00::100-fd00::ffff:ffff:ffff:ffff",
            "fd00:0:0:1::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        ]
    );
    let t = e.class_of(&ObjectRef::new("a", "t[Pod]")).unwrap();
    assert!(
        e.allowed(&Peer::External(src[src.len() - 2]), &Peer::Class(t))
            .is_all()
    );
    assert!(
        e.allowed(&Peer::External(src[src.len() - 3]), &Peer::Class(t))
            .is_empty()
    );
}

#[test]
fn egress_only_policy_types_leave_ingress_open() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {matchLabels: {app: nobody}}}]}]
  egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: 5432}]}]",
        ),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), "All Connections");
    assert_eq!(conns(&e, "a/web", "a/db"), "TCP 5432");
    assert_eq!(conns(&e, "a/web", "b/client"), "No Connections");
}

#[test]
fn egress_rules_imply_egress_when_policy_types_absent() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  egress: [{ports: [{port: 53, protocol: UDP}]}]",
        ),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "a/web", "b/client"), "UDP 53");
    assert_eq!(conns(&e, "b/client", "a/web"), "No Connections");
}

#[test]
fn policies_combine_as_a_union_and_both_ends_must_allow() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p1, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: 80}]}]
---
kind: NetworkPolicy
metadata: {name: p2, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: 443}]}]
---
kind: NetworkPolicy
metadata: {name: out, namespace: b}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: 443}, {port: 53, protocol: UDP}]}]",
        ),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "a/db", "a/web"), "TCP 80,443");
    assert_eq!(conns(&e, "b/client", "a/web"), "TCP 443");
}

#[test]
fn explain_names_policies_and_rules() {
    let e = engine(
        &with(
            "kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 80}]
  - from: [{namespaceSelector: {matchLabels: {team: blue}}}]
    ports: [{port: 443}]",
        ),
        IpBlockPods::Ignore,
    );
    let c = |n: &str| {
        Peer::Class(
            e.class_of(&ObjectRef::new("a", format!("{n}[Pod]")))
                .unwrap(),
        )
    };
    let x = explain::explain(&e, &c("db"), &c("web"));
    assert_eq!(x.allowed.to_string(), "TCP 80");
    assert!(!x.egress.isolated());
    let verdict = &x.ingress.policies[0];
    assert_eq!(verdict.policy, ObjectRef::new("a", "p"));
    assert!(verdict.rules[0].peer_matches && !verdict.rules[1].peer_matches);
    let text = explain::render_explanation(&x, "a/db", "a/web");
    assert!(text.contains("NetworkPolicy 'a/p' selects a/web"), "{text}");
    assert!(text.contains("ingress[1] does not match a/db"), "{text}");
    assert!(
        text.contains("Denied: SCTP 1-65535,TCP 1-79,81-65535,UDP 1-65535"),
        "{text}"
    );
}
