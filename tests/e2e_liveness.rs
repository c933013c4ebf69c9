//! End to end: the real console in tmux against a real `palisade demo --serve-only` process that
//! is stopped (`kill -STOP`) and continued. The status must stop saying live within about the
//! probe interval plus its deadline (10 + 5 s), and come back when the server does.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{BINARY, KillOnDrop, Tmux, tool_available, wait_until};

const START: Duration = Duration::from_secs(30);

fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) on a child process this test started and still owns.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}

#[test]
fn a_stopped_server_is_shown_stale_and_live_again_when_it_continues() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    let kubeconfig = tmux.home().join("demo.kubeconfig");
    let server = KillOnDrop(
        Command::new(BINARY)
            .args(["demo", "--serve-only", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the demo server starts"),
    );
    wait_until("the kubeconfig", START, || {
        std::fs::read_to_string(&kubeconfig)
            .ok()
            .filter(|text| text.contains("server:"))
    });
    tmux.type_line(&format!("{BINARY} --kubeconfig {}", kubeconfig.display()));
    tmux.wait_for(&["ns ● live", "pods ● live", "netpol ● live"], START);

    let pid = server.0.id();
    signal(pid, libc::SIGSTOP);
    let stopped = Instant::now();
    let screen = tmux.wait_for(&["ns ✗ stale since"], Duration::from_secs(30));
    let noticed = stopped.elapsed();
    // Probe interval + deadline, plus the bookmark interval the watch may have been quiet for
    // before the stop, and a margin for a loaded machine.
    assert!(noticed < Duration::from_secs(22), "{noticed:?}:\n{screen}");
    assert!(!screen.contains("ns ● live"), "{screen}");
    eprintln!("stale shown {noticed:?} after kill -STOP");

    signal(pid, libc::SIGCONT);
    let continued = Instant::now();
    tmux.wait_for(&["ns ● live", "pods ● live", "netpol ● live"], START);
    eprintln!("live again {:?} after kill -CONT", continued.elapsed());
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(Duration::from_secs(10));
}
