//! `palisade baseline`, the real binary: the output parses back, `palisade check` accepts it, and
//! it applies to the demo server with the real kubectl.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use support::{BINARY, KillOnDrop, run};

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

/// The platform the baseline relies on, plus one workload per tenant namespace (exposing a
/// port named `metrics`, as the monitoring policy expects).
const CLUSTER: &str = r#"# The namespaces around a baseline: kube-dns, Prometheus, two tenant namespaces.
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-web, labels: {tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-api, labels: {tenant: acme}}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  containers:
  - name: coredns
    image: coredns
    ports:
    - {name: dns, containerPort: 53, protocol: UDP}
    - {name: dns-tcp, containerPort: 53, protocol: TCP}
---
apiVersion: v1
kind: Pod
metadata: {name: prometheus-0, namespace: monitoring, labels: {app.kubernetes.io/name: prometheus}}
spec:
  containers:
  - name: prometheus
    image: prometheus
    ports: [{name: web, containerPort: 9090}]
---
apiVersion: v1
kind: Pod
metadata: {name: storefront, namespace: acme-web, labels: {app: storefront}}
spec:
  containers:
  - name: storefront
    image: storefront
    ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9100}]
---
apiVersion: v1
kind: Pod
metadata: {name: orders, namespace: acme-api, labels: {app: orders}}
spec:
  containers:
  - name: orders
    image: orders
    ports: [{name: grpc, containerPort: 9090}, {name: metrics, containerPort: 9100}]
"#;

#[test]
fn the_baseline_parses_back_and_check_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, yaml, stderr) = palisade(
        dir.path(),
        &[
            "baseline",
            "--tenant",
            "acme",
            "--namespace",
            "acme-web",
            "--namespace",
            "acme-api",
            "--monitoring",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        yaml.starts_with("# Baseline NetworkPolicies of tenant `acme`"),
        "{yaml}"
    );
    let policies: Vec<NetworkPolicy> = palisade::yaml::documents(&yaml).expect("NetworkPolicies");
    let names: Vec<String> = policies
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap(),
                p.metadata.name.as_deref().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "acme-web/default-deny",
            "acme-web/allow-dns",
            "acme-web/allow-same-tenant",
            "acme-web/allow-monitoring",
            "acme-api/default-deny",
            "acme-api/allow-dns",
            "acme-api/allow-same-tenant",
            "acme-api/allow-monitoring",
        ]
    );

    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(manifests.join("cluster.yaml"), CLUSTER).unwrap();
    std::fs::write(manifests.join("baseline.yaml"), &yaml).unwrap();
    let (code, stdout, stderr) = palisade(
        dir.path(),
        &[
            "check",
            "--manifests",
            manifests.to_str().unwrap(),
            "--fail-on",
            "info",
        ],
    );
    assert_eq!(code, 0, "check:\n{stdout}\n{stderr}");
    assert_eq!(stdout, "ok: no findings\n");

    // Without the baseline, the same namespaces are flagged: the check above is not vacuous.
    std::fs::remove_file(manifests.join("baseline.yaml")).unwrap();
    let (code, stdout, _) = palisade(
        dir.path(),
        &["check", "--manifests", manifests.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("PAL010 namespace acme-web"), "{stdout}");
}

/// A baseline for a namespace that does not exist yet checks clean: on its own (no pods at all
/// to judge selection by) and beside a cluster where the namespace has no pods. `podSelector: {}`
/// cannot be a typo.
#[test]
fn a_baseline_for_a_namespace_without_pods_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (code, yaml, stderr) = palisade(
        dir.path(),
        &["baseline", "--tenant", "acme", "--namespace", "acme-new"],
    );
    assert_eq!(code, 0, "{stderr}");
    let alone = dir.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::write(alone.join("baseline.yaml"), &yaml).unwrap();
    let (code, stdout, stderr) = palisade(
        dir.path(),
        &["check", "--manifests", alone.to_str().unwrap()],
    );
    assert_eq!(code, 0, "check on the baseline alone:\n{stdout}\n{stderr}");
    assert_eq!(stdout, "ok: no findings\n");

    let beside = dir.path().join("beside");
    std::fs::create_dir(&beside).unwrap();
    std::fs::write(beside.join("cluster.yaml"), CLUSTER).unwrap();
    std::fs::write(beside.join("baseline.yaml"), &yaml).unwrap();
    let (_, stdout, _) = palisade(
        dir.path(),
        &["check", "--manifests", beside.to_str().unwrap()],
    );
    assert!(!stdout.contains("acme-new"), "{stdout}");
    assert!(
        stdout.contains("PAL010 namespace acme-web"),
        "the other namespaces are still checked: {stdout}"
    );
}

#[test]
fn bad_input_and_no_cluster_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = palisade(
        dir.path(),
        &[
            "baseline",
            "--tenant",
            "acme",
            "--namespace",
            "Not_A_Namespace",
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("not a valid namespace name"), "{stderr}");
    // No --namespace and no kubeconfig: exit 1, saying what to do.
    let (code, stdout, stderr) = palisade(dir.path(), &["baseline", "--tenant", "acme"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("no --namespace given") && stderr.contains("no kubeconfig"),
        "{stderr}"
    );
}

/// The baseline of a new namespace applies to `palisade demo --serve-only` with kubectl, and the
/// tenant's namespaces are found on the live cluster when none is given.
#[test]
fn the_baseline_applies_with_kubectl_to_the_demo_server() {
    if !support::tool_available("kubectl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("demo.kubeconfig");
    let _server = KillOnDrop(
        Command::new(BINARY)
            .args(["demo", "--serve-only", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .spawn()
            .expect("palisade starts"),
    );
    support::wait_until("the kubeconfig", Duration::from_secs(20), || {
        std::fs::read_to_string(&kubeconfig)
            .ok()
            .filter(|t| t.contains("server:"))
    });
    let kubectl = |args: &[&str]| {
        let out = run(Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .env("KUBECACHEDIR", dir.path().join("cache"))
            .args(args));
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let namespace = dir.path().join("namespace.yaml");
    std::fs::write(
        &namespace,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: acme-sandbox\n  labels: {tenant: acme}\n",
    )
    .unwrap();
    assert!(kubectl(&["apply", "-f", namespace.to_str().unwrap()]).contains("created"));

    let (code, yaml, stderr) = palisade(
        dir.path(),
        &[
            "baseline",
            "--tenant",
            "acme",
            "--namespace",
            "acme-sandbox",
            "--monitoring",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let manifest = dir.path().join("baseline.yaml");
    std::fs::write(&manifest, yaml).unwrap();
    let applied = kubectl(&["apply", "-f", manifest.to_str().unwrap()]);
    assert_eq!(applied.matches(" created").count(), 4, "{applied}");
    let listed = kubectl(&["get", "netpol", "-n", "acme-sandbox", "-o", "name"]);
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "networkpolicy.networking.k8s.io/allow-dns",
            "networkpolicy.networking.k8s.io/allow-monitoring",
            "networkpolicy.networking.k8s.io/allow-same-tenant",
            "networkpolicy.networking.k8s.io/default-deny",
        ]
    );
    let labelled = kubectl(&[
        "get",
        "netpol",
        "-A",
        "-l",
        "app.kubernetes.io/managed-by=palisade",
        "-o",
        "name",
    ]);
    assert_eq!(labelled.lines().count(), 4, "{labelled}");

    // No --namespace: the live cluster's namespaces labelled tenant=acme, the new one included.
    let (code, yaml, stderr) = palisade(
        dir.path(),
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "baseline",
            "--tenant",
            "acme",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        yaml.contains("namespaces: acme-api, acme-data, acme-sandbox, acme-web."),
        "{yaml}"
    );
    assert_eq!(yaml.matches("kind: NetworkPolicy").count(), 12);

    // The tier form passes the server's schema for ClusterNetworkPolicy (dry run first).
    let (code, yaml, stderr) = palisade(dir.path(), &["baseline", "--tenant", "acme", "--tiers"]);
    assert_eq!(code, 0, "{stderr}");
    let manifest = dir.path().join("tiers.yaml");
    std::fs::write(&manifest, yaml).unwrap();
    let path = manifest.to_str().unwrap();
    assert!(kubectl(&["apply", "--dry-run=server", "-f", path]).contains("(server dry run)"));
    assert!(kubectl(&["apply", "-f", path]).contains("created"));
    let listed = kubectl(&[
        "get",
        "cnp",
        "-l",
        "app.kubernetes.io/managed-by=palisade",
        "-o",
        "name",
    ]);
    assert_eq!(
        listed.trim(),
        "clusternetworkpolicy.policy.networking.k8s.io/tenant-acme-isolation"
    );
}

/// Two tenants and the platform, one pod each, and no NetworkPolicy: what the tier form of the
/// baseline isolates on its own.
const TWO_TENANTS: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: acme-web, labels: {tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-api, labels: {tenant: acme}}
---
apiVersion: v1
kind: Namespace
metadata: {name: globex-app, labels: {tenant: globex}}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: acme-web, labels: {app: web}}
spec: {containers: [{name: web, image: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: acme-api, labels: {app: api}}
spec: {containers: [{name: api, image: api}]}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: globex-app, labels: {app: app}}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns-0, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: coredns, image: coredns}]}
"#;

#[test]
fn the_tier_form_isolates_the_tenants_and_check_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = |tenant: &str| {
        let (code, yaml, stderr) =
            palisade(dir.path(), &["baseline", "--tenant", tenant, "--tiers"]);
        assert_eq!(code, 0, "{stderr}");
        yaml
    };
    let acme = tiers("acme");
    assert!(
        acme.starts_with("# Tenant isolation of `acme`")
            && acme.contains("kind: ClusterNetworkPolicy"),
        "{acme}"
    );
    let objects: Vec<serde_json::Value> = palisade::yaml::documents(&acme).unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(
        objects[0]["apiVersion"],
        "policy.networking.k8s.io/v1alpha2"
    );
    assert_eq!(objects[0]["spec"]["tier"], "Admin");

    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(manifests.join("cluster.yaml"), TWO_TENANTS).unwrap();
    std::fs::write(manifests.join("acme.yaml"), &acme).unwrap();
    std::fs::write(manifests.join("globex.yaml"), tiers("globex")).unwrap();
    let (code, matrix, stderr) = palisade(
        dir.path(),
        &[
            "analyze",
            "--manifests",
            manifests.to_str().unwrap(),
            "-o",
            "matrix",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    // Closed cells are left out of the open paths; the grid marks them.
    for closed in ["acme → globex", "globex → acme"] {
        assert!(!matrix.contains(closed), "{closed}:\n{matrix}");
    }
    let row = |group: &str| {
        matrix
            .lines()
            .find(|l| l.starts_with(&format!("{group} ")))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        row("acme").starts_with("acme □ open ■ closed □ open"),
        "{matrix}"
    );
    assert!(
        row("globex").starts_with("globex ■ closed □ open □ open"),
        "{matrix}"
    );
    // Within a tenant, and to and from the platform, the NetworkPolicies (none here) decide.
    for open in [
        "acme → acme: open",
        "globex → platform: open",
        "platform → acme: open",
    ] {
        assert!(matrix.contains(open), "{open}:\n{matrix}");
    }

    // Without the tier policies the tenants are open to each other: the matrix above is theirs.
    std::fs::remove_file(manifests.join("acme.yaml")).unwrap();
    std::fs::remove_file(manifests.join("globex.yaml")).unwrap();
    let (_, open, _) = palisade(
        dir.path(),
        &[
            "analyze",
            "--manifests",
            manifests.to_str().unwrap(),
            "-o",
            "matrix",
        ],
    );
    assert!(open.contains("acme → globex: open"), "{open}");

    // `check` accepts it next to the NetworkPolicy baseline: no findings at all.
    let checked = dir.path().join("checked");
    std::fs::create_dir(&checked).unwrap();
    std::fs::write(checked.join("cluster.yaml"), CLUSTER).unwrap();
    std::fs::write(checked.join("acme.yaml"), &acme).unwrap();
    let (code, netpols, stderr) = palisade(
        dir.path(),
        &[
            "baseline",
            "--tenant",
            "acme",
            "--namespace",
            "acme-web",
            "--namespace",
            "acme-api",
            "--monitoring",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(checked.join("netpols.yaml"), netpols).unwrap();
    let (code, stdout, stderr) = palisade(
        dir.path(),
        &[
            "check",
            "--manifests",
            checked.to_str().unwrap(),
            "--fail-on",
            "info",
        ],
    );
    assert_eq!(code, 0, "check:\n{stdout}\n{stderr}");
    assert_eq!(stdout, "ok: no findings\n");
}

#[test]
fn the_tier_form_takes_no_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = palisade(
        dir.path(),
        &[
            "baseline",
            "--tenant",
            "acme",
            "--tiers",
            "--namespace",
            "acme-web",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
