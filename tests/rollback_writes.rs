//! The rollback's writes besides the policy, end to end through the real binary, the demo server
//! and real kubectl: the `PalisadeRollback` Event, the last-applied fallback revision with no
//! journal, and the GitOps suspension (Flux, Argo CD) with its linked audit and reminder.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use palisade::sim::{DemoServer, Scenario, VIEWER_CONTEXT};
use serde_json::Value;
use support::{BINARY, Tmux, break_acme_dns, kubectl, run, tool_available, wait_until};

struct Setup {
    server: DemoServer,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let server = DemoServer::start(Scenario::builtin())
            .await
            .expect("demo server starts");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        Setup { server, dir }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("j.sqlite")
    }

    /// The binary with a private, empty HOME (no user kubeconfig, no data dir).
    fn palisade(&self, args: &[&str]) -> (i32, String, String) {
        let home = self.dir.path().join("home");
        let out = run(Command::new(BINARY)
            .env_clear()
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn kubectl(&self, args: &[&str]) -> String {
        kubectl(&self.kubeconfig(), args)
    }

    /// The demo's Flux Kustomization `flux-system/globex-policies`'s `.spec.suspend`.
    fn globex_suspend(&self) -> String {
        self.kubectl(&[
            "get",
            "kustomization",
            "globex-policies",
            "-n",
            "flux-system",
            "-o",
            "jsonpath={.spec.suspend}",
        ])
    }

    fn apply(&self, yaml: &str) {
        let file = self.dir.path().join("apply.yaml");
        std::fs::write(&file, yaml).unwrap();
        self.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    }

    fn audit_lines(&self) -> Vec<Value> {
        let path = self.dir.path().join("j.audit.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }
}

fn journal_arg(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_headless_rollback_leaves_an_event_kubectl_lists() {
    if !tool_available("kubectl") {
        return;
    }
    let s = Setup::new().await;
    let journal = journal_arg(&s.journal());
    // The journal sees revision 1 (the planning observes the live policy; nothing to change).
    let (code, _, err) = s.palisade(&[
        "rollback",
        "acme-web/allow-dns",
        "--to",
        "1",
        "--yes",
        "--reason",
        "seed",
        "--journal",
        &journal,
    ]);
    assert_eq!(code, 2, "{err}");
    break_acme_dns(&s.kubeconfig());
    let (code, out, err) = s.palisade(&[
        "rollback",
        "acme-web/allow-dns",
        "--to",
        "1",
        "--yes",
        "--reason",
        "INC-7 dns broken",
        "--journal",
        &journal,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("events: create events in acme-web: allowed"),
        "{out}"
    );
    assert!(
        out.contains("event: Event PalisadeRollback emitted in namespace acme-web"),
        "{out}"
    );

    let listed = s.kubectl(&[
        "get",
        "events",
        "-n",
        "acme-web",
        "--field-selector",
        "reason=PalisadeRollback",
    ]);
    assert!(
        listed.contains("palisade-demo rolled back to revision 1 (revert): INC-7 dns broken"),
        "{listed}"
    );
    assert!(listed.contains("networkpolicy/allow-dns"), "{listed}");
    // `kubectl describe netpol` shows no events (kubectl's NetworkPolicy describer never asks
    // for them); `kubectl events --for` is the per-object view.
    let for_policy = s.kubectl(&[
        "events",
        "-n",
        "acme-web",
        "--for",
        "networkpolicy/allow-dns",
    ]);
    assert!(
        for_policy.contains("PalisadeRollback")
            && for_policy.contains("rolled back to revision 1 (revert): INC-7 dns broken"),
        "{for_policy}"
    );
    let events: Value = serde_json::from_str(&s.kubectl(&[
        "get",
        "events",
        "-n",
        "acme-web",
        "--field-selector",
        "involvedObject.name=allow-dns,involvedObject.kind=NetworkPolicy,type=Normal",
        "-o",
        "json",
    ]))
    .unwrap();
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{events}");
    let event = &items[0];
    let live: Value = serde_json::from_str(&s.kubectl(&[
        "get",
        "netpol",
        "allow-dns",
        "-n",
        "acme-web",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(event["involvedObject"]["uid"], live["metadata"]["uid"]);
    assert_eq!(
        event["involvedObject"]["resourceVersion"],
        live["metadata"]["resourceVersion"]
    );
    assert_eq!(event["reportingComponent"], "palisade");
    assert_eq!(event["source"]["component"], "palisade");
    assert_eq!(event["count"], 1);
    // Nothing matches another reason.
    let none = s.kubectl(&[
        "get",
        "events",
        "-n",
        "acme-web",
        "--field-selector",
        "reason=PalisadeRollbackFailed",
        "-o",
        "name",
    ]);
    assert!(none.trim().is_empty(), "{none}");
    // The audit says so too.
    let audit = s.audit_lines();
    let done = audit.iter().find(|r| r["outcome"] == "done").unwrap();
    assert!(
        done["apply"]
            .as_str()
            .unwrap()
            .contains("Event PalisadeRollback emitted"),
        "{done}"
    );
    s.server.shutdown().await;
}

const APPLIED: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: la-demo
  namespace: acme-api
  labels: {app: la, owner: web}
  annotations: {team: web}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{protocol: UDP, port: 53}]
";

#[tokio::test(flavor = "multi_thread")]
async fn with_no_journal_the_last_applied_configuration_is_a_revision_to_roll_back_to() {
    if !tool_available("kubectl") {
        return;
    }
    let s = Setup::new().await;
    s.apply(APPLIED);
    let annotation_before = s.kubectl(&[
        "get",
        "netpol",
        "la-demo",
        "-n",
        "acme-api",
        "-o",
        r"jsonpath={.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}",
    ]);
    s.kubectl(&[
        "-n",
        "acme-api",
        "patch",
        "netpol",
        "la-demo",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/egress/0/ports/0/port","value":5353},{"op":"remove","path":"/metadata/labels/owner"}]"#,
    ]);

    // An empty HOME: no journal at all.
    let (code, out, err) = s.palisade(&["history", "acme-api/la-demo"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("last-applied"), "{out}");
    assert!(out.contains("last applied by kubectl"), "{out}");
    assert!(out.contains("kubectl-client-side-apply"), "{out}");
    let (code, out, err) = s.palisade(&["history", "acme-api/la-demo", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(lines[0]["revision"], 0, "{out}");
    assert_eq!(lines[0]["spec"]["egress"][0]["ports"][0]["port"], 53);

    let (code, out, err) = s.palisade(&[
        "rollback",
        "acme-api/la-demo",
        "--to",
        "last-applied",
        "--yes",
        "--reason",
        "undo the hand patch",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let live: Value = serde_json::from_str(
        &s.kubectl(&["get", "netpol", "la-demo", "-n", "acme-api", "-o", "json"]),
    )
    .unwrap();
    assert_eq!(live["spec"]["egress"][0]["ports"][0]["port"], 53, "{live}");
    assert_eq!(
        live["metadata"]["labels"]["owner"], "web",
        "labels restored"
    );
    assert_eq!(live["metadata"]["annotations"]["team"], "web");
    assert_eq!(
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        annotation_before.as_str(),
        "the annotation itself is left as it was"
    );
    // Now live is what was applied: nothing more to offer.
    let (code, out, err) = s.palisade(&[
        "rollback",
        "acme-api/la-demo",
        "--to",
        "last-applied",
        "--yes",
        "--reason",
        "again",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("offers no last-applied revision"), "{err}");

    // A malformed annotation is one note, never a panic.
    s.kubectl(&[
        "-n",
        "acme-api",
        "annotate",
        "--overwrite",
        "netpol",
        "la-demo",
        "kubectl.kubernetes.io/last-applied-configuration={broken",
    ]);
    let (code, out, err) = s.palisade(&["history", "acme-api/la-demo"]);
    assert!(
        err.contains("last-applied-configuration of acme-api/la-demo is not JSON"),
        "{err}"
    );
    assert_eq!(code, 0, "the journal has revisions by now: {out}{err}");
    s.server.shutdown().await;
}

const KUSTOMIZATION: &str = "apiVersion: v1
kind: Namespace
metadata: {name: flux-system}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: globex-policies, namespace: flux-system}
spec:
  interval: 10m
  path: ./tenants/globex
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: flux-owned
  namespace: globex-web
  labels:
    kustomize.toolkit.fluxcd.io/name: globex-policies
    kustomize.toolkit.fluxcd.io/namespace: flux-system
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{protocol: UDP, port: 53}]
";

const APPLICATION: &str = "apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: initech, namespace: argocd}
spec:
  project: default
  source: {repoURL: 'https://git.example/fleet', path: tenants/initech}
  destination: {server: 'https://kubernetes.default.svc'}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: argo-owned
  namespace: initech-web
  labels: {argocd.argoproj.io/instance: initech}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{protocol: UDP, port: 53}]
";

/// Applies the owner and its policy, patches the policy, then checks the viewer is refused and
/// rolls back with `--suspend-gitops`; returns the two audit records (suspend, rollback).
fn suspend_and_roll_back(s: &Setup, yaml: &str, policy: &str) -> (Value, Value) {
    s.apply(yaml);
    let (ns, name) = policy.split_once('/').unwrap();
    s.kubectl(&[
        "-n",
        ns,
        "patch",
        "netpol",
        name,
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/egress/0/ports/0/port","value":5353}]"#,
    ]);
    let journal = journal_arg(&s.journal());
    let roll_back = |extra: &[&str]| {
        let mut args = vec![
            "rollback",
            policy,
            "--to",
            "last-applied",
            "--yes",
            "--reason",
            "INC-9 owner patched by hand",
            "--journal",
            &journal,
        ];
        args.extend_from_slice(extra);
        s.palisade(&args)
    };
    // Without the flag: refused, saying the owner will revert it and how to suspend it.
    let (code, out, err) = roll_back(&[]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("will revert this rollback"), "{err}");
    assert!(err.contains("--suspend-gitops"), "{err}");
    // The viewer is refused by the pre-flight: nothing is written.
    let (code, out, err) = roll_back(&["--suspend-gitops", "--context", VIEWER_CONTEXT]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(
        out.contains("gitops suspension:") && out.contains("DENIED"),
        "{out}"
    );

    let (code, out, err) = roll_back(&["--suspend-gitops"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the confirmation covers two writes"), "{out}");
    let live: Value =
        serde_json::from_str(&s.kubectl(&["get", "netpol", name, "-n", ns, "-o", "json"])).unwrap();
    assert_eq!(live["spec"]["egress"][0]["ports"][0]["port"], 53);
    let audit = s.audit_lines();
    let done: Vec<&Value> = audit.iter().filter(|r| r["outcome"] == "done").collect();
    assert_eq!(done.len(), 2, "{audit:?}");
    let suspension = done.iter().find(|r| r["kind"] == "suspend").unwrap();
    let rollback = done.iter().find(|r| r["kind"] == "revert").unwrap();
    assert_eq!(suspension["linked_to"], rollback["uid"]);
    assert_eq!(rollback["linked_to"], suspension["uid"]);
    assert_eq!(suspension["object"]["name"], name);
    assert_eq!(
        rollback["acknowledged_owner"],
        suspension["acknowledged_owner"]
    );
    ((*suspension).clone(), (*rollback).clone())
}

fn reminders(s: &Setup) -> Vec<Value> {
    let (code, out, err) = s.palisade(&[
        "gitops",
        "suspended",
        "-o",
        "json",
        "--journal",
        &journal_arg(&s.journal()),
    ]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn flux_is_suspended_before_the_rollback_and_reminded_until_resumed() {
    if !tool_available("kubectl") {
        return;
    }
    let s = Setup::new().await;
    let (suspension, _) = suspend_and_roll_back(&s, KUSTOMIZATION, "globex-web/flux-owned");
    assert_eq!(
        suspension["acknowledged_owner"],
        "Flux Kustomization flux-system/globex-policies"
    );
    let suspended = s.globex_suspend();
    assert_eq!(suspended, "true");

    let found = reminders(&s);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "globex-policies");
    assert_eq!(found[0]["suspended_by"], "palisade-demo");
    assert_eq!(found[0]["reason"], "INC-9 owner patched by hand");
    assert_eq!(
        found[0]["resume"],
        "flux resume kustomization globex-policies -n flux-system"
    );
    let (code, text, _) = s.palisade(&[
        "gitops",
        "suspended",
        "--journal",
        &journal_arg(&s.journal()),
    ]);
    assert_eq!(code, 0);
    assert!(
        text.contains("GitOps: flux-system/globex-policies suspended by palisade-demo"),
        "{text}"
    );

    // The console reminds too: on the status bar as soon as it opens, and `:timeline` refreshes.
    let console = tool_available("tmux").then(|| {
        let tmux = Tmux::start();
        tmux.type_line(&format!(
            "{BINARY} --kubeconfig {} --journal {} --no-flows",
            s.kubeconfig().display(),
            s.journal().display()
        ));
        tmux.wait_for(
            &["GitOps: flux-system/globex-policies suspended by palisade-demo"],
            Duration::from_secs(30),
        );
        tmux
    });

    s.kubectl(&[
        "-n",
        "flux-system",
        "patch",
        "kustomization",
        "globex-policies",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    assert!(reminders(&s).is_empty(), "resumed: no reminder");
    if let Some(tmux) = console {
        tmux.keys(&[":"]);
        tmux.type_line("timeline");
        wait_until(
            "the reminder gone after :timeline",
            Duration::from_secs(30),
            || {
                let screen = tmux.screen();
                (screen.contains("Timeline") && !screen.contains("GitOps: flux-system"))
                    .then_some(())
            },
        );
        tmux.keys(&["q"]);
    }
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn argo_cd_loses_its_automated_sync_before_the_rollback_and_gets_it_back() {
    if !tool_available("kubectl") {
        return;
    }
    let s = Setup::new().await;
    let (suspension, _) = suspend_and_roll_back(&s, APPLICATION, "initech-web/argo-owned");
    assert_eq!(
        suspension["acknowledged_owner"],
        "Argo CD Application argocd/initech"
    );
    assert!(
        suspension["apply"]
            .as_str()
            .unwrap()
            .contains(r#"was: {"prune":true,"selfHeal":true}"#),
        "{suspension}"
    );
    let app: Value = serde_json::from_str(&s.kubectl(&[
        "get",
        "application",
        "initech",
        "-n",
        "argocd",
        "-o",
        "json",
    ]))
    .unwrap();
    assert!(
        app["spec"]["syncPolicy"].get("automated").is_none(),
        "{app}"
    );

    let found = reminders(&s);
    assert_eq!(found.len(), 1, "{found:?}");
    let resume = found[0]["resume"].as_str().unwrap().to_string();
    assert!(resume.starts_with("kubectl patch applications.argoproj.io initech -n argocd"));
    // The reminder's own command restores the automated sync as it was.
    let patch = resume.split("-p '").nth(1).unwrap().trim_end_matches('\'');
    s.kubectl(&[
        "-n",
        "argocd",
        "patch",
        "applications.argoproj.io",
        "initech",
        "--type",
        "merge",
        "-p",
        patch,
    ]);
    let automated = s.kubectl(&[
        "get",
        "application",
        "initech",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.spec.syncPolicy.automated.selfHeal}",
    ]);
    assert_eq!(automated, "true");
    assert!(reminders(&s).is_empty(), "resumed: no reminder");
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_s_flux_kustomization_and_argo_cd_application_own_two_tenants_policies() {
    if !tool_available("kubectl") {
        return;
    }
    let s = Setup::new().await;
    let listed = s.kubectl(&["get", "kustomizations", "-n", "flux-system"]);
    assert!(
        listed.contains("globex-policies") && listed.contains("SUSPENDED"),
        "{listed}"
    );
    let owned = s.kubectl(&[
        "get",
        "netpol",
        "-A",
        "-l",
        "kustomize.toolkit.fluxcd.io/name=globex-policies",
        "-o",
        "name",
    ]);
    let globex = s.kubectl(&["get", "netpol", "-n", "globex-web", "-o", "name"]);
    assert!(!globex.trim().is_empty());
    for policy in globex.lines() {
        assert!(owned.contains(policy), "{policy} owned: {owned}");
    }
    let argo = s.kubectl(&[
        "get",
        "application",
        "initech",
        "-n",
        "argocd",
        "-o",
        "jsonpath={.spec.syncPolicy.automated.selfHeal}",
    ]);
    assert_eq!(argo, "true");
    let argo_owned = s.kubectl(&[
        "get",
        "netpol",
        "-n",
        "initech-web",
        "-l",
        "argocd.argoproj.io/instance=initech",
        "-o",
        "name",
    ]);
    let initech = s.kubectl(&["get", "netpol", "-n", "initech-web", "-o", "name"]);
    assert_eq!(
        argo_owned, initech,
        "every initech-web policy is the Application's"
    );
    let acme = s.kubectl(&["get", "netpol", "-n", "acme-web", "-o", "json"]);
    assert!(
        !acme.contains("kustomize.toolkit.fluxcd.io"),
        "acme is not owned"
    );

    // Rehearsing the GitOps path: the rollback names the owner and refuses without a decision.
    let journal = journal_arg(&s.journal());
    let (code, out, err) = s.palisade(&[
        "rollback",
        "globex-web/allow-dns",
        "--remove",
        "--yes",
        "--reason",
        "rehearsal",
        "--journal",
        &journal,
    ]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("Flux Kustomization flux-system/globex-policies will revert this rollback"),
        "{err}"
    );
    let (code, out, err) = s.palisade(&[
        "rollback",
        "globex-web/allow-dns",
        "--remove",
        "--yes",
        "--dry-run",
        "--suspend-gitops",
        "--reason",
        "rehearsal",
        "--journal",
        &journal,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("suspension accepted by the server's dry run"),
        "{out}"
    );
    let suspended = s.globex_suspend();
    assert_eq!(suspended, "", "a dry run suspends nothing");
    s.server.shutdown().await;
}

/// The issue's story in the console: a policy applied with kubectl, patched, and a console that
/// never ran before: its history offers kubectl's last-applied configuration, `R` on it rolls
/// back, and the Event names it.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_rolls_back_to_the_last_applied_configuration_and_leaves_an_event() {
    if !tool_available("kubectl") || !tool_available("tmux") {
        return;
    }
    let s = Setup::new().await;
    s.apply(&APPLIED.replace("la-demo", "la-console"));
    s.kubectl(&[
        "-n",
        "acme-api",
        "patch",
        "netpol",
        "la-console",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/egress/0/ports/0/port","value":5353}]"#,
    ]);
    let step = Duration::from_secs(20);
    let tmux = Tmux::start();
    tmux.type_line(&format!(
        "{BINARY} --kubeconfig {} --journal {} --no-flows",
        s.kubeconfig().display(),
        s.journal().display()
    ));
    tmux.wait_for(&["netpol ● live"], Duration::from_secs(30));
    tmux.keys(&[":"]);
    tmux.type_line("history acme-api/la-console");
    tmux.wait_for(&["r1", "r0", "applied"], step);
    tmux.keys(&["j"]);
    tmux.wait_for(&["last-applied spec"], step);
    tmux.keys(&["R"]);
    tmux.wait_for(
        &[
            "revert acme-api/la-console: replace with revision 0 (last",
            "type acme-api/la-console to confirm",
        ],
        step,
    );
    tmux.keys(&["-l", "acme-api/la-console"]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["-l", "INC-14 hand patch"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["dry run: update accepted", "enter: APPLY"], step);
    tmux.keys(&["Enter"]);
    let done = tmux.wait_for(&["done: written", "audit #"], step);
    assert!(done.contains("Event PalisadeRollback emitted"), "{done}");

    let port = s.kubectl(&[
        "get",
        "netpol",
        "la-console",
        "-n",
        "acme-api",
        "-o",
        "jsonpath={.spec.egress[0].ports[0].port}",
    ]);
    assert_eq!(port, "53");
    let events = s.kubectl(&[
        "events",
        "-n",
        "acme-api",
        "--for",
        "networkpolicy/la-console",
    ]);
    assert!(
        events.contains(
            "palisade-demo rolled back to the configuration last applied by kubectl (revert): INC-14 hand patch"
        ),
        "{events}"
    );
    tmux.keys(&["q"]);
    s.server.shutdown().await;
}

/// A console on the demo (journal `s.journal()`) with globex-web/allow-dns patched by hand,
/// on the rollback of it to r1 with the Flux suspension toggled on, both dry runs passed.
fn console_confirmed_with_suspension(s: &Setup, step: Duration) -> Tmux {
    let tmux = Tmux::start();
    tmux.type_line(&format!(
        "{BINARY} --kubeconfig {} --journal {} --no-flows",
        s.kubeconfig().display(),
        s.journal().display()
    ));
    tmux.wait_for(&["netpol ● live"], Duration::from_secs(30));
    s.kubectl(&[
        "-n",
        "globex-web",
        "patch",
        "netpol",
        "allow-dns",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/egress/0/ports/0/port","value":5353}]"#,
    ]);
    tmux.keys(&[":"]);
    tmux.type_line("history globex-web/allow-dns");
    tmux.wait_for(&["r2", "r1", "kubectl-patch"], step);
    tmux.keys(&["j"]);
    tmux.keys(&["R"]);
    // Both on one screen: the dialog and the hint bar are drawn in one frame, but a capture
    // can land while that frame is still being written (CI saw the dialog under the old hints).
    tmux.wait_for(
        &[
            "[ ] ctrl-o: also suspend Flux Kustomization",
            "ctrl-o suspend-gitops",
        ],
        step,
    );
    tmux.keys(&["C-o"]);
    tmux.wait_for(
        &["[x] ctrl-o: also suspend", "to confirm BOTH writes"],
        step,
    );
    tmux.keys(&["-l", "globex-web/allow-dns"]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["-l", "INC-14 globex dns"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &[
            "2. the rollback: update accepted",
            "enter: APPLY BOTH writes",
        ],
        step,
    );
    tmux
}

/// Issue 14's GitOps path from the console: a globex policy (owned by the demo's Flux
/// Kustomization) patched by hand, rolled back from `:history` with the suspension toggled on.
/// The Kustomization is suspended before the policy is written, both audit records link each
/// other, `palisade gitops suspended` lists it, and the status bar reminds of it.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_suspends_the_flux_owner_before_rolling_back_a_globex_policy() {
    if !tool_available("kubectl") || !tool_available("tmux") {
        return;
    }
    let s = Setup::new().await;
    let step = Duration::from_secs(20);
    let tmux = console_confirmed_with_suspension(&s, step);
    let unsuspended = s.globex_suspend();
    assert_ne!(unsuspended, "true", "the dry runs write nothing");
    tmux.keys(&["Enter"]);
    let done = tmux.wait_for(&["done: suspend Flux Kustomization", "audit #"], step);
    assert!(done.contains("the watch showed it"), "{done}");
    tmux.wait_for(&["globex-policies suspended by palisade-demo"], step);

    let suspended = s.globex_suspend();
    assert_eq!(suspended, "true");
    let port = s.kubectl(&[
        "get",
        "netpol",
        "allow-dns",
        "-n",
        "globex-web",
        "-o",
        "jsonpath={.spec.egress[0].ports[0].port}",
    ]);
    assert_eq!(port, "53");
    let audit = s.audit_lines();
    let suspension = audit
        .iter()
        .find(|r| r["kind"] == "suspend" && r["outcome"] == "done")
        .unwrap_or_else(|| panic!("{audit:?}"));
    let rollback = audit
        .iter()
        .find(|r| r["kind"] == "revert" && r["outcome"] == "done")
        .unwrap_or_else(|| panic!("{audit:?}"));
    assert_eq!(suspension["linked_to"], rollback["uid"]);
    assert_eq!(rollback["linked_to"], suspension["uid"]);
    assert_eq!(suspension["reason"], "INC-14 globex dns");
    let found = reminders(&s);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "globex-policies");
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(step);
    s.server.shutdown().await;
}

/// The suspension fails (the Kustomization is gone by the time of the write): the policy is
/// not written, the screen says why, and both audit records say so.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_suspension_from_the_console_leaves_the_policy_unwritten() {
    if !tool_available("kubectl") || !tool_available("tmux") {
        return;
    }
    let s = Setup::new().await;
    let step = Duration::from_secs(20);
    let tmux = console_confirmed_with_suspension(&s, step);
    s.kubectl(&[
        "delete",
        "kustomization",
        "-n",
        "flux-system",
        "globex-policies",
    ]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(&["failed: the suspension failed"], step);
    assert!(screen.contains("NOT written"), "{screen}");
    let port = s.kubectl(&[
        "get",
        "netpol",
        "allow-dns",
        "-n",
        "globex-web",
        "-o",
        "jsonpath={.spec.egress[0].ports[0].port}",
    ]);
    assert_eq!(port, "5353", "the policy is as the incident left it");
    let audit = s.audit_lines();
    let suspension = audit
        .iter()
        .find(|r| r["kind"] == "suspend")
        .unwrap_or_else(|| panic!("{audit:?}"));
    let rollback = audit
        .iter()
        .find(|r| r["kind"] == "revert")
        .unwrap_or_else(|| panic!("{audit:?}"));
    assert_eq!(suspension["outcome"], "failed");
    assert_eq!(rollback["outcome"], "failed");
    assert!(
        rollback["apply"]
            .as_str()
            .unwrap()
            .starts_with("not attempted: the suspension failed"),
        "{rollback}"
    );
    assert_eq!(suspension["linked_to"], rollback["uid"]);
    tmux.keys(&["C-c"]);
    tmux.wait_for_prompt(step);
    s.server.shutdown().await;
}
