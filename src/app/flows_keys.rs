//! The `:flows` screen's keys: the cursor, the verdict, tenant, namespace and port filters,
//! pause, and enter, which explains the flow's two ends with the engine (the explain screen of
//! the matrix' drill-down).

use super::action::Action;
use super::flows::Tenants;
use super::flows_settle::{rebuild, toggle_pause};
use super::nav::{Navigation, navigate};
use super::screen::{ExplainScreen, Screen};
use super::state::State;
use crate::flows::VerdictFilter;
use crate::policy::{explain, render_explanation};

pub fn open(state: &mut State) {
    navigate(state, Navigation::Show(Screen::Flows));
    rebuild(state);
}

pub fn action(state: &mut State, action: Action) {
    let page = usize::from(super::layout::page_rows(state));
    let flows = &mut state.flows;
    let last = flows.rows.len().saturating_sub(1);
    match action {
        Action::Down => flows.cursor = (flows.cursor + 1).min(last),
        Action::Up => flows.cursor = flows.cursor.saturating_sub(1),
        Action::Top => flows.cursor = 0,
        Action::Bottom => flows.cursor = last,
        Action::PageDown => flows.cursor = (flows.cursor + page).min(last),
        Action::PageUp => flows.cursor = flows.cursor.saturating_sub(page),
        Action::CycleVerdict => {
            flows.query.verdict = match flows.query.verdict {
                VerdictFilter::Dropped => VerdictFilter::Drift,
                VerdictFilter::Drift => VerdictFilter::All,
                VerdictFilter::All => VerdictFilter::Dropped,
            };
            refilter(state);
        }
        Action::FilterTenant | Action::FilterNamespace | Action::FilterPort => {
            filter_by_selected(state, action)
        }
        Action::ClearFilters => {
            flows.query.tenant = None;
            flows.query.namespace = None;
            flows.query.port = None;
            flows.filter.clear();
            refilter(state);
        }
        Action::Pause => toggle_pause(state),
        Action::Open => explain_selected(state),
        _ => {}
    }
}

/// The filters changed: the list starts again at the top (a paused list resumes, since the
/// frozen rows were filtered by the old query).
pub fn refilter(state: &mut State) {
    state.flows.paused = None;
    state.flows.cursor = 0;
    rebuild(state);
}

/// `t`, `n`, `p`: keep only flows of the selected flow's tenant, namespace (its source's, or its
/// destination's when the source has none) or destination port.
fn filter_by_selected(state: &mut State, action: Action) {
    let Some(flow) = state.flows.selected() else {
        state.notice = Some("select a flow first".into());
        return;
    };
    let namespace = flow
        .src
        .namespace
        .clone()
        .or_else(|| flow.dst.namespace.clone());
    let port = flow.port;
    let query = &mut state.flows.query;
    match action {
        Action::FilterTenant => match namespace {
            Some(ns) => {
                let tenants = Tenants::new(&state.cluster, &state.tenant_rules);
                query.tenant = Some(tenants.of(Some(&ns)));
            }
            None => {
                state.notice = Some("this flow has no namespace on either end".into());
                return;
            }
        },
        Action::FilterNamespace => match namespace {
            Some(ns) => query.namespace = Some(ns.to_string()),
            None => {
                state.notice = Some("this flow has no namespace on either end".into());
                return;
            }
        },
        _ => match port {
            Some(p) => query.port = Some(p),
            None => {
                state.notice = Some("this flow has no port".into());
                return;
            }
        },
    }
    refilter(state);
}

/// Enter: the engine's explanation between the flow's two ends.
fn explain_selected(state: &mut State) {
    let Some(flow) = state.flows.selected() else {
        return;
    };
    let (src, dst) = (flow.src.label(), flow.dst.label());
    let Some(analysis) = state.analysis.clone() else {
        state.notice = Some("the analysis is still running".into());
        return;
    };
    let judgement = state.flows.judgement(flow).cloned().or_else(|| {
        let judge = crate::flows::Judge::new(&analysis.engine);
        Some(judge.judge(flow))
    });
    let Some(judgement) = judgement else {
        return;
    };
    let Some((src_peer, dst_peer)) = &judgement.peers else {
        state.notice = Some(format!(
            "cannot explain this flow: {}",
            judgement.prediction.detail()
        ));
        return;
    };
    let explanation = explain(&analysis.engine, src_peer, dst_peer);
    let mut text = format!(
        "The dataplane: {} {}{}\npalisade: {} ({})\n",
        flow.service(),
        flow.verdict,
        flow.reason
            .as_deref()
            .map(|r| format!(" {r}"))
            .unwrap_or_default(),
        judgement.prediction.word(),
        judgement.prediction.detail()
    );
    if let Some(drift) = judgement.drift {
        text.push_str(&format!("DRIFT: {}\n", drift.describe()));
    }
    for policy in &flow.policies {
        text.push_str(&format!("named by the dataplane: {policy}\n"));
    }
    text.push('\n');
    text.push_str(&render_explanation(&explanation, &src, &dst));
    let title = format!("{src} → {dst}");
    let current = state.screen.clone();
    navigate(
        state,
        Navigation::Open {
            from: current,
            to: Screen::Explain(ExplainScreen {
                title,
                text,
                scroll: 0,
            }),
        },
    );
}
