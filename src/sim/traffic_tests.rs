use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::cluster::convert;
use crate::metrics::{Cni, extract, parse::parse};
use crate::sim::Scenario;
use crate::sim::agents::Endpoint;
use crate::sim::telemetry::Telemetry;

fn builtin() -> ClusterSnapshot {
    Scenario::builtin().snapshot().unwrap()
}

fn add_policy(
    snapshot: &mut ClusterSnapshot,
    namespace: &str,
    name: &str,
    spec: serde_json::Value,
) {
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec,
    });
    snapshot.upsert(convert::policy(&serde_json::from_value(policy).unwrap()));
}

/// Adds a ClusterNetworkPolicy, as the agents' snapshot holds it.
fn add_cluster_policy(snapshot: &mut ClusterSnapshot, name: &str, spec: serde_json::Value) {
    let object = json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name}, "spec": spec,
    });
    let kind = crate::model::TierKind::ClusterNetworkPolicy;
    let info = crate::model::TierPolicyInfo::new(kind, serde_json::from_value(object).unwrap());
    snapshot.upsert(crate::model::ClusterObject::Tier(info.unwrap()));
}

fn deny_ingress(snapshot: &mut ClusterSnapshot, namespace: &str) {
    let spec = json!({"podSelector": {}, "policyTypes": ["Ingress"]});
    add_policy(snapshot, namespace, "deny-all-ingress", spec);
}

/// Denied packets per second between two namespaces, over nodes and protocols.
fn denied(rates: &Rates, src: &str, dst: &str, direction: Direction) -> f64 {
    rates
        .denied
        .iter()
        .filter(|(k, _)| k.source_namespace == src && k.destination_namespace == dst)
        .filter(|(k, _)| k.direction == direction)
        .map(|(_, r)| r)
        .sum()
}

/// Rate of the plan's flows between two namespaces.
fn planned(plan: &TrafficPlan, src: &str, dst: &str) -> f64 {
    plan.flows
        .iter()
        .filter(|f| {
            plan.workloads[f.src].namespace == src && plan.workloads[f.dst].namespace == dst
        })
        .map(|f| f.rate)
        .sum()
}

#[test]
fn the_builtin_plan_has_dns_namespace_and_probe_flows() {
    let snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    assert_eq!(plan, TrafficPlan::from_snapshot(&snapshot), "deterministic");
    assert!(
        plan.workloads
            .iter()
            .all(|w| w.selector.get("k8s-app").map(String::as_str) != Some("cilium")),
        "agents send no workload traffic"
    );
    let kinds = |k: FlowKind| plan.flows.iter().filter(|f| f.kind == k).count();
    let outside_kube_system = plan
        .workloads
        .iter()
        .filter(|w| w.namespace != "kube-system");
    assert_eq!(kinds(FlowKind::Dns), 2 * outside_kube_system.count());
    assert!(
        kinds(FlowKind::Workload) >= 12,
        "{}",
        kinds(FlowKind::Workload)
    );
    assert!((1..=PROBES).contains(&kinds(FlowKind::Probe)));
    for f in &plan.flows {
        assert!(f.rate > 0.0, "{f:?}");
        if f.kind == FlowKind::Probe {
            let tenant =
                |w: usize| &snapshot.namespaces[&plan.workloads[w].namespace].labels["tenant"];
            assert_ne!(tenant(f.src), tenant(f.dst));
        }
    }
    assert!(
        planned(&plan, "acme-api", "acme-api") > 0.0,
        "orders and payments talk"
    );
    assert!(
        planned(&plan, "acme-web", "acme-web") > 0.0,
        "storefront replicas talk"
    );
}

#[test]
fn baseline_drops_are_the_scenarios_deliberate_gaps_and_probes() {
    let snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let rates = plan.evaluate(&snapshot);
    // initech allows DNS over UDP only: TCP 53 is dropped on egress, at the source.
    for ns in ["initech-web", "initech-app", "initech-db"] {
        let tcp_dns: f64 = rates
            .denied
            .iter()
            .filter(|(k, _)| k.source_namespace == ns && k.destination_namespace == "kube-system")
            .inspect(|(k, _)| {
                assert_eq!(
                    (k.direction, k.protocol),
                    (Direction::Egress, Protocol::Tcp)
                )
            })
            .map(|(_, r)| r)
            .sum();
        assert!(tcp_dns > 0.0, "{ns}");
    }
    assert_eq!(
        denied(&rates, "acme-web", "kube-system", Direction::Egress),
        0.0
    );
    for ns in ["acme-api", "globex-web", "umbrella-api"] {
        assert_eq!(denied(&rates, ns, ns, Direction::Ingress), 0.0, "{ns}");
    }
    assert!(rates.forwarded.values().sum::<f64>() > 0.0);
    assert_eq!(rates.policies, snapshot.policies.len());
    let endpoints: usize = rates.endpoints.values().sum();
    assert_eq!(
        endpoints,
        Scenario::builtin().pod_count() + Scenario::builtin().relay_count(),
        "agents (host network) are not endpoints; the relay pod is"
    );
}

#[test]
fn the_agents_snapshot_holds_the_scenarios_tier_policies() {
    let snapshot = builtin();
    assert_eq!(snapshot.tiers.len(), Scenario::builtin().tier_count());
    let plan = TrafficPlan::from_snapshot(&snapshot);
    assert_eq!(plan.reduce(&snapshot).snapshot.tiers, snapshot.tiers);
}

/// The Admin tier decides before NetworkPolicies: acme-web's allow-dns admits DNS, an Admin
/// Deny on acme-web's egress to kube-system drops it anyway, at the source.
#[test]
fn an_admin_deny_drops_a_flow_network_policies_allow() {
    let mut snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let egress = |r: &Rates| denied(r, "acme-web", "kube-system", Direction::Egress);
    assert_eq!(egress(&plan.evaluate(&snapshot)), 0.0);
    add_cluster_policy(
        &mut snapshot,
        "deny-acme-web-dns",
        json!({
            "tier": "Admin", "priority": 0,
            "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "acme-web"}}},
            "egress": [{"name": "no-dns", "action": "Deny",
                        "to": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]}],
        }),
    );
    let rates = plan.evaluate(&snapshot);
    let planned = planned(&plan, "acme-web", "kube-system");
    assert!(planned > 0.0);
    assert!(
        (egress(&rates) - planned).abs() < 1e-9,
        "dropped {} of {planned}",
        egress(&rates)
    );
}

#[test]
fn deny_all_ingress_drops_a_namespaces_traffic_on_its_nodes() {
    let mut snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let before = plan.evaluate(&snapshot);
    // Policies only add allows: acme-api's allow-same-tenant still admits acme-api itself.
    deny_ingress(&mut snapshot, "acme-api");
    let same = plan.evaluate(&snapshot);
    assert_eq!(
        (&same.denied, &same.forwarded),
        (&before.denied, &before.forwarded)
    );
    // kube-system has no policies: isolating it cuts DNS from every namespace, at kube-dns.
    deny_ingress(&mut snapshot, "kube-system");
    let rates = plan.evaluate(&snapshot);
    for ns in ["acme-api", "globex-web", "umbrella-data"] {
        let dropped = denied(&rates, ns, "kube-system", Direction::Ingress);
        assert!(
            (dropped - planned(&plan, ns, "kube-system")).abs() < 1e-9,
            "{ns}"
        );
    }
    let new_ingress = rates
        .denied
        .keys()
        .filter(|k| k.direction == Direction::Ingress && !before.denied.contains_key(k));
    for key in new_ingress {
        assert_eq!(key.destination_namespace, "kube-system");
        let on_node = snapshot.pods_in("kube-system").any(|p| {
            p.labels.get("k8s-app").map(String::as_str) == Some("kube-dns")
                && p.node.as_deref() == Some(key.node.as_str())
        });
        assert!(
            on_node,
            "ingress drops are counted where the destination runs: {key:?}"
        );
    }
    // initech's TCP DNS was already dropped on egress, at the source: still so.
    let egress = |r: &Rates| denied(r, "initech-app", "kube-system", Direction::Egress);
    assert!(egress(&rates) > 0.0 && (egress(&rates) - egress(&before)).abs() < 1e-9);
}

#[test]
fn verdicts_agree_with_the_engine_on_the_whole_cluster() {
    let mut snapshot = builtin();
    deny_ingress(&mut snapshot, "globex-api");
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let full = Engine::new(&snapshot, Settings::uniform(IpBlockPods::Ignore));
    let reduced = plan.reduce(&snapshot);
    let members = reduced.members.clone();
    let rates = plan.evaluate_all(reduced, false).0;
    let mut expected_denied = 0.0;
    let mut total = 0.0;
    for f in &plan.flows {
        let pairs: Vec<_> = members[f.src]
            .iter()
            .flat_map(|s| members[f.dst].iter().map(move |d| (s, d)))
            .filter(|(s, d)| s != d)
            .collect();
        for (s, d) in &pairs {
            let allowed = full.allowed_between_pods(s, d).unwrap();
            let share = f.rate / pairs.len() as f64;
            total += share;
            if !allowed.contains(f.protocol, f.port) {
                expected_denied += share;
            }
        }
    }
    let got_denied: f64 = rates.denied.values().sum();
    let got_forwarded: f64 = rates.forwarded.values().sum();
    assert!(
        (got_denied - expected_denied).abs() < 1e-9,
        "{got_denied} vs {expected_denied}"
    );
    assert!((got_denied + got_forwarded - total).abs() < 1e-9);
}

#[test]
fn replaced_pods_carry_their_workloads_traffic() {
    let mut snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    deny_ingress(&mut snapshot, "kube-system");
    let before = denied(
        &plan.evaluate(&snapshot),
        "acme-api",
        "kube-system",
        Direction::Ingress,
    );
    let ids: Vec<_> = snapshot.pods_in("acme-api").map(|p| p.id.clone()).collect();
    for id in ids {
        let mut pod = Arc::unwrap_or_clone(snapshot.pods.remove(&id).unwrap());
        pod.id.name = format!("{}-c1", pod.id.name);
        Arc::make_mut(&mut pod.labels).insert("palisade-churn".into(), "7".into());
        snapshot.pods.insert(pod.id.clone(), pod);
    }
    let after = denied(
        &plan.evaluate(&snapshot),
        "acme-api",
        "kube-system",
        Direction::Ingress,
    );
    assert!(
        before > 0.0 && (before - after).abs() < 1e-9,
        "{before} vs {after}"
    );
}

#[test]
fn large_clusters_get_a_bounded_plan() {
    let snapshot = Scenario::generated("60,6000,600".parse().unwrap())
        .snapshot()
        .unwrap();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    assert!(
        plan.flows.len() <= MAX_FLOWS + PROBES,
        "{}",
        plan.flows.len()
    );
    assert!(plan.flows.len() >= MAX_FLOWS);
    let namespaces: BTreeSet<_> = plan
        .flows
        .iter()
        .map(|f| &plan.workloads[f.src].namespace)
        .collect();
    assert!(
        namespaces.len() >= 50,
        "thinning keeps every part of the cluster: {}",
        namespaces.len()
    );
}

fn key(node: &str, direction: Direction) -> DropKey {
    DropKey {
        node: node.into(),
        direction,
        protocol: Protocol::Tcp,
        source_namespace: "a".into(),
        destination_namespace: "b".into(),
    }
}

#[test]
fn counters_are_exact_functions_of_time_and_freeze_when_allowed() {
    let mut t = Telemetry::new(vec!["n1".into()]);
    let k = key("n1", Direction::Ingress);
    let denying = Rates {
        denied: [(k.clone(), 2.5)].into(),
        ..Rates::default()
    };
    t.apply(10.0, denying.clone(), 1);
    assert_eq!(t.denied(&k, 10.0), 0.0);
    assert_eq!(t.denied(&k, 14.0), 10.0);
    t.apply(20.0, Rates::default(), 2); // allowed again
    assert_eq!(t.denied(&k, 20.0), 25.0);
    assert_eq!(t.denied(&k, 500.0), 25.0, "frozen");
    t.apply(30.0, denying, 3);
    assert_eq!(t.denied(&k, 32.0), 30.0, "resumes from where it froze");
    let text = t.render(Endpoint::Hubble, "n1", 32.0);
    assert!(text.contains("hubble_drop_total{destination_namespace=\"b\",protocol=\"TCP\",reason=\"POLICY_DENIED\",source_namespace=\"a\"} 30\n"), "{text}");
}

/// A quiet cluster still updates endpoints: every background round adds one propagation
/// observation per node, so `:latency` has figures without any change (issue 16 §4).
#[test]
fn background_updates_add_a_propagation_observation_on_every_node() {
    let nodes = vec!["n1".to_string(), "n2".to_string()];
    let mut t = Telemetry::new(nodes.clone());
    let count = |t: &Telemetry, node: &str| -> f64 {
        let text = t.render(Endpoint::Agent, node, 0.0);
        let line = text
            .lines()
            .find(|l| l.starts_with("cilium_endpoint_propagation_delay_seconds_count"))
            .unwrap_or_else(|| panic!("no propagation count: {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(count(&t, "n1"), 0.0);
    t.observe_background_updates();
    t.observe_background_updates();
    for node in &nodes {
        assert_eq!(count(&t, node), 2.0, "{node}");
    }
}

#[test]
fn served_text_parses_cleanly_and_the_adapters_attribute_it() {
    let mut snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let nodes = Scenario::builtin().effective_nodes();
    let mut t = Telemetry::new(nodes.clone());
    let baseline = plan.evaluate(&snapshot);
    let ingress = |r: &Rates| -> f64 {
        r.denied
            .iter()
            .filter(|(k, _)| k.direction == Direction::Ingress)
            .map(|(_, r)| r)
            .sum()
    };
    let baseline_ingress = ingress(&baseline);
    t.apply(0.0, baseline, 54);
    deny_ingress(&mut snapshot, "kube-system");
    t.observe_policy_change(snapshot.policies.len());
    let rates = plan.evaluate(&snapshot);
    let ingress_rate = ingress(&rates);
    t.apply(1.0, rates, 55);
    let mut hubble_pairs = BTreeSet::new();
    let mut cilium_ingress = 0.0;
    for node in &nodes {
        let agent = parse(&t.render(Endpoint::Agent, node, 61.0)).unwrap();
        assert!(agent.errors.is_empty(), "{:?}", agent.errors);
        let m = extract(Cni::Cilium, &agent, Some(node));
        cilium_ingress += m
            .drops
            .iter()
            .filter(|d| d.direction.as_deref() == Some("ingress"))
            .map(|d| d.count)
            .sum::<f64>();
        assert_eq!(m.health[0].value, snapshot.policies.len() as f64);
        let delay = &m.latencies[0];
        assert_eq!(
            (delay.metric.as_str(), delay.count),
            ("cilium_policy_implementation_delay", 1.0)
        );
        assert!((0.02..=0.6).contains(&delay.sum), "{}", delay.sum);
        let hubble = parse(&t.render(Endpoint::Hubble, node, 61.0)).unwrap();
        assert!(hubble.errors.is_empty(), "{:?}", hubble.errors);
        for d in extract(Cni::Hubble, &hubble, Some(node)).drops {
            hubble_pairs.insert((
                d.source_namespace.unwrap(),
                d.destination_namespace.unwrap(),
            ));
        }
    }
    let expected = baseline_ingress + ingress_rate * 60.0;
    assert!(expected > 0.0);
    assert!(
        (cilium_ingress - expected).abs() <= nodes.len() as f64,
        "{cilium_ingress} vs {expected}"
    );
    assert!(hubble_pairs.contains(&("acme-api".into(), "kube-system".into())));
    assert!(hubble_pairs.contains(&("initech-web".into(), "kube-system".into())));
}

/// The scenario's tier policies decide as scenario.yaml's header says, with the engine the
/// agents use (Cilium semantics).
#[test]
fn the_scenarios_tier_policies_decide_as_designed() {
    let mut snapshot = builtin();
    let pod = |snapshot: &ClusterSnapshot, ns: &str, app: (&str, &str)| {
        snapshot
            .pods_in(ns)
            .find(|p| p.labels.get(app.0).map(String::as_str) == Some(app.1))
            .map(|p| p.id.clone())
            .unwrap_or_else(|| panic!("no {app:?} pod in {ns}"))
    };
    let allows = |snapshot: &ClusterSnapshot, src: &ObjectRef, dst: &ObjectRef, port: u16| {
        let engine = Engine::new(snapshot, Settings::uniform(IpBlockPods::Ignore));
        engine
            .allowed_between_pods(src, dst)
            .expect("both pods known")
            .contains(Protocol::Tcp, port)
    };
    let mysql = pod(&snapshot, "initech-db", ("app", "mysql"));
    // Misconfiguration 4: the Admin Accept lets every tier=data namespace into initech's MySQL;
    // umbrella-data's egress is open, so it gets through; acme-data's egress stops it.
    let umbrella = pod(&snapshot, "umbrella-data", ("app", "postgres"));
    assert!(allows(&snapshot, &umbrella, &mysql, 3306));
    assert!(!allows(&snapshot, &umbrella, &mysql, 9100));
    let acme = pod(&snapshot, "acme-data", ("app", "postgres"));
    assert!(!allows(&snapshot, &acme, &mysql, 3306));
    let prometheus = pod(
        &snapshot,
        "monitoring",
        ("app.kubernetes.io/name", "prometheus"),
    );
    assert!(allows(&snapshot, &prometheus, &mysql, 9100));
    // The Admin Deny on auth's admin port holds even when a NetworkPolicy admits everything.
    let auth = pod(&snapshot, "shared-services", ("app", "auth"));
    add_policy(
        &mut snapshot,
        "shared-services",
        "allow-everything",
        json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}),
    );
    assert!(allows(&snapshot, &prometheus, &auth, 8443));
    assert!(!allows(&snapshot, &prometheus, &auth, 9000));
    // The Baseline Deny between tenants decides where no NetworkPolicy does.
    let storefront = pod(&snapshot, "acme-web", ("app", "storefront"));
    let umbrella_web = pod(&snapshot, "umbrella-web", ("app", "research-portal"));
    let nginx = pod(
        &snapshot,
        "ingress-nginx",
        ("app.kubernetes.io/name", "ingress-nginx"),
    );
    assert!(!allows(&snapshot, &umbrella_web, &storefront, 8080));
    let acme_web: Vec<String> = snapshot
        .policies
        .keys()
        .filter(|p| p.namespace == "acme-web")
        .map(|p| p.name.clone())
        .collect();
    for name in acme_web {
        snapshot.remove(
            crate::model::ResourceKind::NetworkPolicy,
            Some("acme-web"),
            &name,
        );
    }
    assert!(!allows(&snapshot, &umbrella_web, &storefront, 8080));
    assert!(allows(&snapshot, &nginx, &storefront, 8080));
    snapshot.tiers.clear();
    assert!(allows(&snapshot, &umbrella_web, &storefront, 8080));
}
