//! Object metadata helpers: validation, server-set fields and simulated pod placement.

use serde_json::{Value, json};

use super::resource::Resource;
use super::status::{ApiError, ApiResult};

/// The current time as an RFC 3339 timestamp with second precision, as Kubernetes writes it.
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Reads a string at a JSON pointer, treating missing and non-string values as empty.
pub fn str_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Returns the `metadata` map, creating it when absent; rejects non-object metadata.
pub fn metadata_mut(object: &mut Value) -> ApiResult<&mut serde_json::Map<String, Value>> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("request body must be a JSON object"))?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

/// Checks the object's kind/apiVersion (when given) and fills them in.
pub fn check_type(object: &mut Value, resource: Resource) -> ApiResult<()> {
    let kind = str_at(object, "/kind");
    let api_version = str_at(object, "/apiVersion");
    if (!kind.is_empty() && kind != resource.kind())
        || (!api_version.is_empty() && api_version != resource.api_version())
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) and kind ({kind}) do not match the request ({} {})",
            resource.api_version(),
            resource.kind()
        )));
    }
    object["kind"] = json!(resource.kind());
    object["apiVersion"] = json!(resource.api_version());
    Ok(())
}

/// DNS-1123 names: namespaces are labels (63 chars), the rest subdomains (253 chars).
pub fn validate_name(resource: Resource, name: &str) -> ApiResult<()> {
    let label = resource == Resource::Namespaces;
    let max = if label { 63 } else { 253 };
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (!label && c == '.');
    let edges_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > max || !name.chars().all(allowed) || !edges_ok {
        return Err(ApiError::invalid(
            resource,
            name,
            format!(
                "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        ));
    }
    Ok(())
}

/// Rejects bodies whose fields do not fit the real Kubernetes type.
pub fn validate_schema(resource: Resource, object: &Value) -> ApiResult<()> {
    use k8s_openapi::api::{core::v1, networking::v1 as net};
    let result = match resource {
        Resource::Namespaces => serde_json::from_value::<v1::Namespace>(object.clone()).map(drop),
        Resource::Pods => serde_json::from_value::<v1::Pod>(object.clone()).map(drop),
        Resource::Services => serde_json::from_value::<v1::Service>(object.clone()).map(drop),
        Resource::NetworkPolicies => {
            serde_json::from_value::<net::NetworkPolicy>(object.clone()).map(drop)
        }
        Resource::Tier(kind) => {
            let causes = super::tier_schema::validate(kind, object);
            if causes.is_empty() {
                return Ok(());
            }
            let name = str_at(object, "/metadata/name");
            return Err(ApiError::invalid_fields(resource, name, causes));
        }
        Resource::Events => serde_json::from_value::<v1::Event>(object.clone()).map(drop),
        Resource::Native(kind) | Resource::CalicoCrd(kind) => {
            let causes = match kind.family() {
                crate::model::NativeFamily::Cilium => super::cilium_schema::validate(object),
                crate::model::NativeFamily::Calico => super::calico_schema::validate(kind, object),
            };
            if causes.is_empty() {
                return Ok(());
            }
            let name = str_at(object, "/metadata/name");
            return Err(ApiError::invalid_fields(resource, name, causes));
        }
        // Served with a schema that keeps unknown fields: anything goes.
        Resource::Foreign(_) | Resource::GitOps(_) => Ok(()),
    };
    result.map_err(|e| ApiError::bad_request(format!("invalid {}: {e}", resource.kind())))
}

/// Drops the fields a custom resource's CRD does not declare, as a real API server prunes them;
/// under `fieldValidation=Strict` refuses them instead (400, in the server's words).
pub fn prune_unknown(resource: Resource, object: &mut Value, strict: bool) -> ApiResult<()> {
    let Resource::Tier(kind) = resource else {
        return Ok(());
    };
    let unknown = super::tier_fields::prune(kind, object);
    if strict && !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            fields.join(", "),
            kind = resource.kind(),
            version = resource.version(),
        )));
    }
    Ok(())
}

/// Replaces this manager's managedFields entry for the operation (`Update` or `Apply`) so
/// clients see realistic metadata.
pub fn record_manager(
    meta: &mut serde_json::Map<String, Value>,
    opts: &super::store::WriteOptions,
    api_version: &str,
) {
    let (manager, operation) = (opts.field_manager.as_str(), opts.operation);
    let mut entries: Vec<Value> = meta
        .get("managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    entries.retain(|e| str_at(e, "/manager") != manager || str_at(e, "/operation") != operation);
    entries.push(json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    }));
    meta.insert("managedFields".into(), Value::Array(entries));
}

/// The node of a scenario that lists none.
pub const DEFAULT_NODE: &str = "demo-node-a";

/// Picks nodes and addresses for pods, deterministically in creation order.
#[derive(Debug, Clone)]
pub struct Placement {
    nodes: Vec<String>,
    per_node: Vec<u32>,
    next: usize,
}

impl Placement {
    pub fn new(nodes: Vec<String>) -> Placement {
        let nodes = if nodes.is_empty() {
            vec![DEFAULT_NODE.to_string()]
        } else {
            nodes
        };
        Placement {
            per_node: vec![0; nodes.len()],
            nodes,
            next: 0,
        }
    }

    /// Gives a pod without status a node, a unique pod IP from 10.244.0.0/16 and a Running phase.
    pub fn place(&mut self, pod: &mut Value) {
        if pod.pointer("/status/phase").is_some() {
            return;
        }
        let requested = str_at(pod, "/spec/nodeName").to_string();
        let index = match self.nodes.iter().position(|n| *n == requested) {
            Some(i) => i,
            None => {
                let i = self.next % self.nodes.len();
                self.next += 1;
                i
            }
        };
        // Nodes count up from 172.18.0.2, carrying into the third octet past .255.
        let host = index + 2;
        let host_ip = format!("172.18.{}.{}", host / 256, host % 256);
        // Host-network pods (the CNI agents) use the node's address.
        let pod_ip = if pod.pointer("/spec/hostNetwork") == Some(&json!(true)) {
            host_ip.clone()
        } else {
            // Each node owns a /24 like a typical CNI; skip .0 and .1 (gateway).
            let slot = self.per_node[index] % 250 + 2;
            self.per_node[index] += 1;
            format!("10.244.{index}.{slot}")
        };
        if !pod["spec"].is_object() {
            pod["spec"] = json!({});
        }
        pod["spec"]["nodeName"] = json!(self.nodes[index]);
        let containers: Vec<Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        json!({
                            "name": str_at(c, "/name"),
                            "image": str_at(c, "/image"),
                            "imageID": "",
                            "ready": true,
                            "restartCount": 0,
                            "started": true,
                            "state": {"running": {"startedAt": now()}},
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        pod["status"] = json!({
            "phase": "Running",
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": now(),
            "qosClass": "BestEffort",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now()},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now()},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()},
            ],
            "containerStatuses": containers,
        });
    }
}
