//! End to end, agent metrics: the real binary's demo cluster with its simulated Cilium agents,
//! scraped by the console every second; a bad policy applied and deleted with the real kubectl
//! shows up in `:violations` and goes away. Only the screen is asserted on.
//!
//! The console runs with `--no-flows`: this is the agent counters' path (the flows' path has
//! its own test, `tests/e2e_flows.rs`).

mod support;

use std::time::{Duration, Instant};

use support::{BINARY, Tmux, tool_available, wait_until};

const START: Duration = Duration::from_secs(30);
/// From a kubectl change to the screen: the agents re-evaluate within a second or so, and the
/// console needs two scrape rounds (1 s apart) for a rate.
const CHANGE: Duration = Duration::from_secs(20);
const STEP: Duration = Duration::from_secs(10);

/// The tenant pair the bad policy breaks: t0001's namespaces have no policy at all in the
/// generated `10,80,4` cluster (only t0000's four namespaces get one), so a deny-all on
/// t0001-api's ingress denies its own workloads' ring traffic.
const PAIR: &str = "t0001 → t0001";

/// Lines of the "Denied flows per tenant pair" panel (`│ … │`) that name `PAIR`.
fn sparkline_line(screen: &str) -> Option<String> {
    screen
        .lines()
        .find(|l| l.starts_with('│') && l.contains(PAIR))
        .map(|l| l.trim_end_matches([' ', '│']).to_string())
}

/// Rows of the violations table (`┃ … ┃`) whose TENANTS column is `PAIR`.
fn feed_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| l.starts_with('┃') && l.contains(PAIR))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_bad_policy_shows_in_violations_and_its_rate_returns_to_zero() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let kubeconfig = tmux.home().join("demo.kubeconfig");
    tmux.type_line(&format!(
        "{BINARY} demo --no-flows --scale 10,80,4 --scrape-interval 1 --kubeconfig-out {}",
        kubeconfig.display()
    ));
    tmux.wait_for(&["t0001", "netpol ● live"], START);
    tmux.keys(&[":"]);
    tmux.keys(&["-l", "violations"]);
    tmux.keys(&["Enter"]);
    // The first readings arrive: the agents were found and scraped.
    tmux.wait_for(
        &[
            "Denied flows per tenant pair",
            "agents scraped through the API server",
        ],
        START,
    );
    let screen = tmux.screen();
    assert!(
        sparkline_line(&screen).is_none() && feed_rows(&screen).is_empty(),
        "nothing denied for {PAIR} before the change:\n{screen}"
    );

    let manifest = tmux.home().join("deny.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: e2e-deny-all\n  namespace: t0001-api\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
    )
    .unwrap();
    let kubectl = |args: &[&str]| {
        let out = support::run(
            std::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(args),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let applied_at = Instant::now();
    kubectl(&["apply", "-f", manifest.to_str().unwrap()]);
    let screen = wait_until("the pair's drops in the feed", CHANGE, || {
        let screen = tmux.screen();
        let rows = feed_rows(&screen);
        let line = sparkline_line(&screen)?;
        (!rows.is_empty() && !line.ends_with(" 0.0/s")).then_some(screen)
    });
    eprintln!(
        "kubectl apply → drops on screen: {:?}",
        applied_at.elapsed()
    );
    // Feed rows name the namespaces and the ingress verdict on the destination's node.
    let rows = feed_rows(&screen);
    assert!(
        rows.iter()
            .all(|r| r.matches("t0001-api").count() == 2 && r.contains("node-")),
        "{screen}"
    );
    assert!(rows.iter().any(|r| r.contains("POLICY_DENIED")), "{screen}");

    let deleted_at = Instant::now();
    kubectl(&["delete", "netpol", "-n", "t0001-api", "e2e-deny-all"]);
    let line = wait_until("the pair's rate back to 0.0/s", CHANGE, || {
        sparkline_line(&tmux.screen()).filter(|l| l.ends_with(" 0.0/s"))
    });
    eprintln!(
        "kubectl delete → 0.0/s on screen: {:?} ({line})",
        deleted_at.elapsed()
    );
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}
