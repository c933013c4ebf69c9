//! Calico's flavour of the demo end to end, the real binary in tmux: `palisade demo --cni
//! calico` scrapes its calico-node agents (Felix on 9091) and shows them up in `:agents`, reads
//! flows from its simulated Goldmane with palisade's verdict beside the dataplane's in
//! `:flows`, shows the security tier closing umbrella → globex in the matrix and names that
//! path in explain; and a GlobalNetworkPolicy broken with kubectl is rolled back from the
//! console through the typed confirmation, which kubectl confirms.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    Tmux, kubectl, rollback_from_console, tool_available, umbrella_to_globex, wait_until,
};

const START: Duration = Duration::from_secs(40);
const STEP: Duration = Duration::from_secs(15);
/// Goldmane sends each flow at the end of its 15 s aggregation window.
const FLOWS: Duration = Duration::from_secs(35);

#[test]
fn the_calico_demo_shows_its_agents_goldmane_flows_and_the_tier_path() {
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    tmux.start_demo("--cni calico", START);
    tmux.wait_for(&["CNI: Calico (--cni)"], START);

    // :agents: the three calico-node agents, scraped through the pod proxy, up.
    tmux.keys(&[":"]);
    tmux.type_line("agents");
    tmux.wait_for(&["Agents (3)"], STEP);
    wait_until("three calico-node agents up", STEP, || {
        let screen = tmux.screen();
        let up = screen
            .lines()
            .filter(|l| l.contains("kube-system/calico-node-") && l.contains(" up "))
            .count();
        (up == 3).then_some(())
    });
    let screen = tmux.screen();
    assert!(!screen.contains("cilium"), "{screen}");

    // :flows: Goldmane's, the dataplane's verdict with palisade's beside it. (Each Escape is
    // waited out: one sent together with the next key reaches the console as alt-key.)
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["┏ Tenants ━"], STEP);
    tmux.keys(&[":"]);
    tmux.type_line("flows");
    tmux.wait_for(&["Goldmane · live", "DATAPLANE", "PALISADE"], STEP);
    let screen = tmux.wait_for(&["dropped", "denied · "], FLOWS);
    let row = screen
        .lines()
        .find(|l| l.contains("dropped") && l.contains("denied · "))
        .expect("a dropped flow palisade denies too");
    assert!(!row.contains("unknown"), "{row}");
    assert!(!screen.contains("Hubble"), "no Hubble on Calico:\n{screen}");
    // umbrella-data → globex-data's postgres: Goldmane's trace names the security tier's
    // GlobalNetworkPolicy, and palisade names the same rule.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "umbrella-data"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["GlobalNetworkP"], STEP);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &[
            "The dataplane: TCP/5432 dropped",
            "named by the dataplane: GlobalNetworkPolicy security.isolate-globex (tier security)",
            "palisade: denied (GlobalNetworkPolicy security.isolate-globex ingress rule #1 Deny",
        ],
        STEP,
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["DATAPLANE", "PALISADE"], STEP);

    // The matrix: the security tier closes umbrella → globex.
    tmux.keys(&[":"]);
    tmux.type_line("matrix");
    tmux.wait_for(&["Isolation matrix", "ext-in"], STEP);
    umbrella_to_globex(
        &tmux,
        '■',
        "umbrella → globex closed by the security tier",
        STEP,
    );
    // Explain one pair: umbrella-api → globex-data, the first workload pair.
    tmux.keys(&["j", "j", "j", "l"]);
    tmux.wait_for(&["umbrella → globex:"], STEP);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["umbrella → globex: namespaces"], STEP);
    tmux.keys(&["l", "Enter"]);
    tmux.wait_for(&["umbrella-api → globex-data: workload pairs"], STEP);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &[
            "evaluated as Calico: tier security (order 100) → tier platform",
            "GlobalNetworkPolicy security.isolate-globex ingress rule #1 Deny",
            "Allowed: No Connections",
        ],
        STEP,
    );
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}

const POLICY: &str = "gnp/security.isolate-globex";

/// The action of security.isolate-globex's rule #1 (the Deny of other tenants), as kubectl
/// reads it.
fn deny_action(kubeconfig: &std::path::Path) -> Value {
    let text = kubectl(
        kubeconfig,
        &["get", "gnp", "security.isolate-globex", "-o", "json"],
    );
    let object: Value = serde_json::from_str(&text).unwrap();
    object["spec"]["ingress"][1]["action"].clone()
}

#[test]
fn a_global_network_policy_broken_with_kubectl_is_rolled_back_from_the_console() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let files = tmux.start_demo("--cni calico --no-flows --no-metrics", START);
    tmux.wait_for(&["gnp ● live"], START);
    assert_eq!(deny_action(&files.kubeconfig), json!("Deny"));
    tmux.keys(&[":"]);
    tmux.type_line("matrix");
    tmux.wait_for(&["Isolation matrix", "ext-in"], STEP);
    umbrella_to_globex(&tmux, '■', "umbrella → globex closed", STEP);

    // The bad change: the security tier passes other tenants on instead of denying them, and
    // globex-data's own NetworkPolicies let umbrella in.
    kubectl(
        &files.kubeconfig,
        &[
            "patch",
            "gnp",
            "security.isolate-globex",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/ingress/1/action","value":"Pass"}]"#,
        ],
    );
    umbrella_to_globex(&tmux, '◧', "umbrella → globex opened by the patch", STEP);

    let done = rollback_from_console(&tmux, POLICY, "INC-7 globex exposed", STEP);
    assert!(done.contains("the watch showed it"), "{done}");
    wait_until("kubectl to show the Deny again", STEP, || {
        (deny_action(&files.kubeconfig) == json!("Deny")).then_some(())
    });
    // (`:` works on the rollback's last screen: no Escape, which could reach the console
    // together with the `:` as alt-:.)
    tmux.keys(&[":"]);
    tmux.type_line("matrix");
    tmux.wait_for(&["Isolation matrix", "ext-in"], STEP);
    umbrella_to_globex(&tmux, '■', "umbrella → globex closed again", STEP);

    let audit = std::fs::read_to_string(tmux.home().join("journal.audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(
        record["object"],
        json!({"kind": "GlobalNetworkPolicy", "namespace": "", "name": "security.isolate-globex"})
    );
    tmux.keys(&["q"]);
    tmux.wait_for_prompt(STEP);
}
