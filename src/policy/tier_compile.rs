//! Compiling a tier policy's served spec into [`CompiledTier`]: the serialized forms of both
//! versions (one version's fields are absent in the other), and the CRD schemas' validation.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde_json::Value;

use super::connset::Protocol;
use super::error::{Errors, ValidationError};
use super::ipset::{Cidr, IpSet};
use super::selector::Selector;
use super::tier::{Action, CompiledTier, Tier, TierPeer, TierPort, TierRule, TierSubject};
use crate::model::{ObjectRef, TierKind, TierPolicyInfo, TierRef};

// The serialized forms of both versions; the fields of one version are absent in the other.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    tier: Option<String>,
    priority: Option<Value>,
    subject: Option<RawSubject>,
    ingress: Option<Vec<RawRule>>,
    egress: Option<Vec<RawRule>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSubject {
    namespaces: Option<LabelSelector>,
    pods: Option<RawNamespacedPod>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawNamespacedPod {
    namespace_selector: Option<LabelSelector>,
    pod_selector: Option<LabelSelector>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default)]
    name: String,
    action: Option<String>,
    from: Option<Vec<RawPeer>>,
    to: Option<Vec<RawPeer>>,
    /// v1alpha1
    ports: Option<Vec<RawV1Port>>,
    /// v1alpha2
    protocols: Option<Vec<RawProtocol>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPeer {
    namespaces: Option<LabelSelector>,
    pods: Option<RawNamespacedPod>,
    nodes: Option<LabelSelector>,
    networks: Option<Vec<String>>,
    domain_names: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawV1Port {
    port_number: Option<RawV1PortNumber>,
    named_port: Option<String>,
    port_range: Option<RawRange>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawV1PortNumber {
    protocol: Option<String>,
    port: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRange {
    protocol: Option<String>,
    start: Option<i64>,
    end: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawProtocol {
    tcp: Option<RawDestination>,
    udp: Option<RawDestination>,
    sctp: Option<RawDestination>,
    destination_named_port: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawDestination {
    destination_port: Option<RawV2Port>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawV2Port {
    number: Option<i64>,
    range: Option<RawRange>,
}

/// Rules per direction the CRD allows: 25 in `v1alpha2`, 100 in `v1alpha1`.
pub fn max_rules(kind: TierKind) -> usize {
    match kind {
        TierKind::ClusterNetworkPolicy => 25,
        _ => 100,
    }
}

/// The object an error names: tier policies have no namespace.
fn error_object(id: &TierRef) -> ObjectRef {
    ObjectRef::new("", id.name.clone())
}

/// Compiles and validates; any error rejects the whole policy, as the API server would.
pub fn compile_tier(p: &TierPolicyInfo) -> Result<CompiledTier, Vec<ValidationError>> {
    let object = error_object(&p.id);
    let mut errs = Errors::for_kind(p.id.kind.kind(), &object);
    let kind = p.id.kind;
    let raw: RawSpec = match p.spec() {
        None => {
            errs.push("spec", "Required value");
            return Err(errs.list);
        }
        Some(v) => match RawSpec::deserialize(v) {
            Ok(raw) => raw,
            Err(e) => {
                errs.push("spec", format!("malformed: {e}"));
                return Err(errs.list);
            }
        },
    };
    let tier = match kind {
        TierKind::AdminNetworkPolicy => Tier::Admin,
        TierKind::BaselineAdminNetworkPolicy => Tier::Baseline,
        TierKind::ClusterNetworkPolicy => {
            match raw.tier.as_deref() {
                Some("Admin") => Tier::Admin,
                Some("Baseline") => Tier::Baseline,
                Some(other) => {
                    errs.push(
                    "spec.tier",
                    format!("Unsupported value: {other:?}: supported values: \"Admin\", \"Baseline\""),
                );
                    Tier::Admin
                }
                None => {
                    errs.push("spec.tier", "Required value");
                    Tier::Admin
                }
            }
        }
    };
    let priority = match kind {
        TierKind::BaselineAdminNetworkPolicy => None,
        _ => Some(compile_priority(raw.priority.as_ref(), &mut errs)),
    };
    let subject = compile_subject(raw.subject.as_ref(), &mut errs);
    let ingress = compile_rules(kind, raw.ingress.as_deref(), true, &mut errs);
    let egress = compile_rules(kind, raw.egress.as_deref(), false, &mut errs);
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    Ok(CompiledTier {
        id: p.id.clone(),
        tier,
        priority,
        subject: subject.unwrap_or(TierSubject::Namespaces(Selector::everything())),
        ingress,
        egress,
    })
}

fn compile_priority(value: Option<&Value>, errs: &mut Errors) -> i32 {
    match value.map(|v| v.as_i64()) {
        None => {
            errs.push("spec.priority", "Required value");
            0
        }
        Some(Some(n)) if (0..=1000).contains(&n) => n as i32,
        Some(_) => {
            errs.push(
                "spec.priority",
                "must be an integer between 0 and 1000, inclusive",
            );
            0
        }
    }
}

fn selector(s: Option<&LabelSelector>, field: &str, errs: &mut Errors) -> Selector {
    s.map(|s| Selector::compile(s, field, errs))
        .unwrap_or_default()
}

/// An absent `podSelector` selects every pod, as netpol-analyzer reads it (the CRD's schema
/// requires the field; manifests in the wild omit it).
fn namespaced_pod(p: &RawNamespacedPod, field: &str, errs: &mut Errors) -> (Selector, Selector) {
    (
        selector(
            p.namespace_selector.as_ref(),
            &format!("{field}.namespaceSelector"),
            errs,
        ),
        selector(
            p.pod_selector.as_ref(),
            &format!("{field}.podSelector"),
            errs,
        ),
    )
}

fn compile_subject(s: Option<&RawSubject>, errs: &mut Errors) -> Option<TierSubject> {
    let Some(s) = s else {
        errs.push("spec.subject", "Required value");
        return None;
    };
    match (&s.namespaces, &s.pods) {
        (Some(ns), None) => Some(TierSubject::Namespaces(selector(
            Some(ns),
            "spec.subject.namespaces",
            errs,
        ))),
        (None, Some(p)) => {
            let (namespaces, pods) = namespaced_pod(p, "spec.subject.pods", errs);
            Some(TierSubject::Pods { namespaces, pods })
        }
        _ => {
            errs.push(
                "spec.subject",
                "exactly one of `namespaces` or `pods` must be set",
            );
            None
        }
    }
}

fn compile_rules(
    kind: TierKind,
    rules: Option<&[RawRule]>,
    ingress: bool,
    errs: &mut Errors,
) -> Vec<TierRule> {
    let dir = if ingress { "ingress" } else { "egress" };
    let rules = rules.unwrap_or_default();
    if rules.len() > max_rules(kind) {
        errs.push(
            format!("spec.{dir}"),
            format!(
                "Too many: {}: must have at most {} items",
                rules.len(),
                max_rules(kind)
            ),
        );
    }
    let mut out = Vec::new();
    for (index, r) in rules.iter().enumerate() {
        let f = format!("spec.{dir}[{index}]");
        if r.name.len() > 100 {
            errs.push(format!("{f}.name"), "may not be more than 100 characters");
        }
        let action = compile_action(kind, r.action.as_deref(), &format!("{f}.action"), errs);
        let (peers_field, raw_peers) = match ingress {
            true => ("from", r.from.as_deref()),
            false => ("to", r.to.as_deref()),
        };
        let peers_field = format!("{f}.{peers_field}");
        let peers = compile_peers(raw_peers, ingress, &peers_field, errs);
        let ports = match kind {
            TierKind::ClusterNetworkPolicy => {
                compile_protocols(r.protocols.as_deref(), &format!("{f}.protocols"), errs)
            }
            _ => compile_v1_ports(r.ports.as_deref(), &format!("{f}.ports"), errs),
        };
        if let Some(action) = action {
            if action != Action::Accept
                && peers.iter().any(|p| matches!(p, TierPeer::DomainNames(_)))
            {
                errs.push(
                    &peers_field,
                    "domainNames peers are only supported in Accept rules",
                );
            }
            out.push(TierRule {
                index,
                name: r.name.clone(),
                action,
                peers,
                ports,
            });
        }
    }
    out
}

fn compile_action(
    kind: TierKind,
    action: Option<&str>,
    field: &str,
    errs: &mut Errors,
) -> Option<Action> {
    let supported: &[(&str, Action)] = match kind {
        TierKind::ClusterNetworkPolicy => &[
            ("Accept", Action::Accept),
            ("Deny", Action::Deny),
            ("Pass", Action::Pass),
        ],
        TierKind::AdminNetworkPolicy => &[
            ("Allow", Action::Accept),
            ("Deny", Action::Deny),
            ("Pass", Action::Pass),
        ],
        TierKind::BaselineAdminNetworkPolicy => {
            &[("Allow", Action::Accept), ("Deny", Action::Deny)]
        }
    };
    let Some(action) = action else {
        errs.push(field, "Required value");
        return None;
    };
    match supported.iter().find(|(name, _)| *name == action) {
        Some((_, a)) => Some(*a),
        None => {
            let names: Vec<String> = supported.iter().map(|(n, _)| format!("{n:?}")).collect();
            errs.push(
                field,
                format!(
                    "Unsupported value: {action:?}: supported values: {}",
                    names.join(", ")
                ),
            );
            None
        }
    }
}

fn compile_peers(
    peers: Option<&[RawPeer]>,
    ingress: bool,
    field: &str,
    errs: &mut Errors,
) -> Vec<TierPeer> {
    let peers = peers.unwrap_or_default();
    if peers.is_empty() {
        errs.push(field, "Required value: must have at least 1 item");
    }
    if peers.len() > 100 {
        errs.push(field, "Too many: must have at most 100 items");
    }
    let mut out = Vec::new();
    for (i, p) in peers.iter().enumerate() {
        let f = format!("{field}[{i}]");
        // Ingress peers have no networks, nodes or domainNames: a structural schema prunes
        // them, which leaves the peer without a field.
        let (nodes, networks, domains) = match ingress {
            true => (None, None, None),
            false => (
                p.nodes.as_ref(),
                p.networks.as_ref(),
                p.domain_names.as_ref(),
            ),
        };
        let set = [
            p.namespaces.is_some(),
            p.pods.is_some(),
            nodes.is_some(),
            networks.is_some(),
            domains.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            errs.push(
                &f,
                "exactly one of namespaces, pods, nodes, networks or domainNames must be set",
            );
            continue;
        }
        if let Some(ns) = &p.namespaces {
            out.push(TierPeer::Namespaces(selector(
                Some(ns),
                &format!("{f}.namespaces"),
                errs,
            )));
        } else if let Some(pods) = &p.pods {
            let (namespaces, pods) = namespaced_pod(pods, &format!("{f}.pods"), errs);
            out.push(TierPeer::Pods { namespaces, pods });
        } else if let Some(nodes) = nodes {
            out.push(TierPeer::Nodes(selector(
                Some(nodes),
                &format!("{f}.nodes"),
                errs,
            )));
        } else if let Some(networks) = networks {
            out.push(compile_networks(networks, &format!("{f}.networks"), errs));
        } else if let Some(domains) = domains {
            if domains.is_empty() || domains.len() > 25 {
                errs.push(format!("{f}.domainNames"), "must have 1 to 25 items");
            }
            out.push(TierPeer::DomainNames(domains.clone()));
        }
    }
    out
}

fn compile_networks(cidrs: &[String], field: &str, errs: &mut Errors) -> TierPeer {
    if cidrs.is_empty() || cidrs.len() > 25 {
        errs.push(field, "must have 1 to 25 items");
    }
    let mut set = IpSet::default();
    for (i, c) in cidrs.iter().enumerate() {
        match Cidr::parse(c) {
            Ok(cidr) => set = set.union(&IpSet::from_cidr(cidr)),
            Err(e) => errs.push(format!("{field}[{i}]"), format!("Invalid CIDR format: {e}")),
        }
    }
    TierPeer::Networks {
        cidrs: cidrs.to_vec(),
        set,
    }
}

fn port(n: Option<i64>, field: &str, errs: &mut Errors) -> Option<u16> {
    match n.and_then(|n| u16::try_from(n).ok()).filter(|p| *p >= 1) {
        Some(p) => Some(p),
        None => {
            errs.push(field, "must be between 1 and 65535, inclusive");
            None
        }
    }
}

fn protocol(p: Option<&str>, field: &str, errs: &mut Errors) -> Option<Protocol> {
    match p {
        None => Some(Protocol::Tcp),
        Some(s) => Protocol::parse(s).or_else(|| {
            errs.push(
                field,
                format!("Unsupported value: {s:?}: supported values: \"SCTP\", \"TCP\", \"UDP\""),
            );
            None
        }),
    }
}

fn range(r: &RawRange, proto: Protocol, field: &str, errs: &mut Errors) -> Option<TierPort> {
    let lo = port(r.start, &format!("{field}.start"), errs)?;
    let hi = port(r.end, &format!("{field}.end"), errs)?;
    if lo > hi {
        errs.push(field, "Start port must be less than End port");
        return None;
    }
    Some(TierPort::Range { proto, lo, hi })
}

fn compile_v1_ports(
    ports: Option<&[RawV1Port]>,
    field: &str,
    errs: &mut Errors,
) -> Option<Vec<TierPort>> {
    let ports = ports?;
    let mut out = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match (&p.port_number, &p.named_port, &p.port_range) {
            (Some(n), None, None) => {
                let proto = protocol(
                    n.protocol.as_deref(),
                    &format!("{f}.portNumber.protocol"),
                    errs,
                );
                let number = port(n.port, &format!("{f}.portNumber.port"), errs);
                if let (Some(proto), Some(p)) = (proto, number) {
                    out.push(TierPort::Range {
                        proto,
                        lo: p,
                        hi: p,
                    });
                }
            }
            (None, Some(name), None) => out.push(TierPort::Named(name.clone())),
            (None, None, Some(r)) => {
                let f = format!("{f}.portRange");
                if let Some(proto) = protocol(r.protocol.as_deref(), &format!("{f}.protocol"), errs)
                    && let Some(port) = range(r, proto, &f, errs)
                {
                    out.push(port);
                }
            }
            _ => errs.push(
                &f,
                "exactly one of portNumber, namedPort or portRange must be set",
            ),
        }
    }
    Some(out)
}

fn compile_protocols(
    protocols: Option<&[RawProtocol]>,
    field: &str,
    errs: &mut Errors,
) -> Option<Vec<TierPort>> {
    let protocols = protocols?;
    if protocols.is_empty() || protocols.len() > 25 {
        errs.push(field, "must have 1 to 25 items");
    }
    let mut out = Vec::new();
    for (i, p) in protocols.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let given = [
            (Protocol::Tcp, "tcp", p.tcp.as_ref()),
            (Protocol::Udp, "udp", p.udp.as_ref()),
            (Protocol::Sctp, "sctp", p.sctp.as_ref()),
        ];
        let set: Vec<_> = given.iter().filter(|(_, _, d)| d.is_some()).collect();
        match (set.as_slice(), &p.destination_named_port) {
            ([(proto, name, Some(dest))], None) => {
                let f = format!("{f}.{name}.destinationPort");
                match &dest.destination_port {
                    None => out.push(TierPort::Range {
                        proto: *proto,
                        lo: 1,
                        hi: 65535,
                    }),
                    Some(RawV2Port {
                        number: Some(n),
                        range: None,
                    }) => {
                        if let Some(n) = port(Some(*n), &format!("{f}.number"), errs) {
                            out.push(TierPort::Range {
                                proto: *proto,
                                lo: n,
                                hi: n,
                            });
                        }
                    }
                    Some(RawV2Port {
                        number: None,
                        range: Some(r),
                    }) => {
                        let f = format!("{f}.range");
                        if r.start >= r.end && r.start.is_some() && r.end.is_some() {
                            errs.push(&f, "Start port must be less than End port");
                        } else if let Some(port) = range(r, *proto, &f, errs) {
                            out.push(port);
                        }
                    }
                    Some(_) => errs.push(&f, "exactly one of number or range must be set"),
                }
            }
            ([], Some(name)) => out.push(TierPort::Named(name.clone())),
            _ => errs.push(
                &f,
                "exactly one of tcp, udp, sctp or destinationNamedPort must be set",
            ),
        }
    }
    Some(out)
}
