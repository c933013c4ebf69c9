//! Which optional policy kinds the cluster serves, from API discovery (`/apis`, then the
//! resource list of each version of the groups of interest): the tier kinds and Cilium's kinds
//! Palisade evaluates, and the policy kinds of other projects it does not, which are only counted
//! (`count_objects`). Reading the documents is pure; only `discover` and `count_objects` talk
//! to the server.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList};
use kube::api::{DynamicObject, ListParams};
use kube::core::ApiResource;
use kube::{Api, Client};
use tokio::time::timeout;

use super::informer::describe;
use crate::model::{Count, NativeKind, TIER_GROUP, TierKind, Unevaluated};

/// Policy kinds of other projects that Palisade does not evaluate: (group, kind). Found in
/// whichever version the cluster serves, the preferred one first.
/// (Cilium's and Calico's policy kinds are evaluated: see [`NativeKind`].)
pub const UNEVALUATED_KINDS: [(&str, &str); 3] = [
    ("crd.antrea.io", "NetworkPolicy"),
    ("crd.antrea.io", "ClusterNetworkPolicy"),
    ("k8s.cni.cncf.io", "MultiNetworkPolicy"),
];

/// What discovery found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovered {
    /// The tier kinds served in the version Palisade reads.
    pub tiers: Vec<TierKind>,
    /// The CNIs' kinds served, each with where Palisade reads (and writes) it: Calico's in
    /// `projectcalico.org/v3` when its API server serves them, else in the
    /// `crd.projectcalico.org/v1` CRDs.
    pub natives: Vec<(NativeKind, ApiResource)>,
    /// The served kinds of [`UNEVALUATED_KINDS`], each in one version.
    pub unevaluated: Vec<ApiResource>,
}

impl Discovered {
    pub fn serves(&self, kind: TierKind) -> bool {
        self.tiers.contains(&kind)
    }

    pub fn serves_native(&self, kind: NativeKind) -> bool {
        self.native_resource(kind).is_some()
    }

    /// Where the cluster serves a native kind.
    pub fn native_resource(&self, kind: NativeKind) -> Option<&ApiResource> {
        self.natives
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, r)| r)
    }
}

/// The group versions whose resource lists discovery needs: every served version of the tier
/// group and of the other projects' groups, each group's preferred version first.
pub fn versions_to_read(groups: &APIGroupList) -> Vec<String> {
    let wanted = |name: &str| {
        name == TIER_GROUP
            || NativeKind::ALL
                .iter()
                .any(|k| k.group() == name || k.crd_group_version().is_some_and(|(g, _)| g == name))
            || UNEVALUATED_KINDS.iter().any(|(group, _)| *group == name)
    };
    let mut out = Vec::new();
    for group in groups.groups.iter().filter(|g| wanted(&g.name)) {
        let preferred = group.preferred_version.iter();
        for version in preferred.chain(&group.versions) {
            if !out.contains(&version.group_version) {
                out.push(version.group_version.clone());
            }
        }
    }
    out
}

/// Reads the resource lists (in the order of [`versions_to_read`]).
pub fn read(lists: &[APIResourceList]) -> Discovered {
    let serves = |group_version: &str, plural: &str| {
        lists.iter().any(|list| {
            list.group_version == group_version && list.resources.iter().any(|r| r.name == plural)
        })
    };
    let tiers = TierKind::ALL
        .into_iter()
        .filter(|kind| serves(&kind.api_version(), kind.plural()))
        .collect();
    let natives = NativeKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let preferred = (kind.group(), kind.version());
            [preferred]
                .into_iter()
                .chain(kind.crd_group_version())
                .find(|(group, version)| serves(&format!("{group}/{version}"), kind.plural()))
                .map(|(group, version)| (kind, native_resource(kind, group, version)))
        })
        .collect();
    let unevaluated = UNEVALUATED_KINDS
        .iter()
        .filter_map(|(group, kind)| {
            lists.iter().find_map(|list| {
                let (list_group, version) = list.group_version.split_once('/')?;
                if list_group != *group {
                    return None;
                }
                // Subresources (`x/status`) carry the kind too; only the collection counts.
                let resource = list
                    .resources
                    .iter()
                    .find(|r| r.kind == *kind && !r.name.contains('/'))?;
                Some(ApiResource {
                    group: list_group.to_string(),
                    version: version.to_string(),
                    api_version: list.group_version.clone(),
                    kind: kind.to_string(),
                    plural: resource.name.clone(),
                })
            })
        })
        .collect();
    Discovered {
        tiers,
        natives,
        unevaluated,
    }
}

/// A native kind's resource in one group version.
pub fn native_resource(kind: NativeKind, group: &str, version: &str) -> ApiResource {
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: format!("{group}/{version}"),
        kind: kind.kind().to_string(),
        plural: kind.plural().to_string(),
    }
}

/// Asks the server. A group version that vanished between the two requests (404) is skipped.
pub async fn discover(client: &Client, deadline: Duration) -> Result<Discovered, kube::Error> {
    let groups = within(deadline, client.list_api_groups()).await?;
    let mut lists = Vec::new();
    for group_version in versions_to_read(&groups) {
        match within(deadline, client.list_api_group_resources(&group_version)).await {
            Ok(list) => lists.push(list),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    Ok(read(&lists))
}

async fn within<T>(
    deadline: Duration,
    request: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, kube::Error> {
    timeout(deadline, request).await.unwrap_or_else(|_| {
        Err(kube::Error::Service(
            format!("no answer within {} s", deadline.as_secs_f32()).into(),
        ))
    })
}

/// Counts one kind's objects with metadata-only lists: one object and the server's
/// `remainingItemCount` when it sends one, otherwise pages of 500 names.
pub async fn count_objects(client: &Client, resource: &ApiResource, deadline: Duration) -> Count {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let mut total: u64 = 0;
    let mut token: Option<String> = None;
    loop {
        let params = ListParams {
            limit: Some(if total == 0 && token.is_none() {
                1
            } else {
                500
            }),
            continue_token: token.take(),
            ..ListParams::default()
        };
        let page = match within(deadline, api.list_metadata(&params)).await {
            Ok(page) => page,
            Err(err) => return Count::Unknown(describe(&err)),
        };
        total += page.items.len() as u64;
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            None => return Count::Objects(total),
            Some(next) => match page.metadata.remaining_item_count {
                Some(rest) if rest >= 0 => return Count::Objects(total + rest as u64),
                _ => token = Some(next),
            },
        }
    }
}

/// Counts every kind, in the order given.
pub async fn count_all(
    client: &Client,
    resources: &[ApiResource],
    deadline: Duration,
) -> Vec<Unevaluated> {
    let mut out = Vec::with_capacity(resources.len());
    for resource in resources {
        out.push(Unevaluated {
            group: resource.group.clone(),
            version: resource.version.clone(),
            kind: resource.kind.clone(),
            count: count_objects(client, resource, deadline).await,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn groups(value: serde_json::Value) -> APIGroupList {
        serde_json::from_value(value).unwrap()
    }

    fn list(group_version: &str, resources: &[(&str, &str)]) -> APIResourceList {
        let resources: Vec<_> = resources
            .iter()
            .map(|(name, kind)| {
                json!({"name": name, "kind": kind, "namespaced": true, "singularName": "",
                    "verbs": ["list"]})
            })
            .collect();
        serde_json::from_value(json!({"groupVersion": group_version, "resources": resources}))
            .unwrap()
    }

    #[test]
    fn only_the_groups_of_interest_are_read_preferred_version_first() {
        let list = groups(json!({"groups": [
            {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]},
            {"name": "policy.networking.k8s.io",
             "versions": [{"groupVersion": "policy.networking.k8s.io/v1alpha1", "version": "v1alpha1"},
                          {"groupVersion": "policy.networking.k8s.io/v1alpha2", "version": "v1alpha2"}],
             "preferredVersion": {"groupVersion": "policy.networking.k8s.io/v1alpha2", "version": "v1alpha2"}},
            {"name": "cilium.io", "versions": [{"groupVersion": "cilium.io/v2", "version": "v2"}]}
        ]}));
        assert_eq!(
            versions_to_read(&list),
            [
                "policy.networking.k8s.io/v1alpha2",
                "policy.networking.k8s.io/v1alpha1",
                "cilium.io/v2"
            ]
        );
    }

    #[test]
    fn tier_kinds_count_only_in_the_version_palisade_reads() {
        let found = read(&[
            list(
                "policy.networking.k8s.io/v1alpha2",
                &[("clusternetworkpolicies", "ClusterNetworkPolicy")],
            ),
            // ANP served as v1alpha2 only would be a version Palisade cannot read.
            list(
                "policy.networking.k8s.io/v1alpha1",
                &[
                    ("baselineadminnetworkpolicies", "BaselineAdminNetworkPolicy"),
                    (
                        "baselineadminnetworkpolicies/status",
                        "BaselineAdminNetworkPolicy",
                    ),
                ],
            ),
        ]);
        assert_eq!(
            found.tiers,
            [
                TierKind::ClusterNetworkPolicy,
                TierKind::BaselineAdminNetworkPolicy
            ]
        );
        assert!(found.unevaluated.is_empty());
        assert_eq!(read(&[]), Discovered::default());
    }

    #[test]
    fn other_projects_kinds_are_found_once_in_the_first_version_serving_them() {
        let found = read(&[
            list(
                "crd.antrea.io/v1beta1",
                &[
                    ("networkpolicies", "NetworkPolicy"),
                    ("networkpolicies/status", "NetworkPolicy"),
                ],
            ),
            list(
                "crd.antrea.io/v1alpha1",
                &[
                    ("networkpolicies", "NetworkPolicy"),
                    ("clusternetworkpolicies", "ClusterNetworkPolicy"),
                ],
            ),
            // Calico's are evaluated, not counted.
            list(
                "projectcalico.org/v3",
                &[("globalnetworkpolicies", "GlobalNetworkPolicy")],
            ),
            list(
                "cilium.io/v2",
                &[
                    ("ciliumnetworkpolicies", "CiliumNetworkPolicy"),
                    ("ciliumnetworkpolicies/status", "CiliumNetworkPolicy"),
                    ("ciliumegressgatewaypolicies", "CiliumEgressGatewayPolicy"),
                ],
            ),
            // A kind of the same name in a group not on the list is not ours to count.
            list("example.com/v1", &[("networkpolicies", "NetworkPolicy")]),
        ]);
        let got: Vec<(String, String, String)> = found
            .unevaluated
            .iter()
            .map(|r| (r.api_version.clone(), r.kind.clone(), r.plural.clone()))
            .collect();
        let want = |a: &str, k: &str, p: &str| (a.to_string(), k.to_string(), p.to_string());
        assert_eq!(
            got,
            [
                want("crd.antrea.io/v1beta1", "NetworkPolicy", "networkpolicies"),
                want(
                    "crd.antrea.io/v1alpha1",
                    "ClusterNetworkPolicy",
                    "clusternetworkpolicies"
                ),
            ]
        );
        // Cilium's and Calico's policy kinds are evaluated, so watched, not counted; Cilium's
        // other kinds (egress gateways) are not policies.
        let natives: Vec<NativeKind> = found.natives.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            natives,
            [
                NativeKind::CiliumNetworkPolicy,
                NativeKind::CalicoGlobalNetworkPolicy
            ]
        );
        assert!(found.serves_native(NativeKind::CiliumNetworkPolicy));
        assert!(!found.serves_native(NativeKind::CiliumClusterwideNetworkPolicy));
    }

    #[test]
    fn calico_kinds_are_read_from_its_api_server_when_served_else_from_its_crds() {
        let list_groups = groups(json!({"groups": [
            {"name": "crd.projectcalico.org",
             "versions": [{"groupVersion": "crd.projectcalico.org/v1", "version": "v1"}]},
            {"name": "projectcalico.org",
             "versions": [{"groupVersion": "projectcalico.org/v3", "version": "v3"}]}
        ]}));
        assert_eq!(
            versions_to_read(&list_groups),
            ["crd.projectcalico.org/v1", "projectcalico.org/v3"]
        );
        let crds = list(
            "crd.projectcalico.org/v1",
            &[
                ("networkpolicies", "NetworkPolicy"),
                ("globalnetworkpolicies", "GlobalNetworkPolicy"),
                ("tiers", "Tier"),
            ],
        );
        let api_server = list(
            "projectcalico.org/v3",
            &[
                ("networkpolicies", "NetworkPolicy"),
                ("globalnetworkpolicies", "GlobalNetworkPolicy"),
            ],
        );
        let where_ = |found: &Discovered, kind| {
            found
                .native_resource(kind)
                .map(|r| r.api_version.clone())
                .unwrap_or_default()
        };
        // Both served: the API server's v3, except where only the CRD serves the kind.
        let both = read(&[crds.clone(), api_server]);
        assert_eq!(
            where_(&both, NativeKind::CalicoNetworkPolicy),
            "projectcalico.org/v3"
        );
        assert_eq!(
            where_(&both, NativeKind::CalicoGlobalNetworkPolicy),
            "projectcalico.org/v3"
        );
        assert_eq!(
            where_(&both, NativeKind::CalicoTier),
            "crd.projectcalico.org/v1"
        );
        // Only the CRDs: read there; the staged kinds are not served at all.
        let only_crds = read(&[crds]);
        let resource = only_crds
            .native_resource(NativeKind::CalicoNetworkPolicy)
            .unwrap();
        assert_eq!(
            (resource.group.as_str(), resource.version.as_str()),
            ("crd.projectcalico.org", "v1")
        );
        assert!(!only_crds.serves_native(NativeKind::CalicoStagedNetworkPolicy));
        assert!(only_crds.unevaluated.is_empty());
    }
}
