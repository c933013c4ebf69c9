//! Which namespaces to watch. With `-n`/`contexts.toml` namespaces, those. Otherwise the
//! cluster-wide list of pods is tried once: allowed, the whole cluster is watched; forbidden
//! (403, as for a user bound by a Role in a few namespaces), the kubeconfig context's namespace
//! is. Each namespace is then checked with SelfSubjectAccessReviews (list and watch of pods
//! and NetworkPolicies) and only the allowed ones are watched.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use tokio::time::timeout;

use crate::model::{NamespaceScope, ScopeReason};

/// What the caller asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeRequest {
    /// `-n/--namespace` and the context's `namespaces` in `contexts.toml`: watch these only.
    pub asked: Vec<String>,
    /// The kubeconfig context's namespace: watched when the cluster-wide lists are forbidden.
    pub fallback: Option<String>,
}

impl ScopeRequest {
    /// Narrows to the command line's namespaces, else the context's configured ones.
    pub fn ask(&mut self, flags: &[String], configured: &[String]) {
        self.asked = if flags.is_empty() {
            configured.to_vec()
        } else {
            flags.to_vec()
        };
    }
}

/// The answer to the cluster-wide probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Allowed,
    /// 403, twice (a single 403 right after an API server starts is transient).
    Forbidden(String),
    /// Anything else (unreachable, 5xx): the watchers will retry and say so.
    Failed,
}

/// What to watch, before the access reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    ClusterWide,
    /// These namespaces (sorted, without duplicates), for this reason.
    Namespaces(Vec<String>, ScopeReason),
}

/// Whether the cluster-wide probe is needed at all.
pub fn needs_probe(request: &ScopeRequest) -> bool {
    request.asked.is_empty()
}

/// The plan from the request and the probe's answer (`None`: not probed).
pub fn plan(request: &ScopeRequest, probe: Option<&Probe>) -> Plan {
    let sorted = |names: Vec<String>| {
        let mut names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
        names.sort();
        names.dedup();
        names
    };
    if !request.asked.is_empty() {
        return Plan::Namespaces(sorted(request.asked.clone()), ScopeReason::Asked);
    }
    match probe {
        Some(Probe::Forbidden(message)) => Plan::Namespaces(
            sorted(request.fallback.clone().into_iter().collect()),
            ScopeReason::ClusterForbidden(message.clone()),
        ),
        _ => Plan::ClusterWide,
    }
}

/// The scope from the plan's namespaces and each one's access review (`Err`: why not).
pub fn scope_from(
    reviewed: Vec<(String, Result<(), String>)>,
    reason: ScopeReason,
    labels_known: bool,
) -> NamespaceScope {
    let mut scope = NamespaceScope {
        namespaces: Vec::new(),
        reason,
        refused: Vec::new(),
        labels_known,
        undecided_selectors: Vec::new(),
    };
    for (namespace, access) in reviewed {
        match access {
            Ok(()) => scope.namespaces.push(namespace),
            Err(why) => scope.refused.push((namespace, why)),
        }
    }
    scope
}

/// Lists pods across all namespaces with `limit=1`; a 403 is asked again once after a short
/// pause.
pub async fn probe(client: &Client, deadline: Duration) -> Probe {
    let api: Api<Pod> = Api::all(client.clone());
    let mut answer = Probe::Failed;
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        answer = match timeout(deadline, api.list_metadata(&ListParams::default().limit(1))).await {
            Ok(Ok(_)) => return Probe::Allowed,
            Ok(Err(kube::Error::Api(status))) if status.code == 403 => {
                Probe::Forbidden(status.message)
            }
            _ => return Probe::Failed,
        };
    }
    answer
}

/// Whether the Namespace objects can be listed (their labels known).
pub async fn namespaces_readable(client: &Client, deadline: Duration) -> bool {
    let api: Api<Namespace> = Api::all(client.clone());
    matches!(
        timeout(deadline, api.list_metadata(&ListParams::default().limit(1))).await,
        Ok(Ok(_))
    )
}

/// The questions asked per namespace: list and watch of pods and NetworkPolicies.
const NEEDED: [(&str, &str, &str); 4] = [
    ("list", "", "pods"),
    ("watch", "", "pods"),
    ("list", "networking.k8s.io", "networkpolicies"),
    ("watch", "networking.k8s.io", "networkpolicies"),
];

/// `Ok` when the user may list and watch pods and NetworkPolicies in `namespace`; a review that
/// cannot be made (not served, failed) does not refuse: the watch will say.
pub async fn review_namespace(
    client: &Client,
    namespace: &str,
    deadline: Duration,
) -> Result<(), String> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    for (verb, group, resource) in NEEDED {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(group.into()),
                    resource: Some(resource.into()),
                    verb: Some(verb.into()),
                    namespace: Some(namespace.into()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let Ok(Ok(answer)) = timeout(deadline, api.create(&PostParams::default(), &review)).await
        else {
            continue;
        };
        let status = answer.status.unwrap_or_default();
        if !status.allowed {
            let why = status.reason.filter(|r| !r.is_empty());
            return Err(match why {
                Some(why) => format!("may not {verb} {resource}: {why}"),
                None => format!("may not {verb} {resource}"),
            });
        }
    }
    Ok(())
}

/// The namespaces' scope: each reviewed, and whether Namespace objects are readable.
pub async fn resolve_namespaces(
    client: &Client,
    namespaces: Vec<String>,
    reason: ScopeReason,
    deadline: Duration,
) -> NamespaceScope {
    let mut reviewed = Vec::new();
    for namespace in namespaces {
        let access = review_namespace(client, &namespace, deadline).await;
        reviewed.push((namespace, access));
    }
    let labels_known = namespaces_readable(client, deadline).await;
    scope_from(reviewed, reason, labels_known)
}

/// The scope a headless command works in, resolved as the console's watchers do: `None` for
/// the whole cluster (allowed, or unreachable: the command's own requests will say), else the
/// namespaces after their access reviews.
pub async fn resolve(
    client: &Client,
    request: &ScopeRequest,
    deadline: Duration,
) -> Option<NamespaceScope> {
    let probe = match needs_probe(request) {
        true => Some(probe(client, deadline).await),
        false => None,
    };
    match plan(request, probe.as_ref()) {
        Plan::ClusterWide => None,
        Plan::Namespaces(namespaces, reason) => {
            Some(resolve_namespaces(client, namespaces, reason, deadline).await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(asked: &[&str], fallback: Option<&str>) -> ScopeRequest {
        ScopeRequest {
            asked: asked.iter().map(|s| s.to_string()).collect(),
            fallback: fallback.map(str::to_string),
        }
    }

    #[test]
    fn the_command_line_wins_over_the_configured_namespaces() {
        let mut scope = request(&[], Some("acme-web"));
        scope.ask(&[], &["acme-api".to_string()]);
        assert_eq!(scope.asked, ["acme-api"]);
        scope.ask(&["acme-db".to_string()], &["acme-api".to_string()]);
        assert_eq!(scope.asked, ["acme-db"]);
    }

    #[test]
    fn asked_namespaces_win_and_need_no_probe() {
        let asked = request(&["acme-web", "acme-api", "acme-web"], Some("other"));
        assert!(!needs_probe(&asked));
        assert_eq!(
            plan(&asked, None),
            Plan::Namespaces(
                vec!["acme-api".into(), "acme-web".into()],
                ScopeReason::Asked
            )
        );
    }

    #[test]
    fn a_forbidden_cluster_falls_back_to_the_kubeconfig_namespace() {
        let fallback = request(&[], Some("acme-web"));
        assert!(needs_probe(&fallback));
        let forbidden = Probe::Forbidden("pods is forbidden".into());
        assert_eq!(
            plan(&fallback, Some(&forbidden)),
            Plan::Namespaces(
                vec!["acme-web".into()],
                ScopeReason::ClusterForbidden("pods is forbidden".into())
            )
        );
        // Allowed, or a failure that is not a 403: the whole cluster, as before.
        assert_eq!(plan(&fallback, Some(&Probe::Allowed)), Plan::ClusterWide);
        assert_eq!(plan(&fallback, Some(&Probe::Failed)), Plan::ClusterWide);
        // Forbidden with no namespace known: an empty scope, which says what to do.
        assert_eq!(
            plan(&request(&[], None), Some(&forbidden)),
            Plan::Namespaces(
                Vec::new(),
                ScopeReason::ClusterForbidden("pods is forbidden".into())
            )
        );
    }

    #[test]
    fn refused_namespaces_are_kept_apart_with_their_reason() {
        let scope = scope_from(
            vec![
                ("acme-web".into(), Ok(())),
                ("globex-web".into(), Err("may not list pods".into())),
            ],
            ScopeReason::Asked,
            false,
        );
        assert_eq!(scope.namespaces, vec!["acme-web".to_string()]);
        assert_eq!(
            scope.refused,
            vec![("globex-web".to_string(), "may not list pods".to_string())]
        );
        assert!(scope.line().contains("not allowed to watch globex-web"));
    }
}
