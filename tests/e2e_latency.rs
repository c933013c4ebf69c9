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
