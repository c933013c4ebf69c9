//! End to end, issue 7's guided tour on the demo: `palisade tour` runs every step, this script
//! does what each step asks, and after each one the overlay shows the next step's number. The
//! rollback rehearsal included: the tour breaks acme-web/allow-dns, the script finds it on
//! :violations and rolls it back with the typed confirmation. Then leaving and resuming.

mod support;

use std::time::Duration;

use support::{BINARY, Tmux, tool_available, wait_until};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

/// Runs a `:` command line.
fn command(tmux: &Tmux, line: &str) {
    tmux.keys(&[":"]);
    tmux.type_line(line);
}

/// Filters the table shown.
fn filter(tmux: &Tmux, text: &str) {
    tmux.keys(&["/"]);
    tmux.type_line(text);
}

fn step(tmux: &Tmux, n: usize) -> String {
    tmux.wait_for(&[&format!("Tour {n}/10")], STEP)
}

#[test]
fn the_whole_tour_on_the_demo_advances_step_by_step() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    let journal = tmux.home().join("journal.sqlite");
    tmux.type_line(&format!(
        "{BINARY} tour --scrape-interval 1 --journal {}",
        journal.display()
    ));
    tmux.wait_for(&["netpol ● live", "Tour 1/10: Tenants"], START);
    // The analysis has run when the tree carries its finding badges.
    wait_until("the analysis", START, || {
        let screen = tmux.screen();
        let umbrella = screen.lines().find(|l| l.contains("umbrella"))?.to_string();
        umbrella.contains("⚠").then_some(())
    });

    // 1 → 2: open the tenant.
    tmux.keys(&["Enter"]);
    step(&tmux, 2);
    // 2 → 3: open acme-web and its default-deny marks.
    tmux.keys(&["j", "j", "j", "Enter"]);
    let screen = step(&tmux, 3);
    assert!(
        screen.contains("▼ acme-web") || screen.contains("acme-web"),
        "{screen}"
    );
    // 3 → 4: PAL020 on :findings.
    command(&tmux, "findings");
    filter(&tmux, "PAL020");
    let screen = step(&tmux, 4);
    assert!(
        screen.contains("initech"),
        "initech's DNS finding is listed:\n{screen}"
    );
    // 4 → 5: the matrix, the umbrella → globex breach cell, enter.
    command(&tmux, "matrix");
    tmux.wait_for(&["Isolation matrix"], STEP);
    tmux.keys(&["j", "j", "j", "l"]);
    tmux.wait_for(&["umbrella → globex:"], STEP);
    tmux.keys(&["Enter"]);
    step(&tmux, 5);
    // 5 → 6: down to the workload pair and its explanation.
    tmux.wait_for(&["umbrella → globex: namespaces"], STEP);
    tmux.keys(&["l", "Enter"]);
    tmux.wait_for(&["workload pairs"], STEP);
    tmux.keys(&["Enter"]);
    let screen = step(&tmux, 6);
    assert!(screen.contains("Connections between"), "{screen}");
    // 6 → 7: the intent breach on :findings.
    command(&tmux, "findings");
    filter(&tmux, "PAL061");
    step(&tmux, 7);
    // 7 → 8: violations, then latency.
    command(&tmux, "violations");
    tmux.wait_for(&["violations"], STEP);
    command(&tmux, "latency");
    tmux.wait_for(&["Tour 8/10: Rehearsal"], STEP);

    // 8: the tour broke acme's DNS; the drops show on :violations.
    command(&tmux, "violations");
    // The demo's console counts flows from its relay (`acme → platform 12 flows`); without a
    // flow source it would show the counters' rate (`2.0/s`).
    wait_until("acme → platform drops on :violations", START, || {
        let screen = tmux.screen();
        let line = screen.lines().find(|l| {
            l.contains("acme → platform") && (l.contains(" flows") || l.contains("/s"))
        })?;
        (!line.contains(" 0.0/s") && !line.contains(" 0 flows")).then_some(())
    });
    command(&tmux, "history acme-web/allow-dns");
    tmux.wait_for(&["r2", "r1"], STEP);
    tmux.keys(&["j"]);
    tmux.keys(&["R"]);
    tmux.wait_for(
        &[
            "revert acme-web/allow-dns",
            "type acme-web/allow-dns to confirm",
        ],
        STEP,
    );
    tmux.keys(&["-l", "acme-web/allow-dns"]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["-l", "tour rehearsal"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["dry run: update accepted", "enter: APPLY"], STEP);
    assert!(
        tmux.screen().contains("Tour 8/10"),
        "not done before the apply"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["done: written"], STEP);
    step(&tmux, 9);

    // 9 → 10: the audit log: the history shows the rollback's revision.
    command(&tmux, "history acme-web/allow-dns");
    tmux.wait_for(&["r3"], STEP);
    step(&tmux, 10);
    // 10: the tier policies on :policies; the tour ends.
    command(&tmux, "policies");
    filter(&tmux, "cluster");
    tmux.wait_for(&["tour finished"], STEP);
    let audit = std::fs::read_to_string(tmux.home().join("journal.audit.jsonl")).unwrap();
    assert!(audit.contains("\"outcome\":\"done\""), "{audit}");

    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}

#[test]
fn the_demo_offers_the_tour_and_it_resumes_where_it_was_left() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    tmux.type_line(&format!("{BINARY} demo --no-metrics"));
    tmux.wait_for(&["new here? :tour starts a guided tour"], START);
    tmux.wait_for(&["netpol ● live"], START);
    command(&tmux, "tour");
    step(&tmux, 1);
    tmux.keys(&["Enter"]);
    step(&tmux, 2);
    command(&tmux, "tour off");
    let screen = tmux.wait_for(&["left the tour at step 2"], STEP);
    assert!(!screen.contains("Tour 2/10"), "{screen}");
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);

    // The next start remembers the step, and does not offer the tour again.
    tmux.type_line(&format!("clear; {BINARY} demo --no-metrics"));
    tmux.wait_for(&["netpol ● live"], START);
    assert!(!tmux.screen().contains("new here?"));
    command(&tmux, "tour");
    step(&tmux, 2);
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}

#[test]
fn the_rehearsal_refuses_to_break_a_cluster_that_is_not_the_demo() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    // The same demo API, but reached as a real cluster through a kubeconfig.
    let (_server, kubeconfig) = support::serve_only(tmux.home(), "served.kubeconfig", &[]);
    // Progress saved at the rehearsal step (0-based 7 = step 8).
    let state_dir = tmux.home().join(".local/state/palisade");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(state_dir.join("tour"), "step 7\n").unwrap();

    tmux.type_line(&format!(
        "{BINARY} --kubeconfig {} --no-metrics",
        kubeconfig.display()
    ));
    tmux.wait_for(&["netpol ● live"], START);
    assert!(
        !tmux.screen().contains("new here?"),
        "only the demo offers it"
    );
    command(&tmux, "tour");
    tmux.wait_for(&["Tour 8/10", "only on the demo cluster"], STEP);
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
    // Nothing was changed: the policy still allows port 53.
    if tool_available("kubectl") {
        let out = support::run(
            std::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["-n", "acme-web", "get", "netpol", "allow-dns", "-o", "json"]),
        );
        let live = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && live.contains("\"port\": 53"),
            "{live}"
        );
        assert!(!live.contains("5353"), "{live}");
    }
}

#[test]
fn resuming_at_the_rehearsal_breaks_the_demo_after_the_journal_has_seen_it() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    let state_dir = tmux.home().join(".local/state/palisade");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(state_dir.join("tour"), "step 7\n").unwrap();
    let journal = tmux.home().join("journal.sqlite");
    tmux.type_line(&format!(
        "{BINARY} tour --no-metrics --journal {}",
        journal.display()
    ));
    tmux.wait_for(&["netpol ● live", "Tour 8/10"], START);
    // The break is a second revision: the first is the policy as the journal first saw it.
    // Asked again until the journal has it; a command still being typed when the condition
    // holds would take the ctrl-c below as "cancel the line", so each ask is seen through first.
    wait_until("the break as revision 2", START, || {
        let screen = tmux.screen();
        let typing = screen.lines().any(|l| l.starts_with(":history"));
        let shown = screen.contains("History of acme-web/allow-dns") && !typing;
        if shown && screen.contains("r2") && screen.contains("r1") {
            return Some(());
        }
        command(&tmux, "history acme-web/allow-dns");
        tmux.wait_for(&["History of acme-web/allow-dns"], STEP);
        None
    });
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}

/// `palisade tour --read-only` must not write: the rehearsal's break is refused at the edge that
/// writes, the panel says the rehearsal is skipped and why, the policy is untouched, and the
/// tour can still be walked to its end.
#[test]
fn read_only_skips_the_rehearsal_and_the_tour_goes_on() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let state_dir = tmux.home().join(".local/state/palisade");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(state_dir.join("tour"), "step 7\n").unwrap();
    let kubeconfig = tmux.home().join("tour.kubeconfig");
    tmux.type_line(&format!(
        "{BINARY} tour --read-only --no-metrics --kubeconfig-out {}",
        kubeconfig.display()
    ));
    let screen = tmux.wait_for(
        &[
            "netpol ● live",
            "Tour 8/10",
            "Rehearsal skipped",
            "read-only",
        ],
        START,
    );
    assert!(screen.contains("--read-only"), "the reason:\n{screen}");
    // The refusal is the only answer to the break: the policy still allows port 53.
    let out = support::run(
        std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["-n", "acme-web", "get", "netpol", "allow-dns", "-o", "json"]),
    );
    let live = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && live.contains("\"port\": 53"),
        "{live}"
    );
    assert!(!live.contains("5353"), "{live}");
    // Walkable: :violations goes on to step 9, its history to 10, the tier policies finish it.
    command(&tmux, "violations");
    step(&tmux, 9);
    command(&tmux, "history acme-web/allow-dns");
    step(&tmux, 10);
    command(&tmux, "policies");
    filter(&tmux, "cluster");
    tmux.wait_for(&["tour finished"], STEP);
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}
