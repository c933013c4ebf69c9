//! End to end, issue 16 §4: a fresh demo's `:latency` has figures without any change, since its
//! agents keep updating endpoints as a real cluster's do (it showed "—" until a policy changed).

mod support;

use std::time::Duration;

use support::{BINARY, Tmux, tool_available, wait_until};

const START: Duration = Duration::from_secs(30);

#[test]
fn a_quiet_demo_shows_endpoint_propagation_figures() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    tmux.type_line(&format!("{BINARY} demo --no-flows --scrape-interval 1"));
    tmux.wait_for(&["netpol ● live"], START);
    tmux.keys(&[":"]);
    tmux.type_line("latency");
    // The propagation row, all agents, with a p50 in milliseconds rather than "—".
    let row = wait_until("a propagation figure", START, || {
        let screen = tmux.screen();
        screen
            .lines()
            .find(|l| l.contains("propagation") && l.contains("ms"))
            .map(str::to_string)
    });
    assert!(!row.contains('—'), "{row}");
    tmux.keys(&["q"]);
}

/// Issue 16 §4: Hubble's L7 metrics per tenant pair on `:latency`, and a tenant's figures in
/// its detail pane.
#[test]
fn latency_shows_tenant_pairs_from_hubble_l7_metrics() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    tmux.type_line(&format!("{BINARY} demo --no-flows --scrape-interval 1"));
    tmux.wait_for(&["netpol ● live"], START);
    tmux.keys(&[":"]);
    tmux.type_line("latency");
    tmux.wait_for(&["Hubble's L7 metrics"], START);
    // A tenant pair row (source → destination) whose quantiles are figures, not "—".
    let row = wait_until("a tenant pair with quantiles", START, || {
        tmux.screen()
            .lines()
            .find(|l| l.contains('→') && l.contains("ms") && l.contains("/s"))
            .map(str::to_string)
    });
    assert!(row.matches("ms").count() >= 3, "p50, p95, p99: {row}");
    let screen = tmux.screen();
    assert!(screen.contains("DNS errors"), "{screen}");
    // Back on the tenants screen, acme is selected: its detail shows its own figures.
    tmux.keys(&["Escape"]);
    let line = wait_until("acme's request p95 in its detail", START, || {
        tmux.screen()
            .lines()
            .find(|l| l.contains("outgoing p95") && l.contains("ms"))
            .map(str::to_string)
    });
    assert!(line.contains("DNS errors 0.0%"), "{line}");
    tmux.keys(&["q"]);
}
