//! The matrix of a namespace-scoped user: the `other ns` row and column at every level, and
//! cells that namespaceSelectors on unreadable labels decide shown unknown, with why.

use super::msg::Msg;
use super::screen::{MatrixLevel, Screen};
use super::state::State;
use super::testing::{listed, press, rendered, state, type_text};
use super::update::update;
use crate::isolation::analysis::analyze_scoped;
use crate::isolation::cni::CniChoice;
use crate::isolation::matrix::{Level, UNSEEN};
use crate::model::fixture::{namespace, pod, policy};
use crate::model::{NamespaceScope, ScopeReason};

const NOTICE: &str =
    "cells to or from other namespaces are unknown: you cannot see those namespaces";
const REASON: &str = "namespace labels unreadable: namespaceSelector of acme-web/allow-from-ops";

/// The acme namespaces as a user who may not read Namespace objects sees them; acme-web
/// admits TCP 8080 from namespaces labelled `team: ops`.
fn scoped() -> State {
    let mut s = state();
    s.tenant_rules.name_patterns = vec![("acme".into(), "acme-*".into())];
    let name = |ns: &str| namespace(ns, &[("kubernetes.io/metadata.name", ns)]);
    listed(
        &mut s,
        vec![
            name("acme-api"),
            name("acme-web"),
            pod("acme-api", "api-1", &[("app", "api")]),
            pod("acme-web", "web-1", &[("app", "web")]),
            policy(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-from-ops, namespace: acme-web}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]\n    ports: [{protocol: TCP, port: 8080}]\n",
            ),
        ],
    );
    let scope = NamespaceScope {
        namespaces: vec!["acme-api".into(), "acme-web".into()],
        reason: ScopeReason::Asked,
        refused: Vec::new(),
        labels_known: false,
        undecided_selectors: Vec::new(),
    };
    update(&mut s, Msg::Scope(scope));
    let analysis = analyze_scoped(
        s.cluster.clone(),
        &s.tenant_rules,
        s.ip_block_pods,
        CniChoice::Auto,
        None,
        false,
    );
    let flow = s.analysis_job.running.expect("an analysis was asked for");
    update(
        &mut s,
        Msg::Analyzed {
            flow,
            analysis: Box::new(analysis),
        },
    );
    s
}

fn namespace_grid(s: &State) -> crate::isolation::matrix::NamespaceGrid {
    match &s.screen {
        Screen::Matrix(m) => match &m.level {
            MatrixLevel::Namespaces { grid, .. } => grid.clone(),
            other => panic!("not the namespace level: {other:?}"),
        },
        other => panic!("not the matrix: {other:?}"),
    }
}

#[test]
fn the_namespace_level_has_the_unknown_row_and_column_of_the_unseen() {
    let mut s = scoped();
    type_text(&mut s, ":matrix");
    press(&mut s, "enter");
    press(&mut s, "enter"); // acme → acme
    let grid = namespace_grid(&s);
    assert_eq!(grid.rows, ["acme-api", "acme-web", UNSEEN]);
    assert_eq!(grid.cols, ["acme-api", "acme-web", UNSEEN]);
    assert!(grid.cells[2].iter().all(|c| c.level == Level::Unknown));
    assert!(grid.cells.iter().all(|row| row[2].level == Level::Unknown));
    // acme-api → acme-web: the selector on `team` may or may not match acme-api.
    assert_eq!(grid.cells[0][1].level, Level::Unknown);
    assert_eq!(grid.cells[0][1].undecided_reasons, [REASON]);
    assert_eq!(grid.cells[0][0].level, Level::Open);
    // Enter on the unseen column says why there is nothing below.
    press(&mut s, "l");
    press(&mut s, "l");
    press(&mut s, "enter");
    assert_eq!(s.notice.as_deref(), Some(NOTICE));
    assert_eq!(namespace_grid(&s), grid);
    // acme-api → acme-web: the workload pair lists the undecided ports, explain says why.
    press(&mut s, "h");
    press(&mut s, "enter");
    let screen = rendered(&s, 140, 30);
    assert!(
        screen.contains("No Connections  ? undecided: TCP 8080"),
        "{screen}"
    );
    press(&mut s, "enter");
    match &s.screen {
        Screen::Explain(e) => assert!(
            e.text.contains(&format!("Undecided: TCP 8080 ({REASON})")),
            "{}",
            e.text
        ),
        other => panic!("not explain: {other:?}"),
    }
}

#[test]
fn the_view_shows_the_unseen_row_and_why_a_cell_is_unknown() {
    let mut s = scoped();
    type_text(&mut s, ":matrix");
    press(&mut s, "enter");
    // The tenant level: acme → acme holds the undecided pair.
    let screen = rendered(&s, 140, 30);
    assert!(screen.contains("acme → acme: ? unknown"), "{screen}");
    assert!(screen.contains(REASON), "{screen}");
    press(&mut s, "enter");
    press(&mut s, "l"); // acme-api → acme-web
    let screen = rendered(&s, 140, 30);
    assert!(screen.contains("acme → acme: namespaces"), "{screen}");
    let unseen_row = (screen.lines())
        .find(|l| l.contains(UNSEEN) && l.contains("? unknown"))
        .unwrap_or_else(|| panic!("no unseen row:\n{screen}"));
    assert!(!unseen_row.contains("open"), "{screen}");
    assert!(
        screen.contains("acme-api → acme-web: ? unknown"),
        "{screen}"
    );
    assert!(screen.contains(REASON), "{screen}");
}

#[test]
fn the_tenant_level_reaches_the_unseen_row_which_has_no_finer_level() {
    let mut s = scoped();
    type_text(&mut s, ":matrix");
    press(&mut s, "enter");
    press(&mut s, "G");
    press(&mut s, "enter");
    assert_eq!(s.notice.as_deref(), Some(NOTICE));
    assert!(matches!(&s.screen, Screen::Matrix(m) if m.level == MatrixLevel::Groups && m.row == 1));
}
