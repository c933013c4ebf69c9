//! Tier policies in the console's journal, history and rollback flow: watch events of the tier
//! kinds are journalled, `:history cnp/NAME` opens its history, `R` plans its rollback, and only
//! `cnp/NAME` typed confirms it.

use std::collections::BTreeMap;

use serde_json::json;

use super::history_flow::history_step;
use super::msg::{JournalNews, PolicyRecord};
use super::rollback::{Prepared, RollbackNews};
use super::screen::Screen;
use super::testing::{analysed, press, rendered, type_text};
use super::{Effect, Msg, State, WatchEvent, update};
use crate::history::{JournalEvent, Operation, PolicyKey, PolicyKind, PolicyObject, Revision};
use crate::model::{ClusterObject, ResourceKind, TierKind, TierPolicyInfo, TierRef};
use crate::rollback::{Access, Preflight, RollbackKind, plan};

const KIND: TierKind = TierKind::ClusterNetworkPolicy;

fn id() -> TierRef {
    TierRef::new(KIND, "isolate")
}

fn key() -> PolicyKey {
    PolicyKey::Tier(id())
}

fn tier(action: &str, rv: &str) -> TierPolicyInfo {
    let object = serde_json::from_value(json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "isolate", "resourceVersion": rv},
        "spec": {"tier": "Admin", "priority": 3, "subject": {"namespaces": {}},
                 "ingress": [{"name": "r", "action": action, "from": [{"namespaces": {}}]}]}
    }))
    .unwrap();
    TierPolicyInfo { id: id(), object }
}

fn watch(s: &mut State, event: WatchEvent) -> Vec<Effect> {
    update(
        s,
        Msg::Watch {
            kind: ResourceKind::Tier(KIND),
            event,
        },
    )
}

fn record(effects: &[Effect]) -> &PolicyRecord {
    match effects {
        [Effect::Journal(record)] => record,
        other => panic!("expected one journal record, got {other:?}"),
    }
}

#[test]
fn tier_watch_events_are_journalled_with_their_kind() {
    let mut s = analysed();
    let effects = watch(
        &mut s,
        WatchEvent::Listed(vec![ClusterObject::Tier(tier("Deny", "1"))]),
    );
    let PolicyRecord::Seed(kind, objects) = record(&effects) else {
        panic!("{effects:?}")
    };
    assert_eq!(
        *kind,
        PolicyKind::Tier(KIND),
        "the seed tombstones only its kind"
    );
    assert_eq!(objects.as_slice(), [PolicyObject::Tier(tier("Deny", "1"))]);

    let effects = watch(
        &mut s,
        WatchEvent::Applied(Box::new(ClusterObject::Tier(tier("Accept", "2")))),
    );
    assert_eq!(
        record(&effects),
        &PolicyRecord::Event(Box::new(JournalEvent::Observed(PolicyObject::Tier(tier(
            "Accept", "2"
        )))))
    );

    // A deletion carries the object as the console last had it.
    let effects = watch(
        &mut s,
        WatchEvent::Deleted {
            namespace: None,
            name: "isolate".into(),
        },
    );
    assert_eq!(
        record(&effects),
        &PolicyRecord::Event(Box::new(JournalEvent::Deleted {
            key: key(),
            last: Some(PolicyObject::Tier(tier("Accept", "2"))),
        }))
    );
    assert!(!s.cluster.tiers.contains_key(&id()));
}

fn revision(number: u32, action: &str) -> Revision {
    Revision {
        cluster: "http://127.0.0.1".into(),
        context: "demo".into(),
        kind: PolicyKind::Tier(KIND),
        namespace: String::new(),
        name: "isolate".into(),
        number,
        resource_version: Some(number.to_string()),
        generation: Some(i64::from(number)),
        observed_at: format!("2026-11-24T01:0{number}:00.000Z"),
        manager: None,
        operation: Operation::Observed,
        deleted: false,
        spec: None,
        tier_spec: tier(action, "0").spec().cloned(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

/// `:history cnp/isolate` with the policy live, loaded with revisions 1 (Deny) and 2 (Accept).
fn on_tier_history() -> State {
    let mut s = analysed();
    watch(
        &mut s,
        WatchEvent::Applied(Box::new(ClusterObject::Tier(tier("Accept", "2")))),
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    press(&mut s, ":");
    type_text(&mut s, "history cnp/isolate");
    let effects = press(&mut s, "enter");
    let [Effect::LoadHistory { flow, policy }] = effects.as_slice() else {
        panic!(
            "expected the history load, got {effects:?} ({:?})",
            s.notice
        );
    };
    assert_eq!(policy, &key());
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow: *flow,
            policy: key(),
            revisions: Ok(vec![revision(1, "Deny"), revision(2, "Accept")]),
        }),
    );
    s
}

#[test]
fn a_tier_policy_the_console_does_not_watch_is_live_as_far_as_the_journal_knows() {
    let mut s = on_tier_history();
    s.cluster.tiers.clear(); // as on a console without the tier watch
    let effects = press(&mut s, "R");
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::PrepareRollback {
                kind: RollbackKind::Revert { to: 2 },
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn a_tier_policy_history_plans_its_rollback_and_only_cnp_name_confirms_it() {
    let mut s = on_tier_history();
    assert!(matches!(&s.screen, Screen::History(h) if h.policy == key() && h.listed().len() == 2));
    press(&mut s, "j");
    let effects = press(&mut s, "R");
    let [Effect::PrepareRollback { flow, policy, kind }] = effects.as_slice() else {
        panic!("expected planning, got {effects:?}");
    };
    assert_eq!(
        (policy, *kind),
        (&key(), RollbackKind::Revert { to: 1 }),
        "live: a revert"
    );
    let live = PolicyObject::Tier(tier("Accept", "2"));
    let revisions = [revision(1, "Deny"), revision(2, "Accept")];
    let plan = plan(*kind, &key(), &revisions, Some(&live), None).unwrap();
    let access = Access {
        allowed: true,
        reason: "test".into(),
    };
    let prepared = Prepared {
        preflight: Preflight::new(&plan, None, access, None),
        plan,
        blast: Err("not computed in this test".into()),
        actor: "tester".into(),
        suspension: None,
    };
    update(
        &mut s,
        Msg::Rollback {
            flow: *flow,
            news: RollbackNews::Prepared(Box::new(prepared)),
        },
    );
    let screen = rendered(&s, 120, 40);
    for shown in [
        "revert ClusterNetworkPolicy cnp/isolate: replace",
        "access: update clusternetworkpolicies (cluster-scoped):",
        "type cnp/isolate to confirm:",
    ] {
        assert!(screen.contains(shown), "`{shown}` on screen:\n{screen}");
    }
    for wrong in ["isolate", "acme/isolate", "anp/isolate"] {
        type_text(&mut s, wrong);
        press(&mut s, "tab");
        type_text(&mut s, "INC-3");
        press(&mut s, "tab");
        assert!(
            press(&mut s, "enter").is_empty(),
            "`{wrong}` must not confirm"
        );
        let Screen::Rollback(r) = &s.screen else {
            panic!("{:?}", s.screen)
        };
        assert_eq!(r.blocker().as_deref(), Some("type cnp/isolate to confirm"));
        // Enter moved to the reason: clear it, then the name (ctrl-u), for the next attempt.
        press(&mut s, "ctrl-u");
        press(&mut s, "tab");
        press(&mut s, "ctrl-u");
    }
    type_text(&mut s, "cnp/isolate");
    press(&mut s, "tab");
    type_text(&mut s, "INC-3");
    let effects = press(&mut s, "enter");
    let [Effect::DryRunRollback(attempt)] = effects.as_slice() else {
        panic!("expected the dry run, got {effects:?}");
    };
    assert_eq!(attempt.prepared.plan.target, key());
}

#[test]
fn a_deleted_tier_policy_is_restored_and_the_history_step_is_open_to_other_screens() {
    let mut s = on_tier_history();
    watch(
        &mut s,
        WatchEvent::Deleted {
            namespace: None,
            name: "isolate".into(),
        },
    );
    // The journal recorded the deletion; the history on screen reloads with the tombstone.
    let mut tombstone = revision(3, "Accept");
    (tombstone.deleted, tombstone.operation) = (true, Operation::Deleted);
    let Screen::History(h) = &mut s.screen else {
        panic!("{:?}", s.screen)
    };
    h.revisions = Some(Ok(vec![
        revision(1, "Deny"),
        revision(2, "Accept"),
        tombstone,
    ]));
    h.selected = Some(2);
    let effects = press(&mut s, "R");
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::PrepareRollback {
                kind: RollbackKind::Restore { revision: Some(2) },
                ..
            }]
        ),
        "{effects:?}"
    );

    // What the policies table's tier rows use: a step to the history of a TierRef.
    let step = history_step(&mut s, TierRef::new(TierKind::AdminNetworkPolicy, "pass"));
    let [Effect::LoadHistory { policy, .. }] = step.effects.as_slice() else {
        panic!("{step:?}")
    };
    assert_eq!(policy.to_string(), "anp/pass");
    assert!(step.navigation.is_some());
}

#[test]
fn the_timeline_opens_the_history_of_the_policy_under_the_cursor() {
    use crate::timeline::{Event, EventKind};
    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    let effects = press(&mut s, ":");
    assert!(effects.is_empty());
    type_text(&mut s, "timeline");
    let effects = press(&mut s, "enter");
    let [Effect::LoadTimeline { flow, .. }] = effects.as_slice() else {
        panic!("expected the timeline load, got {effects:?}")
    };
    let event = |kind, object: &str| Event {
        at: "2026-11-24T01:00:00Z".parse().unwrap(),
        kind,
        tenant: None,
        object: Some(object.to_string()),
        summary: "x".into(),
    };
    let events = vec![
        event(EventKind::ViolationSpike, "acme → platform"),
        event(EventKind::PolicyChange, "cnp/isolate"),
        event(EventKind::Rollback, "acme-web/allow-dns"),
    ];
    update(
        &mut s,
        Msg::Journal(JournalNews::Timeline {
            flow: *flow,
            events: Ok(events),
        }),
    );
    let opened = |s: &mut State| match press(s, "5").as_slice() {
        [Effect::LoadHistory { policy, .. }] => policy.to_string(),
        other => panic!("expected a history load, got {other:?} ({:?})", s.notice),
    };
    // Newest first: the rollback (the last event of equal times) is on top.
    assert_eq!(opened(&mut s), "acme-web/allow-dns");
    press(&mut s, "esc");
    press(&mut s, "j");
    assert_eq!(opened(&mut s), "cnp/isolate", "a tier policy's history");
    press(&mut s, "esc");
    press(&mut s, "j");
    assert!(press(&mut s, "5").is_empty(), "the spike names no policy");
    assert!(s.notice.is_some());
}
