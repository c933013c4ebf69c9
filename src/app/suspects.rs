//! What the console keeps for suspects (data only; transitions in `suspects_flow.rs`): the
//! journal's recent policy changes and, per policy and revision, what each closes, computed off
//! the UI loop. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::flow::FlowId;
use crate::history::PolicyKey;
use crate::suspects::{
    DEFAULT_WINDOW, Observation, PolicyChange, Radius, Suspect, ago, before, rank,
};

/// How far back the console reads changes: the readings' log (about two hours) and a window.
pub const CHANGES_KEPT: Duration = Duration::from_secs(3 * 3600);

/// At most this many changes are kept, the newest: each holds two versions of its policy, and
/// a busy cluster can change policies many times a second.
pub const CHANGES_AT_MOST: usize = 1_000;

/// At most this many radii are asked at once: each costs two engine builds (about 0.3 s at
/// 20,000 pods), and the cursor may have moved on before a long batch would end.
pub const RADII_PER_BATCH: usize = 4;

/// The journal's newest changes (oldest first), and how many older ones of the same hours it
/// did not read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recent {
    pub changes: Vec<PolicyChange>,
    pub older: usize,
}

impl From<Vec<PolicyChange>> for Recent {
    fn from(changes: Vec<PolicyChange>) -> Recent {
        Recent { changes, older: 0 }
    }
}

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
    /// The journal has revisions the changes above do not hold yet: read again when a denial
    /// is on screen (a busy cluster's news come many times a second; nothing reads them
    /// until then).
    pub stale: bool,
    /// A read of the changes is asked and not answered.
    pub reading: bool,
}

/// The best suspect of an observation, or why there is none yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Top {
    /// The best of the changes whose radius is known; `unchecked` more in the window have none
    /// yet, and one of them may rank higher.
    Found {
        suspect: Box<Suspect>,
        unchecked: usize,
    },
    /// Some change in the window has no radius yet.
    Computing,
    /// No change in the window before the observation.
    NoChange,
    /// Changes in the window, none of which closes it.
    NoneCloses(usize),
}

impl SuspectsView {
    /// The journal's changes: the newest [`CHANGES_AT_MOST`] are kept, and the radii of
    /// changes no longer kept are dropped.
    pub fn keep(&mut self, recent: Recent) {
        let Recent { mut changes, older } = recent;
        let trimmed = changes.len().saturating_sub(CHANGES_AT_MOST);
        changes.drain(..trimmed);
        self.left_out = older + trimmed;
        let kept: BTreeSet<_> = changes.iter().map(PolicyChange::id).collect();
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
        let unchecked = (candidates.iter())
            .filter(|c| !self.radii.contains_key(&c.id()))
            .count();
        if let Some(best) = rank(observation, known, DEFAULT_WINDOW).into_iter().next() {
            return Top::Found {
                suspect: Box::new(best),
                unchecked,
            };
        }
        if unchecked > 0 {
            return Top::Computing;
        }
        Top::NoneCloses(candidates.len())
    }

    /// The line the views show for an observation.
    pub fn line(&self, observation: &Observation) -> String {
        if let (Some(error), true) = (&self.error, self.changes.is_empty()) {
            return format!("no suspect: the journal's changes cannot be read: {error}");
        }
        if self.changes.is_empty() && (self.stale || self.reading) {
            return "likely cause: reading the journal's recent policy changes…".into();
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
            Top::Found {
                suspect,
                unchecked: 0,
            } => format!("likely cause: {}  (S: roll it back)", suspect.describe()),
            Top::Found { suspect, unchecked } => format!(
                "likely cause so far: {}; {unchecked} more policy change(s) before it still \
                 being checked",
                suspect.describe()
            ),
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

    /// The next batch of radii to ask for: changes with none yet that one of `observations`
    /// (the denials on screen) could blame, the first observation's first, the latest change
    /// before each first. Only what is on screen: under churn, radii for every change would
    /// keep two engine builds running without end.
    pub fn missing(&self, observations: &[Observation]) -> Vec<PolicyChange> {
        let mut asked = BTreeSet::new();
        observations
            .iter()
            .flat_map(|o| self.candidates(o).into_iter().rev())
            .filter(|c| !self.radii.contains_key(&c.id()) && asked.insert(c.id()))
            .take(RADII_PER_BATCH)
            .cloned()
            .collect()
    }
}
