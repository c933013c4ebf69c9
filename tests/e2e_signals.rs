//! End to end: the terminal always comes back. The real console in tmux gets each signal (or
//! ctrl-z), and the pane's state is read afterwards: alternate screen, cursor, mouse reporting,
//! and the tty's modes (`stty`).

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::{BINARY, Tmux, tool_available, wait_until};

const START: Duration = Duration::from_secs(60);
const STEP: Duration = Duration::from_secs(15);
const LIVE: &str = "netpol ● live";

/// The console (the demo) running in a tmux pane, with its process id.
struct Console {
    tmux: Tmux,
    pid: String,
}

impl Console {
    fn start() -> Console {
        Console::start_with("")
    }

    fn start_with(demo_args: &str) -> Console {
        let tmux = Tmux::start();
        let pid_file: PathBuf = tmux.home().join("pid");
        // `exec` keeps the shell's job: the console is the process the shell stops and resumes.
        tmux.type_line(&format!(
            "bash -c 'echo $$ > {}; exec {BINARY} demo {demo_args}'",
            pid_file.display()
        ));
        tmux.wait_for(&[LIVE], START);
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_string();
        Console { tmux, pid }
    }

    fn kill(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.pid);
    }

    /// The tty's modes as `stty -a` prints them, read from outside while the console owns it.
    fn tty_modes(&self) -> Vec<String> {
        let tty = self.tmux.pane_format("#{pane_tty}");
        let out = support::run(Command::new("stty").args(["-a", "-F", &tty]));
        assert!(out.status.success(), "stty -F {tty}");
        String::from_utf8_lossy(&out.stdout)
            .split([' ', ';', '\n'])
            .map(str::to_string)
            .collect()
    }

    fn in_raw_mode(&self) -> bool {
        let modes = self.tty_modes();
        modes.iter().any(|m| m == "-icanon") && modes.iter().any(|m| m == "-echo")
    }

    /// The shell is back: main screen, visible cursor, no mouse reporting, cooked mode.
    fn assert_terminal_restored(&self, after: &str) {
        let state = self.tmux.pane_format(
            "alt=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_standard_flag}#{mouse_button_flag}#{mouse_any_flag}#{mouse_sgr_flag}",
        );
        assert_eq!(
            state,
            "alt=0 cursor=1 mouse=0000",
            "after {after}: {state}\n{}",
            self.tmux.screen()
        );
        // The shell itself reports canonical mode and echo (and what we type shows up).
        self.tmux.type_line(
            "stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | sort | tr '\\n' ' '; echo END",
        );
        self.tmux.wait_for(&["echo icanon END"], STEP);
    }

    /// The status of the last command (so: before any other command line).
    fn assert_exit_status(&self, code: u8) {
        self.tmux.type_line("echo \"EXIT=$?\"");
        self.tmux.wait_for(&[&format!("EXIT={code}")], STEP);
    }

    /// In the foreground: the alternate screen, drawn, answering single keys; `q` quits with 0.
    fn assert_resumed(&self) {
        wait_until("the console on the alternate screen", STEP, || {
            (self.tmux.pane_format("#{alternate_on}") == "1").then_some(())
        });
        self.tmux.wait_for(&[LIVE, "acme"], STEP);
        wait_until("raw mode", STEP, || self.in_raw_mode().then_some(()));
        self.tmux.keys(&["?"]);
        self.tmux.wait_for(&["Help: keys"], STEP);
        self.tmux.keys(&["Escape"]);
        // Before the next key: esc followed at once by q would read as alt-q.
        wait_until("help to close", STEP, || {
            (!self.tmux.screen().contains("Help: keys")).then_some(())
        });
        self.tmux.keys(&["q"]);
        self.tmux.wait_for_prompt(STEP);
        self.assert_exit_status(0);
    }
}

/// Whether the process ignores SIGPIPE (bit 13 of SigIgn in /proc/PID/status).
fn ignores_sigpipe(pid: &str) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap();
    mask & (1 << (13 - 1)) != 0
}

fn ends_on(signal: &str, code: u8) {
    if !tool_available("tmux") {
        return;
    }
    let console = Console::start();
    assert!(console.in_raw_mode(), "{:?}", console.tty_modes());
    console.kill(signal);
    console.tmux.wait_for_prompt(STEP);
    console.assert_exit_status(code);
    console.assert_terminal_restored(&format!("SIG{signal}"));
}

#[test]
fn sigint_restores_the_terminal_and_exits_130() {
    ends_on("INT", 130);
}

#[test]
fn sigquit_restores_the_terminal_and_exits_131() {
    ends_on("QUIT", 131);
}

#[test]
fn sigusr1_restores_the_terminal_and_exits_138() {
    ends_on("USR1", 138);
}

#[test]
fn sighup_restores_the_terminal_and_exits_129() {
    ends_on("HUP", 129);
}

#[test]
fn the_console_and_its_demo_server_ignore_sigpipe() {
    if !tool_available("tmux") {
        return;
    }
    let console = Console::start();
    assert!(
        ignores_sigpipe(&console.pid),
        "a client leaving the demo server would kill the console (issue 1b)"
    );
    console.tmux.keys(&["q"]);
    console.tmux.wait_for_prompt(STEP);
}

/// Issue 1b, the console's side: someone pokes at the demo from another terminal, and clients
/// that leave mid-watch (the race that raised SIGPIPE) end neither the console nor its server.
#[test]
fn clients_that_leave_the_demo_server_do_not_end_the_console() {
    if !tool_available("tmux") {
        return;
    }
    let kubeconfig = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig.path().join("demo.kubeconfig");
    let console = Console::start_with(&format!("--kubeconfig-out {}", kubeconfig.display()));
    let port = server_port(&kubeconfig);
    for client in 1..=20 {
        let out = support::run(
            Command::new(BINARY)
                .args(["check", "--kubeconfig"])
                .arg(&kubeconfig),
        );
        assert!(
            out.status.code().is_some_and(|code| code <= 1),
            "palisade check #{client}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        for _ in 0..5 {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            std::io::Write::write_all(
                &mut stream,
                b"GET /api/v1/pods?watch=1&allowWatchBookmarks=true HTTP/1.1\r\nHost: demo\r\n\r\n",
            )
            .unwrap();
        }
    }
    assert_eq!(console.tmux.current_command(), "palisade");
    console.assert_resumed();
}

fn server_port(kubeconfig: &std::path::Path) -> u16 {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let yaml: serde_json::Value = palisade::yaml::from_str(&text).unwrap();
    let server = yaml["clusters"][0]["cluster"]["server"].as_str().unwrap();
    server.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn sigtstp_suspends_to_the_shell_and_fg_resumes() {
    if !tool_available("tmux") {
        return;
    }
    let console = Console::start();
    console.kill("TSTP");
    let screen = console.tmux.wait_for_prompt(STEP);
    assert!(screen.contains("Stopped"), "{screen}");
    console.assert_terminal_restored("SIGTSTP");
    console.tmux.type_line("fg");
    console.assert_resumed();
}

#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_resumes() {
    if !tool_available("tmux") {
        return;
    }
    let console = Console::start();
    console.tmux.keys(&["C-z"]);
    let screen = console.tmux.wait_for_prompt(STEP);
    assert!(screen.contains("Stopped"), "{screen}");
    console.assert_terminal_restored("ctrl-z");
    console.tmux.type_line("fg");
    console.assert_resumed();
}

#[test]
fn after_a_sigstop_fg_takes_the_terminal_back() {
    if !tool_available("tmux") {
        return;
    }
    let console = Console::start();
    console.kill("STOP");
    // The console had no say: the alternate screen is still on, but the shell has its tty back.
    wait_until("the shell in the foreground", STEP, || {
        (console.tmux.current_command() == "bash").then_some(())
    });
    console.tmux.type_line("fg");
    console.assert_resumed();
}
