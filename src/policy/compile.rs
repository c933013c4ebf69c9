//! Compiles a NetworkPolicy into the engine's form, validating it as the API server would.

use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::connset::Protocol;
use super::error::{Errors, ValidationError};
use super::ipset::{Cidr, IpSet};
use super::selector::Selector;
use crate::model::{ObjectRef, PolicyInfo};

/// Ports of one rule entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// `port` (and optional `endPort`) given as numbers; `port` absent means all ports.
    Range { proto: Protocol, lo: u16, hi: u16 },
    /// A named port, resolved against the destination pod's container ports.
    Named { proto: Protocol, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NamespaceMatch {
    /// Peer without namespaceSelector: the policy's own namespace.
    Own,
    Selector(Selector),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerSpec {
    Pods {
        namespaces: NamespaceMatch,
        pods: Selector,
    },
    IpBlock {
        /// The text as written, for explanations.
        cidr: String,
        /// `cidr` minus `except`.
        set: IpSet,
    },
}

/// One ingress or egress rule. `None` means "all" (missing or empty list in the spec).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub peers: Option<Vec<PeerSpec>>,
    pub ports: Option<Vec<PortSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompiledPolicy {
    pub id: ObjectRef,
    pub pod_selector: Selector,
    /// `Some` when the policy applies to ingress (then an empty list denies all ingress).
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
}

impl CompiledPolicy {
    pub fn namespace(&self) -> &str {
        &self.id.namespace
    }

    pub fn rules(&self, dir: Direction) -> Option<&[Rule]> {
        match dir {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
}

/// Compiles and validates; any error rejects the whole policy, as the API server would.
pub fn compile_policy(p: &PolicyInfo) -> Result<CompiledPolicy, Vec<ValidationError>> {
    let mut errs = Errors::new(&p.id);
    let default_spec = Default::default();
    let spec = p.object.spec.as_ref().unwrap_or(&default_spec);
    let pod_selector = spec
        .pod_selector
        .as_ref()
        .map(|s| Selector::compile(s, "spec.podSelector", &mut errs))
        .unwrap_or_default();

    let (mut wants_ingress, mut wants_egress) = (false, false);
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => {
            for (i, t) in types.iter().enumerate() {
                match t.as_str() {
                    "Ingress" => wants_ingress = true,
                    "Egress" => wants_egress = true,
                    other => errs.push(
                        format!("spec.policyTypes[{i}]"),
                        format!(
                            "unsupported value: {other:?} (supported: \"Egress\", \"Ingress\")"
                        ),
                    ),
                }
            }
        }
        // Defaulting: Ingress always; Egress only when egress rules are present.
        _ => {
            wants_ingress = true;
            wants_egress = spec.egress.as_ref().is_some_and(|e| !e.is_empty());
        }
    }

    let mut ingress = Vec::new();
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        let f = format!("spec.ingress[{i}]");
        ingress.push(Rule {
            peers: compile_peers(r.from.as_deref(), &format!("{f}.from"), &mut errs),
            ports: compile_ports(r.ports.as_deref(), &format!("{f}.ports"), &mut errs),
        });
    }
    let mut egress = Vec::new();
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        let f = format!("spec.egress[{i}]");
        egress.push(Rule {
            peers: compile_peers(r.to.as_deref(), &format!("{f}.to"), &mut errs),
            ports: compile_ports(r.ports.as_deref(), &format!("{f}.ports"), &mut errs),
        });
    }
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    Ok(CompiledPolicy {
        id: p.id.clone(),
        pod_selector,
        ingress: wants_ingress.then_some(ingress),
        egress: wants_egress.then_some(egress),
    })
}

fn compile_peers(
    peers: Option<&[NetworkPolicyPeer]>,
    field: &str,
    errs: &mut Errors,
) -> Option<Vec<PeerSpec>> {
    let peers = peers.filter(|p| !p.is_empty())?;
    let mut out = Vec::new();
    for (i, p) in peers.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let selectors = p.pod_selector.is_some() || p.namespace_selector.is_some();
        match (&p.ip_block, selectors) {
            (Some(_), true) => errs.push(&f, "may not specify more than 1 peer"),
            (None, false) => errs.push(&f, "must specify a peer"),
            (Some(b), false) => {
                if let Some(set) = compile_ip_block(b, &format!("{f}.ipBlock"), errs) {
                    out.push(PeerSpec::IpBlock {
                        cidr: b.cidr.clone(),
                        set,
                    });
                }
            }
            (None, true) => {
                let pods = p
                    .pod_selector
                    .as_ref()
                    .map(|s| Selector::compile(s, &format!("{f}.podSelector"), errs))
                    .unwrap_or_default();
                let namespaces = match &p.namespace_selector {
                    Some(s) => NamespaceMatch::Selector(Selector::compile(
                        s,
                        &format!("{f}.namespaceSelector"),
                        errs,
                    )),
                    None => NamespaceMatch::Own,
                };
                out.push(PeerSpec::Pods { namespaces, pods });
            }
        }
    }
    Some(out)
}

fn compile_ip_block(b: &IPBlock, field: &str, errs: &mut Errors) -> Option<IpSet> {
    let cidr = match Cidr::parse(&b.cidr) {
        Ok(c) => c,
        Err(e) => {
            errs.push(format!("{field}.cidr"), e);
            return None;
        }
    };
    let mut set = IpSet::from_cidr(cidr);
    for (i, ex) in b.except.iter().flatten().enumerate() {
        let f = format!("{field}.except[{i}]");
        match Cidr::parse(ex) {
            Err(e) => errs.push(f, e),
            Ok(e) => {
                let strict_subset = e.family == cidr.family
                    && e.lo >= cidr.lo
                    && e.hi <= cidr.hi
                    && (e.lo, e.hi) != (cidr.lo, cidr.hi);
                if !strict_subset {
                    errs.push(f, format!("must be a strict subset of `cidr` {:?}", b.cidr));
                }
                set = set.subtract(&IpSet::from_cidr(e));
            }
        }
    }
    Some(set)
}

fn compile_ports(
    ports: Option<&[NetworkPolicyPort]>,
    field: &str,
    errs: &mut Errors,
) -> Option<Vec<PortSpec>> {
    let ports = ports.filter(|p| !p.is_empty())?;
    let mut out = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let proto = match p.protocol.as_deref() {
            None => Protocol::Tcp,
            Some(s) => match Protocol::parse(s) {
                Some(proto) => proto,
                None => {
                    errs.push(
                        format!("{f}.protocol"),
                        format!("unsupported value: {s:?} (supported: \"SCTP\", \"TCP\", \"UDP\")"),
                    );
                    continue;
                }
            },
        };
        match (&p.port, p.end_port) {
            (None, None) => out.push(PortSpec::Range {
                proto,
                lo: 1,
                hi: 65535,
            }),
            (None, Some(_)) => errs.push(
                format!("{f}.endPort"),
                "may not be specified when `port` is not specified",
            ),
            (Some(IntOrString::Int(n)), end) => {
                let Some(lo) = valid_port(*n) else {
                    errs.push(
                        format!("{f}.port"),
                        "must be between 1 and 65535, inclusive",
                    );
                    continue;
                };
                let hi = match end {
                    None => lo,
                    Some(e) => match valid_port(e) {
                        Some(hi) if hi >= lo => hi,
                        _ => {
                            errs.push(
                                format!("{f}.endPort"),
                                "must be greater than or equal to `port` and at most 65535",
                            );
                            continue;
                        }
                    },
                };
                out.push(PortSpec::Range { proto, lo, hi });
            }
            (Some(IntOrString::String(name)), end) => {
                if end.is_some() {
                    errs.push(
                        format!("{f}.endPort"),
                        "may not be specified when `port` is non-numeric",
                    );
                    continue;
                }
                if !valid_port_name(name) {
                    errs.push(format!("{f}.port"), format!("invalid port name {name:?}"));
                    continue;
                }
                out.push(PortSpec::Named {
                    proto,
                    name: name.clone(),
                });
            }
        }
    }
    Some(out)
}

fn valid_port(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p >= 1)
}

/// IANA service name: 1-15 chars of [a-z0-9-], at least one letter, no leading, trailing or
/// double hyphen.
fn valid_port_name(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}
