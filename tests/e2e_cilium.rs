//! Cilium's policies on a live cluster, end to end against the demo server (`palisade demo
//! --serve-only`): the console (the real binary in tmux) watches them, shows their health
//! chips, lists a namespace's CiliumNetworkPolicies in the tree and the clusterwide ones under
//! the cluster node, lists them in `:policies`, and follows a `kubectl apply`.

mod support;

use std::path::{Path, PathBuf};

use std::time::Duration;

use support::{BINARY, KillOnDrop, Tmux, kubectl, tool_available};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

/// A demo server, its kubeconfig in `dir`.
fn demo(dir: &Path) -> (KillOnDrop, PathBuf) {
    support::serve_only(dir, "demo.kubeconfig", &[])
}

const NEW_CNP: &str = r#"apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: e2e-payments-deny-world, namespace: acme-api}
spec:
  endpointSelector: {matchLabels: {app: payments}}
  ingressDeny: [{fromEntities: [world]}]
"#;

#[test]
fn the_tree_and_policies_show_cilium_policies_and_follow_kubectl() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = demo(dir.path());
    let tmux = Tmux::start();
    tmux.type_line(&format!("{BINARY} --kubeconfig {}", kubeconfig.display()));
    tmux.wait_for(&["netpol ● live"], START);
    // The status bar's chips: shown until they run out of room.
    let screen = tmux.wait_for(&["ciliumnp ● live"], START);
    assert!(!screen.contains("not evaluated"), "{screen}");

    // Filtered to the seeded policy, expanded: it sits in acme-web next to its NetworkPolicies.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "storefront-to"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Tenants /storefront-to "], STEP);
    tmux.keys(&["E"]);
    let screen = tmux.wait_for(&["acme-web", "ciliumnp/storefront-to-world  egress"], STEP);
    assert!(!screen.contains("allow-dns"), "filtered:\n{screen}");
    // The clusterwide one is under the cluster node.
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["┏ Tenants ━"], STEP);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "dns-visib"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Tenants /dns-visib "], STEP);
    tmux.keys(&["E"]);
    tmux.wait_for(&["cluster", "ccnp/dns-visibility  egress"], STEP);
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["┏ Tenants ━"], STEP);

    // A CiliumNetworkPolicy applied with kubectl appears in the tree.
    let manifest = dir.path().join("cnp.yaml");
    std::fs::write(&manifest, NEW_CNP).unwrap();
    kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "e2e-payments"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Tenants /e2e-payments "], STEP);
    tmux.keys(&["E"]);
    tmux.wait_for(
        &["acme-api", "ciliumnp/e2e-payments-deny-world  ingress"],
        STEP,
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["┏ Tenants ━"], STEP);

    // `:policies`, filtered to Cilium's: listed with their kind, Enter shows the YAML.
    tmux.type_line(":policies");
    tmux.wait_for(&["NAMESPACE", "DIRECTIONS"], STEP);
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "ciliumnp/"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["/ciliumnp/ "], STEP);
    let screen = tmux.wait_for(
        &[
            "Policies (5)",
            "ciliumnp/deny-initech",
            "ciliumnp/e2e-payments",
        ],
        STEP,
    );
    assert!(screen.contains("acme-data"), "{screen}");
    assert!(
        !screen.contains("allow-dns"),
        "only Cilium's rows:\n{screen}"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &["ciliumnp/acme-api/e2e-payments-deny-world", "ingressDeny"],
        STEP,
    );
    // Their history is journalled from the first list: revision 1.
    tmux.keys(&["Escape"]);
    tmux.type_line(":history ciliumnp/acme-data/deny-initech");
    tmux.wait_for(
        &["ciliumnp/acme-data/deny-initech", "r1", "ingressDeny"],
        STEP,
    );
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}
