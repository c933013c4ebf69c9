//! The guided tour's data: steps (`docs/tour.yaml`), their regions and conditions, and the
//! progress. The transitions are in `tour_flow.rs`: after every `update` the current step's
//! condition is checked on `State`; progress is saved by the runtime (`Effect::SaveTour`), and
//! the demo is broken on purpose for the rollback rehearsal through `Effect::TourBreak`, which
//! the runtime refuses on a real cluster.

use serde::Deserialize;

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
    let raw: RawTour = crate::yaml::from_str(yaml).map_err(|e| format!("tour steps: {e}"))?;
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
}

/// Where the runtime saves progress: the 0-based step, or `steps.len()` when finished.
pub fn progress_text(step: usize) -> String {
    format!("step {step}\n")
}

pub fn parse_progress(text: &str) -> Option<usize> {
    text.trim().strip_prefix("step ")?.trim().parse().ok()
}
