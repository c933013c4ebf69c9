//! Replies matched to the request that asked (analyses, context switches), the journal's
//! records of policy events, and what a context switch keeps.

use super::testing::{analysed, press, type_text};
use super::{Effect, Msg, State, WatchEvent, update};
use crate::model::ResourceKind;
use crate::model::fixture;

#[test]
fn an_analysis_of_an_earlier_snapshot_request_is_dropped() {
    let mut s = analysed();
    let findings = s.analysis.as_ref().unwrap().findings.len();
    // Ask for a new analysis; an answer with another flow (another context's, say) is ignored.
    let ns = fixture::namespace("acme-new", &[("tenant", "acme")]);
    update(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::Namespace,
            event: WatchEvent::Applied(Box::new(ns)),
        },
    );
    update(&mut s, Msg::Settle);
    let running = s.analysis_job.running.expect("asked");
    let empty = crate::isolation::analysis::analyze(
        Default::default(),
        &s.tenant_rules,
        s.ip_block_pods,
        None,
    );
    let stale = s.session.flows.issue();
    assert!(
        update(
            &mut s,
            Msg::Analyzed {
                flow: stale,
                analysis: Box::new(empty)
            }
        )
        .is_empty()
    );
    assert_eq!(s.analysis.as_ref().unwrap().findings.len(), findings);
    assert_eq!(
        s.analysis_job.running,
        Some(running),
        "still waiting for its own"
    );
}

#[test]
fn only_the_context_switch_asked_last_is_adopted() {
    let mut s = analysed();
    s.session.contexts = vec!["test-ctx".into(), "prod".into(), "staging".into()];
    let switch = |s: &mut State, name: &str| {
        press(s, ":");
        for c in format!("ctx {name}").chars() {
            press(s, &c.to_string());
        }
        match press(s, "enter").as_slice() {
            [Effect::SwitchContext { flow, name: asked }] if asked == name => *flow,
            other => panic!("expected a switch to {name}, got {other:?}"),
        }
    };
    let prod = switch(&mut s, "prod");
    let staging = switch(&mut s, "staging");
    // The slow prod connection answers after staging was asked: dropped, nothing moves.
    let effects = update(
        &mut s,
        Msg::ContextConnected {
            flow: prod,
            result: Ok("prod".into()),
        },
    );
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(s.context, "test-ctx");
    assert!(
        !s.cluster.namespaces.is_empty(),
        "the old cluster stays until the switch"
    );
    let effects = update(
        &mut s,
        Msg::ContextConnected {
            flow: staging,
            result: Ok("staging".into()),
        },
    );
    assert_eq!(effects, vec![Effect::AdoptContext(staging)]);
    assert_eq!(s.context, "staging");
    assert!(
        s.cluster.namespaces.is_empty(),
        "the new context starts from nothing"
    );
    assert_eq!(s.session.contexts.len(), 3, "the session part survives");
    // Flow ids stay unique across the switch.
    assert!(s.session.flows.issue() > staging);
}

#[test]
fn a_failed_context_switch_keeps_the_cluster_and_says_why() {
    let mut s = analysed();
    s.session.contexts = vec!["test-ctx".into(), "prod".into()];
    press(&mut s, ":");
    for c in "ctx prod".chars() {
        press(&mut s, &c.to_string());
    }
    let effects = press(&mut s, "enter");
    let [Effect::SwitchContext { flow, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let flow = *flow;
    update(
        &mut s,
        Msg::ContextConnected {
            flow,
            result: Err("prod: the cluster did not answer within 10 s".into()),
        },
    );
    assert_eq!(s.context, "test-ctx");
    assert!(s.notice.as_deref().unwrap().contains("did not answer"));
    assert_eq!(s.session.switching, None);
}

#[test]
fn the_journal_records_a_deleted_policy_as_the_console_last_had_it() {
    use crate::app::msg::PolicyRecord;
    use crate::history::JournalEvent;
    let mut s = analysed();
    let effects = update(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::NetworkPolicy,
            event: WatchEvent::Deleted {
                namespace: Some("acme-web".into()),
                name: "deny-all".into(),
            },
        },
    );
    let [Effect::Journal(record)] = effects.as_slice() else {
        panic!("expected one journal record, got {effects:?}")
    };
    let PolicyRecord::Event(event) = record.as_ref() else {
        panic!("{record:?}")
    };
    let JournalEvent::Deleted { last, .. } = event.as_ref() else {
        panic!("{record:?}")
    };
    let last = last.as_ref().expect("the object as last seen");
    assert_eq!(last.meta().name.as_deref(), Some("deny-all"));
    // Other kinds are not journalled.
    let effects = update(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::Namespace,
            event: WatchEvent::Deleted {
                namespace: None,
                name: "acme-db".into(),
            },
        },
    );
    assert!(effects.is_empty());
}

#[test]
fn a_context_switch_keeps_the_session_and_replaces_the_rest_in_one_step() {
    let mut s = analysed();
    s.session.contexts = vec!["test-ctx".into(), "prod".into()];
    update(
        &mut s,
        Msg::Resize {
            width: 200,
            height: 60,
        },
    );
    press(&mut s, "/");
    type_text(&mut s, "acme");
    press(&mut s, "enter");
    let rows = s.session.viewport_rows;
    let effects = {
        press(&mut s, ":");
        type_text(&mut s, "ctx prod");
        press(&mut s, "enter")
    };
    let [Effect::SwitchContext { flow, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let flow = *flow;
    update(
        &mut s,
        Msg::ContextConnected {
            flow,
            result: Ok("prod".into()),
        },
    );
    // The terminal is the same terminal: mouse clicks and paging still map to its rows (they
    // were reset to 80x24 before the session part existed).
    assert_eq!(s.session.viewport_rows, rows);
    assert_eq!(s.session.terminal_size, (200, 60));
    assert_eq!(s.session.command_history.last().unwrap(), "ctx prod");
    // The cluster's part starts from nothing, the tree filter included.
    assert!(s.tree_filter.is_empty());
    assert!(s.cluster.namespaces.is_empty());
}
