//! Kubeconfigs that used to crash or hang palisade: a token with a line break (kube-rs panicked
//! building the header) and an exec credential plugin that never answers (every command hung).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use palisade::sim::{DemoServer, Scenario};
use support::{BINARY, run};

fn palisade(home: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// Every subcommand that needs the cluster, with the arguments it needs to get that far.
/// (`timeline` reads the journal first and asks the cluster only for tenant names, optionally.)
const COMMANDS: &[&[&str]] = &[
    &[],
    &["analyze"],
    &["check"],
    &["record"],
    &["baseline", "--tenant", "acme"],
    &[
        "rollback",
        "--reason",
        "test",
        "--remove",
        "--dry-run",
        "acme-web/default-deny",
    ],
];

fn kubeconfig_with_user(dir: &Path, user: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:1'}}\n\
             contexts:\n- name: prod\n  context: {{cluster: c, user: ops-admin}}\ncurrent-context: prod\n\
             users:\n- name: ops-admin\n  user:\n{user}"
        ),
    )
    .unwrap();
    path
}

fn assert_clean_failure(args: &[&str], out: &std::process::Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 1, or 2 for `check` (its code for "could not check"); a panic is 101.
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "palisade {args:?} must fail with an error, not a panic: {:?}\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("BACKTRACE"),
        "palisade {args:?}:\n{stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "palisade {args:?}: no {needle:?} in\n{stderr}"
        );
    }
}

#[test]
fn a_token_with_a_line_break_is_an_error_naming_the_user() {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_with_user(home.path(), "    token: \"abc\\nsecret-part\"\n");
    for args in COMMANDS {
        let out = run(palisade(home.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(*args));
        assert_clean_failure(args, &out, &["kubeconfig user `ops-admin`", "line break"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("secret-part"),
            "the token leaked:\n{stderr}"
        );
    }
}

/// Runs `command`; fails the test (and kills it) if it has not ended after `limit`.
fn run_for_at_most(command: &mut Command, limit: Duration) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("palisade starts");
    let mut child = support::KillOnDrop(child);
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read_all(Box::new(child.0.stdout.take().expect("stdout")));
    let stderr = read_all(Box::new(child.0.stderr.take().expect("stderr")));
    let status = support::wait_until("palisade to end", limit, || {
        child.0.try_wait().expect("wait")
    });
    std::process::Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_hanging_exec_plugin_is_stopped_and_named() {
    let home = tempfile::tempdir().unwrap();
    // `exec`: the plugin is the sleeping process itself, so stopping it leaves nothing behind.
    let plugin = script(home.path(), "stuck-login", "exec sleep 600");
    let kubeconfig = kubeconfig_with_user(
        home.path(),
        &format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n",
            plugin.display()
        ),
    );
    for args in [&["analyze"][..], &[]] {
        let started = Instant::now();
        let out = run_for_at_most(
            palisade(home.path())
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(args),
            Duration::from_secs(30),
        );
        let elapsed = started.elapsed();
        assert_clean_failure(
            args,
            &out,
            &[
                &format!("credential plugin `{}`", plugin.display()),
                "kubeconfig user `ops-admin`",
                "did not answer within 10 s",
            ],
        );
        assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    }
}

/// The check runs the plugin as kube-rs does: a plugin that reads `KUBERNETES_EXEC_INFO` and its
/// `env` and prints a token works end to end against the demo server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_exec_plugin_still_connects() {
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let home = tempfile::tempdir().unwrap();
    let plugin = script(
        home.path(),
        "get-token",
        r#"case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) exit 2 ;; esac
echo "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"$DEMO_TOKEN\"}}""#,
    );
    let mut kubeconfig = server.kubeconfig();
    for user in &mut kubeconfig.auth_infos {
        user.auth_info = Some(
            serde_json::from_value(serde_json::json!({"exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": plugin.display().to_string(),
                "env": [{"name": "DEMO_TOKEN", "value": server.admin_token()}],
                "interactiveMode": "Never",
            }}))
            .unwrap(),
        );
    }
    let path = home.path().join("kubeconfig");
    std::fs::write(&path, palisade::yaml::to_string(&kubeconfig).unwrap()).unwrap();
    let mut command = palisade(home.path());
    command.arg("--kubeconfig").arg(&path).arg("analyze");
    let out = tokio::task::spawn_blocking(move || run(&mut command))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("acme"),
        "the analysis saw the demo's tenants"
    );
    server.shutdown().await;
}
