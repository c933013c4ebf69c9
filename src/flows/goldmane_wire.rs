//! Calico Goldmane's wire format (`goldmane.Flows`, Calico 3.30+): the messages palisade uses,
//! written by hand with the upstream field numbers (`goldmane/proto/api.proto` in
//! projectcalico/calico), and their conversion to and from [`FlowRecord`]. Pure: no IO.
//!
//! prost skips fields it does not know, so a newer Goldmane that adds fields keeps working.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::record::{
    DataplanePolicy, DataplaneVerdict, FlowEndpoint, FlowRecord, FlowSourceKind, Interner,
};
use crate::policy::{Direction, Protocol};

/// The gRPC service and its methods.
pub const SERVICE: &str = "goldmane.Flows";
pub const STREAM_PATH: &str = "/goldmane.Flows/Stream";
pub const LIST_PATH: &str = "/goldmane.Flows/List";

/// The only aggregation interval Goldmane's `Stream` accepts (seconds).
pub const AGGREGATION_INTERVAL_SECS: i64 = 15;

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FlowStreamRequest {
    /// 0: from now; > 0: absolute seconds since the epoch; < 0: seconds before now.
    #[prost(int64, tag = "1")]
    pub start_time_gte: i64,
    #[prost(message, optional, tag = "2")]
    pub filter: Option<Filter>,
    #[prost(int64, tag = "3")]
    pub aggregation_interval: i64,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FlowListRequest {
    #[prost(int64, tag = "1")]
    pub start_time_gte: i64,
    #[prost(int64, tag = "2")]
    pub start_time_lt: i64,
    #[prost(int64, tag = "3")]
    pub page: i64,
    #[prost(int64, tag = "4")]
    pub page_size: i64,
    #[prost(message, optional, tag = "6")]
    pub filter: Option<Filter>,
    #[prost(int64, tag = "7")]
    pub aggregation_interval: i64,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FlowListResult {
    #[prost(message, optional, tag = "1")]
    pub meta: Option<ListMetadata>,
    #[prost(message, repeated, tag = "2")]
    pub flows: Vec<FlowResult>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ListMetadata {
    #[prost(int64, tag = "1")]
    pub total_pages: i64,
    #[prost(int64, tag = "2")]
    pub total_results: i64,
}

/// Criteria within a field are ORed; fields are ANDed.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Filter {
    #[prost(message, repeated, tag = "1")]
    pub source_names: Vec<StringMatch>,
    #[prost(message, repeated, tag = "2")]
    pub source_namespaces: Vec<StringMatch>,
    #[prost(message, repeated, tag = "3")]
    pub dest_names: Vec<StringMatch>,
    #[prost(message, repeated, tag = "4")]
    pub dest_namespaces: Vec<StringMatch>,
    #[prost(message, repeated, tag = "5")]
    pub protocols: Vec<StringMatch>,
    #[prost(message, repeated, tag = "6")]
    pub dest_ports: Vec<PortMatch>,
    #[prost(enumeration = "Action", repeated, tag = "7")]
    pub actions: Vec<i32>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct StringMatch {
    #[prost(string, tag = "1")]
    pub value: String,
    /// 0 exact, 1 fuzzy.
    #[prost(int32, tag = "2")]
    pub r#type: i32,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct PortMatch {
    #[prost(int64, tag = "1")]
    pub port: i64,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FlowResult {
    /// 1:1 with the flow's key while the server runs.
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(message, optional, tag = "2")]
    pub flow: Option<Flow>,
}

/// Connections sharing a key, aggregated over a time window and across nodes.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Flow {
    #[prost(message, optional, tag = "1")]
    pub key: Option<FlowKey>,
    /// Seconds since the epoch.
    #[prost(int64, tag = "2")]
    pub start_time: i64,
    #[prost(int64, tag = "3")]
    pub end_time: i64,
    #[prost(string, repeated, tag = "4")]
    pub source_labels: Vec<String>,
    #[prost(string, repeated, tag = "5")]
    pub dest_labels: Vec<String>,
    #[prost(int64, tag = "6")]
    pub packets_in: i64,
    #[prost(int64, tag = "7")]
    pub packets_out: i64,
    #[prost(int64, tag = "8")]
    pub bytes_in: i64,
    #[prost(int64, tag = "9")]
    pub bytes_out: i64,
    #[prost(int64, tag = "10")]
    pub num_connections_started: i64,
    #[prost(int64, tag = "11")]
    pub num_connections_completed: i64,
    #[prost(int64, tag = "12")]
    pub num_connections_live: i64,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct FlowKey {
    /// For a workload endpoint, the pods' generate-name with `*` (`web-7d9f8b6c5d-*`), or the
    /// pod's name when it has none (`db-0`); for a
    /// network, `pub` or `pvt`; else the host endpoint's or network set's name.
    #[prost(string, tag = "1")]
    pub source_name: String,
    #[prost(string, tag = "2")]
    pub source_namespace: String,
    #[prost(enumeration = "EndpointType", tag = "3")]
    pub source_type: i32,
    #[prost(string, tag = "4")]
    pub dest_name: String,
    #[prost(string, tag = "5")]
    pub dest_namespace: String,
    #[prost(enumeration = "EndpointType", tag = "6")]
    pub dest_type: i32,
    #[prost(int64, tag = "7")]
    pub dest_port: i64,
    #[prost(string, tag = "8")]
    pub dest_service_name: String,
    #[prost(string, tag = "9")]
    pub dest_service_namespace: String,
    #[prost(string, tag = "10")]
    pub dest_service_port_name: String,
    #[prost(int64, tag = "11")]
    pub dest_service_port: i64,
    /// `TCP`, `UDP`, `SCTP`, `ICMP`.
    #[prost(string, tag = "12")]
    pub proto: String,
    #[prost(enumeration = "Reporter", tag = "13")]
    pub reporter: i32,
    #[prost(enumeration = "Action", tag = "14")]
    pub action: i32,
    #[prost(message, optional, tag = "15")]
    pub policies: Option<PolicyTrace>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct PolicyTrace {
    /// The policy rules the dataplane applied.
    #[prost(message, repeated, tag = "1")]
    pub enforced_policies: Vec<PolicyHit>,
    /// The rules it would apply counting staged policies.
    #[prost(message, repeated, tag = "2")]
    pub pending_policies: Vec<PolicyHit>,
}

#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct PolicyHit {
    #[prost(enumeration = "PolicyKind", tag = "1")]
    pub kind: i32,
    #[prost(string, tag = "2")]
    pub namespace: String,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub tier: String,
    #[prost(enumeration = "Action", tag = "5")]
    pub action: i32,
    #[prost(int64, tag = "6")]
    pub policy_index: i64,
    /// -1 for an end-of-tier or profile verdict (no rule).
    #[prost(int64, tag = "7")]
    pub rule_index: i64,
    /// For kind `EndOfTier`: the first policy that selected the flow.
    #[prost(message, optional, boxed, tag = "8")]
    pub trigger: Option<Box<PolicyHit>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum Action {
    Unspecified = 0,
    Allow = 1,
    Deny = 2,
    Pass = 3,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Unspecified => "Unspecified",
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum PolicyKind {
    Unspecified = 0,
    CalicoNetworkPolicy = 1,
    GlobalNetworkPolicy = 2,
    StagedNetworkPolicy = 3,
    StagedGlobalNetworkPolicy = 4,
    StagedKubernetesNetworkPolicy = 5,
    NetworkPolicy = 6,
    ClusterNetworkPolicyAdminTier = 7,
    ClusterNetworkPolicyBaselineTier = 8,
    Profile = 9,
    EndOfTier = 10,
}

impl PolicyKind {
    /// The resource kind as palisade's dataplane policies spell it.
    pub fn word(self) -> &'static str {
        match self {
            PolicyKind::Unspecified => "",
            PolicyKind::CalicoNetworkPolicy => "CalicoNetworkPolicy",
            PolicyKind::GlobalNetworkPolicy => "GlobalNetworkPolicy",
            PolicyKind::StagedNetworkPolicy => "StagedNetworkPolicy",
            PolicyKind::StagedGlobalNetworkPolicy => "StagedGlobalNetworkPolicy",
            PolicyKind::StagedKubernetesNetworkPolicy => "StagedKubernetesNetworkPolicy",
            PolicyKind::NetworkPolicy => "NetworkPolicy",
            PolicyKind::ClusterNetworkPolicyAdminTier => "ClusterNetworkPolicy (Admin tier)",
            PolicyKind::ClusterNetworkPolicyBaselineTier => "ClusterNetworkPolicy (Baseline tier)",
            PolicyKind::Profile => "Profile",
            PolicyKind::EndOfTier => "EndOfTier",
        }
    }

    fn from_word(word: &str) -> PolicyKind {
        (0..=10)
            .filter_map(|n| PolicyKind::try_from(n).ok())
            .find(|kind| kind.word() == word)
            .unwrap_or(PolicyKind::Unspecified)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum EndpointType {
    Unspecified = 0,
    WorkloadEndpoint = 1,
    HostEndpoint = 2,
    NetworkSet = 3,
    Network = 4,
}

impl EndpointType {
    /// Goldmane's (and Whisker's) short words, used as [`FlowEndpoint::entity`].
    fn word(self) -> &'static str {
        match self {
            EndpointType::Unspecified => "?",
            EndpointType::WorkloadEndpoint => "wep",
            EndpointType::HostEndpoint => "hep",
            EndpointType::NetworkSet => "ns",
            EndpointType::Network => "net",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum Reporter {
    Unspecified = 0,
    Src = 1,
    Dst = 2,
}

/// The suffix Goldmane appends to a workload endpoint's generate-name.
const PREFIX_MARK: &str = "-*";

impl Flow {
    /// Connections this aggregate stands for: those started in its window, else those still
    /// live (a long connection's later windows start none), and at least one.
    pub fn connections(&self) -> u64 {
        [self.num_connections_started, self.num_connections_live]
            .into_iter()
            .find(|n| *n > 0)
            .map_or(1, |n| n as u64)
    }

    /// The policies the flow would meet if the staged ones were enforced (Calico's staged
    /// policies); [`Flow::to_record`] keeps the enforced ones only.
    pub fn pending_policies(&self, interner: &mut Interner) -> Vec<DataplanePolicy> {
        self.key
            .as_ref()
            .and_then(|k| k.policies.as_ref())
            .map(|trace| {
                trace
                    .pending_policies
                    .iter()
                    .map(|hit| hit.to_policy(interner))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The flow as palisade records it. A flow without a key carries nothing to show: `None`.
    pub fn to_record(&self, interner: &mut Interner) -> Option<FlowRecord> {
        let key = self.key.as_ref()?;
        let seconds = if self.end_time > 0 {
            self.end_time
        } else {
            self.start_time
        };
        let time = UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64);
        let verdict = match key.action() {
            Action::Allow => DataplaneVerdict::Forwarded,
            Action::Deny => DataplaneVerdict::Dropped,
            Action::Pass | Action::Unspecified => DataplaneVerdict::Other,
        };
        let direction = match key.reporter() {
            Reporter::Src => Some(Direction::Egress),
            Reporter::Dst => Some(Direction::Ingress),
            Reporter::Unspecified => None,
        };
        let policies = key
            .policies
            .as_ref()
            .map(|trace| {
                trace
                    .enforced_policies
                    .iter()
                    .map(|hit| hit.to_policy(interner))
                    .collect()
            })
            .unwrap_or_default();
        Some(FlowRecord {
            time,
            source_kind: FlowSourceKind::Goldmane,
            // Goldmane aggregates across nodes.
            node: None,
            src: endpoint(
                interner,
                &key.source_namespace,
                key.source_type(),
                &key.source_name,
            ),
            dst: endpoint(
                interner,
                &key.dest_namespace,
                key.dest_type(),
                &key.dest_name,
            ),
            protocol: Protocol::parse(&key.proto.to_ascii_uppercase()),
            port: u16::try_from(key.dest_port).ok().filter(|p| *p != 0),
            verdict,
            reason: None,
            direction,
            policies,
            is_reply: None,
            count: self.connections(),
        })
    }

    /// The reverse, for the simulated Goldmane: one record as a flow of its own window.
    pub fn from_record(record: &FlowRecord, start: SystemTime, end: SystemTime) -> Flow {
        let seconds = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        };
        let (source_name, source_type) = wire_endpoint(&record.src);
        let (dest_name, dest_type) = wire_endpoint(&record.dst);
        let action = match record.verdict {
            DataplaneVerdict::Forwarded => Action::Allow,
            DataplaneVerdict::Dropped | DataplaneVerdict::Audit => Action::Deny,
            DataplaneVerdict::Error | DataplaneVerdict::Other => Action::Pass,
        };
        let reporter = match record.direction {
            Some(Direction::Egress) => Reporter::Src,
            Some(Direction::Ingress) => Reporter::Dst,
            None => Reporter::Unspecified,
        };
        let enforced: Vec<PolicyHit> = record
            .policies
            .iter()
            .enumerate()
            .map(|(index, p)| PolicyHit::from_policy(p, index as i64))
            .collect();
        let count = record.count as i64;
        Flow {
            key: Some(FlowKey {
                source_name,
                source_namespace: text(&record.src.namespace),
                source_type: source_type as i32,
                dest_name,
                dest_namespace: text(&record.dst.namespace),
                dest_type: dest_type as i32,
                dest_port: record.port.map_or(0, i64::from),
                proto: record
                    .protocol
                    .map_or_else(|| "ICMP".to_string(), |p| p.as_str().to_string()),
                reporter: reporter as i32,
                action: action as i32,
                policies: (!enforced.is_empty()).then(|| PolicyTrace {
                    enforced_policies: enforced,
                    pending_policies: Vec::new(),
                }),
                ..FlowKey::default()
            }),
            start_time: seconds(start),
            end_time: seconds(end),
            num_connections_started: count,
            packets_out: count,
            ..Flow::default()
        }
    }
}

impl PolicyHit {
    fn to_policy(&self, interner: &mut Interner) -> DataplanePolicy {
        let action = Action::try_from(self.action)
            .ok()
            .filter(|a| *a != Action::Unspecified);
        DataplanePolicy {
            kind: interner.name(self.kind().word()),
            namespace: interner.optional(&self.namespace),
            name: interner.name(&self.name),
            tier: interner.optional(&self.tier),
            action: action.map(|a| interner.name(a.word())),
            rule: (self.rule_index >= 0).then(|| interner.name(&self.rule_index.to_string())),
        }
    }

    fn from_policy(policy: &DataplanePolicy, index: i64) -> PolicyHit {
        let action = match policy.action.as_deref() {
            Some("Allow") => Action::Allow,
            Some("Deny") => Action::Deny,
            Some("Pass") => Action::Pass,
            _ => Action::Unspecified,
        };
        PolicyHit {
            kind: PolicyKind::from_word(&policy.kind) as i32,
            namespace: text(&policy.namespace),
            name: policy.name.to_string(),
            tier: policy
                .tier
                .as_deref()
                .unwrap_or(if policy.namespace.is_some() {
                    "default"
                } else {
                    ""
                })
                .to_string(),
            action: action as i32,
            policy_index: index,
            rule_index: policy
                .rule
                .as_deref()
                .and_then(|r| r.parse().ok())
                .unwrap_or(-1),
            trigger: None,
        }
    }
}

fn text(name: &Option<super::record::Name>) -> String {
    name.as_deref().unwrap_or_default().to_string()
}

fn endpoint(
    interner: &mut Interner,
    namespace: &str,
    kind: EndpointType,
    name: &str,
) -> FlowEndpoint {
    let namespace = interner.optional(namespace);
    match kind {
        EndpointType::WorkloadEndpoint => FlowEndpoint {
            namespace,
            pod: interner.optional(name.strip_suffix(PREFIX_MARK).unwrap_or(name)),
            ..FlowEndpoint::default()
        },
        // Not a pod: the type, then the name (`net pub`, `hep worker-1`), so a list shows both.
        other => {
            let entity = if name.is_empty() {
                other.word().to_string()
            } else {
                format!("{} {name}", other.word())
            };
            FlowEndpoint {
                namespace,
                entity: Some(interner.name(&entity)),
                ..FlowEndpoint::default()
            }
        }
    }
}

/// The name prefix a pod's controller gave it, as Goldmane aggregates by it: `web-7d9f8b6c5d`
/// for `web-7d9f8b6c5d-x2k4q`; a name without a random suffix (`db-0`, a StatefulSet's, which
/// has no generate-name) stands for itself.
fn generate_name(pod: &str) -> &str {
    match pod.rsplit_once('-') {
        Some((head, tail))
            if !head.is_empty()
                && tail.len() == 5
                && tail
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && !tail.bytes().all(|b| b.is_ascii_digit()) =>
        {
            head
        }
        _ => pod,
    }
}

fn wire_endpoint(end: &FlowEndpoint) -> (String, EndpointType) {
    if let Some(pod) = &end.pod {
        // Goldmane names pods by their generate-name with `*`, a pod without one by its name.
        let prefix = generate_name(pod);
        let name = if prefix.len() < pod.len() {
            format!("{prefix}{PREFIX_MARK}")
        } else {
            pod.to_string()
        };
        return (name, EndpointType::WorkloadEndpoint);
    }
    let entity = end.entity.as_deref().unwrap_or("");
    let (word, name) = entity.split_once(' ').unwrap_or((entity, ""));
    let kind = match word {
        "hep" | "host" => EndpointType::HostEndpoint,
        "ns" => EndpointType::NetworkSet,
        _ => EndpointType::Network,
    };
    let name = match (kind, name) {
        (EndpointType::Network, "") => "pub".to_string(),
        (_, name) => name.to_string(),
    };
    (name, kind)
}

#[cfg(test)]
#[path = "goldmane_wire_tests.rs"]
mod tests;
