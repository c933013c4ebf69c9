//! Label selectors (full set-based grammar) and field selectors.

use serde_json::Value;

use super::resource::Resource;
use super::status::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; all requirements must hold (logical AND).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> ApiResult<LabelSelector> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(bad_selector(text, "empty requirement"));
            }
            requirements.push(parse_requirement(part).map_err(|why| bad_selector(text, &why))?);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        if self.requirements.is_empty() {
            return true; // no selector: not even the labels are looked up
        }
        let labels = object.pointer("/metadata/labels");
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.requirements.iter().all(|req| match req {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            // Absent labels satisfy `!=` and `notin`, as in Kubernetes.
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

fn bad_selector(text: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "unable to parse requirement: invalid label selector {text:?}: {why}"
    ))
}

/// Splits on commas that are not inside `( ... )`.
fn split_top_level(text: &str) -> Result<Vec<&str>, ApiError> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| bad_selector(text, "unbalanced ')'"))?
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(bad_selector(text, "unclosed '('"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn check_key(key: &str) -> Result<String, String> {
    if key.is_empty() || !key.chars().all(is_key_char) {
        return Err(format!("invalid label key {key:?}"));
    }
    Ok(key.to_string())
}

fn check_value(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.len() > 63 || !value.chars().all(is_value_char) {
        return Err(format!("invalid label value {value:?}"));
    }
    Ok(value.to_string())
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(rest) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(check_key(rest.trim())?));
    }
    let key_end = part.find(|c: char| !is_key_char(c)).unwrap_or(part.len());
    let key = check_key(&part[..key_end])?;
    let rest = part[key_end..].trim_start();
    if rest.is_empty() {
        return Ok(Requirement::Exists(key));
    }
    if let Some(v) = rest.strip_prefix("!=") {
        return Ok(Requirement::NotEquals(key, check_value(v)?));
    }
    if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
        return Ok(Requirement::Equals(key, check_value(v)?));
    }
    if let Some(set) = rest.strip_prefix("notin") {
        return Ok(Requirement::NotIn(key, parse_set(set)?));
    }
    if let Some(set) = rest.strip_prefix("in") {
        return Ok(Requirement::In(key, parse_set(set)?));
    }
    Err(format!("unexpected {rest:?} after key"))
}

fn parse_set(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("expected '(values)', found {:?}", text.trim()))?;
    inner.split(',').map(check_value).collect()
}

#[derive(Debug, Clone, PartialEq)]
struct FieldRequirement {
    pointer: String,
    value: String,
    negate: bool,
}

/// A parsed field selector over the few fields the server supports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    pub fn parse(text: &str, resource: Resource) -> ApiResult<FieldSelector> {
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, value, negate) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let pointer = field_pointer(field, resource).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "field label not supported: {field} (\"{field}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\")"
                ))
            })?;
            requirements.push(FieldRequirement {
                pointer,
                value: value.trim().to_string(),
                negate,
            });
        }
        Ok(FieldSelector { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let actual = object
                .pointer(&r.pointer)
                .and_then(Value::as_str)
                .unwrap_or("");
            (actual == r.value) != r.negate
        })
    }
}

fn field_pointer(field: &str, resource: Resource) -> Option<String> {
    let supported = match resource {
        Resource::Pods => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "status.phase",
            "status.podIP",
        ][..],
        Resource::Events => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ][..],
        _ => &["metadata.name", "metadata.namespace"][..],
    };
    // An Event's `source` selects on its component, as on a real server.
    let field = if resource == Resource::Events && field == "source" {
        "source.component"
    } else {
        field
    };
    let known = supported.contains(&field) || field == "source.component";
    known.then(|| format!("/{}", field.replace('.', "/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns", "labels": labels}})
    }

    fn sel(text: &str) -> LabelSelector {
        LabelSelector::parse(text).expect("selector parses")
    }

    #[test]
    fn equality_forms() {
        let p = pod(json!({"app": "web", "tier": "front"}));
        assert!(sel("app=web").matches(&p));
        assert!(sel("app==web").matches(&p));
        assert!(sel("app = web , tier=front").matches(&p));
        assert!(!sel("app=web,tier=back").matches(&p));
        assert!(sel("app!=db").matches(&p));
        assert!(!sel("app!=web").matches(&p));
        assert!(sel("").matches(&p));
    }

    #[test]
    fn set_forms_and_absent_labels() {
        let p = pod(json!({"app": "web"}));
        assert!(sel("app in (web, db)").matches(&p));
        assert!(!sel("app in (db)").matches(&p));
        assert!(sel("app notin (db,cache)").matches(&p));
        assert!(!sel("app notin (web)").matches(&p));
        // notin and != match when the label is absent
        assert!(sel("tier notin (front)").matches(&p));
        assert!(sel("tier!=front").matches(&p));
        assert!(!sel("tier in (front)").matches(&p));
        assert!(sel("app,!tier").matches(&p));
        assert!(!sel("tier").matches(&p));
        assert!(!sel("!app").matches(&p));
        assert!(sel("app in (web),tier notin (x, y),!zone").matches(&p));
        let unlabeled = json!({"metadata": {"name": "x"}});
        assert!(sel("a notin (b)").matches(&unlabeled));
        assert!(!sel("a").matches(&unlabeled));
    }

    #[test]
    fn bad_label_selectors_are_rejected() {
        for bad in [
            "app in web",
            "app in (web",
            "a=b=c d",
            "=x",
            "app~web",
            "a,,b",
            "!",
        ] {
            let err = LabelSelector::parse(bad).expect_err(bad);
            assert_eq!(err.code, 400, "{bad}");
        }
    }

    #[test]
    fn field_selectors() {
        let p = pod(json!({}));
        let fs = |t: &str| FieldSelector::parse(t, Resource::Pods).expect("parses");
        assert!(fs("metadata.name=p").matches(&p));
        assert!(fs("metadata.name==p,metadata.namespace=ns").matches(&p));
        assert!(!fs("metadata.namespace!=ns").matches(&p));
        let events = |t: &str| FieldSelector::parse(t, Resource::Events).expect("parses");
        let event = json!({"reason": "PalisadeRollback", "type": "Normal",
            "source": {"component": "palisade"},
            "involvedObject": {"kind": "NetworkPolicy", "name": "p", "namespace": "ns", "uid": "u"}});
        assert!(events("reason=PalisadeRollback,type=Normal").matches(&event));
        assert!(events("involvedObject.name=p,involvedObject.namespace=ns").matches(&event));
        assert!(events("involvedObject.kind=NetworkPolicy,involvedObject.uid=u").matches(&event));
        assert!(events("source=palisade").matches(&event));
        assert!(!events("reason=Other").matches(&event));
        assert!(FieldSelector::parse("reason=x", Resource::Pods).is_err());
        let err = FieldSelector::parse("spec.foo=1", Resource::NetworkPolicies).expect_err("bad");
        assert_eq!(err.code, 400);
        assert!(FieldSelector::parse("metadata.name", Resource::Pods).is_err());
    }
}
