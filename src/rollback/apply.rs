//! The writes: a server-side dry run, the apply with a precondition on the live resourceVersion,
//! and the verification that the watch sees the result. On a conflict nothing is written.
//! NetworkPolicies go through `Api<NetworkPolicy>` in their namespace, tier policies through
//! `Api<DynamicObject>` of their kind, cluster-wide, and CNI policies through
//! `Api<DynamicObject>` at the group version the cluster serves their kind (Calico's API server
//! or its CRDs), in their namespace for a namespaced kind.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::core::DynamicObject;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::audit::Written;
use super::consent::DryRunPassed;
use super::plan::{Plan, Verb};
use super::preflight::Clearance;
use crate::history::key::tier_resource;
use crate::history::record::native_served_resource;
use crate::history::{PolicyKey, PolicyObject};
use crate::model::{NativeKind, NativePolicyInfo, NativeRef, TierKind, TierPolicyInfo, TierRef};
use kube::core::{ApiResource, TypeMeta};

/// The field manager Palisade writes as (it shows in managedFields and the journal).
pub const FIELD_MANAGER: &str = "palisade-rollback";

/// What the server's dry run answered.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    /// The object as it would be (replace, create) or as it is before a delete.
    pub object: Option<PolicyObject>,
    /// One line for the operator and the audit, e.g. "update accepted (generation 4 -> 5)".
    pub summary: String,
    /// The proof the apply's clearance needs.
    pub passed: DryRunPassed,
}

/// The result of a successful apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The new resourceVersion (none after a delete).
    pub resource_version: Option<String>,
    /// The new generation (none after a delete).
    pub generation: Option<i64>,
    /// The object the server returned: the written one, or the deleted one.
    pub object: PolicyObject,
    pub deleted: bool,
}

impl Applied {
    /// What to journal as the `rollback` revision.
    pub fn written(&self) -> Written {
        if self.deleted {
            Written::Deleted(self.object.clone())
        } else {
            Written::Object(self.object.clone())
        }
    }

    pub fn summary(&self) -> String {
        match (self.deleted, &self.resource_version, self.generation) {
            (true, _, _) => "deleted".to_string(),
            (false, rv, generation) => format!(
                "written: resourceVersion {}, generation {}",
                rv.as_deref().unwrap_or("?"),
                generation.map_or("?".to_string(), |g| g.to_string())
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// 409: the object changed (or appeared) since it was planned. Nothing was written; `live`
    /// is the object now (re-read after the conflict), for a new plan and diff.
    #[error("conflict: {object} changed since it was planned; nothing was written")]
    Conflict {
        object: String,
        live: Option<Box<PolicyObject>>,
    },
    /// 403 (or 401): the server refused the verb.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("failed: {0}")]
    Failed(String),
}

/// The API of the target's kind.
enum PolicyApi {
    Network(Api<NetworkPolicy>),
    Tier(TierKind, Api<DynamicObject>),
    Native(NativeKind, Api<DynamicObject>, ApiResource),
}

impl PolicyApi {
    async fn of(client: &Client, target: &PolicyKey) -> PolicyApi {
        match target {
            PolicyKey::Network(id) => {
                PolicyApi::Network(Api::namespaced(client.clone(), &id.namespace))
            }
            PolicyKey::Tier(tier) => PolicyApi::Tier(
                tier.kind,
                Api::all_with(client.clone(), &tier_resource(tier.kind)),
            ),
            PolicyKey::Native(native) => {
                let kind = native.kind;
                // Not served at all: the preferred version, whose 404 then says so.
                let resource = native_served_resource(client, kind)
                    .await
                    .unwrap_or_else(|| {
                        crate::history::key::native_resource(kind, &kind.api_version())
                    });
                let api = match kind.namespaced() {
                    true => Api::namespaced_with(client.clone(), &native.namespace, &resource),
                    false => Api::all_with(client.clone(), &resource),
                };
                PolicyApi::Native(kind, api, resource)
            }
        }
    }
}

fn native_object(kind: NativeKind, object: DynamicObject) -> PolicyObject {
    let name = object.metadata.name.clone().unwrap_or_default();
    let namespace = match kind.namespaced() {
        true => object.metadata.namespace.clone().unwrap_or_default(),
        false => String::new(),
    };
    PolicyObject::Native(NativePolicyInfo {
        id: NativeRef::new(kind, namespace, name),
        object,
    })
}

fn tier_object(kind: TierKind, object: DynamicObject) -> PolicyObject {
    let name = object.metadata.name.clone().unwrap_or_default();
    PolicyObject::Tier(TierPolicyInfo {
        id: TierRef::new(kind, name),
        object,
    })
}

/// Reads the policy; `None` when it does not exist.
pub async fn get_live(client: &Client, target: &PolicyKey) -> kube::Result<Option<PolicyObject>> {
    Ok(match PolicyApi::of(client, target).await {
        PolicyApi::Network(api) => api.get_opt(target.name()).await?.map(PolicyObject::Network),
        PolicyApi::Tier(kind, api) => api
            .get_opt(target.name())
            .await?
            .map(|o| tier_object(kind, o)),
        PolicyApi::Native(kind, api, _) => api
            .get_opt(target.name())
            .await?
            .map(|o| native_object(kind, o)),
    })
}

async fn classify(client: &Client, plan: &Plan, err: kube::Error) -> ApplyError {
    match &err {
        kube::Error::Api(status) if status.code == 409 => ApplyError::Conflict {
            object: plan.target.to_string(),
            live: get_live(client, &plan.target)
                .await
                .ok()
                .flatten()
                .map(Box::new),
        },
        // A delete whose object is gone already: someone else changed it.
        kube::Error::Api(status) if status.code == 404 && plan.live.is_some() => {
            ApplyError::Conflict {
                object: plan.target.to_string(),
                live: None,
            }
        }
        kube::Error::Api(status) if status.code == 403 || status.code == 401 => {
            ApplyError::Forbidden(status.message.clone())
        }
        kube::Error::Api(status) => ApplyError::Failed(format!(
            "{} {}: {}",
            status.code, status.reason, status.message
        )),
        other => ApplyError::Failed(other.to_string()),
    }
}

/// The desired object as sent: namespace and name from the target, the live resourceVersion as
/// the precondition of a replace, none on a create.
fn body(plan: &Plan, desired: &PolicyObject) -> PolicyObject {
    let mut object = desired.clone();
    let meta = object.meta_mut();
    meta.namespace = plan.target.namespace_opt().map(str::to_string);
    meta.name = Some(plan.target.name().to_string());
    meta.resource_version = plan.live_resource_version().map(str::to_string);
    if plan.verb() == Verb::Create {
        meta.resource_version = None;
        meta.uid = None;
    }
    object
}

/// One write through `api`: replace, create, or delete under the live resourceVersion.
async fn write_with<K>(
    api: &Api<K>,
    plan: &Plan,
    desired: Option<K>,
    dry_run: bool,
) -> kube::Result<Option<K>>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + Debug,
{
    let post = PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_string()),
    };
    let name = plan.target.name();
    match (desired, plan.verb()) {
        (Some(desired), Verb::Update) => api.replace(name, &post, &desired).await.map(Some),
        (Some(desired), _) => api.create(&post, &desired).await.map(Some),
        (None, _) => {
            let params = DeleteParams {
                dry_run,
                preconditions: Some(Preconditions {
                    resource_version: plan.live_resource_version().map(str::to_string),
                    uid: None,
                }),
                ..DeleteParams::default()
            };
            // The server answers the deleted object, or a Status (then the live one stands in).
            Ok(api.delete(name, &params).await?.left())
        }
    }
}

/// The object to send, checked to be of the target's kind: an object of another kind must never
/// turn a replace into a delete (each API below takes only its own kind).
fn desired_body(plan: &Plan) -> Result<Option<PolicyObject>, ApplyError> {
    match &plan.desired {
        None => Ok(None),
        Some(desired) if desired.kind() != plan.target.kind() => Err(ApplyError::Failed(format!(
            "refused: the plan for {} would write a {}",
            plan.target.describe(),
            desired.kind()
        ))),
        Some(desired) => Ok(Some(body(plan, desired))),
    }
}

async fn write(client: &Client, plan: &Plan, dry_run: bool) -> Result<PolicyObject, ApplyError> {
    let desired = desired_body(plan)?;
    let result = match (PolicyApi::of(client, &plan.target).await, desired) {
        (PolicyApi::Network(api), desired) => {
            let desired = desired.and_then(|d| d.as_network().cloned());
            write_with(&api, plan, desired, dry_run)
                .await
                .map(|o| o.map(PolicyObject::Network))
        }
        (PolicyApi::Tier(kind, api), desired) => {
            let desired = desired.and_then(|d| d.as_tier().map(|t| t.object.clone()));
            write_with(&api, plan, desired, dry_run)
                .await
                .map(|o| o.map(|o| tier_object(kind, o)))
        }
        (PolicyApi::Native(kind, api, resource), desired) => {
            // Written at the version the cluster serves the kind, whatever the revision said.
            let desired = desired.and_then(|d| d.as_native().map(|n| n.object.clone()));
            let desired = desired.map(|mut object| {
                object.types = Some(TypeMeta {
                    api_version: resource.api_version.clone(),
                    kind: resource.kind.clone(),
                });
                object
            });
            write_with(&api, plan, desired, dry_run)
                .await
                .map(|o| o.map(|o| native_object(kind, o)))
        }
    };
    match result {
        Ok(Some(object)) => Ok(object),
        Ok(None) => plan
            .live
            .clone()
            .ok_or_else(|| ApplyError::Failed("the server answered no object".to_string())),
        Err(err) => Err(classify(client, plan, err).await),
    }
}

/// The server-side dry run (`dryRun=All`) of the plan's write. Needs no clearance: it changes
/// nothing (the server still checks the caller may write).
pub async fn dry_run(client: &Client, plan: &Plan) -> Result<DryRun, ApplyError> {
    let object = write(client, plan, true).await?;
    let summary = match plan.verb() {
        Verb::Delete => "delete accepted".to_string(),
        Verb::Create => "create accepted".to_string(),
        Verb::Update => {
            let old = plan.live.as_ref().and_then(|l| l.meta().generation);
            match (old, object.meta().generation) {
                (Some(a), Some(b)) if a != b => format!("update accepted (generation {a} -> {b})"),
                _ => "update accepted".to_string(),
            }
        }
    };
    Ok(DryRun {
        object: Some(object),
        passed: DryRunPassed::new(plan, summary.clone()),
        summary,
    })
}

/// Applies the plan. A replace carries the live resourceVersion, a delete has it as a
/// precondition, a create fails when the object exists: a concurrent change is a
/// [`ApplyError::Conflict`] and nothing is written. The [`Clearance`] comes from
/// [`super::Preflight::clear`]: no write without a passed pre-flight, a confirmation and a passed
/// dry run, all of this very plan.
pub async fn apply(
    client: &Client,
    plan: &Plan,
    clearance: &Clearance,
) -> Result<Applied, ApplyError> {
    if !clearance.covers(plan) {
        return Err(ApplyError::Failed(format!(
            "refused: the clearance was given for another plan ({}), not this one for {}",
            clearance.target(),
            plan.target
        )));
    }
    let object = write(client, plan, false).await?;
    let deleted = plan.desired.is_none();
    Ok(Applied {
        resource_version: (!deleted)
            .then(|| object.meta().resource_version.clone())
            .flatten(),
        generation: (!deleted).then_some(object.meta().generation).flatten(),
        object,
        deleted,
    })
}

/// What the watch saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The generation seen (none: deleted).
    pub generation: Option<i64>,
    pub resource_version: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    #[error("the watch did not see the rollback within {0:?}")]
    Timeout(Duration),
    #[error("the watch failed: {0}")]
    Watch(String),
    #[error("someone else changed {0} right after the rollback (resourceVersion {1})")]
    Overtaken(String, String),
}

/// Watches the one object until it shows the applied generation (or is gone, for a delete),
/// within `deadline`.
pub async fn verify(
    client: &Client,
    plan: &Plan,
    applied: &Applied,
    deadline: Duration,
) -> Result<Verified, VerifyError> {
    match PolicyApi::of(client, &plan.target).await {
        PolicyApi::Network(api) => verify_with(api, plan, applied, deadline).await,
        PolicyApi::Tier(_, api) => verify_with(api, plan, applied, deadline).await,
        PolicyApi::Native(_, api, _) => verify_with(api, plan, applied, deadline).await,
    }
}

async fn verify_with<K>(
    api: Api<K>,
    plan: &Plan,
    applied: &Applied,
    deadline: Duration,
) -> Result<Verified, VerifyError>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let start = Instant::now();
    let config =
        watcher::Config::default().fields(&format!("metadata.name={}", plan.target.name()));
    let stream = watcher(api, config);
    let mut stream = std::pin::pin!(stream);
    let mut listed: Option<K> = None;
    let seen = |object: Option<&K>| -> Option<Result<Verified, VerifyError>> {
        let verified = |object: Option<&K>| Verified {
            generation: object.and_then(|o| o.meta().generation),
            resource_version: object.and_then(|o| o.meta().resource_version.clone()),
            elapsed: start.elapsed(),
        };
        match (applied.deleted, object) {
            (true, None) => Some(Ok(verified(None))),
            (true, Some(_)) => None,
            (false, None) => None,
            (false, Some(object)) => {
                let generation = object.meta().generation;
                if generation == applied.generation {
                    Some(Ok(verified(Some(object))))
                } else if generation > applied.generation {
                    Some(Err(VerifyError::Overtaken(
                        plan.target.to_string(),
                        object.resource_version().unwrap_or_default(),
                    )))
                } else {
                    None
                }
            }
        }
    };
    let result = tokio::time::timeout(deadline, async {
        while let Some(event) = stream.next().await {
            let event = event.map_err(|e| VerifyError::Watch(e.to_string()))?;
            let outcome = match event {
                Event::Init => {
                    listed = None;
                    None
                }
                Event::InitApply(object) => {
                    listed = Some(object);
                    None
                }
                Event::InitDone => seen(listed.as_ref()),
                Event::Apply(object) => seen(Some(&object)),
                Event::Delete(_) => seen(None),
            };
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
        Err(VerifyError::Watch("the watch ended".to_string()))
    })
    .await;
    result.unwrap_or(Err(VerifyError::Timeout(deadline)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollback::diff::Diff;
    use crate::rollback::plan::RollbackKind;

    #[test]
    fn an_object_of_another_kind_is_never_written() {
        let policy: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x", "namespace": "acme"}, "spec": {"podSelector": {}}
        }))
        .unwrap();
        let mut plan = Plan {
            kind: RollbackKind::Restore { revision: None },
            target: PolicyKey::parse("cnp/x").unwrap(),
            live: None,
            live_revision: None,
            desired: Some(PolicyObject::Network(policy)),
            to_revision: Some(1),
            diff: Diff::default(),
            owner: None,
            created_revision: None,
            notes: Vec::new(),
        };
        let refused = desired_body(&plan).unwrap_err().to_string();
        assert!(
            refused.contains("ClusterNetworkPolicy cnp/x would write a NetworkPolicy"),
            "{refused}"
        );
        plan.target = PolicyKey::network("acme", "x");
        let sent = desired_body(&plan).unwrap().unwrap();
        assert_eq!(sent.meta().namespace.as_deref(), Some("acme"));
    }
}
