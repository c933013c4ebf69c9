//! Tier policies on random clusters: a one-policy update equals a full rebuild, a policy that
//! passes everything changes nothing, and an Admin Deny at priority 0 beats any NetworkPolicy.

use kube::core::DynamicObject;
use proptest::prelude::*;

use super::incremental_tests::{assert_same, cluster, policy, snapshot};
use super::*;
use crate::model::{ClusterSnapshot, ObjectRef, TierKind, TierPolicyInfo, TierRef};

/// A ClusterNetworkPolicy drawn from a few shapes.
fn tier(
    name: &str,
    tier: usize,
    priority: usize,
    subject: usize,
    action: usize,
    peer: usize,
) -> TierPolicyInfo {
    let subjects = [
        "{namespaces: {}}",
        "{namespaces: {matchLabels: {tier: ta}}}",
        "{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}",
    ];
    let peers = [
        "{namespaces: {matchLabels: {tier: tb}}}",
        "{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}",
        "{namespaces: {}}",
    ];
    let egress_peers = [
        "{networks: [10.0.97.0/24]}",
        "{namespaces: {matchLabels: {tier: tc}}}",
    ];
    let actions = ["Accept", "Deny", "Pass"];
    let protocols = [
        "",
        ", protocols: [{tcp: {destinationPort: {number: 801}}}]",
        ", protocols: [{destinationNamedPort: http}]",
    ];
    let yaml = format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
         metadata: {{name: {name}}}\nspec:\n  tier: {}\n  priority: {}\n  subject: {}\n  \
         ingress: [{{action: {}, from: [{}]{}}}]\n  egress: [{{action: {}, to: [{}]{}}}]\n",
        ["Admin", "Baseline"][tier % 2],
        [0, 10, 10][priority % 3],
        subjects[subject % 3],
        actions[action % 3],
        peers[peer % 3],
        protocols[peer % 3],
        actions[(action + 1) % 3],
        egress_peers[peer % 2],
        protocols[(peer + 1) % 3],
    );
    let object: DynamicObject = crate::yaml::from_str(&yaml).expect("test yaml");
    TierPolicyInfo::new(TierKind::ClusterNetworkPolicy, object).expect("named")
}

fn with_policies(snap: &mut ClusterSnapshot, seeds: &[(usize, usize, usize)]) {
    for (i, &(sel, peer, port)) in seeds.iter().enumerate() {
        let ns = ["a", "b", "c"][i % 3];
        let p = policy(ns, &format!("np{i}"), sel, peer, port);
        snap.policies.insert(p.id.clone(), p);
    }
}

/// Every class pair and external, as a list, for comparing two engines over one snapshot.
fn everything(e: &Engine) -> Vec<String> {
    let n = e.classes().classes.len();
    let mut out = Vec::new();
    for s in 0..n {
        for d in 0..n {
            out.push(e.allowed(&Peer::Class(s), &Peer::Class(d)).to_string());
        }
    }
    out
}

/// The cached rows give what the direct evaluation (the one explanations use) gives.
fn assert_rows_match_direct(e: &Engine) {
    let n = e.classes().classes.len();
    for s in 0..n {
        for d in 0..n {
            let (s, d) = (Peer::Class(s), Peer::Class(d));
            assert_eq!(
                e.allowed(&s, &d),
                explain(e, &s, &d).allowed,
                "{s:?} -> {d:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_tier_update_equals_a_full_rebuild(
        nps in prop::collection::vec((0usize..3, 0usize..4, 0usize..3), 0..4),
        changes in prop::collection::vec(
            (0usize..2, 0usize..2, 0usize..3, 0usize..3, 0usize..3, 0usize..3, any::<bool>()), 1..6),
        matched in any::<bool>(),
    ) {
        let mode = if matched { IpBlockPods::Match } else { IpBlockPods::Ignore };
        let settings = Settings::uniform(mode);
        let mut snap = snapshot(&cluster());
        with_policies(&mut snap, &nps);
        let mut inc = Engine::new(&snap, settings);
        for &(name, t, prio, subject, action, peer, delete) in &changes {
            let id = TierRef::new(TierKind::ClusterNetworkPolicy, format!("t{name}"));
            let new = (!delete).then(|| tier(&id.name, t, prio, subject, action, peer));
            let (_, errors) = inc.update_tier(&id, new.as_ref());
            prop_assert!(errors.is_empty(), "{errors:?}");
            match new {
                Some(p) => snap.tiers.insert(id.clone(), p),
                None => snap.tiers.remove(&id),
            };
            assert_same(&inc, &Engine::new(&snap, settings));
            assert_rows_match_direct(&inc);
        }
    }

    #[test]
    fn a_policy_that_passes_everything_changes_nothing(
        nps in prop::collection::vec((0usize..3, 0usize..4, 0usize..3), 0..5),
        tiers in prop::collection::vec((0usize..2, 0usize..3, 0usize..3, 0usize..3, 0usize..3), 0..3),
        priority in 0i64..=1000,
    ) {
        let mut snap = snapshot(&cluster());
        with_policies(&mut snap, &nps);
        for (i, &(t, prio, subject, action, peer)) in tiers.iter().enumerate() {
            let p = tier(&format!("t{i}"), t, prio, subject, action, peer);
            snap.tiers.insert(p.id.clone(), p);
        }
        let before = Engine::new(&snap, Settings::default());
        let yaml = format!(
            "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
             metadata: {{name: pass-all}}\nspec:\n  tier: Admin\n  priority: {priority}\n  \
             subject: {{namespaces: {{}}}}\n  ingress: [{{action: Pass, from: [{{namespaces: {{}}}}]}}]\n  \
             egress: [{{action: Pass, to: [{{namespaces: {{}}}}, {{networks: [0.0.0.0/0, '::/0']}}]}}]\n"
        );
        let object: DynamicObject = crate::yaml::from_str(&yaml).expect("test yaml");
        let pass = TierPolicyInfo::new(TierKind::ClusterNetworkPolicy, object).expect("named");
        let mut with_pass = snap.clone();
        with_pass.tiers.insert(pass.id.clone(), pass);
        let after = Engine::new(&with_pass, Settings::default());
        // A Pass skips the rest of the Admin tier. Priority ties are broken by name, and
        // "pass-all" sorts before every "tN", so on a tie the generated policy comes after it.
        let admin = |&(t, prio, ..): &(usize, usize, usize, usize, usize)| t % 2 == 0 && [0, 10, 10][prio % 3] >= priority;
        let admin_after_it = tiers.iter().any(admin);
        let admin_before_it = tiers.iter().any(|t| t.0 % 2 == 0 && !admin(t));
        if !admin_after_it {
            // Last in the Admin tier, passing is what matching nothing does.
            prop_assert_eq!(everything(&before), everything(&after));
        }
        if !admin_before_it {
            // First in the Admin tier, it hides every other Admin policy: what is left is the
            // NetworkPolicies and the Baseline tier.
            let mut baseline_only = snap.clone();
            for (i, _) in tiers.iter().enumerate().filter(|(_, t)| t.0 % 2 == 0) {
                baseline_only.tiers.remove(&TierRef::new(TierKind::ClusterNetworkPolicy, format!("t{i}")));
            }
            prop_assert_eq!(everything(&Engine::new(&baseline_only, Settings::default())), everything(&after));
        }
    }

    #[test]
    fn an_admin_deny_at_priority_zero_beats_any_network_policy(
        nps in prop::collection::vec((0usize..3, 0usize..4, 0usize..3), 0..6),
    ) {
        let mut snap = snapshot(&cluster());
        with_policies(&mut snap, &nps);
        let yaml = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
             metadata: {name: deny-b}\nspec:\n  tier: Admin\n  priority: 0\n  \
             subject: {namespaces: {matchLabels: {tier: ta}}}\n  \
             ingress: [{action: Deny, from: [{namespaces: {matchLabels: {tier: tb}}}]}]\n";
        let object: DynamicObject = crate::yaml::from_str(yaml).expect("test yaml");
        let deny = TierPolicyInfo::new(TierKind::ClusterNetworkPolicy, object).expect("named");
        snap.tiers.insert(deny.id.clone(), deny);
        let e = Engine::new(&snap, Settings::default());
        for s in 0..4 {
            for d in 0..4 {
                let src = ObjectRef::new("b", format!("p{s}[Pod]"));
                let dst = ObjectRef::new("a", format!("p{d}[Pod]"));
                let allowed = e.allowed_between_pods(&src, &dst).expect("pods exist");
                prop_assert!(allowed.is_empty(), "{src} -> {dst}: {allowed}");
            }
        }
    }
}
