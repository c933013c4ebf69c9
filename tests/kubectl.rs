//! The demo API server, driven by the real `kubectl` binary.

use std::path::Path;
use std::process::Command;

use palisade::sim::{DemoServer, NO_TIERS_CONTEXT, Scenario, ServerOptions};

mod support;

const POLICY_V1: &str = r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-storefront-http
  namespace: acme-web
spec:
  podSelector:
    matchLabels: {app: storefront}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {}}]
    ports: [{port: http}]
"#;

fn kubectl_available() -> bool {
    support::tool_available("kubectl")
}

/// Runs kubectl against the kubeconfig without blocking the server's runtime.
async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new("kubectl");
    command.arg("--kubeconfig").arg(kubeconfig).args(args);
    // Keep kubectl's discovery cache out of the user's home directory.
    command.env("KUBECACHEDIR", kubeconfig.with_file_name("cache"));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("kubectl task")
        .expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stdout, stderr)
}

async fn ok(kubeconfig: &Path, args: &[&str]) -> String {
    let (success, stdout, stderr) = kubectl(kubeconfig, args).await;
    assert!(success, "kubectl {args:?} failed:\n{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_and_writes_the_demo_cluster() {
    if !kubectl_available() {
        return;
    }
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");

    let netpols = ok(&kc, &["get", "netpol", "-A"]).await;
    assert!(
        netpols
            .lines()
            .any(|l| l.starts_with("acme-web") && l.contains("default-deny")),
        "{netpols}"
    );
    assert_eq!(
        netpols.lines().count(),
        Scenario::builtin().policy_count() + 1
    );

    let namespaces = ok(&kc, &["get", "ns"]).await;
    for ns in ["kube-system", "acme-web", "globex-data", "shared-services"] {
        assert!(namespaces.contains(ns), "{ns} missing from:\n{namespaces}");
    }

    let pods = ok(
        &kc,
        &[
            "get",
            "pods",
            "-n",
            "acme-web",
            "-l",
            "app=storefront",
            "-o",
            "name",
        ],
    )
    .await;
    assert!(pods.lines().count() >= 2, "{pods}");
    assert!(
        pods.lines().all(|l| l.starts_with("pod/storefront-")),
        "{pods}"
    );

    let manifest = dir.path().join("policy.yaml");
    std::fs::write(&manifest, POLICY_V1).expect("manifest");
    let manifest_arg = manifest.to_str().expect("utf-8 path");
    let created = ok(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        created.contains("networkpolicy.networking.k8s.io/allow-storefront-http created"),
        "{created}"
    );
    std::fs::write(&manifest, POLICY_V1.replace("port: http", "port: 8080")).expect("manifest");
    let configured = ok(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        configured.contains("allow-storefront-http configured"),
        "{configured}"
    );

    let json = ok(
        &kc,
        &[
            "get",
            "netpol",
            "-n",
            "acme-web",
            "allow-storefront-http",
            "-o",
            "json",
        ],
    )
    .await;
    let object: serde_json::Value = serde_json::from_str(&json).expect("kubectl printed JSON");
    assert_eq!(
        object.pointer("/spec/ingress/0/ports/0/port"),
        Some(&serde_json::json!(8080))
    );
    assert_eq!(
        object.pointer("/metadata/generation"),
        Some(&serde_json::json!(2))
    );

    let deleted = ok(
        &kc,
        &[
            "delete",
            "netpol",
            "-n",
            "acme-web",
            "allow-storefront-http",
        ],
    )
    .await;
    assert!(deleted.contains("deleted"), "{deleted}");
    let (found, _, stderr) = kubectl(
        &kc,
        &["get", "netpol", "-n", "acme-web", "allow-storefront-http"],
    )
    .await;
    assert!(!found && stderr.contains("NotFound"), "{stderr}");

    let (bad, _, stderr) = kubectl(&kc, &["get", "pods", "-A", "-l", "app in storefront"]).await;
    assert!(!bad && stderr.contains("BadRequest"), "{stderr}");
    server.shutdown().await;
}

/// `palisade demo --serve-only` as a separate process, as a user would run it for kubectl.
/// `kubectl create namespace` sends protobuf (and does not retry in JSON): the demo reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_namespace_works() {
    if !kubectl_available() {
        return;
    }
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");
    let created = ok(&kc, &["create", "namespace", "acme-new"]).await;
    assert_eq!(created.trim(), "namespace/acme-new created");
    let labels = ok(
        &kc,
        &[
            "get",
            "namespace",
            "acme-new",
            "-o",
            "jsonpath={.metadata.labels}",
        ],
    )
    .await;
    // The server sets the name label on every namespace, as a real one does.
    assert!(
        labels.contains("\"kubernetes.io/metadata.name\":\"acme-new\""),
        "{labels}"
    );
    let (success, _, stderr) = kubectl(&kc, &["create", "namespace", "acme-new"]).await;
    assert!(!success);
    assert!(
        stderr.contains("AlreadyExists") || stderr.contains("already exists"),
        "{stderr}"
    );
}

#[test]
fn kubectl_against_serve_only() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("demo.kubeconfig");
    let server = std::process::Command::new(support::BINARY)
        .args(["demo", "--serve-only", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("palisade starts");
    let stop = support::KillOnDrop(server);
    support::wait_until(
        "the kubeconfig to be written",
        std::time::Duration::from_secs(20),
        || {
            std::fs::read_to_string(&kubeconfig)
                .ok()
                .filter(|t| t.contains("server:"))
        },
    );
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(
        text.contains("https://127.0.0.1:"),
        "loopback only:\n{text}"
    );
    // It holds the bearer tokens: the owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "kubeconfig mode {mode:o}");
    let kubectl = |args: &[&str]| {
        let out = support::run(
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .env("KUBECACHEDIR", dir.path().join("cache"))
                .args(args),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = kubectl(&["get", "netpol", "-A"]);
    assert!(
        listed.contains("acme-web") && listed.contains("default-deny"),
        "{listed}"
    );
    let manifest = dir.path().join("policy.yaml");
    std::fs::write(&manifest, POLICY_V1).unwrap();
    assert!(kubectl(&["apply", "-f", manifest.to_str().unwrap()]).contains("created"));
    let got = kubectl(&[
        "get",
        "netpol",
        "-n",
        "acme-web",
        "allow-storefront-http",
        "-o",
        "name",
    ]);
    assert_eq!(
        got.trim(),
        "networkpolicy.networking.k8s.io/allow-storefront-http"
    );
    assert!(
        kubectl(&[
            "delete",
            "netpol",
            "-n",
            "acme-web",
            "allow-storefront-http"
        ])
        .contains("deleted")
    );
    let after = kubectl(&["get", "netpol", "-n", "acme-web", "-o", "name"]);
    assert!(!after.contains("allow-storefront-http"), "{after}");
    drop(stop);
}

/// `kubectl auth can-i` and `kubectl auth whoami` with the admin and the viewer contexts, and a
/// viewer write refused like RBAC refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_sees_the_admin_and_the_viewer() {
    if !kubectl_available() {
        return;
    }
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");
    let viewer = ["--context", "palisade-demo-viewer"];
    let can_i = [
        "auth",
        "can-i",
        "delete",
        "networkpolicies",
        "-n",
        "acme-web",
    ];
    assert_eq!(ok(&kc, &can_i).await.trim(), "yes");
    let (allowed, stdout, _) = kubectl(&kc, &[&can_i[..], &viewer[..]].concat()).await;
    assert!(!allowed && stdout.starts_with("no"), "{stdout}");
    let list = ["auth", "can-i", "list", "networkpolicies", "-n", "acme-web"];
    assert_eq!(
        ok(&kc, &[&list[..], &viewer[..]].concat()).await.trim(),
        "yes"
    );
    let whoami = ok(
        &kc,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    )
    .await;
    assert_eq!(whoami.trim(), "palisade-demo");
    let whoami = ok(
        &kc,
        &[
            &[
                "auth",
                "whoami",
                "-o",
                "jsonpath={.status.userInfo.username}",
            ][..],
            &viewer[..],
        ]
        .concat(),
    )
    .await;
    assert_eq!(whoami.trim(), "palisade-demo-viewer");
    let delete = ["-n", "acme-web", "delete", "netpol", "default-deny"];
    let (deleted, _, stderr) = kubectl(&kc, &[&delete[..], &viewer[..]].concat()).await;
    assert!(!deleted, "the viewer deleted a policy");
    assert!(
        stderr.contains("Forbidden")
            && stderr.contains(
                "User \"palisade-demo-viewer\" cannot delete resource \"networkpolicies\""
            ),
        "{stderr}"
    );
    ok(&kc, &["-n", "acme-web", "get", "netpol", "default-deny"]).await;
}

/// kubectl sends the kubeconfig's token (over TLS); with a wrong one it is refused (401) and
/// writes nothing. (Without any credentials kubectl asks for a username and sends nothing, so
/// the tokenless request is tested with kube-rs in `sim_api.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_with_a_wrong_token_is_unauthorized() {
    if !kubectl_available() {
        return;
    }
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");
    let text = std::fs::read_to_string(&kc).expect("kubeconfig");
    assert!(text.contains("certificate-authority-data:"), "{text}");
    let wrong = dir.path().join("wrong");
    std::fs::write(
        &wrong,
        text.replace(server.admin_token(), "admin-0000000000000000"),
    )
    .expect("wrong-token kubeconfig");
    for args in [
        &["get", "ns"][..],
        &["-n", "acme-web", "delete", "netpol", "default-deny"],
    ] {
        let (success, _, stderr) = kubectl(&wrong, args).await;
        assert!(!success, "kubectl {args:?} succeeded with a wrong token");
        // kubectl's words for a 401.
        assert!(
            stderr.contains("You must be logged in to the server"),
            "{stderr}"
        );
    }
    ok(&kc, &["-n", "acme-web", "get", "netpol", "default-deny"]).await;
    server.shutdown().await;
}

const CNP: &str = r#"apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: deny-acme-to-globex
spec:
  tier: Admin
  priority: 20
  subject:
    namespaces: {matchLabels: {tenant: globex}}
  ingress:
  - name: deny-acme
    action: Deny
    from: [{namespaces: {matchLabels: {tenant: acme}}}]
"#;

/// ClusterNetworkPolicies with kubectl, as on a cluster with the network-policy-api CRDs: the
/// CRD's columns, apply (client- and server-side), patch, dry run, delete, 422, and a user
/// whom RBAC does not let near them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_manages_cluster_network_policies() {
    if !kubectl_available() {
        return;
    }
    let options = ServerOptions {
        tiers_forbidden_user: true,
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");

    let listed = ok(&kc, &["get", "cnp", "-A"]).await;
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "TIER", "PRIORITY", "AGE"], "{listed}");
    let row = listed
        .lines()
        .find(|l| l.starts_with("allow-backups-to-initech-db"))
        .expect("the scenario's Admin Accept");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1..3], ["Admin", "30"], "{listed}");
    assert_eq!(listed.lines().count(), Scenario::builtin().tier_count() + 1);

    let manifest = dir.path().join("cnp.yaml");
    let manifest_arg = manifest.to_str().expect("utf-8 path");
    std::fs::write(&manifest, CNP).expect("manifest");
    let dry = ok(&kc, &["create", "--dry-run=server", "-f", manifest_arg]).await;
    assert!(dry.contains("(server dry run)"), "{dry}");
    let (found, _, stderr) = kubectl(&kc, &["get", "cnp", "deny-acme-to-globex"]).await;
    assert!(!found && stderr.contains("NotFound"), "{stderr}");
    let created = ok(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        created
            .contains("clusternetworkpolicy.policy.networking.k8s.io/deny-acme-to-globex created"),
        "{created}"
    );
    std::fs::write(&manifest, CNP.replace("priority: 20", "priority: 21")).expect("manifest");
    let configured = ok(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        configured.contains("deny-acme-to-globex configured"),
        "{configured}"
    );
    std::fs::write(&manifest, CNP.replace("priority: 20", "priority: 22")).expect("manifest");
    let applied = ok(&kc, &["apply", "--server-side", "-f", manifest_arg]).await;
    assert!(
        applied.contains("deny-acme-to-globex serverside-applied"),
        "{applied}"
    );
    let yaml = ok(&kc, &["get", "cnp", "deny-acme-to-globex", "-o", "yaml"]).await;
    let object: serde_json::Value = palisade::yaml::from_str(&yaml).expect("kubectl printed YAML");
    assert_eq!(object["spec"]["priority"], serde_json::json!(22));
    assert_eq!(object["spec"]["ingress"][0]["action"], "Deny");
    assert_eq!(object["metadata"]["generation"], serde_json::json!(3));

    let merge = r#"{"spec":{"priority":23}}"#;
    let patched = ok(
        &kc,
        &[
            "patch",
            "cnp",
            "deny-acme-to-globex",
            "--type",
            "merge",
            "-p",
            merge,
        ],
    )
    .await;
    assert!(patched.contains("patched"), "{patched}");
    let priority = ok(
        &kc,
        &[
            "get",
            "cnp",
            "deny-acme-to-globex",
            "-o",
            "jsonpath={.spec.priority}",
        ],
    )
    .await;
    assert_eq!(priority, "23");
    // kubectl's default patch type is strategic merge, which a CRD does not support.
    let (strategic, _, stderr) =
        kubectl(&kc, &["patch", "cnp", "deny-acme-to-globex", "-p", merge]).await;
    assert!(
        !strategic && stderr.contains("strategic-merge-patch+json is not supported"),
        "{stderr}"
    );

    let invalid = CNP
        .replace("deny-acme-to-globex", "invalid")
        .replace("priority: 20", "priority: 2000")
        .replace("action: Deny", "action: Allow");
    std::fs::write(&manifest, invalid).expect("manifest");
    let (accepted, _, stderr) = kubectl(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(!accepted, "an invalid policy was accepted");
    assert!(
        stderr.contains("The ClusterNetworkPolicy \"invalid\" is invalid")
            && stderr.contains("spec.priority: Invalid value: 2000")
            && stderr.contains(
                "spec.ingress[0].action: Unsupported value: \"Allow\": supported values: \"Accept\", \"Deny\", \"Pass\""
            ),
        "{stderr}"
    );

    // kubectl validates strictly by default: a misspelt field is refused, not dropped.
    std::fs::write(&manifest, CNP.replace("priority: 20", "priorty: 20")).expect("manifest");
    let (accepted, _, stderr) = kubectl(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(!accepted, "a misspelt field was accepted");
    assert!(
        stderr.contains("strict decoding error: unknown field \"spec.priorty\""),
        "{stderr}"
    );

    let (listed, _, stderr) = kubectl(&kc, &["--context", NO_TIERS_CONTEXT, "get", "cnp"]).await;
    assert!(!listed, "the no-tiers user listed tier policies");
    assert!(
        stderr.contains("Forbidden")
            && stderr.contains(
                "User \"palisade-demo-no-tiers\" cannot list resource \"clusternetworkpolicies\""
            ),
        "{stderr}"
    );
    ok(
        &kc,
        &[
            "--context",
            NO_TIERS_CONTEXT,
            "get",
            "netpol",
            "-n",
            "acme-web",
        ],
    )
    .await;

    // `kubectl get -w` prints each event as a row with the CRD's columns.
    let mut watch = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .env("KUBECACHEDIR", dir.path().join("cache"))
        .args(["get", "cnp", "-w", "--output-watch-events"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl watch starts");
    let stdout = watch.stdout.take().expect("piped");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let stop_watch = support::KillOnDrop(watch);
    // Blocking reads, off the runtime's worker so the server keeps answering.
    let next_line = |wanted: &str| {
        tokio::task::block_in_place(|| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let line = lines.recv_timeout(left).expect("kubectl printed the event");
                if line.contains(wanted) {
                    return line;
                }
            }
        })
    };
    next_line("allow-backups-to-initech-db");
    ok(
        &kc,
        &[
            "patch",
            "cnp",
            "deny-acme-to-globex",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"priority":24}}"#,
        ],
    )
    .await;
    let modified: Vec<String> = next_line("24")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        modified[..4],
        ["MODIFIED", "deny-acme-to-globex", "Admin", "24"],
        "{modified:?}"
    );
    drop(stop_watch);

    let deleted = ok(&kc, &["delete", "cnp", "deny-acme-to-globex"]).await;
    assert!(deleted.contains("deleted"), "{deleted}");
    let (found, _, stderr) = kubectl(&kc, &["get", "cnp", "deny-acme-to-globex"]).await;
    assert!(!found && stderr.contains("NotFound"), "{stderr}");
    server.shutdown().await;
}

/// On a cluster without the CRDs kubectl knows no `cnp`; other projects' kinds, when served,
/// list like any CRD.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_without_the_tier_group_and_with_foreign_kinds() {
    if !kubectl_available() {
        return;
    }
    let options = ServerOptions {
        tiers: false,
        foreign: "MultiNetworkPolicy=5,GlobalNetworkPolicy=2"
            .parse()
            .expect("parses"),
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");
    let (found, _, stderr) = kubectl(&kc, &["get", "cnp", "-A"]).await;
    assert!(
        !found && stderr.contains("the server doesn't have a resource type \"cnp\""),
        "{stderr}"
    );
    let multus = ok(&kc, &["get", "multi-networkpolicies", "-A", "-o", "name"]).await;
    assert_eq!(multus.lines().count(), 5, "{multus}");
    let calico = ok(&kc, &["get", "gnp", "-o", "name"]).await;
    assert_eq!(calico.lines().count(), 2, "{calico}");
    server.shutdown().await;
}

/// The flags a client test starts the demo with: `--no-tiers`, `--tiers-forbidden-user` and
/// `--foreign-policies`, through `palisade demo --serve-only` as a separate process.
#[test]
fn serve_only_flags_shape_the_tier_group_users_and_foreign_kinds() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let start = |name: &str, flags: &[&str]| support::serve_only(dir.path(), name, flags);
    let kubectl = |kubeconfig: &Path, args: &[&str]| {
        let out = support::run(
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .env("KUBECACHEDIR", dir.path().join("cache"))
                .args(args),
        );
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let (_with, kc) = start(
        "with",
        &[
            "--tiers-forbidden-user",
            "--foreign-policies",
            "GlobalNetworkPolicy=7,MultiNetworkPolicy=2",
        ],
    );
    let (ok, stdout, stderr) = kubectl(&kc, &["get", "cnp", "-o", "name"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), Scenario::builtin().tier_count());
    let (ok, _, stderr) = kubectl(&kc, &["--context", NO_TIERS_CONTEXT, "get", "anp"]);
    assert!(!ok && stderr.contains("Forbidden"), "{stderr}");
    let (ok, stdout, stderr) = kubectl(&kc, &["get", "gnp", "-o", "name"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 7, "{stdout}");
    let (ok, _, stderr) = kubectl(&kc, &["--context", NO_TIERS_CONTEXT, "get", "ccnp"]);
    assert!(!ok && stderr.contains("Forbidden"), "{stderr}");
    let (ok, stdout, _) = kubectl(&kc, &["get", "multi-policy", "-A", "-o", "name"]);
    assert!(ok && stdout.lines().count() == 2, "{stdout}");

    let (_without, kc) = start("without", &["--no-tiers"]);
    let (ok, _, stderr) = kubectl(&kc, &["get", "cnp"]);
    assert!(
        !ok && stderr.contains("doesn't have a resource type"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&kc).unwrap();
    assert!(!text.contains(NO_TIERS_CONTEXT), "{text}");

    let refused = support::run(std::process::Command::new(support::BINARY).args([
        "demo",
        "--serve-only",
        "--foreign-policies",
        "NetworkPolicy=3",
    ]));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("several groups"), "{stderr}");
}

const CILIUM_NP: &str = r#"apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: e2e-orders-from-storefront
  namespace: acme-api
spec:
  endpointSelector:
    matchLabels: {app: orders}
  ingress:
  - fromEndpoints:
    - matchLabels: {app: storefront, k8s:io.kubernetes.pod.namespace: acme-web}
    toPorts:
    - ports: [{port: "9090", protocol: TCP}]
"#;

/// Cilium's policies with kubectl, as on a cluster with Cilium's CRDs: kinds found by their
/// short names, apply, merge and JSON patches (no strategic merge: a CRD), 422 from the
/// schema, delete, and a user whom RBAC keeps away from `cilium.io`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_manages_cilium_policies() {
    if !kubectl_available() {
        return;
    }
    let options = ServerOptions {
        tiers_forbidden_user: true,
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");

    let all = ok(&kc, &["get", "ciliumnetworkpolicies", "-A", "-o", "name"]).await;
    let ccnps = ok(&kc, &["get", "ccnp", "-o", "name"]).await;
    assert_eq!(
        all.lines().count() + ccnps.lines().count(),
        Scenario::builtin().cilium_count(),
        "{all}{ccnps}"
    );
    assert!(
        ccnps.contains("ciliumclusterwidenetworkpolicy.cilium.io/dns-visibility"),
        "{ccnps}"
    );
    let web = ok(&kc, &["get", "ciliumnp", "-n", "acme-web"]).await;
    assert!(web.contains("storefront-to-world"), "{web}");

    let manifest = dir.path().join("cnp.yaml");
    let manifest_arg = manifest.to_str().expect("utf-8 path");
    std::fs::write(&manifest, CILIUM_NP).expect("manifest");
    let created = ok(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        created.contains("ciliumnetworkpolicy.cilium.io/e2e-orders-from-storefront created"),
        "{created}"
    );
    std::fs::write(&manifest, CILIUM_NP.replace("\"9090\"", "\"9091\"")).expect("manifest");
    let configured = ok(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(configured.contains("configured"), "{configured}");
    let name = "e2e-orders-from-storefront";
    let target = ["-n", "acme-api", "ciliumnp", name];
    let patch = |kind: &'static str, body: &'static str| {
        let mut args = vec!["patch"];
        args.extend(target);
        args.extend(["--type", kind, "-p", body]);
        args
    };
    ok(
        &kc,
        &patch("merge", r#"{"metadata":{"labels":{"team":"acme"}}}"#),
    )
    .await;
    ok(
        &kc,
        &patch(
            "json",
            r#"[{"op":"replace","path":"/spec/endpointSelector/matchLabels/app","value":"payments"}]"#,
        ),
    )
    .await;
    let (patched, _, stderr) = kubectl(
        &kc,
        &patch("strategic", r#"{"metadata":{"labels":{"a":"b"}}}"#),
    )
    .await;
    assert!(
        !patched && stderr.contains("application/strategic-merge-patch+json is not supported"),
        "{stderr}"
    );
    let mut get = vec!["get"];
    get.extend(target);
    get.extend(["-o", "json"]);
    let object: serde_json::Value = serde_json::from_str(&ok(&kc, &get).await).expect("JSON");
    assert_eq!(
        object["spec"]["endpointSelector"]["matchLabels"]["app"],
        "payments"
    );
    assert_eq!(
        object["spec"]["ingress"][0]["toPorts"][0]["ports"][0]["port"],
        "9091"
    );
    assert_eq!(object["metadata"]["labels"]["team"], "acme");
    // Two spec changes after the creation; the label changed no generation.
    assert_eq!(object["metadata"]["generation"], serde_json::json!(3));

    std::fs::write(
        &manifest,
        CILIUM_NP.replace("endpointSelector:", "nodeSelector: {}\n  endpointSelector:"),
    )
    .expect("manifest");
    let (applied, _, stderr) = kubectl(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        !applied && stderr.contains("exactly one of endpointSelector and nodeSelector"),
        "{stderr}"
    );
    let (listed, _, stderr) = kubectl(
        &kc,
        &["--context", NO_TIERS_CONTEXT, "get", "ciliumnp", "-A"],
    )
    .await;
    assert!(
        !listed
            && stderr.contains(
                "cannot list resource \"ciliumnetworkpolicies\" in API group \"cilium.io\""
            ),
        "{stderr}"
    );
    let mut delete = vec!["delete"];
    delete.extend(target);
    ok(&kc, &delete).await;
    let (found, _, stderr) = kubectl(&kc, &get).await;
    assert!(!found && stderr.contains("NotFound"), "{stderr}");
    server.shutdown().await;
}

/// `kubectl get ciliumnp -w` against `palisade demo --serve-only` sees a policy applied after it
/// started watching.
#[test]
fn kubectl_watch_sees_an_applied_cilium_policy() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_demo, kubeconfig) = support::serve_only(dir.path(), "kubeconfig", &[]);
    let watched = dir.path().join("watched.txt");
    let _watch = support::KillOnDrop(
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .env("KUBECACHEDIR", dir.path().join("cache"))
            .args(["get", "ciliumnp", "-n", "acme-web", "--watch", "-o", "name"])
            .stdout(std::fs::File::create(&watched).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kubectl starts"),
    );
    // The initial list printed: the watch goes on from its resourceVersion, so what is applied
    // from now on comes as a watch event.
    support::wait_until(
        "the initial list",
        std::time::Duration::from_secs(15),
        || {
            std::fs::read_to_string(&watched)
                .ok()
                .filter(|t| t.contains("/storefront-to-world"))
        },
    );
    let manifest = dir.path().join("cnp.yaml");
    std::fs::write(&manifest, CILIUM_NP.replace("acme-api", "acme-web")).unwrap();
    support::kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]);
    support::wait_until(
        "the watch to print the applied policy",
        std::time::Duration::from_secs(15),
        || {
            std::fs::read_to_string(&watched)
                .ok()
                .filter(|t| t.contains("ciliumnetworkpolicy.cilium.io/e2e-orders-from-storefront"))
        },
    );
}

const CALICO_GNP: &str = r#"apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.e2e-deny-web
spec:
  tier: security
  order: 30
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - action: Deny
    source: {namespaceSelector: tenant == 'umbrella'}
"#;

/// Calico's kinds as `palisade demo --cni calico` serves them (its API server's
/// `projectcalico.org/v3`): by short name (`gnp`, `caliconp`) and by their group-qualified
/// name (Kubernetes' `networkpolicies` stays Kubernetes'), apply, server-side apply, merge
/// patch, the API server's checks (422), strategic merge refused (415), and RBAC (403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_manages_calico_policies() {
    if !kubectl_available() {
        return;
    }
    let options = ServerOptions {
        cilium: false,
        calico: true,
        tiers_forbidden_user: true,
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).expect("kubeconfig written");

    let gnps = ok(&kc, &["get", "gnp", "-o", "name"]).await;
    assert!(
        gnps.contains("globalnetworkpolicy.projectcalico.org/security.isolate-acme"),
        "{gnps}"
    );
    let calico_nps = ok(
        &kc,
        &[
            "get",
            "networkpolicies.projectcalico.org",
            "-A",
            "-o",
            "name",
        ],
    )
    .await;
    assert_eq!(
        calico_nps.lines().collect::<Vec<_>>(),
        [
            "networkpolicy.projectcalico.org/deny-web-to-payments",
            "networkpolicy.projectcalico.org/deny-web-to-postgres"
        ]
    );
    let short = ok(&kc, &["get", "caliconp", "-n", "globex-data"]).await;
    assert!(short.contains("deny-web-to-postgres"), "{short}");
    // Kubernetes' NetworkPolicies keep the bare name.
    let k8s = ok(
        &kc,
        &["get", "networkpolicies", "-n", "acme-api", "-o", "name"],
    )
    .await;
    assert!(
        k8s.lines()
            .all(|l| l.starts_with("networkpolicy.networking.k8s.io/")),
        "{k8s}"
    );
    let tiers = ok(&kc, &["get", "tiers.projectcalico.org", "-o", "name"]).await;
    assert_eq!(tiers.lines().count(), 2, "{tiers}");
    let staged = ok(&kc, &["get", "sgnp", "-o", "name"]).await;
    assert!(
        staged.contains("security.quarantine-umbrella-egress"),
        "{staged}"
    );
    let (cilium, _, stderr) = kubectl(&kc, &["get", "ciliumnp", "-A"]).await;
    assert!(
        !cilium && stderr.contains("doesn't have a resource type"),
        "{stderr}"
    );

    let manifest = dir.path().join("gnp.yaml");
    let manifest_arg = manifest.to_str().expect("utf-8 path");
    std::fs::write(&manifest, CALICO_GNP).expect("manifest");
    let created = ok(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        created.contains("globalnetworkpolicy.projectcalico.org/security.e2e-deny-web created"),
        "{created}"
    );
    let applied = ok(&kc, &["apply", "--server-side", "-f", manifest_arg]).await;
    assert!(applied.contains("serverside-applied"), "{applied}");
    let target = ["gnp", "security.e2e-deny-web"];
    let patch = |kind: &'static str, body: &'static str| {
        let mut args = vec!["patch"];
        args.extend(target);
        args.extend(["--type", kind, "-p", body]);
        args
    };
    ok(&kc, &patch("merge", r#"{"spec":{"order":40}}"#)).await;
    let (patched, _, stderr) = kubectl(&kc, &patch("strategic", r#"{"spec":{"order":50}}"#)).await;
    assert!(
        !patched && stderr.contains("application/strategic-merge-patch+json is not supported"),
        "{stderr}"
    );
    let (patched, _, stderr) = kubectl(
        &kc,
        &patch("merge", r#"{"spec":{"ingress":[{"action":"Drop"}]}}"#),
    )
    .await;
    assert!(
        !patched && stderr.contains("spec.ingress[0].action: Unsupported value: \"Drop\""),
        "{stderr}"
    );
    std::fs::write(&manifest, CALICO_GNP.replace("app == 'web'", "app ==")).expect("manifest");
    let (applied, _, stderr) = kubectl(&kc, &["apply", "-f", manifest_arg]).await;
    assert!(
        !applied && stderr.contains("spec.selector") && stderr.contains("invalid selector"),
        "{stderr}"
    );
    let mut get = vec!["get"];
    get.extend(target);
    get.extend(["-o", "json"]);
    let object: serde_json::Value = serde_json::from_str(&ok(&kc, &get).await).expect("JSON");
    assert_eq!(object["spec"]["order"], 40);
    assert_eq!(
        object["spec"]["selector"], "app == 'web'",
        "the 422s changed nothing"
    );

    let (listed, _, stderr) = kubectl(&kc, &["--context", NO_TIERS_CONTEXT, "get", "gnp"]).await;
    assert!(
        !listed
            && stderr.contains(
                "cannot list resource \"globalnetworkpolicies\" in API group \"projectcalico.org\""
            ),
        "{stderr}"
    );
    let mut delete = vec!["delete"];
    delete.extend(target);
    ok(&kc, &delete).await;
    let (found, _, stderr) = kubectl(&kc, &get).await;
    assert!(!found && stderr.contains("NotFound"), "{stderr}");
    server.shutdown().await;
}

/// `palisade demo --serve-only --cni calico`: Calico's flavour as a separate process (its
/// kinds, calico-node agents, no cilium.io); `--cni generic` is refused.
#[test]
fn serve_only_with_cni_calico_serves_the_calico_flavour() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_stop, kubeconfig) =
        support::serve_only(dir.path(), "demo.kubeconfig", &["--cni", "calico"]);
    let kubectl = |args: &[&str]| {
        support::run(
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .env("KUBECACHEDIR", dir.path().join("cache"))
                .args(args),
        )
    };
    let out = kubectl(&["get", "gnp", "-o", "name"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);
    let out = kubectl(&[
        "get",
        "pods",
        "-n",
        "kube-system",
        "-l",
        "k8s-app=calico-node",
        "-o",
        "name",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    let out = kubectl(&["get", "pods", "-A", "-l", "k8s-app=cilium", "-o", "name"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
    let out = kubectl(&["get", "ciliumnp", "-A"]);
    assert!(!out.status.success());

    let refused = support::run(std::process::Command::new(support::BINARY).args([
        "demo",
        "--serve-only",
        "--cni",
        "generic",
    ]));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--cni cilium or --cni calico"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
