//! The guided tour's state machine: conditions, advancing, leaving, resuming, the steps file.

use super::history::HistoryScreen;
use super::msg::{Effect, Msg};
use super::rollback::{RollbackScreen, Stage};
use super::screen::{Screen, TableScreen};
use super::testing::{analysed, press, type_text};
use super::tour::{self, Condition, Region, builtin_steps, parse_steps};
use super::update::update;
use crate::model::ObjectRef;
use crate::rollback::RollbackKind;

fn command(s: &mut super::State, line: &str) -> Vec<Effect> {
    press(s, ":");
    type_text(s, line);
    press(s, "enter")
}

fn holds(s: &super::State, condition: &str) -> bool {
    Condition::parse(condition).unwrap().holds(s)
}

#[test]
fn the_builtin_steps_load_and_cover_issue_7_in_order() {
    let steps = parse_steps(tour::STEPS_YAML).expect("docs/tour.yaml is valid");
    let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "tenants",
            "default-deny",
            "dns-egress",
            "matrix",
            "explain",
            "intent",
            "telemetry",
            "rollback",
            "audit",
            "tiers"
        ]
    );
    assert_eq!(
        steps[7].breaks,
        Some(ObjectRef::new("acme-web", "allow-dns")),
        "the rehearsal breaks a demo policy"
    );
    assert_eq!(steps[7].done, Condition::RollbackDone);
    assert_eq!(steps[0].highlight, Region::Tree);
    for step in &steps {
        let sentences = step.explain.matches(". ").count() + 1;
        assert!(
            (2..=3).contains(&sentences),
            "{}: {}",
            step.id,
            step.explain
        );
    }
}

#[test]
fn a_bad_steps_file_names_the_step_and_the_field() {
    let step = |highlight: &str, done: &str| {
        format!(
            "steps:\n  - id: first\n    title: T\n    explain: E.\n    instruction: I\n    \
             highlight: {highlight}\n    done: \"{done}\"\n"
        )
    };
    let err = parse_steps(&step("sidebar", "screen: matrix")).unwrap_err();
    assert!(
        err.contains("step 1 (first)") && err.contains("`highlight`"),
        "{err}"
    );
    assert!(err.contains("unknown region `sidebar`"), "{err}");
    let err = parse_steps(&step("tree", "moon-phase: full")).unwrap_err();
    assert!(
        err.contains("step 1 (first)") && err.contains("`done`"),
        "{err}"
    );
    assert!(err.contains("unknown condition `moon-phase`"), "{err}");
    let err = parse_steps(&step("tree", "screen: nowhere")).unwrap_err();
    assert!(err.contains("unknown screen `nowhere`"), "{err}");
    let err = parse_steps(&step("tree", "screen")).unwrap_err();
    assert!(err.contains("needs a screen name"), "{err}");
    let err = parse_steps(&format!(
        "{}    breaks: nope\n",
        step("tree", "rollback-done")
    ))
    .unwrap_err();
    assert!(err.contains("`breaks`"), "{err}");
    let err = parse_steps("steps:\n  - id: x\n    colour: red\n").unwrap_err();
    assert!(err.contains("colour"), "{err}");
    assert!(parse_steps("steps: []\n").unwrap_err().contains("no steps"));
    assert!(parse_steps(&step("matrix-cell", "rollback-done")).is_ok());
}

#[test]
fn each_condition_is_checked_on_the_state() {
    let mut s = analysed();
    assert!(holds(&s, "screen: tenants"));
    assert!(!holds(&s, "tree-expanded: tenant:acme"));
    press(&mut s, "enter"); // the first tenant, acme, opens
    assert!(holds(&s, "tree-expanded: tenant:acme"));
    assert!(!holds(&s, "tree-expanded: ns:acme-web"));
    // acme → acme-db (deny-all), open it, select its policy.
    press(&mut s, "j");
    press(&mut s, "enter");
    assert!(holds(&s, "tree-expanded: ns:acme-db"));
    assert!(!holds(&s, "selected-policy-in: acme-db"));
    for _ in 0..4 {
        if holds(&s, "selected-policy-in: acme-db") {
            break;
        }
        press(&mut s, "j");
    }
    assert!(holds(&s, "selected-policy-in: acme-db"));
    assert!(!holds(&s, "selected-policy-in: globex-app"));

    command(&mut s, "findings");
    assert!(holds(&s, "screen: findings") && holds(&s, "command: findings"));
    assert!(!holds(&s, "filter: PAL020"));
    press(&mut s, "/");
    type_text(&mut s, "pal020");
    press(&mut s, "enter");
    assert!(holds(&s, "filter: PAL020"));
    command(&mut s, "matrix");
    assert!(holds(&s, "screen: matrix") && !holds(&s, "command: findings"));
    press(&mut s, "enter");
    assert!(holds(&s, "screen: namespaces"));

    s.screen = Screen::History(HistoryScreen::new(
        ObjectRef::new("acme-web", "allow-dns").into(),
        s.session.flows.issue(),
    ));
    assert!(holds(&s, "screen: history"));
    assert!(holds(&s, "history-of: acme-web/allow-dns"));
    assert!(!holds(&s, "history-of: acme-web/other"));

    let mut rollback = RollbackScreen::new(
        s.session.flows.issue(),
        ObjectRef::new("acme-web", "allow-dns").into(),
        RollbackKind::Revert { to: 1 },
    );
    s.screen = Screen::Rollback(Box::new(rollback.clone()));
    assert!(holds(&s, "screen: rollback") && !holds(&s, "rollback-done"));
    rollback.stage = Stage::Done {
        outcome: "refused".into(),
        detail: String::new(),
    };
    s.screen = Screen::Rollback(Box::new(rollback.clone()));
    assert!(
        !holds(&s, "rollback-done"),
        "only a rollback that was done counts"
    );
    rollback.stage = Stage::Done {
        outcome: "done".into(),
        detail: String::new(),
    };
    s.screen = Screen::Rollback(Box::new(rollback));
    assert!(holds(&s, "rollback-done"));
    s.screen = Screen::Latency(TableScreen::default());
    assert!(holds(&s, "screen: latency"));
}

#[test]
fn the_tour_advances_when_the_step_is_done_and_saves_each_step() {
    let mut s = analysed();
    assert!(s.session.tour.step().is_none(), "not running before :tour");
    let effects = command(&mut s, "tour");
    assert!(effects.contains(&Effect::SaveTour(0)), "{effects:?}");
    assert_eq!(s.session.tour.step().unwrap().id, "tenants");
    // Something unrelated does not advance.
    press(&mut s, "j");
    press(&mut s, "k");
    assert_eq!(s.session.tour.current, 0);
    let effects = press(&mut s, "enter");
    assert_eq!(s.session.tour.current, 1, "acme is open: step 2");
    assert_eq!(effects, vec![Effect::SaveTour(1)]);
    // Conditions are checked after every message, not only keys.
    s.nav
        .opened
        .insert(vec!["tenant:acme".into(), "ns:acme-web".into()]);
    update(&mut s, Msg::Settle);
    assert_eq!(s.session.tour.current, 2);
}

#[test]
fn leaving_and_resuming_keeps_the_step() {
    let mut s = analysed();
    command(&mut s, "tour");
    press(&mut s, "enter");
    assert_eq!(s.session.tour.current, 1);
    let effects = command(&mut s, "tour off");
    assert_eq!(effects, vec![Effect::SaveTour(1)]);
    assert!(s.session.tour.step().is_none() && !s.session.tour.started);
    assert!(s.notice.as_deref().unwrap().contains(":tour resumes"));
    // Done while away: nothing advances.
    s.nav
        .opened
        .insert(vec!["tenant:acme".into(), "ns:acme-web".into()]);
    update(&mut s, Msg::Settle);
    assert_eq!(s.session.tour.current, 1);
    // Back: the step is checked at once.
    command(&mut s, "tour");
    assert!(s.session.tour.started);
    assert_eq!(s.session.tour.current, 2);
    // Restart goes back to step 1; acme and acme-web are open here, so it moves on to step 3.
    let effects = command(&mut s, "tour restart");
    assert_eq!(effects.first(), Some(&Effect::SaveTour(0)), "{effects:?}");
    assert_eq!(s.session.tour.current, 2);
    assert!(command(&mut s, "tour sideways").is_empty());
    assert!(s.notice.as_deref().unwrap().contains("usage"));
}

#[test]
fn a_saved_step_resumes_at_the_next_start() {
    let mut s = analysed();
    let effects = update(
        &mut s,
        Msg::TourLoaded {
            saved: Some(7),
            offer: true,
            start: true,
        },
    );
    assert_eq!(s.session.tour.current, 7);
    assert_eq!(s.session.tour.step().unwrap().id, "rollback");
    assert!(
        effects.contains(&Effect::TourBreak(ObjectRef::new("acme-web", "allow-dns"))),
        "resuming the rehearsal breaks the demo again: {effects:?}"
    );
    // Not before the cluster is listed: the journal must see the policy as it was first.
    let mut syncing = super::testing::state();
    let effects = update(
        &mut syncing,
        Msg::TourLoaded {
            saved: Some(7),
            offer: false,
            start: true,
        },
    );
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::TourBreak(_))),
        "{effects:?}"
    );
    let mut effects = Vec::new();
    super::testing::not_served(&mut syncing);
    for kind in crate::model::ResourceKind::ALL {
        effects.extend(update(
            &mut syncing,
            Msg::Watch {
                kind,
                event: super::msg::WatchEvent::Listed(Vec::new()),
            },
        ));
    }
    assert_eq!(
        effects
            .iter()
            .filter(|e| matches!(e, Effect::TourBreak(_)))
            .count(),
        1,
        "once live, the break goes out once: {effects:?}"
    );
    // Without a progress file the demo offers the tour; with one it stays quiet.
    let mut fresh = analysed();
    update(
        &mut fresh,
        Msg::TourLoaded {
            saved: None,
            offer: true,
            start: false,
        },
    );
    assert!(!fresh.session.tour.started);
    assert_eq!(
        fresh.notice.as_deref(),
        Some("new here? :tour starts a guided tour")
    );
    let mut again = analysed();
    update(
        &mut again,
        Msg::TourLoaded {
            saved: Some(3),
            offer: true,
            start: false,
        },
    );
    assert_eq!(again.notice, None);
    command(&mut again, "tour");
    assert_eq!(again.session.tour.current, 3);
    assert_eq!(tour::parse_progress(&tour::progress_text(3)), Some(3));
    assert_eq!(tour::parse_progress("garbage"), None);
}

#[test]
fn the_last_step_finishes_the_tour() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::TourLoaded {
            saved: Some(8),
            offer: false,
            start: true,
        },
    );
    assert_eq!(s.session.tour.step().unwrap().id, "audit");
    s.journal.path = Some("journal.sqlite".into());
    let effects = command(&mut s, "history acme-web/allow-dns");
    assert!(effects.contains(&Effect::SaveTour(9)), "{effects:?}");
    assert_eq!(s.session.tour.step().unwrap().id, "tiers");
    command(&mut s, "policies");
    press(&mut s, "/");
    type_text(&mut s, "cluste");
    assert!(!s.session.tour.finished);
    let effects = press(&mut s, "r"); // the filter applies as it is typed
    assert!(s.session.tour.finished && !s.session.tour.started);
    assert!(effects.contains(&Effect::SaveTour(10)), "{effects:?}");
    assert!(s.notice.as_deref().unwrap().contains("tour finished"));
    press(&mut s, "enter"); // closes the filter line
    // A finished tour starts over.
    command(&mut s, "tour");
    assert_eq!(s.session.tour.current, 0);
    assert_eq!(builtin_steps().len(), 10);
}

/// A refused rehearsal (read-only, or not the demo) skips the step: the panel says why and that
/// nothing was changed, and the step is done on :violations, so the tour stays walkable.
#[test]
fn a_refused_rehearsal_is_skipped_with_the_reason_and_the_tour_goes_on() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::TourLoaded {
            saved: Some(7),
            offer: false,
            start: true,
        },
    );
    let policy = ObjectRef::new("acme-web", "allow-dns");
    // Another policy's refusal does not skip this step.
    update(
        &mut s,
        Msg::TourBreakRefused {
            policy: ObjectRef::new("other", "p"),
            reason: "x".into(),
        },
    );
    assert_eq!(s.session.tour.rehearsal_refused, None);
    command(&mut s, "violations");
    assert_eq!(s.session.tour.current, 7, "the rollback is still asked for");
    command(&mut s, "tenants");
    update(
        &mut s,
        Msg::TourBreakRefused {
            policy,
            reason: "the console is read-only: --read-only".into(),
        },
    );
    let (explain, instruction) = s.session.tour.panel_text().unwrap();
    assert!(
        explain.starts_with(
            "Rehearsal skipped: the tour did not break acme-web/allow-dns (the console is \
             read-only: --read-only); nothing was changed on the cluster"
        ),
        "{explain}"
    );
    assert!(instruction.contains(":violations"), "{instruction}");
    assert!(s.notice.as_deref().unwrap().contains("nothing was changed"));
    let effects = command(&mut s, "violations");
    assert_eq!(s.session.tour.step().unwrap().id, "audit");
    assert!(effects.contains(&Effect::SaveTour(8)), "{effects:?}");
    let (explain, _) = s.session.tour.panel_text().unwrap();
    assert!(!explain.contains("skipped"), "the next step is itself");
}
