//! The demo server's tier group (policy.networking.k8s.io) and other projects' policy kinds,
//! driven by a real kube-rs client: as a real cluster with those CRDs installed would answer.

use std::fmt::Debug;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::config::KubeConfigOptions;
use kube::{Client, Config};
use palisade::model::{NativeKind, TierKind};
use palisade::sim::{DemoServer, NO_TIERS_CONTEXT, Scenario, ServerOptions};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(20);

async fn serve(options: ServerOptions) -> DemoServer {
    DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts")
}

async fn client(server: &DemoServer, context: Option<&str>) -> Client {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &options)
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client builds")
}

fn resource(kind: TierKind) -> ApiResource {
    ApiResource {
        group: "policy.networking.k8s.io".into(),
        version: kind.version().into(),
        api_version: kind.api_version(),
        kind: kind.kind().into(),
        plural: kind.plural().into(),
    }
}

fn cnp_api(client: &Client) -> Api<DynamicObject> {
    Api::all_with(client.clone(), &resource(TierKind::ClusterNetworkPolicy))
}

fn cnp(name: &str, priority: i64) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name, "labels": {"team": "platform"}},
        "spec": {
            "tier": "Admin", "priority": priority,
            "subject": {"namespaces": {"matchLabels": {"tenant": "globex"}}},
            "ingress": [{"name": "deny-acme", "action": "Deny",
                         "from": [{"namespaces": {"matchLabels": {"tenant": "acme"}}}]}],
        },
    }))
    .expect("valid object")
}

fn status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn next_until<S, T>(stream: &mut S, mut done: impl FnMut(&T) -> bool) -> T
where
    S: Stream<Item = T> + Unpin,
    T: Debug,
{
    tokio::time::timeout(DEADLINE, async {
        loop {
            let item = stream.next().await.expect("stream ended early");
            if done(&item) {
                return item;
            }
        }
    })
    .await
    .expect("condition reached before the deadline")
}

fn names(list: &[DynamicObject]) -> Vec<String> {
    list.iter()
        .map(|o| o.metadata.name.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn discovery_lists_the_tier_group_with_its_kinds() {
    let server = serve(ServerOptions::default()).await;
    let client = client(&server, None).await;
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let group = discovery
        .groups()
        .find(|g| g.name() == "policy.networking.k8s.io")
        .expect("tier group discovered");
    assert_eq!(group.preferred_version(), Some("v1alpha2"));
    let mut found: Vec<(String, String, bool)> = group
        .versions()
        .flat_map(|v| group.versioned_resources(v))
        .map(|(ar, caps)| {
            let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
            (ar.version, ar.plural, namespaced)
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("v1alpha1".into(), "adminnetworkpolicies".into(), false),
            (
                "v1alpha1".into(),
                "baselineadminnetworkpolicies".into(),
                false
            ),
            ("v1alpha2".into(), "clusternetworkpolicies".into(), false),
        ]
    );
    let list = client
        .list_api_group_resources("policy.networking.k8s.io/v1alpha2")
        .await
        .expect("resource list");
    assert_eq!(list.resources[0].short_names, Some(vec!["cnp".to_string()]));
}

#[tokio::test]
async fn list_get_create_patch_apply_delete_and_dry_run() {
    let server = serve(ServerOptions::default()).await;
    let client = client(&server, None).await;
    let api = cnp_api(&client);
    let seeded = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(seeded.items.len(), Scenario::builtin().tier_count());
    assert!(names(&seeded.items).contains(&"allow-backups-to-initech-db".to_string()));
    // Pages with continue tokens, as the other kinds.
    let first = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page");
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("continue token");
    let rest = api
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .expect("next page");
    assert_eq!(first.items.len() + rest.items.len(), seeded.items.len());

    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    api.create(&dry, &cnp("deny-acme", 20))
        .await
        .expect("dry run");
    assert_eq!(status(api.get("deny-acme").await.unwrap_err()).code, 404);
    let created = api
        .create(&PostParams::default(), &cnp("deny-acme", 20))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    let selected = api
        .list(&ListParams::default().labels("team=platform"))
        .await
        .expect("by label");
    assert_eq!(names(&selected.items), ["deny-acme"]);

    let merge = json!({"spec": {"priority": 21}});
    let patched = api
        .patch("deny-acme", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .expect("merge patch");
    assert_eq!(patched.data["spec"]["priority"], json!(21));
    assert_eq!(patched.metadata.generation, Some(2));
    // A custom resource has no strategic merge patch: 415, as from a real API server.
    let strategic = api
        .patch(
            "deny-acme",
            &PatchParams::default(),
            &Patch::Strategic(&merge),
        )
        .await
        .expect_err("strategic merge patch");
    assert_eq!(status(strategic).code, 415);
    // Server-side apply replaces the spec, and creates what is missing (201).
    let mut applied = cnp("deny-acme", 22);
    applied.data["spec"]["ingress"][0]["action"] = json!("Pass");
    let ssa = PatchParams::apply("palisade-test");
    let after = api
        .patch("deny-acme", &ssa, &Patch::Apply(&applied))
        .await
        .expect("apply");
    assert_eq!(after.data["spec"]["priority"], json!(22));
    assert_eq!(after.data["spec"]["ingress"][0]["action"], json!("Pass"));
    let managers: Vec<(String, String)> = after
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("palisade-test".into(), "Apply".into())),
        "{managers:?}"
    );
    api.patch("applied-new", &ssa, &Patch::Apply(&cnp("applied-new", 40)))
        .await
        .expect("apply creates");
    assert!(api.get("applied-new").await.is_ok());

    let dry_delete = DeleteParams {
        dry_run: true,
        ..DeleteParams::default()
    };
    api.delete("deny-acme", &dry_delete)
        .await
        .expect("dry-run delete");
    assert!(api.get("deny-acme").await.is_ok());
    api.delete("deny-acme", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(status(api.get("deny-acme").await.unwrap_err()).code, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_tier_policies_are_422_with_field_paths() {
    let server = serve(ServerOptions::default()).await;
    let client = client(&server, None).await;
    let api = cnp_api(&client);
    let mut bad = cnp("bad", 1001);
    bad.data["spec"]["tier"] = json!("Platform");
    bad.data["spec"]["ingress"][0]["from"] = json!([]);
    let err = status(
        api.create(&PostParams::default(), &bad)
            .await
            .expect_err("invalid"),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message
            .starts_with("ClusterNetworkPolicy.policy.networking.k8s.io \"bad\" is invalid: ["),
        "{}",
        err.message
    );
    let details = err.details.expect("details");
    assert_eq!(details.kind, "ClusterNetworkPolicy");
    let fields: Vec<String> = details.causes.iter().map(|c| c.field.clone()).collect();
    assert_eq!(
        fields,
        ["spec.tier", "spec.priority", "spec.ingress[0].from"]
    );
    // Updates are validated too; the stored object stays as it was.
    let seeded = "monitoring-may-scrape";
    let patch = json!({"spec": {"subject": {"namespaces": {}, "pods": {"podSelector": {}}}}});
    let err = api
        .patch(seeded, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect_err("two subjects");
    assert_eq!(status(err).code, 422);
    // Undeclared fields are dropped, as a real server prunes them; refused under Strict.
    let mut typo = cnp("typo", 3);
    typo.data["spec"]["priorty"] = json!(4);
    typo.data["spec"]["ingress"][0]["ports"] = json!([{"port": 80}]);
    let stored = api
        .create(&PostParams::default(), &typo)
        .await
        .expect("pruned and created");
    assert_eq!(stored.data["spec"].get("priorty"), None);
    assert_eq!(stored.data["spec"]["ingress"][0].get("ports"), None);
    assert_eq!(stored.data["spec"]["priority"], json!(3));
    let strict = PatchParams {
        field_validation: Some(kube::api::ValidationDirective::Strict),
        ..PatchParams::default()
    };
    let err = status(
        api.patch(
            "typo",
            &strict,
            &Patch::Merge(json!({"spec": {"priorty": 5}})),
        )
        .await
        .expect_err("strict"),
    );
    assert_eq!(err.code, 400);
    assert!(
        err.message
            .ends_with("strict decoding error: unknown field \"spec.priorty\""),
        "{}",
        err.message
    );
    let banp = Api::<DynamicObject>::all_with(
        client.clone(),
        &resource(TierKind::BaselineAdminNetworkPolicy),
    );
    let not_default: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "BaselineAdminNetworkPolicy",
        "metadata": {"name": "tenants"},
        "spec": {"subject": {"namespaces": {}}},
    }))
    .unwrap();
    let err = banp
        .create(&PostParams::default(), &not_default)
        .await
        .expect_err("only `default`");
    assert_eq!(status(err).code, 422);
    server.shutdown().await;
}

#[tokio::test]
async fn watches_see_tier_writes_with_bookmarks_and_410_when_expired() {
    let server = serve(ServerOptions {
        bookmark_interval: Duration::from_millis(100),
        ..ServerOptions::default()
    })
    .await;
    let client = client(&server, None).await;
    let api = cnp_api(&client);
    let rv = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut events = api
        .watch(&WatchParams::default().labels("team=platform"), &rv)
        .await
        .expect("watch")
        .boxed();
    let bookmark = next_until(&mut events, |e| matches!(e, Ok(WatchEvent::Bookmark(_)))).await;
    let Ok(WatchEvent::Bookmark(b)) = bookmark else {
        unreachable!()
    };
    assert_eq!(b.metadata.resource_version, rv);
    api.create(&PostParams::default(), &cnp("watched", 7))
        .await
        .expect("create");
    let merge = json!({"spec": {"priority": 8}});
    api.patch("watched", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .expect("patch");
    api.delete("watched", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    let _ = next_until(&mut events, |e| {
        let kind = match e {
            Ok(WatchEvent::Added(o)) => ("ADDED", o.data["spec"]["priority"].clone()),
            Ok(WatchEvent::Modified(o)) => ("MODIFIED", o.data["spec"]["priority"].clone()),
            Ok(WatchEvent::Deleted(o)) => ("DELETED", o.data["spec"]["priority"].clone()),
            _ => return false,
        };
        let done = kind.0 == "DELETED";
        seen.push(kind);
        done
    })
    .await;
    assert_eq!(
        seen,
        [
            ("ADDED", json!(7)),
            ("MODIFIED", json!(8)),
            ("DELETED", json!(8))
        ]
    );
    // Compacted history: HTTP 200, then one ERROR event with 410 Expired.
    server.inject(palisade::sim::Fault::Expire);
    let mut stale = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let error = next_until(&mut stale, |e| matches!(e, Ok(WatchEvent::Error(_)))).await;
    let Ok(WatchEvent::Error(e)) = error else {
        unreachable!()
    };
    assert_eq!(e.code, 410);
    server.shutdown().await;
}

#[tokio::test]
async fn a_cluster_without_the_tier_group_answers_404() {
    let server = serve(ServerOptions {
        tiers: false,
        ..ServerOptions::default()
    })
    .await;
    let client = client(&server, None).await;
    let groups = client.list_api_groups().await.expect("groups");
    assert!(
        groups
            .groups
            .iter()
            .all(|g| g.name != "policy.networking.k8s.io"),
        "{groups:?}"
    );
    let err = client
        .list_api_group_resources("policy.networking.k8s.io/v1alpha2")
        .await
        .expect_err("not served");
    assert_eq!(status(err).code, 404);
    let err = cnp_api(&client)
        .list(&ListParams::default())
        .await
        .expect_err("not served");
    assert_eq!(status(err).code, 404);
    // The rest of the cluster is as always.
    let netpols = Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::all(client);
    let listed = netpols.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), Scenario::builtin().policy_count());
    server.shutdown().await;
}

#[tokio::test]
async fn the_no_tiers_user_is_forbidden_the_tier_group_and_cilium_only() {
    let server = serve(ServerOptions {
        tiers_forbidden_user: true,
        ..ServerOptions::default()
    })
    .await;
    let contexts: Vec<String> = server
        .kubeconfig()
        .contexts
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert!(
        contexts.contains(&NO_TIERS_CONTEXT.to_string()),
        "{contexts:?}"
    );
    let client = client(&server, Some(NO_TIERS_CONTEXT)).await;
    for kind in TierKind::ALL {
        let api = Api::<DynamicObject>::all_with(client.clone(), &resource(kind));
        let listed = status(api.list(&ListParams::default()).await.unwrap_err());
        assert_eq!((listed.code, listed.reason.as_str()), (403, "Forbidden"));
        assert!(
            listed.message.contains(&format!(
                "User \"palisade-demo-no-tiers\" cannot list resource \"{}\" in API group \"policy.networking.k8s.io\" at the cluster scope",
                kind.plural()
            )),
            "{}",
            listed.message
        );
        let watched = api.watch(&WatchParams::default(), "0").await;
        assert_eq!(status(watched.err().expect("watch refused")).code, 403);
    }
    // (Calico's groups are not served here; watch_calico covers them forbidden.)
    for kind in NativeKind::CILIUM {
        let resource = kube::core::ApiResource {
            group: kind.group().into(),
            version: kind.version().into(),
            api_version: kind.api_version(),
            kind: kind.kind().into(),
            plural: kind.plural().into(),
        };
        let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
        let listed = status(api.list(&ListParams::default()).await.unwrap_err());
        assert_eq!(listed.code, 403, "{}", listed.message);
        assert!(listed.message.contains("in API group \"cilium.io\""));
    }
    // Discovery still shows the group, as RBAC does not hide it.
    let groups = client.list_api_groups().await.expect("groups");
    assert!(
        groups
            .groups
            .iter()
            .any(|g| g.name == "policy.networking.k8s.io")
    );
    let netpols =
        Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(client, "acme-web");
    assert!(
        !netpols
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Without the option, the user and its context do not exist.
    let plain = serve(ServerOptions::default()).await;
    assert!(
        plain
            .kubeconfig()
            .contexts
            .iter()
            .all(|c| c.name != NO_TIERS_CONTEXT)
    );
    server.shutdown().await;
    plain.shutdown().await;
}

#[tokio::test]
async fn foreign_policy_kinds_are_discovered_and_counted_with_metadata_lists() {
    let server = serve(ServerOptions {
        foreign: "StagedNetworkPolicy=12,StagedGlobalNetworkPolicy=2,GlobalNetworkPolicy=3,NetworkPolicy.crd.antrea.io=1,MultiNetworkPolicy=4"
            .parse()
            .expect("spec parses"),
        ..ServerOptions::default()
    })
    .await;
    let client = client(&server, None).await;
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let count = |group: &str, kind: &str| {
        let (ar, caps) = discovery
            .groups()
            .find(|g| g.name() == group)
            .and_then(|g| {
                g.recommended_resources()
                    .into_iter()
                    .find(|(ar, _)| ar.kind == kind)
            })
            .unwrap_or_else(|| panic!("{kind}.{group} not discovered"));
        let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
        let api = Api::<DynamicObject>::all_with(client.clone(), &ar);
        async move {
            let list = api
                .list_metadata(&ListParams::default())
                .await
                .expect("metadata list");
            assert!(
                list.items
                    .iter()
                    .all(|o| o.metadata.namespace.is_some() == namespaced)
            );
            list.items.len()
        }
    };
    assert_eq!(count("projectcalico.org", "StagedNetworkPolicy").await, 12);
    assert_eq!(
        count("projectcalico.org", "StagedGlobalNetworkPolicy").await,
        2
    );
    assert_eq!(count("projectcalico.org", "GlobalNetworkPolicy").await, 3);
    assert_eq!(count("crd.antrea.io", "NetworkPolicy").await, 1);
    assert_eq!(count("k8s.cni.cncf.io", "MultiNetworkPolicy").await, 4);
    // Kinds not asked for are not served.
    assert!(discovery.groups().all(|g| {
        g.name() != "projectcalico.org"
            || g.recommended_resources()
                .iter()
                .all(|(ar, _)| ar.kind != "StagedKubernetesNetworkPolicy")
    }));
    server.shutdown().await;
}
