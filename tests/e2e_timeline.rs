//! End to end, issue 16 §3: the timeline in an incident. A `kubectl patch` breaks acme's DNS on
//! the demo; `:timeline` opens on the newest events with the patch above the journal's seeding,
//! which is one row; `f` keeps the policy changes, and `enter` on the patch opens its history.

mod support;

use std::time::Duration;

use support::{DemoFiles, Tmux, break_acme_dns, tool_available};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

#[test]
fn the_timeline_opens_on_the_patch_and_enter_opens_its_history() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let DemoFiles { kubeconfig, .. } = tmux.start_demo("--no-flows", START);
    break_acme_dns(&kubeconfig);

    tmux.keys(&[":"]);
    tmux.type_line("timeline");
    let screen = tmux.wait_for(&["policies first seen at", "acme-web/allow-dns"], START);
    let patch = screen.find("acme-web/allow-dns").unwrap();
    let seeding = screen.find("policies first seen at").unwrap();
    assert!(patch < seeding, "newest first: {screen}");
    assert_eq!(
        screen.matches("first seen").count(),
        1,
        "the seeding is one row: {screen}"
    );

    tmux.keys(&["f"]);
    tmux.wait_for(&["kind: policy change"], STEP);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["history acme-web/allow-dns", "r2", "r1"], STEP);
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["kind: policy change", "policies first seen at"], STEP);
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}
