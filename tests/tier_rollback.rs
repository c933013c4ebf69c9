//! A ClusterNetworkPolicy's history and rollback end to end, with the real binary, the real
//! demo server (`palisade demo --serve-only`) and real kubectl: `palisade record` journals the
//! policy as kubectl creates and changes it, `palisade history cnp/NAME` lists it, and
//! `palisade rollback cnp/NAME --to 1` restores it (blast radius, cluster-scoped access review,
//! dry run, apply, verification, audit). The recorder on a cluster that does not serve the
//! tier group, and for a user who may not read it. A concurrent change is a conflict.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{BINARY, KillOnDrop, kubectl, run, tool_available, wait_until};

const DEADLINE: Duration = Duration::from_secs(30);
const NAME: &str = "e2e-monitoring-into-acme";

/// The policy at one revision: monitoring's traffic into acme's namespaces, Admin tier, with
/// `action` (Accept, then the bad change: Deny).
fn manifest(action: &str) -> String {
    json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": NAME, "labels": {"team": "platform"}},
        "spec": {
            "tier": "Admin",
            "priority": 1,
            "subject": {"namespaces": {"matchLabels": {"tenant": "acme"}}},
            "ingress": [{
                "name": "monitoring",
                "action": action,
                "from": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
            }]
        }
    })
    .to_string()
}

fn apply(kubeconfig: &Path, dir: &Path, action: &str) {
    let file = dir.join(format!("{action}.json"));
    std::fs::write(&file, manifest(action)).unwrap();
    kubectl(kubeconfig, &["apply", "-f", file.to_str().unwrap()]);
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

/// The journal's revisions of the policy (`history -o json`), empty while it has none.
fn revisions(home: &Path, journal: &Path) -> Vec<Value> {
    let out = run(palisade(home)
        .args(["history", &format!("cnp/{NAME}"), "-o", "json", "--journal"])
        .arg(journal));
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn live_action(kubeconfig: &Path) -> Value {
    let text = kubectl(kubeconfig, &["get", "cnp", NAME, "-o", "json"]);
    let object: Value = serde_json::from_str(&text).unwrap();
    object["spec"]["ingress"][0]["action"].clone()
}

struct Demo {
    _server: KillOnDrop,
    kubeconfig: PathBuf,
}

fn demo(dir: &Path) -> Demo {
    demo_with(dir, &[])
}

/// `palisade demo --serve-only` with `flags` (`--no-tiers`, `--tiers-forbidden-user`).
fn demo_with(dir: &Path, flags: &[&str]) -> Demo {
    let kubeconfig = dir.join("demo.kubeconfig");
    let server = Command::new(BINARY)
        .args(["demo", "--serve-only", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .args(flags)
        .stdout(Stdio::null())
        .spawn()
        .expect("palisade demo starts");
    let server = KillOnDrop(server);
    wait_until("the demo's kubeconfig", DEADLINE, || {
        std::fs::read_to_string(&kubeconfig)
            .ok()
            .filter(|t| t.contains("server:"))
    });
    Demo {
        _server: server,
        kubeconfig,
    }
}

#[test]
fn a_cluster_network_policy_is_recorded_changed_and_rolled_back() {
    if !tool_available("kubectl") {
        eprintln!("kubectl is not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let demo = demo(dir.path());
    let kubeconfig = &demo.kubeconfig;
    let journal = dir.path().join("journal.sqlite");

    // The recorder watches the tier kinds the demo serves.
    let log = dir.path().join("record.log");
    let recorder = palisade(&home)
        .args(["record", "--quiet", "--kubeconfig"])
        .arg(kubeconfig)
        .arg("--journal")
        .arg(&journal)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("palisade record starts");
    let mut recorder = KillOnDrop(recorder);
    wait_until(
        "the recorder to list ClusterNetworkPolicies",
        DEADLINE,
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("clusternetworkpolicies, ").then_some(())
        },
    );

    apply(kubeconfig, dir.path(), "Accept");
    wait_until("revision 1 in the journal", DEADLINE, || {
        (revisions(&home, &journal).len() == 1).then_some(())
    });
    apply(kubeconfig, dir.path(), "Deny");
    let history = wait_until("revision 2 in the journal", DEADLINE, || {
        let found = revisions(&home, &journal);
        (found.len() == 2).then_some(found)
    });
    assert_eq!(
        (
            &history[1]["kind"],
            &history[1]["namespace"],
            &history[1]["journal_format"]
        ),
        (&json!("ClusterNetworkPolicy"), &json!(""), &json!(2))
    );
    assert_eq!(history[1]["spec"]["ingress"][0]["action"], json!("Deny"));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains(&format!("recorded cnp/{NAME} #2 observed")),
        "{log_text}"
    );
    // SIGTERM: the recorder ends after its transaction, exit 0.
    let pid = recorder.0.id().to_string();
    run(Command::new("kill").args(["-TERM", &pid]));
    let status = wait_until("the recorder to stop", DEADLINE, || {
        recorder.0.try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");

    // Without --yes there must be a terminal to type cnp/NAME on: refused, 3, nothing written.
    let out = run(palisade(&home)
        .args([
            "rollback",
            &format!("cnp/{NAME}"),
            "--to",
            "1",
            "--reason",
            "INC-7",
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--journal")
        .arg(&journal));
    assert_eq!(out.status.code(), Some(3), "no terminal, no --yes");
    assert_eq!(live_action(kubeconfig), json!("Deny"), "nothing written");

    let out = run(palisade(&home)
        .args([
            "rollback",
            &format!("cnp/{NAME}"),
            "--to",
            "1",
            "--reason",
            "INC-7 monitoring lost acme",
            "--yes",
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--journal")
        .arg(&journal));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for expected in [
        &format!(
            "plan: revert ClusterNetworkPolicy cnp/{NAME}: replace with revision 1 (live is revision 2)"
        ),
        "-  - action: [-Deny-]",
        "+  - action: {+Accept+}",
        "access: update clusternetworkpolicies (cluster-scoped): allowed",
        "dry run: update accepted",
        "verified: the watch shows the rollback",
    ] {
        assert!(stdout.contains(expected), "`{expected}` in:\n{stdout}");
    }
    // The blast radius sees monitoring reach acme again.
    let blast = stdout
        .lines()
        .find(|l| l.starts_with("blast radius: "))
        .unwrap();
    assert!(
        !blast.starts_with("blast radius: 0 tenant pair(s) and 0 workload"),
        "{stdout}"
    );
    assert!(stdout.contains("monitoring"), "{stdout}");

    // The object is back as revision 1 had it.
    assert_eq!(live_action(kubeconfig), json!("Accept"));

    // The audit names the kind, in the JSON lines and under the history.
    let audit = std::fs::read_to_string(dir.path().join("journal.audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(
        record["object"],
        json!({"kind": "ClusterNetworkPolicy", "namespace": "", "name": NAME})
    );
    assert_eq!(
        (&record["kind"], &record["outcome"], &record["to_revision"]),
        (&json!("revert"), &json!("done"), &json!(1))
    );
    assert_eq!(record["journal_revision"], json!(3));
    let out = run(palisade(&home)
        .args(["history", &format!("cnp/{NAME}"), "--journal"])
        .arg(&journal));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("rollback"), "{table}");
    assert!(
        table.contains("revert #2 -> #1 done") && table.contains("INC-7 monitoring lost acme"),
        "{table}"
    );

    // The other kinds through Api<DynamicObject>: undo (update), remove (delete), restore
    // (create).
    let rollback = |args: &[&str]| {
        let out = run(palisade(&home)
            .arg("rollback")
            .arg(format!("cnp/{NAME}"))
            .args(args)
            .args(["--reason", "INC-7", "--yes", "--kubeconfig"])
            .arg(kubeconfig)
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
    rollback(&["--undo"]);
    assert_eq!(
        live_action(kubeconfig),
        json!("Deny"),
        "undo put the change back"
    );
    let text = rollback(&["--remove"]);
    assert!(
        text.contains("access: delete clusternetworkpolicies (cluster-scoped): allowed"),
        "{text}"
    );
    let listed = kubectl(kubeconfig, &["get", "cnp", "-o", "name"]);
    assert!(!listed.contains(NAME), "{listed}");
    let text = rollback(&["--restore", "--revision", "1"]);
    assert!(text.contains("re-create from revision 1"), "{text}");
    assert_eq!(live_action(kubeconfig), json!("Accept"));
    let audit = std::fs::read_to_string(dir.path().join("journal.audit.jsonl")).unwrap();
    let kinds: Vec<(String, String)> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["outcome"] == json!("done"))
        .map(|r| {
            (
                r["kind"].as_str().unwrap().into(),
                r["object"]["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    let cnp = "ClusterNetworkPolicy".to_string();
    assert_eq!(
        kinds,
        ["revert", "undo", "remove", "restore"].map(|k| (k.to_string(), cnp.clone()))
    );
}

/// Runs `palisade record` until its stderr says `listed` (a kind's list was journalled: the
/// kinds it skips are said before), stops it, and returns its stderr.
fn record_until_listed(
    home: &Path,
    kubeconfig: &Path,
    journal: &Path,
    context: &[&str],
    listed: &str,
) -> String {
    let log = journal.with_extension("log");
    let recorder = palisade(home)
        .args(["record", "--quiet", "--kubeconfig"])
        .arg(kubeconfig)
        .arg("--journal")
        .arg(journal)
        .args(context)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("palisade record starts");
    let mut recorder = KillOnDrop(recorder);
    wait_until(&format!("the recorder to say `{listed}`"), DEADLINE, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains(listed).then_some(())
    });
    run(Command::new("kill").args(["-TERM", &recorder.0.id().to_string()]));
    let status = wait_until("the recorder to stop", DEADLINE, || {
        recorder.0.try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn the_recorder_says_once_which_tier_kinds_it_cannot_record_and_records_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    // A cluster without the tier group: each kind is named once, NetworkPolicies are recorded.
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let demo = demo_with(&plain, &["--no-tiers"]);
    let journal = plain.join("journal.sqlite");
    let log = record_until_listed(&home, &demo.kubeconfig, &journal, &[], " policies, ");
    for plural in [
        "clusternetworkpolicies",
        "adminnetworkpolicies",
        "baselineadminnetworkpolicies",
    ] {
        let said = format!("record: {plural} (policy.networking.k8s.io/");
        assert_eq!(log.matches(&said).count(), 1, "{log}");
    }
    assert!(
        log.contains("is not served by this cluster; not recorded"),
        "{log}"
    );
    assert!(
        log.contains("listed ") && log.contains(" policies, "),
        "{log}"
    );
    assert!(!log.contains("listed 0 clusternetworkpolicies"), "{log}");
    drop(demo);

    // Served, but this user may not read it: said plainly, the rest recorded.
    let forbidden = dir.path().join("forbidden");
    std::fs::create_dir_all(&forbidden).unwrap();
    let demo = demo_with(&forbidden, &["--tiers-forbidden-user"]);
    let journal = forbidden.join("journal.sqlite");
    let context = ["--context", palisade::sim::NO_TIERS_CONTEXT];
    let log = record_until_listed(&home, &demo.kubeconfig, &journal, &context, " policies, ");
    // The three tier kinds and Cilium's two, which this user may not read either.
    assert_eq!(
        log.matches("is served but this user may not list it")
            .count(),
        5,
        "{log}"
    );
    assert!(
        log.contains(" policies, "),
        "NetworkPolicies are still recorded: {log}"
    );
    // The admin context records the scenario's ClusterNetworkPolicies.
    let admin = forbidden.join("admin.sqlite");
    let listed = " clusternetworkpolicies, ";
    let log = record_until_listed(&home, &demo.kubeconfig, &admin, &[], listed);
    assert!(!log.contains("not recorded"), "{log}");
}

/// Optimistic concurrency for a tier policy: a revert and a removal planned, confirmed and
/// dry-run, then someone else changes the ClusterNetworkPolicy: both applies are conflicts,
/// nothing is written, and the conflict carries the object as it is now.
#[tokio::test]
async fn a_concurrent_change_to_a_tier_policy_is_a_conflict() {
    use kube::api::{Api, Patch, PatchParams, PostParams};
    use kube::core::DynamicObject;
    use palisade::flow::FlowId;
    use palisade::history::key::tier_resource;
    use palisade::history::{Journal, PolicyKey};
    use palisade::model::TierKind;
    use palisade::rollback::apply::get_live;
    use palisade::rollback::audit::plan_from_journal;
    use palisade::rollback::{ApplyError, Confirmation, RollbackKind, apply, dry_run, preflight};
    use palisade::sim::{DemoServer, Scenario};

    let server = DemoServer::start(Scenario::builtin()).await.unwrap();
    let config = kube::Config::from_custom_kubeconfig(server.kubeconfig(), &Default::default())
        .await
        .unwrap();
    let admin = kube::Client::try_from(config).unwrap();
    let api: Api<DynamicObject> = Api::all_with(
        admin.clone(),
        &tier_resource(TierKind::ClusterNetworkPolicy),
    );
    let key = PolicyKey::parse(&format!("cnp/{NAME}")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    let now = k8s_openapi::jiff::Timestamp::now;

    let created: DynamicObject = serde_json::from_str(&manifest("Accept")).unwrap();
    api.create(&PostParams::default(), &created).await.unwrap();
    let live = get_live(&admin, &key).await.unwrap();
    journal
        .observe_object(live.as_ref().unwrap(), now())
        .unwrap();
    let deny = json!({"spec": serde_json::from_str::<Value>(&manifest("Deny")).unwrap()["spec"]});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&deny))
        .await
        .unwrap();

    let mut cleared = Vec::new();
    for kind in [RollbackKind::Revert { to: 1 }, RollbackKind::Remove] {
        let live = get_live(&admin, &key).await.unwrap();
        let plan = plan_from_journal(&mut journal, kind, &key, live.as_ref(), now()).unwrap();
        let checks = preflight(&admin, &plan, None).await;
        assert!(checks.access.allowed, "{:?}", checks.access);
        let passed = dry_run(&admin, &plan).await.expect("dry run").passed;
        let typed =
            Confirmation::given(FlowId::HEADLESS, &plan, &key.to_string(), "INC-8").unwrap();
        let clearance = checks.clear(false, &typed, &passed).unwrap();
        cleared.push((plan, clearance));
    }
    assert_eq!(
        live_of(&api).await,
        json!("Deny"),
        "the dry runs wrote nothing"
    );

    // Someone else changes the policy between the dry runs and the applies.
    let pass = json!({"spec": {"ingress": [{"name": "monitoring", "action": "Pass",
        "from": [{"namespaces": {}}]}]}});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&pass))
        .await
        .unwrap();
    for (plan, clearance) in &cleared {
        let err = apply(&admin, plan, clearance).await.unwrap_err();
        let ApplyError::Conflict { live, .. } = &err else {
            panic!("{}: expected a conflict, got {err:?}", plan.kind.name());
        };
        let now_live = live.as_deref().expect("the object as it is now");
        assert_eq!(now_live.spec_value()["ingress"][0]["action"], json!("Pass"));
    }
    assert_eq!(live_of(&api).await, json!("Pass"), "nothing was written");
}

async fn live_of(api: &kube::api::Api<kube::core::DynamicObject>) -> Value {
    let object = api.get(NAME).await.unwrap();
    object.data["spec"]["ingress"][0]["action"].clone()
}
