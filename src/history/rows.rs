//! Revisions as rows: the column list, insertion, and decoding with clear errors for a row that
//! does not parse.

use rusqlite::{Connection, Row, params};

use super::content::Content;
use super::{Error, Operation, PolicyKind, Result, Revision};

pub(super) const COLUMNS: &str = "cluster, context, namespace, name, number, resource_version, \
    generation, observed_at, manager, operation, deleted, spec, labels, annotations, kind";

pub(super) fn insert(conn: &Connection, revision: &Revision) -> Result<()> {
    let content = Content::of_revision(revision);
    let sql = format!(
        "INSERT INTO revisions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
         ?12, ?13, ?14, ?15)"
    );
    conn.prepare_cached(&sql)?.execute(params![
        revision.cluster,
        revision.context,
        revision.namespace,
        revision.name,
        revision.number,
        revision.resource_version,
        revision.generation,
        revision.observed_at,
        revision.manager,
        revision.operation.as_str(),
        revision.deleted,
        content.spec,
        content.labels,
        content.annotations,
        revision.kind.as_str(),
    ])?;
    Ok(())
}

/// A row as stored, before its JSON is parsed.
pub(super) struct Raw {
    cluster: String,
    context: String,
    namespace: String,
    name: String,
    number: i64,
    resource_version: Option<String>,
    generation: Option<i64>,
    observed_at: String,
    manager: Option<String>,
    operation: String,
    deleted: bool,
    spec: String,
    labels: String,
    annotations: String,
    kind: String,
}

pub(super) fn raw(row: &Row) -> rusqlite::Result<Raw> {
    Ok(Raw {
        cluster: row.get(0)?,
        context: row.get(1)?,
        namespace: row.get(2)?,
        name: row.get(3)?,
        number: row.get(4)?,
        resource_version: row.get(5)?,
        generation: row.get(6)?,
        observed_at: row.get(7)?,
        manager: row.get(8)?,
        operation: row.get(9)?,
        deleted: row.get(10)?,
        spec: row.get(11)?,
        labels: row.get(12)?,
        annotations: row.get(13)?,
        kind: row.get(14)?,
    })
}

pub(super) fn decode(raw: Raw) -> Result<Revision> {
    let corrupt = |message: String| Error::Corrupt {
        policy: match PolicyKind::parse(&raw.kind) {
            Some(PolicyKind::Tier(kind)) => format!("{}/{}", kind.short_name(), raw.name),
            Some(PolicyKind::Native(kind)) => {
                crate::model::NativeRef::new(kind, &raw.namespace, &raw.name).to_string()
            }
            _ => format!("{}/{}", raw.namespace, raw.name),
        },
        number: raw.number,
        message,
    };
    let kind = PolicyKind::parse(&raw.kind)
        .ok_or_else(|| corrupt(format!("unknown kind `{}`", raw.kind)))?;
    let operation = Operation::parse(&raw.operation)
        .ok_or_else(|| corrupt(format!("unknown operation `{}`", raw.operation)))?;
    let number = u32::try_from(raw.number).map_err(|e| corrupt(e.to_string()))?;
    let (spec, tier_spec) = match kind {
        PolicyKind::NetworkPolicy => (
            serde_json::from_str(&raw.spec).map_err(|e| corrupt(format!("spec: {e}")))?,
            None,
        ),
        PolicyKind::Tier(_) | PolicyKind::Native(_) => {
            let value: serde_json::Value =
                serde_json::from_str(&raw.spec).map_err(|e| corrupt(format!("spec: {e}")))?;
            (None, (!value.is_null()).then_some(value))
        }
    };
    let labels = serde_json::from_str(&raw.labels).map_err(|e| corrupt(format!("labels: {e}")))?;
    let annotations =
        serde_json::from_str(&raw.annotations).map_err(|e| corrupt(format!("annotations: {e}")))?;
    Ok(Revision {
        cluster: raw.cluster,
        context: raw.context,
        kind,
        namespace: raw.namespace,
        name: raw.name,
        number,
        resource_version: raw.resource_version,
        generation: raw.generation,
        observed_at: raw.observed_at,
        manager: raw.manager,
        operation,
        deleted: raw.deleted,
        spec,
        tier_spec,
        labels,
        annotations,
    })
}
