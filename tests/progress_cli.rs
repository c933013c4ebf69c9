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
