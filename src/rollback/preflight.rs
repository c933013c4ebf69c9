//! Pre-flight checks before any write: read-only mode, a SelfSubjectAccessReview for the verb,
//! and GitOps ownership (which needs an explicit acknowledgement). Also who the operator is.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};
use kube::config::Kubeconfig;

use super::consent::{Confirmation, DryRunPassed, PlanKey};
use super::owner::GitOpsOwner;
use super::plan::{Plan, Verb};
use crate::config::ContextSettings;
use crate::history::{PolicyKey, PolicyObject};

/// Whether the API server lets the caller do the verb, and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub allowed: bool,
    pub reason: String,
}

/// The checks' results for one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Preflight {
    /// Why writes are off: `--read-only`, or the context's setting in contexts.toml.
    pub read_only: Option<String>,
    pub verb: Verb,
    pub access: Access,
    pub owner: Option<GitOpsOwner>,
    /// `create events` in the Event's namespace (see `event.rs`); `None`: not checked. A denial
    /// does not stop the rollback: it proceeds without its Event.
    pub events: Option<Access>,
    plan: PlanKey,
}

/// Proof that a pre-flight passed for one plan that the operator confirmed and the server
/// dry-ran, required by [`super::apply`]. Only [`Preflight::clear`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearance {
    plan: PlanKey,
    /// The owner the operator acknowledged (recorded in the audit).
    pub acknowledged_owner: Option<String>,
}

impl Clearance {
    pub fn target(&self) -> &PolicyKey {
        self.plan.target()
    }

    /// Whether this clearance was given for `plan` (the same write).
    pub fn covers(&self, plan: &Plan) -> bool {
        self.plan == PlanKey::of(plan)
    }
}

impl Preflight {
    /// A pre-flight from already known results (tests, or a console that checked earlier).
    pub fn new(
        plan: &Plan,
        read_only: Option<String>,
        access: Access,
        owner: Option<GitOpsOwner>,
    ) -> Preflight {
        Preflight {
            read_only,
            verb: plan.verb(),
            access,
            owner,
            events: None,
            plan: PlanKey::of(plan),
        }
    }

    /// Why the rollback may not proceed, if it may not. `acknowledge_owner`: the operator
    /// acknowledged that a GitOps controller owns the policy.
    pub fn refusal(&self, acknowledge_owner: bool) -> Option<String> {
        if let Some(why) = &self.read_only {
            return Some(format!("read-only: {why}"));
        }
        if !self.access.allowed {
            let target = self.plan.target();
            return Some(format!(
                "not allowed to {} {} {}: {}",
                self.verb.as_str(),
                target.kind().plural(),
                target.scope(),
                self.access.reason
            ));
        }
        if let Some(owner) = &self.owner
            && !acknowledge_owner
        {
            return Some(format!(
                "{} is managed by {} ({}), which will reconcile it back; acknowledge to proceed (--ack-gitops)",
                self.plan.target(),
                owner.describe(),
                owner.evidence
            ));
        }
        None
    }

    /// The clearance to apply, or why not: the checks must pass, and the confirmation and the
    /// passed dry run must both be for this pre-flight's plan.
    pub fn clear(
        &self,
        acknowledge_owner: bool,
        confirmation: &Confirmation,
        dry_run: &DryRunPassed,
    ) -> Result<Clearance, String> {
        if let Some(why) = self.refusal(acknowledge_owner) {
            return Err(why);
        }
        if confirmation.plan() != &self.plan {
            return Err(format!(
                "the confirmation was given for another plan than this one for {}",
                self.plan.target()
            ));
        }
        if dry_run.plan() != &self.plan {
            return Err(format!(
                "no dry run of this plan for {} has passed",
                self.plan.target()
            ));
        }
        Ok(Clearance {
            plan: self.plan.clone(),
            acknowledged_owner: self.owner.as_ref().map(GitOpsOwner::describe),
        })
    }

    /// Lines for display: read-only, access, owner, events.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            match &self.read_only {
                Some(why) => format!("read-only: yes ({why})"),
                None => "read-only: no".to_string(),
            },
            format!(
                "access: {} {} {}: {} ({})",
                self.verb.as_str(),
                self.plan.target().kind().plural(),
                self.plan.target().scope(),
                if self.access.allowed {
                    "allowed"
                } else {
                    "DENIED"
                },
                self.access.reason
            ),
            match &self.owner {
                Some(owner) => {
                    format!("gitops: owned by {} ({})", owner.describe(), owner.evidence)
                }
                None => "gitops: no owner labels or annotations".to_string(),
            },
        ];
        if let Some(events) = &self.events {
            let namespace = super::event::event_namespace(self.plan.target());
            lines.push(if events.allowed {
                format!("events: create events in {namespace}: allowed (an Event records the rollback)")
            } else {
                format!(
                    "events: create events in {namespace}: DENIED ({}); the rollback proceeds without its Event",
                    events.reason
                )
            });
        }
        lines
    }
}

/// Why writes are off on `context`: the `--read-only` flag, else contexts.toml.
pub fn read_only_reason(flag: bool, context: &str, contexts: &ContextSettings) -> Option<String> {
    if flag {
        return Some("--read-only".to_string());
    }
    contexts.read_only(context)
}

/// A SelfSubjectAccessReview for `verb` on the target's resource: networkpolicies
/// (networking.k8s.io) in its namespace, a tier kind (policy.networking.k8s.io, e.g.
/// clusternetworkpolicies) with no namespace, the cluster-scoped verb, or a CNI kind in its
/// group (ciliumnetworkpolicies.cilium.io in its namespace, ...).
/// A failed review counts as denied.
pub async fn access_review(client: &Client, verb: Verb, target: &PolicyKey) -> Access {
    review(client, resource_attributes(verb, target)).await
}

/// [`resource_attributes`] of the plan, in the group the live object is served from (Calico's
/// objects may be the datastore's CRDs, `crd.projectcalico.org`, whose RBAC is its own).
pub fn plan_attributes(plan: &Plan) -> ResourceAttributes {
    let mut attributes = resource_attributes(plan.verb(), &plan.target);
    let served = plan.live.as_ref().and_then(PolicyObject::api_version);
    if let (PolicyKey::Native(_), Some((group, _))) =
        (&plan.target, served.and_then(|v| v.split_once('/')))
    {
        attributes.group = Some(group.to_string());
    }
    attributes
}

/// A SelfSubjectAccessReview for `verb` on `resource` of `group` in `namespace`.
pub async fn access_review_for(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Access {
    let attributes = ResourceAttributes {
        group: Some(group.to_string()),
        resource: Some(resource.to_string()),
        verb: Some(verb.to_string()),
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        ..ResourceAttributes::default()
    };
    review(client, attributes).await
}

async fn review(client: &Client, attributes: ResourceAttributes) -> Access {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(attributes),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    match api.create(&PostParams::default(), &review).await {
        Ok(answer) => {
            let status = answer.status.unwrap_or_default();
            let reason = status
                .reason
                .filter(|r| !r.is_empty())
                .or(status.evaluation_error.filter(|e| !e.is_empty()))
                .unwrap_or_else(|| {
                    if status.allowed {
                        "the API server allows it".to_string()
                    } else {
                        "the API server does not allow it".to_string()
                    }
                });
            Access {
                allowed: status.allowed,
                reason,
            }
        }
        Err(err) => Access {
            allowed: false,
            reason: format!("the access review failed: {err}"),
        },
    }
}

/// What the access review asks about (pure, so the cluster-scoped form is unit-tested).
pub fn resource_attributes(verb: Verb, target: &PolicyKey) -> ResourceAttributes {
    ResourceAttributes {
        group: Some(target.kind().group().to_string()),
        resource: Some(target.kind().plural().to_string()),
        verb: Some(verb.as_str().to_string()),
        namespace: target.namespace_opt().map(str::to_string),
        name: (verb != Verb::Create).then(|| target.name().to_string()),
        ..ResourceAttributes::default()
    }
}

/// Runs the checks for `plan`: the access review for its verb; `read_only` from
/// [`read_only_reason`]; the owner from the plan.
pub async fn preflight(client: &Client, plan: &Plan, read_only: Option<String>) -> Preflight {
    let access = review(client, plan_attributes(plan)).await;
    let namespace = super::event::event_namespace(&plan.target);
    let events = access_review_for(client, "create", "", "events", Some(&namespace), None).await;
    let mut checks = Preflight::new(plan, read_only, access, plan.owner.clone());
    checks.events = Some(events);
    checks
}

/// Who the operator is: the user name from a SelfSubjectReview, else the kubeconfig's user
/// name for the context (never a token), else "unknown".
pub async fn who_am_i(
    client: &Client,
    kubeconfig: Option<&Kubeconfig>,
    context: Option<&str>,
) -> String {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    if let Ok(review) = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        && let Some(name) = review
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .filter(|n| !n.is_empty())
    {
        return name;
    }
    kubeconfig
        .and_then(|k| {
            let name = context
                .map(str::to_string)
                .or_else(|| k.current_context.clone())?;
            let named = k.contexts.iter().find(|c| c.name == name)?;
            named.context.as_ref()?.user.clone()
        })
        .map(|user| format!("kubeconfig user {user}"))
        .unwrap_or_else(|| "unknown".to_string())
}
