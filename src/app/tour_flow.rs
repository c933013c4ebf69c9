//! The guided tour's transitions (its data, steps and conditions are in `tour.rs`): when a
//! condition holds on the state, starting, leaving and advancing. Pure.

use super::msg::Effect;
use super::rollback::Stage;
use super::screen::{MatrixLevel, Screen};
use super::state::State;
use super::tour::{Condition, SKIPPED_REHEARSAL_DONE, Tour, builtin_steps};
use super::tree::NodeTarget;
use crate::model::ObjectRef;

impl Condition {
    /// Whether the state satisfies the condition.
    pub fn holds(&self, state: &State) -> bool {
        match self {
            Condition::Screen(name) => screen_name(&state.screen) == name,
            Condition::TreeExpanded(id) => {
                state.nav.opened.iter().any(|path| path.last() == Some(id))
            }
            Condition::SelectedPolicyIn(ns) => {
                state.screen == Screen::Tenants
                    && matches!(
                        state.tree.find(&state.nav.selected),
                        Some(NodeTarget::Policy(p)) if &p.policy.namespace == ns
                    )
            }
            Condition::Filter(text) => state
                .screen
                .table()
                .is_some_and(|t| t.filter.to_lowercase().contains(&text.to_lowercase())),
            Condition::Command(name) => state
                .session
                .command_history
                .last()
                .and_then(|line| line.split_whitespace().next())
                .is_some_and(|first| first == name),
            Condition::HistoryOf(policy) => {
                matches!(&state.screen, Screen::History(h) if &h.policy.to_string() == policy)
            }
            Condition::RollbackDone => matches!(
                &state.screen,
                Screen::Rollback(r) if matches!(&r.stage, Stage::Done { outcome, .. } if outcome == "done")
            ),
        }
    }
}

/// The condition vocabulary's name for a screen.
fn screen_name(screen: &Screen) -> &'static str {
    match screen {
        Screen::Tenants => "tenants",
        Screen::Matrix(m) => match m.level {
            MatrixLevel::Groups => "matrix",
            MatrixLevel::Namespaces { .. } => "namespaces",
            MatrixLevel::Pairs { .. } => "pairs",
        },
        Screen::Policies(_) => "policies",
        Screen::Findings(_) => "findings",
        Screen::Explain(_) => "explain",
        Screen::Violations(_) => "violations",
        Screen::Latency(_) => "latency",
        Screen::Agents(_) => "agents",
        Screen::History(_) => "history",
        Screen::Rollback(_) => "rollback",
        Screen::Timeline(_) => "timeline",
        Screen::Flows => "flows",
    }
}

impl Tour {
    /// The current step's condition: its own, or the skipped rehearsal's.
    fn done(&self, state: &State) -> bool {
        let Some(step) = self.step() else {
            return false;
        };
        if step.breaks.is_some() && self.rehearsal_refused.is_some() {
            Condition::parse(SKIPPED_REHEARSAL_DONE).is_ok_and(|c| c.holds(state))
        } else {
            step.done.holds(state)
        }
    }
}

/// The runtime refused the break of `policy`: if the current step asked for it, it is skipped.
pub fn break_refused(state: &mut State, policy: &ObjectRef, reason: String) {
    state.notice = Some(format!(
        "the tour's rehearsal did not break {policy}: {reason}; nothing was changed"
    ));
    if state.session.tour.step().and_then(|s| s.breaks.as_ref()) == Some(policy) {
        state.session.tour.rehearsal_refused = Some(reason);
    }
}

/// Entering the current step: save it, and arm the rehearsal's break if it has one.
fn entered(tour: &mut Tour) -> Vec<Effect> {
    tour.pending_break = tour.step().and_then(|s| s.breaks.clone());
    tour.rehearsal_refused = None;
    vec![Effect::SaveTour(tour.current)]
}

/// `:tour` — start, or resume where the user left off (a saved step or this session's).
pub fn start(state: &mut State) -> Vec<Effect> {
    let tour = &mut state.session.tour;
    if tour.steps.is_empty() {
        tour.steps = builtin_steps();
        tour.current = tour.saved.unwrap_or(0);
    }
    if tour.finished || tour.current >= tour.steps.len() {
        tour.current = 0;
        tour.finished = false;
    }
    if tour.started {
        return Vec::new();
    }
    tour.started = true;
    state.notice = Some(format!(
        "tour {}/{}; :tour off leaves it (progress is kept)",
        tour.current + 1,
        tour.steps.len()
    ));
    let mut effects = entered(&mut state.session.tour);
    effects.extend(advance(state));
    effects
}

/// `:tour off` — leave; `:tour` resumes at the same step.
pub fn leave(state: &mut State) -> Vec<Effect> {
    if !state.session.tour.started {
        state.notice = Some("the tour is not running; :tour starts it".into());
        return Vec::new();
    }
    state.session.tour.started = false;
    state.notice = Some(format!(
        "left the tour at step {}; :tour resumes it",
        state.session.tour.current + 1
    ));
    vec![Effect::SaveTour(state.session.tour.current)]
}

/// `:tour restart` — from the first step.
pub fn restart(state: &mut State) -> Vec<Effect> {
    state.session.tour.started = false;
    state.session.tour.finished = false;
    state.session.tour.steps.clear();
    state.session.tour.saved = Some(0);
    start(state)
}

/// After every `update`: while the current step's condition holds, move on.
pub fn advance(state: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    while state.session.tour.step().is_some() {
        if !state.session.tour.done(state) {
            break;
        }
        state.session.tour.current += 1;
        if state.session.tour.current >= state.session.tour.steps.len() {
            state.session.tour.finished = true;
            state.session.tour.started = false;
            state.notice = Some("tour finished: well done. :tour restart runs it again".into());
            effects.push(Effect::SaveTour(state.session.tour.current));
            break;
        }
        effects.extend(entered(&mut state.session.tour));
    }
    if state.session.tour.step().is_some()
        && state.is_live()
        && let Some(policy) = state.session.tour.pending_break.take()
    {
        effects.push(Effect::TourBreak(policy));
    }
    effects
}

/// The runtime read the progress file (or found none) at start.
pub fn loaded(
    state: &mut State,
    saved: Option<usize>,
    offer: bool,
    start_now: bool,
) -> Vec<Effect> {
    state.session.tour.saved = saved;
    if start_now {
        return start(state);
    }
    if offer && saved.is_none() {
        state.notice = Some("new here? :tour starts a guided tour".into());
    }
    Vec::new()
}

/// `:tour [off|restart]`.
pub fn command(state: &mut State, arg: Option<&str>) -> Vec<Effect> {
    match arg {
        None | Some("on" | "resume") => start(state),
        Some("off" | "leave" | "stop") => leave(state),
        Some("restart") => restart(state),
        Some(other) => {
            state.notice = Some(format!("usage: :tour [off|restart], not `{other}`"));
            Vec::new()
        }
    }
}
