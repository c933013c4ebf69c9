use std::collections::BTreeMap;

use super::*;
use crate::model::{ClusterSnapshot, ResourceKind};
use crate::sim::Scenario;
use crate::sim::traffic::TrafficPlan;

fn builtin() -> ClusterSnapshot {
    Scenario::builtin().snapshot().unwrap()
}

fn decisions(plan: &TrafficPlan, snapshot: &ClusterSnapshot) -> Decisions {
    plan.evaluate_all(plan.reduce(snapshot), true).1.unwrap()
}

fn break_acme_web_dns(snapshot: &mut ClusterSnapshot) {
    snapshot.remove(ResourceKind::NetworkPolicy, Some("acme-web"), "allow-dns");
}

fn generator(rate: f64, lagging: &[(&str, f64)]) -> FlowGenerator {
    FlowGenerator {
        rate,
        seed: 0.25,
        lagging: lagging.iter().map(|(n, l)| (Name::from(*n), *l)).collect(),
        epoch: SystemTime::UNIX_EPOCH,
    }
}

fn timeline(d: Decisions) -> Timeline {
    let mut t = Timeline::default();
    t.push(0.0, d, &[]);
    t
}

/// acme-web's DNS lookups over UDP.
fn acme_web_dns(f: &FlowRecord) -> bool {
    f.src.namespace.as_deref() == Some("acme-web")
        && f.dst.namespace.as_deref() == Some("kube-system")
        && f.service() == "UDP/53"
}

/// The node each pod runs on.
fn nodes(snapshot: &ClusterSnapshot) -> BTreeMap<String, String> {
    snapshot
        .pods
        .values()
        .map(|p| (p.id.name.clone(), p.node.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn denying_acme_webs_dns_drops_its_dns_flows_at_the_source_by_policy() {
    let mut snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    break_acme_web_dns(&mut snapshot);
    let flows = generator(500.0, &[]).flows(&timeline(decisions(&plan, &snapshot)), 0.0, 60.0);
    let nodes = nodes(&snapshot);
    let dns: Vec<&FlowRecord> = flows.iter().filter(|f| acme_web_dns(f)).collect();
    assert!(dns.len() > 20, "{} acme-web DNS flows", dns.len());
    for f in dns {
        assert_eq!(f.verdict, DataplaneVerdict::Dropped, "{f:?}");
        assert_eq!(f.reason.as_deref(), Some(POLICY_DENIED));
        assert_eq!(f.direction, Some(Direction::Egress));
        let src_node = &nodes[f.src.pod.as_deref().unwrap()];
        assert_eq!(
            f.node.as_deref(),
            Some(src_node.as_str()),
            "the source's node"
        );
        assert!(f.policies.is_empty(), "a default deny names no policy");
        assert_eq!(f.source_kind, FlowSourceKind::Hubble);
        assert_eq!(f.is_reply, Some(false));
        assert!(f.src.ip.is_some() && f.dst.ip.is_some());
        assert!(f.policy_drop());
    }
    assert!(
        flows
            .iter()
            .any(|f| f.verdict == DataplaneVerdict::Forwarded),
        "other traffic still flows"
    );
}

#[test]
fn a_forwarded_flow_names_the_policies_that_allowed_it() {
    let snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let flows = generator(500.0, &[]).flows(&timeline(decisions(&plan, &snapshot)), 0.0, 60.0);
    let dns: Vec<&FlowRecord> = flows.iter().filter(|f| acme_web_dns(f)).collect();
    assert!(!dns.is_empty());
    assert!(dns.iter().all(|f| f.verdict == DataplaneVerdict::Forwarded));
    let at_source: Vec<&&FlowRecord> = dns
        .iter()
        .filter(|f| f.direction == Some(Direction::Egress))
        .collect();
    assert!(
        !at_source.is_empty(),
        "forwarded flows are seen at the source too"
    );
    for f in at_source {
        let names: Vec<String> = f.policies.iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["NetworkPolicy acme-web/allow-dns"], "{f:?}");
        assert_eq!(f.reason, None);
    }
    let ingress = |f: &&&FlowRecord| f.direction == Some(Direction::Ingress);
    let pod = |f: &&&FlowRecord| f.dst.pod.clone();
    let nodes = nodes(&snapshot);
    for f in dns.iter().filter(ingress) {
        let dst_node = &nodes[pod(&f).as_deref().unwrap()];
        assert_eq!(
            f.node.as_deref(),
            Some(dst_node.as_str()),
            "the destination's node"
        );
    }
}

#[test]
fn flows_follow_the_rate_and_the_plans_packet_rates_however_the_window_is_cut() {
    let snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let d = decisions(&plan, &snapshot);
    let total = d.total_rate();
    let timeline = timeline(d);
    let g = generator(5000.0, &[]);
    let flows = g.flows(&timeline, 0.0, 20.0);
    assert_eq!(flows.len(), 100_000, "5000/s over 20 s");
    let mut cut = g.flows(&timeline, 0.0, 7.3);
    cut.extend(g.flows(&timeline, 7.3, 20.0));
    assert_eq!(cut, flows, "deterministic, whatever the windows");
    let first = flows.first().unwrap().time;
    let last = flows.last().unwrap().time;
    assert_eq!(first, SystemTime::UNIX_EPOCH);
    assert!(last < SystemTime::UNIX_EPOCH + Duration::from_secs(20));
    // Each plan flow gets its packet rate's share (the members' pairs, as the counters count).
    let mut per_flow: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for f in &plan.flows {
        let key = (
            plan.workloads[f.src].namespace.clone(),
            plan.workloads[f.dst].namespace.clone(),
            format!("{}/{}", f.protocol, f.port),
        );
        *per_flow.entry(key).or_default() += f.rate;
    }
    let mut seen: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for f in &flows {
        let key = (
            f.src.namespace.as_deref().unwrap().to_string(),
            f.dst.namespace.as_deref().unwrap().to_string(),
            f.service(),
        );
        *seen.entry(key).or_default() += 1.0;
    }
    for (key, rate) in &per_flow {
        let expected = 100_000.0 * rate / total;
        let got = seen.get(key).copied().unwrap_or(0.0);
        assert!(
            (got - expected).abs() <= 0.02 * expected + 15.0,
            "{key:?}: {got} flows, expected {expected:.1}"
        );
    }
}

#[test]
fn a_lagging_node_forwards_what_the_policies_deny_until_its_lag_has_passed() {
    let mut snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let before = decisions(&plan, &snapshot);
    break_acme_web_dns(&mut snapshot);
    let after = decisions(&plan, &snapshot);
    let nodes = nodes(&snapshot);
    let lagging = "demo-node-c";
    let mut timeline = Timeline::default();
    let lag = [(Name::from(lagging), 20.0)];
    timeline.push(0.0, before, &lag);
    timeline.push(10.0, after, &lag);
    let g = generator(500.0, &[(lagging, 20.0)]);
    let on_lagging = |f: &&FlowRecord| nodes[f.src.pod.as_deref().unwrap()] == lagging;
    let during = g.flows(&timeline, 10.0, 30.0);
    let dns: Vec<&FlowRecord> = during.iter().filter(|f| acme_web_dns(f)).collect();
    let (lagging_dns, others): (Vec<&FlowRecord>, Vec<&FlowRecord>) =
        dns.into_iter().partition(on_lagging);
    assert!(!lagging_dns.is_empty() && !others.is_empty());
    assert!(
        lagging_dns
            .iter()
            .all(|f| f.verdict == DataplaneVerdict::Forwarded),
        "the lagging node still has the old policies"
    );
    assert!(
        others
            .iter()
            .all(|f| f.verdict == DataplaneVerdict::Dropped),
        "the other nodes enforce the change"
    );
    let later = g.flows(&timeline, 30.0, 50.0);
    let dns: Vec<&FlowRecord> = later.iter().filter(|f| acme_web_dns(f)).collect();
    assert!(dns.iter().any(on_lagging));
    for f in dns {
        assert_eq!(f.verdict, DataplaneVerdict::Dropped, "{f:?}");
    }
}

#[test]
fn the_timeline_keeps_only_what_a_lag_reaches() {
    let snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let d = decisions(&plan, &snapshot);
    let lag = [(Name::from("demo-node-c"), 5.0)];
    let mut timeline = Timeline::default();
    for at in 0..30 {
        timeline.push(f64::from(at), d.clone(), &lag);
    }
    // In force 5 s ago (at 24) and everything since.
    assert_eq!(timeline.len(), 6);
    let kept = timeline.at(24.5).unwrap();
    assert!(
        kept.pairs() < d.pairs(),
        "old evaluations hold the lagging node's pairs"
    );
    assert!(kept.pairs() > 0);
    let mut none = Timeline::default();
    for at in 0..30 {
        none.push(f64::from(at), d.clone(), &[]);
    }
    assert_eq!(none.len(), 1, "without a lag only the latest is kept");
}

/// Cilium names the deny rules that drop a flow: an Admin tier Deny is named, with its action.
#[test]
fn a_drop_by_a_tier_deny_rule_names_it() {
    let mut snapshot = builtin();
    let plan = TrafficPlan::from_snapshot(&snapshot);
    let object = serde_json::json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "deny-acme-web-dns"},
        "spec": {
            "tier": "Admin", "priority": 0,
            "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "acme-web"}}},
            "egress": [{"name": "no-dns", "action": "Deny",
                        "to": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]}],
        },
    });
    let kind = crate::model::TierKind::ClusterNetworkPolicy;
    let info = crate::model::TierPolicyInfo::new(kind, serde_json::from_value(object).unwrap());
    snapshot.upsert(crate::model::ClusterObject::Tier(info.unwrap()));
    let flows = generator(500.0, &[]).flows(&timeline(decisions(&plan, &snapshot)), 0.0, 60.0);
    let dns: Vec<&FlowRecord> = flows.iter().filter(|f| acme_web_dns(f)).collect();
    assert!(!dns.is_empty());
    for f in dns {
        assert_eq!(f.verdict, DataplaneVerdict::Dropped);
        assert_eq!(f.direction, Some(Direction::Egress));
        let named: Vec<(String, Option<&str>)> = f
            .policies
            .iter()
            .map(|p| (p.to_string(), p.action.as_deref()))
            .collect();
        assert_eq!(
            named,
            [(
                "ClusterNetworkPolicy deny-acme-web-dns".to_string(),
                Some("Deny")
            )]
        );
    }
}
