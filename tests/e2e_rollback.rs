//! End to end, issue 6's incident: a bad policy applied with kubectl makes the demo's agents
//! deny a tenant's DNS; the operator sees the violations, rolls the policy back from the console
//! with the typed confirmation, and the violations stop; the audit has the record.
//!
//! The console runs with `--no-flows`: this is the agent counters' path (the flows' path has
//! its own test, `tests/e2e_flows.rs`).

mod support;

use std::time::Duration;

use support::{
    DemoFiles, Tmux, break_acme_dns, kubectl, rollback_from_console, tool_available, wait_until,
};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

/// The sparkline row of a tenant pair on `:violations`, e.g. `acme → platform ▅█▅ 2.0/s`.
fn pair_line(screen: &str, pair: &str) -> Option<String> {
    screen
        .lines()
        .find(|l| l.contains(pair) && l.contains("/s"))
        .map(str::to_string)
}

#[test]
fn a_bad_policy_is_seen_rolled_back_from_the_console_and_audited() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let DemoFiles { kubeconfig, .. } = tmux.start_demo("--no-flows --scrape-interval 1", START);

    // The incident: acme-web's DNS egress now allows the wrong port.
    break_acme_dns(&kubeconfig);
    tmux.keys(&[":"]);
    tmux.type_line("violations");
    let denied = wait_until("acme → platform drops on :violations", START, || {
        let line = pair_line(&tmux.screen(), "acme → platform")?;
        (!line.contains(" 0.0/s")).then_some(line)
    });
    assert!(denied.contains("/s"), "{denied}");

    // Roll back from the console: history, the earlier revision, R.
    let done = rollback_from_console(
        &tmux,
        "acme-web/allow-dns",
        "INC-4711 acme DNS broken",
        STEP,
    );
    assert!(done.contains("the watch showed it"), "{done}");

    // The agents stop denying: the pair's current rate falls to zero.
    tmux.keys(&[":"]);
    tmux.type_line("violations");
    wait_until("acme → platform back to 0.0/s", START, || {
        let screen = tmux.screen();
        match pair_line(&screen, "acme → platform") {
            None => Some(()), // quiet for a whole history: gone from the list
            Some(line) => line.contains(" 0.0/s").then_some(()),
        }
    });
    let live = kubectl(
        &kubeconfig,
        &["-n", "acme-web", "get", "netpol", "allow-dns", "-o", "json"],
    );
    assert!(live.contains("\"port\": 53"), "the port is back: {live}");
    assert!(!live.contains("5353"), "{live}");

    // The audit: one JSON line next to the journal, with who, why and the outcome.
    let audit = std::fs::read_to_string(tmux.home().join("journal.audit.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(record["outcome"], "done");
    assert_eq!(record["kind"], "revert");
    assert_eq!(record["reason"], "INC-4711 acme DNS broken");
    assert_eq!(record["to_revision"], 1);
    assert_eq!(record["from_revision"], 2);

    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}
