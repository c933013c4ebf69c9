//! Tier policies on a live cluster, end to end against the demo server (`palisade demo
//! --serve-only`): a cluster without the group, one that serves it but forbids it to the user,
//! kubectl changes to a ClusterNetworkPolicy followed by the console's matrix, and the policy
//! kinds Palisade does not evaluate, counted. The console is the real binary in tmux.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{BINARY, KillOnDrop, Tmux, kubectl, tool_available, umbrella_to_globex, wait_until};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

/// A demo server with `flags`, its kubeconfig in `dir`.
fn demo(dir: &Path, flags: &[&str]) -> (KillOnDrop, PathBuf) {
    support::serve_only(dir, "demo.kubeconfig", flags)
}

/// `palisade --kubeconfig K [--context C] ARGS --quiet`: exit code, stdout, stderr.
fn palisade(kubeconfig: &Path, context: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(BINARY);
    command.arg("--kubeconfig").arg(kubeconfig);
    if let Some(context) = context {
        command.args(["--context", context]);
    }
    let out = support::run(command.args(args).arg("--quiet"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The console in tmux on the demo's kubeconfig, once every kind is live and analysed
/// (umbrella's findings on screen).
fn console(tmux: &Tmux, kubeconfig: &Path, context: Option<&str>) -> String {
    let context = context
        .map(|c| format!(" --context {c}"))
        .unwrap_or_default();
    tmux.type_line(&format!(
        "{BINARY} --kubeconfig {}{context}",
        kubeconfig.display()
    ));
    tmux.wait_for(&["netpol ● live"], START);
    wait_until("the analysis (findings on umbrella)", START, || {
        let screen = tmux.screen();
        let umbrella = screen.lines().find(|l| l.contains("umbrella"))?.to_string();
        umbrella.contains("⚠").then_some(screen)
    })
}

/// The demo runs Cilium's agents: analyze and check say so first.
const CNI: &str = "CNI: Cilium (cilium agents)";
const FORBIDDEN: &str = "ClusterNetworkPolicy, AdminNetworkPolicy and BaselineAdminNetworkPolicy are served but forbidden to you: the matrix cannot be trusted";

#[test]
fn a_cluster_without_the_group_is_analysed_and_nothing_is_said_of_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = demo(dir.path(), &["--no-tiers", "--no-cilium"]);
    let (code, stdout, stderr) = palisade(&kubeconfig, None, &["analyze", "-o", "matrix"]);
    assert_eq!(code, 0, "{stderr}");
    // Which CNI's order applies, then no warning: straight to the matrix.
    assert!(
        stdout.starts_with(&format!("{CNI}\n\nfrom \\ to")),
        "no warning first:\n{stdout}"
    );
    for text in [&stdout, &stderr] {
        for word in ["NetworkPolicy", "forbidden", "not evaluated", "tier"] {
            assert!(!text.contains(word), "{word}:\n{text}");
        }
    }
    let (code, stdout, stderr) = palisade(&kubeconfig, None, &["analyze", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let out = json(&stdout);
    assert!(!out["connections"].as_array().unwrap().is_empty());
    let coverage = &out["coverage"];
    assert_eq!(coverage["trustworthy"], true);
    assert_eq!(coverage["forbidden"], serde_json::json!([]));
    assert_eq!(coverage["not_evaluated"], serde_json::json!([]));
    assert_eq!(coverage["warnings"], serde_json::json!([]));

    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    let screen = console(&tmux, &kubeconfig, None);
    for word in ["cnp", "anp", "banp", "forbidden", "not evaluated"] {
        assert!(!screen.contains(word), "{word}:\n{screen}");
    }
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}

#[test]
fn a_group_served_but_forbidden_is_said_plainly_and_analysed_without() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = demo(dir.path(), &["--tiers-forbidden-user"]);
    let user = Some("palisade-demo-no-tiers");
    let (code, stdout, stderr) = palisade(&kubeconfig, user, &["analyze", "-o", "matrix"]);
    assert_eq!(code, 0, "the analysis completes: {stderr}");
    assert!(
        stdout.starts_with(&format!("{CNI}\nwarning: {FORBIDDEN}\n")),
        "{stdout}"
    );
    assert!(stdout.contains("from \\ to"), "{stdout}");
    let (code, stdout, stderr) = palisade(&kubeconfig, user, &["analyze", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let coverage = &json(&stdout)["coverage"];
    assert_eq!(coverage["trustworthy"], false);
    assert_eq!(
        coverage["forbidden"],
        serde_json::json!([
            "ClusterNetworkPolicy",
            "AdminNetworkPolicy",
            "BaselineAdminNetworkPolicy",
            "CiliumNetworkPolicy",
            "CiliumClusterwideNetworkPolicy"
        ])
    );
    assert_eq!(
        coverage["warnings"][1],
        "CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy are served but forbidden to you: the matrix cannot be trusted"
    );
    assert_eq!(coverage["warnings"][0], FORBIDDEN);
    // `check` cannot vouch for a cluster it could not read: exit 1 whatever it found.
    let (code, stdout, _) = palisade(
        &kubeconfig,
        user,
        &["check", "--format", "json", "--fail-on", "error"],
    );
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(json(&stdout)["coverage"]["trustworthy"], false);
    // The same cluster read by a user who may: nothing to warn about.
    let (_, stdout, _) = palisade(&kubeconfig, None, &["analyze", "-o", "json"]);
    assert_eq!(json(&stdout)["coverage"]["trustworthy"], true);

    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    let screen = console(&tmux, &kubeconfig, user);
    // The 120-column terminal cuts the sentence's end: its start says it.
    let shown = &FORBIDDEN[..80];
    assert!(screen.contains(shown), "{screen}");
    assert!(
        screen.contains("netpol ● live │ cnp ⊘ forbidden │ anp ⊘ forbidden"),
        "{screen}"
    );
    assert!(
        screen.contains("partial: cnp forbidden, anp forbidden, banp forbidden"),
        "{screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}

const DENY: &str = r#"apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: e2e-umbrella-out-of-globex
spec:
  tier: Admin
  priority: 1
  subject:
    namespaces: {matchLabels: {tenant: globex}}
  ingress:
  - name: deny-umbrella
    action: ACTION
    from: [{namespaces: {matchLabels: {tenant: umbrella}}}]
"#;

#[test]
fn kubectl_changes_to_a_cluster_network_policy_move_the_console_matrix() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = demo(dir.path(), &[]);
    let tmux = Tmux::start();
    let screen = console(&tmux, &kubeconfig, None);
    assert!(screen.contains("cnp ● live"), "{screen}");
    tmux.keys(&["2"]);
    tmux.wait_for(&["Isolation matrix", "ext-in"], STEP);
    // umbrella reaches globex-data's postgres (globex-data admits every namespace).
    umbrella_to_globex(&tmux, '◧', "umbrella → globex partial before", STEP);

    let manifest = dir.path().join("cnp.yaml");
    let apply = |action: &str| {
        std::fs::write(&manifest, DENY.replace("ACTION", action)).unwrap();
        kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]);
    };
    // An Admin Deny decides before any NetworkPolicy: the cell closes.
    apply("Deny");
    umbrella_to_globex(
        &tmux,
        '■',
        "umbrella → globex closed by the Admin Deny",
        STEP,
    );
    // Explained against the live cluster: the deciding rule is named, and the NetworkPolicy that
    // admitted umbrella before was never consulted.
    let pod = |ns: &str| {
        let names = kubectl(&kubeconfig, &["get", "pods", "-n", ns, "-o", "name"]);
        let first = names
            .lines()
            .next()
            .expect("a pod")
            .trim_start_matches("pod/");
        format!("{ns}/{first}")
    };
    let (src, dst) = (pod("umbrella-api"), pod("globex-data"));
    let (code, stdout, stderr) = palisade(&kubeconfig, None, &["analyze", "--explain", &src, &dst]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(
            "denied by ClusterNetworkPolicy `e2e-umbrella-out-of-globex` (Admin, priority 1), \
             ingress rule `deny-umbrella` #0; NetworkPolicies were not consulted"
        ),
        "{stdout}"
    );
    // Changed to Pass: the NetworkPolicies decide again.
    apply("Pass");
    umbrella_to_globex(&tmux, '◧', "umbrella → globex partial after Pass", STEP);
    apply("Deny");
    umbrella_to_globex(&tmux, '■', "umbrella → globex closed again", STEP);
    // Deleted: the cell reopens.
    kubectl(
        &kubeconfig,
        &["delete", "cnp", "e2e-umbrella-out-of-globex"],
    );
    umbrella_to_globex(
        &tmux,
        '◧',
        "umbrella → globex reopened after the delete",
        STEP,
    );
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}

#[test]
fn policy_kinds_not_evaluated_are_counted_in_analyze_and_the_status_bar() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = demo(
        dir.path(),
        &[
            "--foreign-policies",
            "NetworkPolicy.crd.antrea.io=0,MultiNetworkPolicy=12",
        ],
    );
    // (Calico's kinds are evaluated now: the demo's other projects' kinds are Antrea's and
    // Multus'. A 120-column screen shows one sentence whole.)
    let line =
        "not evaluated: 12 MultiNetworkPolicy: the dataplane may deny what this matrix shows open";
    let (code, stdout, stderr) = palisade(&kubeconfig, None, &["analyze", "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let coverage = &json(&stdout)["coverage"];
    assert_eq!(coverage["trustworthy"], true);
    let counts: Vec<(String, u64)> = coverage["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kind"].as_str().unwrap().to_string(),
                k["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = |k: &str, n| (k.to_string(), n);
    assert_eq!(
        counts,
        [want("NetworkPolicy", 0), want("MultiNetworkPolicy", 12)]
    );
    assert_eq!(coverage["warnings"], serde_json::json!([line]));
    let (code, stdout, _) = palisade(&kubeconfig, None, &["check"]);
    assert!(
        stdout.starts_with(&format!("{CNI}\nwarning: {line}\n")),
        "{code}: {stdout}"
    );

    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    console(&tmux, &kubeconfig, None);
    tmux.wait_for(&[&format!("⚠ {line}")], STEP);
    tmux.keys(&["2"]);
    let screen = tmux.wait_for(&["Isolation matrix", "ext-in"], STEP);
    assert_eq!(
        screen.matches(line).count(),
        2,
        "above the matrix and in the status bar:\n{screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}
