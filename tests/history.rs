//! The revision journal end to end: `palisade record` (the real binary) against the demo server,
//! read back with `palisade history`; and crash safety under `kill -9`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::KubeConfigOptions;
use kube::{Client, Config};
use palisade::sim::{DemoServer, Scenario, ServerOptions};
use serde_json::{Value, json};
use support::{BINARY, KillOnDrop, run};

const DEADLINE: Duration = Duration::from_secs(20);

/// The binary with a private HOME (so no user kubeconfig or data dir is touched).
fn palisade(home: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// Starts `palisade record` with its stderr going to a file (read on failure).
fn start_recorder(home: &Path, kubeconfig: &Path, journal: &Path) -> KillOnDrop {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("record.log"))
        .expect("log file");
    let child = palisade(home)
        .arg("record")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--journal")
        .arg(journal)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("palisade record starts");
    KillOnDrop(child)
}

/// `palisade history NS/NAME --output json`, parsed, when it succeeds.
fn history_json(home: &Path, journal: &Path, policy: &str) -> Option<Vec<Value>> {
    let out = run(palisade(home)
        .args(["history", policy, "--output", "json", "--journal"])
        .arg(journal));
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `check` off the async runtime until it answers, or fails after `DEADLINE`.
async fn eventually<T: Send + 'static>(
    what: &'static str,
    check: impl FnMut() -> Option<T> + Send + 'static,
) -> T {
    tokio::task::spawn_blocking(move || support::wait_until(what, DEADLINE, check))
        .await
        .expect("poll task")
}

async fn client_for(server: &DemoServer) -> Client {
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client builds")
}

fn netpol(ports: &[u16]) -> NetworkPolicy {
    let ingress: Vec<Value> = ports
        .iter()
        .map(|p| json!({"ports": [{"port": p}]}))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "journalled", "namespace": "acme-web"},
        "spec": {"podSelector": {"matchLabels": {"app": "storefront"}}, "ingress": ingress}
    }))
    .expect("policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorder_journals_create_modify_and_delete() {
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let home = tempfile::tempdir().expect("tempdir");
    let kubeconfig = home.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let journal = home.path().join("journal.sqlite");
    let mut recorder = start_recorder(home.path(), &kubeconfig, &journal);

    // Seeded from the initial list: the scenario's policies are journalled before any change.
    let (h, j) = (home.path().to_path_buf(), journal.clone());
    let seeded = eventually("the seed", move || {
        history_json(&h, &j, "acme-web/default-deny")
    })
    .await;
    assert_eq!(seeded.len(), 1);
    assert_eq!(seeded[0]["operation"], "observed");

    let api: Api<NetworkPolicy> = Api::namespaced(client_for(&server).await, "acme-web");
    api.create(&PostParams::default(), &netpol(&[80]))
        .await
        .expect("create");
    let (h, j) = (home.path().to_path_buf(), journal.clone());
    eventually("revision 1", move || {
        history_json(&h, &j, "acme-web/journalled").filter(|r| r.len() == 1)
    })
    .await;
    let patch =
        json!({"spec": {"ingress": [{"ports": [{"port": 80}]}, {"ports": [{"port": 443}]}]}});
    api.patch("journalled", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let (h, j) = (home.path().to_path_buf(), journal.clone());
    eventually("revision 2", move || {
        history_json(&h, &j, "acme-web/journalled").filter(|r| r.len() == 2)
    })
    .await;
    api.delete("journalled", &DeleteParams::default())
        .await
        .expect("delete");
    let (h, j) = (home.path().to_path_buf(), journal.clone());
    let revisions = eventually("revision 3", move || {
        history_json(&h, &j, "acme-web/journalled").filter(|r| r.len() == 3)
    })
    .await;

    let numbers: Vec<&Value> = revisions.iter().map(|r| &r["revision"]).collect();
    assert_eq!(numbers, [&json!(1), &json!(2), &json!(3)]);
    let operations: Vec<&Value> = revisions.iter().map(|r| &r["operation"]).collect();
    assert_eq!(
        operations,
        [&json!("observed"), &json!("observed"), &json!("deleted")]
    );
    assert_eq!(revisions[1]["summary"], "ingress rules 1→2");
    assert_eq!(revisions[2]["deleted"], true);
    assert_eq!(
        revisions[2]["spec"], revisions[1]["spec"],
        "the tombstone carries the last spec"
    );
    assert_eq!(revisions[2]["spec"]["ingress"][1]["ports"][0]["port"], 443);
    assert!(revisions.iter().all(|r| r["context"] == "palisade-demo"));

    // SIGTERM: the recorder finishes and exits 0.
    let pid = libc::pid_t::try_from(recorder.0.id()).expect("pid");
    // SAFETY: signalling our own child process by its pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = eventually_exit(&mut recorder.0);
    let log = std::fs::read_to_string(home.path().join("record.log")).unwrap_or_default();
    assert!(status.success(), "recorder exit {status:?}; log:\n{log}");
    assert!(
        log.contains("recorded acme-web/journalled #3 deleted"),
        "{log}"
    );
    assert!(log.contains("stopped (stop signal)"), "{log}");

    // The table view of the same history.
    let out = run(palisade(home.path())
        .args(["history", "acme-web/journalled", "--journal"])
        .arg(&journal));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("REV  OBSERVED"), "{table}");
    assert!(
        table.lines().nth(3).is_some_and(|l| l.contains("deleted")),
        "{table}"
    );
    server.shutdown().await;
}

fn eventually_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    support::wait_until("the recorder to exit", DEADLINE, || {
        child.try_wait().expect("try_wait")
    })
}

/// Every row complete: integrity ok, JSON parses, numbers 1..n per policy.
fn check_journal(path: &Path) -> usize {
    let conn = rusqlite::Connection::open(path).expect("journal opens");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let mut statement = conn
        .prepare("SELECT namespace, name, number, spec, labels, annotations, operation, observed_at FROM revisions ORDER BY namespace, name, number")
        .expect("query");
    let mut rows = statement.query([]).expect("rows");
    let mut last: Option<(String, String, i64)> = None;
    let mut count = 0;
    while let Some(row) = rows.next().expect("row") {
        let (ns, name, number): (String, String, i64) = (
            row.get(0).unwrap(),
            row.get(1).unwrap(),
            row.get(2).unwrap(),
        );
        let spec: String = row.get(3).unwrap();
        serde_json::from_str::<Option<k8s_openapi::api::networking::v1::NetworkPolicySpec>>(&spec)
            .unwrap_or_else(|e| panic!("{ns}/{name} #{number}: spec does not parse: {e}"));
        for column in [4, 5] {
            let text: String = row.get(column).unwrap();
            serde_json::from_str::<std::collections::BTreeMap<String, String>>(&text)
                .unwrap_or_else(|e| panic!("{ns}/{name} #{number}: column {column}: {e}"));
        }
        let operation: String = row.get(6).unwrap();
        assert!(["observed", "deleted"].contains(&operation.as_str()));
        let observed_at: String = row.get(7).unwrap();
        assert!(
            observed_at.ends_with('Z') && observed_at.len() == 24,
            "{observed_at}"
        );
        let expected = match &last {
            Some((n, m, previous)) if *n == ns && *m == name => previous + 1,
            _ => 1,
        };
        assert_eq!(number, expected, "{ns}/{name}: numbers are contiguous");
        last = Some((ns, name, number));
        count += 1;
    }
    // The library agrees: every stored revision decodes.
    let journal = palisade::history::Journal::open(path).expect("Journal::open");
    for policy in journal.policies().expect("policies") {
        journal.revisions_of(&policy).expect("revisions decode");
    }
    count
}

fn journal_count(path: &Path) -> usize {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM revisions", [], |r| r.get::<_, i64>(0)))
        .map_or(0, |n| usize::try_from(n).unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_journalling_leaves_whole_revisions() {
    // Policies change about 250 times a second (one operation in eight of 2000/s).
    let options = ServerOptions {
        churn: std::num::NonZeroU32::new(2000),
        ..ServerOptions::default()
    };
    let server = DemoServer::start_with(Scenario::builtin(), options)
        .await
        .expect("server starts");
    let home = tempfile::tempdir().expect("tempdir");
    let kubeconfig = home.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let journal: PathBuf = home.path().join("journal.sqlite");
    let home_path = home.path().to_path_buf();
    let (kills, rows) = tokio::task::spawn_blocking(move || {
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("kill schedule seed: {seed}");
        let started = Instant::now();
        let mut kills = 0;
        let mut rows = 0;
        while kills < 20 || (kills < 40 && started.elapsed() < Duration::from_secs(15)) {
            let mut recorder = start_recorder(&home_path, &kubeconfig, &journal);
            let before = rows;
            support::wait_until("the recorder to journal", DEADLINE, || {
                (journal_count(&journal) > before).then_some(())
            });
            // xorshift: a kill point 0–120 ms into steady journalling.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            std::thread::sleep(Duration::from_millis(seed % 120));
            recorder.0.kill().expect("kill -9");
            recorder.0.wait().expect("reaped");
            kills += 1;
            rows = check_journal(&journal);
            assert!(rows > before, "kill {kills}: the journal grew");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        (kills, rows)
    })
    .await
    .expect("kill loop");
    assert!(kills >= 20);
    eprintln!("{kills} kills, {rows} revisions, all whole");
    server.shutdown().await;
}

#[test]
fn history_reads_the_kubeconfig_contexts_journal_without_the_cluster() {
    let home = tempfile::tempdir().expect("tempdir");
    let kubeconfig = home.path().join("kubeconfig");
    // Nothing listens there: history must not need the cluster.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n\
         contexts:\n- name: prod\n  context: {cluster: c, user: u}\ncurrent-context: prod\nusers:\n- name: u\n  user: {}\n",
    )
    .expect("kubeconfig");
    let history = |args: &[&str]| {
        run(palisade(home.path())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("history")
            .args(args))
    };
    let out = history(&["acme-web/default-deny"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected_dir = home
        .path()
        .join("data/palisade/journals/prod--127.0.0.1_1--");
    assert!(
        stderr.contains(&format!("no journal at {}", expected_dir.display())),
        "{stderr}"
    );

    let out = history(&["not-a-policy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected NAMESPACE/NAME"));

    // Import into the context's journal, then read it back through the same resolution.
    let line = json!({"journal_format": 1, "cluster": "https://127.0.0.1:1", "context": "prod",
        "namespace": "acme-web", "name": "default-deny", "revision": 1, "resource_version": "7",
        "generation": 1, "observed_at": "2026-05-01T10:00:00Z", "manager": "kubectl",
        "operation": "observed", "deleted": false, "spec": {"podSelector": {}}});
    let file = home.path().join("in.jsonl");
    std::fs::write(&file, format!("{line}\n{{broken\n")).expect("file");
    let out = history(&["import", file.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 2: not JSON") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    std::fs::write(&file, format!("{line}\n")).expect("file");
    let out = history(&["import", file.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 of 1 revision(s)"));
    let out = history(&["acme-web/default-deny"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("2026-05-01T10:00:00.000Z  kubectl  observed   7"),
        "{table}"
    );
    let out = history(&["acme-web/other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("policies of `acme-web` in the journal: acme-web/default-deny")
    );
}
