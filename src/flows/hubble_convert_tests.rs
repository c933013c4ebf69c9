use std::time::{Duration, SystemTime};

use prost::Message as _;

use super::*;
use crate::flows::record::Name;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn pod(ns: &str, pod: &str, workload: &str, ip: &str) -> FlowEndpoint {
    FlowEndpoint {
        namespace: Some(Name::from(ns)),
        pod: Some(Name::from(pod)),
        workload: Some(Name::from(workload)),
        ip: ip.parse().ok(),
        entity: None,
    }
}

fn dropped_dns() -> FlowRecord {
    FlowRecord {
        time: at(1_700_000_000) + Duration::from_nanos(123_456_789),
        source_kind: FlowSourceKind::Hubble,
        node: Some(Name::from("worker-2")),
        src: pod("acme-web", "web-7d9f-abcde", "web", "10.0.1.7"),
        dst: pod("kube-system", "coredns-5d78-xyz", "coredns", "10.0.0.10"),
        protocol: Some(Protocol::Udp),
        port: Some(53),
        verdict: DataplaneVerdict::Dropped,
        reason: Some(Name::from("POLICY_DENIED")),
        direction: Some(Direction::Egress),
        policies: vec![DataplanePolicy {
            kind: Name::from("NetworkPolicy"),
            namespace: Some(Name::from("acme-web")),
            name: Name::from("default-deny"),
            tier: None,
            action: Some(Name::from("Deny")),
            rule: None,
        }],
        is_reply: Some(false),
        count: 1,
    }
}

fn through_the_wire(record: &FlowRecord) -> FlowRecord {
    let response = GetFlowsResponse {
        response_types: Some(ResponseType::Flow(hubble_flow(record))),
        node_name: String::new(),
        time: None,
    };
    let bytes = response.encode_to_vec();
    let decoded = GetFlowsResponse::decode(bytes.as_slice()).expect("decodes");
    match read_response(&decoded, at(0), &mut Interner::new(100)) {
        Received::Flow(flow) => *flow,
        other => panic!("expected a flow, got {other:?}"),
    }
}

#[test]
fn a_record_survives_the_round_trip_through_hubble_messages() {
    let record = dropped_dns();
    assert_eq!(through_the_wire(&record), record);

    let mut allowed = dropped_dns();
    allowed.verdict = DataplaneVerdict::Forwarded;
    allowed.reason = None;
    allowed.protocol = Some(Protocol::Tcp);
    allowed.port = Some(8443);
    allowed.direction = Some(Direction::Ingress);
    allowed.policies[0].action = Some(Name::from("Allow"));
    allowed.dst = FlowEndpoint {
        ip: "2001:db8::1".parse().ok(),
        entity: Some(Name::from("world")),
        ..FlowEndpoint::default()
    };
    allowed.is_reply = None;
    assert_eq!(through_the_wire(&allowed), allowed);
}

/// A newer relay's Flow: fields and enum values this build does not know.
#[derive(Clone, PartialEq, prost::Message)]
struct NewerFlow {
    #[prost(enumeration = "Verdict", tag = "2")]
    verdict: i32,
    #[prost(message, optional, tag = "6")]
    l4: Option<Layer4>,
    #[prost(string, tag = "11")]
    node_name: String,
    #[prost(int32, tag = "25")]
    drop_reason_desc: i32,
    #[prost(message, optional, tag = "41")]
    emitter: Option<Workload>,
    #[prost(string, repeated, tag = "21006")]
    policy_log: Vec<String>,
    #[prost(message, optional, tag = "21007")]
    aggregate: Option<Ports>,
    #[prost(message, optional, tag = "150000")]
    extensions: Option<Workload>,
    #[prost(string, tag = "100000")]
    summary: String,
}

#[test]
fn unknown_fields_and_enum_values_pass_harmlessly() {
    let newer = NewerFlow {
        verdict: 42,
        l4: Some(Layer4 {
            protocol: Some(L4Protocol::Udp(Ports {
                source_port: 40000,
                destination_port: 53,
            })),
        }),
        node_name: "worker-1".into(),
        drop_reason_desc: 250,
        emitter: Some(Workload {
            name: "Hubble".into(),
            kind: "v1.18".into(),
        }),
        policy_log: vec!["log".into()],
        aggregate: Some(Ports {
            source_port: 1,
            destination_port: 2,
        }),
        extensions: Some(Workload {
            name: "type.googleapis.com/x".into(),
            kind: "y".into(),
        }),
        summary: "UDP".into(),
    };
    let response = GetFlowsResponse {
        response_types: None,
        node_name: "worker-1".into(),
        time: None,
    };
    // The newer flow inside a response, encoded by hand as field 1.
    let mut bytes = response.encode_to_vec();
    prost::encoding::message::encode(1, &newer, &mut bytes);
    let decoded = GetFlowsResponse::decode(bytes.as_slice()).expect("unknown fields are skipped");
    let Received::Flow(flow) = read_response(&decoded, at(5), &mut Interner::new(10)) else {
        panic!("a flow");
    };
    assert_eq!(flow.verdict, DataplaneVerdict::Other);
    assert_eq!(
        flow.reason, None,
        "no drop reason for a verdict we do not know"
    );
    assert_eq!(flow.node.as_deref(), Some("worker-1"));
    assert_eq!((flow.protocol, flow.port), (Some(Protocol::Udp), Some(53)));
    assert_eq!(flow.time, at(5), "no time: when it was received");

    let mut dropped = newer.clone();
    dropped.verdict = Verdict::Dropped as i32;
    let flow = Flow::decode(dropped.encode_to_vec().as_slice()).expect("decodes");
    let record = flow_record(&flow, "", at(0), &mut Interner::new(10));
    assert_eq!(record.reason.as_deref(), Some("DROP_REASON_250"));
}

#[test]
fn absurd_values_map_to_something_safe() {
    let flow = Flow {
        time: Some(Timestamp {
            seconds: -5,
            nanos: 2_000_000_000,
        }),
        verdict: -3,
        ip: Some(Ip {
            source: "not an address".into(),
            destination: "10.0.0.300".into(),
            ip_version: 77,
        }),
        l4: Some(Layer4 {
            protocol: Some(L4Protocol::Tcp(Ports {
                source_port: 1,
                destination_port: 70_000,
            })),
        }),
        traffic_direction: 9,
        ..Flow::default()
    };
    let record = flow_record(&flow, "", at(9), &mut Interner::new(10));
    assert_eq!(record.time, SystemTime::UNIX_EPOCH);
    assert_eq!(record.verdict, DataplaneVerdict::Other);
    assert_eq!((record.protocol, record.port), (Some(Protocol::Tcp), None));
    assert_eq!((record.src.ip, record.dst.ip), (None, None));
    assert_eq!(record.direction, None);
    assert_eq!(record.node, None, "empty strings are None");
    assert_eq!(record.src, FlowEndpoint::default());

    let timestamp = Timestamp {
        seconds: i64::MAX,
        nanos: -1,
    };
    let _ = timestamp.to_system_time(); // no panic
}

#[test]
fn reserved_identities_become_entities_and_icmp_has_no_protocol() {
    let flow = Flow {
        verdict: Verdict::Dropped as i32,
        drop_reason_desc: 181,
        source: Some(Endpoint {
            labels: vec!["reserved:world".into()],
            ..Endpoint::default()
        }),
        destination: Some(Endpoint {
            namespace: "acme-api".into(),
            pod_name: "api-0".into(),
            labels: vec!["reserved:init".into(), "k8s:app=api".into()],
            ..Endpoint::default()
        }),
        l4: Some(Layer4 {
            protocol: Some(L4Protocol::IcmpV4(Icmp { r#type: 8, code: 0 })),
        }),
        ..Flow::default()
    };
    let record = flow_record(&flow, "worker-3", at(1), &mut Interner::new(10));
    assert_eq!(record.src.entity.as_deref(), Some("world"));
    assert_eq!(record.dst.entity, None, "a pod is not an entity");
    assert_eq!(record.dst.label(), "acme-api/api-0");
    assert_eq!((record.protocol, record.port), (None, None));
    assert_eq!(record.reason.as_deref(), Some("POLICY_DENY"));
    assert!(record.policy_drop());
    assert_eq!(record.node.as_deref(), Some("worker-3"));
}

#[test]
fn lost_events_and_unreachable_nodes_are_gaps() {
    let response = GetFlowsResponse {
        response_types: Some(ResponseType::LostEvents(LostEvent {
            source: LostEventSource::HubbleRingBuffer as i32,
            num_events_lost: 1234,
            ..LostEvent::default()
        })),
        node_name: "worker-2".into(),
        time: Some(Timestamp::from_system_time(at(77))),
    };
    assert_eq!(
        read_response(&response, at(0), &mut Interner::new(10)),
        Received::Gap(Gap {
            at: at(77),
            lost: 1234,
            what: "Hubble's ring buffer on node worker-2".into(),
        })
    );
    let unavailable = GetFlowsResponse {
        response_types: Some(ResponseType::NodeStatus(NodeStatusEvent {
            state_change: NodeState::NodeUnavailable as i32,
            node_names: vec!["worker-3".into()],
            message: "connection refused".into(),
        })),
        node_name: String::new(),
        time: None,
    };
    let Received::Gap(gap) = read_response(&unavailable, at(3), &mut Interner::new(10)) else {
        panic!("a gap");
    };
    assert!(gap.what.contains("worker-3 unavailable"), "{}", gap.what);
    assert!(gap.what.contains("may be missing"), "{}", gap.what);
    let connected = GetFlowsResponse {
        response_types: Some(ResponseType::NodeStatus(NodeStatusEvent {
            state_change: NodeState::NodeConnected as i32,
            node_names: vec!["worker-3".into()],
            message: String::new(),
        })),
        node_name: String::new(),
        time: None,
    };
    assert_eq!(
        read_response(&connected, at(3), &mut Interner::new(10)),
        Received::Nothing
    );
}

#[test]
fn a_filter_field_the_relay_does_not_support_is_refused_by_name() {
    let supported = FlowFilter {
        source_pod: vec!["acme-web/".into()],
        verdict: vec![Verdict::Dropped as i32],
        destination_port: vec!["53".into()],
        ..FlowFilter::default()
    };
    let bytes = supported.encode_to_vec();
    assert_eq!(decode_supported_filter(&bytes), Ok(supported.clone()));

    // source_label (10) and a field from the future (77).
    let mut with_label = bytes.clone();
    prost::encoding::string::encode(10, &"k8s:app=web".to_string(), &mut with_label);
    prost::encoding::string::encode(77, &"x".to_string(), &mut with_label);
    let err = decode_supported_filter(&with_label).unwrap_err();
    assert!(err.contains("source_label (10)"), "{err}");
    assert_eq!(
        unknown_fields(&with_label, &SUPPORTED_FILTER_FIELDS),
        Ok(vec![10, 77])
    );
    assert!(decode_supported_filter(&[0xff, 0xff]).is_err());
}

#[test]
fn drop_reasons_by_name_and_number() {
    assert_eq!(drop_reason_name(133).as_deref(), Some("POLICY_DENIED"));
    assert_eq!(drop_reason_name(0), None);
    assert_eq!(drop_reason_value("POLICY_DENY"), 181);
    assert_eq!(drop_reason_value("DROP_REASON_250"), 250);
    assert_eq!(drop_reason_value("SOMETHING_ELSE"), 0);
}
