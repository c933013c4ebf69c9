//! Moving around and opening things on the matrix, list and explain screens.

use super::action::Action;
use super::nav::{Navigation, navigate};
use super::rows::{finding_key, finding_rows, policy_rows, selected_index, table_keys};
use super::screen::{ExplainScreen, MatrixLevel, MatrixScreen, PairRow, Screen, TableScreen};
use super::state::State;
use super::telemetry_rows::violation_rows;
use super::tree::TenantTree;
use super::tree_nav::{keep_selection, scroll, select};
use crate::history::PolicyKey;
use crate::isolation::analysis::Analysis;
use crate::isolation::dns::describe_class;
use crate::isolation::matrix::{UNSEEN, class_pairs};
use crate::isolation::tenants::Group;
use crate::policy::{Peer, explain, render_explanation};

/// Rows and columns of the matrix level on screen.
fn matrix_size(state: &State, level: &MatrixLevel) -> (usize, usize) {
    match level {
        MatrixLevel::Groups => {
            let groups = state.analysis.as_ref().map_or(0, |a| a.matrix.groups.len());
            // + ext-in, ext-out; scoped, + the `other ns` row and column.
            let unseen = usize::from(state.scope.is_some());
            (groups + unseen, groups + 2 + unseen)
        }
        MatrixLevel::Namespaces { grid, .. } => (grid.rows.len(), grid.cols.len()),
        MatrixLevel::Pairs { .. } => (level.shown_pairs().len(), 1),
    }
}

fn step(index: usize, action: Action, len: usize, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match action {
        Action::Down | Action::Right => (index + 1).min(last),
        Action::Up | Action::Left => index.saturating_sub(1),
        Action::Top => 0,
        Action::Bottom => last,
        Action::PageDown => (index + page).min(last),
        Action::PageUp => index.saturating_sub(page),
        _ => index,
    }
}

pub fn matrix_action(state: &mut State, action: Action) {
    let page = usize::from(super::layout::page_rows(state));
    let Screen::Matrix(matrix) = &state.screen else {
        return;
    };
    let (rows, cols) = matrix_size(state, &matrix.level);
    let mut matrix = matrix.clone();
    match action {
        Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
            matrix.row = step(matrix.row, action, rows, page)
        }
        Action::Left | Action::Right => matrix.col = step(matrix.col, action, cols, page),
        Action::Top | Action::Bottom => matrix.row = step(matrix.row, action, rows, page),
        Action::Open => return drill(state, &matrix),
        _ => return,
    }
    state.screen = Screen::Matrix(matrix);
}

/// Enter on a cell: tenant cell → namespace grid → workload pairs → explain.
fn drill(state: &mut State, matrix: &MatrixScreen) {
    let Some(analysis) = state.analysis.clone() else {
        state.notice = Some("the analysis is still running".into());
        return;
    };
    let engine = &analysis.engine;
    let next = match &matrix.level {
        MatrixLevel::Groups => {
            let groups = &analysis.matrix.groups;
            let unseen_row = matrix.row == groups.len();
            let unseen_col = matrix.col == groups.len() + 2;
            if state.scope.is_some() && (unseen_row || unseen_col) {
                state.notice = Some(UNSEEN_NOTICE.into());
                return;
            }
            let (Some(from), Some(to)) = (groups.get(matrix.row), groups.get(matrix.col)) else {
                state.notice =
                    Some("external exposure has no finer level; see the cell's ports below".into());
                return;
            };
            namespace_level(&analysis, from, to, state.scope.is_some())
        }
        MatrixLevel::Namespaces { grid, .. } => {
            let (Some(from), Some(to)) = (grid.rows.get(matrix.row), grid.cols.get(matrix.col))
            else {
                return;
            };
            if from == UNSEEN || to == UNSEEN {
                state.notice = Some(UNSEEN_NOTICE.into());
                return;
            }
            pairs_screen(&analysis, from, to)
        }
        MatrixLevel::Pairs { .. } => {
            let shown = matrix.level.shown_pairs();
            let Some(row) = shown.get(matrix.row) else {
                return;
            };
            let explanation = explain(
                engine,
                &Peer::Class(row.pair.src),
                &Peer::Class(row.pair.dst),
            );
            let mut text = render_explanation(&explanation, &row.src, &row.dst);
            if !row.undecided.is_empty()
                && let Some(unreadable) = &analysis.unreadable
            {
                let namespace = |c: usize| {
                    (engine.classes().classes.get(c))
                        .and_then(|class| class.members.first())
                        .map(|pod| pod.namespace.clone())
                        .unwrap_or_default()
                };
                let reasons =
                    unreadable.reasons(&namespace(row.pair.src), &namespace(row.pair.dst));
                text.push_str(&format!(
                    "Undecided: {} ({})\n",
                    row.undecided,
                    reasons.join("; ")
                ));
            }
            Screen::Explain(ExplainScreen {
                title: format!("{} → {}", row.src, row.dst),
                text,
                scroll: 0,
            })
        }
    };
    push(state, Screen::Matrix(matrix.clone()), next);
}

/// Enter on a cell to or from the namespaces the user cannot see.
const UNSEEN_NOTICE: &str =
    "cells to or from other namespaces are unknown: you cannot see those namespaces";

/// The namespaces of two groups, a cell of the groups matrix opened.
fn namespace_level(analysis: &Analysis, from: &Group, to: &Group, scoped: bool) -> Screen {
    let namespaces = |g: &Group| {
        analysis
            .namespaces_by_group
            .get(g)
            .cloned()
            .unwrap_or_default()
    };
    let grid = analysis.namespace_grid(namespaces(from), namespaces(to), scoped);
    Screen::Matrix(MatrixScreen {
        level: MatrixLevel::Namespaces {
            from: from.clone(),
            to: to.clone(),
            grid,
        },
        row: 0,
        col: 0,
    })
}

/// The cell between two groups, opened from elsewhere (enter on a timeline spike).
pub fn open_group_pair(state: &mut State, from: &str, to: &str) {
    let Some(analysis) = state.analysis.clone() else {
        state.notice = Some("the analysis is still running".into());
        return;
    };
    let group = |label: &str| {
        let found = analysis.matrix.groups.iter().find(|g| g.label() == label);
        found
            .cloned()
            .ok_or(format!("`{label}` is not a group of the matrix now"))
    };
    let (from, to) = match (group(from), group(to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(why), _) | (_, Err(why)) => {
            state.notice = Some(why);
            return;
        }
    };
    let next = namespace_level(&analysis, &from, &to, state.scope.is_some());
    push(state, state.screen.clone(), next);
}

/// The workload pairs from one namespace to another, each openable into explain.
fn pairs_screen(analysis: &Analysis, from: &str, to: &str) -> Screen {
    let engine = &analysis.engine;
    let classes = &engine.classes().classes;
    let pairs = class_pairs(engine, from, to)
        .into_iter()
        .map(|pair| PairRow {
            src: describe_class(&classes[pair.src]),
            dst: describe_class(&classes[pair.dst]),
            undecided: (analysis.unreadable.as_ref())
                .map(|u| u.between(pair.src, pair.dst))
                .unwrap_or_else(crate::policy::ConnSet::none),
            pair,
        })
        .collect();
    Screen::Matrix(MatrixScreen {
        level: MatrixLevel::Pairs {
            from: from.to_string(),
            to: to.to_string(),
            pairs,
            filter: String::new(),
        },
        row: 0,
        col: 0,
    })
}

fn push(state: &mut State, current: Screen, next: Screen) {
    navigate(
        state,
        Navigation::Open {
            from: current,
            to: next,
        },
    );
}

pub fn table_action(state: &mut State, action: Action) {
    let page = usize::from(super::layout::page_rows(state));
    let Some(table) = state.screen.table().cloned() else {
        return;
    };
    let keys = table_keys(state, &table);
    let index = selected_index(&keys, table.selected.as_ref());
    let mut table = TableScreen {
        selected: keys.get(index).cloned(),
        ..table
    };
    match action {
        Action::Sort => table.sort += 1,
        Action::Open => return open_row(state, table),
        other => table.selected = keys.get(step(index, other, keys.len(), page)).cloned(),
    }
    set_table(state, table);
}

fn set_table(state: &mut State, table: TableScreen) {
    if let Some(t) = state.screen.table_mut() {
        *t = table;
    }
}

fn open_row(state: &mut State, table: TableScreen) {
    let current = state.screen.clone();
    set_table(state, table.clone());
    match current {
        Screen::Policies(_) => {
            let Some(row) = policy_rows(state, &table)
                .into_iter()
                .find(|r| Some(&r.key) == table.selected.as_ref())
            else {
                return;
            };
            let id = match row.id {
                Some(PolicyKey::Network(id)) => id,
                Some(PolicyKey::Tier(id)) => return open_tier(state, &id),
                Some(PolicyKey::Native(_)) | None => return open_native(state, &row.key),
            };
            let Some(policy) = state.cluster.policies.get(&id) else {
                return;
            };
            let yaml = crate::yaml::to_string(&policy.object).unwrap_or_default();
            let selected = state.analysis.as_ref().map(|a| a.selected_pods(&id));
            let pods = match selected {
                None => "selected pods: (analysing)".to_string(),
                Some(pods) if pods.is_empty() => "selected pods: none".to_string(),
                Some(pods) => format!(
                    "selected pods ({}):\n{}",
                    pods.len(),
                    pods.iter()
                        .map(|p| format!("  - {}", p.name))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            };
            let text = format!("{pods}\n\n{yaml}");
            push(
                state,
                state.screen.clone(),
                Screen::Explain(ExplainScreen {
                    title: format!("netpol {id}"),
                    text,
                    scroll: 0,
                }),
            );
        }
        Screen::Findings(_) => {
            let Some(finding) = finding_rows(state, &table)
                .into_iter()
                .find(|f| Some(&finding_key(f)) == table.selected.as_ref())
                .cloned()
            else {
                return;
            };
            if let Some(tier) = crate::model::TierRef::parse(&finding.object) {
                return jump_to_tier(state, &tier);
            }
            jump_to(
                state,
                &finding.namespace,
                finding
                    .object
                    .strip_prefix("netpol ")
                    .and_then(|p| p.split_once('/'))
                    .map(|(_, name)| name),
            );
        }
        Screen::Violations(_) => open_violation(state, &table),
        _ => {}
    }
}

/// Enter on a tier policy's row: its summary (tier, subject, what it selects, its rules in
/// order) and its YAML.
fn open_tier(state: &mut State, id: &crate::model::TierRef) {
    let Some(info) = state.cluster.tiers.get(id) else {
        return;
    };
    let yaml = crate::yaml::to_string(&info.object).unwrap_or_default();
    let summary = match &state.analysis {
        None => vec!["(analysing)".to_string()],
        Some(a) => crate::isolation::tiers::tier_summary(&a.engine, a.tier_reach.get(id), id),
    };
    let text = format!("{}\n\n{yaml}", summary.join("\n"));
    push(
        state,
        state.screen.clone(),
        Screen::Explain(ExplainScreen {
            title: id.to_string(),
            text,
            scroll: 0,
        }),
    );
}

/// Enter on a Cilium policy's row: its YAML.
fn open_native(state: &mut State, key: &str) {
    let Some(info) = state
        .cluster
        .natives
        .values()
        .find(|n| super::rows::native_row_key(&n.id) == key)
    else {
        return;
    };
    let text = crate::yaml::to_string(&info.object).unwrap_or_default();
    let title = info.id.to_string();
    push(
        state,
        state.screen.clone(),
        Screen::Explain(ExplainScreen {
            title,
            text,
            scroll: 0,
        }),
    );
}

/// Enter on a violation: the workload pairs between its namespaces, where enter explains one.
fn open_violation(state: &mut State, table: &TableScreen) {
    let Some(v) = violation_rows(state, table)
        .into_iter()
        .find(|v| Some(&v.key()) == table.selected.as_ref())
        .cloned()
    else {
        return;
    };
    let (Some(from), Some(to)) = (&v.source_namespace, &v.destination_namespace) else {
        state.notice = Some(format!(
            "{} drops carry no namespaces (counted per node only), so there is no cell to open",
            v.reason
        ));
        return;
    };
    let Some(analysis) = state.analysis.clone() else {
        state.notice = Some("the analysis is still running".into());
        return;
    };
    let next = pairs_screen(&analysis, from, to);
    push(state, state.screen.clone(), next);
}

/// Shows a namespace (and optionally one of its policies) in the tenants tree.
fn jump_to(state: &mut State, namespace: &str, policy: Option<&str>) {
    state.tree_filter.clear();
    let Some(path) = tree_path(&state.tree, namespace, policy) else {
        state.notice = Some(format!("`{namespace}` is not in the tree any more"));
        return;
    };
    for depth in 1..path.len() {
        state.nav.opened.insert(path[..depth].to_vec());
    }
    select(state, path);
    keep_selection(state);
    navigate(state, Navigation::Show(Screen::Tenants));
}

/// Shows a tier policy under the tree's cluster node.
fn jump_to_tier(state: &mut State, tier: &crate::model::TierRef) {
    state.tree_filter.clear();
    let Some(cluster) = &state.tree.cluster else {
        state.notice = Some(format!("`{tier}` is not in the tree any more"));
        return;
    };
    let Some(node) = cluster.tiers.iter().find(|t| &t.policy == tier) else {
        state.notice = Some(format!("`{tier}` is not in the tree any more"));
        return;
    };
    let path = vec![cluster.id.clone(), node.id.clone()];
    state.nav.opened.insert(vec![cluster.id.clone()]);
    select(state, path);
    keep_selection(state);
    navigate(state, Navigation::Show(Screen::Tenants));
}

fn tree_path(tree: &TenantTree, namespace: &str, policy: Option<&str>) -> Option<Vec<String>> {
    let group = tree
        .groups
        .iter()
        .find(|g| g.namespaces.iter().any(|ns| ns.name == namespace))?;
    let ns = group.namespaces.iter().find(|ns| ns.name == namespace)?;
    let mut path = vec![group.id.clone(), ns.id.clone()];
    if let Some(p) = policy.and_then(|name| ns.policies.iter().find(|p| p.policy.name == name)) {
        path.push(p.id.clone());
    }
    Some(path)
}

pub fn explain_action(state: &mut State, action: Action) {
    let page = super::layout::page_rows(state);
    let limit = state.session.scroll_limits.detail;
    if let Screen::Explain(e) = &mut state.screen {
        // Never past the last screenful the view measured (wrapped rows included), so `k`
        // after `G` moves at once and the last row is reachable.
        e.scroll = scroll(e.scroll, action, page).min(limit);
    }
}
