use super::*;

fn opts() -> WriteOptions {
    WriteOptions::default()
}

fn dry() -> WriteOptions {
    WriteOptions {
        dry_run: true,
        ..WriteOptions::default()
    }
}

fn store_with(window: usize) -> Store {
    let mut s = Store::new(vec!["n1".into(), "n2".into()], window);
    for ns in ["a", "b"] {
        s.create(
            Resource::Namespaces,
            "",
            json!({"metadata": {"name": ns}}),
            &opts(),
        )
        .expect("namespace");
    }
    s
}

fn netpol(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
}

#[test]
fn create_sets_server_fields_and_rejects_clashes() {
    let mut s = store_with(100);
    let np = s
        .create(Resource::NetworkPolicies, "a", netpol("deny"), &opts())
        .expect("created");
    assert_eq!(np["kind"], "NetworkPolicy");
    assert_eq!(np["metadata"]["namespace"], "a");
    assert_eq!(np["metadata"]["generation"], 1);
    assert_eq!(np["metadata"]["resourceVersion"], "3");
    assert_eq!(np["metadata"]["managedFields"][0]["manager"], "unknown");
    let clash = s.create(Resource::NetworkPolicies, "a", netpol("deny"), &opts());
    assert_eq!(clash.unwrap_err().reason, "AlreadyExists");
    let no_ns = s.create(Resource::NetworkPolicies, "zzz", netpol("deny"), &opts());
    assert_eq!(no_ns.unwrap_err().code, 404);
    let mut wrong_ns = netpol("x");
    wrong_ns["metadata"]["namespace"] = json!("b");
    let err = s.create(Resource::NetworkPolicies, "a", wrong_ns, &opts());
    assert_eq!(err.unwrap_err().code, 400);
    let generated = json!({"metadata": {"generateName": "np-"}, "spec": {}});
    let made = s
        .create(Resource::NetworkPolicies, "a", generated, &opts())
        .expect("generateName works");
    assert!(str_at(&made, "/metadata/name").starts_with("np-"));
    let ns = s.get(Resource::Namespaces, "", "a").expect("ns");
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "a");
}

#[test]
fn pods_get_placed() {
    let mut s = store_with(100);
    let pod =
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let p = s.create(Resource::Pods, "a", pod, &opts()).expect("pod");
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(p["status"]["podIP"], "10.244.0.2");
    assert_eq!(p["spec"]["nodeName"], "n1");
}

#[test]
fn replace_with_stale_version_conflicts_and_spec_change_bumps_generation() {
    let mut s = store_with(100);
    let np = s
        .create(Resource::NetworkPolicies, "a", netpol("deny"), &opts())
        .expect("created");
    let mut changed = np.clone();
    changed["spec"]["policyTypes"] = json!(["Ingress", "Egress"]);
    let updated = s
        .replace(
            Resource::NetworkPolicies,
            "a",
            "deny",
            changed.clone(),
            &opts(),
        )
        .expect("replaced");
    assert_eq!(updated["metadata"]["generation"], 2);
    let err = s
        .replace(Resource::NetworkPolicies, "a", "deny", changed, &opts())
        .expect_err("stale");
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert!(err.message.contains("the object has been modified"));
    let patch = br#"{"metadata":{"resourceVersion":"1","labels":{"x":"y"}}}"#;
    let err = s.patch(
        Resource::NetworkPolicies,
        "a",
        "deny",
        PatchKind::Merge,
        patch,
        &opts(),
    );
    assert_eq!(err.unwrap_err().code, 409);
    let renamed = s.replace(
        Resource::NetworkPolicies,
        "a",
        "deny",
        netpol("other"),
        &opts(),
    );
    assert_eq!(renamed.unwrap_err().code, 400);
}

#[test]
fn dry_run_leaves_no_trace() {
    let mut s = store_with(100);
    s.create(Resource::NetworkPolicies, "a", netpol("deny"), &opts())
        .expect("created");
    let rv = s.resource_version();
    let before = s.get(Resource::NetworkPolicies, "a", "deny").expect("get");
    let mut rx = s
        .watch(Resource::NetworkPolicies, Some(rv))
        .expect("watch")
        .rx;
    s.create(Resource::NetworkPolicies, "a", netpol("new"), &dry())
        .expect("dry create");
    s.patch(
        Resource::NetworkPolicies,
        "a",
        "deny",
        PatchKind::Merge,
        br#"{"metadata":{"labels":{"a":"b"}}}"#,
        &dry(),
    )
    .expect("dry patch");
    s.delete(
        Resource::NetworkPolicies,
        "a",
        "deny",
        &Preconditions::default(),
        &dry(),
    )
    .expect("dry delete");
    s.delete(
        Resource::Namespaces,
        "",
        "a",
        &Preconditions::default(),
        &dry(),
    )
    .expect("dry ns delete");
    assert_eq!(s.resource_version(), rv);
    assert_eq!(
        s.get(Resource::NetworkPolicies, "a", "deny")
            .expect("still there"),
        before
    );
    assert!(s.get(Resource::NetworkPolicies, "a", "new").is_err());
    assert!(rx.try_recv().is_err(), "no events");
}

#[test]
fn delete_namespace_cascades_and_checks_preconditions() {
    let mut s = store_with(100);
    s.create(Resource::NetworkPolicies, "a", netpol("deny"), &opts())
        .expect("np");
    s.create(Resource::NetworkPolicies, "b", netpol("deny"), &opts())
        .expect("np");
    let stale = Preconditions {
        resource_version: Some("1".into()),
        uid: None,
    };
    let err = s.delete(Resource::NetworkPolicies, "a", "deny", &stale, &opts());
    assert_eq!(err.unwrap_err().code, 409);
    let mut rx = s
        .watch(Resource::NetworkPolicies, Some(s.resource_version()))
        .expect("w")
        .rx;
    s.delete(
        Resource::Namespaces,
        "",
        "a",
        &Preconditions::default(),
        &opts(),
    )
    .expect("deleted");
    let ev = rx.try_recv().expect("delete event");
    assert_eq!(ev.kind, EventKind::Deleted);
    assert_eq!(ev.object["metadata"]["namespace"], "a");
    assert_eq!(s.count(Resource::NetworkPolicies), 1);
    assert_eq!(s.count(Resource::Namespaces), 1);
}

#[test]
fn pagination_walks_everything_once() {
    let mut s = store_with(100);
    for i in 0..7 {
        let ns = if i % 2 == 0 { "a" } else { "b" };
        s.create(
            Resource::NetworkPolicies,
            ns,
            netpol(&format!("p{i}")),
            &opts(),
        )
        .expect("np");
    }
    let mut token: Option<String> = None;
    let mut seen = Vec::new();
    let mut first_rv = None;
    loop {
        let q = ListQuery {
            limit: Some(3),
            continue_token: token.as_deref(),
            ..ListQuery::default()
        };
        let page = s.list(Resource::NetworkPolicies, &q).expect("page");
        let rv = page["metadata"]["resourceVersion"].clone();
        assert_eq!(*first_rv.get_or_insert(rv.clone()), rv);
        for item in page["items"].as_array().expect("items") {
            seen.push(format!(
                "{}/{}",
                str_at(item, "/metadata/namespace"),
                str_at(item, "/metadata/name")
            ));
        }
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        // Writes between pages do not change the first page's resourceVersion.
        s.create(
            Resource::Namespaces,
            "",
            json!({"metadata": {"generateName": "x-"}}),
            &opts(),
        )
        .expect("ns");
    }
    assert_eq!(
        seen,
        ["a/p0", "a/p2", "a/p4", "a/p6", "b/p1", "b/p3", "b/p5"]
    );
    let garbled = ListQuery {
        continue_token: Some("zz"),
        ..ListQuery::default()
    };
    assert_eq!(
        s.list(Resource::NetworkPolicies, &garbled)
            .unwrap_err()
            .code,
        400
    );
}

#[test]
fn old_versions_expire_outside_the_window() {
    let mut s = store_with(3);
    let first = s.list(
        Resource::Pods,
        &ListQuery {
            limit: Some(1),
            ..ListQuery::default()
        },
    );
    assert!(first.is_ok());
    let page = s
        .list(
            Resource::Namespaces,
            &ListQuery {
                limit: Some(1),
                ..ListQuery::default()
            },
        )
        .expect("page");
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("token")
        .to_string();
    for i in 0..5 {
        s.create(
            Resource::NetworkPolicies,
            "a",
            netpol(&format!("p{i}")),
            &opts(),
        )
        .expect("np");
    }
    let err = s
        .watch(Resource::NetworkPolicies, Some(1))
        .err()
        .expect("expired");
    assert_eq!((err.code, err.reason), (410, "Expired"));
    let q = ListQuery {
        continue_token: Some(&token),
        ..ListQuery::default()
    };
    assert_eq!(s.list(Resource::Namespaces, &q).unwrap_err().code, 410);
    let recent = s
        .watch(Resource::NetworkPolicies, Some(s.resource_version() - 2))
        .expect("ok");
    assert_eq!(recent.initial.len(), 2);
    let fresh = s.watch(Resource::NetworkPolicies, None).expect("ok");
    assert_eq!(fresh.initial.len(), 5);
    assert!(fresh.initial.iter().all(|e| e.kind == EventKind::Added));
}

/// As a real API server: every page but the last says how many objects are still to come, so a
/// client can show `listing pods 500/20,000`.
#[test]
fn paged_lists_count_the_objects_still_to_come() {
    let mut s = store_with(100);
    for i in 0..7 {
        s.create(
            Resource::NetworkPolicies,
            "a",
            netpol(&format!("p{i}")),
            &opts(),
        )
        .expect("np");
    }
    let mut token: Option<String> = None;
    let mut remaining = Vec::new();
    loop {
        let q = ListQuery {
            limit: Some(3),
            continue_token: token.as_deref(),
            ..ListQuery::default()
        };
        let page = s.list(Resource::NetworkPolicies, &q).expect("page");
        remaining.push(page["metadata"]["remainingItemCount"].as_u64());
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(remaining, vec![Some(4), Some(1), None]);
}

/// Pages in one namespace, with a selector, and of a kind stored beside others: each page starts
/// where the token left off and stops at the kind's (and the namespace's) end.
#[test]
fn paged_lists_stay_in_their_kind_namespace_and_selector() {
    let mut s = store_with(100);
    for i in 0..9 {
        let ns = ["a", "b", "c"][i % 3];
        if i < 3 && ns == "c" {
            s.create(
                Resource::Namespaces,
                "",
                json!({"metadata": {"name": "c"}}),
                &opts(),
            )
            .expect("namespace c");
        }
        let mut policy = netpol(&format!("p{i}"));
        policy["metadata"]["labels"] = json!({"even": (i % 2 == 0).to_string()});
        s.create(Resource::NetworkPolicies, ns, policy, &opts())
            .expect("np");
    }
    let walk = |namespace: Option<&str>, labels: &str, resource: Resource| {
        let mut token: Option<String> = None;
        let (mut seen, mut remaining) = (Vec::new(), Vec::new());
        loop {
            let q = ListQuery {
                namespace,
                labels: LabelSelector::parse(labels).expect("selector"),
                limit: Some(2),
                continue_token: token.as_deref(),
                ..ListQuery::default()
            };
            let page = s.list(resource, &q).expect("page");
            for item in page["items"].as_array().expect("items") {
                let ns = str_at(item, "/metadata/namespace");
                seen.push(format!("{ns}/{}", str_at(item, "/metadata/name")));
            }
            remaining.push(page["metadata"]["remainingItemCount"].as_u64());
            match page["metadata"]["continue"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break (seen, remaining),
            }
        }
    };
    let (seen, remaining) = walk(Some("b"), "", Resource::NetworkPolicies);
    assert_eq!(seen, ["b/p1", "b/p4", "b/p7"]);
    assert_eq!(remaining, [Some(1), None]);
    let (seen, remaining) = walk(None, "even=true", Resource::NetworkPolicies);
    assert_eq!(seen, ["a/p0", "a/p6", "b/p4", "c/p2", "c/p8"]);
    assert_eq!(remaining, [Some(3), Some(1), None]);
    let (seen, _) = walk(Some("c"), "even=false", Resource::NetworkPolicies);
    assert_eq!(seen, ["c/p5"]);
    let (seen, _) = walk(None, "", Resource::Namespaces);
    assert_eq!(seen, ["/a", "/b", "/c"]);
    let (seen, remaining) = walk(Some("d"), "", Resource::NetworkPolicies);
    assert_eq!((seen.len(), remaining), (0, vec![None]));
}
