//! Label selectors: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist).

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::error::Errors;
use crate::model::Labels;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requirement {
    In(String, BTreeSet<String>),
    /// Also matches when the label is absent, as in Kubernetes.
    NotIn(String, BTreeSet<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

/// A compiled selector: all requirements must hold (an empty selector selects everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

impl Selector {
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Compiles an API selector; invalid requirements are reported under `field` and dropped
    /// (the object is rejected as a whole by the caller when any error was reported).
    pub(crate) fn compile(sel: &LabelSelector, field: &str, errs: &mut Errors) -> Selector {
        let mut requirements = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            requirements.push(Requirement::In(k.clone(), BTreeSet::from([v.clone()])));
        }
        for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
            let path = format!("{field}.matchExpressions[{i}]");
            let values: BTreeSet<String> = e.values.iter().flatten().cloned().collect();
            if e.key.is_empty() {
                errs.push(format!("{path}.key"), "key must not be empty");
            }
            let key = e.key.clone();
            let has_values = !values.is_empty();
            let req = match e.operator.as_str() {
                "In" | "NotIn" if !has_values => {
                    errs.push(
                        format!("{path}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    );
                    continue;
                }
                "Exists" | "DoesNotExist" if has_values => {
                    errs.push(
                        format!("{path}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    );
                    continue;
                }
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => {
                    errs.push(
                        format!("{path}.operator"),
                        format!("not a valid selector operator: {other:?}"),
                    );
                    continue;
                }
            };
            requirements.push(req);
        }
        Selector { requirements }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.requirements.is_empty() {
            return f.write_str("{}");
        }
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| match r {
                Requirement::In(k, vs) if vs.len() == 1 => {
                    format!("{k}={}", vs.iter().next().map_or("", |s| s))
                }
                Requirement::In(k, vs) => format!("{k} in ({})", join(vs)),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", join(vs)),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn join(vs: &BTreeSet<String>) -> String {
    vs.iter().cloned().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectRef;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn compile(sel: LabelSelector) -> (Selector, usize) {
        let id = ObjectRef::new("ns", "p");
        let mut errs = Errors::new(&id);
        let s = Selector::compile(&sel, "spec.podSelector", &mut errs);
        (s, errs.list.len())
    }

    #[test]
    fn not_in_matches_an_absent_label() {
        let (s, n) = compile(LabelSelector {
            match_expressions: Some(vec![expr("env", "NotIn", &["prod"])]),
            ..Default::default()
        });
        assert_eq!(n, 0);
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("env", "dev")])));
        assert!(!s.matches(&labels(&[("env", "prod")])));
    }

    #[test]
    fn operators_and_match_labels_are_anded() {
        let (s, _) = compile(LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![
                expr("tier", "In", &["a", "b"]),
                expr("debug", "DoesNotExist", &[]),
                expr("team", "Exists", &[]),
            ]),
        });
        let ok = labels(&[("app", "web"), ("tier", "b"), ("team", "x")]);
        assert!(s.matches(&ok));
        let mut bad = ok.clone();
        bad.insert("debug".into(), "1".into());
        assert!(!s.matches(&bad));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "x")])));
    }

    #[test]
    fn empty_selector_selects_everything() {
        let (s, _) = compile(LabelSelector::default());
        assert!(s.is_everything());
        assert!(s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn invalid_operators_and_values_are_reported() {
        let (_, n) = compile(LabelSelector {
            match_expressions: Some(vec![
                expr("a", "In", &[]),
                expr("b", "Exists", &["x"]),
                expr("c", "Equals", &["x"]),
            ]),
            ..Default::default()
        });
        assert_eq!(n, 3);
    }

    proptest! {
        #[test]
        fn not_in_is_the_complement_of_in(
            key in "[ab]", vals in prop::collection::btree_set("[xyz]", 1..3),
            present in prop::option::of("[xyz]"),
        ) {
            let l: Labels = present.map(|v| (key.clone(), v)).into_iter().collect();
            let r_in = Requirement::In(key.clone(), vals.clone());
            let r_not = Requirement::NotIn(key.clone(), vals);
            prop_assert_ne!(r_in.matches(&l), r_not.matches(&l));
            let ex = Requirement::Exists(key.clone()).matches(&l);
            prop_assert_ne!(ex, Requirement::DoesNotExist(key).matches(&l));
        }

        #[test]
        fn match_labels_equal_single_value_in(k in "[ab]", v in "[xy]", lv in "[xy]") {
            let l = labels(&[(k.as_str(), lv.as_str())]);
            let (s, _) = compile(LabelSelector {
                match_labels: Some([(k.clone(), v.clone())].into()),
                ..Default::default()
            });
            prop_assert_eq!(s.matches(&l), v == lv);
        }
    }
}
