//! Suspects in the console, fed as the runtime would: the journal's changes, the radii computed
//! inline for `Effect::ComputeRadii`, a reading of the agents' counters; then what `:violations`
//! says and what `S` opens. The cluster is the small fixture (acme-web denies everything by
//! default); the change is acme-web/allow-dns rev 1 → 2 by kubectl-patch, 10 s before the
//! reading, moving DNS from UDP 53 to 5353: it closes acme-web → kube-system UDP 53.

use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::msg::{Effect, JournalNews, Msg};
use super::screen::Screen;
use super::state::State;
use super::testing::{analysed, denied, press, sample_reading, state, type_text};
use super::update::update;
use crate::history::{Operation, PolicyKey, PolicyObject};
use crate::rollback::RollbackKind;
use crate::suspects::{PolicyChange, radius};

/// The reading's time in `testing::sample_reading`.
const READING_AT: i64 = 1_800_000_100;

fn dns(port: u16) -> PolicyObject {
    PolicyObject::Network(
        serde_json::from_value(json!({
            "metadata": {"name": "allow-dns", "namespace": "acme-web"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                    "ports": [{"protocol": "UDP", "port": port}, {"protocol": "TCP", "port": 53}]
                }]
            }
        }))
        .unwrap(),
    )
}

fn bad_dns() -> PolicyChange {
    PolicyChange {
        policy: PolicyKey::network("acme-web", "allow-dns"),
        from_revision: 1,
        to_revision: 2,
        at: Timestamp::from_second(READING_AT - 10).unwrap(),
        manager: Some("kubectl-patch".into()),
        operation: Operation::Observed,
        before: Some(dns(53)),
        after: Some(dns(5353)),
    }
}

fn radii_asked(effects: &[Effect]) -> Option<(crate::flow::FlowId, Vec<PolicyChange>)> {
    effects.iter().find_map(|e| match e {
        Effect::ComputeRadii { flow, changes } => Some((*flow, changes.clone())),
        _ => None,
    })
}

/// What the runtime does for `Effect::ComputeRadii`, inline.
fn compute(s: &mut State, flow: crate::flow::FlowId, changes: &[PolicyChange]) {
    let radii = changes
        .iter()
        .map(|c| (c.id(), radius(&s.cluster, &s.analysis_config(), c)))
        .collect();
    update(s, Msg::Radii { flow, radii });
}

/// acme's DNS denied in a reading of the agents' counters, and `:violations` open on it.
fn show_the_denial(s: &mut State) {
    update(
        s,
        Msg::Metrics(Box::new(sample_reading(vec![denied(
            Some("acme-web"),
            Some("kube-system"),
            2.0,
        )]))),
    );
    press(s, ":");
    type_text(s, "violations");
    press(s, "enter");
}

/// The fixture with the journal open, acme's DNS denied on screen, the change read from the
/// journal, and its radius.
fn incident() -> State {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    show_the_denial(&mut s);
    assert!(update(&mut s, Msg::Settle).contains(&Effect::LoadChanges));
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![bad_dns()].into()))),
    );
    let (flow, changes) = radii_asked(&update(&mut s, Msg::Settle)).expect("radii asked");
    compute(&mut s, flow, &changes);
    s
}

#[test]
fn new_revisions_reload_the_changes_and_radii_wait_for_the_listed_cluster() {
    let mut s = state();
    let effects = update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    // A busy cluster's journal has news many times a second: nothing reads the changes
    // before a denial is on screen.
    assert!(!effects.contains(&Effect::LoadChanges), "{effects:?}");
    assert!(!update(&mut s, Msg::Settle).contains(&Effect::LoadChanges));
    show_the_denial(&mut s);
    let observation = super::suspects_flow::selected_observation(&s).expect("a selected denial");
    assert_eq!(
        s.suspects.line(&observation),
        "likely cause: reading the journal's recent policy changes…"
    );
    assert!(update(&mut s, Msg::Settle).contains(&Effect::LoadChanges));
    assert!(
        !update(&mut s, Msg::Settle).contains(&Effect::LoadChanges),
        "one read at a time"
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![bad_dns()].into()))),
    );
    // Nothing listed yet: a radius now would be computed on an empty cluster.
    assert_eq!(radii_asked(&update(&mut s, Msg::Settle)), None);

    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![bad_dns()].into()))),
    );
    show_the_denial(&mut s);
    let (flow, changes) = radii_asked(&update(&mut s, Msg::Settle)).expect("radii asked");
    assert_eq!(changes, vec![bad_dns()]);
    // One batch at a time, and an answer for another flow (another context's) is dropped.
    assert_eq!(radii_asked(&update(&mut s, Msg::Settle)), None);
    let mut other = flow;
    for _ in 0..3 {
        other = s.session.flows.issue();
    }
    update(
        &mut s,
        Msg::Radii {
            flow: other,
            radii: Vec::new(),
        },
    );
    assert_eq!(s.suspects.computing, Some(flow));
    compute(&mut s, flow, &changes);
    assert_eq!(s.suspects.computing, None);
    assert!(s.suspects.radii.contains_key(&bad_dns().id()));
    // Known now: not asked again.
    assert_eq!(radii_asked(&update(&mut s, Msg::Settle)), None);
}

/// A change to a policy of acme-web that changes nothing (before and after alike), `ago`
/// seconds before the reading: a candidate whose radius is empty.
fn no_op(i: usize, ago: i64) -> PolicyChange {
    PolicyChange {
        policy: PolicyKey::network("acme-web", format!("no-op-{i}")),
        at: Timestamp::from_second(READING_AT - ago).unwrap(),
        before: Some(dns(53)),
        after: Some(dns(53)),
        ..bad_dns()
    }
}

#[test]
fn radii_are_asked_only_for_the_denials_on_screen() {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![bad_dns()].into()))),
    );
    // A churning cluster changes policies many times a second: no radius is worth two engine
    // builds until a denial on screen could blame its change.
    assert_eq!(radii_asked(&update(&mut s, Msg::Settle)), None);
    update(
        &mut s,
        Msg::Metrics(Box::new(sample_reading(vec![denied(
            Some("acme-web"),
            Some("kube-system"),
            2.0,
        )]))),
    );
    assert_eq!(
        radii_asked(&update(&mut s, Msg::Settle)),
        None,
        "the denial is not on screen yet"
    );
    press(&mut s, ":");
    type_text(&mut s, "violations");
    press(&mut s, "enter");
    let (_, changes) = radii_asked(&update(&mut s, Msg::Settle)).expect("radii asked");
    assert_eq!(changes, vec![bad_dns()]);

    // A change after the denial began cannot be its cause: never asked for.
    let mut s = analysed();
    let mut late = bad_dns();
    late.at = Timestamp::from_second(READING_AT + 60).unwrap();
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![late].into()))),
    );
    show_the_denial(&mut s);
    assert_eq!(radii_asked(&update(&mut s, Msg::Settle)), None);
}

#[test]
fn the_likely_cause_is_partial_until_every_change_before_it_is_checked() {
    use super::suspects::RADII_PER_BATCH;
    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::Opened("/tmp/journal.sqlite".into())),
    );
    // Oldest first, as the journal gives them: five no-ops before the suspect.
    let mut changes: Vec<PolicyChange> = (0..5).map(|i| no_op(i, 100 - i as i64)).collect();
    changes.push(bad_dns());
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(changes.clone().into()))),
    );
    show_the_denial(&mut s);
    let observation = super::suspects_flow::selected_observation(&s).expect("a selected denial");
    assert_eq!(
        s.suspects.line(&observation),
        "likely cause: computing what the recent policy changes close…"
    );

    // A batch at a time, the latest changes before the denial first.
    let (flow, first) = radii_asked(&update(&mut s, Msg::Settle)).expect("radii asked");
    let latest: Vec<PolicyChange> = changes
        .iter()
        .rev()
        .take(RADII_PER_BATCH)
        .cloned()
        .collect();
    assert_eq!(first, latest);
    compute(&mut s, flow, &first);
    assert_eq!(
        s.suspects.line(&observation),
        "likely cause so far: acme-web/allow-dns rev 2 (kubectl-patch, 10 s before; closes acme \
         → platform UDP 53); 2 more policy change(s) before it still being checked"
    );
    // `S` rolls back the likely cause, not the best guess so far.
    assert!(press(&mut s, "S").is_empty());
    assert!(matches!(s.screen, Screen::Violations(_)));
    assert_eq!(
        s.notice.clone().unwrap_or_default(),
        "2 policy change(s) before acme-web → kube-system still being checked: S works once the \
         likely cause is settled"
    );

    let (flow, rest) = radii_asked(&update(&mut s, Msg::Settle)).expect("the rest asked");
    assert_eq!(rest, vec![changes[1].clone(), changes[0].clone()]);
    compute(&mut s, flow, &rest);
    assert_eq!(radii_asked(&update(&mut s, Msg::Settle)), None);
    assert!(
        s.suspects
            .line(&observation)
            .starts_with("likely cause: acme-web/allow-dns rev 2"),
        "{}",
        s.suspects.line(&observation)
    );
    press(&mut s, "S");
    assert!(matches!(s.screen, Screen::Rollback(_)));
}

#[test]
fn violations_name_the_likely_cause_of_the_selected_denial() {
    let s = incident();
    assert!(matches!(s.screen, Screen::Violations(_)));
    let observation = super::suspects_flow::selected_observation(&s).expect("a selected denial");
    assert_eq!(observation.label(), "acme-web → kube-system");
    assert_eq!(
        s.suspects.line(&observation),
        "likely cause: acme-web/allow-dns rev 2 (kubectl-patch, 10 s before; closes acme → \
         platform UDP 53)  (S: roll it back)"
    );
}

#[test]
fn the_console_keeps_the_newest_changes_and_says_when_a_window_was_cut() {
    use super::suspects::CHANGES_AT_MOST;
    let mut s = incident();
    assert!(s.suspects.radii.contains_key(&bad_dns().id()));
    // A busy cluster: after the suspect, more changes than the console keeps, all of them
    // after the denial began.
    let mut changes = vec![bad_dns()];
    changes.extend((0..CHANGES_AT_MOST as i64).map(|i| PolicyChange {
        policy: PolicyKey::network("acme-web", format!("busy-{i}")),
        at: Timestamp::from_second(READING_AT + 100 + i).unwrap(),
        ..bad_dns()
    }));
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(changes.clone().into()))),
    );
    assert_eq!(s.suspects.changes, changes[1..], "the newest, oldest first");
    assert_eq!(s.suspects.left_out, 1);
    assert!(
        !s.suspects.radii.contains_key(&bad_dns().id()),
        "a radius goes with its change"
    );
    let observation = super::suspects_flow::selected_observation(&s).expect("a selected denial");
    assert_eq!(
        s.suspects.line(&observation),
        format!(
            "no suspect for acme-web → kube-system: no policy change in the journal in the 30 min \
             before it; the console keeps only the newest {CHANGES_AT_MOST} changes (1 older \
             left out): `palisade suspects` reads them all"
        )
    );

    // Under the bound again: all kept, nothing said about a cut.
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![bad_dns()].into()))),
    );
    assert_eq!((s.suspects.changes.len(), s.suspects.left_out), (1, 0));
}

#[test]
fn s_opens_the_rollback_of_exactly_the_suspect_change() {
    let mut s = incident();
    let effects = press(&mut s, "S");
    let Screen::Rollback(screen) = &s.screen else {
        panic!("not the rollback flow: {:?}", s.screen);
    };
    assert_eq!(screen.policy, PolicyKey::network("acme-web", "allow-dns"));
    assert_eq!(screen.kind, RollbackKind::Revert { to: 1 });
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::PrepareRollback { policy, kind: RollbackKind::Revert { to: 1 }, .. }
                if *policy == PolicyKey::network("acme-web", "allow-dns")
        )),
        "{effects:?}"
    );
}

#[test]
fn s_without_a_suspect_says_why_and_opens_nothing() {
    let mut s = incident();
    // The change came after the denial began: not a suspect.
    let mut late = bad_dns();
    late.at = Timestamp::from_second(READING_AT + 60).unwrap();
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![late].into()))),
    );
    let effects = press(&mut s, "S");
    assert!(effects.is_empty(), "{effects:?}");
    assert!(matches!(s.screen, Screen::Violations(_)));
    let notice = s.notice.clone().unwrap_or_default();
    assert!(
        notice.starts_with("no suspect") && notice.contains("acme-web → kube-system"),
        "{notice}"
    );
    // Nowhere to act: the tenants tree has no denial selected.
    let mut s = incident();
    press(&mut s, "1");
    assert!(press(&mut s, "S").is_empty());
    assert!(
        s.notice
            .unwrap_or_default()
            .starts_with("no denial selected")
    );
}

#[test]
fn only_news_of_new_revisions_reloads_the_changes() {
    use crate::history::Change;
    let mut s = incident();
    let policy = PolicyKey::network("acme-web", "allow-dns");
    let news = |number| {
        Msg::Journal(JournalNews::ChangesFor(Box::new(
            std::collections::BTreeMap::from([(
                policy.clone(),
                Change {
                    number,
                    observed_at: String::new(),
                    manager: None,
                    operation: Operation::Observed,
                    deleted: false,
                    summary: String::new(),
                },
            )]),
        )))
    };
    let reads = |s: &mut State| update(s, Msg::Settle).contains(&Effect::LoadChanges);
    assert!(!reads(&mut s), "nothing new");
    update(&mut s, news(3));
    assert!(
        reads(&mut s),
        "a new revision: read again, the denial being on screen"
    );
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Ok(vec![bad_dns()].into()))),
    );
    update(&mut s, news(3));
    assert!(!reads(&mut s), "the same news again");
}

#[test]
fn a_timeline_spike_shows_its_likely_cause_and_s_rolls_it_back() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut s = incident();
    let effects = {
        press(&mut s, ":");
        type_text(&mut s, "timeline");
        press(&mut s, "enter")
    };
    let flow = effects
        .iter()
        .find_map(|e| match e {
            Effect::LoadTimeline { flow, .. } => Some(*flow),
            _ => None,
        })
        .expect("the timeline asks the journal");
    // The journal has nothing to add; the spike comes from this session's reading.
    update(
        &mut s,
        Msg::Journal(JournalNews::Timeline {
            flow,
            events: Ok(Vec::new()),
        }),
    );
    let observation = super::suspects_flow::selected_observation(&s).expect("a spike");
    assert_eq!(observation.label(), "acme → platform");

    let (config, _) = crate::config::Config::load(None, false);
    let mut terminal = Terminal::new(TestBackend::new(160, 20)).unwrap();
    terminal
        .draw(|frame| crate::ui::view(&s, &config.theme, frame))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let text: String = buffer.content().iter().map(|c| c.symbol()).collect();
    assert!(
        text.contains("↳ likely cause: acme-web/allow-dns rev 2 (kubectl-patch, 10 s before"),
        "{text}"
    );

    press(&mut s, "S");
    let Screen::Rollback(screen) = &s.screen else {
        panic!("not the rollback flow: {:?}", s.screen);
    };
    assert_eq!(screen.kind, RollbackKind::Revert { to: 1 });
}

#[test]
fn without_a_journal_the_line_says_so() {
    let mut s = incident();
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Err(
            "the revision journal is not available".into(),
        ))),
    );
    // The changes already read still stand.
    let observation = super::suspects_flow::selected_observation(&s).unwrap();
    assert!(s.suspects.line(&observation).starts_with("likely cause: "));
    let mut s = analysed();
    update(
        &mut s,
        Msg::Journal(JournalNews::RecentChanges(Err(
            "the revision journal is not available".into(),
        ))),
    );
    let observation = crate::suspects::Observation {
        from: "acme".into(),
        to: "platform".into(),
        from_namespace: None,
        to_namespace: None,
        port: None,
        started: Timestamp::from_second(READING_AT).unwrap(),
        evidence: crate::suspects::Evidence::Counters,
    };
    assert_eq!(
        s.suspects.line(&observation),
        "no suspect: the journal's changes cannot be read: the revision journal is not available"
    );
}
