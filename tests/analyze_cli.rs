//! `palisade analyze` and `palisade check` on manifests: outputs and exit codes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{BINARY, run};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clean")
}

fn palisade(args: &[&str]) -> (i32, String, String) {
    let out = run(Command::new(BINARY).args(args));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies the clean fixture into a temp dir so a test can break it.
fn copy_of_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn connlist_of_the_fixture() {
    let dir = fixture();
    let (code, stdout, stderr) = palisade(&["analyze", "--manifests", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    // Worked out by hand from the manifests: shop is default-deny both ways, allows DNS egress
    // and web → api on grpc (9090); kube-system has no policies.
    assert_eq!(
        stdout,
        "0.0.0.0-255.255.255.255[External] => kube-system/coredns[Deployment] : All Connections\n\
         kube-system/coredns[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections\n\
         shop/api[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53\n\
         shop/web[Deployment] => kube-system/coredns[Deployment] : TCP 53,UDP 53\n\
         shop/web[Deployment] => shop/api[Deployment] : TCP 9090\n"
    );
}

#[test]
fn json_table_and_matrix_outputs() {
    let dir = fixture();
    let dir = dir.to_str().unwrap();
    let (_, json, _) = palisade(&["analyze", "--manifests", dir, "-o", "json"]);
    let items: Vec<serde_json::Value> = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(items.len(), 5);
    assert_eq!(items[4]["src"], "shop/web[Deployment]");
    assert_eq!(items[4]["conn"], "TCP 9090");

    let (_, table, _) = palisade(&["analyze", "--manifests", dir, "-o", "table"]);
    assert!(table.starts_with("SRC "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("shop/web[Deployment]") && l.ends_with("TCP 9090")),
        "{table}"
    );

    let (_, matrix, _) = palisade(&["analyze", "--manifests", dir, "-o", "matrix"]);
    let shop_row = matrix
        .lines()
        .find(|l| l.starts_with("shop "))
        .expect("shop row");
    assert!(shop_row.contains("◧ partial"), "{matrix}");
    assert!(
        matrix.contains("shop → platform: partial") && matrix.contains("TCP 53,UDP 53"),
        "{matrix}"
    );
}

#[test]
fn explain_names_the_policies_and_rules() {
    let dir = fixture();
    let (code, stdout, stderr) = palisade(&[
        "analyze",
        "--manifests",
        dir.to_str().unwrap(),
        "--explain",
        "shop/web",
        "shop/api",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Allowed: TCP 9090"), "{stdout}");
    assert!(
        stdout.contains("'shop/web-to-api'") && stdout.contains("'shop/default-deny'"),
        "{stdout}"
    );

    let (code, _, stderr) = palisade(&[
        "analyze",
        "--manifests",
        dir.to_str().unwrap(),
        "--explain",
        "shop/nope",
        "shop/api",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("no workload named `shop/nope`"), "{stderr}");
}

#[test]
fn check_exit_codes_follow_the_findings() {
    let (code, stdout, _) = palisade(&["check", "--manifests", fixture().to_str().unwrap()]);
    assert_eq!((code, stdout.as_str()), (0, "ok: no findings\n"));

    // Drop the ingress half of the default-deny (allow-dns still isolates egress): a warning
    // (PAL010), so exit 1 by default...
    let dir = copy_of_fixture();
    let policies = dir.path().join("policies.yaml");
    let text = std::fs::read_to_string(&policies).unwrap().replacen(
        "policyTypes: [Ingress, Egress]",
        "policyTypes: [Egress]",
        1,
    );
    std::fs::write(&policies, text).unwrap();
    let path = dir.path().to_str().unwrap();
    let (code, stdout, _) = palisade(&["check", "--manifests", path]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("PAL010 namespace shop"), "{stdout}");
    // ...and 0 when only errors fail the check.
    let (code, _, _) = palisade(&["check", "--manifests", path, "--fail-on", "error"]);
    assert_eq!(code, 0);
    let (_, json, _) = palisade(&["check", "--manifests", path, "--format", "json"]);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(findings[0]["id"], "PAL010");
    assert_eq!(findings[0]["severity"], "warning");
}

#[test]
fn bad_input_exits_2_naming_file_and_document() {
    let dir = copy_of_fixture();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\nkind: [unclosed\n",
    )
    .unwrap();
    let (code, _, stderr) = palisade(&["check", "--manifests", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("broken.yaml (document 1)"), "{stderr}");

    let (code, _, stderr) = palisade(&["check", "--manifests", "/nonexistent/palisade"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/palisade"), "{stderr}");
}

/// `analyze` classifies input problems as `check` does: what it cannot read is exit 2 with
/// nothing on stdout, so a script cannot take it for "no connections".
#[test]
fn analyze_exits_2_on_unreadable_input_and_prints_no_result() {
    let dir = copy_of_fixture();
    std::fs::write(dir.path().join("broken.yaml"), "kind: [unclosed\n").unwrap();
    let path = dir.path().to_str().unwrap();
    for output in ["connlist", "json"] {
        let (code, stdout, stderr) = palisade(&["analyze", "--manifests", path, "-o", output]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stdout, "", "no partial result");
        assert!(
            stderr.contains("error: ") && stderr.contains("broken.yaml (document 0)"),
            "{stderr}"
        );
        assert!(
            stderr.contains("1 document(s) could not be read"),
            "{stderr}"
        );
    }
    let (code, stdout, stderr) = palisade(&["analyze", "--manifests", "/nonexistent/palisade"]);
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(stderr.contains("/nonexistent/palisade"), "{stderr}");
    // A kind Palisade does not use stays a warning.
    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = palisade(&["analyze", "--manifests", path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: ") && stderr.contains("ConfigMap"),
        "{stderr}"
    );
    assert!(stdout.contains("shop/web[Deployment] => shop/api[Deployment] : TCP 9090"));
}

/// Strict field validation: an unknown field or a key given twice makes the API server reject
/// the object. `check` refuses the input (exit 2) naming file, document, object and field;
/// `analyze` reads the object as written, like netpol-analyzer, and warns.
#[test]
fn unknown_fields_and_duplicate_keys_are_rejected_by_check_and_warned_by_analyze() {
    let dir = copy_of_fixture();
    std::fs::write(
        dir.path().join("typos.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: typo, namespace: shop}\n\
         spec:\n  podSelector: {matchLabel: {app: web}}\n  ingres: []\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: twice, namespace: kube-system}\n\
         spec:\n  podSelector: {matchLabels: {app: none}}\n  podSelector: {}\n  policyTypes: [Ingress]\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = palisade(&["check", "--manifests", path]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(
            "error: PATH/typos.yaml (document 0): NetworkPolicy shop/typo: unknown field(s) \
             `spec.ingres`, `spec.podSelector.matchLabel`; the API server's strict field \
             validation rejects this object"
                .replace("PATH", path)
                .as_str()
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("typos.yaml (document 1): NetworkPolicy kube-system/twice: key(s) given twice in one mapping `spec.podSelector`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 object(s) would be rejected by the API server"),
        "{stderr}"
    );

    let (code, stdout, stderr) = palisade(&["analyze", "--manifests", path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: ") && stderr.contains("`spec.ingres`"),
        "{stderr}"
    );
    // `twice` is read with its last podSelector, {}: it isolates coredns for ingress, which
    // the outside world reached before (the first podSelector would select no pod).
    assert!(
        stdout.contains("shop/web[Deployment] => shop/api[Deployment] : TCP 9090")
            && !stdout.contains("[External] => kube-system/coredns"),
        "{stdout}"
    );
}

#[test]
fn intent_breaches_name_the_responsible_policies() {
    let dir = tempfile::tempdir().unwrap();
    let intent = dir.path().join("intent.yaml");
    std::fs::write(
        &intent,
        "forbidden:\n  - name: web-must-not-call-api\n    from: {namespace: shop, pods: {app: web}}\n    to: {namespace: shop, pods: {app: api}}\n",
    )
    .unwrap();
    let fixture = fixture();
    let args = [
        "check",
        "--manifests",
        fixture.to_str().unwrap(),
        "--intent",
        intent.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = palisade(&args);
    assert_eq!(code, 1, "{stderr}");
    let breach = stdout
        .lines()
        .find(|l| l.contains("PAL061"))
        .expect("a breach line");
    assert!(
        breach.contains("intent `web-must-not-call-api`: shop → shop"),
        "{breach}"
    );
    assert!(breach.contains("open for TCP 9090"), "{breach}");
    assert!(
        breach.contains("allowed by shop/web-egress-api")
            && breach.contains("allowed by shop/web-to-api"),
        "{breach}"
    );

    std::fs::write(
        &intent,
        "forbidden:\n  - name: x\n    from: {}\n    too: {}\n",
    )
    .unwrap();
    let (code, _, stderr) = palisade(&args);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("intent.yaml") && stderr.contains("too"),
        "{stderr}"
    );
}

/// An intent rule that names no pod is a finding (PAL062, warning): `check --intent` exits 1,
/// where it used to pass the empty contract with exit 0.
#[test]
fn intent_rules_that_select_nothing_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let intent = dir.path().join("intent.yaml");
    std::fs::write(
        &intent,
        "forbidden:\n  - name: typo\n    from: {namespace: shop}\n    to: {namespace: shp}\n",
    )
    .unwrap();
    let fixture = fixture();
    let args = [
        "check",
        "--manifests",
        fixture.to_str().unwrap(),
        "--intent",
        intent.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = palisade(&args);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("PAL062 intent `typo`: `to` (namespace=shp) selects no pod"),
        "{stdout}"
    );
    assert!(stdout.contains("fix: Check the rule's tenant"), "{stdout}");
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let (_, json, _) = palisade(&json_args);
    let findings: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(findings[0]["id"], "PAL062");
    assert_eq!(findings[0]["severity"], "warning");
}

/// `check` on the live demo cluster finds the three misconfigurations the scenario documents.
#[test]
fn check_on_the_live_demo_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = support::serve_only(dir.path(), "demo.kubeconfig", &[]);
    let (code, stdout, stderr) = palisade(&["--kubeconfig", kubeconfig.to_str().unwrap(), "check"]);
    assert_eq!(code, 1, "{stderr}");
    // From the scenario's header: umbrella has no egress default-deny, initech's DNS egress is
    // UDP only, globex-data's postgres admits every namespace.
    assert!(stdout.contains("PAL011 namespace umbrella-web"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("PAL020") && l.contains("initech-") && l.contains("TCP 53")),
        "{stdout}"
    );
    assert!(stdout.contains("PAL040 netpol globex-data/"), "{stdout}");
}

#[test]
fn tenant_patterns_group_unlabelled_namespaces() {
    let fixture = fixture();
    let (code, stdout, stderr) = palisade(&[
        "analyze",
        "--manifests",
        fixture.to_str().unwrap(),
        "-o",
        "matrix",
        "--tenant-pattern",
        "infra=kube-*",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let header = stdout.lines().next().unwrap();
    assert!(
        header.contains("infra") && header.contains("shop") && !header.contains("platform"),
        "{stdout}"
    );
    let (code, _, stderr) = palisade(&[
        "analyze",
        "--manifests",
        fixture.to_str().unwrap(),
        "--tenant-pattern",
        "oops",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("TENANT=PATTERN"), "{stderr}");
}

/// Anchors and merge keys are read the way kubectl reads them (YAML 1.1 merge keys expanded):
/// `api` gets `tier: front` from `<<: *web`, so the policy selects it and only `web` may reach
/// it. serde_yaml kept `<<` as a key: the policy selected nothing and `check` said so (PAL030),
/// while `analyze` showed `api` open to the world.
#[test]
fn merge_keys_are_expanded_as_kubectl_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("merge.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
         apiVersion: v1\nkind: PodList\nitems:\n\
         - metadata: {name: web, namespace: shop, labels: &web {app: web, tier: front}}\n  \
           status: {podIP: 10.0.0.1}\n\
         - metadata:\n    name: api\n    namespace: shop\n    labels:\n      <<: *web\n      app: api\n  \
           status: {podIP: 10.0.0.2}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api, namespace: shop}\n\
         spec:\n  podSelector: {matchLabels: {tier: front, app: api}}\n  \
         ingress:\n  - from: [{podSelector: {matchLabels: {app: web}}}]\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = palisade(&["analyze", "--manifests", path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("shop/web[Pod] => shop/api[Pod] : All Connections"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("[External] => shop/api[Pod]"),
        "api is isolated: {stdout}"
    );
    let (code, stdout, stderr) = palisade(&["check", "--manifests", path]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("no findings"), "{stdout}");
}

/// A tier rule on DNS names leaves the pod's egress to external addresses undecided: the
/// connlist keeps netpol-analyzer's figure, and says separately what cannot be decided; JSON
/// carries it as `undecided`.
#[test]
fn undecided_tier_peers_are_said_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("all.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\n\
         status: {podIP: 10.0.0.5}\n---\n\
         apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
         metadata: {name: egress-allowlist}\nspec:\n  tier: Admin\n  priority: 10\n  \
         subject: {namespaces: {}}\n  egress:\n  \
         - {name: vendor, action: Accept, to: [{domainNames: [api.vendor.example]}], \
         protocols: [{tcp: {destinationPort: {number: 443}}}]}\n  \
         - {name: rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = palisade(&["analyze", "--manifests", path]);
    assert_eq!(code, 0, "{stderr}");
    // The Deny decides everything for certain; TCP 443 depends on the vendor's DNS answers.
    assert_eq!(
        stdout,
        "0.0.0.0-255.255.255.255[External] => shop/web[Pod] : All Connections\n\
         \n\
         Undecided (tier rules with nodes or domainNames peers; palisade cannot resolve node IPs \
         or DNS answers from objects):\n\
         shop/web[Pod] => 0.0.0.0-255.255.255.255[External] : TCP 443\n"
    );
    let (code, stdout, _) = palisade(&["analyze", "--manifests", path, "--output", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let out = json
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["src"] == "shop/web[Pod]")
        .expect("the undecided pair is listed");
    assert_eq!(out["conn"], "No Connections");
    assert_eq!(out["undecided"], "TCP 443");
    let (_, stdout, _) = palisade(&["analyze", "--manifests", path, "--output", "table"]);
    assert!(stdout.contains("(undecided: TCP 443)"), "{stdout}");
}
