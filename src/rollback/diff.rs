//! A unified line diff of two policies rendered as YAML: a small LCS diff, no dependency.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

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
}

/// The lines of a unified diff, hunks separated by a `Context` line `…` where lines were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Diff {
    pub lines: Vec<DiffLine>,
}

/// What of a policy the diff shows: labels, annotations and spec, as YAML.
pub fn policy_yaml(policy: Option<&NetworkPolicy>) -> String {
    let Some(policy) = policy else {
        return String::new();
    };
    let empty = BTreeMap::new();
    let mut metadata = serde_json::Map::new();
    let labels = policy.metadata.labels.as_ref().unwrap_or(&empty);
    let annotations = policy.metadata.annotations.as_ref().unwrap_or(&empty);
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
    doc.insert(
        "spec".into(),
        serde_json::to_value(&policy.spec).unwrap_or(Value::Null),
    );
    crate::yaml::to_string(&Value::Object(doc)).unwrap_or_default()
}

impl Diff {
    /// The diff from `old` to `new` (`None`: absent, i.e. everything added or removed).
    pub fn of_policies(old: Option<&NetworkPolicy>, new: Option<&NetworkPolicy>) -> Diff {
        Diff::of_text(&policy_yaml(old), &policy_yaml(new), CONTEXT)
    }

    /// A unified line diff with `context` lines around each change.
    pub fn of_text(old: &str, new: &str, context: usize) -> Diff {
        let a: Vec<&str> = old.lines().collect();
        let b: Vec<&str> = new.lines().collect();
        let full = lcs_diff(&a, &b);
        Diff {
            lines: trim_context(full, context),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.kind == LineKind::Context)
    }

    /// (added, removed) line counts.
    pub fn counts(&self) -> (usize, usize) {
        let count = |k| self.lines.iter().filter(|l| l.kind == k).count();
        (count(LineKind::Added), count(LineKind::Removed))
    }

    /// `+`/`-`/space prefixed lines, one per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let prefix = match line.kind {
                LineKind::Context => ' ',
                LineKind::Added => '+',
                LineKind::Removed => '-',
            };
            out.push(prefix);
            out.push_str(&line.text);
            out.push('\n');
        }
        out
    }
}

/// Every line of both texts, in order, by the longest common subsequence.
fn lcs_diff(a: &[&str], b: &[&str]) -> Vec<DiffLine> {
    let (n, m) = (a.len(), b.len());
    // lengths[i][j]: LCS length of a[i..] and b[j..]. Policies are small (tens of lines).
    let mut lengths = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[i][j] = if a[i] == b[j] {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }
    let line = |kind, text: &str| DiffLine {
        kind,
        text: text.to_string(),
    };
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(line(LineKind::Context, a[i]));
            i += 1;
            j += 1;
        } else if j == m || (i < n && lengths[i + 1][j] >= lengths[i][j + 1]) {
            // Removals first within a change, as unified diffs print them.
            out.push(line(LineKind::Removed, a[i]));
            i += 1;
        } else {
            out.push(line(LineKind::Added, b[j]));
            j += 1;
        }
    }
    out
}

/// Keeps `context` lines around changes; a skipped stretch becomes one `…` context line.
fn trim_context(lines: Vec<DiffLine>, context: usize) -> Vec<DiffLine> {
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind != LineKind::Context)
        .map(|(i, _)| i)
        .collect();
    if changed.is_empty() {
        return Vec::new();
    }
    let keep = |i: usize| {
        changed
            .iter()
            .any(|&c| i + context >= c && i <= c + context)
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (i, line) in lines.into_iter().enumerate() {
        if keep(i) {
            if skipped && !out.is_empty() {
                out.push(DiffLine {
                    kind: LineKind::Context,
                    text: "…".to_string(),
                });
            }
            skipped = false;
            out.push(line);
        } else {
            skipped = true;
        }
    }
    out
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
        assert!(text.contains("-    - port: 80\n"), "{text}");
        assert!(text.contains("+    - port: 443\n"), "{text}");
        assert!(!text.contains("resourceVersion"), "{text}");
    }
}
