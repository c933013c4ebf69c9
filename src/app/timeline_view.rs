//! The `:timeline` screen: the journal's policy changes and the audit's rollbacks (read by the
//! journal thread), merged with this session's violation spikes and latency breaches. Pure.

use std::collections::BTreeMap;

use super::msg::Effect;
use super::screen::Screen;
use super::state::State;
use crate::flow::FlowId;
use crate::timeline::{Event, merge};

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineScreen {
    /// The load asked for this screen; only its answer is shown.
    pub flow: FlowId,
    /// `:timeline TENANT` keeps only that tenant's events.
    pub tenant: Option<String>,
    /// `None` while the journal is read.
    pub events: Option<Result<Vec<Event>, String>>,
    pub scroll: u16,
}

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
    let flow = state.flows.issue();
    let screen = TimelineScreen {
        flow,
        tenant,
        events: None,
        scroll: 0,
    };
    super::input::show(state, Screen::Timeline(screen));
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
