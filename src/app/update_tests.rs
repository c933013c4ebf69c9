use super::action::KeyContext;
use super::state::{Focus, State, SyncState};
use super::testing::{analyse, analysed, listed, press, state, type_text};
use super::{Effect, Msg, WatchEvent, update};
use crate::config::Keymap;
use crate::config::keys::KeyPress;
use crate::model::fixture::{self, small_cluster};
use crate::model::{Health, ResourceKind};
use k8s_openapi::jiff::Timestamp;

/// A message as the runtime delivers it: applied, then settled at the end of its batch.
/// The message and a settle, as the runtime would; the effects but the journal's records.
fn feed(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut effects = update(state, msg);
    effects.extend(update(state, Msg::Settle));
    effects.retain(|e| !matches!(e, Effect::Journal(_)));
    effects
}

fn selected(state: &State) -> Vec<&str> {
    state.nav.selected.iter().map(String::as_str).collect()
}

#[test]
fn initial_lists_make_every_kind_live_and_build_the_tree() {
    let mut s = state();
    assert!(!s.is_live());
    listed(&mut s, small_cluster());
    assert!(s.is_live());
    let groups: Vec<_> = s.tree.groups.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(groups, ["tenant:acme", "tenant:globex", "platform"]);
    let acme = &s.tree.groups[0];
    assert_eq!(acme.pod_count(), 3);
    assert_eq!(acme.namespaces.len(), 2);
    let globex_app = &s.tree.groups[1].namespaces[0];
    assert!(globex_app.isolated.ingress && !globex_app.isolated.egress);
}

#[test]
fn keys_move_expand_and_collapse() {
    let mut s = state();
    listed(&mut s, small_cluster());
    assert_eq!(
        selected(&s),
        ["tenant:acme"],
        "the first row is selected once data arrives"
    );
    press(&mut s, "enter");
    press(&mut s, "j");
    assert_eq!(selected(&s), ["tenant:acme", "ns:acme-db"]);
    press(&mut s, "l"); // open acme-db
    press(&mut s, "l"); // step into its first policy
    assert_eq!(
        selected(&s),
        ["tenant:acme", "ns:acme-db", "netpol:acme-db/deny-all"]
    );
    press(&mut s, "h"); // leaf: go to parent
    assert_eq!(selected(&s), ["tenant:acme", "ns:acme-db"]);
    press(&mut s, "G");
    assert_eq!(selected(&s), ["platform"]);
    press(&mut s, "g");
    press(&mut s, "g");
    assert_eq!(selected(&s), ["tenant:acme"]);
}

#[test]
fn chords_wait_for_their_last_key_and_esc_abandons_them() {
    let mut s = state();
    listed(&mut s, small_cluster());
    press(&mut s, "G");
    assert_eq!(selected(&s), ["platform"]);
    // `g` starts `g g`: nothing happens yet.
    assert_eq!(press(&mut s, "g"), vec![]);
    assert_eq!(s.session.pending_keys, [KeyPress::parse("g").unwrap()]);
    assert_eq!(selected(&s), ["platform"]);
    press(&mut s, "g");
    assert!(s.session.pending_keys.is_empty());
    assert_eq!(selected(&s), ["tenant:acme"]);

    // An unbound continuation drops the whole sequence; the next key starts afresh.
    press(&mut s, "G");
    press(&mut s, "g");
    press(&mut s, "x");
    assert!(s.session.pending_keys.is_empty());
    assert_eq!(selected(&s), ["platform"]);
    press(&mut s, "k");
    assert_eq!(selected(&s), ["tenant:globex"]);

    // Esc while a chord is pending only abandons the chord; focus and popups stay.
    press(&mut s, "tab");
    assert_eq!(s.focus, Focus::Detail);
    press(&mut s, "g");
    assert_eq!(s.session.pending_keys.len(), 1);
    press(&mut s, "esc");
    assert!(s.session.pending_keys.is_empty());
    assert_eq!(s.focus, Focus::Detail);
    press(&mut s, "esc");
    assert_eq!(s.focus, Focus::Tree);
}

#[test]
fn the_emacs_keymap_drives_the_console_with_chords() {
    let (keymap, _) = Keymap::builtin("emacs").unwrap();
    let mut s = State::new("test-ctx", keymap, vec![]);
    listed(&mut s, small_cluster());
    press(&mut s, "ctrl-n");
    assert_eq!(selected(&s), ["tenant:globex"]);
    press(&mut s, "ctrl-x");
    press(&mut s, "o");
    assert_eq!(s.focus, Focus::Detail);
    press(&mut s, "ctrl-g");
    assert_eq!(s.focus, Focus::Tree);
    assert_eq!(press(&mut s, "ctrl-x"), vec![]);
    assert_eq!(press(&mut s, "ctrl-c"), vec![Effect::Quit]);
}

#[test]
fn selection_survives_watch_updates_by_identity() {
    let mut s = state();
    listed(&mut s, small_cluster());
    press(&mut s, "enter");
    press(&mut s, "j");
    press(&mut s, "j");
    assert_eq!(selected(&s), ["tenant:acme", "ns:acme-web"]);
    // A namespace that sorts before it arrives: the selection stays on acme-web.
    feed(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::Namespace,
            event: WatchEvent::Applied(Box::new(fixture::namespace(
                "acme-api",
                &[("tenant", "acme")],
            ))),
        },
    );
    assert_eq!(selected(&s), ["tenant:acme", "ns:acme-web"]);
    assert_eq!(s.tree.groups[0].namespaces.len(), 3);
}

#[test]
fn deleting_the_selected_policy_selects_its_namespace() {
    let mut s = state();
    listed(&mut s, small_cluster());
    s.nav.selected = vec![
        "tenant:acme".into(),
        "ns:acme-web".into(),
        "netpol:acme-web/deny-all".into(),
    ];
    s.nav.chosen = true;
    feed(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::NetworkPolicy,
            event: WatchEvent::Deleted {
                namespace: Some("acme-web".into()),
                name: "deny-all".into(),
            },
        },
    );
    assert_eq!(selected(&s), ["tenant:acme", "ns:acme-web"]);
    let acme_web = &s.tree.groups[0].namespaces[1];
    assert!(
        !acme_web.isolated.ingress,
        "isolation badge follows the deletion"
    );
}

#[test]
fn quit_keys_ask_the_runtime_to_quit() {
    let mut s = state();
    assert_eq!(press(&mut s, "q"), vec![Effect::Quit]);
    let mut s = state();
    assert_eq!(press(&mut s, "ctrl-c"), vec![Effect::Quit]);
    let mut s = state();
    assert_eq!(press(&mut s, "x"), vec![], "unbound keys do nothing");
}

#[test]
fn ctrl_z_asks_the_runtime_to_suspend_wherever_keys_are_typed() {
    let mut s = analysed();
    assert_eq!(press(&mut s, "ctrl-z"), vec![Effect::Suspend]);
    // The command line keeps what was typed for after the resume.
    press(&mut s, ":");
    type_text(&mut s, "pol");
    assert_eq!(press(&mut s, "ctrl-z"), vec![Effect::Suspend]);
    assert_eq!(s.input.as_ref().unwrap().text, "pol");
    let (keymap, _) = Keymap::builtin("emacs").unwrap();
    let mut s = State::new("test-ctx", keymap, vec![]);
    assert_eq!(press(&mut s, "ctrl-z"), vec![Effect::Suspend]);
}

#[test]
fn a_keymap_without_the_suspend_key_types_it_into_the_command_line() {
    use crate::config::SourceFile;
    let user = SourceFile::new("keymap.toml", "[global]\n\"ctrl-z\" = \"none\"\n");
    let (keymap, errors) = Keymap::load(&crate::config::default_keymap_source(), Some(&user));
    assert!(errors.is_empty(), "{errors:?}");
    let mut s = State::new("test-ctx", keymap, vec![]);
    assert_eq!(press(&mut s, "ctrl-z"), vec![]);
    press(&mut s, ":");
    assert_eq!(press(&mut s, "ctrl-z"), vec![]);
    assert!(s.input.is_some(), "the command line stays open");
}

#[test]
fn help_opens_scrolls_and_closes() {
    let mut s = state();
    press(&mut s, "?");
    assert_eq!(super::update::key_context(&s), KeyContext::Help);
    press(&mut s, "j");
    assert_eq!(s.help, Some(1));
    press(&mut s, "esc");
    assert_eq!(s.help, None);
    // In help, q closes the popup rather than quitting.
    press(&mut s, "?");
    assert_eq!(press(&mut s, "q"), vec![]);
    assert_eq!(s.help, None);
}

#[test]
fn tab_moves_focus_and_keys_then_scroll_the_detail() {
    let mut s = state();
    listed(&mut s, small_cluster());
    press(&mut s, "tab");
    assert_eq!(s.focus, Focus::Detail);
    press(&mut s, "j");
    press(&mut s, "j");
    assert_eq!(s.detail_scroll, 2);
    assert_eq!(selected(&s), ["tenant:acme"], "tree selection untouched");
    press(&mut s, "esc");
    assert_eq!(s.focus, Focus::Tree);
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn health(kind: ResourceKind, health: Health) -> Msg {
    Msg::Watch {
        kind,
        event: WatchEvent::Health(health),
    }
}

#[test]
fn watch_failures_mark_the_kind_reconnecting_until_relisted() {
    let mut s = state();
    listed(&mut s, small_cluster());
    let kind = ResourceKind::Pod;
    let error = "watch broke: connection reset".to_string();
    feed(
        &mut s,
        health(
            kind,
            Health::Reconnecting {
                since: at(0),
                error: error.clone(),
            },
        ),
    );
    assert_eq!(
        s.sync[&kind],
        SyncState::Reconnecting {
            since: at(0),
            error
        }
    );
    assert_eq!(
        s.tree.groups[0].pod_count(),
        3,
        "stale data is kept, not dropped"
    );
    feed(
        &mut s,
        Msg::Watch {
            kind,
            event: WatchEvent::Restarted,
        },
    );
    assert_eq!(s.sync[&kind], SyncState::Syncing);
    feed(
        &mut s,
        Msg::Watch {
            kind,
            event: WatchEvent::Listed(vec![]),
        },
    );
    assert_eq!(s.sync[&kind], SyncState::Live);
    assert_eq!(s.tree.groups[0].pod_count(), 0);
}

/// A cut watch resumes from its resourceVersion without a relist: no `Listed` comes, and the
/// watcher's word alone must bring the kind back (it used to stay stale for good).
#[test]
fn a_resumed_watch_is_live_again_without_a_relist() {
    let mut s = state();
    listed(&mut s, small_cluster());
    for kind in ResourceKind::ALL {
        let trouble = Health::Stale {
            since: at(5),
            reason: "no event for 12 s and the probe failed: no answer within 5 s".into(),
        };
        feed(&mut s, health(kind, trouble));
    }
    assert!(!s.is_live());
    assert_eq!(
        s.partial().as_deref(),
        Some("ns stale, pods stale, netpol stale")
    );
    for kind in ResourceKind::ALL {
        feed(&mut s, health(kind, Health::Live));
    }
    assert!(s.is_live());
    assert_eq!(s.partial(), None);
}

#[test]
fn only_a_list_makes_a_kind_live_the_first_time() {
    let mut s = state();
    feed(&mut s, health(ResourceKind::Pod, Health::Live));
    assert_eq!(s.sync[&ResourceKind::Pod], SyncState::Syncing);
}

/// The analysis used to wait until every kind was live, so a reconnecting kind froze the matrix
/// and findings: a new namespace showed in the tree without its findings.
#[test]
fn analysis_runs_on_what_it_has_while_a_kind_reconnects() {
    let mut s = analysed();
    let reconnecting = Health::Reconnecting {
        since: at(0),
        error: "watch failed: connection refused".into(),
    };
    feed(&mut s, health(ResourceKind::Pod, reconnecting));
    let added = Msg::Watch {
        kind: ResourceKind::Namespace,
        event: WatchEvent::Applied(Box::new(fixture::namespace(
            "acme-new",
            &[("tenant", "acme")],
        ))),
    };
    let effects = feed(&mut s, added);
    assert!(
        matches!(effects.as_slice(), [Effect::Analyze(_)]),
        "{effects:?}"
    );
    assert_eq!(s.partial().as_deref(), Some("pods reconnecting"));
}

#[test]
fn analysis_waits_for_every_list_then_runs_one_at_a_time() {
    let mut s = state();
    super::testing::not_served(&mut s);
    let objects = small_cluster();
    let mut effects = Vec::new();
    for kind in ResourceKind::ALL {
        let of_kind = objects
            .iter()
            .filter(|o| o.kind() == kind)
            .cloned()
            .collect();
        effects.push(feed(
            &mut s,
            Msg::Watch {
                kind,
                event: WatchEvent::Listed(of_kind),
            },
        ));
    }
    let first = s.analysis_job.running.expect("an analysis runs");
    assert_eq!(
        effects,
        [vec![], vec![], vec![Effect::Analyze(first)]],
        "only once every kind is listed"
    );

    // Changes while it runs ask for nothing more now, but for one more run afterwards.
    let ns = || Msg::Watch {
        kind: ResourceKind::Namespace,
        event: WatchEvent::Applied(Box::new(fixture::namespace(
            "acme-new",
            &[("tenant", "acme")],
        ))),
    };
    assert_eq!(feed(&mut s, ns()), vec![]);
    assert_eq!(feed(&mut s, ns()), vec![]);
    let analysis = crate::isolation::analysis::analyze(
        s.cluster.clone(),
        &s.tenant_rules,
        s.ip_block_pods,
        None,
    );
    let effects = update(
        &mut s,
        Msg::Analyzed {
            flow: first,
            analysis: Box::new(analysis.clone()),
        },
    );
    let second = s.analysis_job.running.expect("one more run");
    assert_ne!(first, second);
    assert_eq!(effects, vec![Effect::Analyze(second)]);
    assert_eq!(
        update(
            &mut s,
            Msg::Analyzed {
                flow: second,
                analysis: Box::new(analysis)
            }
        ),
        vec![],
        "nothing changed since"
    );
    assert!(s.analysis_job.running.is_none());
    assert!(
        s.tree.groups[0].finding_count() > 0,
        "the tree shows the analysis' findings"
    );
}

#[test]
fn command_line_switches_screens_and_esc_walks_back() {
    use super::screen::Screen;
    let mut s = analysed();
    press(&mut s, ":");
    type_text(&mut s, "pol");
    press(&mut s, "tab");
    assert_eq!(s.input.as_ref().unwrap().text, "policies ");
    press(&mut s, "enter");
    assert!(matches!(s.screen, Screen::Policies(_)));
    press(&mut s, ":");
    type_text(&mut s, "matrix");
    press(&mut s, "enter");
    assert!(matches!(s.screen, Screen::Matrix(_)));
    press(&mut s, "esc");
    assert!(matches!(s.screen, Screen::Policies(_)));
    press(&mut s, "esc");
    assert_eq!(s.screen, Screen::Tenants);
    // History: up recalls the last command.
    press(&mut s, ":");
    press(&mut s, "up");
    assert_eq!(s.input.as_ref().unwrap().text, "matrix");
    press(&mut s, "esc");
    assert!(s.input.is_none());
}

#[test]
fn unknown_commands_and_history_without_a_policy_say_so() {
    let mut s = analysed();
    press(&mut s, ":");
    type_text(&mut s, "bogus");
    press(&mut s, "enter");
    assert!(
        s.notice
            .as_deref()
            .unwrap()
            .contains("unknown command `bogus`")
    );
    press(&mut s, ":");
    type_text(&mut s, "history");
    press(&mut s, "enter");
    assert!(
        s.notice
            .as_deref()
            .unwrap()
            .contains("select a policy first")
    );
    assert_eq!(s.screen, super::screen::Screen::Tenants);
}

#[test]
fn policy_filter_narrows_rows_and_selection_follows_keys() {
    use super::rows::policy_rows;
    use super::screen::Screen;
    let mut s = analysed();
    press(&mut s, "3");
    press(&mut s, "/");
    type_text(&mut s, "glbx");
    press(&mut s, "enter");
    let Screen::Policies(table) = &s.screen else {
        panic!("policies")
    };
    let names: Vec<String> = policy_rows(&s, table)
        .iter()
        .map(|r| r.key.clone())
        .collect();
    assert_eq!(names, ["globex-app/allow-web", "globex-app/deny-ingress"]);
    press(&mut s, "j");
    let Screen::Policies(table) = &s.screen else {
        panic!("policies")
    };
    assert_eq!(table.selected.as_deref(), Some("globex-app/deny-ingress"));
    // A new policy sorting before it does not move the selection.
    feed(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::NetworkPolicy,
            event: WatchEvent::Applied(Box::new(fixture::policy(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: aaa, namespace: globex-app}\nspec: {podSelector: {}}\n",
            ))),
        },
    );
    let Screen::Policies(table) = &s.screen else {
        panic!("policies")
    };
    assert_eq!(table.selected.as_deref(), Some("globex-app/deny-ingress"));
    assert_eq!(policy_rows(&s, table).len(), 3);
}

#[test]
fn enter_on_a_finding_jumps_to_its_namespace_in_the_tree() {
    use super::screen::Screen;
    let mut s = analysed();
    press(&mut s, "4");
    press(&mut s, "G"); // the PAL011 warning on globex-app sorts last
    press(&mut s, "enter");
    assert_eq!(s.screen, Screen::Tenants);
    assert_eq!(selected(&s), ["tenant:globex", "ns:globex-app"]);
    press(&mut s, "esc");
    assert!(
        matches!(s.screen, Screen::Findings(_)),
        "esc returns to the findings"
    );
}

#[test]
fn tree_filter_shows_matches_under_their_tenants() {
    let mut s = analysed();
    press(&mut s, "/");
    type_text(&mut s, "allow");
    press(&mut s, "enter");
    let (tree, opened) = super::tree_nav::shown_tree(&s);
    let rows = tree.visible_paths(&opened);
    let leaves: Vec<&str> = rows
        .iter()
        .filter(|p| p.len() == 3)
        .map(|p| p[2].as_str())
        .collect();
    assert_eq!(leaves, ["netpol:globex-app/allow-web"]);
    press(&mut s, "esc");
    assert!(s.tree_filter.is_empty(), "esc clears the filter");
}

#[test]
fn mouse_clicks_select_rows_and_the_wheel_scrolls() {
    use super::mouse::MouseInput;
    let mut s = analysed();
    update(
        &mut s,
        Msg::Resize {
            width: 100,
            height: 24,
        },
    );
    // Header on row 0, the tree's border on row 1: its first row is screen row 2.
    update(&mut s, Msg::Mouse(MouseInput::Click { column: 5, row: 3 }));
    assert_eq!(selected(&s), ["tenant:globex"]);
    update(&mut s, Msg::Mouse(MouseInput::WheelDown));
    assert_eq!(selected(&s), ["platform"]);
    update(&mut s, Msg::Mouse(MouseInput::Click { column: 80, row: 5 }));
    assert_eq!(
        s.focus,
        Focus::Detail,
        "a click on the detail pane focuses it"
    );

    press(&mut s, "3");
    // Policies table: border and header take rows 1-2; the third policy is on row 5.
    update(&mut s, Msg::Mouse(MouseInput::Click { column: 10, row: 5 }));
    let super::screen::Screen::Policies(table) = &s.screen else {
        panic!("policies")
    };
    assert_eq!(table.selected.as_deref(), Some("globex-app/allow-web"));
}

#[test]
fn a_burst_of_watch_events_settles_once() {
    let mut s = analysed();
    let mut effects = Vec::new();
    for i in 0..100 {
        let ns = fixture::namespace(&format!("burst-{i:03}"), &[("tenant", "acme")]);
        let msg = Msg::Watch {
            kind: ResourceKind::Namespace,
            event: WatchEvent::Applied(Box::new(ns)),
        };
        effects.extend(update(&mut s, msg));
    }
    assert_eq!(effects, vec![], "nothing is derived per event");
    let effects = update(&mut s, Msg::Settle);
    assert!(matches!(effects.as_slice(), [Effect::Analyze(_)]));
    assert_eq!(s.tree.groups[0].namespaces.len(), 102);
    assert_eq!(update(&mut s, Msg::Settle), vec![], "nothing new since");
}

#[test]
fn workload_pairs_filter_narrows_what_enter_explains() {
    use super::screen::{MatrixLevel, Screen};
    let mut s = analysed();
    press(&mut s, "2");
    press(&mut s, "G"); // platform row
    press(&mut s, "l"); // globex column
    press(&mut s, "enter"); // namespaces: kube-system → globex-app
    press(&mut s, "enter"); // pairs
    let Screen::Matrix(m) = &s.screen else {
        panic!("matrix")
    };
    assert!(matches!(m.level, MatrixLevel::Pairs { .. }));
    assert_eq!(m.level.shown_pairs().len(), 1);
    press(&mut s, "/");
    type_text(&mut s, "nomatch");
    press(&mut s, "enter");
    let Screen::Matrix(m) = &s.screen else {
        panic!("matrix")
    };
    assert!(m.level.shown_pairs().is_empty());
    press(&mut s, "enter");
    assert!(matches!(s.screen, Screen::Matrix(_)), "nothing to explain");
    press(&mut s, "/");
    press(&mut s, "esc"); // clears the filter
    press(&mut s, "enter");
    assert!(matches!(s.screen, Screen::Explain(_)));
}

/// Each context gets its own contexts.toml analysis defaults when the console switches to it,
/// and the command line's choices still win (issue 16 §2).
#[test]
fn a_context_switch_resolves_the_analysis_defaults_of_the_new_context() {
    use crate::isolation::config::AnalysisChoices;
    use crate::policy::IpBlockPodsSetting;
    let mut s = analysed();
    s.session.analysis_choices = AnalysisChoices {
        ipblock_pods: Some(IpBlockPodsSetting::Match),
        ..AnalysisChoices::default()
    };
    s.session.context_analysis.insert(
        "prod".into(),
        AnalysisChoices {
            tenant_label: Some("team".into()),
            ipblock_pods: Some(IpBlockPodsSetting::Ignore),
            ..AnalysisChoices::default()
        },
    );
    let flow = s.session.flows.issue();
    s.session.switching = Some(flow);
    update(
        &mut s,
        Msg::ContextConnected {
            flow,
            result: Ok("prod".into()),
        },
    );
    assert_eq!(s.context, "prod");
    assert_eq!(s.tenant_rules.label_keys, vec!["team".to_string()]);
    assert_eq!(s.ip_block_pods, IpBlockPodsSetting::Match, "the flag wins");
}

#[test]
fn pods_with_the_same_labels_share_one_label_map() {
    use crate::model::ObjectRef;
    let mut s = state();
    let pod = |name: &str, app: &str| fixture::pod("acme-web", name, &[("app", app)]);
    listed(
        &mut s,
        vec![pod("web-1", "web"), pod("web-2", "web"), pod("db-1", "db")],
    );
    feed(
        &mut s,
        Msg::Watch {
            kind: ResourceKind::Pod,
            event: WatchEvent::Applied(Box::new(pod("web-3", "web"))),
        },
    );
    let labels = |name: &str| {
        s.cluster.pods[&ObjectRef::new("acme-web", name)]
            .labels
            .clone()
    };
    assert!(
        std::sync::Arc::ptr_eq(&labels("web-1"), &labels("web-2")),
        "listed"
    );
    assert!(
        std::sync::Arc::ptr_eq(&labels("web-1"), &labels("web-3")),
        "applied"
    );
    assert!(!std::sync::Arc::ptr_eq(&labels("web-1"), &labels("db-1")));
    assert_eq!(labels("db-1").get("app").map(String::as_str), Some("db"));
}

#[test]
fn a_rebuild_for_watch_events_keeps_the_workloads_of_the_same_analysis_exactly() {
    use super::tree::TenantTree;
    let mut s = analysed();
    let fresh = |s: &State| TenantTree::build(&s.cluster, &s.tenant_rules, s.analysis.as_deref());
    let workloads_of = |tree: &TenantTree, namespace: &str| -> Vec<String> {
        (tree.groups.iter())
            .flat_map(|g| &g.namespaces)
            .filter(|ns| ns.name == namespace)
            .flat_map(|ns| ns.workloads.iter().map(|w| w.label.clone()))
            .collect()
    };
    let before = workloads_of(&s.tree, "acme-web");
    assert!(!before.is_empty(), "the fixture has workloads in acme-web");
    // Watch events while the analysis stands: a pod in acme-web, a new namespace with a pod.
    for object in [
        fixture::pod("acme-web", "web-new", &[("app", "web")]),
        fixture::namespace("newcomer", &[]),
        fixture::pod("newcomer", "solo", &[("app", "solo")]),
    ] {
        let kind = object.kind();
        feed(
            &mut s,
            Msg::Watch {
                kind,
                event: WatchEvent::Applied(Box::new(object)),
            },
        );
    }
    assert_eq!(s.tree, fresh(&s), "what a build from scratch gives");
    assert_eq!(
        workloads_of(&s.tree, "acme-web"),
        before,
        "the analysis's classes"
    );
    assert!(
        workloads_of(&s.tree, "newcomer").is_empty(),
        "not analysed yet"
    );

    // The next analysis: its classes, the new pods among them.
    let flow = s.analysis_job.running.expect("an analysis asked");
    analyse(&mut s, flow);
    assert_eq!(s.tree, fresh(&s));
    assert_eq!(workloads_of(&s.tree, "newcomer"), ["solo"]);
    assert_ne!(workloads_of(&s.tree, "acme-web"), before);
}
