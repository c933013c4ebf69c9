//! Which tenant a namespace belongs to.

use crate::model::{ClusterSnapshot, Labels};

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
                "projectcapsule.dev/tenant",
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

/// Which rule put a namespace in its group, for the tenant detail (short: it ends a line of the
/// detail pane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A tenant label, e.g. `capsule.clastix.io/tenant`.
    Label(String),
    /// HNC's depth labels: the root of the namespace's tree, and how deep it sits.
    HncRoot {
        root: String,
        depth: u32,
    },
    /// A `--tenant-pattern` (or `contexts.toml`) name pattern.
    NamePattern(String),
    /// A platform name pattern.
    PlatformName(String),
    /// HNC's root of a tree of its own (no tenant label, no pattern, no platform name).
    HncOwnRoot,
    Unassigned,
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Placement::Label(key) => write!(f, "label {key}"),
            Placement::HncRoot { root, depth } => write!(f, "HNC root {root}, {depth} up"),
            Placement::NamePattern(pattern) => write!(f, "pattern {pattern}"),
            Placement::PlatformName(pattern) => write!(f, "platform name {pattern}"),
            Placement::HncOwnRoot => f.write_str("HNC root itself"),
            Placement::Unassigned => f.write_str("no rule"),
        }
    }
}

/// HNC labels every namespace it manages with `<ancestor>.tree.hnc.x-k8s.io/depth: N`, one per
/// ancestor and itself (N = 0); the root is the ancestor with the greatest depth.
pub const HNC_DEPTH_SUFFIX: &str = ".tree.hnc.x-k8s.io/depth";

/// The root of the namespace's HNC tree and its depth below it, when HNC labels say so.
fn hnc_root(labels: &Labels) -> Option<(String, u32)> {
    labels
        .iter()
        .filter_map(|(key, value)| {
            let ancestor = key.strip_suffix(HNC_DEPTH_SUFFIX)?;
            Some((ancestor, value.parse::<u32>().ok()?))
        })
        .max_by_key(|(_, depth)| *depth)
        .map(|(root, depth)| (root.to_string(), depth))
}

impl TenantRules {
    pub fn group_of(&self, namespace: &str, labels: &Labels) -> Group {
        self.placement(namespace, labels).0
    }

    /// The group of a namespace with its labels as `snapshot` has them (none when absent).
    pub fn group_in(&self, snapshot: &ClusterSnapshot, namespace: &str) -> Group {
        match snapshot.namespaces.get(namespace) {
            Some(ns) => self.group_of(namespace, &ns.labels),
            None => self.group_of(namespace, &Labels::new()),
        }
    }

    /// The group and the rule that chose it. In order: a tenant label, an HNC parent tree (the
    /// root is the tenant), a name pattern, a platform name, and last an HNC root of its own
    /// (so platform namespaces HNC also labels stay platform).
    pub fn placement(&self, namespace: &str, labels: &Labels) -> (Group, Placement) {
        if let Some((key, tenant)) = self
            .label_keys
            .iter()
            .find_map(|key| labels.get(key).filter(|v| !v.is_empty()).map(|v| (key, v)))
        {
            return (Group::Tenant(tenant.clone()), Placement::Label(key.clone()));
        }
        let hnc = hnc_root(labels);
        if let Some((root, depth)) = hnc.clone().filter(|(_, depth)| *depth > 0) {
            return (
                Group::Tenant(root.clone()),
                Placement::HncRoot { root, depth },
            );
        }
        if let Some((tenant, pattern)) = self
            .name_patterns
            .iter()
            .find(|(_, pattern)| name_matches(pattern, namespace))
        {
            return (
                Group::Tenant(tenant.clone()),
                Placement::NamePattern(pattern.clone()),
            );
        }
        if let Some(pattern) = self
            .platform_namespaces
            .iter()
            .find(|pattern| name_matches(pattern, namespace))
        {
            return (Group::Platform, Placement::PlatformName(pattern.clone()));
        }
        if hnc.is_some_and(|(root, _)| root == namespace) {
            return (Group::Tenant(namespace.to_string()), Placement::HncOwnRoot);
        }
        (Group::Unassigned, Placement::Unassigned)
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

    /// HNC's documented labels: `acme-web` under `acme` under `org` carries
    /// `acme-web.tree…: 0`, `acme.tree…: 1`, `org.tree…: 2`; the root is the tenant.
    #[test]
    fn hnc_depth_labels_put_a_namespace_in_its_root_tenant() {
        let rules = TenantRules::default();
        let child = labels(&[
            ("acme-web.tree.hnc.x-k8s.io/depth", "0"),
            ("acme.tree.hnc.x-k8s.io/depth", "1"),
            ("org.tree.hnc.x-k8s.io/depth", "2"),
        ]);
        assert_eq!(
            rules.placement("acme-web", &child),
            (
                Group::Tenant("org".into()),
                Placement::HncRoot {
                    root: "org".into(),
                    depth: 2
                }
            )
        );
        // A root of its own is its own tenant, unless a platform name says otherwise.
        let root = labels(&[("org.tree.hnc.x-k8s.io/depth", "0")]);
        assert_eq!(
            rules.placement("org", &root),
            (Group::Tenant("org".into()), Placement::HncOwnRoot)
        );
        let monitoring = labels(&[("monitoring.tree.hnc.x-k8s.io/depth", "0")]);
        assert_eq!(rules.group_of("monitoring", &monitoring), Group::Platform);
        // A tenant label wins over the tree; a bad depth value is ignored.
        let labelled = labels(&[("tenant", "acme"), ("org.tree.hnc.x-k8s.io/depth", "1")]);
        assert_eq!(
            rules.placement("x", &labelled),
            (
                Group::Tenant("acme".into()),
                Placement::Label("tenant".into())
            )
        );
        let bad = labels(&[("org.tree.hnc.x-k8s.io/depth", "two")]);
        assert_eq!(rules.group_of("x", &bad), Group::Unassigned);
    }

    #[test]
    fn capsule_old_and_new_and_flux_labels_are_recognised_by_default() {
        let rules = TenantRules::default();
        for key in [
            "capsule.clastix.io/tenant",
            "projectcapsule.dev/tenant",
            "toolkit.fluxcd.io/tenant",
        ] {
            assert_eq!(
                rules.placement("ns", &labels(&[(key, "oil")])),
                (Group::Tenant("oil".into()), Placement::Label(key.into())),
                "{key}"
            );
        }
        assert_eq!(
            rules.placement("kube-system", &Labels::new()).1.to_string(),
            "platform name kube-system"
        );
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
