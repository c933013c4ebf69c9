//! The little of Kubernetes' protobuf encoding the demo server reads: the `k8s\0` envelope
//! around `runtime.Unknown` (1 typeMeta {1 apiVersion, 2 kind}, 2 raw), length-delimited
//! fields, and a Namespace's metadata, which `kubectl create namespace` sends this way.

use serde_json::{Map, Value, json};

/// Reads one varint, advancing `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Every length-delimited field `number` of a protobuf message, in order (others are
/// skipped); `None` when the message is malformed.
pub fn fields(mut message: &[u8], number: u64) -> Option<Vec<&[u8]>> {
    let mut found = Vec::new();
    while !message.is_empty() {
        let key = varint(&mut message)?;
        let skip = match key & 7 {
            0 => {
                varint(&mut message)?;
                0
            }
            1 => 8,
            2 => {
                let len = usize::try_from(varint(&mut message)?).ok()?;
                if key >> 3 == number {
                    found.push(message.get(..len)?);
                }
                len
            }
            5 => 4,
            _ => return None,
        };
        message = message.get(skip..)?;
    }
    Some(found)
}

/// The first length-delimited field `number`, if the message has one.
pub fn field(message: &[u8], number: u64) -> Option<&[u8]> {
    fields(message, number)?.into_iter().next()
}

fn text(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

/// The envelope's kind and raw object: `(apiVersion, kind, raw)`.
pub fn unwrap(body: &[u8]) -> Option<(String, String, &[u8])> {
    let unknown = body.strip_prefix(b"k8s\0")?;
    let type_meta = field(unknown, 1).unwrap_or_default();
    let api_version = field(type_meta, 1).map_or(Some(String::new()), text)?;
    let kind = field(type_meta, 2).map_or(Some(String::new()), text)?;
    Some((api_version, kind, field(unknown, 2).unwrap_or_default()))
}

/// A `map<string, string>` field as a JSON object.
fn string_map(message: &[u8], number: u64) -> Option<Value> {
    let mut out = Map::new();
    for entry in fields(message, number)? {
        let key = field(entry, 1).map_or(Some(String::new()), text)?;
        let value = field(entry, 2).map_or(Some(String::new()), text)?;
        out.insert(key, json!(value));
    }
    Some(Value::Object(out))
}

/// A v1.Namespace (1 metadata: 1 name, 2 generateName, 11 labels, 12 annotations) as JSON; the
/// spec and status are left to the server's defaults.
pub fn namespace(raw: &[u8]) -> Option<Value> {
    let meta = field(raw, 1).unwrap_or_default();
    let mut metadata = Map::new();
    for (number, name) in [(1, "name"), (2, "generateName")] {
        if let Some(value) = field(meta, number) {
            metadata.insert(name.into(), json!(text(value)?));
        }
    }
    for (number, name) in [(11, "labels"), (12, "annotations")] {
        let map = string_map(meta, number)?;
        if map.as_object().is_some_and(|m| !m.is_empty()) {
            metadata.insert(name.into(), map);
        }
    }
    Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field `number` with a length-delimited payload.
    fn ld(number: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2, u8::try_from(payload.len()).unwrap()];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_namespace_as_kubectl_create_sends_it() {
        let entry = [ld(1, b"tenant"), ld(2, b"acme")].concat();
        let meta = [ld(1, b"acme-new"), ld(11, &entry), vec![0x18, 0x05]].concat();
        let raw = [ld(1, &meta), ld(2, b""), ld(3, b"")].concat();
        let type_meta = [ld(1, b"v1"), ld(2, b"Namespace")].concat();
        let body = [b"k8s\0".to_vec(), ld(1, &type_meta), ld(2, &raw)].concat();
        let (api_version, kind, raw) = unwrap(&body).unwrap();
        assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "Namespace"));
        assert_eq!(
            namespace(raw).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "acme-new", "labels": {"tenant": "acme"}}})
        );
    }

    #[test]
    fn malformed_messages_are_none_not_panics() {
        assert!(unwrap(b"junk").is_none());
        assert!(
            fields(&[0x0a, 0x05, b'a'], 1).is_none(),
            "length past the end"
        );
        assert!(fields(&[0x0f], 1).is_none(), "wire type 7");
        assert!(
            namespace(&ld(1, &ld(1, &[0xff, 0xfe]))).is_none(),
            "name not UTF-8"
        );
    }
}
