//! Metamorphic tests: random NetworkPolicy sets written again as CiliumNetworkPolicies give
//! the same matrix as the originals, and a Cilium deny added on top closes exactly the pairs
//! it names. Both forms are rendered from one abstract policy, following each API's docs:
//! - an NP rule's peers are ORed: one Cilium rule per peer, with the same ports;
//! - a missing `from`/`to` (every peer) is `fromEntities: [all]` (a Cilium rule with no L3
//!   peer and no ports allows nothing);
//! - a `podSelector` alone is the policy's namespace (a CNP's `fromEndpoints` too);
//! - a `namespaceSelector` is the `io.cilium.k8s.namespace.labels.` labels (an empty one:
//!   `io.kubernetes.pod.namespace` exists, i.e. every namespace);
//! - an `ipBlock` is a `fromCIDRSet` entry (neither matches pods: `IpBlockPods::Ignore`);
//! - a port's protocol defaults to TCP in NP and to any in Cilium, so it is always written;
//!   a port-less NP entry is port "0" (every port) in Cilium;
//! - an empty rule list (`ingress: []` with the direction in policyTypes) is `ingress: [{}]`.

use proptest::prelude::*;

use super::cilium_tests::native;
use super::incremental_tests::{cluster, snapshot};
use super::*;
use crate::model::{ClusterSnapshot, NativeKind, ObjectRef, PolicyInfo};

#[derive(Debug, Clone)]
pub(super) enum APeer {
    Pods(usize),
    Namespaces(usize),
    Both(usize, usize),
    Ip(usize),
}

#[derive(Debug, Clone)]
pub(super) struct ARule {
    pub(super) peers: Option<Vec<APeer>>,
    pub(super) ports: Option<Vec<usize>>,
}

#[derive(Debug, Clone)]
pub(super) struct APolicy {
    pub(super) sel: usize,
    pub(super) ingress: Option<Vec<ARule>>,
    pub(super) egress: Option<Vec<ARule>>,
}

/// A selector as YAML fragments: (matchLabels entries, matchExpressions entries).
pub(super) type Sel = (&'static str, &'static str);

/// Pod selectors.
pub(super) const PODS: [Sel; 3] = [
    ("", ""),
    ("app: web", ""),
    ("", "{key: app, operator: NotIn, values: [db]}"),
];
/// Namespace selectors: NetworkPolicy form, Cilium form.
pub(super) const NAMESPACES: [(Sel, Sel); 3] = [
    (
        ("", ""),
        ("", "{key: io.kubernetes.pod.namespace, operator: Exists}"),
    ),
    (
        ("tier: tb", ""),
        ("io.cilium.k8s.namespace.labels.tier: tb", ""),
    ),
    (
        ("", "{key: tier, operator: In, values: [ta, tc]}"),
        (
            "",
            "{key: io.cilium.k8s.namespace.labels.tier, operator: In, values: [ta, tc]}",
        ),
    ),
];
pub(super) const BLOCKS: [(&str, &str); 3] = [
    ("10.0.0.0/8", "[10.0.98.0/24]"),
    ("8.8.8.0/24", "[]"),
    ("0.0.0.0/0", "[10.0.0.0/8]"),
];
/// Ports: NetworkPolicy form, Cilium form.
pub(super) const PORTS: [(&str, &str); 4] = [
    (
        "{protocol: TCP, port: 801}",
        "{port: \"801\", protocol: TCP}",
    ),
    (
        "{protocol: UDP, port: 800, endPort: 803}",
        "{port: \"800\", endPort: 803, protocol: UDP}",
    ),
    ("{protocol: TCP, port: http}", "{port: http, protocol: TCP}"),
    ("{protocol: SCTP}", "{port: \"0\", protocol: SCTP}"),
];

pub(super) fn selector(parts: &[Sel]) -> String {
    let labels: Vec<&str> = parts
        .iter()
        .map(|p| p.0)
        .filter(|s| !s.is_empty())
        .collect();
    let exprs: Vec<&str> = parts
        .iter()
        .map(|p| p.1)
        .filter(|s| !s.is_empty())
        .collect();
    let mut out = Vec::new();
    if !labels.is_empty() {
        out.push(format!("matchLabels: {{{}}}", labels.join(", ")));
    }
    if !exprs.is_empty() {
        out.push(format!("matchExpressions: [{}]", exprs.join(", ")));
    }
    format!("{{{}}}", out.join(", "))
}

pub(super) fn np_yaml(ns: &str, name: &str, p: &APolicy) -> String {
    let rule = |r: &ARule, key: &str| {
        let mut fields = Vec::new();
        if let Some(peers) = &r.peers {
            let peers: Vec<String> = peers
                .iter()
                .map(|peer| match peer {
                    APeer::Pods(s) => format!("{{podSelector: {}}}", selector(&[PODS[*s]])),
                    APeer::Namespaces(n) => {
                        format!("{{namespaceSelector: {}}}", selector(&[NAMESPACES[*n].0]))
                    }
                    APeer::Both(n, s) => format!(
                        "{{namespaceSelector: {}, podSelector: {}}}",
                        selector(&[NAMESPACES[*n].0]),
                        selector(&[PODS[*s]])
                    ),
                    APeer::Ip(b) => format!(
                        "{{ipBlock: {{cidr: {}, except: {}}}}}",
                        BLOCKS[*b].0, BLOCKS[*b].1
                    ),
                })
                .collect();
            fields.push(format!("{key}: [{}]", peers.join(", ")));
        }
        if let Some(ports) = &r.ports {
            let ports: Vec<&str> = ports.iter().map(|i| PORTS[*i].0).collect();
            fields.push(format!("ports: [{}]", ports.join(", ")));
        }
        format!("{{{}}}", fields.join(", "))
    };
    let mut types = Vec::new();
    let mut body = String::new();
    for (dir, key, rules) in [("Ingress", "from", &p.ingress), ("Egress", "to", &p.egress)] {
        if let Some(rules) = rules {
            types.push(dir);
            let list: Vec<String> = rules.iter().map(|r| rule(r, key)).collect();
            body.push_str(&format!(
                "  {}: [{}]\n",
                dir.to_ascii_lowercase(),
                list.join(", ")
            ));
        }
    }
    format!(
        "metadata: {{name: {name}, namespace: {ns}}}\nspec:\n  podSelector: {}\n  policyTypes: [{}]\n{body}",
        selector(&[PODS[p.sel]]),
        types.join(", ")
    )
}

fn cnp_yaml(ns: &str, name: &str, p: &APolicy) -> String {
    let rules = |r: &ARule, dir: &str| -> Vec<String> {
        let ports = r.ports.as_ref().map(|ports| {
            let ports: Vec<&str> = ports.iter().map(|i| PORTS[*i].1).collect();
            format!(", toPorts: [{{ports: [{}]}}]", ports.join(", "))
        });
        let ports = ports.unwrap_or_default();
        let Some(peers) = &r.peers else {
            return vec![format!("{{{dir}Entities: [all]{ports}}}")];
        };
        peers
            .iter()
            .map(|peer| {
                let l3 = match peer {
                    APeer::Pods(s) => {
                        format!("{dir}Endpoints: [{}]", selector(&[PODS[*s]]))
                    }
                    APeer::Namespaces(n) => {
                        format!("{dir}Endpoints: [{}]", selector(&[NAMESPACES[*n].1]))
                    }
                    APeer::Both(n, s) => format!(
                        "{dir}Endpoints: [{}]",
                        selector(&[NAMESPACES[*n].1, PODS[*s]])
                    ),
                    APeer::Ip(b) => format!(
                        "{dir}CIDRSet: [{{cidr: {}, except: {}}}]",
                        BLOCKS[*b].0, BLOCKS[*b].1
                    ),
                };
                format!("{{{l3}{ports}}}")
            })
            .collect()
    };
    let mut body = String::new();
    for (key, dir, list) in [("ingress", "from", &p.ingress), ("egress", "to", &p.egress)] {
        if let Some(list) = list {
            let all: Vec<String> = list.iter().flat_map(|r| rules(r, dir)).collect();
            let all = match all.is_empty() {
                true => "{}".to_string(),
                false => all.join(", "),
            };
            body.push_str(&format!("  {key}: [{all}]\n"));
        }
    }
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  endpointSelector: {}\n{body}",
        selector(&[PODS[p.sel]])
    )
}

fn peer() -> impl Strategy<Value = APeer> {
    prop_oneof![
        (0usize..3).prop_map(APeer::Pods),
        (0usize..3).prop_map(APeer::Namespaces),
        (0usize..3, 0usize..3).prop_map(|(n, s)| APeer::Both(n, s)),
        (0usize..3).prop_map(APeer::Ip),
    ]
}

fn rule() -> impl Strategy<Value = ARule> {
    (
        prop::option::of(prop::collection::vec(peer(), 1..3)),
        prop::option::of(prop::collection::vec(0usize..4, 1..3)),
    )
        .prop_map(|(peers, ports)| ARule { peers, ports })
}

pub(super) fn policy() -> impl Strategy<Value = APolicy> {
    (
        0usize..3,
        prop::option::of(prop::collection::vec(rule(), 0..3)),
        prop::option::of(prop::collection::vec(rule(), 0..3)),
    )
        // An empty policyTypes means Ingress (the API server's default): keep it explicit.
        .prop_map(|(sel, ingress, egress)| APolicy {
            sel,
            ingress: match (&ingress, &egress) {
                (None, None) => Some(Vec::new()),
                _ => ingress,
            },
            egress,
        })
}

fn settings() -> Settings {
    Settings::uniform(IpBlockPods::Ignore)
}

/// Every class pair and every class with every external atom, both ways.
pub(super) fn matrix(e: &Engine) -> Vec<(Peer, Peer, Verdict)> {
    let n = e.classes().classes.len();
    let ext = e.externals();
    let mut out = Vec::new();
    for s in 0..n {
        for d in 0..n {
            let (a, b) = (Peer::Class(s), Peer::Class(d));
            out.push((a, b, e.verdict(&a, &b)));
        }
        for r in &ext.sources {
            let (a, b) = (Peer::External(*r), Peer::Class(s));
            out.push((a, b, e.verdict(&a, &b)));
        }
        for r in &ext.destinations {
            let (a, b) = (Peer::Class(s), Peer::External(*r));
            out.push((a, b, e.verdict(&a, &b)));
        }
    }
    out
}

fn both(policies: &[(usize, APolicy)]) -> (ClusterSnapshot, ClusterSnapshot) {
    let base = snapshot(&cluster());
    let mut nps = base.clone();
    let mut cnps = base;
    for (i, (ns, p)) in policies.iter().enumerate() {
        let ns = ["a", "b", "c"][ns % 3];
        let name = format!("p{i}");
        let np = np_yaml(ns, &name, p);
        nps.policies.insert(
            ObjectRef::new(ns, &name),
            PolicyInfo {
                id: ObjectRef::new(ns, &name),
                object: crate::yaml::from_str(&np).expect("np yaml"),
            },
        );
        let info = native(NativeKind::CiliumNetworkPolicy, &cnp_yaml(ns, &name, p));
        cnps.natives.insert(info.id.clone(), info);
    }
    (nps, cnps)
}

fn check_equivalent(policies: &[(usize, APolicy)]) -> Result<(), TestCaseError> {
    let (nps, cnps) = both(policies);
    let a = Engine::new(&nps, settings());
    let b = Engine::new(&cnps, settings());
    let errors: Vec<_> = a.validation_errors().chain(b.validation_errors()).collect();
    prop_assert!(errors.is_empty(), "{:?}", errors);
    prop_assert_eq!(a.classes(), b.classes());
    prop_assert_eq!(a.externals(), b.externals());
    for ((s, d, va), (_, _, vb)) in matrix(&a).into_iter().zip(matrix(&b)) {
        // The cached rows and the traced evaluation agree.
        prop_assert_eq!(
            &explain(&b, &s, &d).allowed,
            &vb.allowed,
            "{:?} -> {:?}",
            s,
            d
        );
        prop_assert_eq!(
            &va,
            &vb,
            "{:?} -> {:?}\nNP:\n{}\nCNP:\n{}",
            s,
            d,
            policies
                .iter()
                .map(|(ns, p)| np_yaml(["a", "b", "c"][ns % 3], "x", p))
                .collect::<String>(),
            policies
                .iter()
                .map(|(ns, p)| cnp_yaml(["a", "b", "c"][ns % 3], "x", p))
                .collect::<String>()
        );
    }
    Ok(())
}

const DENY_CACHE_TO_WEB: &str = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n\
metadata: {name: deny-cache-web}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  \
enableDefaultDeny: {ingress: false}\n  ingressDeny:\n  - fromEndpoints: [{matchLabels: {app: cache}}]\n    \
toPorts: [{ports: [{port: \"801\", protocol: TCP}]}]\n";

fn check_deny_closes_named_pairs(policies: &[(usize, APolicy)]) -> Result<(), TestCaseError> {
    let (nps, _) = both(policies);
    let before = Engine::new(&nps, settings());
    let mut with_deny = nps.clone();
    let deny = native(
        NativeKind::CiliumClusterwideNetworkPolicy,
        DENY_CACHE_TO_WEB,
    );
    with_deny.natives.insert(deny.id.clone(), deny);
    let after = Engine::new(&with_deny, settings());
    let closed = ConnSet::ports(Protocol::Tcp, 801, 801);
    let app = |e: &Engine, p: &Peer| match p {
        Peer::Class(c) => e.classes().classes[*c].endpoint.labels.get("app").cloned(),
        Peer::External(_) => None,
    };
    for ((s, d, vb), (_, _, va)) in matrix(&before).into_iter().zip(matrix(&after)) {
        prop_assert_eq!(
            &explain(&after, &s, &d).allowed,
            &va.allowed,
            "{:?} -> {:?}",
            s,
            d
        );
        let named = app(&before, &s).as_deref() == Some("cache")
            && app(&before, &d).as_deref() == Some("web");
        let expected = match named {
            true => vb.allowed.subtract(&closed),
            false => vb.allowed.clone(),
        };
        prop_assert_eq!(&va.allowed, &expected, "{:?} -> {:?}", s, d);
    }
    Ok(())
}

#[test]
fn a_hand_picked_set_translates_exactly() {
    let rules = vec![
        ARule {
            peers: Some(vec![APeer::Both(1, 1), APeer::Ip(0)]),
            ports: Some(vec![0, 2]),
        },
        ARule {
            peers: None,
            ports: Some(vec![3]),
        },
    ];
    let p = APolicy {
        sel: 1,
        ingress: Some(rules.clone()),
        egress: Some(vec![]),
    };
    let q = APolicy {
        sel: 2,
        ingress: None,
        egress: Some(rules),
    };
    check_equivalent(&[(0, p), (1, q)]).unwrap();
}

/// Applies CNP changes one at a time (`None` deletes) and compares with a rebuild each time.
fn check_incremental(changes: &[(usize, usize, Option<APolicy>)]) -> Result<(), TestCaseError> {
    let mut snap = snapshot(&cluster());
    let mut inc = Engine::new(&snap, settings());
    for (ns, slot, p) in changes {
        let ns = ["a", "b", "c"][ns % 3];
        let name = format!("p{}", slot % 2);
        let id = crate::model::NativeRef::new(NativeKind::CiliumNetworkPolicy, ns, &name);
        let info = p
            .as_ref()
            .map(|p| native(NativeKind::CiliumNetworkPolicy, &cnp_yaml(ns, &name, p)));
        let (stats, errors) = inc.update_native(&id, info.as_ref());
        prop_assert!(errors.is_empty(), "{:?}", errors);
        match info {
            Some(info) => snap.natives.insert(id, info),
            None => snap.natives.remove(&id),
        };
        // A CNP selects only its namespace's classes.
        let in_ns = inc.classes().by_namespace.get(ns).map_or(0, Vec::len);
        prop_assert!(stats.full_rebuild || stats.recomputed_classes <= in_ns);
        let full = Engine::new(&snap, settings());
        prop_assert_eq!(inc.rows_fingerprint(), full.rows_fingerprint());
        for ((s, d, vi), (_, _, vf)) in matrix(&inc).into_iter().zip(matrix(&full)) {
            prop_assert_eq!(vi, vf, "{:?} -> {:?}", s, d);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn update_native_equals_a_rebuild(
        changes in prop::collection::vec((0usize..3, 0usize..2, prop::option::of(policy())), 1..5),
    ) {
        check_incremental(&changes)?;
    }

    #[test]
    fn network_policies_as_cilium_policies_give_the_same_matrix(
        policies in prop::collection::vec((0usize..3, policy()), 1..5),
    ) {
        check_equivalent(&policies)?;
    }

    #[test]
    fn a_cilium_deny_on_top_closes_exactly_the_pairs_it_names(
        policies in prop::collection::vec((0usize..3, policy()), 0..4),
    ) {
        check_deny_closes_named_pairs(&policies)?;
    }
}
