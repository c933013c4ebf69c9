//! Compiling a CNP/CCNP as served (`spec` and/or `specs`) into [`CompiledNative`], with the
//! validation Cilium's CRD schema and agent apply: a malformed object is left out and reported.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde_json::Value;

use super::super::compile::Direction;
use super::super::connset::Protocol;
use super::super::error::{Errors, ValidationError};
use super::super::ipset::{Cidr, IpSet};
use super::super::selector::Selector;
use super::{
    CiliumPeer, CiliumPort, CiliumRule, CompiledNative, EndpointSelector, Entity, PeerRule,
};
use crate::model::{NativePolicyInfo, ObjectRef};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    endpoint_selector: Option<LabelSelector>,
    node_selector: Option<LabelSelector>,
    ingress: Option<Vec<RawPeerRule>>,
    ingress_deny: Option<Vec<RawPeerRule>>,
    egress: Option<Vec<RawPeerRule>>,
    egress_deny: Option<Vec<RawPeerRule>>,
    enable_default_deny: Option<RawDefaultDeny>,
}

#[derive(Deserialize, Default)]
struct RawDefaultDeny {
    ingress: Option<bool>,
    egress: Option<bool>,
}

/// Ingress and egress (allow and deny) rules share one shape here; the fields of the other
/// direction are rejected by [`check_direction`].
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPeerRule {
    from_endpoints: Option<Vec<LabelSelector>>,
    to_endpoints: Option<Vec<LabelSelector>>,
    from_entities: Option<Vec<String>>,
    to_entities: Option<Vec<String>>,
    #[serde(rename = "fromCIDR")]
    from_cidr: Option<Vec<String>>,
    #[serde(rename = "toCIDR")]
    to_cidr: Option<Vec<String>>,
    #[serde(rename = "fromCIDRSet")]
    from_cidr_set: Option<Vec<RawCidrRule>>,
    #[serde(rename = "toCIDRSet")]
    to_cidr_set: Option<Vec<RawCidrRule>>,
    to_services: Option<Vec<Value>>,
    #[serde(rename = "toFQDNs")]
    to_fqdns: Option<Vec<Value>>,
    from_nodes: Option<Vec<Value>>,
    to_nodes: Option<Vec<Value>>,
    from_groups: Option<Vec<Value>>,
    to_groups: Option<Vec<Value>>,
    from_requires: Option<Vec<Value>>,
    to_requires: Option<Vec<Value>>,
    to_ports: Option<Vec<RawPortRule>>,
    icmps: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawCidrRule {
    cidr: Option<String>,
    #[serde(default)]
    except: Vec<String>,
    cidr_group_ref: Option<String>,
    cidr_group_selector: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPortRule {
    ports: Option<Vec<RawPort>>,
    rules: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPort {
    port: Option<Value>,
    end_port: Option<i64>,
    protocol: Option<String>,
}

/// Validation errors name the object like the tiers do: namespace (empty for a CCNP), name.
fn error_object(info: &NativePolicyInfo) -> ObjectRef {
    ObjectRef::new(info.id.namespace.clone(), info.id.name.clone())
}

pub fn compile_native(info: &NativePolicyInfo) -> Result<CompiledNative, Vec<ValidationError>> {
    let object = error_object(info);
    let mut errs = Errors::for_kind(info.id.kind.kind(), &object);
    let mut raws: Vec<(String, &Value)> = Vec::new();
    if let Some(spec) = info.object.data.get("spec").filter(|v| !v.is_null()) {
        raws.push(("spec".into(), spec));
    }
    match info.object.data.get("specs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, v) in list.iter().enumerate() {
                raws.push((format!("specs[{i}]"), v));
            }
        }
        Some(_) => errs.push("specs", "must be a list of rules"),
    }
    if raws.is_empty() && errs.list.is_empty() {
        errs.push("spec", "Required value: one of spec or specs");
    }
    let namespace = (!info.id.namespace.is_empty()).then_some(info.id.namespace.as_str());
    let mut rules = Vec::new();
    let mut not_evaluated = Vec::new();
    for (index, (field, value)) in raws.into_iter().enumerate() {
        let raw = match RawRule::deserialize(value) {
            Ok(r) => r,
            Err(e) => {
                errs.push(field, format!("malformed: {e}"));
                continue;
            }
        };
        match (&raw.endpoint_selector, &raw.node_selector) {
            (Some(_), Some(_)) => {
                errs.push(
                    &field,
                    "endpointSelector and nodeSelector are mutually exclusive",
                );
                continue;
            }
            (None, None) => {
                errs.push(
                    &field,
                    "Required value: one of endpointSelector or nodeSelector",
                );
                continue;
            }
            (None, Some(_)) => {
                // Validate the rest anyway, then leave the rule out.
                let _ = compile_rule(&raw, index, &field, namespace, &mut errs);
                not_evaluated.push(format!(
                    "rule #{index} ({field}) is a host policy (nodeSelector): it selects nodes, \
                     which palisade does not model, so it is not evaluated"
                ));
                continue;
            }
            (Some(_), None) => {}
        }
        if let Some(rule) = compile_rule(&raw, index, &field, namespace, &mut errs) {
            if let Some(reason) = rule.subject.unknown {
                not_evaluated.push(format!(
                    "rule #{index} ({field}) endpointSelector {reason}: not evaluated"
                ));
                continue;
            }
            icmp_notes(&rule, &field, &mut not_evaluated);
            rules.push(rule);
        }
    }
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    Ok(CompiledNative {
        id: info.id.clone(),
        rules,
        not_evaluated,
    })
}

fn selector(s: &LabelSelector, field: &str, errs: &mut Errors) -> EndpointSelector {
    EndpointSelector::from_selector(Selector::compile(s, field, errs))
}

fn compile_rule(
    raw: &RawRule,
    index: usize,
    field: &str,
    namespace: Option<&str>,
    errs: &mut Errors,
) -> Option<CiliumRule> {
    let before = errs.list.len();
    let mut subject = raw
        .endpoint_selector
        .as_ref()
        .map(|s| selector(s, &format!("{field}.endpointSelector"), errs))
        .unwrap_or_default();
    if let Some(ns) = namespace {
        subject = subject.in_namespace(ns);
    }
    let list = |name: &str, rules: &Option<Vec<RawPeerRule>>, dir, deny, errs: &mut Errors| {
        rules
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| {
                compile_peer_rule(
                    r,
                    i,
                    &format!("{field}.{name}[{i}]"),
                    dir,
                    deny,
                    namespace,
                    errs,
                )
            })
            .collect::<Vec<_>>()
    };
    let ingress = list("ingress", &raw.ingress, Direction::Ingress, false, errs);
    let ingress_deny = list(
        "ingressDeny",
        &raw.ingress_deny,
        Direction::Ingress,
        true,
        errs,
    );
    let egress = list("egress", &raw.egress, Direction::Egress, false, errs);
    let egress_deny = list(
        "egressDeny",
        &raw.egress_deny,
        Direction::Egress,
        true,
        errs,
    );
    let dd = raw.enable_default_deny.as_ref();
    // "If not specified, the default is true for each traffic direction that has rules."
    let default_deny = [
        dd.and_then(|d| d.ingress).unwrap_or(true),
        dd.and_then(|d| d.egress).unwrap_or(true),
    ];
    (errs.list.len() == before).then_some(CiliumRule {
        index,
        subject,
        ingress,
        ingress_deny,
        egress,
        egress_deny,
        default_deny,
    })
}

fn compile_peer_rule(
    raw: &RawPeerRule,
    index: usize,
    field: &str,
    dir: Direction,
    deny: bool,
    namespace: Option<&str>,
    errs: &mut Errors,
) -> PeerRule {
    let ingress = dir == Direction::Ingress;
    let (wrong, right) = if ingress {
        ("to", "from")
    } else {
        ("from", "to")
    };
    let misplaced = [
        (
            "Endpoints",
            raw_some(if ingress {
                &raw.to_endpoints
            } else {
                &raw.from_endpoints
            }),
        ),
        (
            "Entities",
            raw_some(if ingress {
                &raw.to_entities
            } else {
                &raw.from_entities
            }),
        ),
        (
            "CIDR",
            raw_some(if ingress {
                &raw.to_cidr
            } else {
                &raw.from_cidr
            }),
        ),
        (
            "CIDRSet",
            raw_some(if ingress {
                &raw.to_cidr_set
            } else {
                &raw.from_cidr_set
            }),
        ),
        (
            "Nodes",
            raw_some(if ingress {
                &raw.to_nodes
            } else {
                &raw.from_nodes
            }),
        ),
        (
            "Groups",
            raw_some(if ingress {
                &raw.to_groups
            } else {
                &raw.from_groups
            }),
        ),
        (
            "Requires",
            raw_some(if ingress {
                &raw.to_requires
            } else {
                &raw.from_requires
            }),
        ),
    ];
    for (name, present) in misplaced {
        if present {
            errs.push(
                format!("{field}.{wrong}{name}"),
                format!("unknown field in a {right} rule"),
            );
        }
    }
    if ingress && (raw.to_services.is_some() || raw.to_fqdns.is_some()) {
        errs.push(field, "toServices and toFQDNs exist only in egress rules");
    }
    if deny && raw.to_fqdns.is_some() {
        errs.push(format!("{field}.toFQDNs"), "not allowed in a deny rule");
    }
    let (endpoints, entities, cidrs, cidr_sets, nodes, groups, requires) = match ingress {
        true => (
            &raw.from_endpoints,
            &raw.from_entities,
            &raw.from_cidr,
            &raw.from_cidr_set,
            &raw.from_nodes,
            &raw.from_groups,
            &raw.from_requires,
        ),
        false => (
            &raw.to_endpoints,
            &raw.to_entities,
            &raw.to_cidr,
            &raw.to_cidr_set,
            &raw.to_nodes,
            &raw.to_groups,
            &raw.to_requires,
        ),
    };
    let mut peers: Vec<CiliumPeer> = Vec::new();
    let mut any_l3 = false;
    if let Some(list) = nonempty(endpoints) {
        any_l3 = true;
        for (i, s) in list.iter().enumerate() {
            let sel = selector(s, &format!("{field}.{right}Endpoints[{i}]"), errs);
            let limit = namespace.filter(|_| !sel.names_namespace);
            peers.push(CiliumPeer::Endpoints {
                selector: match limit {
                    Some(ns) => sel.in_namespace(ns),
                    None => sel,
                },
                namespace: limit.map(str::to_string),
            });
        }
    }
    if let Some(list) = nonempty(entities) {
        any_l3 = true;
        for (i, name) in list.iter().enumerate() {
            match Entity::parse(name) {
                Some(e) => peers.push(CiliumPeer::Entity(e)),
                None => {
                    let known: Vec<&str> = Entity::NAMES.iter().map(|(n, _)| *n).collect();
                    errs.push(
                        format!("{field}.{right}Entities[{i}]"),
                        format!(
                            "Unsupported value: {name:?}: supported values: {}",
                            known.join(", ")
                        ),
                    );
                }
            }
        }
    }
    if let Some(list) = nonempty(cidrs) {
        any_l3 = true;
        for (i, text) in list.iter().enumerate() {
            if let Some(set) = cidr(text, &format!("{field}.{right}CIDR[{i}]"), errs) {
                peers.push(CiliumPeer::Cidr {
                    text: text.clone(),
                    set,
                });
            }
        }
    }
    if let Some(list) = nonempty(cidr_sets) {
        any_l3 = true;
        for (i, r) in list.iter().enumerate() {
            let f = format!("{field}.{right}CIDRSet[{i}]");
            match (&r.cidr, &r.cidr_group_ref, &r.cidr_group_selector) {
                (Some(text), None, None) => {
                    let Some(mut set) = cidr(text, &format!("{f}.cidr"), errs) else {
                        continue;
                    };
                    for (j, ex) in r.except.iter().enumerate() {
                        if let Some(ex) = cidr(ex, &format!("{f}.except[{j}]"), errs) {
                            set = set.subtract(&ex);
                        }
                    }
                    let text = match r.except.is_empty() {
                        true => text.clone(),
                        false => format!("{text} except {}", r.except.join(", ")),
                    };
                    peers.push(CiliumPeer::Cidr { text, set });
                }
                (None, Some(_), None) | (None, None, Some(_)) => {
                    peers.push(CiliumPeer::Undecidable {
                        what: "cidrGroupRef",
                        reason: "CiliumCIDRGroup objects are not read by palisade",
                        pods: false,
                    })
                }
                _ => errs.push(
                    f,
                    "exactly one of cidr, cidrGroupRef or cidrGroupSelector must be set",
                ),
            }
        }
    }
    if nonempty(nodes).is_some() {
        any_l3 = true;
        peers.push(CiliumPeer::Undecidable {
            what: if ingress { "fromNodes" } else { "toNodes" },
            reason: "depends on node IPs",
            pods: false,
        });
    }
    if nonempty(groups).is_some() {
        any_l3 = true;
        peers.push(CiliumPeer::Undecidable {
            what: if ingress { "fromGroups" } else { "toGroups" },
            reason: "cloud provider groups are resolved by the provider's API",
            pods: false,
        });
    }
    if requires.is_some() {
        errs.push(
            format!("{field}.{right}Requires"),
            "not supported by palisade (deprecated in Cilium, removed in 1.17)",
        );
    }
    if nonempty(&raw.to_services).is_some() {
        any_l3 = true;
        peers.push(CiliumPeer::Undecidable {
            what: "toServices",
            reason: "palisade has no Service objects to resolve backends",
            pods: true,
        });
    }
    if nonempty(&raw.to_fqdns).is_some() {
        any_l3 = true;
        peers.push(CiliumPeer::Undecidable {
            what: "toFQDNs",
            reason: "depends on DNS answers, never guessed",
            pods: false,
        });
    }
    let mut l7 = false;
    let icmps = nonempty(&raw.icmps);
    let ports = nonempty(&raw.to_ports).map(|list| {
        let mut out = Vec::new();
        for (i, pr) in list.iter().enumerate() {
            let f = format!("{field}.toPorts[{i}]");
            if pr.rules.as_ref().is_some_and(|r| !r.is_null()) {
                if deny {
                    errs.push(
                        format!("{f}.rules"),
                        "L7 rules are not allowed in deny rules",
                    );
                }
                l7 = true;
            }
            match nonempty(&pr.ports) {
                None => out.push(CiliumPort::Range {
                    protos: vec![Protocol::Tcp, Protocol::Udp, Protocol::Sctp],
                    lo: 0,
                    hi: u16::MAX,
                }),
                Some(ports) => {
                    for (j, p) in ports.iter().enumerate() {
                        if let Some(p) = port(p, &format!("{f}.ports[{j}]"), errs) {
                            out.push(p);
                        }
                    }
                }
            }
        }
        out
    });
    PeerRule {
        index,
        // An L3-less rule with ports or ICMP applies to every peer; an empty rule (`{}`)
        // allows nothing but still selects (Cilium's own default-deny example).
        peers: match (any_l3, ports.is_some() || icmps.is_some()) {
            (true, _) => Some(peers),
            (false, true) => None,
            (false, false) => Some(Vec::new()),
        },
        ports: match (&ports, icmps) {
            (Some(_), _) => ports,
            // ICMP only: nothing palisade's connection sets hold.
            (None, Some(_)) => Some(Vec::new()),
            (None, None) => None,
        },
        l7,
        icmp: icmps.is_some(),
    }
}

fn raw_some<T>(v: &Option<Vec<T>>) -> bool {
    nonempty(v).is_some()
}

/// Cilium treats an empty list like an absent one.
fn nonempty<T>(v: &Option<Vec<T>>) -> Option<&Vec<T>> {
    v.as_ref().filter(|l| !l.is_empty())
}

/// A CIDR or a bare address (Cilium accepts both).
fn cidr(text: &str, field: &str, errs: &mut Errors) -> Option<IpSet> {
    let full = match text.contains('/') {
        true => text.to_string(),
        false if text.contains(':') => format!("{text}/128"),
        false => format!("{text}/32"),
    };
    match Cidr::parse(&full) {
        Ok(c) => Some(IpSet::from_cidr(c)),
        Err(e) => {
            errs.push(field, e);
            None
        }
    }
}

fn port(raw: &RawPort, field: &str, errs: &mut Errors) -> Option<CiliumPort> {
    let protos = match raw.protocol.as_deref().unwrap_or("ANY") {
        "" | "ANY" => vec![Protocol::Tcp, Protocol::Udp, Protocol::Sctp],
        "TCP" => vec![Protocol::Tcp],
        "UDP" => vec![Protocol::Udp],
        "SCTP" => vec![Protocol::Sctp],
        // Valid in the CRD, outside palisade's connection sets.
        "ICMP" | "ICMPv6" | "VRRP" | "IGMP" => Vec::new(),
        other => {
            errs.push(
                format!("{field}.protocol"),
                format!(
                    "Unsupported value: {other:?}: supported values: TCP, UDP, SCTP, ICMP, ICMPv6, VRRP, IGMP, ANY"
                ),
            );
            return None;
        }
    };
    let text = match &raw.port {
        None => "0".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            errs.push(
                format!("{field}.port"),
                format!("must be a string: {other}"),
            );
            return None;
        }
    };
    if let Ok(n) = text.parse::<i64>() {
        if !(0..=65535).contains(&n) {
            errs.push(format!("{field}.port"), "must be between 0 and 65535");
            return None;
        }
        // Port 0 means every port of the protocol.
        let (lo, hi) = match (n, raw.end_port) {
            (0, _) => (0, u16::MAX),
            (n, None) | (n, Some(0)) => (n as u16, n as u16),
            (n, Some(e)) if (n..=65535).contains(&e) => (n as u16, e as u16),
            (_, Some(_)) => {
                errs.push(format!("{field}.endPort"), "must be between port and 65535");
                return None;
            }
        };
        return Some(CiliumPort::Range { protos, lo, hi });
    }
    let valid_name = !text.is_empty()
        && text.len() <= 15
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && text.chars().any(|c| c.is_ascii_lowercase())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--");
    if !valid_name {
        errs.push(
            format!("{field}.port"),
            format!("{text:?} is neither a port number nor a valid port name"),
        );
        return None;
    }
    Some(CiliumPort::Named { protos, name: text })
}

/// Notes for the parts of a rule that are about ICMP, which palisade's connection sets (TCP,
/// UDP, SCTP) do not hold: `icmps`, and `toPorts` with an ICMP-like protocol.
fn icmp_notes(rule: &CiliumRule, field: &str, notes: &mut Vec<String>) {
    let lists = [
        ("ingress", &rule.ingress),
        ("ingressDeny", &rule.ingress_deny),
        ("egress", &rule.egress),
        ("egressDeny", &rule.egress_deny),
    ];
    for (name, list) in lists {
        for pr in list.iter() {
            let icmp_port = pr.ports.iter().flatten().any(|p| {
                matches!(p, CiliumPort::Range { protos, .. } | CiliumPort::Named { protos, .. } if protos.is_empty())
            });
            if pr.icmp || icmp_port {
                notes.push(format!(
                    "rule #{} ({field}) {name}[{}]: its ICMP part is not evaluated (palisade \
                     evaluates TCP, UDP and SCTP)",
                    rule.index, pr.index
                ));
            }
        }
    }
}
