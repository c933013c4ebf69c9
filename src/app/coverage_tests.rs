//! The optional kinds in the console's state: tier and Cilium kinds wait for discovery, a
//! forbidden one does not hold the analysis back but marks it, and the kinds Palisade does not evaluate are
//! counted where the operator looks.

use k8s_openapi::jiff::Timestamp;

use super::state::SyncState;
use super::testing::state;
use super::{Effect, Msg, WatchEvent, update};
use crate::model::fixture::small_cluster;
use crate::model::{
    ClusterObject, Count, Health, NativeKind, NativePolicyInfo, ResourceKind, TierKind,
    TierPolicyInfo, Unevaluated,
};

const CNP: ResourceKind = ResourceKind::Tier(TierKind::ClusterNetworkPolicy);
const ANP: ResourceKind = ResourceKind::Tier(TierKind::AdminNetworkPolicy);
const BANP: ResourceKind = ResourceKind::Tier(TierKind::BaselineAdminNetworkPolicy);

const CILIUMNP: ResourceKind = ResourceKind::Native(NativeKind::CiliumNetworkPolicy);
const CCNP: ResourceKind = ResourceKind::Native(NativeKind::CiliumClusterwideNetworkPolicy);

fn watch(kind: ResourceKind, event: WatchEvent) -> Msg {
    Msg::Watch { kind, event }
}

/// Discovery's answer on a cluster without Cilium's CRDs (nor Calico's).
fn no_cilium(s: &mut super::State) {
    for kind in [CILIUMNP, CCNP] {
        update(s, watch(kind, WatchEvent::NotServed));
    }
    no_calico(s);
}

/// Discovery's answer on a cluster without Calico's kinds.
fn no_calico(s: &mut super::State) {
    for kind in NativeKind::CALICO.map(ResourceKind::Native) {
        update(s, watch(kind, WatchEvent::NotServed));
    }
}

/// Discovery's answer on a cluster with neither the tier group nor Cilium.
fn nothing_optional(s: &mut super::State) {
    for kind in [CNP, ANP, BANP] {
        update(s, watch(kind, WatchEvent::NotServed));
    }
    no_cilium(s);
}

fn ciliumnp(namespace: &str, name: &str) -> ClusterObject {
    let object = serde_json::from_value(serde_json::json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]}
    }))
    .unwrap();
    ClusterObject::Native(NativePolicyInfo::new(NativeKind::CiliumNetworkPolicy, object).unwrap())
}

/// The three always-watched kinds listed, then the end of the batch; the effects of the batch.
fn core_listed(s: &mut super::State) -> Vec<Effect> {
    let objects = small_cluster();
    for kind in ResourceKind::ALL {
        let of_kind = objects.iter().filter(|o| o.kind() == kind).cloned();
        update(s, watch(kind, WatchEvent::Listed(of_kind.collect())));
    }
    update(s, Msg::Settle)
}

fn cnp(name: &str) -> ClusterObject {
    let object = serde_json::from_value(serde_json::json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
        "spec": {"tier": "Admin", "priority": 10, "subject": {"namespaces": {}}, "ingress": [
            {"name": "deny-all", "action": "Deny", "from": [{"namespaces": {}}]}]}
    }))
    .unwrap();
    ClusterObject::Tier(TierPolicyInfo::new(TierKind::ClusterNetworkPolicy, object).unwrap())
}

fn analyses(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Analyze(_)))
        .count()
}

#[test]
fn the_analysis_waits_until_discovery_has_settled_every_tier_kind() {
    let mut s = state();
    assert_eq!(
        analyses(&core_listed(&mut s)),
        0,
        "discovery has not answered"
    );
    assert!(!s.is_live(), "not live before discovery has answered");
    // The cluster serves ClusterNetworkPolicy only: its watcher starts listing.
    no_cilium(&mut s);
    update(&mut s, watch(ANP, WatchEvent::NotServed));
    update(&mut s, watch(BANP, WatchEvent::NotServed));
    update(&mut s, watch(CNP, WatchEvent::Restarted));
    assert_eq!(analyses(&update(&mut s, Msg::Settle)), 0, "cnp is listing");
    assert_eq!(s.sync.get(&CNP), Some(&SyncState::Syncing));
    update(
        &mut s,
        watch(CNP, WatchEvent::Listed(vec![cnp("tenant-isolation")])),
    );
    assert_eq!(analyses(&update(&mut s, Msg::Settle)), 1);
    assert_eq!(s.cluster.tiers.len(), 1);
    // The analysis works on the tiers too.
    let input = super::subscriptions::analysis_input(&s);
    assert_eq!(input.snapshot.tiers.len(), 1);
    // Served kinds show in the status bar's kinds, the others do not.
    let kinds: Vec<ResourceKind> = s.sync.keys().copied().collect();
    assert!(kinds.contains(&CNP) && !kinds.contains(&ANP) && !kinds.contains(&BANP));
    assert!(s.is_live() && s.coverage().lines().is_empty());
    // A deleted tier policy leaves the snapshot.
    update(
        &mut s,
        watch(
            CNP,
            WatchEvent::Deleted {
                namespace: None,
                name: "tenant-isolation".into(),
            },
        ),
    );
    assert!(s.cluster.tiers.is_empty());
}

#[test]
fn a_cluster_without_the_group_says_nothing_about_tiers() {
    let mut s = state();
    nothing_optional(&mut s);
    assert_eq!(analyses(&core_listed(&mut s)), 1);
    assert!(
        s.sync
            .keys()
            .all(|k| !matches!(k, ResourceKind::Tier(_) | ResourceKind::Native(_)))
    );
    assert_eq!(s.partial(), None);
    assert!(s.coverage().lines().is_empty());
}

#[test]
fn discovery_answering_last_still_starts_the_analysis() {
    let mut s = state();
    assert_eq!(analyses(&core_listed(&mut s)), 0);
    for kind in [CNP, ANP, BANP] {
        update(&mut s, watch(kind, WatchEvent::NotServed));
    }
    assert_eq!(
        analyses(&update(&mut s, Msg::Settle)),
        0,
        "Cilium's kinds not settled yet"
    );
    no_cilium(&mut s);
    assert_eq!(analyses(&update(&mut s, Msg::Settle)), 1);
}

#[test]
fn a_forbidden_tier_kind_is_analysed_without_and_said_plainly() {
    let mut s = state();
    no_cilium(&mut s);
    update(&mut s, watch(ANP, WatchEvent::NotServed));
    update(&mut s, watch(BANP, WatchEvent::NotServed));
    update(&mut s, watch(CNP, WatchEvent::Restarted));
    assert_eq!(analyses(&core_listed(&mut s)), 0);
    let forbidden = Health::Forbidden {
        since: Timestamp::UNIX_EPOCH,
        error: "list failed: 403 Forbidden: no rights".into(),
    };
    update(&mut s, watch(CNP, WatchEvent::Health(forbidden.clone())));
    assert_eq!(
        analyses(&update(&mut s, Msg::Settle)),
        1,
        "a 403 does not block the analysis forever"
    );
    assert_eq!(s.partial().as_deref(), Some("cnp forbidden"));
    assert_eq!(
        s.coverage().lines(),
        ["ClusterNetworkPolicy is served but forbidden to you: the matrix cannot be trusted"]
    );
    // The retries' 403s change nothing more.
    update(&mut s, watch(CNP, WatchEvent::Health(forbidden)));
    assert!(!s.cluster_changed);
    // Once the user may read it, it is listed and the warning goes.
    update(&mut s, watch(CNP, WatchEvent::Listed(vec![cnp("x")])));
    assert!(s.coverage().lines().is_empty() && s.is_live());
}

#[test]
fn cilium_kinds_are_watched_like_the_tiers_and_a_forbidden_one_is_said_plainly() {
    let mut s = state();
    no_calico(&mut s);
    for kind in [CNP, ANP, BANP] {
        update(&mut s, watch(kind, WatchEvent::NotServed));
    }
    update(&mut s, watch(CCNP, WatchEvent::NotServed));
    update(&mut s, watch(CILIUMNP, WatchEvent::Restarted));
    assert_eq!(analyses(&core_listed(&mut s)), 0, "ciliumnp is listing");
    assert!(!s.is_live());
    update(
        &mut s,
        watch(
            CILIUMNP,
            WatchEvent::Listed(vec![ciliumnp("acme-web", "deny-world")]),
        ),
    );
    assert_eq!(analyses(&update(&mut s, Msg::Settle)), 1);
    assert_eq!(s.cluster.natives.len(), 1);
    let input = super::subscriptions::analysis_input(&s);
    assert_eq!(input.snapshot.natives.len(), 1, "the engine gets them");
    // The served kind has its chip (`ciliumnp ● live`), the other none.
    assert_eq!(s.sync.get(&CILIUMNP), Some(&SyncState::Live));
    assert!(!s.sync.contains_key(&CCNP));
    assert!(s.is_live() && s.coverage().lines().is_empty());
    // A 403 after a relist: said plainly, and the matrix is not trusted.
    let forbidden = Health::Forbidden {
        since: Timestamp::UNIX_EPOCH,
        error: "list failed: 403 Forbidden: no rights".into(),
    };
    update(&mut s, watch(CILIUMNP, WatchEvent::Health(forbidden)));
    assert_eq!(s.partial().as_deref(), Some("ciliumnp forbidden"));
    assert!(!s.coverage().trustworthy());
    assert_eq!(
        s.coverage().lines(),
        ["CiliumNetworkPolicy is served but forbidden to you: the matrix cannot be trusted"]
    );
}

#[test]
fn a_cilium_kind_forbidden_from_the_start_does_not_hold_the_analysis_back() {
    let mut s = state();
    no_calico(&mut s);
    for kind in [CNP, ANP, BANP, CILIUMNP] {
        update(&mut s, watch(kind, WatchEvent::NotServed));
    }
    update(&mut s, watch(CCNP, WatchEvent::Restarted));
    assert_eq!(analyses(&core_listed(&mut s)), 0);
    let forbidden = Health::Forbidden {
        since: Timestamp::UNIX_EPOCH,
        error: "list failed: 403 Forbidden".into(),
    };
    update(&mut s, watch(CCNP, WatchEvent::Health(forbidden)));
    assert_eq!(analyses(&update(&mut s, Msg::Settle)), 1);
    assert_eq!(
        s.coverage().forbidden_natives,
        [NativeKind::CiliumClusterwideNetworkPolicy]
    );
}

/// A Calico cluster: its kinds wait for discovery like Cilium's, are listed into the
/// snapshot the engine gets, and a forbidden one is said plainly in Calico's words.
#[test]
fn calico_kinds_are_watched_like_cilium_and_a_forbidden_one_is_said_plainly() {
    let mut s = state();
    for kind in [CNP, ANP, BANP, CILIUMNP, CCNP] {
        update(&mut s, watch(kind, WatchEvent::NotServed));
    }
    let tier = ResourceKind::Native(NativeKind::CalicoTier);
    let gnp = ResourceKind::Native(NativeKind::CalicoGlobalNetworkPolicy);
    let caliconp = ResourceKind::Native(NativeKind::CalicoNetworkPolicy);
    for kind in NativeKind::CALICO.map(ResourceKind::Native) {
        update(&mut s, watch(kind, WatchEvent::Restarted));
    }
    assert_eq!(
        analyses(&core_listed(&mut s)),
        0,
        "Calico's kinds are listing"
    );
    let security = serde_json::from_value(serde_json::json!({
        "apiVersion": "projectcalico.org/v3", "kind": "Tier",
        "metadata": {"name": "security"}, "spec": {"order": 100}
    }))
    .unwrap();
    let tier_object =
        ClusterObject::Native(NativePolicyInfo::new(NativeKind::CalicoTier, security).unwrap());
    for kind in NativeKind::CALICO.map(ResourceKind::Native) {
        let objects = match kind == tier {
            true => vec![tier_object.clone()],
            false => Vec::new(),
        };
        if kind != caliconp {
            update(&mut s, watch(kind, WatchEvent::Listed(objects)));
        }
    }
    let forbidden = Health::Forbidden {
        since: Timestamp::UNIX_EPOCH,
        error: "list failed: 403 Forbidden".into(),
    };
    update(&mut s, watch(caliconp, WatchEvent::Health(forbidden)));
    assert_eq!(
        analyses(&update(&mut s, Msg::Settle)),
        1,
        "a 403 holds nothing back"
    );
    assert_eq!(s.cluster.natives.len(), 1);
    assert_eq!(s.sync.get(&gnp), Some(&SyncState::Live));
    assert!(!s.coverage().trustworthy());
    assert_eq!(
        s.coverage().lines(),
        [
            "NetworkPolicy.projectcalico.org is served but forbidden to you: the matrix cannot be trusted"
        ]
    );
}

#[test]
fn counts_of_kinds_not_evaluated_are_kept_as_last_reported() {
    let mut s = state();
    let counted = |n| Unevaluated {
        group: "projectcalico.org".into(),
        version: "v3".into(),
        kind: "GlobalNetworkPolicy".into(),
        count: Count::Objects(n),
    };
    assert!(update(&mut s, Msg::Unevaluated(vec![counted(12)])).is_empty());
    assert_eq!(
        s.coverage().lines(),
        [
            "not evaluated: 12 GlobalNetworkPolicy: the dataplane may deny what this matrix shows open"
        ]
    );
    update(&mut s, Msg::Unevaluated(vec![counted(0)]));
    assert!(s.coverage().lines().is_empty(), "none left");
}
