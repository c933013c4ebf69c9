//! Other shapes of a response the client may ask for with `Accept`: server-side printing
//! (`as=Table`, what `kubectl get` shows, with a CRD's printer columns) and metadata only
//! (`as=PartialObjectMetadata[List]`, what clients use to count objects cheaply).

use serde_json::{Value, json};

use super::resource::Resource;

/// The shape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Full,
    Table,
    Metadata,
}

impl Shape {
    /// Reads the first acceptable shape from an `Accept` header. Tables are served for custom
    /// resources only: the built-in kinds keep kubectl's client-side columns, as before.
    pub fn from_accept(accept: Option<&str>, resource: Resource) -> Shape {
        let Some(accept) = accept else {
            return Shape::Full;
        };
        for media in accept.split(',') {
            let params: Vec<&str> = media.split(';').map(str::trim).collect();
            let has = |p: &str| params.contains(&p);
            if !has("g=meta.k8s.io") {
                if params
                    .first()
                    .is_some_and(|m| *m == "application/json" || *m == "*/*")
                {
                    return Shape::Full;
                }
                continue;
            }
            if (has("as=Table") || has("as=TableList"))
                && (resource.custom() || resource == Resource::Events)
            {
                return Shape::Table;
            }
            if has("as=PartialObjectMetadataList") || has("as=PartialObjectMetadata") {
                return Shape::Metadata;
            }
        }
        Shape::Full
    }
}

/// An object reduced to its metadata.
pub fn partial(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// A list document (as the store returns it) in the shape asked for.
pub fn list(doc: Value, resource: Resource, shape: Shape) -> Value {
    let items = || doc["items"].as_array().cloned().unwrap_or_default();
    match shape {
        Shape::Full => doc,
        Shape::Metadata => {
            let items: Vec<Value> = items().iter().map(partial).collect();
            json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": doc["metadata"],
                "items": items,
            })
        }
        Shape::Table => table(&items(), doc["metadata"].clone(), resource),
    }
}

/// One object in the shape asked for.
pub fn object(object: Value, resource: Resource, shape: Shape) -> Value {
    match shape {
        Shape::Full => object,
        Shape::Metadata => partial(&object),
        Shape::Table => {
            let rv = object["metadata"]["resourceVersion"].clone();
            table(&[object], json!({"resourceVersion": rv}), resource)
        }
    }
}

fn table(items: &[Value], metadata: Value, resource: Resource) -> Value {
    if resource == Resource::Events {
        return event_table(items, metadata);
    }
    let mut columns = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace.",
    })];
    for c in resource.columns() {
        columns.push(
            json!({"name": c.name, "type": c.kind, "format": "", "priority": 0, "description": ""}),
        );
    }
    let now = k8s_openapi::jiff::Timestamp::now();
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut cells = vec![item["metadata"]["name"].clone()];
            for c in resource.columns() {
                let cell = match item.pointer(c.pointer) {
                    None | Some(Value::Null) => Value::Null,
                    Some(Value::String(s)) if c.kind == "date" => s
                        .parse::<k8s_openapi::jiff::Timestamp>()
                        .map(|t| json!(human_age(now.as_second() - t.as_second())))
                        .unwrap_or(Value::Null),
                    Some(Value::String(s)) => json!(s),
                    Some(other) => json!(other.to_string()),
                };
                cells.push(cell);
            }
            json!({"cells": cells, "object": partial(item)})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// Events as a real server prints them for `kubectl get events`: no Name column first.
fn event_table(items: &[Value], metadata: Value) -> Value {
    let column = |name: &str, kind: &str| json!({"name": name, "type": kind, "format": "", "priority": 0, "description": ""});
    let columns = [
        column("Last Seen", "string"),
        column("Type", "string"),
        column("Reason", "string"),
        column("Object", "string"),
        column("Message", "string"),
    ];
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let rows: Vec<Value> = items
        .iter()
        .map(|e| {
            let text = |pointer: &str| e.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            let seen = [
                "/lastTimestamp",
                "/eventTime",
                "/metadata/creationTimestamp",
            ]
            .iter()
            .find_map(|p| text(p).parse::<k8s_openapi::jiff::Timestamp>().ok())
            .map_or("<unknown>".to_string(), |t| human_age(now - t.as_second()));
            let object = format!(
                "{}/{}",
                text("/involvedObject/kind").to_lowercase(),
                text("/involvedObject/name")
            );
            let cells = json!([
                seen,
                text("/type"),
                text("/reason"),
                object,
                text("/message")
            ]);
            json!({"cells": cells, "object": partial(e)})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// An age as kubectl shows it: 45s, 3m12s, 2h5m, 3d4h, 400d.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    match s {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 && s % 60 == 0 => format!("{m}m"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 && m % 60 == 0 => format!("{h}h"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 && h % 24 == 0 => format!("{d}d"),
        _ if h < 192 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TierKind;

    const CNP: Resource = Resource::Tier(TierKind::ClusterNetworkPolicy);

    #[test]
    fn kubectl_get_gets_a_table_with_the_crd_columns() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(Shape::from_accept(Some(accept), CNP), Shape::Table);
        assert_eq!(
            Shape::from_accept(Some(accept), Resource::Pods),
            Shape::Full
        );
        let doc = json!({"metadata": {"resourceVersion": "7"}, "items": [{
            "metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"tier": "Admin", "priority": 10},
        }]});
        let table = list(doc, CNP, Shape::Table);
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Tier", "Priority", "Age"]);
        let cells = table["rows"][0]["cells"].as_array().unwrap();
        assert_eq!(cells[..3], [json!("a"), json!("Admin"), json!("10")]);
        assert!(cells[3].as_str().unwrap().ends_with('d'));
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn metadata_only_lists_keep_metadata_and_drop_the_rest() {
        let accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(
            Shape::from_accept(Some(accept), Resource::Pods),
            Shape::Metadata
        );
        assert_eq!(
            Shape::from_accept(Some("application/json"), CNP),
            Shape::Full
        );
        let doc = json!({"metadata": {"resourceVersion": "7"},
            "items": [{"metadata": {"name": "a"}, "spec": {"x": 1}}]});
        let out = list(doc, Resource::Pods, Shape::Metadata);
        assert_eq!(out["kind"], "PartialObjectMetadataList");
        assert_eq!(
            out["items"][0],
            json!({"kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "a"}})
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(45), "45s");
        assert_eq!(human_age(192), "3m12s");
        assert_eq!(human_age(3600 * 2 + 300), "125m");
        assert_eq!(human_age(3600 * 5 + 300), "5h5m");
        assert_eq!(human_age(86_400 * 3 + 3600 * 4), "3d4h");
        assert_eq!(human_age(86_400 * 400), "400d");
    }
}
