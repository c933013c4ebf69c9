//! End to end, a rollback from the console as the demo's namespace-scoped user
//! (`palisade-demo-acme`, a Role in the `acme-*` namespaces): the admin breaks acme-web's DNS
//! with kubectl, the scoped user rolls it back through every gate (history, the typed name, the
//! reason, the dry run, the apply) and kubectl sees the policy restored. A rollback of another
//! tenant's policy is refused in one sentence with the API server's reason (the Role cannot
//! even read it), and the scoped console leaves that tenant's history in a shared journal
//! alone.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{
    KillOnDrop, Tmux, binary, break_acme_dns, kubectl, rollback_from_console, serve_only,
    tool_available, wait_until,
};

const CONTEXT: &str = "palisade-demo-acme";
const START: Duration = Duration::from_secs(40);
const STEP: Duration = Duration::from_secs(15);

/// globex-web's `allow-dns` patched by the admin: revision 2 of a policy the scoped user may
/// not write.
fn break_globex_dns(kubeconfig: &Path) {
    kubectl(
        kubeconfig,
        &[
            "-n",
            "globex-web",
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

/// The admin's recorder fills `journal` with every namespace, globex-web's change included.
fn record_as_admin(home: &Path, kubeconfig: &Path, journal: &Path) {
    let log = home.join("admin-record.log");
    let child = Command::new(binary())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", "palisade-demo", "record", "--journal"])
        .arg(journal)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("palisade record starts");
    let mut recorder = KillOnDrop(child);
    let said = |needle: &str| {
        wait_until(needle, START, || {
            let text = std::fs::read_to_string(&log).ok()?;
            text.contains(needle).then_some(())
        })
    };
    said("policies, ");
    break_globex_dns(kubeconfig);
    said("recorded globex-web/allow-dns #2");
    let pid = recorder.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_until("the recorder to stop", START, || {
        recorder.0.try_wait().unwrap()
    });
}

/// globex-web/allow-dns's revisions in `journal`, as JSON.
fn globex_history(home: &Path, kubeconfig: &Path, journal: &Path) -> serde_json::Value {
    let out = Command::new(binary())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "history",
            "--no-recorder",
            "-o",
            "json",
            "globex-web/allow-dns",
            "--journal",
        ])
        .arg(journal)
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_scoped_user_rolls_back_its_policy_from_the_console_and_is_refused_elsewhere() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let home = tmux.home().to_path_buf();
    let (_server, kubeconfig) = serve_only(&home, "demo.kubeconfig", &[]);
    let journal = home.join("journal.sqlite");
    record_as_admin(&home, &kubeconfig, &journal);
    let before = globex_history(&home, &kubeconfig, &journal);

    tmux.type_line(&format!(
        "{} --kubeconfig {} --context {CONTEXT} --journal {}",
        binary().display(),
        kubeconfig.display(),
        journal.display()
    ));
    tmux.wait_for(
        &["you can see 1 of ? namespaces (acme-web)", "netpol ● live"],
        START,
    );

    // The incident, by the admin; the rollback, by the scoped user through every gate.
    break_acme_dns(&kubeconfig);
    let done = rollback_from_console(&tmux, "acme-web/allow-dns", "INC-4712 acme DNS", STEP);
    assert!(done.contains("done: written"), "{done}");
    let live = kubectl(
        &kubeconfig,
        &["-n", "acme-web", "get", "netpol", "allow-dns", "-o", "json"],
    );
    assert!(
        live.contains("\"port\": 53") && !live.contains("5353"),
        "{live}"
    );
    // The journal thread seeded before it answered the history screen: the scoped console's
    // seed covered acme-web only, and globex-web kept its history.
    assert_eq!(
        globex_history(&home, &kubeconfig, &journal),
        before,
        "the scoped console changed another namespace's history"
    );

    // Another tenant's policy: the access review refuses before anything is written.
    tmux.keys(&["Escape", "Escape", "Escape"]);
    tmux.keys(&[":"]);
    tmux.type_line("history globex-web/allow-dns");
    wait_until("globex-web's revisions on the history screen", STEP, || {
        let screen = tmux.screen();
        (screen.contains("History of globex-web/allow-dns")
            && screen.contains("kubectl-patch")
            && screen.contains("palisade-scenario"))
        .then_some(())
    });
    tmux.keys(&["j"]);
    tmux.wait_for(&["› r1"], STEP);
    tmux.keys(&["R"]);
    let refused = tmux.wait_for(
        &[
            "you may not read globex-web/allow-dns",
            "nothing was written",
            "cannot get resource",
        ],
        STEP,
    );
    assert!(
        !refused.contains("Status {") && !refused.contains("to confirm"),
        "{refused}"
    );
    let live = kubectl(
        &kubeconfig,
        &[
            "-n",
            "globex-web",
            "get",
            "netpol",
            "allow-dns",
            "-o",
            "json",
        ],
    );
    assert!(live.contains("5353"), "globex-web was written: {live}");

    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(START);

    // A recorder on the journal the console shared: the same cluster, not "another cluster"
    // (the console writes the server URL with a trailing slash).
    let log = home.join("scoped-record.log");
    let child = Command::new(binary())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--context", CONTEXT, "record", "--journal"])
        .arg(&journal)
        .env("HOME", &home)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("palisade record starts");
    let mut recorder = KillOnDrop(child);
    let said = wait_until("the scoped recorder watching", START, || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("policies in acme-web").then_some(text)
    });
    assert!(!said.contains("another cluster"), "{said}");
    let pid = recorder.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_until("the recorder to stop", START, || {
        recorder.0.try_wait().unwrap()
    });
}
