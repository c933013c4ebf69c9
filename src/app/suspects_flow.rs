//! Suspects in the console: the journal's recent changes in, their radii asked for off the UI
//! loop (`Effect::ComputeRadii`, once per policy and revision, only once the cluster is listed),
//! the observation under the cursor of `:violations`, `:flows` and a spike of `:timeline`, and
//! `S`, the rollback of exactly the top suspect. Pure.

use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;

use super::msg::Effect;
use super::screen::Screen;
use super::state::State;
use super::suspects::{Recent, Top};
use super::telemetry::{SPIKE_PER_SECOND, Violation};
use super::telemetry_rows::violation_rows;
use super::timeline_view::TimelineRow;
use crate::flow::FlowId;
use crate::flows::AggregateKey;
use crate::history::PolicyKey;
use crate::suspects::{Evidence, Observation, Radius, spike_start};
use crate::timeline::{Event, EventKind};

/// The journal's recent changes arrived (or could not be read).
pub fn changes_loaded(state: &mut State, changes: Result<Recent, String>) {
    state.suspects.reading = false;
    match changes {
        Ok(changes) => {
            state.suspects.keep(changes);
            state.suspects.error = None;
        }
        Err(error) => state.suspects.error = Some(error),
    }
}

/// Radii computed for the flow that asked; an older flow's are dropped (another context's).
pub fn radii_computed(state: &mut State, flow: FlowId, radii: Vec<((PolicyKey, u32), Radius)>) {
    if state.suspects.computing != Some(flow) {
        return;
    }
    state.suspects.computing = None;
    state.suspects.radii.extend(radii);
}

/// Once per frame, for the denials on screen only: read the journal's changes again if it has
/// news (one read at a time), and ask for the radii they still miss, one batch at a time, once
/// every kind is listed (a radius computed on a half-listed snapshot would be wrong, and is
/// kept).
pub fn settle(state: &mut State) -> Vec<Effect> {
    let shown = shown_observations(state);
    if shown.is_empty() {
        return Vec::new();
    }
    let mut effects = Vec::new();
    let suspects = &mut state.suspects;
    if suspects.stale && !suspects.reading {
        (suspects.stale, suspects.reading) = (false, true);
        effects.push(Effect::LoadChanges);
    }
    if state.suspects.computing.is_some() || !state.all_listed() {
        return effects;
    }
    let changes = state.suspects.missing(&shown);
    if !changes.is_empty() {
        let flow = state.session.flows.issue();
        state.suspects.computing = Some(flow);
        effects.push(Effect::ComputeRadii { flow, changes });
    }
    effects
}

fn stamp(at: SystemTime) -> Timestamp {
    Timestamp::try_from(at).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A row of `:violations` as an observation: flows start at the aggregate's first flow; the
/// counters at the pair's latest rise in the readings' log (else the row's own time).
pub fn violation_observation(state: &State, v: &Violation) -> Observation {
    let at = stamp(v.at);
    let started = match v.first_seen {
        Some(first) => stamp(first),
        None => spike_start(
            &state.telemetry.rate_log,
            &v.source_tenant,
            &v.destination_tenant,
            at,
            SPIKE_PER_SECOND,
        )
        .unwrap_or(at),
    };
    Observation {
        from: v.source_tenant.clone(),
        to: v.destination_tenant.clone(),
        from_namespace: v.source_namespace.clone(),
        to_namespace: v.destination_namespace.clone(),
        port: v.port,
        started,
        evidence: if v.first_seen.is_some() {
            Evidence::Flows
        } else {
            Evidence::Counters
        },
    }
}

/// A spike of the timeline (`acme → platform`) as an observation from its time.
pub fn spike_observation(event: &Event) -> Option<Observation> {
    if event.kind != EventKind::ViolationSpike {
        return None;
    }
    let (from, to) = event.object.as_deref()?.split_once(" → ")?;
    Some(Observation {
        from: from.to_string(),
        to: to.to_string(),
        from_namespace: None,
        to_namespace: None,
        port: None,
        started: event.at,
        evidence: Evidence::Counters,
    })
}

/// The observation under the cursor of the current screen, if it has one.
pub fn selected_observation(state: &State) -> Option<Observation> {
    match &state.screen {
        Screen::Violations(table) => {
            let rows = violation_rows(state, table);
            let index = super::rows::selected_index(
                &rows.iter().map(|v| v.key()).collect::<Vec<_>>(),
                table.selected.as_ref(),
            );
            rows.get(index).map(|v| violation_observation(state, v))
        }
        Screen::Flows => {
            let flow = state.flows.selected()?;
            if !flow.policy_drop() {
                return None;
            }
            let from = flow.src.namespace.as_deref()?;
            let to = flow.dst.namespace.as_deref()?;
            let first = state
                .flows
                .aggregates
                .get(&AggregateKey::of(flow))
                .map_or(flow.time, |s| s.first);
            Some(Observation {
                from: state.group_label(from),
                to: state.group_label(to),
                from_namespace: Some(from.to_string()),
                to_namespace: Some(to.to_string()),
                port: flow.protocol.zip(flow.port),
                started: stamp(first),
                evidence: Evidence::Flows,
            })
        }
        Screen::Timeline(timeline) => spike_observation(timeline.selected_event()?),
        _ => None,
    }
}

/// The observations whose likely cause the current screen shows: the selected denial of
/// `:violations` and `:flows`; every spike listed on `:timeline`, the selected one first.
pub fn shown_observations(state: &State) -> Vec<Observation> {
    let mut shown: Vec<Observation> = selected_observation(state).into_iter().collect();
    if let Screen::Timeline(timeline) = &state.screen {
        let events = timeline.events();
        shown.extend(timeline.rows().into_iter().filter_map(|row| match row {
            TimelineRow::Event(i) => spike_observation(&events[i]),
            _ => None,
        }));
    }
    shown
}

/// `S`: the rollback flow of the top suspect of the observation under the cursor: back to the
/// revision before its change, through every gate of the rollback flow.
pub fn rollback_top(state: &mut State) -> Vec<Effect> {
    let Some(observation) = selected_observation(state) else {
        state.notice =
            Some("no denial selected: S works on :violations, :flows and a :timeline spike".into());
        return Vec::new();
    };
    let suspect = match state.suspects.top(&observation) {
        Top::Found {
            suspect,
            unchecked: 0,
        } => suspect,
        Top::Found { unchecked, .. } => {
            // Another change may rank higher: `S` rolls back the likely cause, not a guess.
            state.notice = Some(format!(
                "{unchecked} policy change(s) before {} still being checked: S works once the \
                 likely cause is settled",
                observation.label()
            ));
            return Vec::new();
        }
        _ => {
            state.notice = Some(state.suspects.line(&observation));
            return Vec::new();
        }
    };
    if state.journal.path.is_none() {
        state.notice = Some("no revision journal: the rollback needs one".into());
        return Vec::new();
    }
    let change = &suspect.change;
    let step = super::rollback_flow::open(
        &mut state.session.flows,
        change.policy.clone(),
        change.rollback_kind(),
    );
    super::nav::take(state, step)
}
