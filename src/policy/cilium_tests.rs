//! Cilium's policies, one test per rule of Cilium's documentation (docs.cilium.io: "Layer 3
//! Examples", "Layer 4 Policies", "Deny Policies", the `Rule` field reference for
//! `enableDefaultDeny`), on the small cluster of `semantics_tests`: namespaces `a` (team=red:
//! pods web (ports http 8080/TCP, dns 53/UDP) and db) and `b` (team=blue: pod client).

use kube::core::DynamicObject;

use super::semantics_tests::{PODS, conns, snapshot};
use super::*;
use crate::model::{ClusterSnapshot, NativeKind, NativePolicyInfo, ObjectRef};

const ALL: &str = "All Connections";
const NONE: &str = "No Connections";

/// Splits a YAML stream: Cilium documents become natives, the rest goes to the manifest
/// reader.
pub(super) fn cluster(yaml: &str) -> ClusterSnapshot {
    let mut rest = Vec::new();
    let mut natives = Vec::new();
    for doc in yaml.split("\n---\n") {
        let kind = doc
            .lines()
            .find_map(|l| l.strip_prefix("kind: "))
            .and_then(|k| NativeKind::from_kind(k.trim()));
        match kind {
            Some(kind) => natives.push(native(kind, doc)),
            None => rest.push(doc),
        }
    }
    let mut snap = snapshot(&rest.join("\n---\n"));
    for n in natives {
        snap.natives.insert(n.id.clone(), n);
    }
    snap
}

pub(super) fn native(kind: NativeKind, doc: &str) -> NativePolicyInfo {
    let object: DynamicObject = crate::yaml::from_str(doc).expect("test yaml");
    NativePolicyInfo::new(kind, object).expect("named")
}

fn engine_with(docs: &[&str], mode: IpBlockPods) -> Engine {
    let mut yaml = PODS.to_string();
    for d in docs {
        yaml.push_str("\n---\n");
        yaml.push_str(d);
    }
    let e = Engine::new(&cluster(&yaml), Settings::uniform(mode));
    let errors: Vec<_> = e.validation_errors().collect();
    assert!(errors.is_empty(), "{errors:?}");
    e
}

fn engine(docs: &[&str]) -> Engine {
    engine_with(docs, IpBlockPods::Ignore)
}

fn class(e: &Engine, pod: &str) -> usize {
    let (ns, n) = pod.split_once('/').unwrap();
    e.class_of(&ObjectRef::new(ns, format!("{n}[Pod]")))
        .unwrap()
}

fn external(ranges: &[ipset::IpRange], ip: &str) -> Peer {
    let addr: std::net::Ipv4Addr = ip.parse().unwrap();
    let r = ranges
        .iter()
        .find(|r| (r.lo..=r.hi).contains(&(u32::from(addr) as u128)))
        .unwrap();
    Peer::External(*r)
}

/// External address → pod.
fn from_ip(e: &Engine, ip: &str, dst: &str) -> Verdict {
    let src = external(&e.externals().sources, ip);
    e.verdict(&src, &Peer::Class(class(e, dst)))
}

/// Pod → external address.
fn to_ip(e: &Engine, src: &str, ip: &str) -> Verdict {
    let dst = external(&e.externals().destinations, ip);
    e.verdict(&Peer::Class(class(e, src)), &dst)
}

fn explain_text(e: &Engine, src: &str, dst: &str) -> String {
    let x = explain(e, &Peer::Class(class(e, src)), &Peer::Class(class(e, dst)));
    render_explanation(&x, src, dst)
}

fn cnp(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\n{spec}"
    )
}

fn ccnp(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: {name}}}\n{spec}"
    )
}

#[test]
fn a_cnp_selects_only_pods_of_its_namespace() {
    // Layer 3 Examples: a CiliumNetworkPolicy is namespaced; `endpointSelector: {}` selects
    // every endpoint of its namespace.
    let p = cnp(
        "a",
        "deny-in",
        "spec:\n  endpointSelector: {}\n  ingress: [{}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "b/client", "a/db"), NONE);
    assert_eq!(conns(&e, "a/web", "b/client"), ALL, "b is not selected");
}

#[test]
fn an_empty_ingress_rule_puts_the_endpoint_in_default_deny() {
    // "Ingress/Egress Default Deny": `ingress: - {}` selects the endpoints and allows nothing.
    let p = cnp(
        "a",
        "deny",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    assert_eq!(conns(&e, "a/web", "a/db"), ALL, "egress untouched");
}

#[test]
fn from_endpoints_in_a_cnp_means_its_own_namespace() {
    // "L3 policies are namespace-scoped unless the selector names another namespace."
    let p = cnp(
        "a",
        "p",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{fromEndpoints: [{}]}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
}

#[test]
fn naming_the_namespace_label_reaches_other_namespaces() {
    // `k8s:io.kubernetes.pod.namespace` in a peer selector lifts the implicit limit.
    let p = cnp(
        "a",
        "p",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {k8s:io.kubernetes.pod.namespace: b}\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
}

#[test]
fn namespace_labels_are_selectable_through_their_special_prefix() {
    // `io.cilium.k8s.namespace.labels.<key>` carries the namespace's labels.
    let p = cnp(
        "a",
        "p",
        "spec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {io.cilium.k8s.namespace.labels.team: blue, app: client}\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
}

#[test]
fn a_ccnp_selects_and_admits_across_namespaces() {
    let p = ccnp(
        "web-from-client",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    // Its endpointSelector can name namespaces too.
    let q = ccnp(
        "b-only",
        "spec:\n  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: b}}\n  egress: [{}]\n",
    );
    let e = engine(&[&q]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
}

#[test]
fn enable_default_deny_false_adds_allows_without_isolating() {
    // Rule reference: "EnableDefaultDeny determines whether this policy configures the subject
    // endpoint(s) to have a default deny mode ... If multiple policies apply to an endpoint,
    // that endpoint's default deny will be enabled if any policy requests it."
    let open = cnp(
        "a",
        "open",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  enableDefaultDeny: {ingress: false}\n  ingress: [{fromEndpoints: [{matchLabels: {app: db}}]}]\n",
    );
    let e = engine(&[&open]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "not isolated");
    // With a NetworkPolicy isolating web, its allow joins the NetworkPolicy's.
    let np = "kind: NetworkPolicy\nmetadata: {name: iso, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]\n";
    let e = engine(&[&open, np]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "by the NetworkPolicy");
    assert_eq!(conns(&e, "a/db", "a/web"), ALL, "by the Cilium rule");
    let e = engine(&[np]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE, "without the Cilium rule");
}

#[test]
fn a_deny_policy_overrides_every_allow_as_in_the_docs_table() {
    // Deny Policies: allow L3 from client, deny 80/TCP from client: 81 allowed, 80 denied.
    let allow = cnp(
        "a",
        "allow",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]\n",
    );
    let deny = cnp(
        "a",
        "deny",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingressDeny:\n  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n",
    );
    let e = engine(&[&allow, &deny]);
    let v = e.verdict(
        &Peer::Class(class(&e, "b/client")),
        &Peer::Class(class(&e, "a/web")),
    );
    assert!(v.allowed.contains(Protocol::Tcp, 81));
    assert!(!v.allowed.contains(Protocol::Tcp, 80));
    // "regardless of whether they are a Cilium Network Policy ... or even a Kubernetes
    // Network Policy": the same deny over a NetworkPolicy allow.
    let np = "kind: NetworkPolicy\nmetadata: {name: all, namespace: a}\nspec:\n  podSelector: {}\n  ingress: [{}]\n";
    let e = engine(&[np, &deny]);
    let v = e.verdict(
        &Peer::Class(class(&e, "b/client")),
        &Peer::Class(class(&e, "a/web")),
    );
    assert!(v.allowed.contains(Protocol::Tcp, 81));
    assert!(!v.allowed.contains(Protocol::Tcp, 80));
    assert_eq!(conns(&e, "a/db", "a/web"), ALL, "the deny names b only");
}

#[test]
fn a_deny_without_default_deny_still_denies_and_leaves_the_rest_open() {
    let deny = cnp(
        "a",
        "deny",
        "spec:\n  endpointSelector: {}\n  enableDefaultDeny: {ingress: false}\n  ingressDeny: [{fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]}]\n",
    );
    let e = engine(&[&deny]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    // With default deny (the default), a deny-only policy isolates: "Pods will enter
    // default-deny mode as soon a single policy selects it."
    let strict = deny.replace("  enableDefaultDeny: {ingress: false}\n", "");
    let e = engine(&[&strict]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
}

#[test]
fn entities_are_decided_where_palisade_can_and_undecided_elsewhere() {
    let world = cnp(
        "a",
        "world",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{fromEntities: [world]}]\n",
    );
    let e = engine(&[&world]);
    assert_eq!(from_ip(&e, "8.8.8.8", "a/web").allowed.to_string(), ALL);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE, "pods are not the world");
    let cluster = world.replace("world]", "cluster]");
    let e = engine(&[&cluster]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "every pod is in the cluster"
    );
    let v = from_ip(&e, "8.8.8.8", "a/web");
    assert_eq!(v.allowed.to_string(), NONE);
    assert_eq!(v.undecided.to_string(), ALL, "could be a node's address");
    let host = world.replace("world]", "host]");
    let e = engine(&[&host]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    assert_eq!(from_ip(&e, "10.9.9.9", "a/web").undecided.to_string(), ALL);
    let all = world.replace("world]", "all]");
    let e = engine(&[&all]);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    assert_eq!(from_ip(&e, "8.8.8.8", "a/web").allowed.to_string(), ALL);
}

#[test]
fn cidr_sets_with_except_match_addresses_but_never_pods() {
    // Layer 3 Examples, IP/CIDR based: "used to describe the relationship to or from external
    // services if the remote peer is not an endpoint".
    let p = cnp(
        "a",
        "cidr",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.0.5.0/24]}]\n  - toCIDR: [192.168.1.1]\n",
    );
    // Even where NetworkPolicy ipBlocks match pods, Cilium's CIDRs do not.
    let e = engine_with(&[&p], IpBlockPods::Match);
    assert_eq!(to_ip(&e, "a/web", "10.0.7.1").allowed.to_string(), ALL);
    assert_eq!(to_ip(&e, "a/web", "10.0.5.1").allowed.to_string(), NONE);
    assert_eq!(to_ip(&e, "a/web", "192.168.1.1").allowed.to_string(), ALL);
    assert_eq!(to_ip(&e, "a/web", "192.168.1.2").allowed.to_string(), NONE);
    assert_eq!(conns(&e, "a/web", "a/db"), NONE, "db's 10.0.0.2 is a pod");
}

#[test]
fn to_ports_limit_protocols_and_ranges_and_resolve_names() {
    // Layer 4 Policies: port, endPort, protocol (omitted = any), named ports.
    let p = cnp(
        "a",
        "l4",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{}]\n    toPorts:\n    - ports: [{port: \"8000\", endPort: 8010, protocol: TCP}, {port: \"53\"}, {port: http}]\n",
    );
    let e = engine(&[&p]);
    let v = e.allowed(
        &Peer::Class(class(&e, "a/db")),
        &Peer::Class(class(&e, "a/web")),
    );
    assert!(v.contains(Protocol::Tcp, 8000) && v.contains(Protocol::Tcp, 8010));
    assert!(!v.contains(Protocol::Tcp, 8011));
    assert!(v.contains(Protocol::Udp, 53) && v.contains(Protocol::Tcp, 53));
    assert!(v.contains(Protocol::Sctp, 53), "ANY covers SCTP");
    assert!(v.contains(Protocol::Tcp, 8080), "named port http");
}

#[test]
fn an_l4_only_rule_applies_to_every_peer() {
    // Layer 4 Policies: "Layer 4 policy can be specified in addition to layer 3 policies or
    // independently."
    let p = cnp(
        "a",
        "l4",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/web", "b/client"), "TCP 80");
    assert_eq!(to_ip(&e, "a/web", "8.8.8.8").allowed.to_string(), "TCP 80");
}

#[test]
fn l7_rules_are_allowed_at_l4_and_said_so() {
    let p = cnp(
        "a",
        "http",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: db}}]\n    toPorts:\n    - ports: [{port: \"8080\", protocol: TCP}]\n      rules: {http: [{method: GET, path: /}]}\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/db", "a/web"), "TCP 8080");
    let text = explain_text(&e, "a/db", "a/web");
    assert!(text.contains("L7-filtered"), "{text}");
    assert!(
        text.contains("CiliumNetworkPolicy a/http ingress rule #0"),
        "{text}"
    );
}

#[test]
fn fqdns_and_services_are_undecided_never_guessed() {
    let p = cnp(
        "a",
        "fqdn",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toFQDNs: [{matchName: example.com}]\n  - toServices: [{k8sService: {serviceName: db, namespace: a}}]\n",
    );
    let e = engine(&[&p]);
    let v = to_ip(&e, "a/web", "93.184.216.34");
    assert_eq!(v.allowed.to_string(), NONE);
    assert_eq!(v.undecided.to_string(), ALL);
    // A Service's backends may be pods: undecided towards pods too.
    let v = e.verdict(
        &Peer::Class(class(&e, "a/web")),
        &Peer::Class(class(&e, "a/db")),
    );
    assert_eq!(v.allowed.to_string(), NONE);
    assert_eq!(v.undecided.to_string(), ALL);
}

#[test]
fn host_policies_are_not_evaluated_and_say_why() {
    let p = ccnp(
        "host",
        "spec:\n  nodeSelector: {}\n  ingress: [{fromEntities: [cluster]}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    let notes: Vec<_> = e.natives_not_evaluated().collect();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].1.contains("host policy"), "{notes:?}");
}

#[test]
fn malformed_specs_are_reported_and_left_out() {
    let cases = [
        (
            "spec:\n  endpointSelector: {}\n  ingress: [{fromEntities: [moon]}]\n",
            "Unsupported value: \"moon\"",
        ),
        (
            "spec:\n  endpointSelector: {}\n  egress: [{toCIDR: [10.0.0.0/33]}]\n",
            "prefix length",
        ),
        (
            "spec:\n  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"70000\"}]}]}]\n",
            "between 0 and 65535",
        ),
        (
            "spec:\n  endpointSelector: {}\n  nodeSelector: {}\n",
            "mutually exclusive",
        ),
        (
            "spec:\n  ingress: [{}]\n",
            "one of endpointSelector or nodeSelector",
        ),
        ("metadata2: {}\n", "one of spec or specs"),
        (
            "spec:\n  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: \"80\", protocol: TCPX}]}]}]\n",
            "Unsupported value: \"TCPX\"",
        ),
    ];
    for (spec, expected) in cases {
        let p = cnp("a", "bad", spec);
        let mut yaml = PODS.to_string();
        yaml.push_str("\n---\n");
        yaml.push_str(&p);
        let e = Engine::new(&cluster(&yaml), Settings::default());
        let errors: Vec<String> = e.validation_errors().map(|e| e.to_string()).collect();
        assert!(
            errors
                .iter()
                .any(|m| m.contains(expected) && m.starts_with("CiliumNetworkPolicy a/bad")),
            "{spec}: {errors:?}"
        );
        assert!(e.natives().is_empty());
        assert_eq!(conns(&e, "b/client", "a/web"), ALL, "left out");
    }
}

#[test]
fn spec_and_specs_are_all_rules_of_the_policy() {
    let p = cnp(
        "a",
        "two",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{}]\nspecs:\n- endpointSelector: {matchLabels: {app: db}}\n  ingress: [{}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "b/client", "a/db"), NONE);
}

const ADMIN_DENY_B_TO_A: &str = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: admin}\nspec:\n  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {team: red}}}\n  ingress: [{name: r, action: ACTION, from: [{namespaces: {matchLabels: {team: blue}}}]}]\n";

const BASELINE_DENY_ALL_TO_A: &str = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: base}\nspec:\n  tier: Baseline\n  priority: 10\n  subject: {namespaces: {matchLabels: {team: red}}}\n  ingress: [{name: r, action: Deny, from: [{namespaces: {}}]}]\n";

#[test]
fn the_admin_tier_decides_before_cilium_rules() {
    // Cilium's ClusterNetworkPolicy support: Admin tier, then the NetworkPolicy tier
    // (NetworkPolicy, CNP, CCNP), then Baseline.
    let allow = cnp(
        "a",
        "allow",
        "spec:\n  endpointSelector: {}\n  ingress: [{fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]}]\n",
    );
    let e = engine(&[&allow, &ADMIN_DENY_B_TO_A.replace("ACTION", "Deny")]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "Admin Deny over a Cilium allow"
    );
    let deny = cnp(
        "a",
        "deny",
        "spec:\n  endpointSelector: {}\n  ingressDeny: [{fromEntities: [all]}]\n",
    );
    let e = engine(&[&deny, &ADMIN_DENY_B_TO_A.replace("ACTION", "Accept")]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "Admin Accept over a Cilium deny"
    );
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
}

#[test]
fn cilium_rules_isolate_before_the_baseline_tier() {
    let allow = cnp(
        "a",
        "allow",
        "spec:\n  endpointSelector: {}\n  ingress: [{fromEndpoints: [{}]}]\n",
    );
    // Isolated by the Cilium rule: Baseline is not consulted.
    let e = engine(&[&allow, BASELINE_DENY_ALL_TO_A]);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    // A deny that does not isolate: what it leaves goes to Baseline.
    let deny = cnp(
        "a",
        "deny",
        "spec:\n  endpointSelector: {}\n  enableDefaultDeny: {ingress: false}\n  ingressDeny: [{fromEndpoints: [{matchLabels: {app: db}}]}]\n",
    );
    let base_open =
        BASELINE_DENY_ALL_TO_A.replace("namespaces: {}", "namespaces: {matchLabels: {team: none}}");
    let e = engine(&[&deny, &base_open]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE, "the Cilium deny");
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "Baseline passes to the default"
    );
    let e = engine(&[&deny, BASELINE_DENY_ALL_TO_A]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "Baseline denies the rest"
    );
}

#[test]
fn explain_names_the_deny_rule_and_its_precedence() {
    let allow = cnp(
        "a",
        "allow",
        "spec:\n  endpointSelector: {}\n  ingress: [{fromEntities: [cluster]}]\n",
    );
    let deny = ccnp(
        "deny-client",
        "spec:\n  endpointSelector: {}\n  ingressDeny: [{}, {fromEndpoints: [{matchLabels: {app: client}}]}]\n",
    );
    let e = engine(&[&allow, &deny]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    let text = explain_text(&e, "b/client", "a/web");
    assert!(
        text.contains("ingressDeny rule #1 of CiliumClusterwideNetworkPolicy deny-client: denies, over every allow"),
        "{text}"
    );
    assert!(
        text.contains("CiliumNetworkPolicy a/allow ingress rule #0"),
        "{text}"
    );
}

#[test]
fn update_native_equals_a_rebuild() {
    let mut snap = cluster(PODS);
    let mut inc = Engine::new(&snap, Settings::default());
    let docs = [
        cnp(
            "a",
            "p",
            "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{fromEndpoints: [{matchLabels: {app: db}}]}]\n",
        ),
        cnp(
            "a",
            "p",
            "spec:\n  endpointSelector: {}\n  egressDeny: [{toEntities: [world]}]\n  ingress: [{fromCIDR: [8.8.8.0/24]}]\n",
        ),
        ccnp(
            "c",
            "spec:\n  endpointSelector: {matchLabels: {app: client}}\n  egress: [{toEndpoints: [{}]}]\n",
        ),
    ];
    for doc in &docs {
        let kind = match doc.contains("Clusterwide") {
            true => NativeKind::CiliumClusterwideNetworkPolicy,
            false => NativeKind::CiliumNetworkPolicy,
        };
        let info = native(kind, doc);
        let (stats, errors) = inc.update_native(&info.id, Some(&info));
        assert!(errors.is_empty(), "{errors:?}");
        snap.natives.insert(info.id.clone(), info);
        assert!(stats.recomputed_classes <= 3);
        super::incremental_tests::assert_same(&inc, &Engine::new(&snap, Settings::default()));
    }
    let id = snap.natives.keys().next().unwrap().clone();
    inc.update_native(&id, None);
    snap.natives.remove(&id);
    super::incremental_tests::assert_same(&inc, &Engine::new(&snap, Settings::default()));
}

#[test]
fn icmp_rules_select_but_are_not_evaluated() {
    // Layer 4 Policies: "If any layer 4 policy is specified, then ICMP will be blocked unless
    // it's related to a connection that is otherwise allowed". ICMP is outside palisade's
    // connection sets: an ICMP-only rule isolates and allows no TCP/UDP/SCTP, and explain says
    // so.
    let p = cnp(
        "a",
        "ping",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{}]\n    icmps: [{fields: [{type: 8, family: IPv4}]}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    let text = explain_text(&e, "a/db", "a/web");
    assert!(text.contains("ICMP part is not evaluated"), "{text}");
    let notes: Vec<_> = e.natives_not_evaluated().collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .1
            .contains("ingress[0]: its ICMP part is not evaluated"),
        "{notes:?}"
    );
}

#[test]
fn egress_to_the_apiserver_is_undecided_and_world_is_not_a_pod() {
    let p = cnp(
        "a",
        "egress",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toEntities: [kube-apiserver]\n  - toEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n",
    );
    let e = engine(&[&p]);
    let v = to_ip(&e, "a/web", "172.20.0.1");
    assert_eq!(v.allowed.to_string(), "TCP 443");
    assert_eq!(
        v.undecided,
        ConnSet::all().subtract(&ConnSet::ports(Protocol::Tcp, 443, 443))
    );
    assert_eq!(conns(&e, "a/web", "a/db"), NONE);
}

#[test]
fn empty_lists_are_absent_fields() {
    // Cilium reads an empty list like a missing field: `fromEndpoints: []` names no peer (an
    // L4-only rule then applies to every peer) and `toPorts: []` no port restriction.
    let p = cnp(
        "a",
        "empty",
        "spec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: []\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n  - fromEndpoints: [{matchLabels: {app: db}}]\n    toPorts: []\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), "TCP 80");
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
}
