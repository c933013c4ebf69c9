//! Export and import as JSON lines: one revision per line, each line carrying its
//! `journal_format`, so a file can be concatenated, grepped and read line by line. A
//! NetworkPolicy's line is format 1 (as before tier policies, so an older palisade still reads an
//! export of NetworkPolicies); a tier policy's or a CNI policy's line is format 2, which adds
//! `kind` (an older palisade refuses it by its format, rather than misreading it as a namespaced
//! policy; one that knows tiers but not CNI policies refuses the line by its kind).
//!
//! Import checks every line before writing anything, then writes in one transaction: a bad line
//! imports nothing and is named by its number. Revisions the journal already has (same policy and
//! resourceVersion, or, without one, same time and content) are skipped. New ones are merged
//! into each policy's history in time order; a revision equal in content to the one before it
//! adds nothing. When the merge puts imported revisions before ones the journal had, the policy's
//! revisions are renumbered (1, 2, 3, … again) and the report says how many policies were.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use k8s_openapi::jiff::Timestamp;
use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};

use super::content::Content;
use super::store::{COLUMNS, Journal, decode, insert, key_params, raw};
use super::{Error, Operation, PolicyKey, PolicyKind, Result, Revision};
use crate::progress::Phase;

const EXPORTING: &str = "exporting revisions";
const MERGING: &str = "merging policies";
/// Rows between two progress reports: often enough to move, rarely enough to cost nothing.
const PHASE_EVERY: u64 = 256;

/// The export format of a NetworkPolicy's line (no `kind`).
pub const FORMAT: u32 = 1;
/// The export format of a tier or CNI policy's line: format 1 plus `kind`.
pub const FORMAT_TIERS: u32 = 2;

/// One revision as a JSON line (also `palisade history --output json`, with `summary`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisionLine {
    pub journal_format: u32,
    pub cluster: String,
    pub context: String,
    /// The tier or CNI kind (format 2; Calico's NetworkPolicy is
    /// `NetworkPolicy.projectcalico.org`); absent for a NetworkPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Empty for a cluster-scoped policy.
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    pub revision: u32,
    pub resource_version: Option<String>,
    pub generation: Option<i64>,
    pub observed_at: String,
    pub manager: Option<String>,
    pub operation: Operation,
    pub deleted: bool,
    pub spec: Option<serde_json::Value>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl RevisionLine {
    pub fn of(revision: &Revision) -> RevisionLine {
        let tier = revision.kind != PolicyKind::NetworkPolicy;
        RevisionLine {
            journal_format: if tier { FORMAT_TIERS } else { FORMAT },
            cluster: revision.cluster.clone(),
            context: revision.context.clone(),
            kind: tier.then(|| revision.kind.as_str().to_string()),
            namespace: revision.namespace.clone(),
            name: revision.name.clone(),
            revision: revision.number,
            resource_version: revision.resource_version.clone(),
            generation: revision.generation,
            observed_at: revision.observed_at.clone(),
            manager: revision.manager.clone(),
            operation: revision.operation,
            deleted: revision.deleted,
            spec: (!revision.spec_value().is_null()).then(|| revision.spec_value()),
            labels: revision.labels.clone(),
            annotations: revision.annotations.clone(),
            summary: None,
        }
    }

    /// The revision the line describes; why not, for a spec that is not of its kind.
    fn into_revision(self) -> std::result::Result<Revision, String> {
        let kind = match &self.kind {
            None => PolicyKind::NetworkPolicy,
            Some(text) => PolicyKind::parse(text)
                .filter(|k| *k != PolicyKind::NetworkPolicy)
                .ok_or_else(|| format!("unknown tier or CNI policy kind `{text}`"))?,
        };
        let (spec, tier_spec) = match kind {
            PolicyKind::NetworkPolicy => (
                self.spec
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| format!("spec is not a NetworkPolicy spec: {e}"))?,
                None,
            ),
            PolicyKind::Tier(_) | PolicyKind::Native(_) => {
                (None, self.spec.filter(|s| !s.is_null()))
            }
        };
        Ok(Revision {
            cluster: self.cluster,
            context: self.context,
            kind,
            namespace: self.namespace,
            name: self.name,
            number: self.revision,
            resource_version: self.resource_version,
            generation: self.generation,
            observed_at: self.observed_at,
            manager: self.manager,
            operation: self.operation,
            deleted: self.deleted,
            spec,
            tier_spec,
            labels: self.labels,
            annotations: self.annotations,
        })
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Revisions in the file.
    pub read: usize,
    /// Revisions added to the journal.
    pub imported: usize,
    /// Revisions the journal already had (or that changed nothing), skipped.
    pub duplicates: usize,
    /// Policies whose existing revisions were renumbered because older ones were imported.
    pub renumbered: usize,
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Revisions written.
    pub written: usize,
    /// Rows that could not be read, each named (policy, revision number, row id) with the reason;
    /// every other row was written.
    pub unreadable: Vec<String>,
}

impl Journal {
    /// Writes every readable revision, policy by policy and oldest first. A row that cannot be
    /// decoded is skipped and named in the report, so one bad row loses nothing else.
    pub fn export(&self, out: &mut dyn Write) -> Result<ExportReport> {
        self.export_reporting(out, &mut |_| {})
    }

    /// As [`Journal::export`], reporting `exporting revisions done/total` every few rows.
    pub fn export_reporting(
        &self,
        out: &mut dyn Write,
        on_phase: &mut dyn FnMut(&Phase),
    ) -> Result<ExportReport> {
        self.export_where(out, &|_| true, on_phase)
    }

    /// As [`Journal::export_reporting`], writing only the revisions `keep` says yes to
    /// (`history export -n NS`).
    pub fn export_where(
        &self,
        out: &mut dyn Write,
        keep: &dyn Fn(&Revision) -> bool,
        on_phase: &mut dyn FnMut(&Phase),
    ) -> Result<ExportReport> {
        let total: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM revisions", [], |row| row.get(0))?;
        let total = u64::try_from(total).unwrap_or_default();
        let mut done = 0u64;
        on_phase(&Phase::counted(EXPORTING, 0, Some(total)));
        let sql = format!(
            "SELECT {COLUMNS}, id FROM revisions ORDER BY kind = 'NetworkPolicy' DESC, kind, \
             namespace, name, number, id"
        );
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query([])?;
        let mut report = ExportReport::default();
        while let Some(row) = rows.next()? {
            match raw(row).map_err(Error::from).and_then(decode) {
                Ok(revision) if !keep(&revision) => {}
                Ok(revision) => {
                    let line = RevisionLine::of(&revision);
                    serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
                    out.write_all(b"\n")?;
                    report.written += 1;
                }
                Err(err) => report.unreadable.push(describe_unreadable(row, &err)),
            }
            done += 1;
            if done.is_multiple_of(PHASE_EVERY) || done == total {
                on_phase(&Phase::counted(EXPORTING, done, Some(total)));
            }
        }
        out.flush()?;
        Ok(report)
    }

    /// Reads JSON lines and merges them in, all or nothing.
    pub fn import(&mut self, input: &mut dyn BufRead) -> Result<ImportReport> {
        self.import_reporting(input, &mut |_| {})
    }

    /// As [`Journal::import`], reporting `reading revisions N` (the file's length is not known
    /// ahead), then `merging policies done/total`.
    pub fn import_reporting(
        &mut self,
        input: &mut dyn BufRead,
        on_phase: &mut dyn FnMut(&Phase),
    ) -> Result<ImportReport> {
        let mut incoming: BTreeMap<PolicyKey, Vec<Revision>> = BTreeMap::new();
        let mut report = ImportReport::default();
        for (index, line) in input.lines().enumerate() {
            let number = index + 1;
            let line = line.map_err(|e| Error::Import {
                line: number,
                message: e.to_string(),
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let revision = parse_line(&line).map_err(|message| Error::Import {
                line: number,
                message,
            })?;
            report.read += 1;
            if (report.read as u64).is_multiple_of(PHASE_EVERY) {
                on_phase(&Phase::counted(
                    "reading revisions",
                    report.read as u64,
                    None,
                ));
            }
            incoming.entry(revision.key()).or_default().push(revision);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let policies = incoming.len() as u64;
        for (done, (key, mut new)) in incoming.into_iter().enumerate() {
            let done = done as u64;
            if done.is_multiple_of(PHASE_EVERY) {
                on_phase(&Phase::counted(MERGING, done, Some(policies)));
            }
            let sql = format!(
                "SELECT {COLUMNS} FROM revisions WHERE kind = ?1 AND namespace = ?2 AND name = ?3 \
                 ORDER BY number"
            );
            let existing: Vec<Revision> = tx
                .prepare_cached(&sql)?
                .query_map(key_params(&key), raw)?
                .map(|row| decode(row?))
                .collect::<Result<_>>()?;
            new.sort_by_key(|r| r.number);
            let before = new.len();
            // Skip what the journal has, and repeats within the file (concatenated exports).
            let mut unique: Vec<Revision> = Vec::with_capacity(new.len());
            for revision in new {
                if !existing
                    .iter()
                    .chain(&unique)
                    .any(|e| same_revision(e, &revision))
                {
                    unique.push(revision);
                }
            }
            let new = unique;
            report.duplicates += before - new.len();
            if new.is_empty() {
                continue;
            }
            // Time order, the journal's own revisions first on ties, then each side's own order.
            let mut merged: Vec<(bool, Revision)> = existing
                .into_iter()
                .map(|r| (false, r))
                .chain(new.into_iter().map(|r| (true, r)))
                .collect();
            merged.sort_by(|(a_new, a), (b_new, b)| {
                a.observed_at
                    .cmp(&b.observed_at)
                    .then(a_new.cmp(b_new))
                    .then(a.number.cmp(&b.number))
            });
            let mut kept: Vec<(bool, Revision)> = Vec::with_capacity(merged.len());
            for (imported, revision) in merged {
                let redundant = kept.last().is_some_and(|(_, previous)| {
                    previous.deleted == revision.deleted
                        && Content::of_revision(previous) == Content::of_revision(&revision)
                });
                if redundant && imported {
                    report.duplicates += 1;
                } else {
                    kept.push((imported, revision));
                }
            }
            tx.execute(
                "DELETE FROM revisions WHERE kind = ?1 AND namespace = ?2 AND name = ?3",
                key_params(&key),
            )?;
            let mut renumbered = false;
            for (index, (imported, mut revision)) in kept.into_iter().enumerate() {
                let number = index as u32 + 1;
                renumbered |= !imported && revision.number != number;
                revision.number = number;
                report.imported += usize::from(imported);
                insert(&tx, &revision)?;
            }
            report.renumbered += usize::from(renumbered);
        }
        on_phase(&Phase::counted(MERGING, policies, Some(policies)));
        tx.commit()?;
        Ok(report)
    }
}

/// A bad row as the export names it: the row id, and the policy when its columns can be read.
fn describe_unreadable(row: &rusqlite::Row, err: &Error) -> String {
    let id: Option<i64> = row.get(COLUMN_COUNT).ok();
    let id = id.map_or_else(|| "?".to_string(), |id| id.to_string());
    match err {
        // Names the policy and revision already.
        Error::Corrupt { .. } => format!("row id {id}: {err}"),
        _ => {
            let text = |index: usize| row.get::<_, String>(index).ok();
            let policy = match (text(2), text(3)) {
                (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
                _ => "an unnamed policy".to_string(),
            };
            format!("row id {id} ({policy}): {err}")
        }
    }
}

/// How many columns `COLUMNS` lists (the export selects `id` after them).
pub(super) const COLUMN_COUNT: usize = 15;

/// The same stored version: same resourceVersion and tombstone flag, or, without a
/// resourceVersion, the same time, flag and content.
fn same_revision(a: &Revision, b: &Revision) -> bool {
    a.deleted == b.deleted
        && match (&a.resource_version, &b.resource_version) {
            (Some(x), Some(y)) => x == y,
            (None, None) => {
                a.observed_at == b.observed_at && Content::of_revision(a) == Content::of_revision(b)
            }
            _ => false,
        }
}

fn parse_line(line: &str) -> std::result::Result<Revision, String> {
    let probe: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    match probe
        .get("journal_format")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(FORMAT) || v == u64::from(FORMAT_TIERS) => {}
        Some(v) => {
            return Err(format!(
                "journal_format {v} is not supported (this palisade reads {FORMAT} and {FORMAT_TIERS})"
            ));
        }
        None => return Err("not a journal line: no journal_format".to_string()),
    }
    let parsed: RevisionLine =
        serde_json::from_value(probe).map_err(|e| format!("bad revision: {e}"))?;
    let format = parsed.journal_format;
    if parsed.kind.is_some() != (format == FORMAT_TIERS) {
        return Err(format!(
            "journal_format {format} lines {} kind",
            if format == FORMAT_TIERS {
                "need a"
            } else {
                "have no"
            }
        ));
    }
    if parsed.name.is_empty() {
        return Err("empty name".to_string());
    }
    if parsed.kind.is_none() && parsed.namespace.is_empty() {
        return Err("empty namespace".to_string());
    }
    // An unknown kind is said by `into_revision`.
    let kind = parsed.kind.as_deref().and_then(PolicyKind::parse);
    let namespaced = kind.is_some_and(PolicyKind::namespaced);
    if kind.is_some() && !namespaced && !parsed.namespace.is_empty() {
        return Err(format!(
            "a {} is cluster-scoped: its namespace must be empty",
            parsed.kind.as_deref().unwrap_or_default()
        ));
    }
    if namespaced && parsed.namespace.is_empty() {
        return Err("empty namespace".to_string());
    }
    if parsed.revision == 0 {
        return Err("revision numbers start at 1".to_string());
    }
    if parsed.operation != Operation::Rollback
        && parsed.deleted != (parsed.operation == Operation::Deleted)
    {
        return Err(format!(
            "operation `{}` does not match deleted={}",
            parsed.operation, parsed.deleted
        ));
    }
    let at: Timestamp = parsed
        .observed_at
        .parse()
        .map_err(|e| format!("observed_at `{}`: {e}", parsed.observed_at))?;
    let mut revision = parsed.into_revision()?;
    revision.observed_at = super::stamp(at);
    Ok(revision)
}
