//! Progress on stderr for `analyze` on a live cluster: shown on a terminal (phases with counts),
//! never on a pipe, never with `--quiet`, without colour under `NO_COLOR`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{BINARY, KillOnDrop, Tmux, run, wait_until};

/// A demo server of `scale` (NAMESPACES,PODS,POLICIES) and its kubeconfig.
fn demo(dir: &Path, scale: &str) -> (KillOnDrop, PathBuf) {
    let kubeconfig = dir.join("demo.kubeconfig");
    let server = KillOnDrop(
        Command::new(BINARY)
            .args(["demo", "--serve-only", "--scale", scale, "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .spawn()
            .expect("palisade starts"),
    );
    wait_until("the kubeconfig", Duration::from_secs(60), || {
        std::fs::read_to_string(&kubeconfig)
            .ok()
            .filter(|t| t.contains("server:"))
    });
    (server, kubeconfig)
}

#[test]
fn a_piped_stderr_gets_no_progress_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // More pods than one page (500), so the list reports pages.
    let (_server, kubeconfig) = demo(dir.path(), "20,2000,100");
    let out = run(Command::new(BINARY)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["analyze", "--output", "matrix"]));
    assert!(out.status.success(), "{out:?}");
    assert!(!out.stdout.is_empty(), "the matrix is printed");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "stderr is not a terminal: not one progress byte"
    );
}

/// Runs `analyze` in the tmux pane with stdout to a file, and returns every byte the pane got.
fn analyze_in_terminal(
    tmux: &Tmux,
    kubeconfig: &Path,
    run: &str,
    env: &str,
    flags: &str,
) -> String {
    let log = tmux.home().join(format!("{run}.log"));
    let out = tmux.home().join("matrix.txt");
    tmux.pipe_to(Some(&log));
    tmux.type_line(&format!(
        "{env} {BINARY} --kubeconfig {} analyze --output matrix {flags} > {}; echo {run}-DONE-$?",
        kubeconfig.display(),
        out.display()
    ));
    let done = format!("{run}-DONE-0");
    tmux.wait_for(&[&done], Duration::from_secs(120));
    tmux.pipe_to(None);
    let matrix = std::fs::read_to_string(&out).unwrap();
    assert!(!matrix.is_empty(), "the matrix still goes to stdout");
    wait_until("the pane log", Duration::from_secs(10), || {
        std::fs::read(&log)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .filter(|t| t.contains(&done))
    })
}

#[test]
fn a_terminal_sees_the_phases_with_counts_and_quiet_silences_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = demo(dir.path(), "200,20000,2000");
    let tmux = Tmux::start();

    let shown = analyze_in_terminal(&tmux, &kubeconfig, "shown", "", "");
    // While the pages arrive, the total comes from the server's remainingItemCount.
    let pages = pod_pages(&shown);
    assert!(
        pages.iter().any(|(listed, total)| listed < total),
        "pages with their total: {pages:?}"
    );
    assert!(pages.iter().all(|(_, total)| *total >= 20_000), "{pages:?}");
    for phase in ["building classes", "computing the matrix"] {
        assert!(shown.contains(phase), "{phase}: {}", tail(&shown));
    }
    assert!(shown.contains("\u{1b}[36m"), "the spinner is coloured");

    let plain = analyze_in_terminal(&tmux, &kubeconfig, "plain", "NO_COLOR=1", "");
    assert!(!pod_pages(&plain).is_empty(), "{}", tail(&plain));
    assert!(!plain.contains("\u{1b}[36m"), "NO_COLOR: no colour");

    let quiet = analyze_in_terminal(&tmux, &kubeconfig, "quiet", "", "--quiet");
    for phase in ["listing", "building classes", "computing the matrix"] {
        assert!(
            !quiet.contains(phase),
            "--quiet shows no {phase}: {}",
            tail(&quiet)
        );
    }
}

/// Every `listing pods LISTED/TOTAL` the terminal got, in order.
fn pod_pages(log: &str) -> Vec<(u64, u64)> {
    let number = |text: &str| text.replace(',', "").parse::<u64>().ok();
    log.split("listing pods ")
        .skip(1)
        .filter_map(|rest| {
            let (listed, total) = rest.split_whitespace().next()?.split_once('/')?;
            Some((number(listed)?, number(total)?))
        })
        .collect()
}

/// The end of a pane log, for failure messages (the spinner redraws make it long).
fn tail(log: &str) -> &str {
    let start = log.len().saturating_sub(2_000);
    let start = (start..log.len())
        .find(|i| log.is_char_boundary(*i))
        .unwrap_or(start);
    &log[start..]
}

fn sample_journal() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo-journal.jsonl")
}

#[test]
fn history_import_and_export_show_progress_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let import = run(Command::new(BINARY)
        .args(["history", "import"])
        .arg(sample_journal())
        .arg("--journal")
        .arg(&journal));
    assert!(import.status.success(), "{import:?}");
    assert_eq!(
        String::from_utf8_lossy(&import.stderr),
        "",
        "no progress bytes"
    );
    let export = run(Command::new(BINARY)
        .args(["history", "export"])
        .arg(dir.path().join("out.jsonl"))
        .arg("--journal")
        .arg(&journal));
    assert!(export.status.success(), "{export:?}");
    let stderr = String::from_utf8_lossy(&export.stderr);
    assert!(
        stderr.starts_with("exported ") && stderr.lines().count() == 1,
        "only the result line: {stderr:?}"
    );

    let tmux = Tmux::start();
    let log = tmux.home().join("history.log");
    tmux.pipe_to(Some(&log));
    tmux.type_line(&format!(
        "{BINARY} history import {} --journal {}; {BINARY} history export {} --journal {}; echo HISTORY-DONE-$?",
        sample_journal().display(),
        tmux.home().join("t.sqlite").display(),
        tmux.home().join("t.jsonl").display(),
        tmux.home().join("t.sqlite").display(),
    ));
    tmux.wait_for(&["HISTORY-DONE-0"], Duration::from_secs(60));
    tmux.pipe_to(None);
    let shown = wait_until("the pane log", Duration::from_secs(10), || {
        std::fs::read(&log)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .filter(|t| t.contains("HISTORY-DONE-0"))
    });
    assert!(shown.contains("merging policies "), "{}", tail(&shown));
    assert!(shown.contains("exporting revisions "), "{}", tail(&shown));
}

#[test]
fn the_recorder_shows_its_seeding_on_a_terminal_then_only_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = demo(dir.path(), "10,600,700");
    let tmux = Tmux::start();
    let log = tmux.home().join("record.log");
    tmux.pipe_to(Some(&log));
    tmux.type_line(&format!(
        "{BINARY} --kubeconfig {} record --journal {}",
        kubeconfig.display(),
        tmux.home().join("r.sqlite").display()
    ));
    // The recorded revisions scroll the screen: read what the terminal got instead.
    let read_log =
        || String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    // Each served tier kind says its own "; watching" line; the NetworkPolicies' comes with
    // their count.
    let shown = wait_until("the recorder watching", Duration::from_secs(60), || {
        Some(read_log()).filter(|t| t.contains("listed 700 policies"))
    });
    assert!(shown.contains("; watching"), "{}", tail(&shown));
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(Duration::from_secs(20));
    tmux.pipe_to(None);
    assert!(shown.contains("seeding the journal "), "{}", tail(&shown));
    // Cleared before the recorder's own line: the screen keeps no spinner.
    let screen = tmux.screen();
    assert!(!screen.contains("seeding the journal"), "{screen}");
}
