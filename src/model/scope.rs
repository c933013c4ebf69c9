//! What part of the cluster the user can see: everything, or some namespaces only (a Role
//! bound in a few namespaces, or `-n`/`contexts.toml` asked for them). Said plainly wherever
//! the matrix is shown: cells to or from the namespaces not seen are unknown.

/// Why only some namespaces are watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeReason {
    /// `-n/--namespace` or the context's `namespaces` in `contexts.toml`.
    Asked,
    /// The cluster-wide list was refused (403); this is the server's message.
    ClusterForbidden(String),
}

/// The namespaces watched when the whole cluster is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceScope {
    /// The namespaces watched (pods, policies, namespaced CNI policies), sorted.
    pub namespaces: Vec<String>,
    pub reason: ScopeReason,
    /// Namespaces considered but not watched, each with why (an access review said no).
    pub refused: Vec<(String, String)>,
    /// Whether the Namespace objects could be read; when not, a namespace's only known label
    /// is `kubernetes.io/metadata.name`, which the API server always sets.
    pub labels_known: bool,
    /// With the labels unknown: the NetworkPolicies (`ns/name`) whose namespaceSelectors read
    /// other labels, which cannot be evaluated (see [`NamespaceScope::with_selectors`]).
    pub undecided_selectors: Vec<String>,
}

/// The label the API server sets on every namespace: the only one known when Namespace
/// objects cannot be read.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl NamespaceScope {
    /// The sentence for the console's warning line and the headless commands.
    pub fn line(&self) -> String {
        let count = self.namespaces.len();
        let mut line = if count == 0 {
            "you can see 0 of ? namespaces: pass -n NAMESPACE or set namespaces for this context in contexts.toml".to_string()
        } else {
            format!(
                "you can see {count} of ? namespaces ({}): cells to or from other namespaces are unknown",
                self.namespaces.join(", ")
            )
        };
        if let ScopeReason::ClusterForbidden(_) = self.reason {
            line.push_str(" (cluster-wide lists are forbidden to you)");
        }
        if !self.labels_known && count > 0 {
            line.push_str(&format!(
                "; namespace labels unreadable (only {NAME_LABEL})"
            ));
        }
        if !self.undecided_selectors.is_empty() {
            line.push_str(&format!(
                "; cells that the namespace selectors of {} decide are unknown",
                self.undecided_selectors.join(", ")
            ));
        }
        if !self.refused.is_empty() {
            let names: Vec<&str> = self.refused.iter().map(|(ns, _)| ns.as_str()).collect();
            line.push_str(&format!("; not allowed to watch {}", names.join(", ")));
        }
        line
    }

    /// The JSON form for `analyze` and `check`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "namespaces": self.namespaces,
            "total_namespaces": null,
            "reason": match &self.reason {
                ScopeReason::Asked => "asked".to_string(),
                ScopeReason::ClusterForbidden(_) => "cluster-wide lists forbidden".to_string(),
            },
            "namespace_labels_known": self.labels_known,
            "refused": self.refused.iter()
                .map(|(ns, why)| serde_json::json!({"namespace": ns, "reason": why}))
                .collect::<Vec<_>>(),
            "unknown": "cells to or from namespaces outside this list",
            "undecided_selectors": self.undecided_selectors,
        })
    }

    /// The scope with `undecided_selectors` filled from `snapshot`'s NetworkPolicies, when the
    /// namespace labels are unknown: a namespaceSelector on another label than
    /// `kubernetes.io/metadata.name` may or may not match a namespace, so the cells it
    /// decides are unknown (see `isolation::unreadable`).
    pub fn with_selectors(mut self, snapshot: &super::ClusterSnapshot) -> NamespaceScope {
        if self.labels_known {
            return self;
        }
        self.undecided_selectors = snapshot
            .policies
            .values()
            .filter(|p| policy_reads_other_labels(&p.object))
            .map(|p| p.id.to_string())
            .collect();
        self
    }

    /// The scope with `ids` (policies the analysis found selecting by unreadable namespace
    /// labels, CiliumNetworkPolicies included) among the `undecided_selectors`.
    pub fn with_undecided(mut self, ids: impl IntoIterator<Item = String>) -> NamespaceScope {
        self.undecided_selectors.extend(ids);
        self.undecided_selectors.sort();
        self.undecided_selectors.dedup();
        self
    }

    /// Whether `namespace` is one of those seen.
    pub fn sees(&self, namespace: &str) -> bool {
        self.namespaces.iter().any(|ns| ns == namespace)
    }
}

/// Whether a peer of `policy` selects namespaces by a label other than the name label.
fn policy_reads_other_labels(policy: &k8s_openapi::api::networking::v1::NetworkPolicy) -> bool {
    let Some(spec) = &policy.spec else {
        return false;
    };
    let ingress = spec
        .ingress
        .iter()
        .flatten()
        .flat_map(|r| r.from.iter().flatten());
    let egress = spec
        .egress
        .iter()
        .flatten()
        .flat_map(|r| r.to.iter().flatten());
    ingress
        .chain(egress)
        .filter_map(|peer| peer.namespace_selector.as_ref())
        .any(reads_other_labels)
}

/// Whether a namespaceSelector reads a label other than the name label: with the labels
/// unreadable, whether it matches a namespace cannot be known.
pub fn reads_other_labels(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> bool {
    let labels = selector.match_labels.iter().flatten().map(|(k, _)| k);
    let expressions = selector.match_expressions.iter().flatten().map(|e| &e.key);
    labels.chain(expressions).any(|key| key != NAME_LABEL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_is_hidden() {
        let scope = NamespaceScope {
            namespaces: vec!["acme-api".into(), "acme-web".into()],
            reason: ScopeReason::ClusterForbidden("pods is forbidden".into()),
            refused: vec![("globex-web".into(), "no list on pods".into())],
            labels_known: false,
            undecided_selectors: Vec::new(),
        };
        let line = scope.line();
        assert!(
            line.starts_with("you can see 2 of ? namespaces (acme-api, acme-web): cells to or from other namespaces are unknown"),
            "{line}"
        );
        assert!(
            line.contains("namespace labels unreadable (only kubernetes.io/metadata.name)"),
            "{line}"
        );
        assert!(line.contains("not allowed to watch globex-web"), "{line}");
        assert!(scope.sees("acme-web") && !scope.sees("globex-web"));
        let json = scope.to_json();
        assert_eq!(
            json["namespaces"],
            serde_json::json!(["acme-api", "acme-web"])
        );
        assert_eq!(json["namespace_labels_known"], serde_json::json!(false));
    }

    #[test]
    fn namespace_selectors_on_unknown_labels_are_named_as_undecided() {
        use k8s_openapi::api::networking::v1::NetworkPolicy;
        let policy = |name: &str, selector: serde_json::Value| {
            let object: NetworkPolicy = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "acme-web"},
                "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": selector}]}]},
            }))
            .unwrap();
            crate::model::ClusterObject::Policy(crate::model::PolicyInfo {
                id: crate::model::ObjectRef::new("acme-web", name),
                object,
            })
        };
        let mut snapshot = crate::model::ClusterSnapshot::default();
        snapshot.replace_kind(
            crate::model::ResourceKind::NetworkPolicy,
            vec![
                policy(
                    "by-tenant",
                    serde_json::json!({"matchLabels": {"tenant": "acme"}}),
                ),
                policy(
                    "by-name",
                    serde_json::json!({"matchLabels": {NAME_LABEL: "acme-api"}}),
                ),
                policy("any", serde_json::json!({})),
            ],
        );
        let scope = NamespaceScope {
            namespaces: vec!["acme-web".into()],
            reason: ScopeReason::Asked,
            refused: Vec::new(),
            labels_known: false,
            undecided_selectors: Vec::new(),
        };
        let unknown = scope.clone().with_selectors(&snapshot);
        assert_eq!(unknown.undecided_selectors, ["acme-web/by-tenant"]);
        assert!(unknown.line().contains(
            "cells that the namespace selectors of acme-web/by-tenant decide are unknown"
        ));
        let with_cilium = unknown.with_undecided(["cnp/acme-web/deny-initech".to_string()]);
        assert_eq!(
            with_cilium.undecided_selectors,
            ["acme-web/by-tenant", "cnp/acme-web/deny-initech"]
        );
        let known = NamespaceScope {
            labels_known: true,
            ..scope
        };
        assert!(
            known
                .with_selectors(&snapshot)
                .undecided_selectors
                .is_empty()
        );
    }
}
