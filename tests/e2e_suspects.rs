//! End to end, issue 14's suspects: a `kubectl patch` breaks acme's DNS on the demo; the
//! agents' counters show acme → platform denied; the console's `:violations` names the patch as
//! the likely cause, and `S` opens the rollback of exactly that change (revert to revision 1);
//! the headless `palisade suspects` names it too, with the revision before it.
//!
//! The console runs with `--no-flows`: the counters' path (a spike has no port there).

mod support;

use std::process::Command;
use std::time::Duration;

use support::{BINARY, DemoFiles, Tmux, break_acme_dns, run, tool_available};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

#[test]
fn a_patch_that_breaks_dns_is_the_likely_cause_in_the_console_and_headless() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let DemoFiles {
        kubeconfig,
        journal,
    } = tmux.start_demo("--no-flows --scrape-interval 1", START);

    break_acme_dns(&kubeconfig);
    tmux.keys(&[":"]);
    tmux.type_line("violations");
    // Only acme's DNS denials in the table, so the selected row is one of them.
    tmux.keys(&["/"]);
    tmux.type_line("kube-system");
    let screen = tmux.wait_for(&["likely cause: acme-web/allow-dns rev 2"], START);
    assert!(screen.contains("kubectl-patch"), "{screen}");
    assert!(screen.contains("closes acme → platform UDP 53"), "{screen}");

    // S: the rollback flow of exactly that change, at its first gate (nothing is written).
    tmux.keys(&["S"]);
    tmux.wait_for(
        &[
            "revert acme-web/allow-dns",
            "revision 1",
            "type acme-web/allow-dns to confirm",
        ],
        STEP,
    );
    tmux.keys(&["Escape"]);

    // Headless, against the same demo and journal: the counters (two scrapes), the journal.
    let out = run(Command::new(BINARY)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["suspects", "--since", "10m", "-o", "json", "--no-flows"])
        .arg("--journal")
        .arg(&journal));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let dns = report["observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["from_namespace"] == "acme-web" && o["to_namespace"] == "kube-system")
        .unwrap_or_else(|| panic!("no acme-web → kube-system denial: {stdout}"));
    assert_eq!(dns["from"], "acme");
    assert_eq!(dns["to"], "platform");
    let top = &dns["suspects"][0];
    assert_eq!(top["policy"], "acme-web/allow-dns", "{stdout}");
    assert_eq!(top["revision"], 2);
    assert_eq!(top["revision_before"], 1);
    assert_eq!(top["manager"], "kubectl-patch");
    assert_eq!(top["rollback"]["kind"], "revert");
    assert_eq!(top["rollback"]["to"], 1);
    assert_eq!(top["closes"][0]["connections"], "UDP 53");
    // The demo's cross-tenant probes were denied before any change: no suspect for them.
    for other in report["observations"].as_array().unwrap() {
        if other["to_namespace"] != "kube-system" {
            assert_eq!(other["suspects"], serde_json::json!([]), "{other}");
        }
    }

    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}

/// The flows' path: the demo's Hubble Relay shows acme-web's DNS dropped on UDP 53; `:flows`
/// names the patch for the selected drop, and so does `palisade suspects` from the flows alone.
#[test]
fn dropped_dns_flows_name_the_patch_with_their_port() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let DemoFiles {
        kubeconfig,
        journal,
    } = tmux.start_demo("--agent-lag none --flow-rate 200", START);
    tmux.keys(&[":"]);
    tmux.type_line("flows");
    tmux.wait_for(&["Hubble Relay · live"], START);

    break_acme_dns(&kubeconfig);
    // Only acme-web's drops, so the selected row is one of them.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "acme-web coredns"]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(&["likely cause: acme-web/allow-dns rev 2"], START);
    assert!(screen.contains("closes acme → platform UDP 53"), "{screen}");

    let out = run(Command::new(BINARY)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["suspects", "--since", "10m", "-o", "json", "--no-metrics"])
        .args(["--tenant", "acme", "--journal"])
        .arg(&journal));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let dns = report["observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["from_namespace"] == "acme-web"
                && o["to_namespace"] == "kube-system"
                && o["protocol"] == "UDP"
                && o["port"] == 53
        })
        .unwrap_or_else(|| panic!("no acme-web → kube-system UDP 53 drops: {stdout}"));
    assert_eq!(dns["evidence"], "flows");
    let top = &dns["suspects"][0];
    assert_eq!(top["policy"], "acme-web/allow-dns", "{stdout}");
    assert_eq!(top["revision_before"], 1);
    assert_eq!(
        top["rollback_command"],
        "palisade rollback acme-web/allow-dns --to 1 --reason TEXT"
    );

    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}

#[test]
fn suspects_without_a_journal_or_with_a_bad_window_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sqlite");
    let out = run(Command::new(BINARY)
        .env("HOME", dir.path())
        .args(["suspects", "--window", "soon", "--journal"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--window"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(Command::new(BINARY)
        .env("HOME", dir.path())
        .args(["suspects", "--journal"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no journal at"));
}
