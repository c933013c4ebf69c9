use prost::Message;

use super::*;
use crate::flows::record::Name;

fn hit(kind: PolicyKind, ns: &str, name: &str, tier: &str, action: Action, rule: i64) -> PolicyHit {
    PolicyHit {
        kind: kind as i32,
        namespace: ns.into(),
        name: name.into(),
        tier: tier.into(),
        action: action as i32,
        policy_index: 0,
        rule_index: rule,
        trigger: None,
    }
}

fn denied_dns() -> Flow {
    Flow {
        key: Some(FlowKey {
            source_name: "web-7d9f8b6c5d-*".into(),
            source_namespace: "acme-web".into(),
            source_type: EndpointType::WorkloadEndpoint as i32,
            dest_name: "coredns-668d6bf9bc-*".into(),
            dest_namespace: "kube-system".into(),
            dest_type: EndpointType::WorkloadEndpoint as i32,
            dest_port: 53,
            proto: "UDP".into(),
            reporter: Reporter::Src as i32,
            action: Action::Deny as i32,
            policies: Some(PolicyTrace {
                enforced_policies: vec![hit(
                    PolicyKind::NetworkPolicy,
                    "acme-web",
                    "default-deny",
                    "default",
                    Action::Deny,
                    -1,
                )],
                pending_policies: vec![hit(
                    PolicyKind::StagedNetworkPolicy,
                    "acme-web",
                    "allow-dns",
                    "default",
                    Action::Allow,
                    0,
                )],
            }),
            ..FlowKey::default()
        }),
        start_time: 1_700_000_000,
        end_time: 1_700_000_015,
        num_connections_started: 7,
        ..Flow::default()
    }
}

#[test]
fn a_denied_workload_flow_becomes_a_dropped_record_with_its_enforced_policy() {
    let mut interner = Interner::new(100);
    let record = denied_dns().to_record(&mut interner).expect("a keyed flow");
    assert_eq!(record.source_kind, FlowSourceKind::Goldmane);
    assert_eq!(record.verdict, DataplaneVerdict::Dropped);
    assert!(record.policy_drop());
    assert_eq!(record.src.namespace.as_deref(), Some("acme-web"));
    assert_eq!(record.src.pod.as_deref(), Some("web-7d9f8b6c5d"));
    assert_eq!(record.dst.pod.as_deref(), Some("coredns-668d6bf9bc"));
    assert_eq!(record.protocol, Some(Protocol::Udp));
    assert_eq!(record.port, Some(53));
    assert_eq!(record.direction, Some(Direction::Egress));
    assert_eq!(record.count, 7);
    assert_eq!(record.time, UNIX_EPOCH + Duration::from_secs(1_700_000_015));
    assert_eq!(record.node, None);
    assert_eq!(
        record.policies.len(),
        1,
        "the pending policy is not enforced"
    );
    let policy = &record.policies[0];
    assert_eq!(&*policy.kind, "NetworkPolicy");
    assert_eq!(policy.namespace.as_deref(), Some("acme-web"));
    assert_eq!(&*policy.name, "default-deny");
    assert_eq!(policy.tier.as_deref(), Some("default"));
    assert_eq!(policy.action.as_deref(), Some("Deny"));
    assert_eq!(policy.rule, None, "-1 is no rule (end of policy)");
    let pending = denied_dns().pending_policies(&mut interner);
    assert_eq!(&*pending[0].name, "allow-dns");
    assert_eq!(pending[0].rule.as_deref(), Some("0"));
}

#[test]
fn actions_map_to_verdicts() {
    let mut interner = Interner::new(100);
    for (action, verdict) in [
        (Action::Allow, DataplaneVerdict::Forwarded),
        (Action::Deny, DataplaneVerdict::Dropped),
        (Action::Pass, DataplaneVerdict::Other),
        (Action::Unspecified, DataplaneVerdict::Other),
    ] {
        let mut flow = denied_dns();
        flow.key.as_mut().unwrap().action = action as i32;
        assert_eq!(flow.to_record(&mut interner).unwrap().verdict, verdict);
    }
    let mut unknown = denied_dns();
    unknown.key.as_mut().unwrap().action = 42;
    assert_eq!(
        unknown.to_record(&mut interner).unwrap().verdict,
        DataplaneVerdict::Other
    );
}

#[test]
fn networks_and_hosts_are_entities_and_icmp_has_no_protocol() {
    let mut interner = Interner::new(100);
    let mut flow = denied_dns();
    let key = flow.key.as_mut().unwrap();
    key.dest_type = EndpointType::Network as i32;
    key.dest_name = "pub".into();
    key.dest_namespace = String::new();
    key.source_type = EndpointType::HostEndpoint as i32;
    key.source_name = "worker-1".into();
    key.proto = "ICMP".into();
    key.dest_port = 0;
    let record = flow.to_record(&mut interner).unwrap();
    assert_eq!(record.dst.entity.as_deref(), Some("net pub"));
    assert_eq!(record.dst.namespace, None);
    assert_eq!(record.src.entity.as_deref(), Some("hep worker-1"));
    assert_eq!(record.src.pod, None);
    assert_eq!(record.protocol, None);
    assert_eq!(record.port, None);
}

#[test]
fn counts_fall_back_to_live_connections_then_one() {
    let mut flow = denied_dns();
    assert_eq!(flow.connections(), 7);
    flow.num_connections_started = 0;
    flow.num_connections_live = 3;
    assert_eq!(flow.connections(), 3);
    flow.num_connections_live = -5;
    assert_eq!(flow.connections(), 1);
}

#[test]
fn a_flow_without_key_is_skipped() {
    assert_eq!(Flow::default().to_record(&mut Interner::new(10)), None);
}

#[test]
fn records_survive_the_round_trip_through_the_wire() {
    let mut interner = Interner::new(100);
    let record = denied_dns().to_record(&mut interner).unwrap();
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let flow = Flow::from_record(&record, start, record.time);
    let bytes = flow.encode_to_vec();
    let back = Flow::decode(bytes.as_slice())
        .unwrap()
        .to_record(&mut interner)
        .unwrap();
    assert_eq!(back, record);
}

#[test]
fn a_pod_name_goes_out_as_its_generate_name() {
    let mut interner = Interner::new(100);
    let mut record = denied_dns().to_record(&mut interner).unwrap();
    record.src.pod = Some(Name::from("web-7d9f8b6c5d-x2k4q"));
    record.dst.pod = Some(Name::from("db-0"));
    let flow = Flow::from_record(&record, record.time, record.time);
    let key = flow.key.unwrap();
    assert_eq!(key.source_name, "web-7d9f8b6c5d-*");
    assert_eq!(
        key.dest_name, "db-0",
        "a pod without generate-name keeps its name"
    );
}

/// A newer Goldmane's extra fields (here: an unknown string, varint and nested message in the
/// flow, the key and a policy hit) are skipped, and what palisade knows still decodes.
#[test]
fn unknown_fields_pass_harmlessly() {
    fn unknown_fields(buf: &mut Vec<u8>) {
        prost::encoding::string::encode(90, &"from the future".to_string(), buf);
        prost::encoding::int64::encode(91, &12345, buf);
        prost::encoding::message::encode(92, &StringMatch::default(), buf);
    }
    let flow = denied_dns();
    let key = flow.key.clone().unwrap();
    let mut hit_bytes = key.policies.as_ref().unwrap().enforced_policies[0].encode_to_vec();
    unknown_fields(&mut hit_bytes);
    let mut trace_bytes = Vec::new();
    prost::encoding::bytes::encode(1, &hit_bytes, &mut trace_bytes);
    let mut key_bytes = FlowKey {
        policies: None,
        ..key.clone()
    }
    .encode_to_vec();
    prost::encoding::bytes::encode(15, &trace_bytes, &mut key_bytes);
    unknown_fields(&mut key_bytes);
    let mut flow_bytes = Flow {
        key: None,
        ..flow.clone()
    }
    .encode_to_vec();
    prost::encoding::bytes::encode(1, &key_bytes, &mut flow_bytes);
    unknown_fields(&mut flow_bytes);
    let mut result = Vec::new();
    prost::encoding::int64::encode(1, &9, &mut result);
    prost::encoding::bytes::encode(2, &flow_bytes, &mut result);
    unknown_fields(&mut result);

    let decoded = FlowResult::decode(result.as_slice()).expect("unknown fields are skipped");
    assert_eq!(decoded.id, 9);
    let decoded = decoded.flow.unwrap();
    let mut expected = flow;
    expected
        .key
        .as_mut()
        .unwrap()
        .policies
        .as_mut()
        .unwrap()
        .pending_policies
        .clear();
    assert_eq!(decoded, expected);
}
