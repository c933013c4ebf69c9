//! Rollback end to end against the demo server: every kind (plan → dry run → apply → verify →
//! audit row + JSON line), a conflict, the viewer refused, read-only mode, a GitOps-owned policy,
//! and the headless command's exit codes through the real binary.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::KubeConfigOptions;
use kube::{Client, Config};
use palisade::config::SourceFile;
use palisade::config::contexts::contexts_from;
use palisade::flow::FlowId;
use palisade::history::{Journal, Operation};
use palisade::model::ObjectRef;
use palisade::rollback::apply::get_live;
use palisade::rollback::audit::{self, AuditRecord, Outcome};
use palisade::rollback::{
    ApplyError, Confirmation, Plan, RollbackKind, apply, audit_path, dry_run, plan, preflight,
    read_only_reason, verify, who_am_i,
};
use palisade::sim::{DemoServer, Scenario, VIEWER_CONTEXT};
use serde_json::{Value, json};
use support::{BINARY, run};

const DEADLINE: Duration = Duration::from_secs(20);
const NS: &str = "acme-web";

async fn client(server: &DemoServer, context: Option<&str>) -> Client {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &options)
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client builds")
}

fn netpol(name: &str, port: u16, labels: Value) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"podSelector": {"matchLabels": {"app": "storefront"}},
                 "ingress": [{"ports": [{"port": port}]}]},
    }))
    .expect("valid policy")
}

fn port_of(policy: &NetworkPolicy) -> Value {
    serde_json::to_value(policy).unwrap()["spec"]["ingress"][0]["ports"][0]["port"].clone()
}

struct Fixture {
    server: DemoServer,
    admin: Client,
    api: Api<NetworkPolicy>,
    journal: Journal,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let server = DemoServer::start(Scenario::builtin())
            .await
            .expect("server starts");
        let admin = client(&server, None).await;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.sqlite"))
            .unwrap()
            .with_source(&server.url(), "palisade-demo");
        Fixture {
            api: Api::namespaced(admin.clone(), NS),
            server,
            admin,
            journal,
            dir,
        }
    }

    /// Journals the live state of `name`, as the recorder would.
    async fn observe(&mut self, name: &str) {
        match get_live(&self.admin, &ObjectRef::new(NS, name).into())
            .await
            .unwrap()
        {
            Some(live) => self
                .journal
                .observe_object(&live, Timestamp::now())
                .unwrap(),
            None => self
                .journal
                .deleted(NS, name, None, Timestamp::now())
                .unwrap(),
        };
    }

    /// A policy created with `port`, then replaced with `later` ports one by one, journalled.
    async fn policy_with_history(&mut self, name: &str, ports: &[u16], labels: Value) {
        self.api
            .create(
                &PostParams::default(),
                &netpol(name, ports[0], labels.clone()),
            )
            .await
            .unwrap();
        self.observe(name).await;
        for port in &ports[1..] {
            let patch = json!({"spec": {"ingress": [{"ports": [{"port": port}]}]}});
            self.api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
            self.observe(name).await;
        }
    }

    async fn plan(&self, kind: RollbackKind, name: &str) -> Plan {
        let target = ObjectRef::new(NS, name).into();
        let revisions = self.journal.revisions(NS, name).unwrap();
        let live = get_live(&self.admin, &target).await.unwrap();
        let last = audit::last_rollback(&self.journal, &target).unwrap();
        plan(kind, &target, &revisions, live.as_ref(), last.as_ref()).expect("plans")
    }

    /// The whole flow as the admin: pre-flight, dry run, apply, verify, audit.
    async fn roll_back(&mut self, plan: &Plan) -> AuditRecord {
        let checks = preflight(&self.admin, plan, None).await;
        assert!(checks.access.allowed, "{checks:?}");
        let actor = who_am_i(&self.admin, None, None).await;
        assert_eq!(actor, "palisade-demo");
        let mut record = AuditRecord::for_plan(
            plan,
            &actor,
            &self.server.url(),
            "palisade-demo",
            "INC-1",
            Timestamp::now(),
        );
        let before = get_live(&self.admin, &plan.target).await.unwrap();
        let dry = dry_run(&self.admin, plan).await.expect("dry run");
        record.dry_run = dry.summary;
        assert_eq!(
            get_live(&self.admin, &plan.target).await.unwrap(),
            before,
            "the dry run wrote nothing"
        );
        let clearance = checks
            .clear(false, &confirmed(plan), &dry.passed)
            .expect("cleared");
        let applied = apply(&self.admin, plan, &clearance).await.expect("applied");
        verify(&self.admin, plan, &applied, DEADLINE)
            .await
            .expect("verified");
        record.apply = applied.summary();
        record.to_resource_version = applied.resource_version.clone();
        record.outcome = Outcome::Done;
        let revision = audit::append(&mut self.journal, &mut record, Some(&applied.written()))
            .unwrap()
            .expect("a rollback revision");
        assert_eq!(revision.operation, Operation::Rollback);
        record
    }

    fn jsonl(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(audit_path(&self.dir.path().join("j.sqlite"))).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn revert_then_undo() {
    let mut f = Fixture::new().await;
    f.policy_with_history("rb-revert", &[8080, 9999], json!({}))
        .await;
    let plan = f.plan(RollbackKind::Revert { to: 1 }, "rb-revert").await;
    assert_eq!((plan.live_revision, plan.to_revision), (Some(2), Some(1)));
    let diff = plan.diff.to_text();
    assert!(
        diff.contains("-    - port: [-9999-]") && diff.contains("+    - port: {+8080+}"),
        "{diff}"
    );
    let record = f.roll_back(&plan).await;
    let live = f.api.get("rb-revert").await.unwrap();
    assert_eq!(port_of(&live), json!(8080));
    assert_eq!(record.journal_revision, Some(3));
    assert_eq!(record.from_revision, Some(2));

    let undo = f.plan(RollbackKind::Undo, "rb-revert").await;
    assert_eq!(undo.to_revision, Some(2));
    f.roll_back(&undo).await;
    assert_eq!(port_of(&f.api.get("rb-revert").await.unwrap()), json!(9999));

    let rows = audit::records(&f.journal, Some(&ObjectRef::new(NS, "rb-revert").into())).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.kind.as_str(), r.outcome))
            .collect::<Vec<_>>(),
        vec![("revert", Outcome::Done), ("undo", Outcome::Done)]
    );
    let lines = f.jsonl();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "done");
    assert_eq!(lines[0]["reason"], "INC-1");
    assert_eq!(lines[1]["kind"], "undo");
    assert_eq!(lines[1]["id"], json!(rows[1].id));
}

#[tokio::test]
async fn restore_a_deleted_policy() {
    let mut f = Fixture::new().await;
    f.policy_with_history("rb-restore", &[8080], json!({}))
        .await;
    f.api
        .delete("rb-restore", &DeleteParams::default())
        .await
        .unwrap();
    f.observe("rb-restore").await;
    let plan = f
        .plan(RollbackKind::Restore { revision: None }, "rb-restore")
        .await;
    assert_eq!(plan.to_revision, Some(1));
    assert!(plan.live.is_none() && plan.desired.is_some());
    let record = f.roll_back(&plan).await;
    assert_eq!(
        port_of(&f.api.get("rb-restore").await.unwrap()),
        json!(8080)
    );
    assert_eq!(record.kind, "restore");
    assert_eq!(record.from_resource_version, None);
    assert_eq!(f.jsonl().len(), 1);
}

#[tokio::test]
async fn remove_a_new_policy() {
    let mut f = Fixture::new().await;
    f.policy_with_history("rb-remove", &[8080], json!({})).await;
    let plan = f.plan(RollbackKind::Remove, "rb-remove").await;
    assert_eq!(plan.created_revision, Some(1), "{:?}", plan.notes);
    assert!(plan.desired.is_none());
    f.roll_back(&plan).await;
    assert!(f.api.get_opt("rb-remove").await.unwrap().is_none());
    let newest = f.journal.latest(NS, "rb-remove").unwrap().unwrap();
    assert!(newest.deleted);
    assert_eq!(newest.operation, Operation::Rollback);
    // Undo of the removal re-creates it.
    let undo = f.plan(RollbackKind::Undo, "rb-remove").await;
    f.roll_back(&undo).await;
    assert_eq!(port_of(&f.api.get("rb-remove").await.unwrap()), json!(8080));
}

#[tokio::test]
async fn a_concurrent_edit_is_a_conflict_and_survives() {
    let mut f = Fixture::new().await;
    f.policy_with_history("rb-conflict", &[8080, 9999], json!({}))
        .await;
    let plan = f.plan(RollbackKind::Revert { to: 1 }, "rb-conflict").await;
    let checks = preflight(&f.admin, &plan, None).await;
    let passed = dry_run(&f.admin, &plan)
        .await
        .expect("dry run passes")
        .passed;
    let clearance = checks.clear(false, &confirmed(&plan), &passed).unwrap();
    // The removal of the same version, confirmed and dry-run before the edit too.
    let remove = f.plan(RollbackKind::Remove, "rb-conflict").await;
    let remove_checks = preflight(&f.admin, &remove, None).await;
    let remove_passed = dry_run(&f.admin, &remove).await.expect("dry run").passed;
    let remove_clearance = remove_checks
        .clear(false, &confirmed(&remove), &remove_passed)
        .unwrap();
    // Someone else edits the policy between the dry run and the apply.
    let other = client(&f.server, None).await;
    let patch = json!({"spec": {"ingress": [{"ports": [{"port": 7777}]}]}});
    Api::<NetworkPolicy>::namespaced(other, NS)
        .patch(
            "rb-conflict",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let err = apply(&f.admin, &plan, &clearance).await.unwrap_err();
    let ApplyError::Conflict { live, .. } = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    let live = live.as_ref().and_then(|l| l.as_network()).unwrap();
    assert_eq!(port_of(live), json!(7777));
    assert_eq!(
        port_of(&f.api.get("rb-conflict").await.unwrap()),
        json!(7777)
    );
    let mut record =
        AuditRecord::for_plan(&plan, "palisade-demo", "s", "c", "INC-2", Timestamp::now());
    record.apply = err.to_string();
    record.outcome = Outcome::Conflict;
    assert!(
        audit::append(&mut f.journal, &mut record, None)
            .unwrap()
            .is_none()
    );
    assert_eq!(f.jsonl()[0]["outcome"], "conflict");
    // A delete with a stale precondition conflicts as well.
    let err = apply(&f.admin, &remove, &remove_clearance)
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::Conflict { .. }), "{err:?}");
    assert!(f.api.get_opt("rb-conflict").await.unwrap().is_some());
}

#[tokio::test]
async fn the_viewer_is_refused_before_any_write() {
    let mut f = Fixture::new().await;
    f.policy_with_history("rb-viewer", &[8080, 9999], json!({}))
        .await;
    let viewer = client(&f.server, Some(VIEWER_CONTEXT)).await;
    let plan = f.plan(RollbackKind::Revert { to: 1 }, "rb-viewer").await;
    let checks = preflight(&viewer, &plan, None).await;
    assert!(!checks.access.allowed, "{checks:?}");
    let why = checks.refusal(false).expect("refused");
    assert!(why.contains("not allowed to update"), "{why}");
    assert_eq!(who_am_i(&viewer, None, None).await, "palisade-demo-viewer");
    // The server agrees: even the dry run is forbidden.
    let err = dry_run(&viewer, &plan).await.unwrap_err();
    assert!(
        matches!(&err, ApplyError::Forbidden(m) if m.contains("cannot update")),
        "{err:?}"
    );
    let mut record = AuditRecord::for_plan(
        &plan,
        "palisade-demo-viewer",
        "s",
        "c",
        "x",
        Timestamp::now(),
    );
    record.apply = format!("not attempted: {why}");
    record.outcome = Outcome::Refused;
    audit::append(&mut f.journal, &mut record, None).unwrap();
    assert_eq!(port_of(&f.api.get("rb-viewer").await.unwrap()), json!(9999));
    let rows = audit::records(&f.journal, None).unwrap();
    assert_eq!(rows[0].outcome, Outcome::Refused);
    assert_eq!(f.jsonl()[0]["outcome"], "refused");
}

#[tokio::test]
async fn read_only_and_gitops_owners_block_the_clearance() {
    let mut f = Fixture::new().await;
    let flux = json!({"kustomize.toolkit.fluxcd.io/name": "apps",
                      "kustomize.toolkit.fluxcd.io/namespace": "flux-system"});
    f.policy_with_history("rb-owned", &[8080, 9999], flux).await;
    let plan = f.plan(RollbackKind::Revert { to: 1 }, "rb-owned").await;
    let owner = plan.owner.clone().expect("owner detected");
    assert_eq!(owner.describe(), "Flux Kustomization flux-system/apps");
    let checks = preflight(&f.admin, &plan, None).await;
    let passed = dry_run(&f.admin, &plan).await.expect("dry run").passed;
    let confirmation = confirmed(&plan);
    let why = checks.clear(false, &confirmation, &passed).unwrap_err();
    assert!(why.contains("--ack-gitops"), "{why}");
    let clearance = checks
        .clear(true, &confirmation, &passed)
        .expect("acknowledged");
    assert_eq!(
        clearance.acknowledged_owner.as_deref(),
        Some("Flux Kustomization flux-system/apps")
    );
    // Read-only, by flag or by contexts.toml, refuses even an acknowledged owner.
    let (contexts, errors) = contexts_from(&SourceFile::new(
        "contexts.toml",
        "[contexts.\"palisade-demo\"]\nread_only = true\n",
    ));
    assert!(errors.is_empty());
    for read_only in [
        read_only_reason(true, "palisade-demo", &Default::default()),
        read_only_reason(false, "palisade-demo", &contexts),
    ] {
        assert!(read_only.is_some());
        let checks = preflight(&f.admin, &plan, read_only).await;
        let why = checks.clear(true, &confirmation, &passed).unwrap_err();
        assert!(why.starts_with("read-only"), "{why}");
    }
    assert_eq!(read_only_reason(false, "other", &contexts), None);
    assert_eq!(port_of(&f.api.get("rb-owned").await.unwrap()), json!(9999));
}

// ---- the headless command, through the real binary ----

fn palisade(home: &Path, kubeconfig: &Path, journal: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .arg("rollback")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--journal")
        .arg(journal);
    command
}

fn exit(command: &mut Command) -> (i32, String) {
    let out = run(command);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn headless_exit_codes() {
    let mut f = Fixture::new().await;
    f.policy_with_history("rb-cli", &[8080, 9999], json!({}))
        .await;
    let flux = json!({"kustomize.toolkit.fluxcd.io/name": "apps"});
    f.policy_with_history("rb-cli-owned", &[8080, 9999], flux)
        .await;
    let home = f.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let kubeconfig = f.dir.path().join("kubeconfig");
    f.server.write_kubeconfig(&kubeconfig).unwrap();
    let journal = f.dir.path().join("j.sqlite");
    let cmd = || palisade(&home, &kubeconfig, &journal);
    let port = |name: &str| {
        let api = f.api.clone();
        let name = name.to_string();
        async move { port_of(&api.get(&name).await.unwrap()) }
    };

    // Bad input: 2.
    let (code, text) = exit(cmd().args(["nope", "--to", "1", "--reason", "x"]));
    assert_eq!(code, 2, "{text}");
    let (code, text) = exit(cmd().args(["acme-web/rb-cli", "--to", "9", "--reason", "x"]));
    assert_eq!((code, text.contains("no revision 9")), (2, true), "{text}");
    let (code, text) = exit(cmd().args(["acme-web/rb-cli", "--restore", "--reason", "x"]));
    assert_eq!(code, 2, "{text}");
    // Refused: 3 (no terminal for the confirmation; read-only; viewer; GitOps owner).
    let (code, text) = exit(cmd().args(["acme-web/rb-cli", "--to", "1", "--reason", "x"]));
    assert_eq!((code, text.contains("not a terminal")), (3, true), "{text}");
    let (code, text) = exit(cmd().args([
        "acme-web/rb-cli",
        "--to",
        "1",
        "--reason",
        "x",
        "--yes",
        "--read-only",
    ]));
    assert_eq!((code, text.contains("read-only")), (3, true), "{text}");
    let (code, text) = exit(cmd().args([
        "acme-web/rb-cli",
        "--to",
        "1",
        "--reason",
        "x",
        "--yes",
        "--context",
        VIEWER_CONTEXT,
    ]));
    assert_eq!(
        (code, text.contains("not allowed to update")),
        (3, true),
        "{text}"
    );
    let (code, text) = exit(cmd().args([
        "acme-web/rb-cli-owned",
        "--to",
        "1",
        "--reason",
        "x",
        "--yes",
    ]));
    assert_eq!(
        (code, text.contains("Flux Kustomization")),
        (3, true),
        "{text}"
    );
    std::fs::create_dir_all(home.join("config/palisade")).unwrap();
    std::fs::write(
        home.join("config/palisade/contexts.toml"),
        "[contexts.\"palisade-demo\"]\nread_only = true\n",
    )
    .unwrap();
    let (code, text) = exit(cmd().args([
        "acme-web/rb-cli",
        "--to",
        "1",
        "--reason",
        "x",
        "--yes",
        "--dry-run",
    ]));
    assert_eq!(
        (code, text.contains("context `palisade-demo` is read-only")),
        (3, true),
        "{text}"
    );
    std::fs::remove_file(home.join("config/palisade/contexts.toml")).unwrap();
    assert_eq!(port("rb-cli").await, json!(9999), "nothing was written");
    // Dry run only: 0, nothing written.
    let (code, text) =
        exit(cmd().args(["acme-web/rb-cli", "--to", "1", "--reason", "x", "--dry-run"]));
    assert_eq!((code, text.contains("dry run only")), (0, true), "{text}");
    assert_eq!(port("rb-cli").await, json!(9999));
    // Done: 0.
    let (code, text) =
        exit(cmd().args(["acme-web/rb-cli", "--to", "1", "--reason", "INC-9", "--yes"]));
    assert_eq!((code, text.contains("verified")), (0, true), "{text}");
    assert_eq!(port("rb-cli").await, json!(8080));
    let (code, text) = exit(cmd().args([
        "acme-web/rb-cli-owned",
        "--to",
        "1",
        "--reason",
        "x",
        "--yes",
        "--ack-gitops",
    ]));
    assert_eq!(code, 0, "{text}");
    // Undo after someone changed it again: bad input (the plan refuses to overwrite).
    let patch = json!({"spec": {"ingress": [{"ports": [{"port": 7777}]}]}});
    f.api
        .patch("rb-cli", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let (code, text) = exit(cmd().args(["acme-web/rb-cli", "--undo", "--reason", "x", "--yes"]));
    assert_eq!(
        (code, text.contains("changed after rollback")),
        (2, true),
        "{text}"
    );

    // Every attempt after a plan is audited, in the database and the JSON lines.
    let journal = Journal::open_existing(&journal).unwrap();
    let outcomes: Vec<Outcome> = audit::records(&journal, None)
        .unwrap()
        .iter()
        .map(|r| r.outcome)
        .collect();
    use Outcome::{Done, DryRun, Refused};
    assert_eq!(
        outcomes,
        vec![
            Refused, Refused, Refused, Refused, Refused, DryRun, Done, Done
        ]
    );
    assert_eq!(f.jsonl().len(), outcomes.len());
    let owned = audit::records(&journal, Some(&ObjectRef::new(NS, "rb-cli-owned").into())).unwrap();
    assert_eq!(
        owned.last().unwrap().acknowledged_owner.as_deref(),
        Some("Flux Kustomization apps")
    );
    // `palisade history` shows the audit too.
    let out = run(Command::new(BINARY)
        .env_clear()
        .env("HOME", &home)
        .args(["history", "acme-web/rb-cli", "--journal"])
        .arg(f.dir.path().join("j.sqlite")));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INC-9") && text.contains("rollback"),
        "{text}"
    );
}

/// What the operator confirms for `plan`: its name, typed, and a reason.
fn confirmed(plan: &Plan) -> Confirmation {
    Confirmation::given(FlowId::HEADLESS, plan, &plan.target.to_string(), "INC-1").unwrap()
}

#[tokio::test]
async fn the_write_refuses_proofs_made_for_another_plan() {
    // Defence in depth behind the console's flow identities (issue 11): a confirmation and a
    // passed dry run of one plan clear nothing else, and the apply refuses a clearance of
    // another plan before it writes anything.
    let mut f = Fixture::new().await;
    f.policy_with_history("rb-proofs", &[8080, 9999], json!({}))
        .await;
    let revert = f.plan(RollbackKind::Revert { to: 1 }, "rb-proofs").await;
    let remove = f.plan(RollbackKind::Remove, "rb-proofs").await;
    let revert_checks = preflight(&f.admin, &revert, None).await;
    let remove_checks = preflight(&f.admin, &remove, None).await;
    let revert_passed = dry_run(&f.admin, &revert).await.expect("dry run").passed;

    // The removal was never dry-run: the revert's dry run does not clear it.
    let why = remove_checks
        .clear(false, &confirmed(&remove), &revert_passed)
        .unwrap_err();
    assert!(why.contains("no dry run of this plan"), "{why}");
    // Nor does the revert's confirmation.
    let remove_passed = dry_run(&f.admin, &remove).await.expect("dry run").passed;
    let why = remove_checks
        .clear(false, &confirmed(&revert), &remove_passed)
        .unwrap_err();
    assert!(why.contains("confirmation"), "{why}");
    // Nothing can be confirmed without the typed name and a reason.
    assert!(Confirmation::given(FlowId::HEADLESS, &remove, "", "INC-1").is_err());
    assert!(Confirmation::given(FlowId::HEADLESS, &remove, "ns/other", "INC-1").is_err());
    assert!(
        Confirmation::given(FlowId::HEADLESS, &remove, &remove.target.to_string(), " ").is_err()
    );
    // The apply itself refuses a clearance of another plan, and writes nothing.
    let revert_clearance = revert_checks
        .clear(false, &confirmed(&revert), &revert_passed)
        .unwrap();
    let err = apply(&f.admin, &remove, &revert_clearance)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApplyError::Failed(m) if m.contains("another plan")),
        "{err:?}"
    );
    assert_eq!(port_of(&f.api.get("rb-proofs").await.unwrap()), json!(9999));
}
