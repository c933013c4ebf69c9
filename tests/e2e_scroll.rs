//! End to end, issue 16 §3 ("the same fixes for every list that can overshoot"): with the
//! guided tour's panel open in a short terminal, the tenant detail scrolls to its last wrapped
//! row, no further, and `k` after `G` moves at once.

mod support;

use std::time::Duration;

use support::{Tmux, tool_available};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);
/// The last row of acme's detail on the demo (its Baseline boundary rule, wrapped).
const LAST_ROW: &str = "`deny-from-tenants` #0";

#[test]
fn the_detail_under_the_tour_panel_reaches_its_last_row_and_stops_there() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start_sized(120, 24);
    tmux.start_demo("--no-flows", START);
    tmux.keys(&[":"]);
    tmux.type_line("tour");
    tmux.wait_for(&["Tour 1/"], STEP);
    // acme is selected; its detail is longer than the pane the tour leaves.
    tmux.keys(&["Tab"]);
    let top = tmux.wait_for(&["kind        tenant"], STEP);
    assert!(!top.contains(LAST_ROW), "the pane is short: {top}");
    // The boundary rules join the detail when the first analysis lands: `G` again until then
    // (it is idempotent).
    let bottom = support::wait_until("the detail's last row", STEP, || {
        tmux.keys(&["G"]);
        let screen = tmux.screen();
        screen.contains(LAST_ROW).then_some(screen)
    });
    assert!(!bottom.contains("kind        tenant"), "{bottom}");
    for _ in 0..3 {
        tmux.keys(&["PageDown"]);
    }
    tmux.keys(&["k"]);
    support::wait_until("one row up at once", STEP, || {
        (!tmux.screen().contains(LAST_ROW)).then_some(())
    });
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}
