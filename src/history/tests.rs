//! Unit tests of the journal: numbering, dedup, tombstones, seeding, summaries, export/import.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;

pub(super) fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + seconds).unwrap()
}

/// A policy with `ports` ingress rules, at resourceVersion `rv`, last changed by `manager`.
pub(super) fn policy(ns: &str, name: &str, rv: u32, rules: usize, manager: &str) -> NetworkPolicy {
    let ingress: Vec<_> = (0..rules)
        .map(|i| json!({"ports": [{"port": 8000 + i}]}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {
            "namespace": ns, "name": name, "resourceVersion": rv.to_string(), "generation": rules + 1,
            "labels": {"team": "web"},
            "managedFields": [
                {"manager": "old", "operation": "Update", "time": "2026-01-01T00:00:00Z"},
                {"manager": manager, "operation": "Apply", "time": "2026-02-01T00:00:00Z"}
            ]
        },
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": ingress}
    }))
    .unwrap()
}

pub(super) fn journal() -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("nested/dir/j.sqlite"))
        .unwrap()
        .with_source("https://api.test:6443", "test");
    (dir, journal)
}

#[test]
fn a_server_url_is_one_source_with_or_without_its_trailing_slash() {
    // Consoles wrote the API server URL as kube-rs prints it (`http://127.0.0.1:8080/`), the
    // recorder as the kubeconfig does (`http://127.0.0.1:8080`): one cluster.
    let (_dir, j) = journal();
    let mut j = j.with_source("http://127.0.0.1:8080/", "admin");
    j.observe(&policy("a", "p", 10, 1, "kubectl"), at(0))
        .unwrap();
    let mut j = j.with_source("http://127.0.0.1:8080", "admin");
    j.observe(&policy("a", "p", 11, 2, "kubectl"), at(1))
        .unwrap();
    assert_eq!(
        j.sources().unwrap(),
        [("http://127.0.0.1:8080".to_string(), "admin".to_string())]
    );
}

fn numbers(journal: &Journal, ns: &str, name: &str) -> Vec<u32> {
    journal
        .revisions(ns, name)
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect()
}

#[test]
fn revisions_are_numbered_per_policy_and_carry_their_metadata() {
    let (_dir, mut j) = journal();
    let first = j
        .observe(&policy("a", "p", 10, 1, "kubectl"), at(0))
        .unwrap()
        .unwrap();
    assert_eq!(first.number, 1);
    assert_eq!(
        first.manager.as_deref(),
        Some("kubectl"),
        "the newest manager"
    );
    assert_eq!(first.resource_version.as_deref(), Some("10"));
    assert_eq!(first.generation, Some(2));
    assert_eq!(first.observed_at, "2026-05-28T20:26:40.000Z");
    assert_eq!(
        (first.cluster.as_str(), first.context.as_str()),
        ("https://api.test:6443", "test")
    );
    assert_eq!(first.labels.get("team").map(String::as_str), Some("web"));
    j.observe(&policy("a", "other", 11, 1, "flux"), at(1))
        .unwrap()
        .unwrap();
    let second = j
        .observe(&policy("a", "p", 12, 2, "flux"), at(2))
        .unwrap()
        .unwrap();
    assert_eq!(second.number, 2);
    assert_eq!(numbers(&j, "a", "p"), [1, 2]);
    assert_eq!(numbers(&j, "a", "other"), [1]);
    let stored = j.revision("a", "p", 2).unwrap().unwrap();
    assert_eq!(stored, second, "what is read back is what was recorded");
    assert!(j.revision("a", "p", 3).unwrap().is_none());
    assert_eq!(
        stored.to_policy().spec,
        policy("a", "p", 12, 2, "flux").spec
    );
}

#[test]
fn relists_and_version_only_changes_add_nothing() {
    let (_dir, mut j) = journal();
    let p = policy("a", "p", 10, 1, "kubectl");
    assert!(j.observe(&p, at(0)).unwrap().is_some());
    assert!(
        j.observe(&p, at(1)).unwrap().is_none(),
        "same resourceVersion"
    );
    let mut bumped = p.clone();
    bumped.metadata.resource_version = Some("11".into());
    bumped.metadata.managed_fields = None;
    assert!(j.observe(&bumped, at(2)).unwrap().is_none(), "same content");
    assert!(
        j.seed(std::slice::from_ref(&bumped), at(3))
            .unwrap()
            .is_empty()
    );
    let mut relabelled = bumped.clone();
    relabelled.metadata.resource_version = Some("12".into());
    relabelled.metadata.labels = Some([("team".to_string(), "api".to_string())].into());
    let revision = j.observe(&relabelled, at(4)).unwrap().unwrap();
    assert_eq!(revision.number, 2, "labels are content");
    assert_eq!(j.count().unwrap(), 2);
}

#[test]
fn deletions_are_tombstones_with_the_last_spec() {
    let (_dir, mut j) = journal();
    let p = policy("a", "p", 10, 3, "kubectl");
    j.observe(&p, at(0)).unwrap();
    let mut deleted = p.clone();
    deleted.metadata.resource_version = Some("15".into());
    let tomb = j.deleted("a", "p", Some(&deleted), at(1)).unwrap().unwrap();
    assert_eq!(
        (tomb.number, tomb.operation, tomb.deleted),
        (2, Operation::Deleted, true)
    );
    assert_eq!(tomb.spec, p.spec, "the tombstone carries the last spec");
    assert!(
        j.deleted("a", "p", Some(&deleted), at(2))
            .unwrap()
            .is_none(),
        "already deleted"
    );
    assert!(
        j.deleted("a", "never", None, at(2)).unwrap().is_none(),
        "unknown, nothing to carry"
    );
    let back = j.observe(&p, at(3)).unwrap().unwrap();
    assert_eq!(
        (back.number, back.deleted),
        (3, false),
        "re-created with the same content"
    );
    assert_eq!(
        summarize(Some(&tomb), &back),
        "re-created: ingress rules 3, egress rules 0"
    );
    // Without the deleted object, the newest stored revision's content is carried.
    let tomb = j.deleted("a", "p", None, at(4)).unwrap().unwrap();
    assert_eq!((tomb.number, tomb.spec.clone()), (4, p.spec.clone()));
    assert_eq!((tomb.resource_version, tomb.manager), (None, None));
}

#[test]
fn seeding_records_the_present_and_tombstones_the_vanished() {
    let (_dir, mut j) = journal();
    let recorded = j
        .seed(
            &[
                policy("a", "p", 1, 1, "m"),
                policy("a", "q", 2, 1, "m"),
                policy("b", "r", 3, 1, "m"),
            ],
            at(0),
        )
        .unwrap();
    assert_eq!(recorded.len(), 3);
    // Restarted later: q changed, r vanished while nobody watched, s is new.
    let recorded = j
        .seed(
            &[
                policy("a", "p", 1, 1, "m"),
                policy("a", "q", 7, 2, "m"),
                policy("b", "s", 8, 1, "m"),
            ],
            at(5),
        )
        .unwrap();
    let got: Vec<(String, u32, bool)> = recorded
        .iter()
        .map(|r| (format!("{}/{}", r.namespace, r.name), r.number, r.deleted))
        .collect();
    assert_eq!(
        got,
        [
            ("a/q".into(), 2, false),
            ("b/s".into(), 1, false),
            ("b/r".into(), 2, true)
        ]
    );
    let tomb = j.revision("b", "r", 2).unwrap().unwrap();
    assert_eq!(tomb.spec, policy("b", "r", 3, 1, "m").spec);
    assert!(
        j.seed(
            &[
                policy("a", "p", 1, 1, "m"),
                policy("a", "q", 7, 2, "m"),
                policy("b", "s", 8, 1, "m")
            ],
            at(9)
        )
        .unwrap()
        .is_empty(),
        "a second seed of the same state adds nothing"
    );
}

#[test]
fn a_seed_within_one_namespace_leaves_the_others_alone() {
    let (_dir, mut j) = journal();
    j.seed(
        &[policy("a", "p", 1, 1, "m"), policy("b", "r", 2, 1, "m")],
        at(0),
    )
    .unwrap();
    // A recorder that may watch `a` only lists `a`: q is new, p gone, b untouched.
    let listed: Vec<PolicyObject> = vec![policy("a", "q", 3, 1, "m").into()];
    let recorded = j
        .seed_within(
            PolicyKind::NetworkPolicy,
            Some(&["a".to_string()]),
            &listed,
            at(5),
            &mut |_| {},
        )
        .unwrap();
    let got: Vec<(String, bool)> = recorded
        .iter()
        .map(|r| (format!("{}/{}", r.namespace, r.name), r.deleted))
        .collect();
    assert_eq!(got, [("a/q".into(), false), ("a/p".into(), true)]);
    assert_eq!(
        numbers(&j, "b", "r"),
        [1],
        "another namespace got a tombstone"
    );
}

#[test]
fn latest_change_summarises_the_newest_revision() {
    let (_dir, mut j) = journal();
    assert!(j.latest_change("a", "p").unwrap().is_none());
    j.observe(&policy("a", "p", 1, 2, "kubectl"), at(0))
        .unwrap();
    let change = j.latest_change("a", "p").unwrap().unwrap();
    assert_eq!(change.number, 1);
    assert_eq!(
        change.summary,
        "first seen: ingress rules 2, egress rules 0"
    );
    let mut next = policy("a", "p", 2, 3, "flux");
    next.spec.as_mut().unwrap().pod_selector = Some(Default::default());
    next.metadata.labels =
        Some([("team".into(), "api".into()), ("tier".into(), "1".into())].into());
    j.observe(&next, at(1)).unwrap();
    let change = j.latest_change("a", "p").unwrap().unwrap();
    assert_eq!(
        (change.number, change.manager.as_deref(), change.operation),
        (2, Some("flux"), Operation::Observed)
    );
    assert_eq!(
        change.summary,
        "podSelector changed, ingress rules 2→3, labels ~team +tier"
    );
    assert_eq!(change.observed_at, stamp(at(1)));
    j.observe(&policy("b", "q", 3, 1, "m"), at(2)).unwrap();
    let all = j.latest_changes().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[&crate::history::PolicyKey::network("a", "p")], change);
    assert_eq!(all[&crate::history::PolicyKey::network("b", "q")].number, 1);
}

#[test]
fn same_length_rule_changes_and_policy_types_are_summarised() {
    let (_dir, mut j) = journal();
    let old = j
        .observe(&policy("a", "p", 1, 2, "m"), at(0))
        .unwrap()
        .unwrap();
    let mut changed = policy("a", "p", 2, 2, "m");
    let spec = changed.spec.as_mut().unwrap();
    spec.ingress.as_mut().unwrap()[0].ports = None;
    spec.policy_types = Some(vec!["Ingress".into(), "Egress".into()]);
    changed.metadata.annotations = Some([("note".into(), "x".into())].into());
    let new = j.observe(&changed, at(1)).unwrap().unwrap();
    assert_eq!(
        summarize(Some(&old), &new),
        "policyTypes default→Ingress+Egress, ingress rules changed, annotations +note"
    );
}

#[test]
fn a_journal_from_a_newer_palisade_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    drop(Journal::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 7).unwrap();
    drop(conn);
    let err = Journal::open(&path).err().unwrap();
    assert!(err.to_string().contains("schema version 7"), "{err}");
    assert!(matches!(
        Journal::open_existing(&dir.path().join("none.sqlite")),
        Err(Error::Missing(_))
    ));
}

#[test]
fn a_version_1_journal_is_migrated_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(super::schema::SCHEMA_V1).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute(
        "INSERT INTO audit (at, actor, cluster, context, namespace, name, kind, reason, outcome) \
         VALUES ('2026-01-01T00:00:00.000Z', 'a', 'c', 'x', 'ns', 'p', 'revert', 'r', 'done')",
        [],
    )
    .unwrap();
    drop(conn);
    let journal = Journal::open(&path).unwrap();
    let version: i64 = journal
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, super::schema::SCHEMA_VERSION);
    let records = crate::rollback::audit::records(&journal, None).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].from_resource_version, None);
    assert_eq!(records[0].reason, "r");
}

#[test]
fn timestamps_sort_as_text() {
    let whole = stamp(Timestamp::from_second(1_780_000_000).unwrap());
    let fraction = stamp(Timestamp::from_millisecond(1_780_000_000_500).unwrap());
    assert_eq!(whole, "2026-05-28T20:26:40.000Z");
    assert_eq!(fraction, "2026-05-28T20:26:40.500Z");
    assert!(whole < fraction);
}

#[test]
fn recent_replacements_are_the_newest_with_the_revision_each_replaced() {
    let (_dir, mut j) = journal();
    let mut observe = |name: &str, rv: u32, rules: usize, seconds: i64| {
        j.observe(&policy("a", name, rv, rules, "kubectl"), at(seconds))
            .unwrap()
            .unwrap();
    };
    // p: revisions 1-4 at 0, 10, 20, 30 s; q: 1 at 5 s, 2 at 25 s; r: only a first one, at 40 s.
    observe("p", 1, 1, 0);
    observe("q", 2, 1, 5);
    observe("p", 3, 2, 10);
    observe("p", 4, 3, 20);
    observe("q", 5, 2, 25);
    observe("p", 6, 4, 30);
    observe("r", 7, 1, 40);
    let replaced = |since: i64, at_most: usize| {
        let (pairs, total) = j.recent_replacements(&stamp(at(since)), at_most).unwrap();
        let pairs: Vec<(String, u32, u32)> = (pairs.iter())
            .map(|(before, after)| (after.name.clone(), before.number, after.number))
            .collect();
        (pairs, total)
    };
    let named = |pairs: &[(&str, u32, u32)]| -> Vec<(String, u32, u32)> {
        (pairs.iter())
            .map(|(name, b, a)| (name.to_string(), *b, *a))
            .collect()
    };
    // From 10 s: p 1→2 (10 s), p 2→3 (20 s), q 1→2 (25 s), p 3→4 (30 s); a first revision
    // replaces nothing.
    assert_eq!(
        replaced(10, 100),
        (
            named(&[("p", 3, 4), ("q", 1, 2), ("p", 2, 3), ("p", 1, 2)]),
            4
        )
    );
    assert_eq!(replaced(10, 2), (named(&[("p", 3, 4), ("q", 1, 2)]), 4));
    assert_eq!(replaced(21, 100), (named(&[("p", 3, 4), ("q", 1, 2)]), 2));
    assert_eq!(replaced(31, 100), (Vec::new(), 0));
}

/// Journalling cost on this machine: `cargo test --lib journalling_throughput -- --ignored
/// --nocapture`. Each revision is its own fsynced transaction, as in the recorder.
#[test]
#[ignore = "a measurement, not a check"]
fn journalling_throughput() {
    let (_dir, mut j) = journal();
    let count = 2000;
    let start = std::time::Instant::now();
    for i in 0..count {
        j.observe(
            &policy("a", &format!("p{}", i % 50), i + 1, (i % 7) as usize, "m"),
            at(i64::from(i)),
        )
        .unwrap();
    }
    let elapsed = start.elapsed();
    let seeded: Vec<NetworkPolicy> = (0..count)
        .map(|i| policy("s", &format!("p{i}"), i + 1, 2, "m"))
        .collect();
    let seed_start = std::time::Instant::now();
    j.seed(&seeded, at(0)).unwrap();
    let seed_elapsed = seed_start.elapsed();
    eprintln!(
        "observe: {count} revisions in {elapsed:?} ({:.0}/s); seed of {count} policies in one transaction: {seed_elapsed:?}",
        f64::from(count) / elapsed.as_secs_f64()
    );
}

#[test]
fn the_journal_and_its_wal_files_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "kubectl"), at(0))
        .unwrap();
    let base = dir.path().join("nested/dir/j.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", base.display()));
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{} is {:o}",
            path.display(),
            mode & 0o777
        );
    }
}

#[test]
fn readers_open_the_journal_read_only() {
    let (dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "kubectl"), at(0))
        .unwrap();
    drop(j);
    let path = dir.path().join("nested/dir/j.sqlite");
    let reader = Journal::open_existing(&path).unwrap();
    assert_eq!(reader.revisions("a", "p").unwrap().len(), 1);
    let written = reader
        .conn
        .execute("DELETE FROM revisions", [])
        .expect_err("a reader cannot write");
    assert!(written.to_string().contains("readonly"), "{written}");
}

#[test]
fn the_immutable_fallback_reads_the_whole_journal() {
    let (dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "kubectl"), at(0))
        .unwrap();
    j.observe(&policy("a", "p", 2, 2, "kubectl"), at(1))
        .unwrap();
    drop(j);
    // A name with characters a URI reserves.
    let odd = dir.path().join("odd %3F?#é.sqlite");
    std::fs::rename(dir.path().join("nested/dir/j.sqlite"), &odd).unwrap();
    let uri = super::store::immutable_uri(&odd);
    let conn = rusqlite::Connection::open_with_flags(
        &uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM revisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2, "{}", uri.display());
}
