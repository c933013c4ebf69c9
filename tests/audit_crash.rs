//! Crash safety of the audit: `palisade rollback` killed with SIGKILL at arbitrary points while
//! it plans, dry-runs and audits leaves a readable journal, whole audit rows and whole JSON lines.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use palisade::history::Journal;
use palisade::rollback::audit;
use palisade::sim::{DemoServer, Scenario};
use support::BINARY;

/// Kill points spread over 0–160 ms, about the length of a debug run: here a third of the runs
/// die before their audit write and the rest finish, and any kill may land inside a write. A fixed
/// sequence, so a failure can be replayed.
fn kill_points(n: usize) -> Vec<Duration> {
    let mut x: u64 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            Duration::from_millis((x >> 33) % 160)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_rollback_audits_leaves_whole_records() {
    let server = DemoServer::start(Scenario::builtin()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let journal = dir.path().join("j.sqlite");
    let runs = kill_points(25);
    for (i, delay) in runs.iter().enumerate() {
        let mut child = Command::new(BINARY)
            .env_clear()
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .args([
                "rollback",
                "acme-web/default-deny",
                "--remove",
                "--dry-run",
                "--yes",
            ])
            .args(["--reason", &format!("crash test {i}")])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--journal")
            .arg(&journal)
            .spawn()
            .unwrap();
        // The kill point itself is the test's input, not a wait for a condition.
        tokio::time::sleep(*delay).await;
        let _ = child.kill(); // SIGKILL; it may have finished already
        let _ = child.wait();
    }
    // One more run to completion, so at least one record is certainly there.
    let done = Command::new(BINARY)
        .env_clear()
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .args([
            "rollback",
            "acme-web/default-deny",
            "--remove",
            "--dry-run",
            "--yes",
        ])
        .args(["--reason", "after the crashes", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    let journal_db = Journal::open_existing(&journal).expect("the journal opens after the kills");
    let check: String = rusqlite::Connection::open(&journal)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let rows = audit::records(&journal_db, None).expect("every audit row reads back");
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(row.reason.starts_with("crash test") || row.reason == "after the crashes");
        assert_eq!(row.object.to_string(), "acme-web/default-deny");
        assert!(!row.dry_run.is_empty(), "{row:?}");
    }

    // JSON lines: each whole, each naming a row the database has (the row is committed first).
    let text = std::fs::read_to_string(audit::audit_path(&journal)).unwrap();
    assert!(text.ends_with('\n'), "no torn last line");
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.id).collect();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("a whole JSON line");
        let id = record["id"].as_i64().expect("an id");
        assert!(ids.contains(&id), "line {id} has no database row");
    }
    assert!(text.lines().count() <= rows.len());
    assert_eq!(
        rows.last().map(|r| r.reason.as_str()),
        Some("after the crashes")
    );
}
