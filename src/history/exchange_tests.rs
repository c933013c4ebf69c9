//! Unit tests of export and import.

use std::io::Cursor;

use super::tests::{at, journal, policy};
use super::*;

#[test]
fn export_then_import_into_an_empty_journal_gives_identical_revisions() {
    let (_dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "kubectl"), at(0))
        .unwrap();
    j.observe(&policy("a", "p", 2, 2, "flux"), at(1)).unwrap();
    j.deleted("a", "p", None, at(2)).unwrap();
    j.observe(&policy("b", "q", 3, 0, "m"), at(3)).unwrap();
    let mut exported = Vec::new();
    assert_eq!(j.export(&mut exported).unwrap().written, 4);
    let text = String::from_utf8(exported.clone()).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(
        text.lines()
            .all(|l| l.starts_with("{\"journal_format\":1,")),
        "{text}"
    );

    let (_dir2, mut copy) = journal();
    let report = copy.import(&mut Cursor::new(&exported)).unwrap();
    assert_eq!(
        report,
        ImportReport {
            read: 4,
            imported: 4,
            duplicates: 0,
            renumbered: 0
        }
    );
    for (ns, name) in [("a", "p"), ("b", "q")] {
        assert_eq!(
            copy.revisions(ns, name).unwrap(),
            j.revisions(ns, name).unwrap()
        );
    }
    // A file holding the export twice (concatenated) imports each revision once.
    let (_dir3, mut twice) = journal();
    let doubled = [exported.clone(), exported.clone()].concat();
    let report = twice.import(&mut Cursor::new(doubled)).unwrap();
    assert_eq!((report.read, report.imported, report.duplicates), (8, 4, 4));
    assert_eq!(
        twice.revisions("a", "p").unwrap(),
        j.revisions("a", "p").unwrap()
    );
    // Importing the same file again changes nothing.
    let again = copy.import(&mut Cursor::new(&exported)).unwrap();
    assert_eq!((again.imported, again.duplicates), (0, 4));
    assert_eq!(copy.count().unwrap(), 4);
}

#[test]
fn import_merges_older_history_in_time_order() {
    // A recorder saw rv 1 and 2; a console journal seeded later saw only rv 2.
    let (_dir, mut recorder) = journal();
    recorder
        .observe(&policy("a", "p", 1, 1, "m"), at(0))
        .unwrap();
    recorder
        .observe(&policy("a", "p", 2, 2, "m"), at(1))
        .unwrap();
    let (_dir2, mut console) = journal();
    console
        .observe(&policy("a", "p", 2, 2, "m"), at(5))
        .unwrap();
    console
        .observe(&policy("a", "p", 3, 3, "m"), at(6))
        .unwrap();
    let mut exported = Vec::new();
    recorder.export(&mut exported).unwrap();
    let report = console.import(&mut Cursor::new(&exported)).unwrap();
    assert_eq!(
        report,
        ImportReport {
            read: 2,
            imported: 1,
            duplicates: 1,
            renumbered: 1
        }
    );
    let versions: Vec<(u32, Option<String>)> = console
        .revisions("a", "p")
        .unwrap()
        .into_iter()
        .map(|r| (r.number, r.resource_version))
        .collect();
    assert_eq!(
        versions,
        [
            (1, Some("1".into())),
            (2, Some("2".into())),
            (3, Some("3".into()))
        ]
    );
}

#[test]
fn an_import_with_one_bad_line_imports_nothing_and_names_the_line() {
    let (_dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "m"), at(0)).unwrap();
    j.observe(&policy("a", "p", 2, 2, "m"), at(1)).unwrap();
    let mut exported = Vec::new();
    j.export(&mut exported).unwrap();
    let good = String::from_utf8(exported).unwrap();
    let (_dir2, mut target) = journal();
    for (bad, expected) in [
        (
            "{\"journal_format\": 1, \"namespace\": \"a\"}",
            "bad revision",
        ),
        ("not json", "not JSON"),
        (
            "{\"journal_format\": 9}",
            "journal_format 9 is not supported",
        ),
        (
            &good
                .lines()
                .next()
                .unwrap()
                .replace("\"observed_at\":\"", "\"observed_at\":\"x"),
            "observed_at",
        ),
    ] {
        let input = format!("{good}\n{bad}\n");
        let err = target.import(&mut Cursor::new(input)).unwrap_err();
        let Error::Import { line, message } = &err else {
            panic!("an import error, got {err}")
        };
        assert_eq!(*line, 4, "lines count from 1, blank ones included: {err}");
        assert!(message.contains(expected), "{message}");
        assert_eq!(target.count().unwrap(), 0, "nothing imported");
    }
}

#[test]
fn export_skips_unreadable_rows_and_names_them() {
    let (_dir, mut j) = journal();
    j.observe(&policy("a", "p", 1, 1, "kubectl"), at(0))
        .unwrap();
    j.observe(&policy("a", "p", 2, 2, "kubectl"), at(1))
        .unwrap();
    j.observe(&policy("b", "q", 3, 0, "m"), at(2)).unwrap();
    j.observe(&policy("c", "r", 4, 0, "m"), at(3)).unwrap();
    // Valid JSON that is no NetworkPolicySpec (the schema only checks json_valid), and bytes
    // where text belongs.
    j.conn
        .execute(
            "UPDATE revisions SET spec = '{\"podSelector\": 7}' WHERE namespace = 'a' AND number = 1",
            [],
        )
        .unwrap();
    j.conn
        .execute(
            "UPDATE revisions SET manager = X'FF' WHERE namespace = 'c'",
            [],
        )
        .unwrap();
    let mut exported = Vec::new();
    let report = j.export(&mut exported).unwrap();
    assert_eq!(report.written, 2);
    let text = String::from_utf8(exported).unwrap();
    let written: Vec<(String, u32)> = text
        .lines()
        .map(|l| serde_json::from_str::<exchange::RevisionLine>(l).unwrap())
        .map(|l| (format!("{}/{}", l.namespace, l.name), l.revision))
        .collect();
    assert_eq!(written, [("a/p".to_string(), 2), ("b/q".to_string(), 1)]);
    assert_eq!(report.unreadable.len(), 2, "{:?}", report.unreadable);
    assert!(
        report.unreadable[0].contains("a/p #1") && report.unreadable[0].contains("spec"),
        "{:?}",
        report.unreadable
    );
    assert!(
        report.unreadable[1].contains("(c/r)"),
        "{:?}",
        report.unreadable
    );
}

#[test]
fn the_column_count_matches_the_column_list() {
    assert_eq!(
        super::store::COLUMNS.split(',').count(),
        exchange::COLUMN_COUNT
    );
}

#[test]
fn export_and_import_report_their_rows_as_phases() {
    let (_dir, mut j) = journal();
    for i in 0..300u32 {
        j.observe(&policy("a", &format!("p{i}"), i + 1, 1, "m"), at(i.into()))
            .unwrap();
    }
    let mut phases = Vec::new();
    let mut exported = Vec::new();
    j.export_reporting(&mut exported, &mut |p| phases.push(p.to_string()))
        .unwrap();
    assert_eq!(
        phases,
        [
            "exporting revisions 0/300",
            "exporting revisions 256/300",
            "exporting revisions 300/300"
        ]
    );

    let (_dir2, mut copy) = journal();
    let mut phases = Vec::new();
    copy.import_reporting(&mut Cursor::new(&exported), &mut |p| {
        phases.push(p.to_string())
    })
    .unwrap();
    assert_eq!(
        phases,
        [
            "reading revisions 256",
            "merging policies 0/300",
            "merging policies 256/300",
            "merging policies 300/300"
        ]
    );
}

#[test]
fn seeding_reports_its_progress() {
    let (_dir, mut j) = journal();
    let policies: Vec<_> = (0..3u32)
        .map(|i| policy("a", &format!("p{i}"), i + 1, 1, "m").into())
        .collect();
    let mut phases = Vec::new();
    j.seed_reporting(
        crate::history::PolicyKind::NetworkPolicy,
        &policies,
        at(0),
        &mut |p| phases.push(p.to_string()),
    )
    .unwrap();
    assert_eq!(
        phases,
        ["seeding the journal 0/3", "seeding the journal 3/3"]
    );
}
