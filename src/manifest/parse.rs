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

    // YAML 1.2.2 §3.2.2.2: an alias node stands for the node its anchor names, so the
    // object reads as if the node were written out again.
    #[test]
    fn aliases_repeat_the_anchored_node() {
        let (d, w) = parse(
            "a.yaml",
            "kind: NetworkPolicy\nspec:\n  podSelector: &web {matchLabels: {app: web}}\n  \
             ingress:\n  - from: [{podSelector: *web}]\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let spec = &d[0].value["spec"];
        assert_eq!(
            spec["ingress"][0]["from"][0]["podSelector"],
            spec["podSelector"]
        );
        assert!(d[0].duplicates.is_empty());
    }

    // YAML 1.2.2 §3.2.2.2: anchors do not reach across documents; an alias to an anchor of
    // another document names nothing, and its document cannot be read.
    #[test]
    fn an_alias_to_another_documents_anchor_breaks_only_its_document() {
        let (d, w) = parse(
            "a.yaml",
            "kind: Namespace\nmetadata: {labels: &l {a: b}}\n---\nkind: Pod\nmetadata: {labels: *l}\n",
        );
        assert_eq!(d.len(), 1);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].document, Some(1));
        assert!(w[0].reason.contains("unknown anchor"), "{}", w[0].reason);
    }

    // The merge key (yaml.org/type/merge.html, YAML 1.1; kubectl's YAML reader applies it):
    // `<<` inserts the keys of the given mapping(s) that the mapping does not have itself; of a
    // sequence of mappings, an earlier one wins over a later one. serde_yaml kept `<<` as an
    // ordinary key, so the labels below lacked `tier` and `team`.
    #[test]
    fn merge_keys_insert_the_keys_the_mapping_does_not_have() {
        let (d, w) = parse(
            "m.yaml",
            "kind: Pod\nx: [&web {app: web, tier: front}, &team {team: shop, tier: back}]\n\
             metadata:\n  labels:\n    <<: [*web, *team]\n    app: api\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            d[0].value["metadata"]["labels"],
            serde_json::json!({"app": "api", "tier": "front", "team": "shop"})
        );
        assert!(d[0].duplicates.is_empty(), "{:?}", d[0].duplicates);
    }

    // YAML 1.2.2 §3.2.1.1: the keys of a mapping are unique. serde-saphyr refuses a repeated key
    // by default; manifests are read with every entry passed on, so that the object is read
    // as written (the last value, as Go's reader keeps it) and the key is named by path, where
    // it was written and where an alias repeats it.
    #[test]
    fn keys_given_twice_are_named_where_they_appear() {
        let (d, w) = parse(
            "d.yaml",
            "kind: Pod\nmetadata:\n  labels: &l {app: a, app: b}\n  annotations: *l\n  name: x\n  name: y\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(d[0].value["metadata"]["labels"]["app"], "b");
        assert_eq!(d[0].value["metadata"]["name"], "y");
        assert_eq!(
            d[0].duplicates,
            [
                "metadata.labels.app",
                "metadata.annotations.app",
                "metadata.name"
            ]
        );
    }

    /// Keys YAML reads as other types are keys by their JSON text, as Kubernetes converts them.
    #[test]
    fn keys_that_are_not_strings_keep_their_text() {
        let (d, w) = parse("k.yaml", "kind: Pod\ndata: {1: a, true: b, null: c}\n");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            d[0].value["data"],
            serde_json::json!({"1": "a", "true": "b", "null": "c"})
        );
    }

    /// An alias bomb (each level repeats the one before nine times, 9^8 nodes in all) is
    /// refused by the reader's budget at once, as a document that cannot be read.
    #[test]
    fn an_alias_bomb_is_a_broken_document_not_a_hang() {
        let mut text = String::from("kind: Pod\n---\na: &a [x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            let refs = vec![format!("*{prev}"); 9].join(",");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let (d, w) = parse("bomb.yaml", &text);
        // 9^8 nodes would take minutes and gigabytes; the budget stops it after 250,000.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        assert_eq!(d.len(), 1);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].document, Some(1));
        assert_eq!(w[0].class, WarningClass::Broken);
    }

    /// A comment before the first `---` is no document of its own (YAML 1.2.2 §9.1.3: a bare
    /// document needs content); a null one is.
    #[test]
    fn empty_and_null_documents_are_skipped_but_counted() {
        let (d, w) = parse(
            "n.yaml",
            "# only a comment\n---\n~\n--- |\n  ---\n---\nkind: Pod\n...\n---\nkind: Namespace\n",
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(w.len(), 1, "the block scalar is not an object: {w:?}");
        assert_eq!((w[0].document, d[0].index, d[1].index), (Some(1), 2, 3));
    }

    /// The library's stream APIs count their budget (1,024 documents, 250,000 nodes) over the
    /// whole stream; manifests are read document by document, so a large file is not refused.
    #[test]
    fn a_file_of_more_than_1024_documents_is_read_whole() {
        let text = "kind: Pod\nmetadata: {name: p}\n---\n".repeat(1100);
        let (d, w) = parse("many.yaml", &text);
        assert!(w.is_empty(), "{:?}", w.first());
        assert_eq!(d.len(), 1100);
        assert_eq!(d[1099].index, 1099);
    }
}
