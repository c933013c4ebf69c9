//! The headless commands as the demo's namespace-scoped user (`palisade-demo-acme`: a Role in
//! the `acme-*` namespaces, 403 cluster-wide), with the real binary against the real demo
//! server: `record` journals what it may see and says so, `-n` narrows `history`, `timeline`,
//! `gitops` and `baseline`, and none of them hangs (every run has a deadline).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{KillOnDrop, binary, break_acme_dns, serve_only, wait_until};

const CONTEXT: &str = "palisade-demo-acme";
const DEADLINE: Duration = Duration::from_secs(40);

/// The scoped user's palisade, with a private HOME (no contexts.toml, no default journal).
fn palisade(dir: &Path, kubeconfig: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", CONTEXT])
        .args(args)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null());
    command
}

/// Waits for `child` to exit within `deadline`: its exit code.
fn exit_within(child: &mut Child, deadline: Duration) -> Option<i32> {
    let status = wait_until("the command to exit", deadline, || {
        child.try_wait().expect("waits")
    });
    status.code()
}

/// Runs to the end within the deadline: (exit code, stdout, stderr).
fn finish(command: &mut Command, dir: &Path) -> (Option<i32>, String, String) {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let (out, err) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
    let child = command
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("palisade starts");
    let mut child = KillOnDrop(child);
    let code = exit_within(&mut child.0, DEADLINE);
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    (code, read(&out), read(&err))
}

/// A recorder as the scoped user into `journal`, its stderr in `log`.
fn start_recorder(dir: &Path, kubeconfig: &Path, journal: &Path, log: &Path) -> KillOnDrop {
    let mut command = palisade(dir, kubeconfig, &["record", "--journal"]);
    command
        .arg(journal)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    KillOnDrop(command.spawn().expect("palisade record starts"))
}

fn wait_in_log(log: &Path, needles: &[&str]) -> String {
    wait_until(
        &format!("{needles:?} in the recorder's log"),
        DEADLINE,
        || {
            let text = std::fs::read_to_string(log).ok()?;
            needles.iter().all(|n| text.contains(n)).then_some(text)
        },
    )
}

/// Stops the recorder with SIGTERM, as a pod's kubelet would.
fn stop(recorder: &mut KillOnDrop) -> Option<i32> {
    let pid = recorder.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    exit_within(&mut recorder.0, DEADLINE)
}

#[test]
fn record_as_the_scoped_user_journals_its_namespace_and_says_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = serve_only(dir.path(), "demo.kubeconfig", &[]);
    let journal = dir.path().join("acme.sqlite");
    let log = dir.path().join("record.log");
    let mut recorder = start_recorder(dir.path(), &kubeconfig, &journal, &log);
    // No -n: the cluster-wide list is forbidden, so the kubeconfig context's namespace.
    let said = wait_in_log(
        &log,
        &[
            "palisade record: you can see 1 of ? namespaces (acme-web)",
            "(cluster-wide lists are forbidden to you)",
            "policies in acme-web",
            "watching",
        ],
    );
    assert!(!said.contains("watch error"), "{said}");
    // The admin breaks acme-web's DNS: the scoped recorder journals it.
    break_acme_dns(&kubeconfig);
    wait_in_log(&log, &["recorded acme-web/allow-dns #2"]);
    assert_eq!(stop(&mut recorder), Some(0), "{}", read(&log));
    let (code, stdout, stderr) = finish(
        palisade(
            dir.path(),
            &kubeconfig,
            &[
                "history",
                "--no-recorder",
                "acme-web/allow-dns",
                "--journal",
            ],
        )
        .arg(&journal),
        dir.path(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("2 ") && l.contains("kubectl-patch")),
        "{stdout}"
    );
    // Nothing of another tenant's namespaces is in the journal.
    let (code, export, stderr) = finish(
        palisade(dir.path(), &kubeconfig, &["history", "export", "--journal"]).arg(&journal),
        dir.path(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(export.contains("\"acme-web\""), "{export}");
    assert!(!export.contains("globex"), "{export}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_scoped_recorder_that_may_see_nothing_says_so_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = serve_only(dir.path(), "demo.kubeconfig", &[]);
    let journal = dir.path().join("none.sqlite");
    let (code, _, stderr) = finish(
        palisade(
            dir.path(),
            &kubeconfig,
            &["record", "-n", "globex-web", "--journal"],
        )
        .arg(&journal),
        dir.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("you can see 0 of ? namespaces") && stderr.contains("globex-web"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing to record"), "{stderr}");
    assert!(!stderr.contains("retrying"), "{stderr}");
}

/// A journal recorded by the admin (every namespace), with acme-web's DNS broken.
fn admin_journal(dir: &Path, kubeconfig: &Path) -> PathBuf {
    let journal = dir.join("admin.sqlite");
    let log = dir.join("admin.log");
    let mut command = Command::new(binary());
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", "palisade-demo", "record", "--journal"])
        .arg(&journal)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut recorder = KillOnDrop(command.spawn().expect("palisade record starts"));
    wait_in_log(&log, &["listed", "policies, "]);
    break_acme_dns(kubeconfig);
    wait_in_log(&log, &["recorded acme-web/allow-dns #2"]);
    assert_eq!(stop(&mut recorder), Some(0), "{}", read(&log));
    journal
}

#[test]
fn timeline_history_gitops_and_baseline_take_dash_n_as_the_scoped_user() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = serve_only(dir.path(), "demo.kubeconfig", &[]);
    let journal = admin_journal(dir.path(), &kubeconfig);
    let run = |args: &[&str]| {
        let mut command = palisade(dir.path(), &kubeconfig, args);
        command.arg("--journal").arg(&journal);
        finish(&mut command, dir.path())
    };

    // timeline: the namespace list is forbidden, so the scope is said and tenants guessed.
    let (code, stdout, stderr) = run(&["timeline"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("you can see 1 of ? namespaces (acme-web)")
            && stderr.contains("tenants are guessed"),
        "{stderr}"
    );
    assert!(!stderr.contains("no cluster reachable"), "{stderr}");
    assert!(stdout.contains("globex"), "no -n: every event\n{stdout}");
    let (code, stdout, stderr) = run(&["timeline", "-n", "acme-web"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("acme-web/allow-dns"), "{stdout}");
    assert!(
        !stdout.contains("globex") && !stdout.contains("acme-api/"),
        "-n acme-web shows other namespaces\n{stdout}"
    );

    // history: export keeps the namespaces asked for; a policy outside them is refused.
    let (code, stdout, stderr) = run(&["history", "export", "-n", "acme-web"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"acme-web\""), "{stdout}");
    let namespaces: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .map(|v| v["namespace"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !namespaces.is_empty() && namespaces.iter().all(|ns| ns == "acme-web"),
        "{namespaces:?}"
    );
    let (code, _, stderr) = run(&["history", "-n", "acme-web", "globex-web/allow-dns"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("outside the namespaces asked for"),
        "{stderr}"
    );
    // The scoped user's history of its own policy, live cluster included, ends in time.
    let (code, stdout, stderr) = run(&["history", "-n", "acme-web", "acme-web/allow-dns"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("kubectl-patch"), "{stdout}");

    // gitops: -n is accepted and the command ends.
    let (code, stdout, stderr) = run(&["gitops", "suspended", "-n", "acme-web"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("no GitOps suspension"), "{stdout}");
}

#[test]
fn baseline_as_the_scoped_user_needs_its_namespaces_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = serve_only(dir.path(), "demo.kubeconfig", &[]);
    let (code, _, stderr) = finish(
        &mut palisade(dir.path(), &kubeconfig, &["baseline", "--tenant", "acme"]),
        dir.path(),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("labels are forbidden") && stderr.contains("-n/--namespace"),
        "{stderr}"
    );
    let (code, stdout, stderr) = finish(
        &mut palisade(
            dir.path(),
            &kubeconfig,
            &["baseline", "--tenant", "acme", "-n", "acme-web"],
        ),
        dir.path(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("namespace: acme-web") && !stdout.contains("acme-api"),
        "{stdout}"
    );
}
