//! The intent file: the paths that must stay open and the ones that must stay closed, checked
//! against the computed reachability. Every breach names the policies responsible.
//!
//! ```yaml
//! required:
//!   - name: dns
//!     from: {tenant: "*"}
//!     to: {namespace: kube-system, pods: {k8s-app: kube-dns}}
//!     ports: [UDP/53, TCP/53]
//! forbidden:
//!   - name: cross-tenant
//!     from: {tenant: "*"}
//!     to: {tenant: "*"}
//!     scope: other-tenant
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::findings::{
    Finding, INTENT_FORBIDDEN_OPEN, INTENT_REQUIRED_CLOSED, INTENT_SELECTS_NOTHING,
};
use super::tenants::{Group, TenantRules};
use crate::model::{ClusterSnapshot, Labels};
use crate::policy::classes::PodClass;
use crate::policy::{ConnSet, Engine, Peer, Protocol, explain};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    #[serde(default)]
    pub required: Vec<PathRule>,
    #[serde(default)]
    pub forbidden: Vec<PathRule>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    pub name: String,
    pub from: EndpointSpec,
    pub to: EndpointSpec,
    /// `PROTO/PORT` entries, e.g. `TCP/443`; absent means any connection.
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default)]
    pub scope: Scope,
}

/// Which pods an end of a path means. All given fields must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// A tenant name, or `*` for any tenant.
    pub tenant: Option<String>,
    /// `platform` or `unassigned`.
    pub group: Option<String>,
    pub namespace: Option<String>,
    /// Pod labels that must all be present.
    #[serde(default)]
    pub pods: Labels,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    #[default]
    Any,
    /// Only pairs whose two ends belong to the same tenant.
    SameTenant,
    /// Only pairs whose ends belong to different tenants.
    OtherTenant,
}

impl Intent {
    /// Parses and validates; the error names the line (YAML) or the rule and field.
    pub fn from_yaml(text: &str) -> Result<Intent, String> {
        let intent: Intent = crate::yaml::from_str(text).map_err(|e| match e.location() {
            Some(at) => format!("line {}: {e}", at.line()),
            None => e.to_string(),
        })?;
        for rule in intent.required.iter().chain(&intent.forbidden) {
            parse_ports(&rule.ports).map_err(|e| format!("rule `{}`: ports: {e}", rule.name))?;
            for (end, spec) in [("from", &rule.from), ("to", &rule.to)] {
                if let Some(group) = &spec.group
                    && group != "platform"
                    && group != "unassigned"
                {
                    return Err(format!(
                        "rule `{}`: {end}.group: expected platform or unassigned, got `{group}`",
                        rule.name
                    ));
                }
            }
        }
        Ok(intent)
    }
}

fn parse_ports(ports: &[String]) -> Result<ConnSet, String> {
    if ports.is_empty() {
        return Ok(ConnSet::all());
    }
    let mut set = ConnSet::none();
    for entry in ports {
        let (proto, port) = entry
            .split_once('/')
            .ok_or_else(|| format!("`{entry}`: expected PROTO/PORT, e.g. TCP/443"))?;
        let proto = Protocol::parse(&proto.to_uppercase())
            .ok_or_else(|| format!("`{entry}`: protocol must be TCP, UDP or SCTP"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{entry}`: port must be 1-65535"))?;
        set.union_with(&ConnSet::ports(proto, port, port));
    }
    Ok(set)
}

struct Context<'a> {
    engine: &'a Engine,
    groups: BTreeMap<&'a str, Group>,
}

impl Context<'_> {
    fn group(&self, class: &PodClass) -> Group {
        self.groups
            .get(class.endpoint.namespace.as_str())
            .cloned()
            .unwrap_or(Group::Unassigned)
    }

    fn matches(&self, spec: &EndpointSpec, class: &PodClass) -> bool {
        let group = self.group(class);
        let tenant_ok = match (&spec.tenant, &group) {
            (None, _) => true,
            (Some(want), Group::Tenant(name)) => want == "*" || want == name,
            (Some(_), _) => false,
        };
        let group_ok = spec
            .group
            .as_deref()
            .is_none_or(|g| g == group.label() && !matches!(group, Group::Tenant(_)));
        tenant_ok
            && group_ok
            && spec
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == class.endpoint.namespace)
            && spec
                .pods
                .iter()
                .all(|(k, v)| class.endpoint.labels.get(k) == Some(v))
    }

    fn classes(&self, spec: &EndpointSpec) -> Vec<usize> {
        let classes = &self.engine.classes().classes;
        (0..classes.len())
            .filter(|c| self.matches(spec, &classes[*c]))
            .collect()
    }

    fn in_scope(&self, scope: Scope, s: usize, d: usize) -> bool {
        let classes = &self.engine.classes().classes;
        let (a, b) = (self.group(&classes[s]), self.group(&classes[d]));
        let same = matches!((&a, &b), (Group::Tenant(x), Group::Tenant(y)) if x == y);
        let both_tenants = matches!((&a, &b), (Group::Tenant(_), Group::Tenant(_)));
        match scope {
            Scope::Any => true,
            Scope::SameTenant => same,
            Scope::OtherTenant => both_tenants && !same,
        }
    }

    /// The policies that decide this pair, in words.
    fn responsible(&self, s: usize, d: usize, wanted_open: bool) -> String {
        let e = explain(self.engine, &Peer::Class(s), &Peer::Class(d));
        let mut parts = Vec::new();
        for side in [&e.egress, &e.ingress] {
            let who = if side.direction == crate::policy::Direction::Egress {
                "egress of the source"
            } else {
                "ingress of the destination"
            };
            if !side.isolated() {
                parts.push(format!("{who}: no policy isolates it (all allowed)"));
                continue;
            }
            let names: Vec<String> = side
                .policies
                .iter()
                .filter(|p| wanted_open || !p.allowed.is_empty())
                .map(|p| p.policy.to_string())
                .collect();
            let verb = if wanted_open {
                "limited by"
            } else {
                "allowed by"
            };
            parts.push(format!("{who}: {verb} {}", names.join(", ")));
        }
        parts.join("; ")
    }
}

/// Why a rule checks nothing, if it does: an end that selects no pod, or no pair in scope.
fn selects_nothing(
    rule: &PathRule,
    no_sources: bool,
    no_destinations: bool,
    pairs: usize,
) -> Option<String> {
    let end =
        |name: &str, spec: &EndpointSpec| format!("`{name}` ({}) selects no pod", describe(spec));
    let ends: Vec<String> = [
        no_sources.then(|| end("from", &rule.from)),
        no_destinations.then(|| end("to", &rule.to)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !ends.is_empty() {
        return Some(format!("{}; the rule checks nothing", ends.join(" and ")));
    }
    (pairs == 0).then(|| {
        let scope = match rule.scope {
            Scope::Any => "any",
            Scope::SameTenant => "same-tenant",
            Scope::OtherTenant => "other-tenant",
        };
        format!(
            "both ends select pods, but no pair of different pods is in scope `{scope}`; \
             the rule checks nothing"
        )
    })
}

/// An end as written, for messages: `tenant=*, namespace=kube-system, pods k8s-app=kube-dns`.
fn describe(spec: &EndpointSpec) -> String {
    let mut parts: Vec<String> = [
        ("tenant", &spec.tenant),
        ("group", &spec.group),
        ("namespace", &spec.namespace),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}")))
    .collect();
    if !spec.pods.is_empty() {
        let labels: Vec<String> = spec.pods.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("pods {}", labels.join(",")));
    }
    if parts.is_empty() {
        "every pod".to_string()
    } else {
        parts.join(", ")
    }
}

/// What is wrong between two namespaces for one rule, and a class pair to explain it with.
struct Breach {
    conns: ConnSet,
    example: (usize, usize),
}

/// What the intent says about the cluster: every breach as a finding (one per rule and namespace
/// pair), and which group pairs of the matrix the intent covers and which it finds breached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntentReport {
    pub findings: Vec<Finding>,
    pub covered: BTreeSet<(Group, Group)>,
    pub breached: BTreeSet<(Group, Group)>,
}

/// Every breach of the intent, one finding per rule and namespace pair.
pub fn check_intent(
    intent: &Intent,
    engine: &Engine,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
) -> Vec<Finding> {
    intent_report(intent, engine, snapshot, rules).findings
}

pub fn intent_report(
    intent: &Intent,
    engine: &Engine,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
) -> IntentReport {
    let ctx = Context {
        engine,
        groups: snapshot
            .namespaces
            .values()
            .map(|ns| (ns.name.as_str(), rules.group_of(&ns.name, &ns.labels)))
            .collect(),
    };
    let classes = &engine.classes().classes;
    let mut report = IntentReport::default();
    for (rule, required) in intent
        .required
        .iter()
        .map(|r| (r, true))
        .chain(intent.forbidden.iter().map(|r| (r, false)))
    {
        let ports = parse_ports(&rule.ports).unwrap_or_else(|_| ConnSet::all());
        let sources = ctx.classes(&rule.from);
        let destinations = ctx.classes(&rule.to);
        let mut breaches: BTreeMap<(&str, &str), Breach> = BTreeMap::new();
        let mut pairs = 0usize;
        for &s in &sources {
            for &d in destinations
                .iter()
                .filter(|d| **d != s && ctx.in_scope(rule.scope, s, **d))
            {
                pairs += 1;
                let groups = (ctx.group(&classes[s]), ctx.group(&classes[d]));
                let allowed = engine
                    .allowed(&Peer::Class(s), &Peer::Class(d))
                    .intersect(&ports);
                let at_fault = if required {
                    ports.subtract(&allowed)
                } else {
                    allowed
                };
                if at_fault.is_empty() {
                    report.covered.insert(groups);
                    continue;
                }
                report.covered.insert(groups.clone());
                report.breached.insert(groups);
                let key = (
                    classes[s].endpoint.namespace.as_str(),
                    classes[d].endpoint.namespace.as_str(),
                );
                breaches
                    .entry(key)
                    .or_insert_with(|| Breach {
                        conns: ConnSet::none(),
                        example: (s, d),
                    })
                    .conns
                    .union_with(&at_fault);
            }
        }
        if let Some(what) =
            selects_nothing(rule, sources.is_empty(), destinations.is_empty(), pairs)
        {
            let namespace = [&rule.from, &rule.to]
                .iter()
                .find_map(|end| end.namespace.as_deref())
                .unwrap_or_default();
            report.findings.push(Finding::new(
                INTENT_SELECTS_NOTHING,
                namespace,
                format!("intent `{}`", rule.name),
                what,
            ));
        }
        for (
            (from_ns, to_ns),
            Breach {
                conns,
                example: (s, d),
            },
        ) in breaches
        {
            let (finding_rule, what) = if required {
                (
                    INTENT_REQUIRED_CLOSED,
                    format!("required path is closed for {conns}"),
                )
            } else {
                (
                    INTENT_FORBIDDEN_OPEN,
                    format!("forbidden path is open for {conns}"),
                )
            };
            report.findings.push(Finding::new(
                finding_rule,
                from_ns,
                format!("intent `{}`: {from_ns} → {to_ns}", rule.name),
                format!("{what}; {}", ctx.responsible(s, d, required)),
            ));
        }
    }
    report
}
