//! Which tenant a namespace belongs to.

use crate::model::Labels;

/// The group a namespace falls into.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Tenant(String),
    /// kube-system, monitoring, ingress controllers and the like.
    Platform,
    /// Neither a tenant label nor a platform name: often a finding in itself.
    Unassigned,
}

impl Group {
    pub fn label(&self) -> &str {
        match self {
            Self::Tenant(name) => name,
            Self::Platform => "platform",
            Self::Unassigned => "unassigned",
        }
    }
}

/// How namespaces are mapped to tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRules {
    /// Namespace label keys naming the tenant, tried in order.
    pub label_keys: Vec<String>,
    /// Namespace names (exact, or a prefix ending in `*`) that belong to the platform.
    pub platform_namespaces: Vec<String>,
    /// `(tenant, name pattern)`: namespaces without a tenant label whose name matches belong to
    /// that tenant (for clusters that name rather than label their tenants).
    pub name_patterns: Vec<(String, String)>,
}

impl Default for TenantRules {
    fn default() -> Self {
        Self {
            label_keys: [
                "tenant",
                "capsule.clastix.io/tenant",
                "toolkit.fluxcd.io/tenant",
            ]
            .map(String::from)
            .to_vec(),
            name_patterns: Vec::new(),
            platform_namespaces: [
                "kube-system",
                "kube-public",
                "kube-node-lease",
                "monitoring",
                "ingress-*",
                "cert-manager",
                "flux-system",
                "argocd",
                "cilium*",
                "calico-*",
                "tigera-*",
                "shared-*",
                "platform-*",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl TenantRules {
    pub fn group_of(&self, namespace: &str, labels: &Labels) -> Group {
        if let Some(tenant) = self
            .label_keys
            .iter()
            .find_map(|key| labels.get(key).filter(|v| !v.is_empty()))
        {
            return Group::Tenant(tenant.clone());
        }
        if let Some((tenant, _)) = self
            .name_patterns
            .iter()
            .find(|(_, pattern)| name_matches(pattern, namespace))
        {
            return Group::Tenant(tenant.clone());
        }
        if self
            .platform_namespaces
            .iter()
            .any(|pattern| name_matches(pattern, namespace))
        {
            return Group::Platform;
        }
        Group::Unassigned
    }
}

/// Parses `TENANT=PATTERN` (e.g. `acme=acme-*`), as `--tenant-pattern` takes it.
pub fn parse_name_pattern(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((tenant, pattern)) if !tenant.is_empty() && !pattern.is_empty() => {
            Ok((tenant.to_string(), pattern.to_string()))
        }
        _ => Err(format!(
            "expected TENANT=PATTERN (e.g. acme=acme-*), got `{text}`"
        )),
    }
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tenant_label_wins_over_platform_name() {
        let rules = TenantRules::default();
        assert_eq!(
            rules.group_of("monitoring", &labels(&[("tenant", "acme")])),
            Group::Tenant("acme".into())
        );
    }

    #[test]
    fn alternative_label_keys_are_understood() {
        let rules = TenantRules::default();
        assert_eq!(
            rules.group_of("x", &labels(&[("capsule.clastix.io/tenant", "oil")])),
            Group::Tenant("oil".into())
        );
    }

    #[test]
    fn name_patterns_assign_unlabelled_namespaces() {
        let rules = TenantRules {
            name_patterns: vec![
                parse_name_pattern("acme=acme-*").unwrap(),
                parse_name_pattern("ini=initech").unwrap(),
            ],
            ..TenantRules::default()
        };
        assert_eq!(
            rules.group_of("acme-web", &Labels::new()),
            Group::Tenant("acme".into())
        );
        assert_eq!(
            rules.group_of("initech", &Labels::new()),
            Group::Tenant("ini".into())
        );
        assert_eq!(
            rules.group_of("initech-db", &Labels::new()),
            Group::Unassigned
        );
        // A label still wins over a pattern.
        assert_eq!(
            rules.group_of("acme-web", &labels(&[("tenant", "other")])),
            Group::Tenant("other".into())
        );
        assert!(parse_name_pattern("acme").is_err() && parse_name_pattern("=x").is_err());
    }

    #[test]
    fn platform_patterns_and_unassigned() {
        let rules = TenantRules::default();
        assert_eq!(
            rules.group_of("kube-system", &Labels::new()),
            Group::Platform
        );
        assert_eq!(
            rules.group_of("ingress-nginx", &Labels::new()),
            Group::Platform
        );
        assert_eq!(rules.group_of("ingress", &Labels::new()), Group::Unassigned);
        assert_eq!(
            rules.group_of("scratch", &labels(&[("tenant", "")])),
            Group::Unassigned
        );
    }
}
