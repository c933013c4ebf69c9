//! The CNIs' own policies in the console's journal, history and rollback flow: watch events of
//! a native kind are journalled with its kind (Cilium's and, generically, Calico's), `:history
//! ciliumnp/NS/NAME` opens its history, `R` plans its rollback, and only the kind-prefixed name
//! typed confirms it.

use std::collections::BTreeMap;

use serde_json::json;

use super::msg::{JournalNews, PolicyRecord};
use super::rollback::{Prepared, RollbackNews};
use super::screen::Screen;
use super::testing::{analysed, press, rendered, type_text};
use super::{Effect, Msg, State, WatchEvent, update};
use crate::history::{JournalEvent, Operation, PolicyKey, PolicyKind, PolicyObject, Revision};
use crate::model::{ClusterObject, NativeKind, NativePolicyInfo, NativeRef, ResourceKind};
use crate::rollback::{Access, Preflight, RollbackKind, plan};

const KIND: NativeKind = NativeKind::CiliumNetworkPolicy;

fn id() -> NativeRef {
    NativeRef::new(KIND, "acme-web", "storefront-to-world")
}

fn key() -> PolicyKey {
    PolicyKey::Native(id())
}

fn spec(port: &str) -> serde_json::Value {
    json!({"endpointSelector": {"matchLabels": {"app": "storefront"}},
           "egress": [{"toEntities": ["world"], "toPorts": [{"ports": [{"port": port}]}]}]})
}

fn cnp(port: &str, rv: &str) -> NativePolicyInfo {
    let object = serde_json::from_value(json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "storefront-to-world", "namespace": "acme-web", "resourceVersion": rv},
        "spec": spec(port)
    }))
    .unwrap();
    NativePolicyInfo::new(KIND, object).unwrap()
}

fn watch(s: &mut State, kind: NativeKind, event: WatchEvent) -> Vec<Effect> {
    update(
        s,
        Msg::Watch {
            kind: ResourceKind::Native(kind),
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
fn native_watch_events_are_journalled_with_their_kind() {
    let mut s = analysed();
    let effects = watch(
        &mut s,
        KIND,
        WatchEvent::Listed(vec![ClusterObject::Native(cnp("443", "1"))]),
    );
    let PolicyRecord::Seed(kind, objects) = record(&effects) else {
        panic!("{effects:?}")
    };
    assert_eq!(
        *kind,
        PolicyKind::Native(KIND),
        "the seed tombstones only its kind"
    );
    assert_eq!(objects.as_slice(), [PolicyObject::Native(cnp("443", "1"))]);

    let effects = watch(
        &mut s,
        KIND,
        WatchEvent::Applied(Box::new(ClusterObject::Native(cnp("8443", "2")))),
    );
    assert_eq!(
        record(&effects),
        &PolicyRecord::Event(Box::new(JournalEvent::Observed(PolicyObject::Native(cnp(
            "8443", "2"
        )))))
    );
    // A deletion carries the object as the console last had it, keyed in its namespace.
    let effects = watch(
        &mut s,
        KIND,
        WatchEvent::Deleted {
            namespace: Some("acme-web".into()),
            name: "storefront-to-world".into(),
        },
    );
    assert_eq!(
        record(&effects),
        &PolicyRecord::Event(Box::new(JournalEvent::Deleted {
            key: key(),
            last: Some(PolicyObject::Native(cnp("8443", "2"))),
        }))
    );

    // Any native kind, Calico's clusterwide one too: keyed without a namespace.
    let gnp = NativeKind::CalicoGlobalNetworkPolicy;
    let effects = watch(
        &mut s,
        gnp,
        WatchEvent::Deleted {
            namespace: None,
            name: "deny-egress".into(),
        },
    );
    assert_eq!(
        record(&effects),
        &PolicyRecord::Event(Box::new(JournalEvent::Deleted {
            key: PolicyKey::parse("gnp/deny-egress").unwrap(),
            last: None,
        }))
    );
}

fn revision(number: u32, port: &str) -> Revision {
    Revision {
        cluster: "http://127.0.0.1".into(),
        context: "demo".into(),
        kind: PolicyKind::Native(KIND),
        namespace: "acme-web".into(),
        name: "storefront-to-world".into(),
        number,
        resource_version: Some(number.to_string()),
        generation: Some(i64::from(number)),
        observed_at: format!("2026-11-24T01:0{number}:00.000Z"),
        manager: None,
        operation: Operation::Observed,
        deleted: false,
        spec: None,
        tier_spec: Some(json!({"spec": spec(port)})),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

/// `:history ciliumnp/acme-web/storefront-to-world` with the policy live, loaded with revisions
/// 1 (443) and 2 (8443).
fn on_native_history() -> State {
    let mut s = analysed();
    watch(
        &mut s,
        KIND,
        WatchEvent::Applied(Box::new(ClusterObject::Native(cnp("8443", "2")))),
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    press(&mut s, ":");
    type_text(&mut s, "history ciliumnp/acme-web/storefront-to-world");
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
            revisions: Ok(vec![revision(1, "443"), revision(2, "8443")]),
        }),
    );
    s
}

#[test]
fn a_native_policy_history_shows_its_body_and_plans_its_rollback() {
    let mut s = on_native_history();
    assert!(matches!(&s.screen, Screen::History(h) if h.policy == key() && h.listed().len() == 2));
    let screen = rendered(&s, 120, 40);
    assert!(
        screen.contains("toEntities"),
        "the body on screen:\n{screen}"
    );
    press(&mut s, "j");
    let effects = press(&mut s, "R");
    let [Effect::PrepareRollback { flow, policy, kind }] = effects.as_slice() else {
        panic!("expected planning, got {effects:?}");
    };
    assert_eq!((policy, *kind), (&key(), RollbackKind::Revert { to: 1 }));
    let live = PolicyObject::Native(cnp("8443", "2"));
    let revisions = [revision(1, "443"), revision(2, "8443")];
    let plan = plan(*kind, &key(), &revisions, Some(&live), None).unwrap();
    let prepared = Prepared {
        preflight: Preflight::new(
            &plan,
            None,
            Access {
                allowed: true,
                reason: "test".into(),
            },
            None,
        ),
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
    let screen = rendered(&s, 200, 40);
    for shown in [
        "revert CiliumNetworkPolicy ciliumnp/acme-web/storefront-to-world: replace",
        "access: update ciliumnetworkpolicies in acme-web:",
        "type ciliumnp/acme-web/storefront-to-world to confirm:",
    ] {
        assert!(screen.contains(shown), "`{shown}` on screen:\n{screen}");
    }
    for wrong in ["storefront-to-world", "acme-web/storefront-to-world"] {
        type_text(&mut s, wrong);
        press(&mut s, "tab");
        type_text(&mut s, "INC-3");
        press(&mut s, "tab");
        assert!(
            press(&mut s, "enter").is_empty(),
            "`{wrong}` must not confirm"
        );
        press(&mut s, "ctrl-u");
        press(&mut s, "tab");
        press(&mut s, "ctrl-u");
    }
    type_text(&mut s, "ciliumnp/acme-web/storefront-to-world");
    press(&mut s, "tab");
    type_text(&mut s, "INC-3");
    let effects = press(&mut s, "enter");
    let [Effect::DryRunRollback(attempt)] = effects.as_slice() else {
        panic!("expected the dry run, got {effects:?}");
    };
    assert_eq!(attempt.prepared.plan.target, key());
}

#[test]
fn a_native_policy_the_console_does_not_watch_is_live_as_far_as_the_journal_knows() {
    let mut s = on_native_history();
    s.cluster.natives.clear(); // as on a console that does not watch the kind
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
fn history_without_an_argument_opens_the_selected_native_row() {
    let mut s = analysed();
    watch(
        &mut s,
        KIND,
        WatchEvent::Applied(Box::new(ClusterObject::Native(cnp("443", "1")))),
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    s.screen = Screen::Policies(super::screen::TableScreen {
        selected: Some(super::rows::native_row_key(&id())),
        ..Default::default()
    });
    press(&mut s, ":");
    type_text(&mut s, "history");
    let effects = press(&mut s, "enter");
    let [Effect::LoadHistory { policy, .. }] = effects.as_slice() else {
        panic!(
            "expected the history load, got {effects:?} ({:?})",
            s.notice
        );
    };
    assert_eq!(policy, &key());
}

#[test]
fn a_scoped_console_seeds_its_namespaces_only() {
    let mut s = analysed();
    s.scope = Some(crate::model::NamespaceScope {
        namespaces: vec!["acme-web".into()],
        reason: crate::model::ScopeReason::Asked,
        refused: Vec::new(),
        labels_known: false,
        undecided_selectors: Vec::new(),
    });
    let effects = watch(
        &mut s,
        KIND,
        WatchEvent::Listed(vec![ClusterObject::Native(cnp("443", "1"))]),
    );
    // The list is acme-web's alone: another namespace's CiliumNetworkPolicies are not gone.
    let PolicyRecord::SeedWithin(kind, namespaces, objects) = record(&effects) else {
        panic!("{effects:?}")
    };
    assert_eq!(*kind, PolicyKind::Native(KIND));
    assert_eq!(namespaces, &["acme-web".to_string()]);
    assert_eq!(objects.len(), 1);
    // A cluster-scoped kind, when the user may list it, is listed whole.
    let effects = watch(
        &mut s,
        NativeKind::CiliumClusterwideNetworkPolicy,
        WatchEvent::Listed(Vec::new()),
    );
    assert!(
        matches!(record(&effects), PolicyRecord::Seed(..)),
        "{effects:?}"
    );
}
