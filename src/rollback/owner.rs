//! GitOps ownership of a policy, from its labels and annotations (pure). A GitOps controller
//! reconciles the policy back to what its source says, reverting a rollback.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::history::PolicyObject;

pub const FLUX_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
pub const FLUX_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";
pub const ARGO_INSTANCE: &str = "argocd.argoproj.io/instance";
pub const ARGO_TRACKING: &str = "argocd.argoproj.io/tracking-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitOpsTool {
    /// A Flux Kustomization.
    Flux,
    /// An Argo CD Application.
    ArgoCd,
}

/// Who reconciles the policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GitOpsOwner {
    pub tool: GitOpsTool,
    /// The Kustomization or Application name.
    pub name: String,
    /// The Kustomization's namespace (Flux); Argo CD's tracking id may name the app namespace.
    pub namespace: Option<String>,
    /// The label or annotation that says so, e.g. `kustomize.toolkit.fluxcd.io/name=apps`.
    pub evidence: String,
}

impl GitOpsOwner {
    /// The owner a policy's labels and annotations name, if any (Flux first).
    pub fn of(policy: &NetworkPolicy) -> Option<GitOpsOwner> {
        GitOpsOwner::of_meta(&policy.metadata)
    }

    /// [`GitOpsOwner::of`] for a policy of any kind.
    pub fn of_object(object: &PolicyObject) -> Option<GitOpsOwner> {
        GitOpsOwner::of_meta(object.meta())
    }

    fn of_meta(meta: &ObjectMeta) -> Option<GitOpsOwner> {
        let labels = meta.labels.as_ref();
        let annotations = meta.annotations.as_ref();
        let label = |key: &str| {
            labels
                .and_then(|l| l.get(key))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        if let Some(name) = label(FLUX_NAME) {
            let namespace = label(FLUX_NAMESPACE);
            return Some(GitOpsOwner {
                tool: GitOpsTool::Flux,
                evidence: format!("{FLUX_NAME}={name}"),
                name,
                namespace,
            });
        }
        if let Some(name) = label(ARGO_INSTANCE) {
            return Some(GitOpsOwner {
                tool: GitOpsTool::ArgoCd,
                evidence: format!("{ARGO_INSTANCE}={name}"),
                name,
                namespace: None,
            });
        }
        let tracking = annotations
            .and_then(|a| a.get(ARGO_TRACKING))
            .filter(|v| !v.is_empty())?;
        // `<app>:<group>/<kind>:<namespace>/<name>`; the app may be `<app-namespace>_<app>`.
        let app = tracking.split(':').next().unwrap_or(tracking);
        let (namespace, name) = match app.split_once('_') {
            Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
            None => (None, app.to_string()),
        };
        Some(GitOpsOwner {
            tool: GitOpsTool::ArgoCd,
            name,
            namespace,
            evidence: format!("{ARGO_TRACKING}={tracking}"),
        })
    }

    /// "Flux Kustomization flux-system/apps" or "Argo CD Application shop".
    pub fn describe(&self) -> String {
        let what = match self.tool {
            GitOpsTool::Flux => "Flux Kustomization",
            GitOpsTool::ArgoCd => "Argo CD Application",
        };
        match &self.namespace {
            Some(ns) => format!("{what} {ns}/{}", self.name),
            None => format!("{what} {}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(labels: serde_json::Value, annotations: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": labels, "annotations": annotations},
            "spec": {"podSelector": {}}
        }))
        .unwrap()
    }

    #[test]
    fn flux_labels_name_the_kustomization() {
        let owner = GitOpsOwner::of(&policy(
            json!({FLUX_NAME: "apps", FLUX_NAMESPACE: "flux-system"}),
            json!({}),
        ))
        .unwrap();
        assert_eq!(owner.tool, GitOpsTool::Flux);
        assert_eq!(owner.describe(), "Flux Kustomization flux-system/apps");
        assert_eq!(owner.evidence, "kustomize.toolkit.fluxcd.io/name=apps");
    }

    #[test]
    fn argo_instance_label_and_tracking_annotation() {
        let owner = GitOpsOwner::of(&policy(json!({ARGO_INSTANCE: "shop"}), json!({}))).unwrap();
        assert_eq!(owner.describe(), "Argo CD Application shop");
        let owner = GitOpsOwner::of(&policy(
            json!({}),
            json!({ARGO_TRACKING: "argocd_shop:networking.k8s.io/NetworkPolicy:ns/p"}),
        ))
        .unwrap();
        assert_eq!(owner.tool, GitOpsTool::ArgoCd);
        assert_eq!(owner.describe(), "Argo CD Application argocd/shop");
    }

    #[test]
    fn unowned_policies_and_empty_values() {
        assert_eq!(
            GitOpsOwner::of(&policy(json!({"app": "x"}), json!({}))),
            None
        );
        assert_eq!(
            GitOpsOwner::of(&policy(json!({FLUX_NAME: ""}), json!({}))),
            None
        );
    }
}
