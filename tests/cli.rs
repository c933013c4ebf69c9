//! The binary's command-line behaviour: errors an operator sees before any UI.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{BINARY, run};

fn palisade(home: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn missing_kubeconfig_names_the_paths_tried() {
    let home = tempfile::tempdir().unwrap();
    let out = run(&mut palisade(home.path()));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no kubeconfig found"), "{stderr}");
    assert!(stderr.contains("$KUBECONFIG (not set)"), "{stderr}");
    assert!(
        stderr.contains(&home.path().join(".kube/config").display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("palisade demo"), "{stderr}");
}

#[test]
fn unreachable_cluster_fails_fast_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\ncontexts:\n- name: gone\n  context: {{cluster: gone, user: nobody}}\ncurrent-context: gone\nusers:\n- name: nobody\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = run(palisade(home.path()).arg("--kubeconfig").arg(&kubeconfig));
    let elapsed = started.elapsed();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the API server at http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("context `gone`"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Backtrace"),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

#[test]
fn unknown_context_lists_the_known_ones() {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\ncontexts:\n- name: prod\n  context: {cluster: c, user: u}\ncurrent-context: prod\nusers:\n- name: u\n  user: {}\n",
    )
    .unwrap();
    let out = run(palisade(home.path())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--context", "staging"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("context `staging` is not in the kubeconfig; known contexts: prod"),
        "{stderr}"
    );
}

#[test]
fn config_check_names_file_line_and_key_of_each_problem() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/palisade");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("keymap.toml"),
        "[tree]\nj = \"down\"\nx = \"explode\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("theme.toml"),
        "[tokens]\nok = \"green\"\nwarn = { fg = 7 }\n",
    )
    .unwrap();
    let out = run(palisade(home.path()).args(["config", "check"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let keymap = dir.join("keymap.toml").display().to_string();
    let theme = dir.join("theme.toml").display().to_string();
    assert!(
        stderr.contains(&format!("{keymap}:3: `tree.x`: unknown action `explode`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{theme}:3: `tokens.warn`")),
        "{stderr}"
    );

    std::fs::write(dir.join("keymap.toml"), "[tree]\nj = \"down\"\n").unwrap();
    std::fs::write(dir.join("theme.toml"), "[tokens]\nok = \"green\"\n").unwrap();
    let out = run(palisade(home.path()).args(["config", "check"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_check_covers_the_agent_rules() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/palisade");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("agents.toml"), "[cilium]\nport = 0\n").unwrap();
    let out = run(palisade(home.path()).args(["config", "check"]));
    assert!(!out.status.success());
    let agents = dir.join("agents.toml").display().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{agents}:2: `cilium.port`: expected a port number from 1 to 65535"
        )),
        "{stderr}"
    );
    std::fs::write(dir.join("agents.toml"), "[cilium]\nport = 19962\n").unwrap();
    let out = run(palisade(home.path()).args(["config", "check"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_flags_conflict_and_validate_clearly() {
    let home = tempfile::tempdir().unwrap();
    let out = run(palisade(home.path()).args([
        "demo",
        "--no-metrics",
        "--prometheus",
        "http://127.0.0.1:9090",
    ]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let out = run(palisade(home.path()).args(["--metrics-url", "cilium=ftp://agent/metrics"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected an http:// or https:// URL"),
        "{stderr}"
    );
}

#[test]
fn print_default_is_what_config_check_accepts() {
    let home = tempfile::tempdir().unwrap();
    let out = run(palisade(home.path()).args(["config", "print-default"]));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[tree]") && text.contains("[tokens]") && text.contains("expand-all"),
        "{text}"
    );
}

#[test]
fn demo_churn_rejects_zero_and_absurd_rates_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    for rate in ["0", "10001", "-5", "lots", "99999999999999999999"] {
        let out =
            run(palisade(home.path()).args(["demo", "--serve-only", &format!("--churn={rate}")]));
        assert_eq!(out.status.code(), Some(2), "--churn {rate}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--churn <RATE>"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_broken_intent_file_stops_the_console_with_its_name() {
    let home = tempfile::tempdir().unwrap();
    let intent = home.path().join("intent.yaml");
    std::fs::write(
        &intent,
        "required:\n  - name: x\n    from: {}\n    to: {}\n    ports: [TCP/http]\n",
    )
    .unwrap();
    let out = run(palisade(home.path())
        .args(["demo", "--intent"])
        .arg(&intent));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("intent.yaml") && stderr.contains("TCP/http"),
        "{stderr}"
    );
}

#[test]
fn a_reader_that_leaves_early_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = std::process::Command::new(support::BINARY)
        .args(["config", "print-default"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line is written, like `| head` does.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc_sigpipe()),
        "ended with {:?}: {stderr}",
        out.status
    );
}

/// SIGPIPE's number on Linux.
fn libc_sigpipe() -> i32 {
    13
}

/// A keymap cannot take away ctrl-c, the way out that always works: `config check` names the
/// entry and fails, and says the default stays.
#[test]
fn config_check_refuses_a_keymap_without_the_way_out() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/palisade");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keymap.toml"), "[global]\n\"ctrl-c\" = \"none\"\n").unwrap();
    let out = run(palisade(home.path()).args(["config", "check"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let keymap = dir.join("keymap.toml").display().to_string();
    assert!(
        stderr.contains(&format!(
            "{keymap}:2: `global.ctrl-c`: `ctrl-c` must quit in every context"
        )) && stderr.contains("`ctrl-c` stays `quit`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the defaults stand in for the other entries named above"),
        "{stderr}"
    );
}

/// A contexts.toml that cannot be parsed makes every context read-only; `config check` says
/// exactly that (it used to say the defaults were used).
#[test]
fn config_check_says_a_broken_contexts_file_makes_every_context_read_only() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/palisade");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("contexts.toml"),
        "[contexts.prod\nread_only = true\n",
    )
    .unwrap();
    let out = run(palisade(home.path()).args(["config", "check"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let contexts = dir.join("contexts.toml").display().to_string();
    assert!(
        stderr.contains(&format!("{contexts}:1: "))
            && stderr.contains("; every context is read-only until this is fixed\n"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "1 problem(s) found. The console would still start: contexts.toml cannot be used, \
             so every context is read-only until this is fixed (fail-closed)\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("defaults"), "{stderr}");
}
