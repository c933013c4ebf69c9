//! Suspects ranked over hand-written journals and readings. The expected results come from the
//! scenario, worked out by hand:
//!
//! Namespaces `acme-web` (tenant acme), `globex-web` (tenant globex) and `kube-system`
//! (platform), one pod each. The live cluster has no policies; each change's radius puts its own
//! two revisions in turn.
//! * `acme-web/allow-dns` rev 1 → 2 (kubectl-patch, 14:02:00): egress UDP+TCP 53 to kube-system
//!   becomes UDP 5353 + TCP 53, so it closes acme-web → kube-system UDP 53 and nothing else.
//! * `acme-web/egress-lockdown` rev 1 → 2: all egress becomes egress within acme-web, so it
//!   closes acme-web → kube-system and acme-web → globex-web, everything.
//! * `globex-web/deny-ingress` rev 1 → 2 (14:01:00): all ingress becomes none, so it closes
//!   everything into globex-web and nothing into kube-system.
//! * `acme-web/open-egress` rev 1 → 2: no egress becomes all egress: it only opens.
//!
//! The spike: acme → platform denied from 14:02:07.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::*;
use crate::history::{Operation, PolicyKey, PolicyKind, Revision};
use crate::isolation::config::AnalysisConfig;
use crate::model::ClusterSnapshot;
use crate::model::fixture::{namespace, pod};
use crate::rollback::RollbackKind;

fn cluster() -> ClusterSnapshot {
    let mut snapshot = ClusterSnapshot::default();
    for object in [
        namespace("acme-web", &[("tenant", "acme")]),
        namespace("globex-web", &[("tenant", "globex")]),
        namespace("kube-system", &[]),
        pod("acme-web", "web", &[("app", "web")]),
        pod("globex-web", "api", &[("app", "api")]),
        pod("kube-system", "coredns", &[("k8s-app", "kube-dns")]),
    ] {
        snapshot.upsert(object);
    }
    snapshot
}

fn at(text: &str) -> Timestamp {
    format!("2026-03-01T{text}Z").parse().unwrap()
}

fn revision(policy: &str, number: u32, time: &str, manager: &str, spec: Value) -> Revision {
    let (namespace, name) = policy.split_once('/').unwrap();
    Revision {
        cluster: "https://demo".into(),
        context: "demo".into(),
        kind: PolicyKind::NetworkPolicy,
        namespace: namespace.into(),
        name: name.into(),
        number,
        resource_version: Some(format!("{number}00")),
        generation: Some(number.into()),
        observed_at: format!("2026-03-01T{time}Z"),
        manager: Some(manager.into()),
        operation: Operation::Observed,
        deleted: false,
        spec: Some(serde_json::from_value(spec).unwrap()),
        tier_spec: None,
        labels: Default::default(),
        annotations: Default::default(),
    }
}

fn dns(udp_port: u16) -> Value {
    json!({
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": [{"protocol": "UDP", "port": udp_port}, {"protocol": "TCP", "port": 53}]
        }]
    })
}

fn all_egress() -> Value {
    json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]})
}

fn own_namespace_egress() -> Value {
    json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]})
}

fn no_egress() -> Value {
    json!({"podSelector": {}, "policyTypes": ["Egress"]})
}

/// One policy's two revisions as its one change, and that change's radius.
fn change(policy: &str, earlier: Value, later: Value, time: &str) -> (PolicyChange, Radius) {
    let revisions = [
        revision(policy, 1, "13:00:00", "kubectl-client-side-apply", earlier),
        revision(policy, 2, time, "kubectl-patch", later),
    ];
    let mut changes = changes_in(&revisions, at("13:30:00"));
    assert_eq!(changes.len(), 1, "{policy}");
    let change = changes.remove(0);
    let radius = radius(&cluster(), &AnalysisConfig::default(), &change);
    (change, radius)
}

fn bad_dns(time: &str) -> (PolicyChange, Radius) {
    change("acme-web/allow-dns", dns(53), dns(5353), time)
}

fn lockdown(time: &str) -> (PolicyChange, Radius) {
    change(
        "acme-web/egress-lockdown",
        all_egress(),
        own_namespace_egress(),
        time,
    )
}

fn spike() -> Observation {
    Observation {
        from: "acme".into(),
        to: "platform".into(),
        from_namespace: None,
        to_namespace: None,
        port: None,
        started: at("14:02:07"),
        evidence: Evidence::Counters,
    }
}

fn names(suspects: &[Suspect]) -> Vec<String> {
    suspects
        .iter()
        .map(|s| format!("{} rev {}", s.change.policy, s.change.to_revision))
        .collect()
}

fn ranked(observation: &Observation, changes: &[(PolicyChange, Radius)]) -> Vec<Suspect> {
    rank(
        observation,
        changes.iter().map(|(c, r)| (c, r)),
        DEFAULT_WINDOW,
    )
}

#[test]
fn the_bad_dns_patch_closes_exactly_acme_to_kube_system_udp_53() {
    let (change, radius) = bad_dns("14:02:00");
    assert_eq!(radius.closures.len(), 1, "{radius:?}");
    let closure = &radius.closures[0];
    assert_eq!(
        (
            closure.from_namespace.as_str(),
            closure.to_namespace.as_str(),
            closure.from_group.as_str(),
            closure.to_group.as_str(),
            closure.closed.to_string()
        ),
        (
            "acme-web",
            "kube-system",
            "acme",
            "platform",
            "UDP 53".into()
        )
    );
    assert_eq!(radius.breadth(), (1, 1));
    assert_eq!(change.rollback_kind(), RollbackKind::Revert { to: 1 });
}

#[test]
fn a_bad_change_followed_by_a_spike_is_the_first_suspect() {
    let changes = [bad_dns("14:02:00")];
    let suspects = ranked(&spike(), &changes);
    assert_eq!(names(&suspects), ["acme-web/allow-dns rev 2"]);
    assert_eq!(suspects[0].before, Duration::from_secs(7));
    assert_eq!(
        suspects[0].describe(),
        "acme-web/allow-dns rev 2 (kubectl-patch, 7 s before; closes acme → platform UDP 53)"
    );
}

#[test]
fn an_unrelated_change_in_another_tenant_is_not_listed() {
    let changes = [
        change(
            "globex-web/deny-ingress",
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}),
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
            "14:01:00",
        ),
        bad_dns("14:02:00"),
    ];
    // It does close something (everything into globex-web), just not what was observed.
    assert!(!changes[0].1.closures.is_empty());
    assert!(
        changes[0]
            .1
            .closures
            .iter()
            .all(|c| c.to_namespace == "globex-web")
    );
    assert_eq!(
        names(&ranked(&spike(), &changes)),
        ["acme-web/allow-dns rev 2"]
    );
}

#[test]
fn a_change_after_the_spike_began_is_not_listed() {
    let changes = [bad_dns("14:02:00"), lockdown("14:02:13")];
    assert_eq!(
        names(&ranked(&spike(), &changes)),
        ["acme-web/allow-dns rev 2"]
    );
    // Nothing before the spike: no suspect at all.
    assert!(ranked(&spike(), &[lockdown("14:05:00")]).is_empty());
}

#[test]
fn a_change_the_journal_saw_just_after_the_first_drop_still_counts() {
    // The watch delivered the patch 3 s after the dataplane enforced it and dropped a flow.
    let suspects = ranked(&spike(), &[bad_dns("14:02:10")]);
    assert_eq!(names(&suspects), ["acme-web/allow-dns rev 2"]);
    assert_eq!(suspects[0].before, Duration::ZERO);
    // 5 s is the most the journal is allowed to lag.
    assert_eq!(
        names(&ranked(&spike(), &[bad_dns("14:02:12")])),
        ["acme-web/allow-dns rev 2"]
    );
    assert!(ranked(&spike(), &[bad_dns("14:02:12.001")]).is_empty());
}

#[test]
fn a_change_older_than_the_window_is_not_listed() {
    let changes = [bad_dns("13:32:06")];
    assert!(ranked(&spike(), &changes).is_empty());
    assert_eq!(
        names(&rank(
            &spike(),
            changes.iter().map(|(c, r)| (c, r)),
            Duration::from_secs(3600)
        )),
        ["acme-web/allow-dns rev 2"]
    );
}

#[test]
fn suspects_rank_by_recency_then_specificity_then_name() {
    // The most recent first, however broad.
    let changes = [bad_dns("13:50:00"), lockdown("14:00:00")];
    assert_eq!(
        names(&ranked(&spike(), &changes)),
        ["acme-web/egress-lockdown rev 2", "acme-web/allow-dns rev 2"]
    );
    // At the same time, the one that closes less first: one pair and one port against two
    // pairs and every port.
    let changes = [lockdown("14:00:00"), bad_dns("14:00:00")];
    let suspects = ranked(&spike(), &changes);
    assert_eq!(
        names(&suspects),
        ["acme-web/allow-dns rev 2", "acme-web/egress-lockdown rev 2"]
    );
    assert_eq!(suspects[1].breadth.0, 2);
    // Equally recent and equally broad: by name.
    let twin = change("acme-web/allow-dns-copy", dns(53), dns(5353), "14:00:00");
    let changes = [twin, bad_dns("14:00:00")];
    assert_eq!(
        names(&ranked(&spike(), &changes)),
        ["acme-web/allow-dns rev 2", "acme-web/allow-dns-copy rev 2"]
    );
}

#[test]
fn a_change_that_only_opens_things_is_not_a_suspect() {
    let opening = change(
        "acme-web/open-egress",
        no_egress(),
        all_egress(),
        "14:02:00",
    );
    assert_eq!(opening.1, Radius::default());
    assert!(ranked(&spike(), &[opening]).is_empty());
}

#[test]
fn an_observation_with_a_port_only_suspects_changes_that_close_that_port() {
    let changes = [lockdown("14:00:00"), bad_dns("14:01:00")];
    let flow = |proto, port| Observation {
        from: "acme".into(),
        to: "platform".into(),
        from_namespace: Some("acme-web".into()),
        to_namespace: Some("kube-system".into()),
        port: Some((proto, port)),
        started: at("14:02:07"),
        evidence: Evidence::Flows,
    };
    assert_eq!(
        names(&ranked(&flow(Protocol::Udp, 53), &changes)),
        ["acme-web/allow-dns rev 2", "acme-web/egress-lockdown rev 2"]
    );
    // TCP 53 stays open after the DNS patch: only the lockdown closes it.
    assert_eq!(
        names(&ranked(&flow(Protocol::Tcp, 53), &changes)),
        ["acme-web/egress-lockdown rev 2"]
    );
    // Another namespace of the same pair of groups is not this observation.
    let mut elsewhere = flow(Protocol::Udp, 53);
    elsewhere.from_namespace = Some("acme-db".into());
    assert!(ranked(&elsewhere, &changes).is_empty());
}

#[test]
fn the_first_revision_is_no_change_and_a_deletion_rolls_back_by_restoring() {
    let mut deleted = revision("acme-web/allow-dns", 2, "14:00:00", "kubectl", dns(53));
    deleted.deleted = true;
    deleted.operation = Operation::Deleted;
    let revisions = [
        revision("acme-web/allow-dns", 1, "13:59:00", "kubectl", dns(53)),
        deleted,
    ];
    let changes = changes_in(&revisions, at("13:00:00"));
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].policy,
        PolicyKey::network("acme-web", "allow-dns")
    );
    assert_eq!(
        changes[0].rollback_kind(),
        RollbackKind::Restore { revision: Some(1) }
    );
    // Before `since`: not in the window.
    assert!(changes_in(&revisions, at("14:00:01")).is_empty());
    assert!(changes_in(&revisions[..1], at("13:00:00")).is_empty());
}

#[test]
fn a_spike_starts_at_its_latest_rise_above_zero_or_above_the_spike_level() {
    let reading = |time: &str, from: &str, value: f64| crate::timeline::PairReading {
        at: at(time),
        from: from.into(),
        to: "platform".into(),
        value,
    };
    let log = [
        // A background of denials since 14:00, then a spike at 14:02:07.
        reading("14:00:00", "acme", 0.4),
        reading("14:01:00", "acme", 0.5),
        reading("14:02:07", "acme", 3.0),
        reading("14:02:12", "acme", 3.1),
        // Another pair, rising later.
        reading("14:02:10", "globex", 2.0),
    ];
    assert_eq!(
        spike_start(&log, "acme", "platform", at("14:02:12"), 1.0),
        Some(at("14:02:07"))
    );
    // As of 14:01, only the background's start.
    assert_eq!(
        spike_start(&log, "acme", "platform", at("14:01:00"), 1.0),
        Some(at("14:00:00"))
    );
    assert_eq!(
        spike_start(&log, "globex", "platform", at("14:03:00"), 1.0),
        Some(at("14:02:10"))
    );
    assert_eq!(
        spike_start(&log, "initech", "platform", at("14:03:00"), 1.0),
        None
    );
}

#[test]
fn flows_dropped_by_policy_are_observed_per_namespace_pair_and_port_from_their_first() {
    use crate::flows::{DataplaneVerdict, FlowEndpoint, FlowRecord, FlowSourceKind};
    let flow = |time: &str, port: u16, verdict: DataplaneVerdict| FlowRecord {
        time: std::time::SystemTime::from(at(time)),
        source_kind: FlowSourceKind::Hubble,
        node: None,
        src: FlowEndpoint {
            namespace: Some("acme-web".into()),
            ..FlowEndpoint::default()
        },
        dst: FlowEndpoint {
            namespace: Some("kube-system".into()),
            ..FlowEndpoint::default()
        },
        protocol: Some(Protocol::Udp),
        port: Some(port),
        verdict,
        reason: Some("POLICY_DENIED".into()),
        direction: None,
        policies: Vec::new(),
        is_reply: None,
        count: 1,
    };
    let flows = [
        flow("14:02:09", 53, DataplaneVerdict::Dropped),
        flow("14:02:08", 53, DataplaneVerdict::Dropped),
        flow("14:01:00", 53, DataplaneVerdict::Forwarded),
        flow("13:00:00", 80, DataplaneVerdict::Dropped),
    ];
    let group = |ns: &str| {
        if ns == "kube-system" {
            "platform".to_string()
        } else {
            "acme".to_string()
        }
    };
    let observations = from_flows(&flows, at("14:00:00"), &group);
    assert_eq!(observations.len(), 1, "{observations:?}");
    assert_eq!(observations[0].label(), "acme-web → kube-system UDP 53");
    assert_eq!(observations[0].started, at("14:02:08"));
    assert_eq!(
        (observations[0].from.as_str(), observations[0].to.as_str()),
        ("acme", "platform")
    );
}

/// The cost of one radius on a generated cluster: the console computes it off the UI loop, once
/// per policy and revision, so seconds are acceptable and minutes are not. (At 1,000 namespaces,
/// 20,000 pods and 3,000 policies it took 6.8 s in a debug build; this size keeps the suite
/// quick.)
#[test]
fn a_radius_on_a_large_cluster_takes_seconds_at_most() {
    let scenario = crate::sim::Scenario::generated(crate::sim::ScaleSpec {
        namespaces: 300,
        pods: 5000,
        policies: 1000,
        tier_policies: 0,
    });
    let snapshot = scenario.snapshot().unwrap();
    let (id, info) = snapshot.policies.iter().next().unwrap();
    let before = crate::history::PolicyObject::Network(info.object.clone());
    let mut closed = info.object.clone();
    if let Some(spec) = closed.spec.as_mut() {
        spec.ingress = Some(Vec::new());
        spec.egress = Some(Vec::new());
        spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
    }
    let change = PolicyChange {
        policy: PolicyKey::Network(id.clone()),
        from_revision: 1,
        to_revision: 2,
        at: at("14:00:00"),
        manager: None,
        operation: Operation::Observed,
        before: Some(before),
        after: Some(crate::history::PolicyObject::Network(closed)),
    };
    let start = std::time::Instant::now();
    let radius = radius(&snapshot, &AnalysisConfig::default(), &change);
    let took = start.elapsed();
    eprintln!(
        "radius of {} on 5,000 pods: {took:?}, {} namespace pair(s) closed",
        change.policy,
        radius.closures.len()
    );
    assert!(
        !radius.closures.is_empty(),
        "closing everything closes something"
    );
    assert!(took.as_secs() < 30, "took {took:?}");
}

#[test]
fn the_console_reads_only_the_newest_changes_and_counts_the_older() {
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let dir = tempfile::tempdir().unwrap();
    let mut journal = crate::history::Journal::open(&dir.path().join("j.sqlite")).unwrap();
    let allow_dns = |udp_port: u16, rv: &str| -> NetworkPolicy {
        serde_json::from_value(json!({
            "metadata": {"namespace": "acme-web", "name": "allow-dns", "resourceVersion": rv},
            "spec": dns(udp_port)
        }))
        .unwrap()
    };
    for (port, rv, time) in [
        (53, "1", "13:00:00"),
        (5353, "2", "13:10:00"),
        (53, "3", "13:20:00"),
        (5354, "4", "13:30:00"),
    ] {
        journal.observe(&allow_dns(port, rv), at(time)).unwrap();
    }
    // Since 13:05: revisions 2, 3 and 4 each replaced one. The newest two, oldest first, and
    // one older left out.
    let (changes, older) = recent_from_journal(&journal, at("13:05:00"), 2).unwrap();
    let steps: Vec<(u32, u32)> = (changes.iter())
        .map(|c| (c.from_revision, c.to_revision))
        .collect();
    assert_eq!((steps, older), (vec![(2, 3), (3, 4)], 1));
    // The same changes as the unbounded read gives (`palisade suspects`).
    let all = from_journal(&journal, at("13:05:00")).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1..], changes[..]);
    assert_eq!(
        recent_from_journal(&journal, at("13:05:00"), 10).unwrap(),
        (all, 0)
    );
}
