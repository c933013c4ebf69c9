//! End to end, issue 16 §2: one analysis configuration. A context's contexts.toml entry
//! (`tenant_label`, `tenant_patterns`) shapes the console's tree and matrix and `analyze`'s
//! matrix alike, and the command line's flags win over it, in the console as in `analyze`.
//!
//! The demo labels its tenants' namespaces `tenant=…`; with `tenant_label = "team"` only the
//! pattern `acme=acme-*` places namespaces, so globex, initech and umbrella become unassigned.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{BINARY, Tmux, run, tool_available, wait_until};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

fn analyze_matrix(home: &Path, kubeconfig: &Path, flags: &[&str]) -> String {
    let out = run(Command::new(BINARY)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .args(["analyze", "-o", "matrix", "-q", "--kubeconfig"])
        .arg(kubeconfig)
        .args(flags));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn contexts_toml_shapes_the_console_and_analyze_alike_and_flags_win() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    let config = tmux.home().join(".config/palisade");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("contexts.toml"),
        "[contexts.\"palisade-demo\"]\ntenant_label = \"team\"\ntenant_patterns = [\"acme=acme-*\"]\n",
    )
    .unwrap();
    let kubeconfig = tmux.home().join("demo.kubeconfig");
    tmux.type_line(&format!(
        "{BINARY} demo --no-flows --no-metrics --kubeconfig-out {}",
        kubeconfig.display()
    ));
    tmux.wait_for(&["netpol ● live", "unassigned"], START);
    tmux.keys(&["2"]);
    let matrix = tmux.wait_for(&["Isolation matrix", "unassigned", "acme"], STEP);
    assert!(!matrix.contains("globex"), "{matrix}");
    wait_until("the demo kubeconfig", START, || {
        kubeconfig.exists().then_some(())
    });

    // `analyze` reads the same entry: the same groups.
    let headless = analyze_matrix(tmux.home(), &kubeconfig, &[]);
    assert!(
        headless.contains("unassigned") && !headless.contains("globex"),
        "{headless}"
    );
    // The command line wins over contexts.toml.
    let headless = analyze_matrix(tmux.home(), &kubeconfig, &["--tenant-label", "tenant"]);
    assert!(
        headless.contains("globex") && !headless.contains("unassigned"),
        "{headless}"
    );

    // So it does in the console, on the same cluster and the same contexts.toml.
    let console = Tmux::start();
    let console_config = console.home().join(".config/palisade");
    std::fs::create_dir_all(&console_config).unwrap();
    std::fs::copy(
        config.join("contexts.toml"),
        console_config.join("contexts.toml"),
    )
    .unwrap();
    console.type_line(&format!(
        "{BINARY} --no-flows --no-metrics --tenant-label tenant --kubeconfig {}",
        kubeconfig.display()
    ));
    console.wait_for(&["netpol ● live", "globex"], START);
    console.keys(&["2"]);
    let matrix = console.wait_for(&["Isolation matrix", "globex", "umbrella"], STEP);
    assert!(!matrix.contains("unassigned"), "{matrix}");
    console.keys(&["q"]);
    tmux.keys(&["q"]);
}
