//! What the console keeps for suspects (data only; transitions in `suspects_flow.rs`): the
//! journal's recent policy changes and, per policy and revision, what each closes, computed off
//! the UI loop. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::flow::FlowId;
use crate::history::PolicyKey;
use crate::suspects::{
    DEFAULT_WINDOW, Observation, PolicyChange, Radius, Suspect, ago, before, rank,
};

/// How far back the console reads changes: the readings' log (about two hours) and a window.
pub const CHANGES_KEPT: Duration = Duration::from_secs(3 * 3600);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuspectsView {
    /// The journal's changes of the last [`CHANGES_KEPT`], oldest first.
    pub changes: Vec<PolicyChange>,
    /// What each change closes, by policy and revision, on the snapshot of when it was computed.
    pub radii: BTreeMap<(PolicyKey, u32), Radius>,
    /// The radii asked for and not back yet.
    pub computing: Option<FlowId>,
    /// The journal could not give the changes.
    pub error: Option<String>,
}

/// The best suspect of an observation, or why there is none yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Top {
    Found(Box<Suspect>),
    /// Some change in the window has no radius yet.
    Computing,
    /// No change in the window before the observation.
    NoChange,
    /// Changes in the window, none of which closes it.
    NoneCloses(usize),
}

impl SuspectsView {
    /// The changes in the window before `observation`, and whether each has its radius.
    fn candidates<'a>(&'a self, observation: &Observation) -> Vec<&'a PolicyChange> {
        self.changes
            .iter()
            .filter(|c| before(c.at, observation.started).is_some_and(|d| d <= DEFAULT_WINDOW))
            .collect()
    }

    pub fn top(&self, observation: &Observation) -> Top {
        let candidates = self.candidates(observation);
        if candidates.is_empty() {
            return Top::NoChange;
        }
        let known = candidates
            .iter()
            .filter_map(|c| self.radii.get(&c.id()).map(|r| (*c, r)));
        if let Some(best) = rank(observation, known, DEFAULT_WINDOW).into_iter().next() {
            return Top::Found(Box::new(best));
        }
        if candidates.iter().any(|c| !self.radii.contains_key(&c.id())) {
            return Top::Computing;
        }
        Top::NoneCloses(candidates.len())
    }

    /// The line the views show for an observation.
    pub fn line(&self, observation: &Observation) -> String {
        if let (Some(error), true) = (&self.error, self.changes.is_empty()) {
            return format!("no suspect: the journal's changes cannot be read: {error}");
        }
        match self.top(observation) {
            Top::Found(suspect) => {
                format!("likely cause: {}  (S: roll it back)", suspect.describe())
            }
            Top::Computing => {
                "likely cause: computing what the recent policy changes close…".into()
            }
            Top::NoChange => format!(
                "no suspect for {}: no policy change in the journal in the {} before it",
                observation.label(),
                ago(DEFAULT_WINDOW)
            ),
            Top::NoneCloses(n) => format!(
                "no suspect for {}: none of the {n} policy change(s) before it closes it",
                observation.label()
            ),
        }
    }

    /// Changes whose radius is not known (the caller asks for one batch at a time).
    pub fn missing(&self) -> Vec<PolicyChange> {
        self.changes
            .iter()
            .filter(|c| !self.radii.contains_key(&c.id()))
            .cloned()
            .collect()
    }
}
