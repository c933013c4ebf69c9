//! Suspending the GitOps owner of a policy before its rollback, so the controller does not
//! revert it: a Flux Kustomization gets `spec.suspend: true`; an Argo CD Application loses
//! `spec.syncPolicy.automated` (what it was is kept in the audit, to restore it). A guarded
//! write of its own: read-only honoured, a SelfSubjectAccessReview for `patch`, a server dry
//! run, the operator's confirmation naming it, and an audit record (kind `suspend`) linked to
//! the rollback's. The patches and the "still suspended" test are pure.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::apply::FIELD_MANAGER;
use super::owner::{GitOpsOwner, GitOpsTool};
use super::preflight::{Access, access_review_for};

pub const FLUX_GROUP: &str = "kustomize.toolkit.fluxcd.io";
pub const ARGO_GROUP: &str = "argoproj.io";
/// Where the owner lives when its labels do not say: Flux's and Argo CD's install namespaces.
pub const FLUX_DEFAULT_NAMESPACE: &str = "flux-system";
pub const ARGO_DEFAULT_NAMESPACE: &str = "argocd";
/// The audit record's kind for a suspension.
pub const AUDIT_KIND: &str = "suspend";

/// The owner's API resource.
pub fn resource(tool: GitOpsTool) -> ApiResource {
    let (group, version, kind, plural) = match tool {
        GitOpsTool::Flux => (FLUX_GROUP, "v1", "Kustomization", "kustomizations"),
        GitOpsTool::ArgoCd => (ARGO_GROUP, "v1alpha1", "Application", "applications"),
    };
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: format!("{group}/{version}"),
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

/// The owner's namespace: from its labels, else the tool's install namespace.
pub fn namespace(owner: &GitOpsOwner) -> String {
    owner.namespace.clone().unwrap_or_else(|| {
        match owner.tool {
            GitOpsTool::Flux => FLUX_DEFAULT_NAMESPACE,
            GitOpsTool::ArgoCd => ARGO_DEFAULT_NAMESPACE,
        }
        .to_string()
    })
}

/// What suspending the owner writes (a JSON merge patch) and what it replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspension {
    pub owner: GitOpsOwner,
    pub namespace: String,
    pub patch: Value,
    /// What the patch replaces: Flux's `spec.suspend` (absent: false), Argo CD's
    /// `spec.syncPolicy.automated`, kept in the audit so it can be restored.
    pub before: Value,
    /// "suspend Flux Kustomization flux-system/apps (spec.suspend: true)".
    pub summary: String,
}

/// Why the owner needs no suspension, or cannot be suspended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuspendError {
    #[error("{0} is suspended already (no automated sync): nothing to suspend")]
    Already(String),
    #[error("{0} does not exist on the cluster: it cannot be suspended")]
    Missing(String),
    #[error("{0}")]
    Failed(String),
}

/// The suspension of `owner` given its live object (pure).
pub fn plan_suspension(owner: &GitOpsOwner, live: &Value) -> Result<Suspension, SuspendError> {
    if !is_reconciling(owner.tool, live) {
        return Err(SuspendError::Already(owner.describe()));
    }
    let namespace = namespace(owner);
    let named = format!("{} {namespace}/{}", kind_name(owner.tool), owner.name);
    Ok(match owner.tool {
        GitOpsTool::Flux => Suspension {
            owner: owner.clone(),
            namespace,
            patch: json!({"spec": {"suspend": true}}),
            before: live
                .pointer("/spec/suspend")
                .cloned()
                .unwrap_or(json!(false)),
            summary: format!("suspend {named} (spec.suspend: true)"),
        },
        GitOpsTool::ArgoCd => Suspension {
            owner: owner.clone(),
            namespace,
            patch: json!({"spec": {"syncPolicy": {"automated": null}}}),
            before: live
                .pointer("/spec/syncPolicy/automated")
                .cloned()
                .unwrap_or(Value::Null),
            summary: format!(
                "disable the automated sync of {named} (remove spec.syncPolicy.automated)"
            ),
        },
    })
}

fn kind_name(tool: GitOpsTool) -> &'static str {
    match tool {
        GitOpsTool::Flux => "Flux Kustomization",
        GitOpsTool::ArgoCd => "Argo CD Application",
    }
}

/// Whether the owner still reconciles on its own: a Kustomization not suspended, an Application
/// with automated sync.
pub fn is_reconciling(tool: GitOpsTool, live: &Value) -> bool {
    match tool {
        GitOpsTool::Flux => live.pointer("/spec/suspend") != Some(&json!(true)),
        GitOpsTool::ArgoCd => live
            .pointer("/spec/syncPolicy/automated")
            .is_some_and(|a| !a.is_null()),
    }
}

/// The command that resumes the owner once the incident is over. `before` is what the audit
/// kept of Argo CD's automated sync.
pub fn resume_command(tool: GitOpsTool, namespace: &str, name: &str, before: &str) -> String {
    match tool {
        GitOpsTool::Flux => format!("flux resume kustomization {name} -n {namespace}"),
        GitOpsTool::ArgoCd => {
            let automated = if before.trim().is_empty() || before.trim() == "null" {
                "{}"
            } else {
                before.trim()
            };
            format!(
                "kubectl patch applications.argoproj.io {name} -n {namespace} --type merge -p '{{\"spec\":{{\"syncPolicy\":{{\"automated\":{automated}}}}}}}'"
            )
        }
    }
}

/// The text the audit keeps of what the suspension replaced: "was: <json>".
pub fn was_text(suspension: &Suspension) -> String {
    format!("was: {}", suspension.before)
}

/// Reads `was: <json>` back from an audit record's apply text.
pub fn was_from_audit(apply: &str) -> String {
    apply
        .split_once("was: ")
        .map(|(_, rest)| rest.split(';').next().unwrap_or("").trim().to_string())
        .unwrap_or_default()
}

/// The owner as the audit names it ([`GitOpsOwner::describe`] with its namespace resolved),
/// read back: "Flux Kustomization flux-system/apps".
pub fn owner_from_audit(text: &str) -> Option<GitOpsOwner> {
    let (tool, rest) = if let Some(rest) = text.strip_prefix("Flux Kustomization ") {
        (GitOpsTool::Flux, rest)
    } else {
        (
            GitOpsTool::ArgoCd,
            text.strip_prefix("Argo CD Application ")?,
        )
    };
    let (namespace, name) = rest.trim().split_once('/')?;
    (!namespace.is_empty() && !name.is_empty()).then(|| GitOpsOwner {
        tool,
        name: name.to_string(),
        namespace: Some(namespace.to_string()),
        evidence: "the audit".to_string(),
    })
}

/// The owner with its namespace resolved, as the audit names it.
pub fn resolved(owner: &GitOpsOwner) -> GitOpsOwner {
    GitOpsOwner {
        namespace: Some(namespace(owner)),
        ..owner.clone()
    }
}

fn api(client: &Client, owner: &GitOpsOwner) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), &namespace(owner), &resource(owner.tool))
}

/// The owner's live object; `Ok(None)` when it does not exist.
pub async fn get_owner(client: &Client, owner: &GitOpsOwner) -> Result<Option<Value>, String> {
    let object = api(client, owner)
        .get_opt(&owner.name)
        .await
        .map_err(|e| format!("cannot read {}: {e}", owner.describe()))?;
    Ok(object.map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
}

/// Reads the owner and plans its suspension.
pub async fn prepare(client: &Client, owner: &GitOpsOwner) -> Result<Suspension, SuspendError> {
    match get_owner(client, owner).await {
        Ok(Some(live)) => plan_suspension(owner, &live),
        Ok(None) => Err(SuspendError::Missing(owner.describe())),
        Err(why) => Err(SuspendError::Failed(why)),
    }
}

/// May the operator patch the owner?
pub async fn access(client: &Client, suspension: &Suspension) -> Access {
    let resource = resource(suspension.owner.tool);
    access_review_for(
        client,
        "patch",
        &resource.group,
        &resource.plural,
        Some(&suspension.namespace),
        Some(&suspension.owner.name),
    )
    .await
}

/// The server's dry run (`dry_run`) or the write itself; the answer's one line.
pub async fn patch(
    client: &Client,
    suspension: &Suspension,
    dry_run: bool,
) -> Result<String, String> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run,
        ..PatchParams::default()
    };
    let answer = api(client, &suspension.owner)
        .patch(
            &suspension.owner.name,
            &params,
            &Patch::Merge(&suspension.patch),
        )
        .await;
    match answer {
        Ok(object) => {
            let value = serde_json::to_value(&object).unwrap_or(Value::Null);
            let rv = object.metadata.resource_version.unwrap_or_default();
            match (dry_run, is_reconciling(suspension.owner.tool, &value)) {
                (_, true) => Err(format!(
                    "the server accepted the patch but {} still reconciles",
                    suspension.owner.describe()
                )),
                (true, false) => Ok("suspension accepted by the server's dry run".to_string()),
                (false, false) => Ok(format!("suspended: resourceVersion {rv}")),
            }
        }
        Err(kube::Error::Api(status)) if status.code == 403 => {
            Err(format!("forbidden: {}", status.message))
        }
        Err(err) => Err(format!("failed: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flux() -> GitOpsOwner {
        GitOpsOwner {
            tool: GitOpsTool::Flux,
            name: "globex-policies".into(),
            namespace: Some("flux-system".into()),
            evidence: "kustomize.toolkit.fluxcd.io/name=globex-policies".into(),
        }
    }

    fn argo() -> GitOpsOwner {
        GitOpsOwner {
            tool: GitOpsTool::ArgoCd,
            name: "initech".into(),
            namespace: None,
            evidence: "argocd.argoproj.io/instance=initech".into(),
        }
    }

    #[test]
    fn flux_is_suspended_with_a_merge_patch() {
        let s = plan_suspension(&flux(), &json!({"spec": {"interval": "5m"}})).unwrap();
        assert_eq!(s.patch, json!({"spec": {"suspend": true}}));
        assert_eq!(s.before, json!(false));
        assert_eq!(s.namespace, "flux-system");
        assert!(
            s.summary.contains("flux-system/globex-policies"),
            "{}",
            s.summary
        );
        assert_eq!(
            plan_suspension(&flux(), &json!({"spec": {"suspend": true}})),
            Err(SuspendError::Already(flux().describe()))
        );
    }

    #[test]
    fn argo_loses_its_automated_sync_and_the_audit_keeps_it() {
        let automated = json!({"prune": true, "selfHeal": true});
        let live = json!({"spec": {"syncPolicy": {"automated": automated}}});
        let s = plan_suspension(&argo(), &live).unwrap();
        assert_eq!(
            s.patch,
            json!({"spec": {"syncPolicy": {"automated": null}}})
        );
        assert_eq!(s.before, automated);
        assert_eq!(
            s.namespace, "argocd",
            "Argo CD's install namespace by default"
        );
        let was = was_from_audit(&format!("suspended: resourceVersion 9; {}", was_text(&s)));
        assert_eq!(was, r#"{"prune":true,"selfHeal":true}"#);
        let resume = resume_command(GitOpsTool::ArgoCd, "argocd", "initech", &was);
        assert!(
            resume.contains(r#""automated":{"prune":true,"selfHeal":true}"#),
            "{resume}"
        );
        assert!(matches!(
            plan_suspension(&argo(), &json!({"spec": {"syncPolicy": {}}})),
            Err(SuspendError::Already(_))
        ));
    }

    #[test]
    fn the_audit_names_the_owner_with_its_namespace() {
        let named = resolved(&argo()).describe();
        assert_eq!(named, "Argo CD Application argocd/initech");
        let back = owner_from_audit(&named).unwrap();
        assert_eq!(
            (back.tool, back.namespace.as_deref(), back.name.as_str()),
            (GitOpsTool::ArgoCd, Some("argocd"), "initech")
        );
        let flux_back = owner_from_audit(&flux().describe()).unwrap();
        assert_eq!(flux_back.tool, GitOpsTool::Flux);
        assert_eq!(owner_from_audit("Argo CD Application initech"), None);
        assert_eq!(owner_from_audit("something else"), None);
    }

    #[test]
    fn reconciling_or_not() {
        assert!(is_reconciling(GitOpsTool::Flux, &json!({"spec": {}})));
        assert!(is_reconciling(
            GitOpsTool::Flux,
            &json!({"spec": {"suspend": false}})
        ));
        assert!(!is_reconciling(
            GitOpsTool::Flux,
            &json!({"spec": {"suspend": true}})
        ));
        assert!(!is_reconciling(GitOpsTool::ArgoCd, &json!({"spec": {}})));
        assert!(!is_reconciling(
            GitOpsTool::ArgoCd,
            &json!({"spec": {"syncPolicy": {"automated": null}}})
        ));
        assert_eq!(
            resume_command(GitOpsTool::Flux, "flux-system", "apps", ""),
            "flux resume kustomization apps -n flux-system"
        );
    }
}
