//! The demo API server, driven by a real kube-rs client.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::KubeConfigOptions;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, Resource, ResourceExt};
use palisade::sim::{DemoServer, Scenario, ServerOptions};
use serde::de::DeserializeOwned;
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(20);

async fn client_for(server: &DemoServer) -> Client {
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client builds")
}

async fn start() -> (DemoServer, Client) {
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let client = client_for(&server).await;
    (server, client)
}

fn netpol(name: &str) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {"podSelector": {"matchLabels": {"app": "storefront"}}, "policyTypes": ["Ingress"]},
    }))
    .expect("valid policy")
}

/// Pulls items from `stream` until `done` holds, failing after the deadline.
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

/// Drives a reflector until its store satisfies `done`.
async fn reflect_until<K, S>(
    stream: &mut S,
    store: &Store<K>,
    mut done: impl FnMut(&Store<K>) -> bool,
) where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Unpin,
{
    if done(store) {
        return;
    }
    let _ = next_until(stream, |_| done(store)).await;
}

fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Unpin,
)
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    (reader, Box::pin(stream))
}

fn api_code(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn discovery_finds_networkpolicies() {
    let (_server, client) = start().await;
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(version.major, "1");
    let discovery = kube::discovery::Discovery::new(client)
        .run()
        .await
        .expect("discovery");
    let found: Vec<(String, bool)> = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .map(|(ar, caps)| (ar.plural, caps.scope == kube::discovery::Scope::Namespaced))
        .collect();
    assert!(
        found.contains(&("networkpolicies".into(), true)),
        "{found:?}"
    );
    assert!(found.contains(&("pods".into(), true)), "{found:?}");
    assert!(found.contains(&("namespaces".into(), false)), "{found:?}");
}

#[tokio::test]
async fn watchers_see_seed_and_policy_writes() {
    let (_server, client) = start().await;
    let scenario = Scenario::builtin();
    let (ns_store, mut ns_stream) = reflect(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    );
    let (pod_store, mut pod_stream) =
        reflect(Api::<Pod>::all(client.clone()), watcher::Config::default());
    let (np_store, mut np_stream) = reflect(
        Api::<NetworkPolicy>::all(client.clone()),
        watcher::Config::default(),
    );
    reflect_until(&mut ns_stream, &ns_store, |s| {
        s.len() == scenario.namespace_count()
    })
    .await;
    reflect_until(&mut pod_stream, &pod_store, |s| {
        s.len() == scenario.total_pod_count()
    })
    .await;
    reflect_until(&mut np_stream, &np_store, |s| {
        s.len() == scenario.policy_count()
    })
    .await;
    let pod = pod_store.state().into_iter().next().expect("a pod");
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running")
    );

    let api = Api::<NetworkPolicy>::namespaced(client, "acme-web");
    let find = |store: &Store<NetworkPolicy>| {
        store
            .state()
            .into_iter()
            .find(|p| p.name_any() == "allow-test" && p.namespace().as_deref() == Some("acme-web"))
    };
    let created = api
        .create(&PostParams::default(), &netpol("allow-test"))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    reflect_until(&mut np_stream, &np_store, |s| find(s).is_some()).await;

    let merge = json!({"metadata": {"labels": {"reviewed": "yes"}}});
    api.patch("allow-test", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .expect("merge patch");
    reflect_until(&mut np_stream, &np_store, |s| {
        find(s).is_some_and(|p| p.labels().contains_key("reviewed"))
    })
    .await;

    let ops = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/policyTypes/0", "value": "Ingress"},
        {"op": "add", "path": "/spec/policyTypes/-", "value": "Egress"},
    ]))
    .expect("ops");
    let patched = api
        .patch(
            "allow-test",
            &PatchParams::default(),
            &Patch::<()>::Json(ops),
        )
        .await
        .expect("json patch");
    assert_eq!(patched.metadata.generation, Some(2));
    let has_egress = |p: &NetworkPolicy| {
        p.spec
            .as_ref()
            .and_then(|s| s.policy_types.as_ref())
            .is_some_and(|t| t.iter().any(|t| t == "Egress"))
    };
    reflect_until(&mut np_stream, &np_store, |s| {
        find(s).is_some_and(|p| has_egress(&p))
    })
    .await;

    let failing = serde_json::from_value(
        json!([{"op": "test", "path": "/spec/policyTypes/0", "value": "Nope"}]),
    )
    .expect("ops");
    let err = api
        .patch(
            "allow-test",
            &PatchParams::default(),
            &Patch::<()>::Json(failing),
        )
        .await
        .expect_err("test op fails");
    assert_eq!(api_code(err), 422);

    api.delete("allow-test", &DeleteParams::default())
        .await
        .expect("delete");
    reflect_until(&mut np_stream, &np_store, |s| find(s).is_none()).await;
    assert_eq!(np_store.len(), scenario.policy_count());
}

#[tokio::test]
async fn stale_replace_conflicts() {
    let (_server, client) = start().await;
    let api = Api::<NetworkPolicy>::namespaced(client, "acme-web");
    let original = api.get("default-deny").await.expect("get");
    let mut first = original.clone();
    first.labels_mut().insert("edit".into(), "1".into());
    api.replace("default-deny", &PostParams::default(), &first)
        .await
        .expect("first replace");
    let mut stale = original;
    stale.labels_mut().insert("edit".into(), "2".into());
    let err = api
        .replace("default-deny", &PostParams::default(), &stale)
        .await
        .expect_err("stale");
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains("the object has been modified"),
                "{}",
                s.message
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn pagination_walks_all_pods_once() {
    let (_server, client) = start().await;
    let api = Api::<Pod>::all(client);
    let mut params = ListParams::default().limit(5);
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut first_rv = None;
    loop {
        let page = api.list(&params).await.expect("page");
        pages += 1;
        assert!(page.items.len() <= 5);
        let rv = page.metadata.resource_version.clone();
        assert_eq!(first_rv.get_or_insert(rv.clone()), &rv);
        seen.extend(
            page.items
                .iter()
                .map(|p| format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())),
        );
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    // 43 workload pods, 3 Cilium agent pods (one per node) and the Hubble Relay pod.
    let pod_count = Scenario::builtin().total_pod_count();
    assert_eq!(pod_count, 47);
    assert_eq!(seen.len(), pod_count);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), pod_count);
    assert_eq!(pages, pod_count.div_ceil(5));
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let (_server, client) = start().await;
    let api = Api::<NetworkPolicy>::namespaced(client, "acme-web");
    let before = api.list(&ListParams::default()).await.expect("list");
    let dry_post = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let preview = api
        .create(&dry_post, &netpol("dry"))
        .await
        .expect("dry create");
    assert_eq!(preview.name_any(), "dry");
    let merge = json!({"metadata": {"labels": {"dry": "run"}}});
    let patched = api
        .patch(
            "default-deny",
            &PatchParams::default().dry_run(),
            &Patch::Merge(&merge),
        )
        .await
        .expect("dry patch");
    assert!(patched.labels().contains_key("dry"));
    api.delete("default-deny", &DeleteParams::default().dry_run())
        .await
        .expect("dry delete");
    let after = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(
        before.metadata.resource_version,
        after.metadata.resource_version
    );
    assert_eq!(before.items, after.items);
}

#[tokio::test]
async fn expired_watch_reports_410_and_watcher_relists() {
    let options = ServerOptions {
        event_window: 5,
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server");
    let client = client_for(&server).await;
    let policies = Api::<NetworkPolicy>::all(client.clone());
    let mut raw = policies
        .watch(&WatchParams::default(), "1")
        .await
        .expect("watch")
        .boxed();
    let first = tokio::time::timeout(DEADLINE, raw.next())
        .await
        .expect("event in time");
    match first {
        Some(Ok(WatchEvent::Error(status))) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"))
        }
        other => panic!("expected an ERROR 410 event, got {other:?}"),
    }

    // No bookmarks and a short timeout: the watcher re-watches from its last
    // (soon too old) resource version and must relist after the 410.
    let config = watcher::Config::default().disable_bookmarks().timeout(1);
    let (store, mut stream) = reflect(policies, config);
    let count = Scenario::builtin().policy_count();
    reflect_until(&mut stream, &store, |s| s.len() == count).await;
    let pods = Api::<Pod>::namespaced(client, "acme-web");
    for pod in pods
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items
        .iter()
        .take(3)
    {
        for n in 0..3 {
            let merge = json!({"metadata": {"labels": {"touched": n.to_string()}}});
            pods.patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&merge),
            )
            .await
            .expect("touch");
        }
    }
    let _ = next_until(&mut stream, |e| matches!(e, Ok(watcher::Event::Init))).await;
    reflect_until(&mut stream, &store, |s| s.len() == count).await;
}

#[tokio::test]
async fn bookmarks_arrive() {
    let (_server, client) = start().await;
    let api = Api::<Namespace>::all(client);
    let rv = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut events = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let bookmark = next_until(&mut events, |e| matches!(e, Ok(WatchEvent::Bookmark(_)))).await;
    if let Ok(WatchEvent::Bookmark(b)) = bookmark {
        assert_eq!(b.metadata.resource_version, rv);
    }
}

#[tokio::test]
async fn errors_are_status_objects() {
    let (server, client) = start().await;
    let api = Api::<NetworkPolicy>::namespaced(client.clone(), "acme-web");
    match api.get("no-such-policy").await.expect_err("missing") {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
            assert_eq!(
                s.details.map(|d| d.kind),
                Some("networkpolicies".to_string())
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let bad = api
        .list(&ListParams::default().labels("app in web"))
        .await
        .expect_err("bad selector");
    assert_eq!(api_code(bad), 400);
    let fields = api
        .list(&ListParams::default().fields("spec.podSelector=x"))
        .await
        .expect_err("bad field");
    assert_eq!(api_code(fields), 400);
    let missing_ns = Api::<NetworkPolicy>::namespaced(client, "nope");
    let err = missing_ns
        .create(&PostParams::default(), &netpol("x"))
        .await
        .expect_err("no namespace");
    assert_eq!(api_code(err), 404);
    assert!(NetworkPolicy::api_version(&()) == "networking.k8s.io/v1");
    server.shutdown().await;
}

async fn client_with(server: &DemoServer, context: &str) -> Client {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &options)
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client builds")
}

async fn can_i(client: &Client, verb: &str) -> (bool, String) {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some("networking.k8s.io".into()),
                resource: Some("networkpolicies".into()),
                namespace: Some("acme-web".into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("access review");
    let status = answer.status.expect("status");
    (status.allowed, status.reason.unwrap_or_default())
}

#[tokio::test]
async fn the_viewer_reads_but_every_write_is_forbidden() {
    let (server, admin) = start().await;
    let viewer = client_with(&server, palisade::sim::VIEWER_CONTEXT).await;
    let api = Api::<NetworkPolicy>::namespaced(viewer.clone(), "acme-web");
    assert!(
        !api.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    api.get("default-deny").await.expect("get");
    let forbidden = |err: kube::Error| match err {
        kube::Error::Api(status) => (status.code, status.reason, status.message),
        other => panic!("expected an API error, got {other:?}"),
    };
    let (code, reason, message) = forbidden(
        api.create(&PostParams::default(), &netpol("nope"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        "networkpolicies.networking.k8s.io is forbidden: User \"palisade-demo-viewer\" cannot create resource \"networkpolicies\" in API group \"networking.k8s.io\" in the namespace \"acme-web\""
    );
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    assert_eq!(
        forbidden(api.create(&dry, &netpol("nope")).await.unwrap_err()).0,
        403
    );
    let merge = json!({"metadata": {"labels": {"x": "y"}}});
    let (code, _, message) = forbidden(
        api.patch(
            "default-deny",
            &PatchParams::default(),
            &Patch::Merge(&merge),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 403);
    assert!(
        message.contains("\"default-deny\" is forbidden"),
        "{message}"
    );
    assert_eq!(
        forbidden(
            api.delete("default-deny", &DeleteParams::default())
                .await
                .unwrap_err()
        )
        .0,
        403
    );
    // Nothing changed, as the admin sees it.
    let admin_api = Api::<NetworkPolicy>::namespaced(admin.clone(), "acme-web");
    assert!(admin_api.get_opt("nope").await.unwrap().is_none());
    assert!(
        !admin_api
            .get("default-deny")
            .await
            .unwrap()
            .labels()
            .contains_key("x")
    );

    assert!(can_i(&viewer, "list").await.0);
    let (allowed, reason) = can_i(&viewer, "update").await;
    assert!(
        !allowed && reason.contains("only get, list and watch"),
        "{reason}"
    );
    assert!(can_i(&admin, "delete").await.0);
}

#[tokio::test]
async fn self_subject_reviews_and_tokens() {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let (server, admin) = start().await;
    let whoami = |client: Client| async move {
        Api::<SelfSubjectReview>::all(client)
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await
            .expect("self review")
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
    };
    assert_eq!(whoami(admin).await.as_deref(), Some("palisade-demo"));
    let viewer = client_with(&server, palisade::sim::VIEWER_CONTEXT).await;
    assert_eq!(
        whoami(viewer).await.as_deref(),
        Some("palisade-demo-viewer")
    );
    // No credentials, an unknown token, or a header that is no ASCII bearer token: 401, for
    // reads and writes alike, with the API server's Status.
    let mut bare = server.kubeconfig();
    for user in &mut bare.auth_infos {
        user.auth_info = Some(Default::default());
    }
    let config = Config::from_custom_kubeconfig(bare.clone(), &KubeConfigOptions::default())
        .await
        .unwrap();
    let anonymous = Client::try_from(config).unwrap();
    let err = Api::<SelfSubjectReview>::all(anonymous.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 401);
    let err = Api::<NetworkPolicy>::namespaced(anonymous.clone(), "acme-web")
        .delete("default-deny", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 401);
    let raw = |authorization: &'static [u8]| {
        let client = anonymous.clone();
        async move {
            let request = hyper::Request::get("/api/v1/namespaces")
                .header(
                    "authorization",
                    hyper::header::HeaderValue::from_bytes(authorization).unwrap(),
                )
                .body(Vec::new())
                .unwrap();
            let response = client.send(request.map(Into::into)).await.unwrap();
            let code = response.status().as_u16();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (
                code,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let unauthorized = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
    });
    for header in [
        &b"Bearer \xff\xfe"[..],
        b"Bearer caf\xc3\xa9",
        b"Basic Zm9vOmJhcg==",
    ] {
        assert_eq!(raw(header).await, (401, unauthorized.clone()), "{header:?}");
    }
    for user in &mut bare.auth_infos {
        user.auth_info = Some(serde_json::from_value(json!({"token": "wrong"})).unwrap());
    }
    let config = Config::from_custom_kubeconfig(bare, &KubeConfigOptions::default())
        .await
        .unwrap();
    let stranger = Client::try_from(config).unwrap();
    let err = Api::<NetworkPolicy>::all(stranger)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_code(err), 401);
    // The admin's policy is still there: nothing above wrote anything.
    let admin = client_for(&server).await;
    Api::<NetworkPolicy>::namespaced(admin, "acme-web")
        .get("default-deny")
        .await
        .expect("default-deny survives");
}

/// Plain HTTP to the demo port is not served: the server speaks TLS only.
#[tokio::test]
async fn plain_http_is_not_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, _client) = start().await;
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"DELETE /apis/networking.k8s.io/v1/namespaces/acme-web/networkpolicies/default-deny HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "{answer:?}"
    );
    let admin = client_for(&server).await;
    Api::<NetworkPolicy>::namespaced(admin, "acme-web")
        .get("default-deny")
        .await
        .expect("default-deny survives");
}

/// How long a request took.
async fn timed<T>(request: impl Future<Output = T>) -> (T, Duration) {
    let start = tokio::time::Instant::now();
    let value = request.await;
    (value, start.elapsed())
}

/// `--admission-delay`: every write waits in "admission" before the store handles it, dry run or
/// not, as behind a slow validating webhook; reads answer at once.
#[tokio::test]
async fn a_slow_admission_holds_writes_and_not_reads() {
    const DELAY: Duration = Duration::from_millis(1500);
    let options = ServerOptions {
        admission_delay: DELAY,
        agents: false,
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let api = Api::<NetworkPolicy>::namespaced(client_for(&server).await, "acme-web");
    // The connection and the TLS handshake are not what is measured.
    let live = api.get("allow-dns").await.expect("get");

    let (got, get) = timed(api.get("allow-dns")).await;
    got.expect("get");
    let (listed, list) = timed(api.list(&ListParams::default())).await;
    listed.expect("list");
    assert!(
        get < DELAY && list < DELAY,
        "reads are held: {get:?}, {list:?}"
    );

    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let (replaced, replace) = timed(api.replace("allow-dns", &dry, &live)).await;
    replaced.expect("dry-run replace");
    let (deleted, delete) =
        timed(api.delete("allow-dns", &DeleteParams::default().dry_run())).await;
    deleted.expect("dry-run delete");
    let (created, create) = timed(api.create(&dry, &netpol("held"))).await;
    created.expect("dry-run create");
    for took in [replace, delete, create] {
        assert!(took >= DELAY, "a dry run runs admission: {took:?}");
    }

    // A real write is invisible to reads until admission lets it through.
    let sent = tokio::time::Instant::now();
    let write = {
        let api = api.clone();
        tokio::spawn(async move {
            let labels = json!({"metadata": {"labels": {"held": "yes"}}});
            api.patch("allow-dns", &PatchParams::default(), &Patch::Merge(&labels))
                .await
                .expect("patch");
            sent.elapsed()
        })
    };
    let mut reads_during_admission = 0;
    while sent.elapsed() < DELAY / 2 {
        let seen = api.get("allow-dns").await.expect("get");
        if sent.elapsed() < DELAY {
            assert!(
                !seen.labels().contains_key("held"),
                "written before admission ended"
            );
            reads_during_admission += 1;
        }
    }
    assert!(reads_during_admission > 0);
    let took = write.await.expect("the write task");
    assert!(took >= DELAY, "a write runs admission: {took:?}");
    let after = api.get("allow-dns").await.expect("get");
    assert_eq!(after.labels().get("held").map(String::as_str), Some("yes"));
}
