//! Text to objects: multi-document YAML or JSON, with lists flattened into their items.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_saphyr::Spanned;
use serde_saphyr::granit_parser::{Event, Parser};

use super::strict::{Checked, value_noting_duplicates};
use crate::yaml;

/// A problem met while loading; it never stops the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    /// Index of the document within the file (0-based), when the problem is in one document.
    pub document: Option<usize>,
    pub reason: String,
    pub class: WarningClass,
}

/// What a warning means for the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningClass {
    /// A file, document or object that could not be read: it is missing from the analysis.
    Broken,
    /// A kind Palisade does not use, skipped on purpose.
    UnusedKind,
    /// An object the API server's strict field validation rejects (an unknown field, a key
    /// given twice). It is analysed as written, the way netpol-analyzer reads it, but a
    /// cluster would never hold it.
    Rejected,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.document {
            Some(i) => write!(f, "{} (document {i}): {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

/// One Kubernetes object, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub file: PathBuf,
    pub index: usize,
    pub value: Value,
    /// Paths of keys given twice in one mapping of this object (the last one is in `value`).
    pub duplicates: Vec<String>,
}

/// Parses one file's text into objects. Lists (`List`, `PodList`, ...) are flattened; their items
/// get the kind the list implies when they omit it.
pub fn parse_text(file: &Path, text: &str) -> (Vec<Document>, Vec<Warning>) {
    let is_json = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let (mut values, mut errors) = if is_json {
        match json_document(text) {
            Ok(v) => (vec![(0, v)], vec![]),
            // Some `.json` files are really YAML.
            Err(_) => parse_yaml(text),
        }
    } else {
        parse_yaml(text)
    };
    // Go's YAML parser accepts TABs where YAML 1.2 does not (e.g. after a plain scalar).
    if !errors.is_empty() && text.contains('\t') {
        let (v2, e2) = parse_yaml(&text.replace('\t', " "));
        if e2.len() < errors.len() {
            (values, errors) = (v2, e2);
        }
    }
    let mut warnings: Vec<Warning> = errors
        .into_iter()
        .map(|(i, reason)| Warning {
            file: file.to_path_buf(),
            document: Some(i),
            reason,
            class: WarningClass::Broken,
        })
        .collect();
    let mut docs = Vec::new();
    for (index, v) in values {
        flatten(file, index, v, &mut docs, &mut warnings);
    }
    (docs, warnings)
}

/// Documents as values noting duplicate keys, or (document index, error) for those that fail.
type Parsed = (Vec<(usize, Checked)>, Vec<(usize, String)>);

fn json_document(text: &str) -> Result<Checked, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let checked = value_noting_duplicates(&mut deserializer)?;
    deserializer.end()?;
    Ok(checked)
}

fn parse_yaml(text: &str) -> Parsed {
    let documents = DocumentStarts::of(text);
    let mut values = Vec::new();
    let mut errors = Vec::new();
    let mut reader = text.as_bytes();
    // `read` goes on after a document that cannot be read, and stops at a syntax error. It
    // skips empty documents, so each result is placed by its position.
    for result in serde_saphyr::read_with_options::<_, Spanned<CheckedDocument>>(
        &mut reader,
        yaml::manifest_options(),
    ) {
        match result {
            Ok(Spanned {
                value:
                    CheckedDocument(Checked {
                        value: Value::Null, ..
                    }),
                ..
            }) => {}
            Ok(spanned) => values.push((
                documents.index_at(spanned.referenced.span().offset()),
                spanned.value.0,
            )),
            Err(e) => {
                let index = match e.location() {
                    Some(at) => documents.index_at(at.span().offset()),
                    None => documents.broken_at.unwrap_or(documents.starts.len()),
                };
                errors.push((index, format!("cannot parse: {e}")));
            }
        }
    }
    (values, errors)
}

/// A document read as a value, noting duplicate keys.
struct CheckedDocument(Checked);

impl<'de> serde::Deserialize<'de> for CheckedDocument {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        value_noting_duplicates(deserializer).map(CheckedDocument)
    }
}

/// Where each document of a YAML stream starts (in characters, as the deserializer's locations
/// count), from the parser's events; and how many documents were complete before a syntax
/// error, if any.
struct DocumentStarts {
    starts: Vec<u64>,
    broken_at: Option<usize>,
}

impl DocumentStarts {
    fn of(text: &str) -> DocumentStarts {
        let mut starts = Vec::new();
        let mut ended = 0;
        let mut parser = Parser::new_from_str(text);
        while let Some(event) = parser.next_event() {
            match event {
                Ok((Event::DocumentStart(..), span)) => starts.push(span.start.index() as u64),
                Ok((Event::DocumentEnd, _)) => ended += 1,
                Ok(_) => {}
                Err(_) => {
                    return DocumentStarts {
                        starts,
                        broken_at: Some(ended),
                    };
                }
            }
        }
        DocumentStarts {
            starts,
            broken_at: None,
        }
    }

    /// The index of the document holding the character at `offset`.
    fn index_at(&self, offset: u64) -> usize {
        self.starts
            .partition_point(|start| *start <= offset)
            .saturating_sub(1)
    }
}

fn flatten(file: &Path, index: usize, c: Checked, out: &mut Vec<Document>, w: &mut Vec<Warning>) {
    let Checked {
        value: v,
        duplicates,
    } = c;
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
    if let (Some(item_kind), Some(items)) = (kind.strip_suffix("List"), v.get("items")) {
        let Some(items) = items.as_array() else {
            w.push(Warning {
                file: file.to_path_buf(),
                document: Some(index),
                reason: format!("{kind}: `items` is not a list"),
                class: WarningClass::Broken,
            });
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let mut item = item.clone();
            if let Some(obj) = item.as_object_mut()
                && !obj.contains_key("kind")
                && !item_kind.is_empty()
            {
                obj.insert("kind".into(), Value::String(item_kind.to_string()));
            }
            let prefix = format!("items[{i}].");
            let duplicates = duplicates
                .iter()
                .filter_map(|path| path.strip_prefix(&prefix).map(String::from))
                .collect();
            flatten(
                file,
                index,
                Checked {
                    value: item,
                    duplicates,
                },
                out,
                w,
            );
        }
        return;
    }
    if !v.is_object() {
        w.push(Warning {
            file: file.to_path_buf(),
            document: Some(index),
            reason: "not a Kubernetes object (expected a mapping)".into(),
            class: WarningClass::Broken,
        });
        return;
    }
    out.push(Document {
        file: file.to_path_buf(),
        index,
        value: v,
        duplicates,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> (Vec<Document>, Vec<Warning>) {
        parse_text(Path::new(name), text)
    }

    #[test]
    fn multi_document_yaml() {
        let (d, w) = parse("a.yaml", "kind: Pod\n---\n---\nkind: Namespace\n");
        assert_eq!(d.len(), 2);
        assert!(w.is_empty());
        assert_eq!(d[1].index, 2);
    }

    #[test]
    fn typed_lists_imply_the_item_kind() {
        let (d, _) = parse(
            "l.json",
            r#"{"kind":"PodList","items":[{"metadata":{"name":"a"}},{"kind":"Pod"}]}"#,
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].value["kind"], "Pod");
    }

    #[test]
    fn tabs_in_flow_sequences_are_tolerated() {
        let (d, w) = parse(
            "t.yaml",
            "kind: Pod\nmetadata:\n  labels: {a: b}\nx: [1,\t2]\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn malformed_documents_warn_with_file_and_index() {
        let (d, w) = parse("bad.yaml", "kind: Pod\n---\nkind: [unclosed\n");
        assert_eq!(d.len(), 1);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].document, Some(1));
        assert!(w[0].to_string().starts_with("bad.yaml (document 1)"));
        let (_, w) = parse("s.yaml", "just a string\n");
        assert_eq!(w.len(), 1);
    }
}
