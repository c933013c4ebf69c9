//! Hubble's wire messages (`observer.proto`, `flow.proto`, `relay.proto`), written by hand with
//! upstream's field numbers and only the fields Palisade reads or serves: protobuf skips the
//! others, so a newer relay's extra fields and enum values pass harmlessly. Pure. The
//! conversions to and from [`crate::flows::FlowRecord`] are in `hubble_convert.rs`; the client
//! is `flowsrc/hubble.rs`, the demo's relay `sim/relay.rs`.

use std::time::{Duration, SystemTime};

// ---- google.protobuf well-known types (the fields they have) ----

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct BoolValue {
    #[prost(bool, tag = "1")]
    pub value: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Int32Value {
    #[prost(int32, tag = "1")]
    pub value: i32,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct UInt32Value {
    #[prost(uint32, tag = "1")]
    pub value: u32,
}

impl Timestamp {
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        let since = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            nanos: since.subsec_nanos() as i32,
        }
    }

    /// Before the epoch, or nanos out of range: clamped, never a panic.
    pub fn to_system_time(self) -> SystemTime {
        let Ok(seconds) = u64::try_from(self.seconds) else {
            return SystemTime::UNIX_EPOCH;
        };
        let nanos = u32::try_from(self.nanos)
            .ok()
            .filter(|n| *n < 1_000_000_000)
            .unwrap_or(0);
        SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(seconds, nanos))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

// ---- observer.proto ----

/// The client's request. `number`: how many past flows (the last ones, or with `first` the
/// oldest kept); `follow`: then stream the new ones.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetFlowsRequest {
    #[prost(uint64, tag = "1")]
    pub number: u64,
    #[prost(bool, tag = "3")]
    pub follow: bool,
    #[prost(message, repeated, tag = "5")]
    pub blacklist: Vec<FlowFilter>,
    #[prost(message, repeated, tag = "6")]
    pub whitelist: Vec<FlowFilter>,
    #[prost(message, optional, tag = "7")]
    pub since: Option<Timestamp>,
    #[prost(message, optional, tag = "8")]
    pub until: Option<Timestamp>,
    #[prost(bool, tag = "9")]
    pub first: bool,
}

/// The same request as a server decodes it: the filters kept as bytes, so the demo's relay can
/// name a filter field it does not support instead of skipping it; the fields a server cannot
/// honour kept to be refused.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServedGetFlowsRequest {
    #[prost(uint64, tag = "1")]
    pub number: u64,
    #[prost(bool, tag = "3")]
    pub follow: bool,
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub blacklist: Vec<Vec<u8>>,
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub whitelist: Vec<Vec<u8>>,
    #[prost(message, optional, tag = "7")]
    pub since: Option<Timestamp>,
    #[prost(message, optional, tag = "8")]
    pub until: Option<Timestamp>,
    #[prost(bool, tag = "9")]
    pub first: bool,
    #[prost(bytes = "vec", optional, tag = "10")]
    pub field_mask: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "999")]
    pub experimental: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetFlowsResponse {
    #[prost(oneof = "ResponseType", tags = "1, 2, 3")]
    pub response_types: Option<ResponseType>,
    #[prost(string, tag = "1000")]
    pub node_name: String,
    #[prost(message, optional, tag = "1001")]
    pub time: Option<Timestamp>,
}

#[allow(clippy::large_enum_variant)] // one per response, moved once
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ResponseType {
    #[prost(message, tag = "1")]
    Flow(Flow),
    #[prost(message, tag = "2")]
    NodeStatus(NodeStatusEvent),
    #[prost(message, tag = "3")]
    LostEvents(LostEvent),
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct ServerStatusRequest {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerStatusResponse {
    #[prost(uint64, tag = "1")]
    pub num_flows: u64,
    #[prost(uint64, tag = "2")]
    pub max_flows: u64,
    #[prost(uint64, tag = "3")]
    pub seen_flows: u64,
    #[prost(uint64, tag = "4")]
    pub uptime_ns: u64,
    #[prost(message, optional, tag = "5")]
    pub num_connected_nodes: Option<UInt32Value>,
    #[prost(message, optional, tag = "6")]
    pub num_unavailable_nodes: Option<UInt32Value>,
    #[prost(string, tag = "8")]
    pub version: String,
}

// ---- relay.proto ----

#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeStatusEvent {
    #[prost(enumeration = "NodeState", tag = "1")]
    pub state_change: i32,
    #[prost(string, repeated, tag = "2")]
    pub node_names: Vec<String>,
    #[prost(string, tag = "3")]
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum NodeState {
    UnknownNodeState = 0,
    NodeConnected = 1,
    NodeUnavailable = 2,
    NodeGone = 3,
    NodeError = 4,
}

// ---- flow.proto ----

#[derive(Clone, PartialEq, prost::Message)]
pub struct Flow {
    #[prost(message, optional, tag = "1")]
    pub time: Option<Timestamp>,
    #[prost(enumeration = "Verdict", tag = "2")]
    pub verdict: i32,
    #[prost(message, optional, tag = "5")]
    pub ip: Option<Ip>,
    #[prost(message, optional, tag = "6")]
    pub l4: Option<Layer4>,
    #[prost(message, optional, tag = "8")]
    pub source: Option<Endpoint>,
    #[prost(message, optional, tag = "9")]
    pub destination: Option<Endpoint>,
    #[prost(enumeration = "FlowType", tag = "10")]
    pub flow_type: i32,
    #[prost(string, tag = "11")]
    pub node_name: String,
    #[prost(message, optional, tag = "20")]
    pub source_service: Option<Service>,
    #[prost(message, optional, tag = "21")]
    pub destination_service: Option<Service>,
    #[prost(enumeration = "TrafficDirection", tag = "22")]
    pub traffic_direction: i32,
    /// A `DropReason` value; kept as a number because the list grows with every release.
    #[prost(int32, tag = "25")]
    pub drop_reason_desc: i32,
    #[prost(message, optional, tag = "26")]
    pub is_reply: Option<BoolValue>,
    #[prost(string, tag = "34")]
    pub uuid: String,
    #[prost(message, repeated, tag = "21001")]
    pub egress_allowed_by: Vec<Policy>,
    #[prost(message, repeated, tag = "21002")]
    pub ingress_allowed_by: Vec<Policy>,
    #[prost(message, repeated, tag = "21004")]
    pub egress_denied_by: Vec<Policy>,
    #[prost(message, repeated, tag = "21005")]
    pub ingress_denied_by: Vec<Policy>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum Verdict {
    VerdictUnknown = 0,
    Forwarded = 1,
    Dropped = 2,
    Error = 3,
    Audit = 4,
    Redirected = 5,
    Traced = 6,
    Translated = 7,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum TrafficDirection {
    TrafficDirectionUnknown = 0,
    Ingress = 1,
    Egress = 2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum FlowType {
    UnknownType = 0,
    L3L4 = 1,
    L7 = 2,
    Sock = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Endpoint {
    #[prost(uint32, tag = "1")]
    pub id: u32,
    #[prost(uint32, tag = "2")]
    pub identity: u32,
    #[prost(string, tag = "3")]
    pub namespace: String,
    #[prost(string, repeated, tag = "4")]
    pub labels: Vec<String>,
    #[prost(string, tag = "5")]
    pub pod_name: String,
    #[prost(message, repeated, tag = "6")]
    pub workloads: Vec<Workload>,
    #[prost(string, tag = "7")]
    pub cluster_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Workload {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub kind: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Service {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub namespace: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Ip {
    #[prost(string, tag = "1")]
    pub source: String,
    #[prost(string, tag = "2")]
    pub destination: String,
    #[prost(int32, tag = "3")]
    pub ip_version: i32,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Layer4 {
    #[prost(oneof = "L4Protocol", tags = "1, 2, 3, 4, 5")]
    pub protocol: Option<L4Protocol>,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Oneof)]
pub enum L4Protocol {
    #[prost(message, tag = "1")]
    Tcp(Ports),
    #[prost(message, tag = "2")]
    Udp(Ports),
    #[prost(message, tag = "3")]
    IcmpV4(Icmp),
    #[prost(message, tag = "4")]
    IcmpV6(Icmp),
    #[prost(message, tag = "5")]
    Sctp(Ports),
}

/// TCP, UDP and SCTP share their first two fields (TCP's flags, field 3, are skipped).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Ports {
    #[prost(uint32, tag = "1")]
    pub source_port: u32,
    #[prost(uint32, tag = "2")]
    pub destination_port: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Icmp {
    #[prost(uint32, tag = "1")]
    pub r#type: u32,
    #[prost(uint32, tag = "2")]
    pub code: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Policy {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub namespace: String,
    #[prost(string, repeated, tag = "3")]
    pub labels: Vec<String>,
    #[prost(uint64, tag = "4")]
    pub revision: u64,
    #[prost(string, tag = "5")]
    pub kind: String,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct LostEvent {
    #[prost(enumeration = "LostEventSource", tag = "1")]
    pub source: i32,
    #[prost(uint64, tag = "2")]
    pub num_events_lost: u64,
    #[prost(message, optional, tag = "3")]
    pub cpu: Option<Int32Value>,
    #[prost(message, optional, tag = "4")]
    pub first: Option<Timestamp>,
    #[prost(message, optional, tag = "5")]
    pub last: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, prost::Enumeration)]
#[repr(i32)]
pub enum LostEventSource {
    UnknownLostEventSource = 0,
    PerfEventRingBuffer = 1,
    ObserverEventsQueue = 2,
    HubbleRingBuffer = 3,
}

/// The `FlowFilter` fields Palisade sends and the demo's relay honours. Within one filter
/// every set field must match (each field: any of its values); a flow passes a whitelist when
/// any filter matches.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FlowFilter {
    /// `namespace/` or `namespace/pod-prefix`.
    #[prost(string, repeated, tag = "2")]
    pub source_pod: Vec<String>,
    #[prost(string, repeated, tag = "4")]
    pub destination_pod: Vec<String>,
    #[prost(enumeration = "Verdict", repeated, tag = "5")]
    pub verdict: Vec<i32>,
    /// `tcp`, `udp`, `sctp`, `icmpv4`, `icmpv6` (any case).
    #[prost(string, repeated, tag = "12")]
    pub protocol: Vec<String>,
    #[prost(string, repeated, tag = "14")]
    pub destination_port: Vec<String>,
    #[prost(string, repeated, tag = "24")]
    pub node_name: Vec<String>,
    #[prost(enumeration = "TrafficDirection", repeated, tag = "30")]
    pub traffic_direction: Vec<i32>,
}

/// Field numbers of [`FlowFilter`]: the supported ones.
pub const SUPPORTED_FILTER_FIELDS: [u32; 7] = [2, 4, 5, 12, 14, 24, 30];

/// Upstream `FlowFilter`'s unsupported fields by number, so a refusal names the field.
const FILTER_FIELD_NAMES: [(u32, &str); 34] = [
    (1, "source_ip"),
    (3, "destination_ip"),
    (6, "event_type"),
    (7, "source_fqdn"),
    (8, "destination_fqdn"),
    (9, "http_status_code"),
    (10, "source_label"),
    (11, "destination_label"),
    (13, "source_port"),
    (15, "reply"),
    (16, "source_service"),
    (17, "destination_service"),
    (18, "dns_query"),
    (19, "source_identity"),
    (20, "destination_identity"),
    (21, "http_method"),
    (22, "http_path"),
    (23, "tcp_flags"),
    (25, "ip_version"),
    (26, "source_workload"),
    (27, "destination_workload"),
    (28, "trace_id"),
    (29, "uuid"),
    (31, "http_url"),
    (32, "http_header"),
    (33, "drop_reason_desc"),
    (34, "source_ip_xlated"),
    (35, "interface"),
    (36, "node_labels"),
    (37, "source_cluster_name"),
    (38, "destination_cluster_name"),
    (39, "ip_trace_id"),
    (40, "encrypted"),
    (999, "experimental"),
];

/// The name of a `FlowFilter` field, `field N` when this build does not know it.
pub fn filter_field_name(tag: u32) -> String {
    FILTER_FIELD_NAMES
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| format!("field {tag}"))
}

/// The field numbers present in an encoded message that are not in `known` (each once, in
/// order of appearance).
pub fn unknown_fields(mut bytes: &[u8], known: &[u32]) -> Result<Vec<u32>, prost::DecodeError> {
    use prost::encoding::{DecodeContext, decode_key, skip_field};
    let mut unknown = Vec::new();
    while !bytes.is_empty() {
        let (tag, wire_type) = decode_key(&mut bytes)?;
        skip_field(wire_type, tag, &mut bytes, DecodeContext::default())?;
        if !known.contains(&tag) && !unknown.contains(&tag) {
            unknown.push(tag);
        }
    }
    Ok(unknown)
}

/// A filter from a request, refused with the field's name when it uses one the server does
/// not support (a filter silently ignored would show flows the user filtered out).
pub fn decode_supported_filter(bytes: &[u8]) -> Result<FlowFilter, String> {
    use prost::Message as _;
    let unknown = unknown_fields(bytes, &SUPPORTED_FILTER_FIELDS)
        .map_err(|e| format!("malformed FlowFilter: {e}"))?;
    if let Some(tag) = unknown.first() {
        return Err(format!(
            "FlowFilter field {} ({tag}) is not supported by this relay; supported: source_pod, \
             destination_pod, verdict, protocol, destination_port, node_name, traffic_direction",
            filter_field_name(*tag)
        ));
    }
    FlowFilter::decode(bytes).map_err(|e| format!("malformed FlowFilter: {e}"))
}
