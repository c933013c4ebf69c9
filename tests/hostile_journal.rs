//! The journal under hostile conditions: a corrupted row, a read-only mount, other local users.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{BINARY, run};

const FIXTURE: &str = "tests/fixtures/demo-journal.jsonl";

fn palisade(home: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// A journal at `dir/journal.sqlite` holding the fixture's seven revisions.
fn imported_journal(dir: &Path) -> PathBuf {
    let journal = dir.join("journal.sqlite");
    let out = run(palisade(dir)
        .args(["history", "import", FIXTURE, "--journal"])
        .arg(&journal));
    assert!(out.status.success(), "{}", text(&out.stderr));
    journal
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_journal_is_created_for_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let journal = imported_journal(dir.path());
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "journal mode {:o}", mode & 0o777);
}

#[test]
fn export_writes_every_good_row_names_the_bad_one_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let journal = imported_journal(dir.path());
    // Valid JSON (the schema checks that much) that is no NetworkPolicySpec.
    let conn = rusqlite::Connection::open(&journal).unwrap();
    let changed = conn
        .execute(
            "UPDATE revisions SET spec = '{\"podSelector\": \"oops\"}' \
             WHERE namespace = 'acme-web' AND name = 'default-deny' AND number = 2",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    let to_stdout = run(palisade(dir.path())
        .args(["history", "export", "--journal"])
        .arg(&journal));
    let exported = dir.path().join("export.jsonl");
    let to_file = run(palisade(dir.path())
        .args(["history", "export"])
        .arg(&exported)
        .arg("--journal")
        .arg(&journal));
    let file_text = std::fs::read_to_string(&exported).unwrap();
    for (out, lines) in [(&to_stdout, text(&to_stdout.stdout)), (&to_file, file_text)] {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert_eq!(lines.lines().count(), 6, "every other revision:\n{lines}");
        assert!(
            !lines.contains("\"name\":\"default-deny\",\"revision\":2,"),
            "{lines}"
        );
        assert!(
            lines.contains("\"name\":\"default-deny\",\"revision\":3,"),
            "rows after the bad one are exported too:\n{lines}"
        );
        assert!(
            stderr.contains("acme-web/default-deny #2") && stderr.contains("1 row(s)"),
            "{stderr}"
        );
    }
}

/// Runs `palisade ARGS` with `dir` mounted read-only, in a private user and mount namespace, so
/// the host's mounts are untouched. `None` when this machine cannot make such a namespace.
fn run_with_read_only(dir: &Path, args: &[&str]) -> Option<Output> {
    let probe = Command::new("unshare").args(["-Urm", "true"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let script = r#"mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@""#;
    Some(run(Command::new("unshare")
        .args(["-Urm", "sh", "-c", script, "sh"])
        .arg(dir)
        .arg(BINARY)
        .args(args)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join(".local/share"))))
}

#[test]
fn readers_work_on_a_read_only_mount() {
    let dir = tempfile::tempdir().unwrap();
    let journal = imported_journal(dir.path());
    let journal = journal.to_str().unwrap();
    // A clean close removes the WAL files: a reader would have to create them.
    assert!(!Path::new(&format!("{journal}-shm")).exists());
    let readers: [(&[&str], &str); 3] = [
        (&["history", "export", "--journal", journal], "default-deny"),
        (
            &["history", "acme-web/default-deny", "--journal", journal],
            "palisade-rollback",
        ),
        (&["timeline", "--journal", journal], "acme-web/default-deny"),
    ];
    let mut ran = false;
    for (args, expected) in readers {
        let Some(out) = run_with_read_only(dir.path(), args) else {
            break;
        };
        ran = true;
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "palisade {args:?}:\n{stderr}");
        assert!(stdout.contains(expected), "palisade {args:?}:\n{stdout}");
        if args[1] == "export" {
            assert_eq!(stdout.lines().count(), 7, "{stdout}");
        }
    }
    // The mount stayed private to the namespace: the directory is writable here.
    std::fs::write(dir.path().join("still-writable"), "").unwrap();
    if !ran {
        eprintln!("SKIPPED: no user namespaces here (unshare -Urm), so no read-only mount");
    }
}
