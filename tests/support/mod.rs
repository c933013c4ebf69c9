//! Shared helpers for the integration and end-to-end tests: waiting on conditions with a
//! deadline (never fixed sleeps), tool discovery, the demo server in-process with a client, and
//! a tmux driver for the real binary.
#![allow(dead_code)] // each test crate uses a different subset

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kube::config::KubeConfigOptions;
use palisade::sim::{DemoServer, Scenario, ServerOptions};

pub const BINARY: &str = env!("CARGO_BIN_EXE_palisade");

/// `palisade demo --serve-only FLAGS` as a separate process, as a user runs it for kubectl, its
/// kubeconfig written to `dir/name`; returns once the kubeconfig names the server.
pub fn serve_only(dir: &Path, name: &str, flags: &[&str]) -> (KillOnDrop, PathBuf) {
    let kubeconfig = dir.join(name);
    let child = Command::new(BINARY)
        .args(["demo", "--serve-only", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .args(flags)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("palisade starts");
    let server = KillOnDrop(child);
    wait_until(
        "the kubeconfig to be written",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&kubeconfig)
                .ok()
                .filter(|t| t.contains("server:"))
        },
    );
    (server, kubeconfig)
}

/// Polls `check` until it returns `Some`, or fails the test with `what` after `deadline`.
pub fn wait_until<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The demo server in-process (`scenario`, `options`: its simulated agents among them) and a
/// kube-rs client on its kubeconfig. Without kube-rs' own retries: it retries 503 by default (15
/// times, backing off up to minutes), and a scraper wants an unreachable agent reported, not
/// waited for.
pub async fn demo_and_client(
    scenario: Scenario,
    options: ServerOptions,
) -> (DemoServer, kube::Client) {
    let server = DemoServer::start_with(scenario, options)
        .await
        .expect("server starts");
    let mut config =
        kube::Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
            .await
            .expect("kubeconfig is usable");
    config.default_retry = false;
    (
        server,
        kube::Client::try_from(config).expect("client builds"),
    )
}

/// [`wait_until`] for an async `check`, on tokio's clock.
pub async fn poll_until<T, F: Future<Output = Option<T>>>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let started = tokio::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether an external tool is available. When it is not, a test skips with a visible message,
/// unless PALISADE_REQUIRE_TOOLS=1 (set by the project's test command), where it fails.
pub fn tool_available(tool: &str) -> bool {
    let version_args: &[&str] = match tool {
        "kubectl" => &["version", "--client"],
        "promtool" => &["--version"],
        _ => &["-V"],
    };
    let found = Command::new(tool)
        .args(version_args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("PALISADE_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{tool} is required (PALISADE_REQUIRE_TOOLS=1) but not installed; .ci/test installs it"
        );
        eprintln!("SKIPPED: {tool} is not installed (run .ci/test, which installs it)");
    }
    found
}

pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Runs the installed kubectl against `kubeconfig`; its stdout, or the test fails with stderr.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = run(Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args));
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The demo incident the end-to-end tests share: acme-web's `allow-dns` patched with kubectl to
/// admit UDP 5353 instead of 53, so acme's DNS lookups are denied (revision 2 in the journal).
pub fn break_acme_dns(kubeconfig: &Path) {
    kubectl(
        kubeconfig,
        &[
            "-n",
            "acme-web",
            "patch",
            "netpol",
            "allow-dns",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/egress/0/ports/0/port","value":5353}]"#,
        ],
    );
}

/// Rolls `policy` back from the console to the revision before its newest: `:history`, the
/// earlier revision, `R`, the typed name and `reason`, the dry run, the apply. Returns the
/// screen that says it is done.
pub fn rollback_from_console(tmux: &Tmux, policy: &str, reason: &str, step: Duration) -> String {
    tmux.keys(&[":"]);
    tmux.type_line(&format!("history {policy}"));
    tmux.wait_for(&["r2", "r1", "kubectl-patch"], step);
    tmux.keys(&["j"]);
    tmux.keys(&["R"]);
    tmux.wait_for(
        &[
            &format!("revert {policy}"),
            &format!("type {policy} to confirm"),
        ],
        step,
    );
    tmux.keys(&["-l", policy]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["-l", reason]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["dry run: update accepted", "enter: APPLY"], step);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["done: written", "audit #"], step)
}

/// The symbols of the console's matrix row `from` on screen, in column order (■ closed,
/// ◧ partial, □ open).
pub fn matrix_row(screen: &str, from: &str) -> Option<Vec<char>> {
    let line = screen
        .lines()
        .find(|l| l.trim_start_matches('┃').starts_with(from))?;
    Some(
        line.chars()
            .filter(|c| matches!(c, '■' | '◧' | '□'))
            .collect(),
    )
}

/// Waits up to `deadline` until the demo's matrix cell umbrella → globex (row 4, column 2)
/// shows `symbol`.
pub fn umbrella_to_globex(tmux: &Tmux, symbol: char, what: &str, deadline: Duration) {
    wait_until(what, deadline, || {
        let row = matrix_row(&tmux.screen(), "umbrella")?;
        (row.get(1) == Some(&symbol)).then_some(())
    });
}

static SESSION_COUNTER: AtomicU32 = AtomicU32::new(0);

/// What [`Tmux::start_demo`] writes into the tmux HOME.
pub struct DemoFiles {
    pub kubeconfig: PathBuf,
    pub journal: PathBuf,
}

/// A private tmux server running one shell, for driving the real binary like a user would.
pub struct Tmux {
    socket: String,
    pub home: tempfile::TempDir,
}

pub const PROMPT: &str = "E2E-PROMPT$";

impl Tmux {
    /// Starts a clean shell (own HOME and XDG dirs, no kubeconfig) in a 120x40 terminal.
    pub fn start() -> Tmux {
        Tmux::start_sized(120, 40)
    }

    /// [`Tmux::start`] in a terminal of `width` × `height`.
    pub fn start_sized(width: u16, height: u16) -> Tmux {
        let socket = format!(
            "palisade-e2e-{}-{}",
            std::process::id(),
            SESSION_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let home = tempfile::tempdir().expect("temp home");
        let tmux = Tmux { socket, home };
        let home_path = tmux.home.path().display().to_string();
        let status = Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .args([
                "env",
                "-i",
                &format!("HOME={home_path}"),
                &format!("XDG_CONFIG_HOME={home_path}/.config"),
            ])
            .args([
                &format!("XDG_DATA_HOME={home_path}/.local/share"),
                "TERM=xterm-256color",
            ])
            .args([
                &format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
                &format!("PS1={PROMPT} "),
            ])
            .args(["bash", "--norc", "--noprofile"])
            .status()
            .expect("tmux starts");
        assert!(status.success(), "tmux new-session failed");
        wait_until("the shell prompt", Duration::from_secs(10), || {
            tmux.screen().contains(PROMPT).then_some(())
        });
        tmux
    }

    /// Runs `palisade demo ARGS` in the shell, its kubeconfig and journal in this HOME, and
    /// waits until the console is live and the kubeconfig is written.
    pub fn start_demo(&self, args: &str, deadline: Duration) -> DemoFiles {
        let files = DemoFiles {
            kubeconfig: self.home().join("demo.kubeconfig"),
            journal: self.home().join("journal.sqlite"),
        };
        self.type_line(&format!(
            "{BINARY} demo {args} --kubeconfig-out {} --journal {}",
            files.kubeconfig.display(),
            files.journal.display()
        ));
        self.wait_for(&["netpol ● live"], deadline);
        wait_until("the demo kubeconfig", deadline, || {
            files.kubeconfig.exists().then_some(())
        });
        files
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    fn tmux(&self, args: &[&str]) -> Output {
        run(Command::new("tmux").args(["-L", &self.socket]).args(args))
    }

    /// Types a shell command line and presses Enter.
    pub fn type_line(&self, line: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", line]);
        self.tmux(&["send-keys", "-t", "0", "Enter"]);
    }

    /// Sends tmux key names (`q`, `Enter`, `C-c`, `j`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    /// Appends every byte the pane's programs write to `file` from now on (cleared lines too,
    /// which `screen` no longer shows); `None` stops it.
    pub fn pipe_to(&self, file: Option<&Path>) {
        match file {
            Some(file) => self.tmux(&[
                "pipe-pane",
                "-t",
                "0",
                &format!("cat >> '{}'", file.display()),
            ]),
            None => self.tmux(&["pipe-pane", "-t", "0"]),
        };
    }

    /// A tmux format expanded for the pane, e.g. `#{alternate_on}` or `#{pane_tty}`.
    pub fn pane_format(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "0", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn current_command(&self) -> String {
        let out = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            "0",
            "#{pane_current_command}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits until the screen contains every needle; returns the screen.
    pub fn wait_for(&self, needles: &[&str], deadline: Duration) -> String {
        let what = format!("{needles:?} on screen");
        let start = Instant::now();
        loop {
            let last = self.screen();
            if needles.iter().all(|n| last.contains(n)) {
                return last;
            }
            assert!(
                start.elapsed() < deadline,
                "timed out waiting for {what}; screen:\n{last}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for the shell to be back in the foreground with its prompt on the last line.
    pub fn wait_for_prompt(&self, deadline: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            let last_line = screen
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            if last_line.trim_end() == PROMPT && self.current_command() == "bash" {
                return screen;
            }
            assert!(
                start.elapsed() < deadline,
                "timed out waiting for the shell prompt; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(BINARY)
}

/// Kills a child process when the test ends, pass or fail.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
