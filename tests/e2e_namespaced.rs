//! A user whose Role covers the `acme-*` namespaces only (the demo's `palisade-demo-acme`
//! context), with the real binaries: the demo server, real kubectl, the headless `analyze`,
//! and the console in tmux, which must not stay on "Loading namespaces…".

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{KillOnDrop, Tmux, binary, tool_available, wait_until};

const CONTEXT: &str = "palisade-demo-acme";
const DEADLINE: Duration = Duration::from_secs(30);

/// `palisade demo --serve-only`, its kubeconfig in `dir`.
fn serve(dir: &Path) -> (KillOnDrop, PathBuf) {
    let kubeconfig = dir.join("demo.kubeconfig");
    let server = KillOnDrop(
        Command::new(binary())
            .args(["demo", "--serve-only", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .spawn()
            .expect("palisade starts"),
    );
    wait_until("the kubeconfig", DEADLINE, || {
        std::fs::read_to_string(&kubeconfig)
            .ok()
            .filter(|t| t.contains(CONTEXT))
    });
    (server, kubeconfig)
}

fn run(command: &mut Command) -> (bool, String, String) {
    let out = command.output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn kubectl_as_the_scoped_user_is_refused_cluster_wide_and_served_in_its_namespace() {
    if !tool_available("kubectl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = serve(dir.path());
    let kubectl = |args: &[&str]| {
        run(Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--context", CONTEXT])
            .args(args)
            .env("KUBECACHEDIR", dir.path().join("cache")))
    };
    let (ok, _, stderr) = kubectl(&["get", "pods", "-A"]);
    assert!(!ok, "cluster-wide list allowed");
    assert!(
        stderr.contains(
            "pods is forbidden: User \"palisade-demo-acme\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
        ),
        "{stderr}"
    );
    let (ok, stdout, stderr) = kubectl(&["get", "pods", "-n", "acme-web"]);
    assert!(ok && stdout.contains("storefront"), "{stdout}{stderr}");
    let (ok, _, stderr) = kubectl(&["get", "namespace", "acme-web"]);
    assert!(!ok && stderr.contains("Forbidden"), "{stderr}");
    // SelfSubjectRulesReview (protobuf from kubectl), answered per namespace.
    let (ok, stdout, stderr) = kubectl(&["auth", "can-i", "--list", "-n", "acme-web"]);
    assert!(ok && stdout.contains("networkpolicies"), "{stdout}{stderr}");
    let (_, stdout, _) = kubectl(&["auth", "can-i", "list", "pods", "-n", "globex-web"]);
    assert!(stdout.trim().starts_with("no"), "{stdout}");
}

#[test]
fn analyze_as_the_scoped_user_says_its_scope_and_marks_the_rest_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = serve(dir.path());
    let palisade = |args: &[&str]| {
        run(Command::new(binary())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--context", CONTEXT])
            .args(args)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config")))
    };
    // No -n: the cluster-wide list is forbidden, so the context's namespace.
    let (ok, stdout, stderr) = palisade(&["analyze", "-o", "json", "--quiet"]);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let scope = &json["coverage"]["scope"];
    assert_eq!(
        scope["namespaces"],
        serde_json::json!(["acme-web"]),
        "{json}"
    );
    assert_eq!(scope["reason"], "cluster-wide lists forbidden");
    assert_eq!(scope["namespace_labels_known"], false);
    // Pods of acme-web to each other: `allow-same-tenant` selects namespaces by `tenant`, a
    // label the user cannot read, so undecided, not absent (closed).
    let undecided = json["connections"].as_array().unwrap().iter().find(|c| {
        c["src"]
            .as_str()
            .is_some_and(|s| s.starts_with("acme-web/"))
            && c["dst"]
                .as_str()
                .is_some_and(|d| d.starts_with("acme-web/"))
    });
    assert_eq!(
        undecided.map(|c| &c["undecided"]),
        Some(&serde_json::json!("All Connections")),
        "{json}"
    );
    // -n, and the matrix: the unseen namespaces are a row and a column of unknown cells.
    let (ok, stdout, stderr) = palisade(&[
        "analyze",
        "-o",
        "matrix",
        "-n",
        "acme-web",
        "-n",
        "acme-api",
        "--tenant-pattern",
        "acme=acme-*",
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("you can see 2 of ? namespaces (acme-api, acme-web)"),
        "{stdout}"
    );
    let unseen = stdout
        .lines()
        .find(|l| l.starts_with("other ns"))
        .unwrap_or_else(|| panic!("no unseen row:\n{stdout}"));
    assert!(
        unseen.contains("? unknown") && !unseen.contains("open"),
        "{stdout}"
    );
    let acme = stdout.lines().find(|l| l.starts_with("acme ")).unwrap();
    assert!(acme.trim_end().ends_with("? unknown"), "{stdout}");
    // acme → acme is decided by namespaceSelectors on `tenant`: unknown, with why.
    assert!(acme.starts_with("acme       ? unknown"), "{stdout}");
    assert!(
        stdout.contains("acme → acme: unknown, All Connections undecided: namespace labels unreadable: namespaceSelector of acme-api/allow-same-tenant"),
        "{stdout}"
    );
}

#[test]
fn the_console_as_the_scoped_user_shows_its_namespaces_and_unknown_cells() {
    let tmux = Tmux::start();
    let (_server, kubeconfig) = serve(tmux.home());
    // The context's namespaces from contexts.toml.
    let config = tmux.home().join(".config/palisade");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("contexts.toml"),
        format!(
            "[contexts.\"{CONTEXT}\"]\nnamespaces = [\"acme-web\", \"acme-api\"]\ntenant_patterns = [\"acme=acme-*\"]\n"
        ),
    )
    .unwrap();
    tmux.type_line(&format!(
        "{} --kubeconfig {} --context {CONTEXT}",
        binary().display(),
        kubeconfig.display()
    ));
    let screen = tmux.wait_for(
        &[
            "you can see 2 of ? namespaces (acme-api, acme-web)",
            "pods ● live",
            "netpol ● live",
            "acme",
        ],
        DEADLINE,
    );
    assert!(!screen.contains("Loading namespaces"), "{screen}");
    tmux.keys(&["2"]);
    let screen = tmux.wait_for(&["Isolation matrix", "other ns", "? unknown"], DEADLINE);
    assert!(!screen.contains("Analysing the cluster"), "{screen}");
    // The namespace level of acme → acme has the unseen row and column too.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(
        &["acme → acme: namespaces", "acme-api → acme-api"],
        DEADLINE,
    );
    let unseen = screen
        .lines()
        .find(|l| l.contains("other ns") && l.contains("? unknown"));
    assert!(unseen.is_some(), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(DEADLINE);
}
