//! A CNI policy's history and rollback end to end, with the real binary, the real demo server
//! and real kubectl. In the console (tmux): `kubectl patch` a CiliumNetworkPolicy, `:history
//! ciliumnp/acme-web/storefront-to-world` lists r1 and r2, `R` back to r1 with the typed
//! confirmation, kubectl shows the old spec, the audit has the record. Headless: `palisade
//! record` journals a CiliumClusterwideNetworkPolicy as kubectl creates and changes it,
//! `palisade history ccnp/NAME` lists it, and `palisade rollback ccnp/NAME` reverts, removes and
//! restores it.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{
    BINARY, DemoFiles, KillOnDrop, Tmux, kubectl, rollback_from_console, run, tool_available,
    wait_until,
};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);
const POLICY: &str = "ciliumnp/acme-web/storefront-to-world";

/// The world egress port of the demo's `storefront-to-world`, as kubectl reads it.
fn storefront_port(kubeconfig: &Path) -> Value {
    let text = kubectl(
        kubeconfig,
        &[
            "-n",
            "acme-web",
            "get",
            "ciliumnp",
            "storefront-to-world",
            "-o",
            "json",
        ],
    );
    let object: Value = serde_json::from_str(&text).unwrap();
    object["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"].clone()
}

#[test]
fn a_patched_cilium_policy_is_rolled_back_from_the_console_and_audited() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let tmux = Tmux::start();
    let DemoFiles { kubeconfig, .. } = tmux.start_demo("--no-flows", START);
    tmux.wait_for(&["ciliumnp ● live"], START);
    assert_eq!(storefront_port(&kubeconfig), json!("443"));

    // The bad change: the storefront's payment egress moves to the wrong port.
    kubectl(
        &kubeconfig,
        &[
            "-n",
            "acme-web",
            "patch",
            "ciliumnp",
            "storefront-to-world",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/egress/0/toPorts/0/ports/0/port","value":"8443"}]"#,
        ],
    );
    let done = rollback_from_console(&tmux, POLICY, "INC-88 payments down", STEP);
    assert!(done.contains("the watch showed it"), "{done}");
    wait_until("kubectl to show port 443 again", STEP, || {
        (storefront_port(&kubeconfig) == json!("443")).then_some(())
    });

    let audit = std::fs::read_to_string(tmux.home().join("journal.audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(
        record["object"],
        json!({"kind": "CiliumNetworkPolicy", "namespace": "acme-web", "name": "storefront-to-world"})
    );
    assert_eq!(
        (
            &record["kind"],
            &record["outcome"],
            &record["from_revision"],
            &record["to_revision"]
        ),
        (&json!("revert"), &json!("done"), &json!(2), &json!(1))
    );
    assert_eq!(record["reason"], "INC-88 payments down");

    // The history now ends in the rollback revision.
    tmux.keys(&["Escape"]);
    tmux.keys(&[":"]);
    tmux.type_line(&format!("history {POLICY}"));
    tmux.wait_for(&["r3", "rollback"], STEP);
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(STEP);
}

const CCNP: &str = "e2e-world-deny";

/// The clusterwide policy at one revision: world ingress denied to acme's `tier` pods on `port`.
fn ccnp(port: &str) -> String {
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": CCNP, "labels": {"team": "platform"}},
        "spec": {
            "endpointSelector": {"matchLabels": {"app": "storefront"}},
            "ingressDeny": [{"fromEntities": ["world"],
                             "toPorts": [{"ports": [{"port": port, "protocol": "TCP"}]}]}]
        }
    })
    .to_string()
}

fn apply(kubeconfig: &Path, dir: &Path, port: &str) {
    let file = dir.join(format!("ccnp-{port}.json"));
    std::fs::write(&file, ccnp(port)).unwrap();
    kubectl(kubeconfig, &["apply", "-f", file.to_str().unwrap()]);
}

fn ccnp_port(kubeconfig: &Path) -> Option<Value> {
    let out = run(Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "ccnp", CCNP, "-o", "json"]));
    let object: Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(object["spec"]["ingressDeny"][0]["toPorts"][0]["ports"][0]["port"].clone())
}

/// The binary with a clean environment: no user config, no default journal.
fn palisade(home: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    command
}

fn revisions(home: &Path, journal: &Path) -> Vec<Value> {
    let out = run(palisade(home)
        .args([
            "history",
            &format!("ccnp/{CCNP}"),
            "-o",
            "json",
            "--journal",
        ])
        .arg(journal));
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

#[test]
fn a_clusterwide_cilium_policy_is_recorded_and_rolled_back_headless() {
    if !tool_available("kubectl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let kubeconfig = dir.path().join("demo.kubeconfig");
    let _server = KillOnDrop(
        Command::new(BINARY)
            .args(["demo", "--serve-only", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .spawn()
            .expect("palisade demo starts"),
    );
    wait_until("the demo's kubeconfig", START, || {
        std::fs::read_to_string(&kubeconfig)
            .ok()
            .filter(|t| t.contains("server:"))
    });
    let journal = dir.path().join("journal.sqlite");
    let log = dir.path().join("record.log");
    let recorder = palisade(&home)
        .args(["record", "--quiet", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--journal")
        .arg(&journal)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("palisade record starts");
    let mut recorder = KillOnDrop(recorder);
    wait_until("the recorder to list both Cilium kinds", START, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (text.contains("ciliumnetworkpolicies, ")
            && text.contains("ciliumclusterwidenetworkpolicies, "))
        .then_some(())
    });
    // The demo's seeded CiliumNetworkPolicies are in the journal from the list.
    let out = run(palisade(&home)
        .args(["history", POLICY, "-o", "json", "--journal"])
        .arg(&journal));
    let seeded: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(seeded.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        (&seeded[0]["kind"], &seeded[0]["namespace"]),
        (&json!("CiliumNetworkPolicy"), &json!("acme-web"))
    );

    apply(&kubeconfig, dir.path(), "443");
    wait_until("revision 1 in the journal", START, || {
        (revisions(&home, &journal).len() == 1).then_some(())
    });
    apply(&kubeconfig, dir.path(), "80");
    let history = wait_until("revision 2 in the journal", START, || {
        let found = revisions(&home, &journal);
        (found.len() == 2).then_some(found)
    });
    assert_eq!(
        (
            &history[1]["kind"],
            &history[1]["namespace"],
            &history[1]["journal_format"]
        ),
        (
            &json!("CiliumClusterwideNetworkPolicy"),
            &json!(""),
            &json!(2)
        )
    );
    assert_eq!(
        history[1]["spec"]["spec"]["ingressDeny"][0]["toPorts"][0]["ports"][0]["port"],
        json!("80")
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains(&format!("recorded ccnp/{CCNP} #2 observed")),
        "{log_text}"
    );
    run(Command::new("kill").args(["-TERM", &recorder.0.id().to_string()]));
    let status = wait_until("the recorder to stop", START, || {
        recorder.0.try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");

    let rollback = |args: &[&str]| {
        let out = run(palisade(&home)
            .arg("rollback")
            .arg(format!("ccnp/{CCNP}"))
            .args(args)
            .args(["--reason", "INC-9 world deny", "--yes", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--journal")
            .arg(&journal));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        text
    };
    let text = rollback(&["--to", "1"]);
    for expected in [
        &format!(
            "plan: revert CiliumClusterwideNetworkPolicy ccnp/{CCNP}: replace with revision 1 (live is revision 2)"
        ),
        r#"- port: [-"80"-]"#,
        r#"- port: {+"443"+}"#,
        "access: update ciliumclusterwidenetworkpolicies (cluster-scoped): allowed",
        "dry run: update accepted",
        "verified: the watch shows the rollback",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
    assert_eq!(ccnp_port(&kubeconfig), Some(json!("443")));
    let text = rollback(&["--remove"]);
    assert!(
        text.contains("access: delete ciliumclusterwidenetworkpolicies (cluster-scoped): allowed"),
        "{text}"
    );
    assert_eq!(ccnp_port(&kubeconfig), None, "deleted");
    let text = rollback(&["--restore", "--revision", "1"]);
    assert!(text.contains("re-create from revision 1"), "{text}");
    assert_eq!(ccnp_port(&kubeconfig), Some(json!("443")));

    let audit = std::fs::read_to_string(dir.path().join("journal.audit.jsonl")).unwrap();
    let done: Vec<(String, Value)> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["outcome"] == json!("done"))
        .map(|r| (r["kind"].as_str().unwrap().to_string(), r["object"].clone()))
        .collect();
    let object = json!({"kind": "CiliumClusterwideNetworkPolicy", "namespace": "", "name": CCNP});
    assert_eq!(
        done,
        ["revert", "remove", "restore"].map(|k| (k.to_string(), object.clone()))
    );
    let out = run(palisade(&home)
        .args(["history", &format!("ccnp/{CCNP}"), "--journal"])
        .arg(&journal));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("revert #2 -> #1 done") && table.contains("INC-9 world deny"),
        "{table}"
    );
}

/// Optimistic concurrency for a CiliumNetworkPolicy: a revert and a removal planned, confirmed
/// and dry-run, then someone else changes it: both applies are conflicts, nothing is written,
/// and the conflict carries the object as it is now.
#[tokio::test]
async fn a_concurrent_change_to_a_cilium_policy_is_a_conflict() {
    use kube::api::{Api, Patch, PatchParams};
    use kube::core::DynamicObject;
    use palisade::flow::FlowId;
    use palisade::history::key::native_resource;
    use palisade::history::{Journal, PolicyKey};
    use palisade::model::NativeKind;
    use palisade::rollback::apply::get_live;
    use palisade::rollback::audit::plan_from_journal;
    use palisade::rollback::{ApplyError, Confirmation, RollbackKind, apply, dry_run, preflight};
    use palisade::sim::{DemoServer, Scenario};

    let server = DemoServer::start(Scenario::builtin()).await.unwrap();
    let config = kube::Config::from_custom_kubeconfig(server.kubeconfig(), &Default::default())
        .await
        .unwrap();
    let admin = kube::Client::try_from(config).unwrap();
    let kind = NativeKind::CiliumNetworkPolicy;
    let api: Api<DynamicObject> = Api::namespaced_with(
        admin.clone(),
        "acme-web",
        &native_resource(kind, &kind.api_version()),
    );
    let key = PolicyKey::parse(POLICY).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    let now = k8s_openapi::jiff::Timestamp::now;
    let port = |p: &str| {
        json!({"spec": {"egress": [{"toEntities": ["world"],
            "toPorts": [{"ports": [{"port": p, "protocol": "TCP"}]}]}]}})
    };
    let live = get_live(&admin, &key).await.unwrap();
    journal
        .observe_object(live.as_ref().expect("the demo's policy"), now())
        .unwrap();
    let name = "storefront-to-world";
    api.patch(name, &PatchParams::default(), &Patch::Merge(&port("8443")))
        .await
        .unwrap();

    let mut cleared = Vec::new();
    for rollback in [RollbackKind::Revert { to: 1 }, RollbackKind::Remove] {
        let live = get_live(&admin, &key).await.unwrap();
        let plan = plan_from_journal(&mut journal, rollback, &key, live.as_ref(), now()).unwrap();
        let checks = preflight(&admin, &plan, None).await;
        assert!(checks.access.allowed, "{:?}", checks.access);
        let passed = dry_run(&admin, &plan).await.expect("dry run").passed;
        let typed = Confirmation::given(FlowId::HEADLESS, &plan, POLICY, "INC-8").unwrap();
        cleared.push((plan.clone(), checks.clear(false, &typed, &passed).unwrap()));
    }
    let port_of = |object: &DynamicObject| {
        object.data["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"].clone()
    };
    assert_eq!(
        port_of(&api.get(name).await.unwrap()),
        json!("8443"),
        "dry runs wrote nothing"
    );

    api.patch(name, &PatchParams::default(), &Patch::Merge(&port("9443")))
        .await
        .unwrap();
    for (plan, clearance) in &cleared {
        let err = apply(&admin, plan, clearance).await.unwrap_err();
        let ApplyError::Conflict { live, .. } = &err else {
            panic!("{}: expected a conflict, got {err:?}", plan.kind.name());
        };
        let now_live = live.as_deref().expect("the object as it is now");
        assert_eq!(
            now_live.spec_value()["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"],
            json!("9443")
        );
    }
    assert_eq!(
        port_of(&api.get(name).await.unwrap()),
        json!("9443"),
        "nothing was written"
    );
}
