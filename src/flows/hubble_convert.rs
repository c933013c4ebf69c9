//! Hubble's messages (`hubble_wire.rs`) to and from palisade's [`FlowRecord`], pure: drop
//! reasons by name, a response read as a flow or a gap, and a record written back as a Hubble
//! flow for the demo's relay.

use std::net::IpAddr;
use std::time::SystemTime;

use super::hubble_wire::*;
use crate::flows::record::{
    DataplanePolicy, DataplaneVerdict, FlowEndpoint, FlowRecord, FlowSourceKind, Gap, Interner,
};
use crate::policy::{Direction, Protocol};

// ---- drop reasons by name ----

/// The `DropReason` values a reader is likely to meet (flow.proto); others are shown by
/// number.
const DROP_REASONS: [(i32, &str); 18] = [
    (132, "INVALID_SOURCE_IP"),
    (133, "POLICY_DENIED"),
    (134, "INVALID_PACKET_DROPPED"),
    (135, "CT_TRUNCATED_OR_INVALID_HEADER"),
    (136, "CT_MISSING_TCP_ACK_FLAG"),
    (137, "CT_UNKNOWN_L4_PROTOCOL"),
    (139, "UNSUPPORTED_L3_PROTOCOL"),
    (142, "UNKNOWN_L4_PROTOCOL"),
    (151, "STALE_OR_UNROUTABLE_IP"),
    (155, "CT_MAP_INSERTION_FAILED"),
    (158, "SERVICE_BACKEND_NOT_FOUND"),
    (163, "UNKNOWN_CONNECTION_TRACKING_STATE"),
    (165, "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION"),
    (169, "FIB_LOOKUP_FAILED"),
    (181, "POLICY_DENY"),
    (189, "AUTH_REQUIRED"),
    (196, "TTL_EXCEEDED"),
    (203, "DROP_EP_NOT_READY"),
];

/// `POLICY_DENIED` for 133; `DROP_REASON_250` for a value this build does not know.
pub fn drop_reason_name(value: i32) -> Option<String> {
    if value == 0 {
        return None;
    }
    Some(
        DROP_REASONS
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, name)| (*name).to_string())
            .unwrap_or_else(|| format!("DROP_REASON_{value}")),
    )
}

pub fn drop_reason_value(name: &str) -> i32 {
    if let Some((value, _)) = DROP_REASONS.iter().find(|(_, n)| *n == name) {
        return *value;
    }
    name.strip_prefix("DROP_REASON_")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

// ---- Hubble → FlowRecord ----

/// What one response means to a consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    Flow(Box<FlowRecord>),
    /// Lost events, or a node whose flows may be missing.
    Gap(Gap),
    /// A node connected, an empty response: nothing to show.
    Nothing,
}

/// Reads one response. `received`: when it arrived, for responses without a time.
pub fn read_response(
    response: &GetFlowsResponse,
    received: SystemTime,
    interner: &mut Interner,
) -> Received {
    let time = response
        .time
        .map(Timestamp::to_system_time)
        .unwrap_or(received);
    match &response.response_types {
        Some(ResponseType::Flow(flow)) => Received::Flow(Box::new(flow_record(
            flow,
            &response.node_name,
            time,
            interner,
        ))),
        Some(ResponseType::LostEvents(lost)) => Received::Gap(lost_gap(lost, response, time)),
        Some(ResponseType::NodeStatus(status)) => {
            node_status_gap(status, time).map_or(Received::Nothing, Received::Gap)
        }
        None => Received::Nothing,
    }
}

fn lost_gap(lost: &LostEvent, response: &GetFlowsResponse, time: SystemTime) -> Gap {
    let place = match LostEventSource::try_from(lost.source) {
        Ok(LostEventSource::PerfEventRingBuffer) => "the perf event ring buffer",
        Ok(LostEventSource::ObserverEventsQueue) => "the observer's events queue",
        Ok(LostEventSource::HubbleRingBuffer) => "Hubble's ring buffer",
        _ => "Hubble",
    };
    let what = if response.node_name.is_empty() {
        place.to_string()
    } else {
        format!("{place} on node {}", response.node_name)
    };
    Gap {
        at: time,
        lost: lost.num_events_lost,
        what,
    }
}

/// Nodes the relay cannot reach: their flows are missing until they come back.
pub fn node_status_gap(status: &NodeStatusEvent, time: SystemTime) -> Option<Gap> {
    let state = match NodeState::try_from(status.state_change) {
        Ok(NodeState::NodeUnavailable) => "unavailable",
        Ok(NodeState::NodeGone) => "gone",
        Ok(NodeState::NodeError) => "in error",
        _ => return None,
    };
    let nodes = if status.node_names.is_empty() {
        "some node".to_string()
    } else {
        status.node_names.join(", ")
    };
    let detail = if status.message.is_empty() {
        String::new()
    } else {
        format!(" ({})", status.message.replace('\n', " "))
    };
    Some(Gap {
        at: time,
        lost: 0,
        what: format!("relay reports node {nodes} {state}{detail}: flows from it may be missing"),
    })
}

/// One Hubble flow as a record. `node_name`, `time`: the response's, used when the flow does
/// not say.
pub fn flow_record(
    flow: &Flow,
    node_name: &str,
    time: SystemTime,
    interner: &mut Interner,
) -> FlowRecord {
    let ip = flow.ip.as_ref();
    let verdict = match Verdict::try_from(flow.verdict) {
        Ok(Verdict::Forwarded) => DataplaneVerdict::Forwarded,
        Ok(Verdict::Dropped) => DataplaneVerdict::Dropped,
        Ok(Verdict::Audit) => DataplaneVerdict::Audit,
        Ok(Verdict::Error) => DataplaneVerdict::Error,
        _ => DataplaneVerdict::Other,
    };
    let reason = match verdict {
        DataplaneVerdict::Dropped | DataplaneVerdict::Audit | DataplaneVerdict::Error => {
            drop_reason_name(flow.drop_reason_desc).map(|name| interner.name(&name))
        }
        _ => None,
    };
    let (protocol, port) = match flow.l4.and_then(|l4| l4.protocol) {
        Some(L4Protocol::Tcp(p)) => (Some(Protocol::Tcp), port(p.destination_port)),
        Some(L4Protocol::Udp(p)) => (Some(Protocol::Udp), port(p.destination_port)),
        Some(L4Protocol::Sctp(p)) => (Some(Protocol::Sctp), port(p.destination_port)),
        Some(L4Protocol::IcmpV4(_) | L4Protocol::IcmpV6(_)) | None => (None, None),
    };
    let direction = match TrafficDirection::try_from(flow.traffic_direction) {
        Ok(TrafficDirection::Ingress) => Some(Direction::Ingress),
        Ok(TrafficDirection::Egress) => Some(Direction::Egress),
        _ => None,
    };
    let mut policies = Vec::new();
    let lists = [
        (&flow.egress_denied_by, "Deny"),
        (&flow.ingress_denied_by, "Deny"),
        (&flow.egress_allowed_by, "Allow"),
        (&flow.ingress_allowed_by, "Allow"),
    ];
    for (list, action) in lists {
        for policy in list {
            policies.push(DataplanePolicy {
                kind: interner.name(&policy.kind),
                namespace: interner.optional(&policy.namespace),
                name: interner.name(&policy.name),
                tier: None,
                action: Some(interner.name(action)),
                rule: None,
            });
        }
    }
    let node = if flow.node_name.is_empty() {
        node_name
    } else {
        &flow.node_name
    };
    FlowRecord {
        time: flow.time.map(Timestamp::to_system_time).unwrap_or(time),
        source_kind: FlowSourceKind::Hubble,
        node: interner.optional(node),
        src: endpoint(
            flow.source.as_ref(),
            ip.map(|ip| ip.source.as_str()),
            interner,
        ),
        dst: endpoint(
            flow.destination.as_ref(),
            ip.map(|ip| ip.destination.as_str()),
            interner,
        ),
        protocol,
        port,
        verdict,
        reason,
        direction,
        policies,
        is_reply: flow.is_reply.map(|b| b.value),
        count: 1,
    }
}

/// A port number; 0 and values past 65535 mean "none".
fn port(value: u32) -> Option<u16> {
    u16::try_from(value).ok().filter(|p| *p != 0)
}

fn endpoint(
    endpoint: Option<&Endpoint>,
    ip: Option<&str>,
    interner: &mut Interner,
) -> FlowEndpoint {
    let ip = ip.and_then(|ip| ip.parse::<IpAddr>().ok());
    let Some(endpoint) = endpoint else {
        return FlowEndpoint {
            ip,
            ..FlowEndpoint::default()
        };
    };
    let pod = interner.optional(&endpoint.pod_name);
    // Cilium's reserved identities (world, host, kube-apiserver, remote-node...): an end that
    // is not a pod.
    let entity = if pod.is_none() {
        endpoint
            .labels
            .iter()
            .find_map(|label| label.strip_prefix("reserved:"))
            .filter(|name| !name.is_empty())
            .map(|name| interner.name(name))
    } else {
        None
    };
    FlowEndpoint {
        namespace: interner.optional(&endpoint.namespace),
        pod,
        workload: endpoint
            .workloads
            .first()
            .and_then(|w| interner.optional(&w.name)),
        ip,
        entity,
    }
}

// ---- FlowRecord → Hubble (the demo's relay) ----

/// A record as Hubble would report it.
pub fn hubble_flow(record: &FlowRecord) -> Flow {
    let ports = |port: Option<u16>| Ports {
        source_port: 0,
        destination_port: u32::from(port.unwrap_or(0)),
    };
    let l4 = record.protocol.map(|protocol| Layer4 {
        protocol: Some(match protocol {
            Protocol::Tcp => L4Protocol::Tcp(ports(record.port)),
            Protocol::Udp => L4Protocol::Udp(ports(record.port)),
            Protocol::Sctp => L4Protocol::Sctp(ports(record.port)),
        }),
    });
    let verdict = match record.verdict {
        DataplaneVerdict::Forwarded => Verdict::Forwarded,
        DataplaneVerdict::Dropped => Verdict::Dropped,
        DataplaneVerdict::Audit => Verdict::Audit,
        DataplaneVerdict::Error => Verdict::Error,
        DataplaneVerdict::Other => Verdict::VerdictUnknown,
    };
    let traffic_direction = match record.direction {
        Some(Direction::Ingress) => TrafficDirection::Ingress,
        Some(Direction::Egress) => TrafficDirection::Egress,
        None => TrafficDirection::TrafficDirectionUnknown,
    };
    let mut flow = Flow {
        time: Some(Timestamp::from_system_time(record.time)),
        verdict: verdict as i32,
        ip: (record.src.ip.is_some() || record.dst.ip.is_some()).then(|| Ip {
            source: record.src.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            destination: record.dst.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            ip_version: match record.src.ip.or(record.dst.ip) {
                Some(IpAddr::V6(_)) => 2,
                _ => 1,
            },
        }),
        l4,
        source: Some(hubble_endpoint(&record.src)),
        destination: Some(hubble_endpoint(&record.dst)),
        flow_type: FlowType::L3L4 as i32,
        node_name: record.node.as_deref().unwrap_or_default().to_string(),
        traffic_direction: traffic_direction as i32,
        drop_reason_desc: record.reason.as_deref().map_or(0, drop_reason_value),
        is_reply: record.is_reply.map(|value| BoolValue { value }),
        ..Flow::default()
    };
    for policy in &record.policies {
        let wire = Policy {
            name: policy.name.to_string(),
            namespace: policy.namespace.as_deref().unwrap_or_default().to_string(),
            labels: Vec::new(),
            revision: 0,
            kind: policy.kind.to_string(),
        };
        let deny = policy.action.as_deref() == Some("Deny");
        let list = match (deny, record.direction) {
            (true, Some(Direction::Egress)) => &mut flow.egress_denied_by,
            (true, _) => &mut flow.ingress_denied_by,
            (false, Some(Direction::Egress)) => &mut flow.egress_allowed_by,
            (false, _) => &mut flow.ingress_allowed_by,
        };
        list.push(wire);
    }
    flow
}

fn hubble_endpoint(end: &FlowEndpoint) -> Endpoint {
    let mut labels = Vec::new();
    if let Some(ns) = &end.namespace {
        labels.push(format!("k8s:io.kubernetes.pod.namespace={ns}"));
    }
    if let Some(entity) = &end.entity {
        labels.push(format!("reserved:{entity}"));
    }
    Endpoint {
        namespace: end.namespace.as_deref().unwrap_or_default().to_string(),
        labels,
        pod_name: end.pod.as_deref().unwrap_or_default().to_string(),
        workloads: end
            .workload
            .iter()
            .map(|name| Workload {
                name: name.to_string(),
                kind: String::new(),
            })
            .collect(),
        ..Endpoint::default()
    }
}

#[cfg(test)]
#[path = "hubble_convert_tests.rs"]
mod tests;
