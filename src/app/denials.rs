//! What the violations view, the tree's badges and the matrix count as denied: flows dropped
//! by policy (over the flow ring's age) while a flow source is live, else the agents' denied
//! rates (counters). One place decides, so the views agree and say which source is in use.

use super::state::State;
use crate::flows::FlowSourceKind;

/// Denied traffic in one place: a count of flows, or a rate from the counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Denied {
    Flows(u64),
    Rate(f64),
}

impl Denied {
    pub fn any(self) -> bool {
        match self {
            Denied::Flows(n) => n > 0,
            Denied::Rate(r) => r > 0.0,
        }
    }

    /// `412 flows`, `3/s`.
    pub fn label(self) -> String {
        match self {
            Denied::Flows(1) => "1 flow".into(),
            Denied::Flows(n) => format!("{} flows", super::flows::thousands(n)),
            Denied::Rate(r) => per_second(r),
        }
    }

    /// For a matrix cell: `412`, `3/s`.
    pub fn compact(self) -> String {
        match self {
            Denied::Flows(n) => super::flows::thousands(n),
            Denied::Rate(r) => per_second(r),
        }
    }
}

/// A rate for badges and cells: `0.4/s`, `12/s`.
pub fn per_second(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{rate:.1}/s")
    }
}

/// Where the denied counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialSource {
    Flows(FlowSourceKind),
    Counters,
}

impl DenialSource {
    /// `from Hubble Relay flows`, `from agent counters`: for titles.
    pub fn describe(self) -> String {
        match self {
            DenialSource::Flows(kind) => format!("from {} flows", kind.display_name()),
            DenialSource::Counters => "from agent counters".into(),
        }
    }
}

impl State {
    pub fn denial_source(&self) -> DenialSource {
        self.flows
            .source_in_use()
            .map_or(DenialSource::Counters, DenialSource::Flows)
    }

    /// Denied from one group (tenant, platform, unassigned) to another, by label.
    pub fn denied_between_groups(&self, from: &str, to: &str) -> Denied {
        match self.denial_source() {
            DenialSource::Flows(_) => Denied::Flows(
                self.flows
                    .denials
                    .groups
                    .get(&(from.to_string(), to.to_string()))
                    .copied()
                    .unwrap_or(0),
            ),
            DenialSource::Counters => Denied::Rate(self.telemetry.pair_rate(from, to)),
        }
    }

    /// The (from, to) group pairs with something denied now; every other pair has nothing.
    pub fn denied_group_pairs(&self) -> Vec<(String, String)> {
        match self.denial_source() {
            DenialSource::Flows(_) => (self.flows.denials.groups.iter())
                .filter(|(_, n)| **n > 0)
                .map(|(pair, _)| pair.clone())
                .collect(),
            DenialSource::Counters => self.telemetry.denied_pairs(),
        }
    }

    /// Denied into and out of a group.
    pub fn denied_around_group(&self, group: &str) -> (Denied, Denied) {
        match self.denial_source() {
            DenialSource::Flows(_) => sum_around(self.flows.denials.groups.iter(), group),
            DenialSource::Counters => {
                let (into, out) = self.telemetry.group_rates(group);
                (Denied::Rate(into), Denied::Rate(out))
            }
        }
    }

    /// Denied into and out of a namespace.
    pub fn denied_around_namespace(&self, namespace: &str) -> (Denied, Denied) {
        match self.denial_source() {
            DenialSource::Flows(_) => sum_around(self.flows.denials.namespaces.iter(), namespace),
            DenialSource::Counters => {
                let (into, out) = self.telemetry.namespace_rates(namespace);
                (Denied::Rate(into), Denied::Rate(out))
            }
        }
    }

    /// Denied from one namespace to another.
    pub fn denied_between_namespaces(&self, from: &str, to: &str) -> Denied {
        match self.denial_source() {
            DenialSource::Flows(_) => Denied::Flows(
                self.flows
                    .denials
                    .namespaces
                    .get(&(from.to_string(), to.to_string()))
                    .copied()
                    .unwrap_or(0),
            ),
            DenialSource::Counters => Denied::Rate(self.telemetry.namespace_pair_rate(from, to)),
        }
    }
}

fn sum_around<'a>(
    pairs: impl Iterator<Item = (&'a (String, String), &'a u64)>,
    place: &str,
) -> (Denied, Denied) {
    let (mut into, mut out) = (0, 0);
    for ((from, to), n) in pairs {
        if to == place {
            into += n;
        }
        if from == place {
            out += n;
        }
    }
    (Denied::Flows(into), Denied::Flows(out))
}
