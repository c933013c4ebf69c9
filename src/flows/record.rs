//! One flow as the dataplane reported it, whichever API it came from, and what a flow source
//! tells its consumer besides flows (gaps, its own state).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::policy::{Direction, Protocol};

/// A shared string: namespaces, node and workload names repeat in every flow, so the sources
/// intern them ([`Interner`]) and a ring of thousands of flows holds each once.
pub type Name = Arc<str>;

/// Which API reported a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowSourceKind {
    /// Cilium's Hubble Relay (`observer.Observer/GetFlows`).
    Hubble,
    /// Calico's Goldmane (`goldmane.Flows/Stream`).
    Goldmane,
}

impl FlowSourceKind {
    pub fn display_name(self) -> &'static str {
        match self {
            FlowSourceKind::Hubble => "Hubble Relay",
            FlowSourceKind::Goldmane => "Goldmane",
        }
    }
}

/// What the dataplane did with a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataplaneVerdict {
    Forwarded,
    Dropped,
    /// Cilium's policy audit mode: would have been dropped.
    Audit,
    Error,
    /// Anything else the source reports (traced, translated, redirected, unknown).
    Other,
}

impl DataplaneVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            DataplaneVerdict::Forwarded => "forwarded",
            DataplaneVerdict::Dropped => "dropped",
            DataplaneVerdict::Audit => "audit",
            DataplaneVerdict::Error => "error",
            DataplaneVerdict::Other => "other",
        }
    }
}

impl fmt::Display for DataplaneVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy the dataplane named for a flow (Hubble's `*_denied_by`/`*_allowed_by`, Goldmane's
/// enforced policy trace).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataplanePolicy {
    /// As the dataplane spells it: `NetworkPolicy`, `CiliumNetworkPolicy`,
    /// `GlobalNetworkPolicy`, ...; empty when it did not say.
    pub kind: Name,
    pub namespace: Option<Name>,
    pub name: Name,
    /// Calico's tier.
    pub tier: Option<Name>,
    /// `Allow`, `Deny`, `Pass`, when the source says.
    pub action: Option<Name>,
    /// The rule's index or name, when the source says.
    pub rule: Option<Name>,
}

impl fmt::Display for DataplanePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.kind.is_empty() {
            write!(f, "{} ", self.kind)?;
        }
        match &self.namespace {
            Some(ns) if !ns.is_empty() => write!(f, "{ns}/{}", self.name)?,
            _ => f.write_str(&self.name)?,
        }
        if let Some(tier) = &self.tier {
            write!(f, " (tier {tier})")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, " rule {rule}")?;
        }
        Ok(())
    }
}

/// One end of a flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FlowEndpoint {
    pub namespace: Option<Name>,
    /// The pod's name (Hubble); for Goldmane, whose flows are aggregated over a workload's pods,
    /// the generate-name prefix it reports (without the trailing `-*`).
    pub pod: Option<Name>,
    /// The owning workload's name, when the source says (Hubble's `workloads`).
    pub workload: Option<Name>,
    pub ip: Option<IpAddr>,
    /// For an end that is not a pod: `world`, `host`, `kube-apiserver`, `remote-node` (Cilium's
    /// reserved identities), or Goldmane's endpoint type (`net`, `hep`, `ns`).
    pub entity: Option<Name>,
}

impl FlowEndpoint {
    /// `namespace/pod`, the entity, or the address: what a list shows.
    pub fn label(&self) -> String {
        match (&self.namespace, &self.pod, &self.entity, &self.ip) {
            (Some(ns), Some(pod), _, _) => format!("{ns}/{pod}"),
            (_, _, Some(entity), Some(ip)) => format!("{entity} {ip}"),
            (_, _, Some(entity), None) => entity.to_string(),
            (Some(ns), None, None, _) => format!("{ns}/?"),
            (_, _, None, Some(ip)) => ip.to_string(),
            _ => "?".to_string(),
        }
    }
}

/// One flow, or one Goldmane aggregate of flows (`count` > 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub time: SystemTime,
    pub source_kind: FlowSourceKind,
    /// The node whose agent observed it.
    pub node: Option<Name>,
    pub src: FlowEndpoint,
    pub dst: FlowEndpoint,
    /// `None` for ICMP and protocols NetworkPolicy has no words for.
    pub protocol: Option<Protocol>,
    /// The destination port.
    pub port: Option<u16>,
    pub verdict: DataplaneVerdict,
    /// The drop reason as the source names it (`POLICY_DENIED`, `POLICY_DENY`, `CT_MAP_INSERTION_FAILED`);
    /// `None` when not dropped or not said.
    pub reason: Option<Name>,
    /// Where it was observed: the source's egress or the destination's ingress.
    pub direction: Option<Direction>,
    /// The policies the dataplane named for the verdict.
    pub policies: Vec<DataplanePolicy>,
    /// A reply packet of an established connection (its verdict follows the connection's).
    pub is_reply: Option<bool>,
    /// Flows this record stands for (Goldmane aggregates; Hubble sends one per event).
    pub count: u64,
}

/// Drop reasons that mean "a policy said no". Others (conntrack, routing, malformed packets)
/// are dataplane trouble the policies cannot predict.
const POLICY_REASONS: [&str; 3] = ["POLICY_DENIED", "POLICY_DENY", "AUTH_REQUIRED"];

impl FlowRecord {
    /// Dropped by policy, or, in audit mode, would have been.
    pub fn policy_drop(&self) -> bool {
        match self.verdict {
            DataplaneVerdict::Dropped | DataplaneVerdict::Audit => match &self.reason {
                Some(reason) => POLICY_REASONS.contains(&reason.as_ref()),
                // Goldmane's Deny carries no reason: it is a policy verdict by construction.
                None => self.source_kind == FlowSourceKind::Goldmane,
            },
            _ => false,
        }
    }

    /// `TCP/53`, `UDP/53`, `ICMP`, `?`.
    pub fn service(&self) -> String {
        match (self.protocol, self.port) {
            (Some(p), Some(port)) => format!("{p}/{port}"),
            (Some(p), None) => p.to_string(),
            (None, _) => "other".to_string(),
        }
    }
}

/// A gap in what a source delivered: events it says it lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub at: SystemTime,
    /// Events lost (0 when the source did not count them, e.g. a reconnect).
    pub lost: u64,
    /// Where: "Hubble ring buffer on worker-2", "stream reconnected".
    pub what: String,
}

/// The state of a flow source, as its task sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    /// No source configured or found: said once, on `:flows`.
    Absent {
        reason: String,
    },
    Connecting {
        target: String,
    },
    Live {
        target: String,
    },
    /// The stream broke or could not be opened; retried with backoff.
    Reconnecting {
        target: String,
        since: SystemTime,
        error: String,
    },
}

/// What a flow source delivers to its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowNews {
    Flows {
        source: FlowSourceKind,
        flows: Vec<FlowRecord>,
    },
    Gap {
        source: FlowSourceKind,
        gap: Gap,
    },
    Status {
        source: FlowSourceKind,
        status: SourceStatus,
    },
}

/// Interns the strings of decoded flows. Bounded: past `limit` entries it starts afresh, so a
/// source that sends endless distinct names costs memory for the ring, never for the interner.
#[derive(Debug, Default)]
pub struct Interner {
    names: HashMap<Name, ()>,
    limit: usize,
}

impl Interner {
    pub const DEFAULT_LIMIT: usize = 50_000;

    pub fn new(limit: usize) -> Interner {
        Interner {
            names: HashMap::new(),
            limit: limit.max(1),
        }
    }

    pub fn name(&mut self, text: &str) -> Name {
        if let Some((name, _)) = self.names.get_key_value(text) {
            return name.clone();
        }
        if self.names.len() >= self.limit {
            self.names.clear();
        }
        let name: Name = Arc::from(text);
        self.names.insert(name.clone(), ());
        name
    }

    /// `None` for an empty string (protobuf's absent string).
    pub fn optional(&mut self, text: &str) -> Option<Name> {
        (!text.is_empty()).then(|| self.name(text))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn interner_shares_one_allocation_per_name_and_stays_bounded() {
        let mut interner = Interner::new(2);
        let a = interner.name("acme-web");
        let b = interner.name("acme-web");
        assert!(Arc::ptr_eq(&a, &b));
        interner.name("x");
        interner.name("y");
        assert!(interner.names.len() <= 2);
        assert_eq!(interner.optional(""), None);
    }

    #[test]
    fn only_policy_reasons_make_a_policy_drop() {
        let mut flow = test_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
        assert!(flow.policy_drop());
        flow.reason = Some("CT_MAP_INSERTION_FAILED".into());
        assert!(!flow.policy_drop());
        flow.verdict = DataplaneVerdict::Forwarded;
        flow.reason = None;
        assert!(!flow.policy_drop());
        let mut goldmane = test_flow(DataplaneVerdict::Dropped, None);
        goldmane.source_kind = FlowSourceKind::Goldmane;
        assert!(goldmane.policy_drop());
    }

    pub(crate) fn test_flow(verdict: DataplaneVerdict, reason: Option<&str>) -> FlowRecord {
        FlowRecord {
            time: SystemTime::UNIX_EPOCH,
            source_kind: FlowSourceKind::Hubble,
            node: None,
            src: FlowEndpoint::default(),
            dst: FlowEndpoint::default(),
            protocol: Some(Protocol::Udp),
            port: Some(53),
            verdict,
            reason: reason.map(Name::from),
            direction: None,
            policies: Vec::new(),
            is_reply: None,
            count: 1,
        }
    }
}
