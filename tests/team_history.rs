//! The team's history: the recorder behind the demo's Service `palisade/palisade-recorder`,
//! reached through the demo server's service proxy by the real binary, kubectl and curl.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade::history::PolicyKey;
use palisade::rollback::{AuditRecord, Outcome};
use secrecy::ExposeSecret;
use support::{BINARY, KillOnDrop, Tmux, break_acme_dns, kubectl, tool_available, wait_until};

const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(20);
const PROXY: &str = "/api/v1/namespaces/palisade/services/https:palisade-recorder:https/proxy";

/// `palisade demo --serve-only` with its kubeconfig, the API server's and the recorder's
/// addresses (when it runs one).
struct Demo {
    _process: KillOnDrop,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    api: String,
    recorder: Option<String>,
    admin: String,
    viewer: String,
}

fn start_demo(extra: &[&str]) -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("demo.kubeconfig");
    let mut child = Command::new(BINARY)
        .args([
            "demo",
            "--serve-only",
            "--flow-rate",
            "0",
            "--kubeconfig-out",
        ])
        .arg(&kubeconfig)
        .args(extra)
        .env("HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("palisade demo starts");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stdout = child.stdout.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let process = KillOnDrop(child);
    wait_until("the demo to say it is ready", START, || {
        let lines = lines.lock().unwrap();
        lines
            .iter()
            .any(|l| l.contains("press ctrl-c"))
            .then_some(())
    });
    let lines = lines.lock().unwrap().clone();
    let recorder = lines.iter().find_map(|l| {
        let rest = l.strip_prefix("team recorder listening on ")?;
        Some(rest.split_whitespace().next()?.to_string())
    });
    let config = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let token = |user: &str| {
        config
            .auth_infos
            .iter()
            .find(|a| a.name == user)
            .and_then(|a| a.auth_info.as_ref()?.token.as_ref())
            .map(|t| t.expose_secret().to_string())
            .unwrap()
    };
    let api = config.clusters[0]
        .cluster
        .as_ref()
        .and_then(|c| c.server.clone())
        .unwrap();
    Demo {
        _process: process,
        kubeconfig,
        api,
        recorder,
        admin: token("palisade-demo"),
        viewer: token("palisade-demo-viewer"),
        dir,
    }
}

/// The binary with a private HOME that never ran palisade.
fn palisade(home: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// curl's status code and body. `headers` as `Name: value`.
fn curl(method: &str, url: &str, headers: &[String], body: Option<&str>) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-sk", "-X", method, "-w", "\n%{http_code}", url]);
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some(body) = body {
        command.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ]);
    }
    let out = support::run(&mut command);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

fn palisade_bearer(token: &str) -> String {
    format!("X-Palisade-Authorization: Bearer {token}")
}

fn audit_record(uid: &str, actor: &str) -> String {
    let record = AuditRecord {
        id: None,
        at: "2026-12-06T14:20:00.000Z".into(),
        actor: actor.into(),
        context: "palisade-demo".into(),
        cluster: "https://127.0.0.1".into(),
        object: PolicyKey::network("acme-web", "allow-dns"),
        kind: "revert".into(),
        from_revision: Some(2),
        to_revision: Some(1),
        from_resource_version: None,
        to_resource_version: None,
        journal_revision: None,
        reason: "INC-9 test".into(),
        acknowledged_owner: None,
        dry_run: "not run".into(),
        apply: "not attempted".into(),
        outcome: Outcome::DryRun,
        uid: Some(uid.into()),
        linked_to: None,
    };
    serde_json::to_string(&record).unwrap()
}

#[test]
fn the_recorder_refuses_the_unauthenticated_and_the_unauthorised_and_names_the_real_user() {
    if !tool_available("curl") {
        return;
    }
    let demo = start_demo(&[]);
    let direct = demo.recorder.clone().expect("a recorder address");
    assert!(
        direct.starts_with("https://127.0.0.1:"),
        "loopback only: {direct}"
    );
    let proxied = format!("{}{PROXY}", demo.api);
    let revisions = "/v1/revisions?namespace=acme-web&name=allow-dns";

    // At the recorder directly.
    assert_eq!(curl("GET", &format!("{direct}/healthz"), &[], None).0, 200);
    let (code, body) = curl("GET", &format!("{direct}{revisions}"), &[], None);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("X-Palisade-Authorization"), "{body}");
    let bad = [palisade_bearer("not-a-token")];
    assert_eq!(
        curl("GET", &format!("{direct}{revisions}"), &bad, None).0,
        401
    );
    let viewer = [palisade_bearer(&demo.viewer)];
    let (code, body) = curl("GET", &format!("{direct}{revisions}"), &viewer, None);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"name\":\"allow-dns\""), "{body}");
    let record = audit_record("0123456789abcdef0123456789abcdef", "palisade-demo");
    let (code, body) = curl(
        "POST",
        &format!("{direct}/v1/audit"),
        &viewer,
        Some(&record),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("may not create services/proxy"), "{body}");
    assert_eq!(
        curl("GET", &format!("{direct}/v1/nothing"), &viewer, None).0,
        404
    );

    // Through the service proxy: the API server checks RBAC on services/proxy first, and
    // removes Authorization, so the recorder sees only what the client sent in its own header.
    let (code, body) = curl(
        "GET",
        &format!("{proxied}{revisions}"),
        &[bearer(&demo.viewer)],
        None,
    );
    assert_eq!(
        code, 401,
        "the proxy must not pass Authorization on: {body}"
    );
    let viewer_both = [bearer(&demo.viewer), palisade_bearer(&demo.viewer)];
    assert_eq!(
        curl("GET", &format!("{proxied}{revisions}"), &viewer_both, None).0,
        200
    );
    let (code, body) = curl(
        "POST",
        &format!("{proxied}/v1/audit"),
        &viewer_both,
        Some(&record),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("services/proxy"), "{body}");
    // The API server lets the admin through; the recorder still refuses the viewer's token.
    let (code, body) = curl(
        "POST",
        &format!("{proxied}/v1/audit"),
        &[bearer(&demo.admin), palisade_bearer(&demo.viewer)],
        Some(&record),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("palisade-demo-viewer"), "{body}");

    // The admin appends; the audit names the authenticated user, not the claim; a retry of the
    // same uid is stored once.
    let admin_both = [bearer(&demo.admin), palisade_bearer(&demo.admin)];
    let claimed = audit_record("fedcba9876543210fedcba9876543210", "mallory");
    let (code, body) = curl(
        "POST",
        &format!("{proxied}/v1/audit"),
        &admin_both,
        Some(&claimed),
    );
    assert_eq!(code, 201, "{body}");
    let stored: AuditRecord = serde_json::from_str(&body).unwrap();
    assert_eq!(stored.actor, "palisade-demo");
    let (code, again) = curl(
        "POST",
        &format!("{proxied}/v1/audit"),
        &admin_both,
        Some(&claimed),
    );
    assert_eq!(code, 200, "{again}");
    assert_eq!(
        serde_json::from_str::<AuditRecord>(&again).unwrap().id,
        stored.id
    );
    let (code, all) = curl(
        "GET",
        &format!("{proxied}/v1/audit?namespace=acme-web&name=allow-dns"),
        &viewer_both,
        None,
    );
    assert_eq!(code, 200, "{all}");
    assert_eq!(
        all.matches("fedcba9876543210fedcba9876543210").count(),
        1,
        "{all}"
    );
    assert!(!all.contains("mallory"), "{all}");
    let (code, body) = curl(
        "POST",
        &format!("{proxied}/v1/audit"),
        &admin_both,
        Some("{"),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not an audit record"), "{body}");
    drop(demo.dir);
}

/// Waits until the recorder has `count` revisions of acme-web/allow-dns.
fn wait_for_revisions(demo: &Demo, count: usize) {
    let url = format!(
        "{}{PROXY}/v1/revisions?namespace=acme-web&name=allow-dns",
        demo.api
    );
    let headers = [bearer(&demo.admin), palisade_bearer(&demo.admin)];
    wait_until("the recorder to see the patch", STEP, || {
        let (code, body) = curl("GET", &url, &headers, None);
        (code == 200 && body.lines().count() >= count).then_some(())
    });
}

#[test]
fn a_headless_rollback_in_one_home_shows_in_the_history_of_another_with_who_and_why() {
    if !tool_available("kubectl") || !tool_available("curl") {
        return;
    }
    let demo = start_demo(&[]);
    break_acme_dns(&demo.kubeconfig);
    wait_for_revisions(&demo, 2);
    let alice = tempfile::tempdir().unwrap();
    let out = support::run(
        palisade(alice.path())
            .args(["rollback", "acme-web/allow-dns", "--to", "1", "--yes"])
            .args(["--reason", "INC-77 acme DNS broken", "--kubeconfig"])
            .arg(&demo.kubeconfig),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("team audit: recorded on palisade/palisade-recorder"),
        "{stderr}"
    );

    let bob = tempfile::tempdir().unwrap();
    let out = support::run(
        palisade(bob.path())
            .args(["history", "acme-web/allow-dns", "--kubeconfig"])
            .arg(&demo.kubeconfig),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("kubectl-patch"), "{stdout}");
    assert!(
        stdout.contains("done by palisade-demo: INC-77 acme DNS broken"),
        "bob sees alice's rollback, who and why:\n{stdout}"
    );

    // A console in a third HOME that never ran: its `:history` shows alice's rollback from the
    // team's audit, with who and why, and marks the revision it went to.
    if !tool_available("tmux") {
        return;
    }
    let tmux = Tmux::start();
    tmux.type_line(&format!(
        "{BINARY} --no-flows --no-metrics --kubeconfig {}",
        demo.kubeconfig.display()
    ));
    tmux.wait_for(&["netpol ● live"], START);
    tmux.keys(&[":"]);
    tmux.type_line("history acme-web/allow-dns");
    // The team's audit and its note arrive separately: wait for both.
    tmux.wait_for(
        &[
            "Rollbacks (audit, team and local)",
            "palisade-demo revert",
            "why: INC-77 acme DNS broken",
            "r1↶",
            "team: palisade/palisade-record",
        ],
        STEP,
    );
    tmux.keys(&["q"]);
}

#[test]
fn history_says_when_the_team_recorder_is_unreachable_and_shows_local_history() {
    let demo = start_demo(&["--no-recorder"]);
    let home = tempfile::tempdir().unwrap();
    let journal = home.path().join("local.sqlite");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo-journal.jsonl");
    let out = support::run(
        palisade(home.path())
            .args(["history", "import"])
            .arg(&fixture)
            .arg("--journal")
            .arg(&journal),
    );
    assert!(out.status.success());
    let history = |policy: &str, extra: &[&str]| {
        support::run(
            palisade(home.path())
                .args(["history", policy, "--journal"])
                .arg(&journal)
                .arg("--kubeconfig")
                .arg(&demo.kubeconfig)
                .args(extra),
        )
    };
    // The Service exists, with no backend: the proxy's 503.
    let out = history("acme-web/default-deny", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("palisade/palisade-recorder is unreachable")
            && stderr.contains("local history only"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("palisade-rollback"));
    // No such Service.
    let out = history("acme-web/default-deny", &["--recorder", "palisade/nothing"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the Service palisade/nothing does not exist"),
        "{stderr}"
    );
    // Exit codes stay what they were: an unknown policy is still 1.
    assert_eq!(history("acme-web/nothing", &[]).status.code(), Some(1));
    // --no-recorder: not a word about it.
    let out = history("acme-web/default-deny", &["--no-recorder"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_console_that_never_ran_lists_the_revision_from_before_the_patch() {
    if !tool_available("tmux") || !tool_available("kubectl") || !tool_available("curl") {
        return;
    }
    let demo = start_demo(&[]);
    break_acme_dns(&demo.kubeconfig);
    wait_for_revisions(&demo, 2);
    let _ = kubectl(&demo.kubeconfig, &["get", "svc", "-n", "palisade"]);
    let tmux = Tmux::start();
    tmux.type_line(&format!(
        "{BINARY} --no-flows --no-metrics --kubeconfig {}",
        demo.kubeconfig.display()
    ));
    tmux.wait_for(&["netpol ● live"], START);
    tmux.keys(&[":"]);
    tmux.type_line("history acme-web/allow-dns");
    let screen = tmux.wait_for(&["team: palisade/palisade-record", "r2", "r1"], STEP);
    assert!(screen.contains("kubectl-patch"), "{screen}");
    assert!(screen.contains("palisade-scenario"), "{screen}");
    // Rolled back from this console: the team's audit has it, and another HOME's history shows it.
    let done = support::rollback_from_console(&tmux, "acme-web/allow-dns", "INC-88 dns", STEP);
    assert!(done.contains("team audit #"), "{done}");
    let bob = tempfile::tempdir().unwrap();
    let out = support::run(
        palisade(bob.path())
            .args(["history", "acme-web/allow-dns", "--kubeconfig"])
            .arg(&demo.kubeconfig),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("by palisade-demo: INC-88 dns"), "{stdout}");
    tmux.keys(&["q"]);
}

/// The recorder goes away mid-incident (its Service deleted): the console that had read the
/// team's history says the recorder is gone and still lists what it had synced, from its local
/// journal (the cache and the fallback).
#[test]
fn when_the_recorder_goes_away_mid_incident_the_console_keeps_what_it_had_synced() {
    if !tool_available("tmux") || !tool_available("kubectl") {
        return;
    }
    let demo = start_demo(&[]);
    break_acme_dns(&demo.kubeconfig);
    wait_for_revisions(&demo, 2);
    let tmux = Tmux::start();
    tmux.type_line(&format!(
        "{BINARY} --no-flows --no-metrics --kubeconfig {}",
        demo.kubeconfig.display()
    ));
    tmux.wait_for(&["netpol ● live"], START);
    tmux.keys(&[":"]);
    tmux.type_line("history acme-web/allow-dns");
    // The pane's title may be cut at the recorder's name.
    tmux.wait_for(&["team: palisade/palisade-record", "r2", "r1"], STEP);
    let _ = kubectl(
        &demo.kubeconfig,
        &["delete", "service", "-n", "palisade", "palisade-recorder"],
    );
    tmux.keys(&[":"]);
    tmux.type_line("history acme-web/allow-dns");
    let screen = tmux.wait_for(&["no team recorder", "r2", "r1"], STEP);
    assert!(screen.contains("not exist"), "{screen}");
    tmux.keys(&["q"]);
}

#[test]
fn a_console_says_when_the_team_recorder_is_missing_and_shows_local_history() {
    if !tool_available("tmux") {
        return;
    }
    let demo = start_demo(&[]);
    let tmux = Tmux::start();
    tmux.type_line(&format!(
        "{BINARY} --no-flows --no-metrics --recorder palisade/gone --kubeconfig {}",
        demo.kubeconfig.display()
    ));
    tmux.wait_for(&["netpol ● live"], START);
    tmux.keys(&[":"]);
    tmux.type_line("history acme-web/allow-dns");
    let screen = tmux.wait_for(&["no team recorder", "r1"], STEP);
    assert!(
        !screen.contains("r2 "),
        "only what this console saw: {screen}"
    );
    tmux.keys(&["q"]);
}

/// Parses `doc` as `T` and back: a field `T` does not know (a typo) makes the two differ.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &serde_json::Value) -> T {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("not a {}: {e}\n{doc:#}", std::any::type_name::<T>()));
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(&again, doc, "fields lost in the round trip");
    typed
}

/// The YAML documents of docs/history.md's yaml blocks and of docs/examples/team-rbac.yaml.
fn documented_objects() -> Vec<serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let history = std::fs::read_to_string(root.join("docs/history.md")).unwrap();
    let mut texts: Vec<String> = history
        .split("```yaml\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_string())
        .collect();
    texts.push(std::fs::read_to_string(root.join("docs/examples/team-rbac.yaml")).unwrap());
    texts
        .iter()
        .flat_map(|text| palisade::yaml::documents::<serde_json::Value>(text).unwrap())
        .filter(|doc| !doc.is_null())
        .collect()
}

#[test]
fn the_documented_rbac_and_deployment_are_objects_of_their_kinds() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    let mut roles = std::collections::BTreeMap::new();
    let mut cluster_rules = Vec::new();
    let (mut service, mut deployment) = (None, None);
    for doc in documented_objects() {
        match doc["kind"].as_str().unwrap_or("") {
            "ServiceAccount" => drop(round_trip::<ServiceAccount>(&doc)),
            "PersistentVolumeClaim" => drop(round_trip::<PersistentVolumeClaim>(&doc)),
            "Service" => service = Some(round_trip::<Service>(&doc)),
            "Deployment" => deployment = Some(round_trip::<Deployment>(&doc)),
            "ClusterRole" => {
                let role = round_trip::<ClusterRole>(&doc);
                if role.metadata.name.as_deref() == Some("palisade-recorder") {
                    cluster_rules.extend(role.rules.unwrap_or_default());
                }
            }
            "ClusterRoleBinding" => drop(round_trip::<ClusterRoleBinding>(&doc)),
            "Role" => {
                let role = round_trip::<Role>(&doc);
                roles.insert(role.metadata.name.clone().unwrap(), role.rules.unwrap());
            }
            "RoleBinding" => drop(round_trip::<RoleBinding>(&doc)),
            other => panic!("an unexpected kind {other:?} in the docs"),
        }
    }
    let verbs = |role: &str| -> Vec<String> {
        let rules = &roles[role];
        assert!(rules.iter().all(|r| {
            r.resources.as_deref() == Some(&["services/proxy".to_string()][..])
                && r.resource_names
                    .as_ref()
                    .is_some_and(|n| n.contains(&"https:palisade-recorder:https".to_string()))
        }));
        rules.iter().flat_map(|r| r.verbs.clone()).collect()
    };
    assert_eq!(verbs("palisade-history-reader"), ["get"]);
    assert_eq!(verbs("palisade-history-writer"), ["get", "create"]);
    for (group, resource) in [
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("networking.k8s.io", "networkpolicies"),
    ] {
        assert!(
            cluster_rules.iter().any(|r| {
                r.api_groups
                    .as_ref()
                    .is_some_and(|g| g.contains(&group.to_string()))
                    && r.resources
                        .as_ref()
                        .is_some_and(|x| x.contains(&resource.to_string()))
            }),
            "the recorder's ClusterRole lacks {resource}"
        );
    }
    let service = service.expect("the Service");
    let port = &service.spec.unwrap().ports.unwrap()[0];
    assert_eq!(port.name.as_deref(), Some("https"));
    let pod = deployment
        .expect("the Deployment")
        .spec
        .template
        .spec
        .unwrap();
    let container = &pod.containers[0];
    let args = container.args.clone().unwrap();
    assert!(
        args.windows(2).any(|w| w == ["--serve", "0.0.0.0:8443"]),
        "{args:?}"
    );
    let container_port = &container.ports.as_ref().unwrap()[0];
    assert_eq!(
        (
            container_port.name.as_deref(),
            container_port.container_port
        ),
        (Some("https"), 8443)
    );
}

/// A GitOps suspension made from one laptop (HOME) is reminded on another: `palisade gitops
/// suspended` reads the team's audit too, not only its own journal's (empty here).
#[test]
fn a_suspension_made_from_another_home_is_listed_from_the_teams_audit() {
    if !tool_available("kubectl") {
        return;
    }
    let demo = start_demo(&[]);
    let alice = tempfile::tempdir().unwrap();
    let out = support::run(
        palisade(alice.path())
            .args(["rollback", "globex-web/allow-dns", "--remove", "--yes"])
            .args(["--suspend-gitops", "--reason", "INC-90 globex dns"])
            .arg("--kubeconfig")
            .arg(&demo.kubeconfig),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let bob = tempfile::tempdir().unwrap();
    let listed = |extra: &[&str]| {
        let out = support::run(
            palisade(bob.path())
                .args(["gitops", "suspended", "-o", "json"])
                .args(extra)
                .arg("--kubeconfig")
                .arg(&demo.kubeconfig),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let found = listed(&[]);
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "globex-policies");
    assert_eq!(found[0]["suspended_by"], "palisade-demo");
    assert_eq!(found[0]["reason"], "INC-90 globex dns");
    assert_eq!(found[0]["policy"], "globex-web/allow-dns");
    // Bob's own journal knows nothing of it.
    assert_eq!(listed(&["--no-recorder"]), serde_json::json!([]));
}

/// A CNI policy through the team's recorder: it journals the demo's CiliumNetworkPolicy and
/// its patch, a headless rollback in one HOME is audited on it, and `palisade history
/// ciliumnp/NS/NAME` in another HOME shows the patch and the rollback with who and why.
#[test]
fn a_cilium_policy_rollback_in_one_home_shows_in_the_team_history_of_another() {
    if !tool_available("kubectl") || !tool_available("curl") {
        return;
    }
    let demo = start_demo(&[]);
    kubectl(
        &demo.kubeconfig,
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
    let url = format!(
        "{}{PROXY}/v1/revisions?kind=CiliumNetworkPolicy&namespace=acme-web&name=storefront-to-world",
        demo.api
    );
    let headers = [bearer(&demo.admin), palisade_bearer(&demo.admin)];
    wait_until("the recorder to journal the patch", STEP, || {
        let (code, body) = curl("GET", &url, &headers, None);
        (code == 200 && body.lines().count() >= 2).then_some(())
    });
    let policy = "ciliumnp/acme-web/storefront-to-world";
    let alice = tempfile::tempdir().unwrap();
    let out = support::run(
        palisade(alice.path())
            .args(["rollback", policy, "--to", "1", "--yes"])
            .args(["--reason", "INC-91 payments", "--kubeconfig"])
            .arg(&demo.kubeconfig),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("team audit: recorded on palisade/palisade-recorder"),
        "{stderr}"
    );

    let bob = tempfile::tempdir().unwrap();
    let out = support::run(
        palisade(bob.path())
            .args(["history", policy, "--kubeconfig"])
            .arg(&demo.kubeconfig),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("kubectl-patch"), "{stdout}");
    assert!(
        stdout.contains("done by palisade-demo: INC-91 payments"),
        "bob sees alice's rollback of the Cilium policy:\n{stdout}"
    );
}
