//! Calico's flavour of the demo end to end: `palisade demo --cni calico` (the real binary in
//! tmux) watches Calico's kinds (their chips live, no Cilium chip), says which CNI's order
//! applies, lists the seed's tiers and policies in the tree (namespaced ones in their
//! namespace, the Tier and global ones under the cluster node) and in `:policies` with TIER and
//! ORDER, shows a policy's YAML, follows a `kubectl apply`, and `kubectl get gnp` sees the seed.
//!
//! What the seed does to the matrix is the engine's (Calico's semantics): asserted where
//! those are evaluated.

mod support;

use std::time::Duration;

use support::{Tmux, kubectl, tool_available};

const START: Duration = Duration::from_secs(40);
const STEP: Duration = Duration::from_secs(15);

const NEW_GNP: &str = r#"apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.e2e-deny-world}
spec:
  tier: security
  order: 50
  namespaceSelector: tenant == 'acme'
  types: [Ingress]
  ingress:
  - action: Deny
    source: {nets: [0.0.0.0/0]}
  - action: Pass
"#;

#[test]
fn the_calico_demo_shows_its_tiers_and_policies_and_follows_kubectl() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let files = tmux.start_demo("--cni calico --no-flows --no-metrics", START);
    // Calico's kinds share one chip when the bar is narrow; no Cilium kind is served.
    let screen = tmux.wait_for(&["caliconp sgnp sknp snp tier gnp ● live"], START);
    assert!(!screen.contains("ciliumnp"), "{screen}");
    assert!(!screen.contains("not evaluated"), "{screen}");
    tmux.wait_for(&["CNI: Calico (--cni)"], START);

    // The seed, by kubectl: five GlobalNetworkPolicies, two tiers, one staged policy.
    let gnps = kubectl(&files.kubeconfig, &["get", "gnp", "-o", "name"]);
    assert_eq!(gnps.lines().count(), 5, "{gnps}");
    let tiers = kubectl(
        &files.kubeconfig,
        &["get", "tiers.projectcalico.org", "-o", "name"],
    );
    assert_eq!(tiers.lines().count(), 2, "{tiers}");

    // Headless, the CNI is detected from the calico-node agents, unless --cni says otherwise.
    let analyze = |extra: &[&str]| {
        let out = support::run(
            std::process::Command::new(support::BINARY)
                .env("HOME", tmux.home())
                .args(["analyze", "-o", "json", "-q", "--kubeconfig"])
                .arg(&files.kubeconfig)
                .args(extra),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["coverage"]["cni"].clone()
    };
    assert_eq!(
        analyze(&[]),
        serde_json::json!({"name": "calico", "source": "agents", "reason": "calico-node agents"})
    );
    assert_eq!(
        analyze(&["--cni", "cilium"]),
        serde_json::json!({"name": "cilium", "source": "flag", "reason": "--cni"})
    );
    let check = support::run(
        std::process::Command::new(support::BINARY)
            .env("HOME", tmux.home())
            .args(["check", "-q", "--kubeconfig"])
            .arg(&files.kubeconfig),
    );
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.starts_with("CNI: Calico (calico-node agents)\n"),
        "{text}"
    );

    // The tree: the global ones under the cluster node.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "security"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Tenants /security "], STEP);
    tmux.keys(&["E"]);
    tmux.wait_for(
        &[
            "gnp/security.isolate-acme  ingress",
            "tier/security  no direction",
            "sgnp/security.quarantine-umbrella-egress",
        ],
        STEP,
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["┏ Tenants ━"], STEP);
    // A namespaced one in its namespace, with the misconfigured selector's policy.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "deny-web-to-pay"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Tenants /deny-web-to-pay "], STEP);
    tmux.keys(&["E"]);
    tmux.wait_for(
        &["acme-api", "caliconp/deny-web-to-payments  ingress"],
        STEP,
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["┏ Tenants ━"], STEP);

    // A GlobalNetworkPolicy applied with kubectl appears.
    let manifest = tmux.home().join("gnp.yaml");
    std::fs::write(&manifest, NEW_GNP).unwrap();
    kubectl(
        &files.kubeconfig,
        &["apply", "-f", manifest.to_str().unwrap()],
    );

    // `:policies`, filtered to the security tier's: TIER and ORDER, Enter shows the YAML.
    tmux.type_line(":policies");
    tmux.wait_for(&["NAMESPACE", "DIRECTIONS"], STEP);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "gnp/security."]);
    tmux.keys(&["Enter"]);
    // (Names are cut to the column at 120 columns.)
    let screen = tmux.wait_for(
        &[
            "Policies (6)",
            "gnp/security.isolate-",
            "gnp/security.e2e-deny",
        ],
        STEP,
    );
    let row = screen
        .lines()
        .find(|l| l.contains("gnp/security.e2e-deny"))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(
        cells.windows(2).any(|w| w == ["security", "50"]),
        "TIER security, ORDER 50: {row}"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &[
            "apiVersion: projectcalico.org/v3",
            "security.e2e-deny-world",
        ],
        STEP,
    );
    tmux.keys(&["Escape"]);
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}
