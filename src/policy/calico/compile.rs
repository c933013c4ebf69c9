//! Compiling Calico objects as served into [`CompiledCalico`] and [`CalicoTier`], with the
//! validation Calico's API server applies (selectors, actions, ports, CIDRs, protocols): a
//! malformed object is left out and reported with the field and, for selectors, the position.

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use serde::Deserialize;
use serde_json::Value;

use super::super::connset::Protocol;
use super::super::error::{Errors, ValidationError};
use super::super::ipset::{Cidr, IpSet};
use super::selector::{self, Selector};
use super::{
    CalicoAction, CalicoPort, CalicoProtocol, CalicoRule, CalicoTier, CompiledCalico, DEFAULT_TIER,
    EntityRule,
};
use crate::model::{NativeKind, NativePolicyInfo, ObjectRef, PolicyInfo};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    tier: Option<String>,
    order: Option<f64>,
    selector: Option<String>,
    namespace_selector: Option<String>,
    service_account_selector: Option<String>,
    types: Option<Vec<String>>,
    ingress: Option<Vec<RawRule>>,
    egress: Option<Vec<RawRule>>,
    do_not_track: Option<bool>,
    #[serde(rename = "preDNAT")]
    pre_dnat: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    action: Option<String>,
    protocol: Option<Value>,
    not_protocol: Option<Value>,
    source: Option<RawEntity>,
    destination: Option<RawEntity>,
    http: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawEntity {
    nets: Option<Vec<String>>,
    not_nets: Option<Vec<String>>,
    selector: Option<String>,
    not_selector: Option<String>,
    namespace_selector: Option<String>,
    ports: Option<Vec<Value>>,
    not_ports: Option<Vec<Value>>,
    service_accounts: Option<Value>,
    services: Option<Value>,
}

/// The kind validation errors name: Calico's, told apart from Kubernetes' NetworkPolicy.
pub fn error_kind(kind: NativeKind) -> &'static str {
    match kind {
        NativeKind::CalicoNetworkPolicy => "Calico NetworkPolicy",
        NativeKind::CalicoGlobalNetworkPolicy => "Calico GlobalNetworkPolicy",
        NativeKind::CalicoTier => "Calico Tier",
        NativeKind::CalicoStagedNetworkPolicy => "Calico StagedNetworkPolicy",
        NativeKind::CalicoStagedGlobalNetworkPolicy => "Calico StagedGlobalNetworkPolicy",
        NativeKind::CalicoStagedKubernetesNetworkPolicy => "Calico StagedKubernetesNetworkPolicy",
        other => other.kind(),
    }
}

fn error_object(info: &NativePolicyInfo) -> ObjectRef {
    ObjectRef::new(info.id.namespace.clone(), info.id.name.clone())
}

fn spec_of(info: &NativePolicyInfo) -> Value {
    info.object
        .data
        .get("spec")
        .cloned()
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| Value::Object(Default::default()))
}

/// Compiles a NetworkPolicy, GlobalNetworkPolicy or their staged kinds (same spec).
pub fn compile_calico(info: &NativePolicyInfo) -> Result<CompiledCalico, Vec<ValidationError>> {
    let object = error_object(info);
    let mut errs = Errors::for_kind(error_kind(info.id.kind), &object);
    let raw = match RawSpec::deserialize(spec_of(info)) {
        Ok(r) => r,
        Err(e) => {
            errs.push("spec", format!("malformed: {e}"));
            return Err(errs.list);
        }
    };
    let global = !info.id.kind.namespaced();
    let selector_text = raw.selector.clone().unwrap_or_default();
    let selector = parse_selector(&selector_text, "spec.selector", &mut errs);
    let namespace_selector = match (&raw.namespace_selector, global) {
        (Some(text), true) => Some(parse_selector(text, "spec.namespaceSelector", &mut errs)),
        (Some(_), false) => {
            errs.push(
                "spec.namespaceSelector",
                "not allowed in a namespaced NetworkPolicy (use a GlobalNetworkPolicy)",
            );
            None
        }
        (None, _) => None,
    };
    let service_account_selector = match &raw.service_account_selector {
        Some(text) => match parse_selector(text, "spec.serviceAccountSelector", &mut errs) {
            Selector::All => None,
            _ => Some(text.clone()),
        },
        None => None,
    };
    let tier = raw
        .tier
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| DEFAULT_TIER.to_string());
    let mut compile_list = |name: &str, list: &Option<Vec<RawRule>>| -> Vec<CalicoRule> {
        list.iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, r)| compile_rule(r, i, &format!("spec.{name}[{i}]"), &mut errs))
            .collect()
    };
    let ingress = compile_list("ingress", &raw.ingress);
    let egress = compile_list("egress", &raw.egress);
    let has_egress = raw.egress.as_ref().is_some_and(|e| !e.is_empty());
    let has_ingress = raw.ingress.as_ref().is_some_and(|e| !e.is_empty());
    // Documented default: Ingress, plus Egress when there are egress rules; Egress alone when
    // there are egress rules and no ingress rules.
    let mut types = match (has_ingress, has_egress) {
        (_, false) => [true, false],
        (false, true) => [false, true],
        (true, true) => [true, true],
    };
    if let Some(list) = &raw.types {
        types = [false, false];
        for (i, t) in list.iter().enumerate() {
            match t.as_str() {
                "Ingress" => types[0] = true,
                "Egress" => types[1] = true,
                other => errs.push(
                    format!("spec.types[{i}]"),
                    format!("unsupported value {other:?}: supported values: Ingress, Egress"),
                ),
            }
        }
    }
    if let Some(order) = raw.order
        && !order.is_finite()
    {
        errs.push("spec.order", "must be a finite number");
    }
    let host_only = raw.do_not_track == Some(true) || raw.pre_dnat == Some(true);
    let mut not_evaluated = Vec::new();
    if host_only {
        not_evaluated.push(
            "doNotTrack/preDNAT policies apply to host endpoints only: not evaluated for pods"
                .to_string(),
        );
    }
    if let Some(text) = &service_account_selector {
        not_evaluated.push(format!(
            "serviceAccountSelector {text:?}: pods' service accounts are not read, so the \
             policy is not evaluated"
        ));
    }
    for (dir, rules) in [("ingress", &ingress), ("egress", &egress)] {
        for r in rules {
            if r.other_protocol() {
                not_evaluated.push(format!(
                    "{dir} rule #{}: protocol {:?} is outside palisade's connections \
                     (TCP, UDP, SCTP): it decides nothing here",
                    r.index,
                    r.protocol.as_ref().map(protocol_text).unwrap_or_default()
                ));
            }
            if r.http {
                not_evaluated.push(format!(
                    "{dir} rule #{}: its http match is enforced at L7; evaluated at L4",
                    r.index
                ));
            }
        }
    }
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    Ok(CompiledCalico {
        id: info.id.clone(),
        tier,
        order: raw.order,
        selector,
        selector_text,
        namespace_selector,
        service_account_selector,
        types,
        ingress,
        egress,
        host_only,
        not_evaluated,
    })
}

fn protocol_text(p: &CalicoProtocol) -> String {
    match p {
        CalicoProtocol::Known(p) => p.as_str().to_string(),
        CalicoProtocol::Other(s) => s.clone(),
    }
}

fn parse_selector(text: &str, field: &str, errs: &mut Errors) -> Selector {
    match selector::parse(text) {
        Ok(s) => s,
        Err(e) => {
            errs.push(field, format!("invalid selector {text:?}: {e}"));
            Selector::All
        }
    }
}

fn compile_rule(raw: &RawRule, index: usize, field: &str, errs: &mut Errors) -> Option<CalicoRule> {
    let before = errs.list.len();
    let action = match raw.action.as_deref() {
        None => {
            errs.push(
                format!("{field}.action"),
                "Required value: Allow, Deny, Pass or Log",
            );
            CalicoAction::Deny
        }
        Some(a) => CalicoAction::parse(a).unwrap_or_else(|| {
            errs.push(
                format!("{field}.action"),
                format!("unsupported value {a:?}: supported values: Allow, Deny, Pass, Log"),
            );
            CalicoAction::Deny
        }),
    };
    let protocol = raw
        .protocol
        .as_ref()
        .and_then(|v| parse_protocol(v, &format!("{field}.protocol"), errs));
    let not_protocol = raw
        .not_protocol
        .as_ref()
        .and_then(|v| parse_protocol(v, &format!("{field}.notProtocol"), errs));
    let empty = RawEntity::default();
    let src_raw = raw.source.as_ref().unwrap_or(&empty);
    let dst_raw = raw.destination.as_ref().unwrap_or(&empty);
    let source = compile_entity(src_raw, &format!("{field}.source"), errs);
    let destination = compile_entity(dst_raw, &format!("{field}.destination"), errs);
    let ports_ok = protocol.as_ref().is_some_and(takes_ports);
    for (side, e) in [("source", &source), ("destination", &destination)] {
        if (!e.ports.is_empty() || !e.not_ports.is_empty()) && !ports_ok {
            errs.push(
                format!("{field}.{side}.ports"),
                "ports are only valid with protocol TCP, UDP, SCTP or UDPLite",
            );
        }
    }
    let unknown = if destination.services || source.services {
        Some("matches a Kubernetes Service's endpoints, which palisade does not read")
    } else if destination.service_accounts || source.service_accounts {
        Some("matches pods by service account, which palisade does not read")
    } else if !source.ports.is_empty() || !source.not_ports.is_empty() {
        Some("matches source ports, which palisade's connections do not model")
    } else {
        None
    };
    let http = raw.http.as_ref().is_some_and(|v| !v.is_null());
    // An http match on a Deny denies some requests only: at L4 that is undecided.
    let unknown = unknown.or_else(|| {
        (http && action == CalicoAction::Deny)
            .then_some("denies some HTTP requests only (an L7 match)")
    });
    (errs.list.len() == before).then_some(CalicoRule {
        index,
        action,
        protocol,
        not_protocol,
        source,
        destination,
        http,
        unknown,
    })
}

fn takes_ports(p: &CalicoProtocol) -> bool {
    match p {
        CalicoProtocol::Known(_) => true,
        CalicoProtocol::Other(s) => s.eq_ignore_ascii_case("udplite") || s == "136",
    }
}

fn parse_protocol(v: &Value, field: &str, errs: &mut Errors) -> Option<CalicoProtocol> {
    let known = |p| Some(CalicoProtocol::Known(p));
    match v {
        Value::String(s) => match s.as_str() {
            "TCP" | "tcp" => known(Protocol::Tcp),
            "UDP" | "udp" => known(Protocol::Udp),
            "SCTP" | "sctp" => known(Protocol::Sctp),
            "ICMP" | "icmp" | "ICMPv6" | "icmpv6" | "UDPLite" | "udplite" => {
                Some(CalicoProtocol::Other(s.clone()))
            }
            other => match other.parse::<u8>() {
                Ok(n) if n >= 1 => number_protocol(n),
                _ => {
                    errs.push(
                        field,
                        format!(
                            "unsupported protocol {other:?}: TCP, UDP, ICMP, ICMPv6, SCTP, \
                             UDPLite or a number 1-255"
                        ),
                    );
                    None
                }
            },
        },
        Value::Number(n) => match n.as_u64() {
            Some(n @ 1..=255) => number_protocol(n as u8),
            _ => {
                errs.push(field, format!("protocol number {n} is not within 1-255"));
                None
            }
        },
        _ => {
            errs.push(field, "must be a protocol name or number");
            None
        }
    }
}

fn number_protocol(n: u8) -> Option<CalicoProtocol> {
    Some(match n {
        6 => CalicoProtocol::Known(Protocol::Tcp),
        17 => CalicoProtocol::Known(Protocol::Udp),
        132 => CalicoProtocol::Known(Protocol::Sctp),
        other => CalicoProtocol::Other(other.to_string()),
    })
}

fn compile_entity(raw: &RawEntity, field: &str, errs: &mut Errors) -> EntityRule {
    let nets = |list: &Option<Vec<String>>, name: &str, errs: &mut Errors| {
        list.as_ref().map(|list| {
            let mut set = IpSet::default();
            for (i, n) in list.iter().enumerate() {
                match parse_net(n) {
                    Ok(c) => set = set.union(&IpSet::from_cidr(c)),
                    Err(e) => errs.push(format!("{field}.{name}[{i}]"), e),
                }
            }
            set
        })
    };
    let sel = |text: &Option<String>, name: &str, errs: &mut Errors| {
        text.as_ref()
            .map(|t| parse_selector(t, &format!("{field}.{name}"), errs))
    };
    EntityRule {
        nets: nets(&raw.nets, "nets", errs),
        nets_text: raw.nets.clone().unwrap_or_default(),
        not_nets: nets(&raw.not_nets, "notNets", errs),
        selector: sel(&raw.selector, "selector", errs),
        not_selector: sel(&raw.not_selector, "notSelector", errs),
        namespace_selector: sel(&raw.namespace_selector, "namespaceSelector", errs),
        ports: ports(&raw.ports, &format!("{field}.ports"), errs),
        not_ports: ports(&raw.not_ports, &format!("{field}.notPorts"), errs),
        service_accounts: raw.service_accounts.as_ref().is_some_and(|v| !v.is_null()),
        services: raw.services.as_ref().is_some_and(|v| !v.is_null()),
    }
}

/// A CIDR, or a single address (Calico accepts both in `nets`).
fn parse_net(text: &str) -> Result<Cidr, String> {
    if text.contains('/') {
        return Cidr::parse(text);
    }
    match text.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => Cidr::parse(&format!("{}/32", text.trim())),
        Ok(std::net::IpAddr::V6(_)) => Cidr::parse(&format!("{}/128", text.trim())),
        Err(_) => Err(format!("{text:?} is neither a CIDR nor an IP address")),
    }
}

fn ports(list: &Option<Vec<Value>>, field: &str, errs: &mut Errors) -> Vec<CalicoPort> {
    let mut out = Vec::new();
    for (i, v) in list.iter().flatten().enumerate() {
        match parse_port(v) {
            Ok(p) => out.push(p),
            Err(e) => errs.push(format!("{field}[{i}]"), e),
        }
    }
    out
}

/// `80`, `"80"`, `"80:90"` or a named port.
pub(super) fn parse_port(v: &Value) -> Result<CalicoPort, String> {
    let number = |s: &str| -> Result<u16, String> {
        match s.trim().parse::<u32>() {
            Ok(n @ 1..=65535) => Ok(n as u16),
            Ok(n) => Err(format!("port {n} is not within 1-65535")),
            Err(_) => Err(format!("{s:?} is not a port number")),
        }
    };
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(n @ 1..=65535) => Ok(CalicoPort::Range(n as u16, n as u16)),
            _ => Err(format!("port {n} is not within 1-65535")),
        },
        Value::String(s) if s.contains(':') => {
            let (lo, hi) = s.split_once(':').unwrap_or_default();
            let (lo, hi) = (number(lo)?, number(hi)?);
            if lo > hi {
                return Err(format!("port range {s:?} ends before it starts"));
            }
            Ok(CalicoPort::Range(lo, hi))
        }
        Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() => {
            let n = number(s)?;
            Ok(CalicoPort::Range(n, n))
        }
        Value::String(s) => {
            let valid = !s.is_empty()
                && s.len() <= 15
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && s.chars().any(|c| c.is_ascii_lowercase());
            match valid {
                true => Ok(CalicoPort::Named(s.clone())),
                false => Err(format!(
                    "{s:?} is not a port, a range \"lo:hi\" or a port name"
                )),
            }
        }
        other => Err(format!("{other} is not a port")),
    }
}

/// A Tier object: `order` and `defaultAction` (Deny unless Pass).
pub fn compile_calico_tier(info: &NativePolicyInfo) -> Result<CalicoTier, Vec<ValidationError>> {
    let object = error_object(info);
    let mut errs = Errors::for_kind(error_kind(info.id.kind), &object);
    let spec = spec_of(info);
    let order = match spec.get("order") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64().filter(|o| o.is_finite()) {
            Some(o) => Some(o),
            None => {
                errs.push("spec.order", "must be a number");
                None
            }
        },
    };
    let default_pass = match spec.get("defaultAction").and_then(Value::as_str) {
        None | Some("Deny") => false,
        Some("Pass") => true,
        Some(other) => {
            errs.push(
                "spec.defaultAction",
                format!("unsupported value {other:?}: supported values: Deny, Pass"),
            );
            false
        }
    };
    match errs.list.is_empty() {
        true => Ok(CalicoTier {
            name: info.id.name.clone(),
            order,
            default_pass,
        }),
        false => Err(errs.list),
    }
}

/// A StagedKubernetesNetworkPolicy as the Kubernetes NetworkPolicy it would become.
pub fn staged_kubernetes_policy(
    info: &NativePolicyInfo,
) -> Result<PolicyInfo, Vec<ValidationError>> {
    debug_assert_eq!(
        info.id.kind,
        NativeKind::CalicoStagedKubernetesNetworkPolicy
    );
    let object = error_object(info);
    let mut errs = Errors::for_kind(error_kind(info.id.kind), &object);
    let mut spec = spec_of(info);
    if let Some(map) = spec.as_object_mut() {
        map.remove("stagedAction");
    }
    match NetworkPolicySpec::deserialize(spec) {
        Ok(spec) => Ok(PolicyInfo {
            id: object.clone(),
            object: NetworkPolicy {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(info.id.name.clone()),
                    namespace: Some(info.id.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(spec),
            },
        }),
        Err(e) => {
            errs.push("spec", format!("malformed: {e}"));
            Err(errs.list)
        }
    }
}
