//! Lint rules over the compiled policies and the pod classes. See `findings.rs` for the catalogue.

use std::collections::HashMap;
use std::rc::Rc;

use super::dns::dns_findings;
use super::findings::{
    Finding, INGRESS_FROM_WORLD, INVALID_POLICY, NAMED_PORT_UNRESOLVED, NAMESPACE_SELECTOR_ALL,
    NO_DEFAULT_DENY_EGRESS, NO_DEFAULT_DENY_INGRESS, PEER_SELECTS_NOTHING, SELECTS_NO_POD,
};
use super::lint_cilium::cilium_findings;
use super::lint_tiers::tier_findings;
use super::tenants::{Group, TenantRules};
use crate::model::{ClusterSnapshot, ObjectRef};
use crate::policy::compile::{NamespaceMatch, PeerSpec, PortSpec};
use crate::policy::matching::{Target, container_protocol, peer_matches, selects};
use crate::policy::{CompiledPolicy, Direction, Engine};

/// Every lint finding for the cluster, sorted by severity (worst first), then object.
pub fn lint(engine: &Engine, snapshot: &ClusterSnapshot, rules: &TenantRules) -> Vec<Finding> {
    let mut findings: Vec<Finding> = engine
        .validation_errors()
        .filter(|e| e.kind == "NetworkPolicy")
        .map(|e| {
            Finding::new(
                INVALID_POLICY,
                &e.object.namespace,
                format!("netpol {}", e.object),
                format!("{}: {}", e.field, e.reason),
            )
        })
        .collect();
    findings.extend(default_deny_findings(engine, snapshot, rules));
    findings.extend(dns_findings(engine));
    findings.extend(tier_findings(engine, snapshot));
    findings.extend(cilium_findings(engine, snapshot));
    findings.extend(super::lint_staged::staged_findings(engine, snapshot, rules));
    findings.extend(super::lint_calico::calico_findings(engine));
    let mut peers = PeerMatches::new();
    for policy in engine.policies().values() {
        findings.extend(policy_findings(engine, policy, snapshot, rules, &mut peers));
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.id.cmp(b.id))
    });
    findings
}

fn is_tenant(namespace: &str, snapshot: &ClusterSnapshot, rules: &TenantRules) -> bool {
    matches!(rules.group_in(snapshot, namespace), Group::Tenant(_))
}

fn default_deny_findings(
    engine: &Engine,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for namespace in snapshot
        .namespaces
        .keys()
        .filter(|ns| is_tenant(ns, snapshot, rules))
    {
        let catch_all = |dir: Direction| {
            engine
                .policies()
                .range(ObjectRef::new(namespace, "")..)
                .take_while(|(id, _)| id.namespace == *namespace)
                .any(|(_, p)| p.pod_selector.is_everything() && p.rules(dir).is_some())
        };
        for (dir, rule) in [
            (Direction::Ingress, NO_DEFAULT_DENY_INGRESS),
            (Direction::Egress, NO_DEFAULT_DENY_EGRESS),
        ] {
            if !catch_all(dir) {
                let message = format!(
                    "no policy selects every pod for {}: pods no other policy selects accept all {} traffic",
                    dir.as_str(),
                    if dir == Direction::Ingress {
                        "incoming"
                    } else {
                        "outgoing"
                    }
                );
                findings.push(Finding::new(
                    rule,
                    namespace,
                    format!("namespace {namespace}"),
                    message,
                ));
            }
        }
    }
    findings
}

/// Whether the namespaces a peer names exist (the policy's own counts even before it is
/// created): an empty pod selector over them is "every pod there", not a typo.
fn namespaces_exist(namespaces: &NamespaceMatch, snapshot: &ClusterSnapshot) -> bool {
    match namespaces {
        NamespaceMatch::Own => true,
        NamespaceMatch::Selector(selector) => snapshot
            .namespaces
            .values()
            .any(|ns| selector.matches(&ns.labels)),
    }
}

/// The classes a pod peer can take in: its own namespace's, or those of the namespaces its
/// selector matches (tested once per namespace, not once per class).
fn peer_candidates(engine: &Engine, namespaces: &NamespaceMatch, own: &str) -> Vec<usize> {
    let classes = engine.classes();
    match namespaces {
        NamespaceMatch::Own => classes.by_namespace.get(own).cloned().unwrap_or_default(),
        NamespaceMatch::Selector(selector) => {
            classes.of_namespaces_where(|ep| selector.matches(&ep.ns_labels))
        }
    }
}

/// The classes each pod peer matches, by peer (and namespace, for peers of the policy's own):
/// a tenant's policies repeat the same peers, and each costs a pass over the namespaces.
type PeerMatches<'a> = HashMap<(Option<&'a str>, &'a PeerSpec), Rc<Vec<usize>>>;

fn matched_classes<'a>(
    engine: &Engine,
    namespace: &'a str,
    peer: &'a PeerSpec,
    memo: &mut PeerMatches<'a>,
) -> Rc<Vec<usize>> {
    let PeerSpec::Pods { namespaces, .. } = peer else {
        return Rc::default();
    };
    let own = matches!(namespaces, NamespaceMatch::Own);
    let key = (own.then_some(namespace), peer);
    if let Some(found) = memo.get(&key) {
        return found.clone();
    }
    let classes = &engine.classes().classes;
    let ip_block_pods = engine.settings().ip_block_pods;
    let matched: Rc<Vec<usize>> = Rc::new(
        peer_candidates(engine, namespaces, namespace)
            .into_iter()
            .filter(|c| {
                peer_matches(
                    peer,
                    namespace,
                    Target::Pod(&classes[*c].endpoint),
                    ip_block_pods,
                )
            })
            .collect(),
    );
    memo.insert(key, matched.clone());
    matched
}

fn policy_findings<'a>(
    engine: &Engine,
    policy: &'a CompiledPolicy,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
    peers: &mut PeerMatches<'a>,
) -> Vec<Finding> {
    let classes = &engine.classes().classes;
    let namespace = policy.namespace();
    let object = format!("netpol {}", policy.id);
    let mut findings = Vec::new();
    let selected: Vec<usize> = engine
        .classes()
        .by_namespace
        .get(namespace)
        .into_iter()
        .flatten()
        .copied()
        .filter(|c| selects(policy, &classes[*c].endpoint))
        .collect();
    // Selection can only be judged against pods: manifests without any (a baseline checked on
    // its own) say nothing about typos. An empty podSelector cannot be a typo at all.
    let judge_selection = !snapshot.pods.is_empty();
    if selected.is_empty() && judge_selection && !policy.pod_selector.is_everything() {
        findings.push(Finding::new(
            SELECTS_NO_POD,
            namespace,
            &object,
            "its podSelector matches no pod in the namespace",
        ));
    }
    let tenant = is_tenant(namespace, snapshot, rules);
    for dir in [Direction::Ingress, Direction::Egress] {
        for (r, rule) in policy.rules(dir).unwrap_or_default().iter().enumerate() {
            let field = format!("spec.{}[{r}]", dir.as_str().to_lowercase());
            let peer_field = if dir == Direction::Ingress {
                "from"
            } else {
                "to"
            };
            // Destination classes of this rule, for named port resolution.
            let mut destinations: Vec<usize> = if dir == Direction::Ingress {
                selected.clone()
            } else {
                Vec::new()
            };
            for (p, peer) in rule.peers.iter().flatten().enumerate() {
                let at = format!("{field}.{peer_field}[{p}]");
                match peer {
                    PeerSpec::Pods { namespaces, pods } => {
                        let matched = matched_classes(engine, namespace, peer, peers);
                        if matched.is_empty()
                            && judge_selection
                            && !(pods.is_everything() && namespaces_exist(namespaces, snapshot))
                        {
                            findings.push(Finding::new(
                                PEER_SELECTS_NOTHING,
                                namespace,
                                &object,
                                format!("{at} matches no pod in the cluster"),
                            ));
                        }
                        if dir == Direction::Egress {
                            destinations.extend(matched.iter().copied());
                        }
                        if tenant
                            && matches!(namespaces, NamespaceMatch::Selector(s) if s.is_everything())
                        {
                            let scope = if pods.is_everything() {
                                "every pod".to_string()
                            } else {
                                "matching pods".to_string()
                            };
                            let way = if dir == Direction::Ingress {
                                "from"
                            } else {
                                "to"
                            };
                            findings.push(Finding::new(
                                NAMESPACE_SELECTOR_ALL,
                                namespace,
                                &object,
                                format!("{at}: `namespaceSelector: {{}}` allows {dir_word} {way} {scope} of every namespace, other tenants included", dir_word = dir.as_str().to_lowercase()),
                            ));
                        }
                    }
                    PeerSpec::IpBlock { cidr, .. } => {
                        if dir == Direction::Ingress && (cidr == "0.0.0.0/0" || cidr == "::/0") {
                            findings.push(Finding::new(
                                INGRESS_FROM_WORLD,
                                namespace,
                                &object,
                                format!("{at}.ipBlock: ingress from {cidr} (the whole internet)"),
                            ));
                        }
                    }
                }
            }
            if rule.peers.is_none() && dir == Direction::Egress {
                destinations.extend(0..classes.len());
            }
            for port in rule.ports.iter().flatten() {
                let PortSpec::Named { proto, name } = port else {
                    continue;
                };
                let resolves = destinations.iter().any(|c| {
                    classes[*c]
                        .endpoint
                        .ports
                        .iter()
                        .any(|np| np.name == *name && container_protocol(np) == Some(*proto))
                });
                if !resolves && !destinations.is_empty() {
                    findings.push(Finding::new(
                        NAMED_PORT_UNRESOLVED,
                        namespace,
                        &object,
                        format!("{field}.ports: `{name}` ({proto}) is not a containerPort of any destination pod"),
                    ));
                }
            }
        }
    }
    findings
}
