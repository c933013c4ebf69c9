//! A unified line diff of two policies rendered as YAML, with the changed words of each changed
//! line marked (as `git diff --word-diff`): the typical bad change is one port or one label.
//! The diff is `similar`'s (Myers for lines, its inline word diff within a changed stretch).

use std::collections::BTreeMap;
use std::ops::Range;

use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::history::PolicyObject;
use serde_json::{Value, json};
use similar::{Algorithm, ChangeTag, TextDiff};

/// Lines of context kept around each change.
pub const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    Context,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiffLine {
    pub kind: LineKind,
    pub text: String,
    /// Byte ranges of `text` that changed within the line (sorted, disjoint, never adjacent);
    /// empty for context lines and for lines added or removed whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Range<usize>>,
}

impl DiffLine {
    fn plain(kind: LineKind, text: &str) -> DiffLine {
        DiffLine {
            kind,
            text: text.to_string(),
            words: Vec::new(),
        }
    }

    /// The line cut into `(changed, piece)` runs, in order; one unchanged run without words.
    pub fn segments(&self) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut at = 0;
        for word in &self.words {
            if word.start > at {
                out.push((false, &self.text[at..word.start]));
            }
            out.push((true, &self.text[word.clone()]));
            at = word.end;
        }
        if at < self.text.len() || out.is_empty() {
            out.push((false, &self.text[at..]));
        }
        out
    }
}

/// The lines of a unified diff, hunks separated by a `Context` line `…` where lines were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Diff {
    pub lines: Vec<DiffLine>,
}

/// What of a policy the diff shows: labels, annotations and spec, as YAML.
pub fn policy_yaml(policy: Option<&NetworkPolicy>) -> String {
    object_yaml(policy.map(|p| PolicyObject::Network(p.clone())).as_ref())
}

/// [`policy_yaml`] for a policy of any kind (a tier policy's spec as served).
pub fn object_yaml(object: Option<&PolicyObject>) -> String {
    let Some(object) = object else {
        return String::new();
    };
    let empty = BTreeMap::new();
    let mut metadata = serde_json::Map::new();
    let labels = object.meta().labels.as_ref().unwrap_or(&empty);
    let annotations = object.meta().annotations.as_ref().unwrap_or(&empty);
    if !labels.is_empty() {
        metadata.insert("labels".into(), json!(labels));
    }
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), json!(annotations));
    }
    let mut doc = serde_json::Map::new();
    if !metadata.is_empty() {
        doc.insert("metadata".into(), Value::Object(metadata));
    }
    match (object, object.spec_value()) {
        // A CNI policy's body is its top-level fields already (`spec`, or Cilium's `specs`).
        (PolicyObject::Native(_), Value::Object(body)) => doc.extend(body),
        (_, spec) => {
            doc.insert("spec".into(), spec);
        }
    }
    crate::yaml::to_string(&Value::Object(doc)).unwrap_or_default()
}

impl Diff {
    /// The diff from `old` to `new` (`None`: absent, i.e. everything added or removed).
    pub fn of_policies(old: Option<&NetworkPolicy>, new: Option<&NetworkPolicy>) -> Diff {
        Diff::of_text(&policy_yaml(old), &policy_yaml(new), CONTEXT)
    }

    /// [`Diff::of_policies`] for policies of any kind.
    pub fn of_objects(old: Option<&PolicyObject>, new: Option<&PolicyObject>) -> Diff {
        Diff::of_text(&object_yaml(old), &object_yaml(new), CONTEXT)
    }

    /// A unified line diff with `context` lines around each change.
    pub fn of_text(old: &str, new: &str, context: usize) -> Diff {
        // A last line without its newline must still equal the same line with one.
        let (old, new) = (terminated(old), terminated(new));
        let diff = TextDiff::configure()
            .algorithm(Algorithm::Myers)
            .diff_lines(old.as_str(), new.as_str());
        let mut lines = Vec::new();
        for (n, group) in diff.grouped_ops(context).iter().enumerate() {
            if n > 0 {
                lines.push(DiffLine::plain(LineKind::Context, "…"));
            }
            for op in group {
                lines.extend(diff.iter_inline_changes(op).map(|change| {
                    let kind = match change.tag() {
                        ChangeTag::Equal => LineKind::Context,
                        ChangeTag::Insert => LineKind::Added,
                        ChangeTag::Delete => LineKind::Removed,
                    };
                    let mut line = DiffLine::plain(kind, "");
                    for (changed, piece) in change.iter_strings_lossy() {
                        let piece = piece.trim_end_matches(['\n', '\r']);
                        let at = line.text.len();
                        line.text.push_str(piece);
                        if changed && kind != LineKind::Context && !piece.is_empty() {
                            mark(&mut line.words, at..line.text.len());
                        }
                    }
                    // Every word changed is the whole line changed: nothing to point at.
                    if line.words.first() == Some(&(0..line.text.len())) {
                        line.words.clear();
                    }
                    line
                }));
            }
        }
        Diff { lines }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.kind == LineKind::Context)
    }

    /// (added, removed) line counts.
    pub fn counts(&self) -> (usize, usize) {
        let count = |k| self.lines.iter().filter(|l| l.kind == k).count();
        (count(LineKind::Added), count(LineKind::Removed))
    }

    /// `+`/`-`/space prefixed lines, one per line; changed words within a line between
    /// `[-` `-]` (removed) or `{+` `+}` (added), as `git diff --word-diff` marks them.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let (prefix, open, close) = match line.kind {
                LineKind::Context => (' ', "", ""),
                LineKind::Added => ('+', "{+", "+}"),
                LineKind::Removed => ('-', "[-", "-]"),
            };
            out.push(prefix);
            for (changed, piece) in line.segments() {
                if changed {
                    out.push_str(open);
                    out.push_str(piece);
                    out.push_str(close);
                } else {
                    out.push_str(piece);
                }
            }
            out.push('\n');
        }
        out
    }
}

fn terminated(text: &str) -> String {
    let mut text = text.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Adds `range` to the changed words, joined to the last one when they touch.
fn mark(words: &mut Vec<Range<usize>>, range: Range<usize>) {
    match words.last_mut() {
        Some(last) if last.end == range.start => last.end = range.end,
        _ => words.push(range),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(old: &str, new: &str, context: usize) -> String {
        Diff::of_text(old, new, context).to_text()
    }

    #[test]
    fn equal_texts_have_no_diff() {
        let d = Diff::of_text("a\nb\n", "a\nb\n", 3);
        assert!(d.is_empty());
        assert_eq!(d.to_text(), "");
    }

    #[test]
    fn a_changed_line_is_removed_then_added_with_context() {
        assert_eq!(
            render("a\nb\nc\nd\n", "a\nb\nX\nd\n", 1),
            " b\n-c\n+X\n d\n"
        );
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\nTWO\n3\n4\n5\n6\n7\nEIGHT\n9\n";
        assert_eq!(
            render(old, new, 1),
            " 1\n-2\n+TWO\n 3\n …\n 7\n-8\n+EIGHT\n 9\n"
        );
    }

    #[test]
    fn creation_and_deletion_are_all_added_or_removed() {
        assert_eq!(render("", "a\nb\n", 3), "+a\n+b\n");
        assert_eq!(render("a\nb\n", "", 3), "-a\n-b\n");
        assert_eq!(Diff::of_text("", "a\nb\n", 3).counts(), (2, 0));
    }

    #[test]
    fn insertions_keep_common_lines() {
        assert_eq!(render("a\nc\n", "a\nb\nc\n", 3), " a\n+b\n c\n");
        assert_eq!(render("a\nb\nc\n", "a\nc\n", 3), " a\n-b\n c\n");
    }

    #[test]
    fn policies_diff_as_yaml_specs() {
        let policy = |port: u16| -> NetworkPolicy {
            serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "9"},
                "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": port}]}]}
            }))
            .unwrap()
        };
        let diff = Diff::of_policies(Some(&policy(80)), Some(&policy(443)));
        assert_eq!(diff.counts(), (1, 1));
        let text = diff.to_text();
        assert!(text.contains("-    - port: [-80-]\n"), "{text}");
        assert!(text.contains("+    - port: {+443+}\n"), "{text}");
        assert!(!text.contains("resourceVersion"), "{text}");
    }

    #[test]
    fn a_changed_port_marks_only_the_port() {
        let old = "spec:\n  ingress:\n  - ports:\n    - port: 53\n      protocol: UDP\n";
        let new = "spec:\n  ingress:\n  - ports:\n    - port: 5353\n      protocol: UDP\n";
        let diff = Diff::of_text(old, new, 1);
        let changed: Vec<(LineKind, Vec<(bool, &str)>)> = diff
            .lines
            .iter()
            .filter(|l| l.kind != LineKind::Context)
            .map(|l| (l.kind, l.segments()))
            .collect();
        assert_eq!(
            changed,
            vec![
                (
                    LineKind::Removed,
                    vec![(false, "    - port: "), (true, "53")]
                ),
                (
                    LineKind::Added,
                    vec![(false, "    - port: "), (true, "5353")]
                ),
            ]
        );
        assert_eq!(
            diff.to_text(),
            "   - ports:\n-    - port: [-53-]\n+    - port: {+5353+}\n       protocol: UDP\n"
        );
    }

    #[test]
    fn a_changed_label_value_marks_the_value_not_the_key() {
        let old = "metadata:\n  labels:\n    app: web\n    tier: frontend\n";
        let new = "metadata:\n  labels:\n    app: web\n    tier: backend\n";
        let text = Diff::of_text(old, new, 0).to_text();
        assert_eq!(text, "-    tier: [-frontend-]\n+    tier: {+backend+}\n");
    }

    #[test]
    fn a_changed_label_key_marks_the_key() {
        let old = "  labels:\n    team: a\n";
        let new = "  labels:\n    owner: a\n";
        let diff = Diff::of_text(old, new, 0);
        let removed = &diff.lines[0];
        assert_eq!(removed.kind, LineKind::Removed);
        // Words are cut at whitespace, as git's word diff does.
        assert_eq!(&removed.text[removed.words[0].clone()], "team:");
        assert_eq!(diff.lines[1].segments()[1], (true, "owner:"));
    }

    #[test]
    fn whole_lines_added_or_rewritten_mark_no_words() {
        let diff = Diff::of_text("a: 1\n", "a: 1\nb: 2\n", 3);
        assert!(diff.lines.iter().all(|l| l.words.is_empty()), "{diff:?}");
        let diff = Diff::of_text("x\n", "y\n", 3);
        assert!(diff.lines.iter().all(|l| l.words.is_empty()), "{diff:?}");
        assert_eq!(diff.lines[0].segments(), vec![(false, "x")]);
    }

    #[test]
    fn a_missing_final_newline_is_no_change() {
        assert!(Diff::of_text("a\nb", "a\nb\n", 3).is_empty());
    }
}
