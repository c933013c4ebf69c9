//! The `:timeline` screen's transitions (its data is in `timeline_view.rs`). Pure.

use std::collections::BTreeMap;

use super::msg::Effect;
use super::nav::{Navigation, navigate};
use super::screen::Screen;
use super::state::State;
use super::timeline_view::TimelineScreen;
use crate::flow::FlowId;
use crate::timeline::{Event, merge};

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
    let screen = TimelineScreen {
        flow,
        tenant,
        events: None,
        scroll: 0,
    };
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
