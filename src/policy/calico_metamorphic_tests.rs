//! Metamorphic tests under Calico: random NetworkPolicy sets written again as Calico
//! NetworkPolicies in the default tier give the same matrix as the originals; a Deny in a tier
//! above closes exactly the pairs it names; a tier above that only passes changes nothing.
//! The Calico form follows Calico's docs:
//! - an NP rule's peers and ports are ORed: one Calico rule per peer and per port entry (a
//!   Calico rule has one protocol);
//! - a missing `from`/`to` is a rule without `source`/`destination` criteria;
//! - a `podSelector` alone is a rule `selector` (the policy's namespace in a namespaced
//!   policy); a `namespaceSelector` is the rule's `namespaceSelector` (`{}`: `all()`);
//! - an `ipBlock` is `nets` with its `except` as `notNets` (both match pod IPs: the
//!   original is evaluated with `IpBlockPods::Match`);
//! - `policyTypes` is `types`; a rule-less direction ends in the default tier's Deny.
//!
//! Classes may be cut differently (Calico's `nets` and `notNets` split pods separately), so
//! the matrices are compared pod by pod, and external addresses by a fixed set of addresses.

use proptest::prelude::*;

use super::calico_tests::{calico_settings, native};
use super::cilium_metamorphic_tests::{
    APeer, APolicy, ARule, BLOCKS, NAMESPACES, PODS, Sel, np_yaml, policy,
};
use super::incremental_tests::{cluster, snapshot};
use super::*;
use crate::model::{ClusterSnapshot, NativeKind, NativeRef, ObjectRef, PolicyInfo};

/// A Kubernetes label selector of the generator as a Calico selector.
fn calico_selector(sel: Sel) -> String {
    match sel {
        ("", "") => "all()".into(),
        ("app: web", "") => "app == 'web'".into(),
        ("", "{key: app, operator: NotIn, values: [db]}") => "app not in {'db'}".into(),
        ("tier: tb", "") => "tier == 'tb'".into(),
        ("", "{key: tier, operator: In, values: [ta, tc]}") => "tier in {'ta', 'tc'}".into(),
        other => panic!("no Calico form for {other:?}"),
    }
}

/// Ports as Calico (protocol, ports) pairs, in the order of the generator's `PORTS`.
const CALICO_PORTS: [&str; 4] = [
    "protocol: TCP, destination_ports: [801]",
    "protocol: UDP, destination_ports: ['800:803']",
    "protocol: TCP, destination_ports: [http]",
    "protocol: SCTP",
];

fn calico_rules(r: &ARule, side: &str) -> Vec<String> {
    let peers: Vec<String> = match &r.peers {
        None => vec![String::new()],
        Some(peers) => peers
            .iter()
            .map(|peer| match peer {
                APeer::Pods(s) => format!("selector: \"{}\"", calico_selector(PODS[*s])),
                APeer::Namespaces(n) => format!(
                    "namespaceSelector: \"{}\"",
                    calico_selector(NAMESPACES[*n].0)
                ),
                APeer::Both(n, s) => format!(
                    "namespaceSelector: \"{}\", selector: \"{}\"",
                    calico_selector(NAMESPACES[*n].0),
                    calico_selector(PODS[*s])
                ),
                APeer::Ip(b) => {
                    let except = BLOCKS[*b].1;
                    match except {
                        "[]" => format!("nets: [{}]", BLOCKS[*b].0),
                        _ => format!("nets: [{}], notNets: {except}", BLOCKS[*b].0),
                    }
                }
            })
            .collect(),
    };
    let ports: Vec<Option<&str>> = match &r.ports {
        None => vec![None],
        Some(ports) => ports.iter().map(|i| Some(CALICO_PORTS[*i])).collect(),
    };
    let mut out = Vec::new();
    for peer in &peers {
        for port in &ports {
            let (protocol, dst_ports) = match port {
                None => (String::new(), String::new()),
                Some(p) => match p.split_once(", destination_ports: ") {
                    Some((proto, list)) => (format!(", {proto}"), format!("ports: {list}")),
                    None => (format!(", {p}"), String::new()),
                },
            };
            // The peer is the source of an ingress rule, the destination of an egress rule;
            // ports are always the destination's.
            let (src, dst) = match side {
                "source" => (peer.clone(), dst_ports),
                _ => (String::new(), join(peer, &dst_ports)),
            };
            let mut fields = format!("action: Allow{protocol}");
            if !src.is_empty() {
                fields.push_str(&format!(", source: {{{src}}}"));
            }
            if !dst.is_empty() {
                fields.push_str(&format!(", destination: {{{dst}}}"));
            }
            out.push(format!("{{{fields}}}"));
        }
    }
    out
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}, {b}"),
    }
}

fn calico_yaml(ns: &str, name: &str, p: &APolicy) -> String {
    let mut types = Vec::new();
    let mut body = String::new();
    for (dir, side, rules) in [
        ("Ingress", "source", &p.ingress),
        ("Egress", "destination", &p.egress),
    ] {
        if let Some(rules) = rules {
            types.push(dir);
            let list: Vec<String> = rules.iter().flat_map(|r| calico_rules(r, side)).collect();
            body.push_str(&format!(
                "  {}: [{}]\n",
                dir.to_ascii_lowercase(),
                list.join(", ")
            ));
        }
    }
    format!(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: \"{}\"\n  types: [{}]\n{body}",
        calico_selector(PODS[p.sel]),
        types.join(", ")
    )
}

fn generic() -> Settings {
    Settings {
        cni: Cni::Generic,
        ..calico_settings()
    }
}

const ADDRESSES: [&str; 6] = [
    "10.0.98.7",
    "10.0.97.1",
    "10.200.0.1",
    "8.8.8.8",
    "9.9.9.9",
    "192.168.1.1",
];

/// Every pod pair, and every pod with each of `ADDRESSES` both ways: (what, verdict).
fn pod_matrix(e: &Engine) -> Vec<(String, Verdict)> {
    let pods: Vec<&ObjectRef> = e.snapshot().pods.keys().collect();
    let mut out = Vec::new();
    let ext = e.externals();
    let atom = |ranges: &[ipset::IpRange], ip: &str| {
        let addr: std::net::Ipv4Addr = ip.parse().unwrap();
        let r = ranges
            .iter()
            .find(|r| (r.lo..=r.hi).contains(&(u32::from(addr) as u128)))
            .copied()
            .unwrap();
        Peer::External(r)
    };
    for s in &pods {
        let sc = Peer::Class(e.class_of(s).unwrap());
        for d in &pods {
            let dc = Peer::Class(e.class_of(d).unwrap());
            out.push((format!("{s} -> {d}"), e.verdict(&sc, &dc)));
        }
        for ip in ADDRESSES {
            out.push((
                format!("{ip} -> {s}"),
                e.verdict(&atom(&ext.sources, ip), &sc),
            ));
            out.push((
                format!("{s} -> {ip}"),
                e.verdict(&sc, &atom(&ext.destinations, ip)),
            ));
        }
    }
    out
}

fn both(policies: &[(usize, APolicy)]) -> (ClusterSnapshot, ClusterSnapshot) {
    let base = snapshot(&cluster());
    let mut nps = base.clone();
    let mut calico = base;
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
        let info = native(NativeKind::CalicoNetworkPolicy, &calico_yaml(ns, &name, p));
        calico.natives.insert(info.id.clone(), info);
    }
    (nps, calico)
}

fn check_equivalent(policies: &[(usize, APolicy)]) -> Result<(), TestCaseError> {
    let (nps, calico) = both(policies);
    let a = Engine::new(&nps, generic());
    let a_calico = Engine::new(&nps, calico_settings());
    let b = Engine::new(&calico, calico_settings());
    let errors: Vec<_> = a.validation_errors().chain(b.validation_errors()).collect();
    prop_assert!(errors.is_empty(), "{:?}", errors);
    let (ma, mac, mb) = (pod_matrix(&a), pod_matrix(&a_calico), pod_matrix(&b));
    for (((what, va), (_, vac)), (_, vb)) in ma.iter().zip(&mac).zip(&mb) {
        prop_assert_eq!(va, vac, "NetworkPolicies under Calico's order: {}", what);
        prop_assert_eq!(
            va,
            vb,
            "{}\nNP:\n{}\nCalico:\n{}",
            what,
            policies
                .iter()
                .map(|(ns, p)| np_yaml(["a", "b", "c"][ns % 3], "x", p))
                .collect::<String>(),
            policies
                .iter()
                .map(|(ns, p)| calico_yaml(["a", "b", "c"][ns % 3], "x", p))
                .collect::<String>()
        );
    }
    // The cached rows and the traced walk agree.
    let n = b.classes().classes.len();
    for s in 0..n {
        for d in 0..n {
            let (s, d) = (Peer::Class(s), Peer::Class(d));
            prop_assert_eq!(&explain(&b, &s, &d).allowed, &b.verdict(&s, &d).allowed);
        }
    }
    Ok(())
}

const GUARD: &str = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: guard}\nspec: {order: 100, defaultAction: Pass}";
const DENY_CACHE_TO_WEB: &str = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n\
metadata: {name: guard.deny-cache-web}\nspec:\n  tier: guard\n  order: 1\n  selector: app == 'web'\n  \
ingress: [{action: Deny, protocol: TCP, source: {selector: app == 'cache'}, destination: {ports: [801]}}]\n";
const PASS_ALL: &str = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n\
metadata: {name: guard.pass}\nspec:\n  tier: guard\n  selector: all()\n  \
ingress: [{action: Pass}]\n  egress: [{action: Pass}]\n";

fn with(snap: &ClusterSnapshot, docs: &[(NativeKind, &str)]) -> ClusterSnapshot {
    let mut out = snap.clone();
    for (kind, doc) in docs {
        let info = native(*kind, doc);
        out.natives.insert(info.id.clone(), info);
    }
    out
}

fn check_tier_above(policies: &[(usize, APolicy)]) -> Result<(), TestCaseError> {
    let (_, calico) = both(policies);
    let before = Engine::new(&calico, calico_settings());
    let tier = (NativeKind::CalicoTier, GUARD);
    let gnp = NativeKind::CalicoGlobalNetworkPolicy;
    let denied = Engine::new(
        &with(&calico, &[tier, (gnp, DENY_CACHE_TO_WEB)]),
        calico_settings(),
    );
    let passed = Engine::new(&with(&calico, &[tier, (gnp, PASS_ALL)]), calico_settings());
    let closed = ConnSet::ports(Protocol::Tcp, 801, 801);
    let app = |what: &str, end: usize| {
        let pod = what.split(" -> ").nth(end).unwrap_or_default();
        let (ns, name) = pod.split_once('/').unwrap_or_default();
        let id = ObjectRef::new(ns, name);
        before
            .snapshot()
            .pods
            .get(&id)
            .and_then(|p| p.labels.get("app").cloned())
    };
    let (mb, md, mp) = (
        pod_matrix(&before),
        pod_matrix(&denied),
        pod_matrix(&passed),
    );
    for (((what, vb), (_, vd)), (_, vp)) in mb.iter().zip(&md).zip(&mp) {
        prop_assert_eq!(vb, vp, "a passing tier changes nothing: {}", what);
        let named =
            app(what, 0).as_deref() == Some("cache") && app(what, 1).as_deref() == Some("web");
        let expected = match named {
            true => vb.allowed.subtract(&closed),
            false => vb.allowed.clone(),
        };
        prop_assert_eq!(&vd.allowed, &expected, "{}", what);
    }
    Ok(())
}

/// Applies Calico policy changes one at a time (`None` deletes) and compares with a rebuild.
fn check_incremental(changes: &[(usize, usize, Option<APolicy>)]) -> Result<(), TestCaseError> {
    let mut snap = snapshot(&cluster());
    let mut inc = Engine::new(&snap, calico_settings());
    for (ns, slot, p) in changes {
        let ns = ["a", "b", "c"][ns % 3];
        let name = format!("p{}", slot % 2);
        let id = NativeRef::new(NativeKind::CalicoNetworkPolicy, ns, &name);
        let info = p
            .as_ref()
            .map(|p| native(NativeKind::CalicoNetworkPolicy, &calico_yaml(ns, &name, p)));
        let (stats, errors) = inc.update_native(&id, info.as_ref());
        prop_assert!(errors.is_empty(), "{:?}", errors);
        match info {
            Some(info) => snap.natives.insert(id, info),
            None => snap.natives.remove(&id),
        };
        let in_ns = inc.classes().by_namespace.get(ns).map_or(0, Vec::len);
        prop_assert!(stats.full_rebuild || stats.recomputed_classes <= in_ns);
        let full = Engine::new(&snap, calico_settings());
        prop_assert_eq!(inc.classes(), full.classes());
        prop_assert_eq!(inc.rows_fingerprint(), full.rows_fingerprint());
        prop_assert_eq!(pod_matrix(&inc), pod_matrix(&full));
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
    check_equivalent(&[(0, p.clone()), (1, q.clone())]).unwrap();
    check_tier_above(&[(0, p), (1, q)]).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn network_policies_as_calico_policies_give_the_same_matrix(
        policies in prop::collection::vec((0usize..3, policy()), 1..5),
    ) {
        check_equivalent(&policies)?;
    }

    #[test]
    fn a_deny_tier_above_closes_exactly_the_pairs_it_names_and_a_pass_tier_changes_nothing(
        policies in prop::collection::vec((0usize..3, policy()), 0..4),
    ) {
        check_tier_above(&policies)?;
    }

    #[test]
    fn calico_update_native_equals_a_rebuild(
        changes in prop::collection::vec((0usize..3, 0usize..2, prop::option::of(policy())), 1..5),
    ) {
        check_incremental(&changes)?;
    }
}
