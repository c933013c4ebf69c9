//! Suspects for a new denied pair or a violation spike (pure): the policy changes of the last
//! minutes whose effect, computed by the engine before → after, closes what is now denied.
//!
//! * `changes.rs`: the journal's revisions as changes (revision N replacing N-1) in a window.
//! * `radius.rs`: what a change closes, per namespace pair, from the two engines of
//!   `rollback::blast::engines` on the current snapshot (costly: callers run it off the UI loop
//!   and keep it per policy and revision).
//! * here: observations, the ranking and its one-line description.
//!
//! Ranking (see `docs/suspects.md`): only changes at or before the observation's start (give or
//! take the journal's lag, [`JOURNAL_LAG`]) and at most the window before it, that close the observed pair (and its protocol and port when the
//! observation has one); the most recent first, then the most specific (fewest namespace pairs
//! closed, then fewest ports), then by policy name and revision.

pub mod changes;
pub mod observe;
pub mod radius;

#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

pub use changes::{PolicyChange, changes_in, from_journal, recent_from_journal};
pub use observe::{from_drops, from_flows, spike_start};
pub use radius::{Closure, Radius, radius};

use crate::policy::{ConnSet, Protocol};

/// How far before an observation a change may be and still be a suspect, by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30 * 60);

/// A change the journal saw at most this long after an observation began still counts as before
/// it: the journal's time is when a watch delivered the change, which lags the write the
/// dataplane already enforces (a dropped flow can carry an earlier time than the revision).
pub const JOURNAL_LAG: Duration = Duration::from_secs(5);

/// How long before `started` a change at `at` was, if it counts as before it (see
/// [`JOURNAL_LAG`]); a change seen within the lag after it is "0 s before".
pub fn before(at: Timestamp, started: Timestamp) -> Option<Duration> {
    match Duration::try_from(started.duration_since(at)) {
        Ok(before) => Some(before),
        Err(_) => Duration::try_from(at.duration_since(started))
            .ok()
            .filter(|after| *after <= JOURNAL_LAG)
            .map(|_| Duration::ZERO),
    }
}

/// Where an observation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Evidence {
    /// The agents' denied counters (tenant or namespace pair, no port).
    Counters,
    /// Flows dropped by policy (namespaces, protocol and port).
    Flows,
}

/// Something newly denied: a pair of groups (tenants, `platform`, `unassigned`), the namespaces
/// and protocol/port when the source knows them, and when it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub from: String,
    pub to: String,
    pub from_namespace: Option<String>,
    pub to_namespace: Option<String>,
    pub port: Option<(Protocol, u16)>,
    pub started: Timestamp,
    pub evidence: Evidence,
}

impl Observation {
    /// `acme → platform`, `acme-web → kube-system UDP 53`.
    pub fn label(&self) -> String {
        let ends = match (&self.from_namespace, &self.to_namespace) {
            (Some(from), Some(to)) => format!("{from} → {to}"),
            _ => format!("{} → {}", self.from, self.to),
        };
        match self.port {
            Some((proto, port)) => format!("{ends} {proto} {port}"),
            None => ends,
        }
    }

    /// Whether a closure is of this observation: the same groups, the same namespaces when the
    /// observation names them, and the protocol and port when it has them.
    fn covers(&self, closure: &Closure) -> bool {
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        closure.from_group == self.from
            && closure.to_group == self.to
            && same(&self.from_namespace, &closure.from_namespace)
            && same(&self.to_namespace, &closure.to_namespace)
            && match self.port {
                Some((proto, port)) => closure.closed.contains(proto, port),
                None => !closure.closed.is_empty(),
            }
    }
}

/// One suspect of one observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    pub change: PolicyChange,
    /// How long before the observation started the change was seen.
    pub before: Duration,
    /// What the change closed of the observation (its closures that cover it).
    pub closes: Vec<Closure>,
    /// Namespace pairs and ports the change closes in all: fewer is more specific.
    pub breadth: (usize, u128),
}

impl Suspect {
    /// What it closed of the observation, by groups: `acme → platform UDP 53`.
    pub fn closes_label(&self) -> String {
        let mut conns = ConnSet::none();
        let mut pairs: Vec<String> = Vec::new();
        for closure in &self.closes {
            conns.union_with(&closure.closed);
            let pair = format!("{} → {}", closure.from_group, closure.to_group);
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
        format!("{} {conns}", pairs.join(", "))
    }

    /// "acme-web/allow-dns rev 2 (kubectl-patch, 7 s before; closes acme → platform UDP 53)".
    pub fn describe(&self) -> String {
        let change = &self.change;
        format!(
            "{} rev {} ({}, {} before; closes {})",
            change.policy,
            change.to_revision,
            change
                .manager
                .as_deref()
                .unwrap_or(change.operation.as_str()),
            ago(self.before),
            self.closes_label()
        )
    }
}

/// `7 s`, `4 min`, `1 h 5 min`.
pub fn ago(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s / 60 % 60),
    }
}

/// The suspects of `observation` among `changes` with their radii, best first.
pub fn rank<'a>(
    observation: &Observation,
    changes: impl IntoIterator<Item = (&'a PolicyChange, &'a Radius)>,
    window: Duration,
) -> Vec<Suspect> {
    let mut out: Vec<Suspect> = changes
        .into_iter()
        .filter_map(|(change, radius)| {
            let before = before(change.at, observation.started)?;
            if before > window {
                return None;
            }
            let closes: Vec<Closure> = radius
                .closures
                .iter()
                .filter(|c| observation.covers(c))
                .cloned()
                .collect();
            (!closes.is_empty()).then(|| Suspect {
                change: change.clone(),
                before,
                closes,
                breadth: radius.breadth(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.before
            .cmp(&b.before)
            .then(a.breadth.cmp(&b.breadth))
            .then_with(|| a.change.policy.cmp(&b.change.policy))
            .then(b.change.to_revision.cmp(&a.change.to_revision))
    });
    out
}
