//! The `:timeline` screen's transitions (its data is in `timeline_view.rs`). Pure.

use std::collections::BTreeMap;

use super::action::Action;
use super::msg::Effect;
use super::nav::{Navigation, navigate};
use super::screen::Screen;
use super::state::State;
use super::timeline_view::{TimelineRow, TimelineScreen};
use crate::flow::FlowId;
use crate::history::PolicyKey;
use crate::timeline::{Event, EventKind, merge};

/// Opens the timeline and asks the journal thread for its part, with the console's own
/// namespace → tenant map so events are attributed as the tree shows them.
pub fn open(state: &mut State, tenant: Option<String>) -> Vec<Effect> {
    let tenants: BTreeMap<String, Option<String>> = state
        .cluster
        .namespaces
        .values()
        .map(|ns| {
            let group = state.tenant_rules.group_of(&ns.name, &ns.labels);
            let tenant = match group {
                crate::isolation::tenants::Group::Tenant(t) => Some(t),
                _ => None,
            };
            (ns.name.clone(), tenant)
        })
        .collect();
    let flow = state.session.flows.issue();
    let screen = TimelineScreen::new(flow, tenant);
    navigate(state, Navigation::Show(Screen::Timeline(screen)));
    vec![Effect::LoadTimeline { flow, tenants }]
}

/// The journal's events arrived: merge them with the session's readings.
pub fn loaded(state: &mut State, flow: FlowId, journal: Result<Vec<Event>, String>) {
    let live = state.telemetry.timeline_events();
    if let Screen::Timeline(t) = &mut state.screen
        && t.flow == flow
    {
        t.events = Some(journal.map(|events| merge(vec![events, live], None, t.tenant.as_deref())));
    }
}

/// A key on the timeline: the cursor, the filters, and `enter`.
pub fn action(state: &mut State, action: Action) -> Vec<Effect> {
    let page = usize::from(super::layout::page_rows(state).max(1));
    let Screen::Timeline(t) = &mut state.screen else {
        return Vec::new();
    };
    match action {
        Action::CycleKind => t.cycle_kind(),
        Action::FilterTenant => {
            if let Err(why) = t.toggle_tenant() {
                state.notice = Some(why.into());
            }
        }
        Action::ClearFilters => t.clear_filters(),
        Action::Open => return open_selected(state),
        other => t.select(other, page),
    }
    Vec::new()
}

/// `enter`: a seeding row opens (or folds); a policy change or a rollback opens the policy's
/// history, from which `R` rolls back; a spike opens the matrix between its two groups.
fn open_selected(state: &mut State) -> Vec<Effect> {
    let Screen::Timeline(t) = &mut state.screen else {
        return Vec::new();
    };
    if let Some(TimelineRow::Seeding { .. }) = t.selected() {
        t.toggle_seeding();
        return Vec::new();
    }
    let Some(event) = t.selected_event().cloned() else {
        return Vec::new();
    };
    match event.kind {
        EventKind::PolicyChange | EventKind::Rollback => {
            match event.object.as_deref().and_then(PolicyKey::parse) {
                Some(policy) => super::history_flow::open_policy(state, policy),
                None => {
                    state.notice = Some("this event names no policy".into());
                    Vec::new()
                }
            }
        }
        EventKind::ViolationSpike | EventKind::LatencyBreach => {
            match event.object.as_deref().and_then(|o| o.split_once(" → ")) {
                Some((from, to)) => super::screen_nav::open_group_pair(state, from, to),
                None => state.notice = Some("this event names no pair of groups".into()),
            }
            Vec::new()
        }
    }
}
