//! `palisade timeline`, the real binary, on a journal written with the `Journal` API plus an
//! audit record: rows in time order, tenant and `--since` filters, exit codes.

mod support;

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ManagedFieldsEntry, ObjectMeta, Time,
};
use k8s_openapi::jiff::Timestamp;
use palisade::history::Journal;
use palisade::model::ObjectRef;
use palisade::rollback::audit::{self, AuditRecord, Outcome};
use support::{BINARY, run};

fn palisade(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = run(Command::new(BINARY)
        .env_clear()
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn policy(
    namespace: &str,
    name: &str,
    egress_rules: usize,
    manager: &str,
    when: &str,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            // Distinct per write, as the API server's are.
            resource_version: Some(format!("{}", at(when).as_second())),
            managed_fields: Some(vec![ManagedFieldsEntry {
                manager: Some(manager.into()),
                time: Some(Time(at(when))),
                ..ManagedFieldsEntry::default()
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![NetworkPolicyEgressRule::default(); egress_rules]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// acme-web/allow-dns created 10:00 and broken 10:20 by kubectl, globex-data/allow-postgres
/// created 10:10 and deleted 10:40, a revert of allow-dns by ops at 10:30.
fn journal(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("journal.sqlite");
    let mut journal = Journal::open(&path)
        .unwrap()
        .with_source("https://127.0.0.1:6443", "prod");
    let t = |s: &str| at(&format!("2026-03-01T{s}:00Z"));
    journal
        .observe(
            &policy("acme-web", "allow-dns", 1, "helm", "2026-03-01T10:00:00Z"),
            t("10:00"),
        )
        .unwrap();
    journal
        .observe(
            &policy(
                "globex-data",
                "allow-postgres",
                1,
                "argocd",
                "2026-03-01T10:10:00Z",
            ),
            t("10:10"),
        )
        .unwrap();
    journal
        .observe(
            &policy(
                "acme-web",
                "allow-dns",
                0,
                "kubectl-edit",
                "2026-03-01T10:20:00Z",
            ),
            t("10:20"),
        )
        .unwrap();
    journal
        .deleted("globex-data", "allow-postgres", None, t("10:40"))
        .unwrap();
    let mut record = AuditRecord {
        id: None,
        at: "2026-03-01T10:30:00.000Z".into(),
        actor: "ops@example.com".into(),
        context: "prod".into(),
        cluster: "https://127.0.0.1:6443".into(),
        object: ObjectRef::new("acme-web", "allow-dns").into(),
        kind: "revert".into(),
        from_revision: Some(2),
        to_revision: Some(1),
        from_resource_version: None,
        to_resource_version: None,
        journal_revision: None,
        reason: "INC-42 DNS broken".into(),
        acknowledged_owner: None,
        dry_run: "ok".into(),
        apply: "ok".into(),
        outcome: Outcome::Done,
        uid: None,
        linked_to: None,
    };
    audit::append(&mut journal, &mut record, None).unwrap();
    path
}

fn table_rows(markdown: &str) -> Vec<Vec<String>> {
    markdown
        .lines()
        .filter(|l| l.starts_with("| 20"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_markdown_timeline_lists_changes_and_rollbacks_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let journal = path.to_str().unwrap();
    let (code, md, stderr) = palisade(
        dir.path(),
        &["timeline", "--journal", journal, "--output", "md"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        md.starts_with("## Incident timeline: all tenants\n\n5 event(s), all recorded time"),
        "{md}"
    );
    assert!(md.contains("| Time (UTC) | Kind | Tenant | Object | What |\n|---|---|---|---|---|\n"));
    // No cluster: tenants are guessed from the namespace names, and the operator is told.
    assert!(stderr.contains("guessed from namespace names"), "{stderr}");
    let rows = table_rows(&md);
    let short: Vec<[&str; 4]> = rows
        .iter()
        .map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str()])
        .collect();
    assert_eq!(
        short,
        [
            [
                "2026-03-01 10:00:00Z",
                "policy change",
                "acme",
                "acme-web/allow-dns"
            ],
            [
                "2026-03-01 10:10:00Z",
                "policy change",
                "globex",
                "globex-data/allow-postgres"
            ],
            [
                "2026-03-01 10:20:00Z",
                "policy change",
                "acme",
                "acme-web/allow-dns"
            ],
            [
                "2026-03-01 10:30:00Z",
                "rollback",
                "acme",
                "acme-web/allow-dns"
            ],
            [
                "2026-03-01 10:40:00Z",
                "policy change",
                "globex",
                "globex-data/allow-postgres"
            ],
        ]
    );
    assert!(
        rows[0][4].starts_with("rev 1: first seen") && rows[0][4].ends_with("by helm"),
        "{:?}",
        rows[0]
    );
    assert_eq!(rows[2][4], "rev 2: egress rules 1→0 by kubectl-edit");
    assert_eq!(
        rows[3][4],
        "revert (rev 2 → 1) by ops@example.com: done; reason: INC-42 DNS broken"
    );
    assert!(rows[4][4].starts_with("rev 2: deleted"), "{:?}", rows[4]);

    // One tenant, since 10:15.
    let (code, md, stderr) = palisade(
        dir.path(),
        &[
            "timeline",
            "--journal",
            journal,
            "-o",
            "md",
            "--tenant",
            "acme",
            "--since",
            "2026-03-01T10:15:00Z",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        md.starts_with(
            "## Incident timeline: tenant acme\n\n2 event(s), since 2026-03-01 10:15:00Z"
        ),
        "{md}"
    );
    let kinds: Vec<String> = table_rows(&md).into_iter().map(|r| r[1].clone()).collect();
    assert_eq!(kinds, ["policy change", "rollback"]);

    // The text table, and a relative --since that leaves nothing (the events are in the past).
    let (code, text, _) = palisade(dir.path(), &["timeline", "--journal", journal]);
    assert_eq!(code, 0);
    assert!(text.starts_with("TIME (UTC)"), "{text}");
    assert_eq!(text.lines().count(), 6);
    let (code, text, _) = palisade(
        dir.path(),
        &["timeline", "--journal", journal, "--since", "2h"],
    );
    assert_eq!(code, 0);
    let expected = if Timestamp::now() < at("2026-03-01T12:40:00Z") {
        6
    } else {
        1
    };
    assert_eq!(text.lines().count(), expected, "{text}");
}

#[test]
fn bad_since_and_missing_journal_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal(dir.path());
    let (code, _, stderr) = palisade(
        dir.path(),
        &[
            "timeline",
            "--journal",
            path.to_str().unwrap(),
            "--since",
            "yesterday",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--since expected a duration such as 30m"),
        "{stderr}"
    );
    let missing = dir.path().join("none.sqlite");
    let (code, _, stderr) = palisade(
        dir.path(),
        &["timeline", "--journal", missing.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("no journal at"), "{stderr}");
}

/// With a reachable cluster, a change belongs to the tenant its namespace is labelled with, even
/// when the name says nothing (`sandbox`), and nothing is guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_come_from_the_live_namespace_labels() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, PostParams};
    use palisade::sim::{DemoServer, Scenario};

    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        server.kubeconfig(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "sandbox", "labels": {"tenant": "acme"}}
    }))
    .unwrap();
    Api::<Namespace>::all(client)
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace created");

    let path = dir.path().join("journal.sqlite");
    let mut journal = Journal::open(&path).unwrap();
    journal
        .observe(
            &policy(
                "sandbox",
                "default-deny",
                0,
                "kubectl",
                "2026-03-01T10:00:00Z",
            ),
            at("2026-03-01T10:00:00Z"),
        )
        .unwrap();
    journal
        .observe(
            &policy(
                "shared-services",
                "allow-auth",
                1,
                "helm",
                "2026-03-01T10:05:00Z",
            ),
            at("2026-03-01T10:05:00Z"),
        )
        .unwrap();
    drop(journal);

    let home = dir.path().to_path_buf();
    let args: Vec<String> = [
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "timeline",
        "--journal",
        path.to_str().unwrap(),
        "-o",
        "md",
        "--tenant",
        "acme",
    ]
    .map(String::from)
    .to_vec();
    let (code, md, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        palisade(&home, &args)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("guessed"), "{stderr}");
    let rows = table_rows(&md);
    assert_eq!(rows.len(), 1, "{md}");
    assert_eq!(rows[0][2], "acme");
    assert_eq!(rows[0][3], "sandbox/default-deny");
    server.shutdown().await;
}
