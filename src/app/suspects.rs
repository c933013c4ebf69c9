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

/// At most this many changes are kept, the newest: each holds two versions of its policy and
/// gets a radius computed, and a busy cluster can change policies many times a second.
pub const CHANGES_AT_MOST: usize = 1_000;

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
    /// How many older changes of the last [`CHANGES_KEPT`] were left out ([`CHANGES_AT_MOST`]).
    pub left_out: usize,
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
    /// The journal's changes (oldest first): the newest [`CHANGES_AT_MOST`] are kept, and the
    /// radii of changes no longer kept are dropped.
    pub fn keep(&mut self, mut changes: Vec<PolicyChange>) {
        self.left_out = changes.len().saturating_sub(CHANGES_AT_MOST);
        changes.drain(..self.left_out);
        let kept: std::collections::BTreeSet<_> = changes.iter().map(PolicyChange::id).collect();
        self.radii.retain(|id, _| kept.contains(id));
        self.changes = changes;
    }

    /// Whether changes were left out that an observation's window could hold: the oldest
    /// change kept is later than the window's start.
    fn window_cut(&self, observation: &Observation) -> bool {
        let window_start = (observation.started.checked_sub(DEFAULT_WINDOW))
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        self.left_out > 0 && self.changes.first().is_some_and(|c| c.at > window_start)
    }

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
        let cut = match self.window_cut(observation) {
            true => format!(
                "; the console keeps only the newest {CHANGES_AT_MOST} changes ({} older left \
                 out): `palisade suspects` reads them all",
                self.left_out
            ),
            false => String::new(),
        };
        match self.top(observation) {
            Top::Found(suspect) => {
                format!("likely cause: {}  (S: roll it back)", suspect.describe())
            }
            Top::Computing => {
                "likely cause: computing what the recent policy changes close…".into()
            }
            Top::NoChange => format!(
                "no suspect for {}: no policy change in the journal in the {} before it{cut}",
                observation.label(),
                ago(DEFAULT_WINDOW)
            ),
            Top::NoneCloses(n) => format!(
                "no suspect for {}: none of the {n} policy change(s) before it closes it{cut}",
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
