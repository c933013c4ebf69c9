//! Findings: what the static analysis reports, with stable ids, severities and fix hints.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Error]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A rule of the catalogue. Ids never change meaning once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub hint: &'static str,
}

pub const INVALID_POLICY: Rule = Rule {
    id: "PAL001",
    severity: Severity::Error,
    title: "invalid NetworkPolicy",
    hint: "Fix the field named in the message; the API server rejects this policy.",
};
pub const NO_DEFAULT_DENY_INGRESS: Rule = Rule {
    id: "PAL010",
    severity: Severity::Warning,
    title: "tenant namespace without default-deny ingress",
    hint: "Add a policy with `podSelector: {}` and `policyTypes: [Ingress]` (see docs/semantics.md).",
};
pub const NO_DEFAULT_DENY_EGRESS: Rule = Rule {
    id: "PAL011",
    severity: Severity::Warning,
    title: "tenant namespace without default-deny egress",
    hint: "Add a policy with `podSelector: {}` and `policyTypes: [Egress]`, plus a DNS egress allow.",
};
pub const DNS_BLOCKED: Rule = Rule {
    id: "PAL020",
    severity: Severity::Error,
    title: "egress-isolated workload cannot reach kube-dns",
    hint: "Allow egress to kube-system pods labelled k8s-app=kube-dns on UDP 53 and TCP 53.",
};
pub const SELECTS_NO_POD: Rule = Rule {
    id: "PAL030",
    severity: Severity::Warning,
    title: "policy selects no pod",
    hint: "Check the podSelector against the pods' labels; a typo here silently protects nothing.",
};
pub const PEER_SELECTS_NOTHING: Rule = Rule {
    id: "PAL031",
    severity: Severity::Warning,
    title: "rule peer selects no pod",
    hint: "Check the peer's namespaceSelector/podSelector labels; the rule allows nothing today.",
};
pub const NAMESPACE_SELECTOR_ALL: Rule = Rule {
    id: "PAL040",
    severity: Severity::Warning,
    title: "namespaceSelector {} opens the tenant to every other tenant",
    hint: "Select namespaces by the tenant label (e.g. `matchLabels: {tenant: NAME}`) or name the platform namespaces.",
};
pub const INGRESS_FROM_WORLD: Rule = Rule {
    id: "PAL041",
    severity: Severity::Warning,
    title: "ingress from 0.0.0.0/0 or ::/0",
    hint: "Restrict the ipBlock to the load balancer or ingress controller ranges.",
};
pub const NAMED_PORT_UNRESOLVED: Rule = Rule {
    id: "PAL050",
    severity: Severity::Warning,
    title: "named port resolves in no selected pod",
    hint: "Use a port name (with the right protocol) that the destination pods declare in containerPorts.",
};
pub const INTENT_REQUIRED_CLOSED: Rule = Rule {
    id: "PAL060",
    severity: Severity::Error,
    title: "intent breach: a required path is closed",
    hint: "Allow the path in the responsible policies, or update the intent file if it is no longer required.",
};
pub const INTENT_FORBIDDEN_OPEN: Rule = Rule {
    id: "PAL061",
    severity: Severity::Error,
    title: "intent breach: a forbidden path is open",
    hint: "Tighten the policies named here so the path is closed.",
};
pub const INTENT_SELECTS_NOTHING: Rule = Rule {
    id: "PAL062",
    severity: Severity::Warning,
    title: "intent rule selects nothing",
    hint: "Check the rule's tenant, group, namespace and pod labels against the cluster; a rule that names nothing checks nothing.",
};
pub const INVALID_TIER_POLICY: Rule = Rule {
    id: "PAL070",
    severity: Severity::Error,
    title: "invalid tier policy (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy)",
    hint: "Fix the field named in the message; the API server rejects this policy, so it decides nothing.",
};
pub const SAME_PRIORITY_OVERLAP: Rule = Rule {
    id: "PAL071",
    severity: Severity::Warning,
    title: "two tier policies with the same tier and priority overlap",
    hint: "Give one of them another priority: the API leaves the order of equal priorities to the implementation.",
};
pub const SHADOWED_TIER_RULE: Rule = Rule {
    id: "PAL072",
    severity: Severity::Warning,
    title: "tier rule shadowed by an earlier rule",
    hint: "Remove the rule, or move it before the rule that takes in the same peers and ports.",
};
pub const TIER_LIMITS: Rule = Rule {
    id: "PAL073",
    severity: Severity::Error,
    title: "tier policy over the API's limits",
    hint: "Split the policy: 25 rules per direction in v1alpha2 (100 in v1alpha1), 25 entries per from/to in v1alpha2 (100 in v1alpha1).",
};
pub const PASS_WITHOUT_NETWORK_POLICY: Rule = Rule {
    id: "PAL074",
    severity: Severity::Warning,
    title: "Admin Pass with no NetworkPolicy behind it",
    hint: "Add the NetworkPolicies the Pass hands over to, or use Accept/Deny if the Admin tier should decide.",
};
pub const BANP_NAME: Rule = Rule {
    id: "PAL075",
    severity: Severity::Error,
    title: "BaselineAdminNetworkPolicy not named `default`",
    hint: "Name it `default`: v1alpha1 allows one BaselineAdminNetworkPolicy, with that name.",
};
pub const CILIUM_SELECTS_NO_POD: Rule = Rule {
    id: "PAL080",
    severity: Severity::Warning,
    title: "Cilium policy rule selects no pod",
    hint: "Check the endpointSelector against the pods' labels (Cilium's `k8s:` prefixes are optional); a typo here silently protects nothing.",
};
pub const FQDN_WITHOUT_DNS_VISIBILITY: Rule = Rule {
    id: "PAL081",
    severity: Severity::Warning,
    title: "toFQDNs without a DNS rule for the same pods",
    hint: "Add an egress rule to kube-dns with toPorts port 53 and rules.dns (e.g. matchPattern \"*\") for these pods, so Cilium's DNS proxy learns the names' addresses.",
};
pub const CALICO_INVALID: Rule = Rule {
    id: "PAL090",
    severity: Severity::Error,
    title: "invalid Calico object (NetworkPolicy, GlobalNetworkPolicy, Tier, staged kinds)",
    hint: "Fix the field named in the message (selectors say at which character); Calico's API server rejects this object, so it decides nothing.",
};
pub const CALICO_SELECTS_NOTHING: Rule = Rule {
    id: "PAL091",
    severity: Severity::Warning,
    title: "Calico selector that matches no pod",
    hint: "Check the labels (pods carry projectcalico.org/namespace and their namespace's labels as pcns.KEY); all() is never reported.",
};
pub const CALICO_SHADOWED_RULE: Rule = Rule {
    id: "PAL092",
    severity: Severity::Warning,
    title: "Calico rule shadowed by an earlier rule of its tier",
    hint: "Remove the rule, or give its policy a lower order than the policy whose rule takes in the same peers and ports.",
};
pub const CALICO_PASS_IN_LAST_TIER: Rule = Rule {
    id: "PAL093",
    severity: Severity::Warning,
    title: "Calico Pass in the last tier",
    hint: "Pass hands the connection to the next tier; after the last one the namespace's profile allows it. Use Allow or Deny, or add the tier that should decide.",
};
pub const STAGED_CHANGE: Rule = Rule {
    id: "PAL094",
    severity: Severity::Info,
    title: "a Calico staged policy would change a tenant cell",
    hint: "Staged policies are not enforced: this is what applying them would do. Promote them (kubectl apply the enforced kind) when the change is the one you meant.",
};

pub const CATALOGUE: &[Rule] = &[
    INVALID_POLICY,
    NO_DEFAULT_DENY_INGRESS,
    NO_DEFAULT_DENY_EGRESS,
    DNS_BLOCKED,
    SELECTS_NO_POD,
    PEER_SELECTS_NOTHING,
    NAMESPACE_SELECTOR_ALL,
    INGRESS_FROM_WORLD,
    NAMED_PORT_UNRESOLVED,
    INTENT_REQUIRED_CLOSED,
    INTENT_FORBIDDEN_OPEN,
    INTENT_SELECTS_NOTHING,
    INVALID_TIER_POLICY,
    SAME_PRIORITY_OVERLAP,
    SHADOWED_TIER_RULE,
    TIER_LIMITS,
    PASS_WITHOUT_NETWORK_POLICY,
    BANP_NAME,
    CILIUM_SELECTS_NO_POD,
    FQDN_WITHOUT_DNS_VISIBILITY,
    CALICO_INVALID,
    CALICO_SELECTS_NOTHING,
    CALICO_SHADOWED_RULE,
    CALICO_PASS_IN_LAST_TIER,
    STAGED_CHANGE,
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub id: &'static str,
    /// What it is about: `netpol NS/NAME`, `namespace NS`, `pods NS/NAME...`, `cnp/NAME`.
    pub object: String,
    /// The namespace, for attaching findings to the tenants tree; empty for tier policies.
    pub namespace: String,
    pub message: String,
    pub hint: &'static str,
}

impl Finding {
    pub fn new(
        rule: Rule,
        namespace: &str,
        object: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            severity: rule.severity,
            id: rule.id,
            object: object.into(),
            namespace: namespace.to_string(),
            message: message.into(),
            hint: rule.hint,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<7} {} {}: {}",
            self.severity.as_str(),
            self.id,
            self.object,
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|r| r.id).collect();
        assert!(ids.iter().all(|id| id.len() == 6 && id.starts_with("PAL")));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
        assert_eq!(Severity::parse("warning"), Some(Severity::Warning));
        assert_eq!(Severity::parse("fatal"), None);
    }
}
