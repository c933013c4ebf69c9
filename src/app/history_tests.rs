use std::collections::BTreeMap;

use super::history::HistoryScreen;
use super::msg::JournalNews;
use super::screen::Screen;
use super::testing::{analysed, press, type_text};
use super::{Effect, Msg, State, update};
use crate::flow::FlowId;
use crate::history::{Change, Operation, PolicyKey, PolicyKind, Revision};

pub(super) fn revision(number: u32, operation: Operation) -> Revision {
    Revision {
        cluster: "https://demo".into(),
        context: "demo".into(),
        kind: PolicyKind::NetworkPolicy,
        namespace: "acme-web".into(),
        name: "deny-all".into(),
        number,
        resource_version: Some(format!("{}", 100 + number)),
        generation: Some(i64::from(number)),
        observed_at: format!("2026-11-24T01:0{number}:00.000Z"),
        manager: Some("kubectl-client-side-apply".into()),
        operation,
        deleted: operation == Operation::Deleted,
        spec: None,
        tier_spec: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    }
}

pub(super) fn journal_open(s: &mut State) {
    update(
        s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
}

pub(super) fn command(s: &mut State, text: &str) -> Vec<Effect> {
    press(s, ":");
    type_text(s, text);
    press(s, "enter")
}

/// The flow of the one history load among `effects`.
pub(super) fn load_flow(effects: &[Effect]) -> FlowId {
    match effects {
        [Effect::LoadHistory { flow, .. }] => *flow,
        _ => panic!("expected one history load, got {effects:?}"),
    }
}

/// Opens `:history POLICY` and answers the load with `revisions`.
fn history_with(s: &mut State, policy: &PolicyKey, revisions: Vec<Revision>) {
    let flow = load_flow(&command(s, &format!("history {policy}")));
    update(
        s,
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: policy.clone(),
            revisions: Ok(revisions),
        }),
    );
}

#[test]
fn history_of_a_named_policy_asks_the_journal_and_lists_newest_first() {
    let mut s = analysed();
    journal_open(&mut s);
    let policy = PolicyKey::network("acme-web", "deny-all");
    let effects = command(&mut s, "history acme-web/deny-all");
    let flow = load_flow(&effects);
    assert_eq!(
        effects,
        vec![Effect::LoadHistory {
            flow,
            policy: policy.clone()
        }]
    );
    assert!(matches!(&s.screen, Screen::History(h) if h.revisions.is_none()));
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: policy.clone(),
            revisions: Ok(vec![
                revision(1, Operation::Observed),
                revision(2, Operation::Observed),
                revision(3, Operation::Deleted),
            ]),
        }),
    );
    let Screen::History(h) = &s.screen else {
        panic!("not on history")
    };
    let numbers: Vec<u32> = h.listed().iter().map(|r| r.number).collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(h.current().unwrap().number, 3);
    press(&mut s, "j");
    press(&mut s, "j");
    let Screen::History(h) = &s.screen else {
        panic!()
    };
    assert_eq!(h.current().unwrap().number, 1);
    assert_eq!(h.previous(h.current().unwrap()), None);
    press(&mut s, "esc");
    assert_eq!(s.screen, Screen::Tenants);
}

#[test]
fn answers_for_another_policy_are_ignored() {
    let mut s = analysed();
    journal_open(&mut s);
    let flow = load_flow(&command(&mut s, "history acme-web/deny-all"));
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: PolicyKey::network("other", "x"),
            revisions: Ok(vec![revision(1, Operation::Observed)]),
        }),
    );
    assert!(matches!(&s.screen, Screen::History(h) if h.revisions.is_none()));
}

#[test]
fn an_answer_to_an_earlier_load_of_the_same_policy_is_ignored() {
    let mut s = analysed();
    journal_open(&mut s);
    let policy = PolicyKey::network("acme-web", "deny-all");
    let first = load_flow(&command(&mut s, "history acme-web/deny-all"));
    press(&mut s, "esc");
    let second = load_flow(&command(&mut s, "history acme-web/deny-all"));
    assert_ne!(first, second);
    let answer = |flow, newest| {
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: policy.clone(),
            revisions: Ok((1..=newest)
                .map(|n| revision(n, Operation::Observed))
                .collect()),
        })
    };
    update(&mut s, answer(second, 3));
    // The first load read the journal earlier and answers last, with less.
    update(&mut s, answer(first, 1));
    let Screen::History(h) = &s.screen else {
        panic!("not on history")
    };
    assert_eq!(h.current().unwrap().number, 3, "the newer answer stays");
}

#[test]
fn the_selected_tree_policy_opens_with_the_history_key() {
    let mut s = analysed();
    journal_open(&mut s);
    // acme → acme-web → its deny-all policy (as the tenants snapshot test walks).
    for key in ["enter", "j", "j", "enter", "j", "j"] {
        press(&mut s, key);
    }
    let effects = press(&mut s, "5");
    assert_eq!(effects.len(), 1, "{:?} {:?}", effects, s.notice);
    let Effect::LoadHistory { policy, .. } = &effects[0] else {
        panic!()
    };
    assert_eq!(policy.namespace(), "acme-web");
}

#[test]
fn without_a_journal_the_reason_is_shown() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::Failed("journal /x: disk full".into())),
    );
    let effects = command(&mut s, "history acme-web/deny-all");
    assert!(effects.is_empty());
    assert!(s.notice.as_deref().unwrap().contains("disk full"));
    assert_eq!(s.screen, Screen::Tenants);
}

#[test]
fn bad_names_are_refused() {
    let mut s = analysed();
    journal_open(&mut s);
    command(&mut s, "history nonsense");
    assert!(s.notice.as_deref().unwrap().contains("NAMESPACE/NAME"));
}

#[test]
fn the_changed_column_prefers_the_journal() {
    use super::rows::policy_rows;
    let mut s = analysed();
    let id = PolicyKey::Network(s.cluster.policies.keys().next().unwrap().clone());
    let mut changes = BTreeMap::new();
    changes.insert(
        id.clone(),
        Change {
            number: 4,
            observed_at: "2026-11-24T01:02:03.456Z".into(),
            manager: Some("flux".into()),
            operation: Operation::Observed,
            deleted: false,
            summary: "ingress rules 1→2".into(),
        },
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::Changes(Box::new(changes))),
    );
    let rows = policy_rows(&s, &Default::default());
    let row = rows
        .iter()
        .find(|r| r.id.as_ref().and_then(|k| k.as_network()) == id.as_network())
        .unwrap();
    assert_eq!(row.changed, "2026-11-24T01:02:03 r4 flux");
    let _ = HistoryScreen::new(id, FlowId::HEADLESS);
}

#[test]
fn a_history_on_screen_reloads_when_its_policy_changes() {
    let mut s = analysed();
    journal_open(&mut s);
    let policy = PolicyKey::network("acme-web", "deny-all");
    history_with(&mut s, &policy, vec![revision(1, Operation::Observed)]);
    let change = |number| Change {
        number,
        observed_at: String::new(),
        manager: None,
        operation: Operation::Observed,
        deleted: false,
        summary: String::new(),
    };
    let news = |number| {
        Msg::Journal(JournalNews::Changes(Box::new(BTreeMap::from([(
            policy.clone(),
            change(number),
        )]))))
    };
    assert!(
        !update(&mut s, news(1))
            .iter()
            .any(|e| matches!(e, Effect::LoadHistory { .. })),
        "nothing new"
    );
    let effects = update(&mut s, news(2));
    let flow = load_flow(&effects);
    assert!(matches!(&s.screen, Screen::History(h) if h.flow == flow));
}

#[test]
fn r_reverts_a_live_policy_and_restores_a_deleted_one() {
    use crate::rollback::RollbackKind;
    let mut s = analysed();
    journal_open(&mut s);
    let live = PolicyKey::Network(s.cluster.policies.keys().next().unwrap().clone());
    let deleted = PolicyKey::network("acme-web", "gone");
    for (policy, expected) in [
        (live.clone(), RollbackKind::Revert { to: 1 }),
        (deleted.clone(), RollbackKind::Restore { revision: Some(1) }),
    ] {
        let mut revisions = vec![
            revision(1, Operation::Observed),
            revision(2, Operation::Observed),
        ];
        for r in &mut revisions {
            r.namespace = policy.namespace().to_string();
            r.name = policy.name().to_string();
        }
        history_with(&mut s, &policy, revisions);
        press(&mut s, "j"); // r1
        let effects = press(&mut s, "R");
        assert!(
            matches!(
                effects.as_slice(),
                [Effect::PrepareRollback { policy: p, kind, .. }] if *p == policy && *kind == expected
            ),
            "{effects:?}"
        );
        press(&mut s, "esc");
        press(&mut s, "esc");
    }
    command(&mut s, &format!("history {live}"));
    assert!(matches!(
        press(&mut s, "x").as_slice(),
        [Effect::PrepareRollback {
            kind: RollbackKind::Remove,
            ..
        }]
    ));
}

#[test]
fn partial_changes_merge_into_the_known_ones() {
    let mut s = analysed();
    let change = |number| Change {
        number,
        observed_at: String::new(),
        manager: None,
        operation: Operation::Observed,
        deleted: false,
        summary: String::new(),
    };
    let (a, b) = (PolicyKey::network("ns", "a"), PolicyKey::network("ns", "b"));
    update(
        &mut s,
        Msg::Journal(JournalNews::Changes(Box::new(BTreeMap::from([
            (a.clone(), change(1)),
            (b.clone(), change(1)),
        ])))),
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::ChangesFor(Box::new(BTreeMap::from([(
            b.clone(),
            change(2),
        )])))),
    );
    assert_eq!(s.journal.changes[&a].number, 1, "untouched");
    assert_eq!(s.journal.changes[&b].number, 2, "updated");
    // A complete list replaces: a policy it no longer has goes.
    update(
        &mut s,
        Msg::Journal(JournalNews::Changes(Box::new(BTreeMap::from([(
            b.clone(),
            change(3),
        )])))),
    );
    assert!(!s.journal.changes.contains_key(&a));
}

/// `:history ns/B` over the history of A opens B's (A goes on the trail, esc returns to it);
/// the same policy again reloads in place.
#[test]
fn history_of_another_policy_opens_over_the_one_shown() {
    let mut s = analysed();
    journal_open(&mut s);
    let a = PolicyKey::network("acme-web", "deny-all");
    let b = PolicyKey::network("acme-web", "allow-dns");
    history_with(&mut s, &a, vec![revision(1, Operation::Observed)]);
    let flow = load_flow(&command(&mut s, "history acme-web/allow-dns"));
    assert!(
        matches!(&s.screen, Screen::History(h) if h.policy == b && h.flow == flow),
        "B's history is shown: {:?}",
        s.screen
    );
    // Its answer is taken (the screen waits for this flow, not A's).
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: b.clone(),
            revisions: Ok(vec![
                revision(1, Operation::Observed),
                revision(2, Operation::Observed),
            ]),
        }),
    );
    assert!(matches!(&s.screen, Screen::History(h) if h.listed().len() == 2));
    // The same policy again: a reload in place, nothing new on the trail.
    let trail = s.back.len();
    let again = load_flow(&command(&mut s, "history acme-web/allow-dns"));
    assert!(matches!(&s.screen, Screen::History(h) if h.flow == again));
    assert_eq!(s.back.len(), trail);
    // esc: back to A.
    press(&mut s, "esc");
    assert!(matches!(&s.screen, Screen::History(h) if h.policy == a));
}

/// Back on a history from a screen opened over it (the rollback flow), the history reloads:
/// the rollback added revisions while it was hidden.
#[test]
fn a_history_shown_again_by_esc_reloads() {
    let mut s = analysed();
    journal_open(&mut s);
    let a = PolicyKey::network("acme-web", "deny-all");
    history_with(
        &mut s,
        &a,
        vec![
            revision(1, Operation::Observed),
            revision(2, Operation::Observed),
        ],
    );
    command(&mut s, "policies");
    let effects = press(&mut s, "esc");
    let flow = load_flow(&effects);
    let revisions: Vec<Revision> = (1..=5).map(|n| revision(n, Operation::Observed)).collect();
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: a.clone(),
            revisions: Ok(revisions),
        }),
    );
    assert!(
        matches!(&s.screen, Screen::History(h) if h.listed().len() == 5),
        "{:?}",
        s.screen
    );
}

/// `:timeline acme` over the whole timeline opens acme's.
#[test]
fn a_timeline_of_another_tenant_opens_over_the_one_shown() {
    let mut s = analysed();
    journal_open(&mut s);
    command(&mut s, "timeline");
    let effects = command(&mut s, "timeline acme");
    let Some(flow) = effects.iter().find_map(|e| match e {
        Effect::LoadTimeline { flow, .. } => Some(flow),
        _ => None,
    }) else {
        panic!("expected the timeline load, got {effects:?}");
    };
    assert!(
        matches!(&s.screen, Screen::Timeline(t) if t.tenant.as_deref() == Some("acme") && t.flow == *flow),
        "{:?}",
        s.screen
    );
    press(&mut s, "esc");
    assert!(matches!(&s.screen, Screen::Timeline(t) if t.tenant.is_none()));
}

#[test]
fn an_opened_journal_asks_for_the_gitops_reminders_and_keeps_them() {
    let mut s = analysed();
    let effects = update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    assert!(
        effects.contains(&Effect::LoadGitOpsReminders),
        "{effects:?}"
    );
    let line = "GitOps: flux-system/apps suspended by alice 40 min ago — resume when fixed";
    update(
        &mut s,
        Msg::Journal(JournalNews::GitOpsReminders(vec![line.to_string()])),
    );
    assert_eq!(s.journal.gitops_reminders, [line]);
    // Resumed since: the next answer clears it.
    update(
        &mut s,
        Msg::Journal(JournalNews::GitOpsReminders(Vec::new())),
    );
    assert!(s.journal.gitops_reminders.is_empty());
}

/// `:history A` over the history of A reloads it; a key pressed before the journal answers
/// acts on the revisions already shown, and the answer keeps that selection. (Before, the
/// reload emptied the list, `j` fell on nothing, and `R` then reverted to the newest revision.)
#[test]
fn a_reload_in_place_keeps_the_list_and_the_cursor_until_the_answer() {
    use crate::rollback::RollbackKind;
    let mut s = analysed();
    journal_open(&mut s);
    let policy = PolicyKey::Network(s.cluster.policies.keys().next().unwrap().clone());
    let revisions = || -> Vec<Revision> {
        (1..=2)
            .map(|n| {
                let mut r = revision(n, Operation::Observed);
                r.namespace = policy.namespace().to_string();
                r.name = policy.name().to_string();
                r
            })
            .collect()
    };
    history_with(&mut s, &policy, revisions());
    let flow = load_flow(&command(&mut s, &format!("history {policy}")));
    press(&mut s, "j"); // r1, of the list still shown
    update(
        &mut s,
        Msg::Journal(JournalNews::Revisions {
            flow,
            policy: policy.clone(),
            revisions: Ok(revisions()),
        }),
    );
    let effects = press(&mut s, "R");
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::PrepareRollback {
                kind: RollbackKind::Revert { to: 1 },
                ..
            }]
        ),
        "{effects:?}"
    );
}
