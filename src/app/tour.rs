//! The guided tour: steps are data (`docs/tour.yaml`), the progress a small state machine.
//! Pure: after every `update` the current step's condition is checked on `State`; progress is
//! saved by the runtime (`Effect::SaveTour`), and the demo is broken on purpose for the rollback
//! rehearsal through `Effect::TourBreak`, which the runtime refuses on a real cluster.

use serde::Deserialize;

use super::msg::Effect;
use super::rollback::Stage;
use super::screen::{MatrixLevel, Screen};
use super::state::State;
use super::tree::NodeTarget;
use crate::model::ObjectRef;

/// The built-in steps.
pub const STEPS_YAML: &str = include_str!("../../docs/tour.yaml");

/// The part of the screen a step points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Tree,
    Detail,
    Matrix,
    MatrixCell,
    Table,
    CommandLine,
    Status,
    Whole,
}

impl Region {
    pub fn parse(text: &str) -> Option<Region> {
        Some(match text {
            "tree" => Region::Tree,
            "detail" => Region::Detail,
            "matrix" => Region::Matrix,
            "matrix-cell" => Region::MatrixCell,
            "table" => Region::Table,
            "command-line" => Region::CommandLine,
            "status" => Region::Status,
            "whole" | "whole-screen" => Region::Whole,
            _ => return None,
        })
    }
}

/// Screens a condition can name.
const SCREENS: &[&str] = &[
    "tenants",
    "matrix",
    "namespaces",
    "pairs",
    "policies",
    "findings",
    "explain",
    "violations",
    "latency",
    "agents",
    "history",
    "rollback",
    "timeline",
];

/// When a step is done: a closed vocabulary, evaluated on `State` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `screen: NAME` — NAME is shown (`namespaces`/`pairs` are the matrix drill-down levels).
    Screen(String),
    /// `tree-expanded: NODE-ID` — the tree node (`tenant:acme`, `ns:acme-web`) is open.
    TreeExpanded(String),
    /// `selected-policy-in: NS` — a policy of namespace NS is selected in the tree.
    SelectedPolicyIn(String),
    /// `filter: TEXT` — the table shown is filtered with TEXT.
    Filter(String),
    /// `command: NAME` — the last command line run was `:NAME …`.
    Command(String),
    /// `history-of: NS/NAME` — the history screen shows that policy.
    HistoryOf(String),
    /// `rollback-done` — the rollback screen reached Done with outcome `done`.
    RollbackDone,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let (name, arg) = match text.split_once(':') {
            Some((name, arg)) => (name.trim(), arg.trim()),
            None => (text.trim(), ""),
        };
        let need = |what: &str| {
            if arg.is_empty() {
                Err(format!("`{name}` needs {what}"))
            } else {
                Ok(arg.to_string())
            }
        };
        Ok(match name {
            "screen" => {
                let screen = need("a screen name")?;
                if !SCREENS.contains(&screen.as_str()) {
                    return Err(format!(
                        "unknown screen `{screen}`; known: {}",
                        SCREENS.join(", ")
                    ));
                }
                Condition::Screen(screen)
            }
            "tree-expanded" => Condition::TreeExpanded(need("a tree node id")?),
            "selected-policy-in" => Condition::SelectedPolicyIn(need("a namespace")?),
            "filter" => Condition::Filter(need("a text")?),
            "command" => Condition::Command(need("a command name")?),
            "history-of" => Condition::HistoryOf(need("NAMESPACE/NAME")?),
            "rollback-done" if arg.is_empty() => Condition::RollbackDone,
            other => {
                return Err(format!(
                    "unknown condition `{other}`; known: screen, tree-expanded, \
                     selected-policy-in, filter, command, history-of, rollback-done"
                ));
            }
        })
    }

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
    }
}

/// One step of the tour.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub explain: String,
    pub instruction: String,
    pub highlight: Region,
    pub done: Condition,
    /// On entering the step, break this demo policy's DNS egress (the rollback rehearsal).
    pub breaks: Option<ObjectRef>,
}

/// A step as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    title: String,
    explain: String,
    instruction: String,
    highlight: String,
    done: String,
    #[serde(default)]
    breaks: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTour {
    steps: Vec<RawStep>,
}

/// Reads a steps file; an error names the step and the field.
pub fn parse_steps(yaml: &str) -> Result<Vec<Step>, String> {
    let raw: RawTour = serde_yaml::from_str(yaml).map_err(|e| format!("tour steps: {e}"))?;
    if raw.steps.is_empty() {
        return Err("tour steps: no steps".into());
    }
    raw.steps
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let at = |field: &str, why: String| {
                format!("tour step {} ({}), field `{field}`: {why}", i + 1, raw.id)
            };
            let highlight = Region::parse(raw.highlight.trim()).ok_or_else(|| {
                at(
                    "highlight",
                    format!(
                        "unknown region `{}`; known: tree, detail, matrix, matrix-cell, table, \
                         command-line, status, whole",
                        raw.highlight
                    ),
                )
            })?;
            let done = Condition::parse(&raw.done).map_err(|e| at("done", e))?;
            let breaks = match &raw.breaks {
                None => None,
                Some(text) => match text.split_once('/') {
                    Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                        Some(ObjectRef::new(ns, name))
                    }
                    _ => return Err(at("breaks", format!("`{text}` is not NAMESPACE/NAME"))),
                },
            };
            Ok(Step {
                id: raw.id.clone(),
                title: raw.title.trim().to_string(),
                explain: raw.explain.split_whitespace().collect::<Vec<_>>().join(" "),
                instruction: raw
                    .instruction
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                highlight,
                done,
                breaks,
            })
        })
        .collect()
}

/// The built-in steps (checked by a test, so this cannot fail in a release).
pub fn builtin_steps() -> Vec<Step> {
    parse_steps(STEPS_YAML).unwrap_or_default()
}

/// The tour's progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tour {
    pub steps: Vec<Step>,
    /// Index of the current step.
    pub current: usize,
    /// The overlay is shown and conditions are checked.
    pub started: bool,
    pub finished: bool,
    /// The step a progress file named at start (0-based), or `None` when there was none.
    pub saved: Option<usize>,
    /// A rehearsal break waiting for the cluster to be live (so the journal has seen the policy
    /// as it was, and the rollback has a revision to go back to).
    pub pending_break: Option<ObjectRef>,
    /// Why the current step's rehearsal break was refused (read-only, not the demo): the step
    /// is then skipped with [`SKIPPED_REHEARSAL_DONE`] as its condition.
    pub rehearsal_refused: Option<String>,
}

/// What a step whose break was refused asks for instead of the rollback: a look at the
/// violations, where nothing is dropped since nothing was broken.
pub const SKIPPED_REHEARSAL_DONE: &str = "screen: violations";

impl Tour {
    pub fn step(&self) -> Option<&Step> {
        if self.started && !self.finished {
            self.steps.get(self.current)
        } else {
            None
        }
    }

    /// What the panel shows for the current step: its explanation and instruction, or, when
    /// its rehearsal break was refused, why it is skipped and how to go on.
    pub fn panel_text(&self) -> Option<(String, String)> {
        let step = self.step()?;
        Some(match (&step.breaks, &self.rehearsal_refused) {
            (Some(policy), Some(reason)) => (
                format!(
                    "Rehearsal skipped: the tour did not break {policy} ({reason}); nothing was \
                     changed on the cluster, so there is nothing to roll back."
                ),
                "Type :violations and enter to go on (no DNS drops: nothing was broken).".into(),
            ),
            _ => (step.explain.clone(), step.instruction.clone()),
        })
    }

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
    if state.tour.step().and_then(|s| s.breaks.as_ref()) == Some(policy) {
        state.tour.rehearsal_refused = Some(reason);
    }
}

/// Where the runtime saves progress: the 0-based step, or `steps.len()` when finished.
pub fn progress_text(step: usize) -> String {
    format!("step {step}\n")
}

pub fn parse_progress(text: &str) -> Option<usize> {
    text.trim().strip_prefix("step ")?.trim().parse().ok()
}

/// Entering the current step: save it, and arm the rehearsal's break if it has one.
fn entered(tour: &mut Tour) -> Vec<Effect> {
    tour.pending_break = tour.step().and_then(|s| s.breaks.clone());
    tour.rehearsal_refused = None;
    vec![Effect::SaveTour(tour.current)]
}

/// `:tour` — start, or resume where the user left off (a saved step or this session's).
pub fn start(state: &mut State) -> Vec<Effect> {
    let tour = &mut state.tour;
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
    let mut effects = entered(&mut state.tour);
    effects.extend(advance(state));
    effects
}

/// `:tour off` — leave; `:tour` resumes at the same step.
pub fn leave(state: &mut State) -> Vec<Effect> {
    if !state.tour.started {
        state.notice = Some("the tour is not running; :tour starts it".into());
        return Vec::new();
    }
    state.tour.started = false;
    state.notice = Some(format!(
        "left the tour at step {}; :tour resumes it",
        state.tour.current + 1
    ));
    vec![Effect::SaveTour(state.tour.current)]
}

/// `:tour restart` — from the first step.
pub fn restart(state: &mut State) -> Vec<Effect> {
    state.tour.started = false;
    state.tour.finished = false;
    state.tour.steps.clear();
    state.tour.saved = Some(0);
    start(state)
}

/// After every `update`: while the current step's condition holds, move on.
pub fn advance(state: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    while state.tour.step().is_some() {
        if !state.tour.done(state) {
            break;
        }
        state.tour.current += 1;
        if state.tour.current >= state.tour.steps.len() {
            state.tour.finished = true;
            state.tour.started = false;
            state.notice = Some("tour finished: well done. :tour restart runs it again".into());
            effects.push(Effect::SaveTour(state.tour.current));
            break;
        }
        effects.extend(entered(&mut state.tour));
    }
    if state.tour.step().is_some()
        && state.is_live()
        && let Some(policy) = state.tour.pending_break.take()
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
    state.tour.saved = saved;
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
