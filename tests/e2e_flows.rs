//! End to end, issue 13's incident through flows: a kubectl patch breaks acme-web's DNS; `:flows`
//! shows acme-web's DNS flows dropped by the dataplane, with palisade's own verdict naming the
//! policies that deny them (the explain pane names the patched `allow-dns`); after a rollback
//! from the console, acme-web's DNS flows are forwarded again and no new drops arrive.
//!
//! The demo runs with `--agent-lag none`: the deliberate drift of a lagging node is tested on
//! its own (`tests/sim_flows.rs`, `flows::judge`), and would make "no new drops" wait 20 s more.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{
    BINARY, DemoFiles, Tmux, break_acme_dns, rollback_from_console, run, tool_available, wait_until,
};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

/// acme-web → kube-system UDP/53 flows from the demo's relay, newest last, as `palisade flows`
/// prints them in JSON (the headless command against the same demo).
fn acme_dns_flows(kubeconfig: &Path, verdict: &str) -> Vec<serde_json::Value> {
    let out = run(Command::new(BINARY).env("KUBECONFIG", kubeconfig).args([
        "flows",
        "--namespace",
        "acme-web",
        "--port",
        "53",
        "--verdict",
        verdict,
        "--last",
        "4000",
        "-o",
        "json",
    ]));
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .filter(|f| {
            f["source"]["namespace"] == "acme-web" && f["destination"]["namespace"] == "kube-system"
        })
        .collect()
}

#[test]
fn a_broken_dns_policy_shows_as_dropped_flows_and_a_rollback_stops_them() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let DemoFiles { kubeconfig, .. } = tmux.start_demo("--agent-lag none --flow-rate 200", START);

    // Before the incident the flows come from the relay and acme-web's DNS is forwarded.
    tmux.keys(&[":"]);
    tmux.type_line("flows");
    tmux.wait_for(&["Hubble Relay · live"], START);
    let before = wait_until("acme-web DNS flows before the patch", START, || {
        let all = acme_dns_flows(&kubeconfig, "all");
        (!all.is_empty()).then_some(all)
    });
    assert!(
        before.iter().all(|f| f["verdict"] == "forwarded"),
        "acme-web's DNS works before the patch: {before:?}"
    );

    // The incident: acme-web's DNS egress now allows the wrong port.
    break_acme_dns(&kubeconfig);
    // `:flows` lists the drops (the default filter shows dropped flows), with palisade's
    // verdict beside the dataplane's.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "coredns"]);
    tmux.keys(&["Enter"]);
    let screen = wait_until("acme-web's DNS flows dropped on :flows", START, || {
        let screen = tmux.screen();
        screen
            .lines()
            .any(|l| {
                l.contains("acme-web/")
                    && l.contains("UDP/53")
                    && l.contains("dropped POLICY_DENIED")
                    && l.contains("denied")
            })
            .then_some(screen)
    });
    assert!(!screen.contains("DRIFT"), "no lag, no drift: {screen}");
    // The explain pane names the policy change: allow-dns no longer admits port 53.
    tmux.keys(&["g", "g"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["allow-dns"], STEP);
    let dropped = acme_dns_flows(&kubeconfig, "dropped");
    assert!(!dropped.is_empty());
    for flow in &dropped {
        assert_eq!(flow["reason"], "POLICY_DENIED", "{flow}");
        assert_eq!(flow["palisade"]["verdict"], "denied", "{flow}");
        assert!(flow["drift"].is_null(), "{flow}");
    }
    let by = dropped[0]["palisade"]["by"].as_str().unwrap_or_default();
    assert!(by.contains("acme-web/allow-dns"), "{by}");

    // Roll back from the console: history, the earlier revision, R.
    tmux.keys(&["Escape"]);
    rollback_from_console(
        &tmux,
        "acme-web/allow-dns",
        "INC-4712 acme DNS dropped",
        STEP,
    );

    // No new drops: the newest acme-web DNS flows are forwarded again, and stay so.
    let since = wait_until("acme-web DNS forwarded again", START, || {
        let all = acme_dns_flows(&kubeconfig, "all");
        let newest: Vec<_> = all.iter().rev().take(5).collect();
        (newest.len() == 5 && newest.iter().all(|f| f["verdict"] == "forwarded"))
            .then(|| newest[4]["time"].as_str().unwrap_or_default().to_string())
    });
    // RFC 3339 to the second compares as text.
    let later = wait_until(
        "ten more acme-web DNS flows after the rollback",
        START,
        || {
            let later: Vec<_> = acme_dns_flows(&kubeconfig, "all")
                .into_iter()
                .filter(|f| f["time"].as_str().unwrap_or_default() > since.as_str())
                .collect();
            (later.len() >= 10).then_some(later)
        },
    );
    assert!(
        later.iter().all(|f| f["verdict"] == "forwarded"),
        "no drop after the rollback: {later:?}"
    );
    // The console's list agrees: with every verdict shown, the newest acme-web DNS row is
    // forwarded.
    tmux.keys(&[":"]);
    tmux.type_line("flows");
    tmux.keys(&["v", "v"]);
    wait_until(
        "a forwarded acme-web DNS flow at the top of :flows",
        STEP,
        || {
            let screen = tmux.screen();
            let first = screen
                .lines()
                .find(|l| l.contains("acme-web/") && l.contains("UDP/53"))?
                .to_string();
            first.contains("forwarded").then_some(())
        },
    );

    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}
