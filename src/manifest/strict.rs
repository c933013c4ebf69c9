//! What the API server's strict field validation (kubectl's default) rejects and a lenient
//! parser lets through: keys that appear twice in one mapping, and fields the object's schema
//! does not have. Pure.

use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Pod, ReplicationController};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A document as a JSON value, plus the path of every key met twice in one mapping. The value
/// keeps the last occurrence, as `serde_json::Value` does.
pub struct Checked {
    pub value: Value,
    pub duplicates: Vec<String>,
}

/// Deserializes one document (YAML or JSON) like `serde_json::Value` does, noting duplicates.
pub fn value_noting_duplicates<'de, D: de::Deserializer<'de>>(
    deserializer: D,
) -> Result<Checked, D::Error> {
    let mut duplicates = Vec::new();
    let value = ValueSeed {
        path: String::new(),
        duplicates: &mut duplicates,
    }
    .deserialize(deserializer)?;
    Ok(Checked { value, duplicates })
}

struct ValueSeed<'a> {
    path: String,
    duplicates: &'a mut Vec<String>,
}

impl ValueSeed<'_> {
    fn child(&mut self, step: impl fmt::Display, map_key: bool) -> ValueSeed<'_> {
        let path = match (self.path.is_empty(), map_key) {
            (true, true) => step.to_string(),
            (false, true) => format!("{}.{step}", self.path),
            (_, false) => format!("{}[{step}]", self.path),
        };
        ValueSeed {
            path,
            duplicates: self.duplicates,
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // NaN and infinities have no JSON number; serde_json::Value makes them null too.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(items.len(), false))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(self.child(&key, true))?;
            if out.insert(key.clone(), value).is_some() {
                let ValueSeed { path, .. } = self.child(&key, true);
                self.duplicates.push(path);
            }
        }
        Ok(Value::Object(out))
    }
}

/// Map keys are strings. A plain scalar that YAML reads as another type is a key by its
/// JSON text (`1`, `true`, `null`), as Kubernetes' YAML-to-JSON conversion makes it.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_unit<E>(self) -> Result<String, E> {
        Ok("null".to_string())
    }

    fn visit_none<E>(self) -> Result<String, E> {
        Ok("null".to_string())
    }
}

/// Paths of the fields the object's schema does not have, for the kinds Palisade reads, at the
/// API version it knows their schema of. `None` when the object cannot be checked: another kind
/// or version, or a known field of the wrong type (reported elsewhere, or ignored as before).
pub fn unknown_fields(object: &Value) -> Option<Vec<String>> {
    let kind = object.get("kind").and_then(Value::as_str)?;
    let api_version = object.get("apiVersion").and_then(Value::as_str)?;
    match (api_version, kind) {
        ("networking.k8s.io/v1", "NetworkPolicy") => ignored::<NetworkPolicy>(object),
        ("v1", "Namespace") => ignored::<Namespace>(object),
        ("v1", "Pod") => ignored::<Pod>(object),
        ("v1", "ReplicationController") => ignored::<ReplicationController>(object),
        ("apps/v1", "Deployment") => ignored::<Deployment>(object),
        ("apps/v1", "StatefulSet") => ignored::<StatefulSet>(object),
        ("apps/v1", "DaemonSet") => ignored::<DaemonSet>(object),
        ("apps/v1", "ReplicaSet") => ignored::<ReplicaSet>(object),
        ("batch/v1", "Job") => ignored::<Job>(object),
        ("batch/v1", "CronJob") => ignored::<CronJob>(object),
        _ => None,
    }
}

fn ignored<T: DeserializeOwned>(object: &Value) -> Option<Vec<String>> {
    let mut unknown = Vec::new();
    let parsed: Result<T, _> =
        serde_ignored::deserialize(object.clone(), |path| unknown.push(path_text(&path)));
    parsed.ok().map(|_| unknown)
}

/// `spec.ingress[0].from`, the same form as the duplicate keys' paths.
fn path_text(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", path_text(parent)),
        Path::Map { parent, key } => match path_text(parent) {
            parent if parent.is_empty() => key.clone(),
            parent => format!("{parent}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => path_text(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Checked {
        serde_saphyr::with_deserializer_from_str_with_options(
            text,
            crate::yaml::manifest_options(),
            |deserializer| value_noting_duplicates(deserializer),
        )
        .unwrap()
    }

    #[test]
    fn duplicate_keys_are_named_by_path_and_the_last_one_is_kept() {
        let checked = yaml(
            "spec:\n  podSelector: {matchLabels: {app: a}}\n  podSelector: {}\n  \
             ingress:\n  - ports: [{port: 80, port: 81}]\n",
        );
        assert_eq!(
            checked.duplicates,
            ["spec.podSelector", "spec.ingress[0].ports[0].port"]
        );
        assert_eq!(checked.value["spec"]["podSelector"], serde_json::json!({}));
        assert_eq!(checked.value["spec"]["ingress"][0]["ports"][0]["port"], 81);
        let json = value_noting_duplicates(&mut serde_json::Deserializer::from_str(
            r#"{"kind": "Pod", "kind": "Namespace"}"#,
        ))
        .unwrap();
        assert_eq!(json.duplicates, ["kind"]);
    }

    #[test]
    fn values_are_the_ones_serde_json_builds() {
        let text = "a: 1\nb: -2\nc: 1.5\nd: [true, null, ~]\ne: {f: 'x'}\ng: .nan\n";
        let lenient: Value = crate::yaml::from_str(text).unwrap();
        let checked = yaml(text);
        assert_eq!(checked.value, lenient);
        assert!(checked.duplicates.is_empty());
    }

    #[test]
    fn unknown_fields_of_a_network_policy_are_named_by_path() {
        let policy = yaml(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n\
             spec:\n  podSelector: {matchLabel: {app: a}}\n  ingres: []\n",
        )
        .value;
        assert_eq!(
            unknown_fields(&policy),
            Some(vec![
                "spec.ingres".to_string(),
                "spec.podSelector.matchLabel".to_string()
            ])
        );
        let clean = yaml(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n\
             metadata: {name: p, creationTimestamp: null}\nspec: {podSelector: {}}\n",
        )
        .value;
        assert_eq!(unknown_fields(&clean), Some(vec![]));
        let deployment = yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  \
             selector: {}\n  template: {spec: {containers: [{name: c, prots: []}]}}\n",
        )
        .value;
        assert_eq!(
            unknown_fields(&deployment),
            Some(vec!["spec.template.spec.containers[0].prots".to_string()])
        );
    }

    #[test]
    fn kinds_and_versions_without_a_known_schema_are_not_checked() {
        let config_map = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nx: 1\n");
        assert_eq!(unknown_fields(&config_map.value), None);
        let old =
            yaml("apiVersion: extensions/v1beta1\nkind: Deployment\nspec: {rollbackTo: {}}\n");
        assert_eq!(unknown_fields(&old.value), None);
    }
}
