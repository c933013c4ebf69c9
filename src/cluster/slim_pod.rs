//! A Pod as Palisade needs it: decoded straight from the API's JSON into just the fields
//! isolation analysis reads. Pods are the bulk of a large cluster; skipping env, volumes, probes
//! and managedFields while decoding saves both memory and start-up time.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlimPod {
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: SlimPodSpec,
    #[serde(default)]
    pub status: SlimPodStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimPodSpec {
    #[serde(default)]
    pub containers: Vec<SlimContainer>,
    #[serde(default)]
    pub node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlimContainer {
    #[serde(default)]
    pub ports: Vec<SlimPort>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimPort {
    #[serde(default)]
    pub name: Option<String>,
    pub container_port: i32,
    #[serde(default)]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimPodStatus {
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default, rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(default, rename = "podIPs")]
    pub pod_ips: Vec<SlimPodIp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlimPodIp {
    pub ip: String,
}

/// Only identity, labels and the resource version: annotations and managedFields are skipped
/// while parsing, never allocated.
fn slim_meta<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        name: Option<String>,
        namespace: Option<String>,
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
        resource_version: Option<String>,
        uid: Option<String>,
    }
    let meta = Meta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        labels: meta.labels,
        resource_version: meta.resource_version,
        uid: meta.uid,
        ..ObjectMeta::default()
    })
}

impl Resource for SlimPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Pod")
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("pods")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_analysis_needs_and_drops_the_rest() {
        let json = r#"{"apiVersion":"v1","kind":"Pod",
            "metadata":{"name":"web-1","namespace":"acme","labels":{"app":"web"},"resourceVersion":"7",
                        "annotations":{"big":"x"},"managedFields":[{"manager":"kubectl"}]},
            "spec":{"nodeName":"n1","containers":[{"name":"c","image":"i","env":[{"name":"A","value":"b"}],
                    "ports":[{"name":"http","containerPort":8080},{"containerPort":9000,"protocol":"UDP"}]}]},
            "status":{"phase":"Running","podIP":"10.0.0.1","podIPs":[{"ip":"10.0.0.1"},{"ip":"fd00::1"}],
                      "conditions":[{"type":"Ready","status":"True"}]}}"#;
        let pod: SlimPod = serde_json::from_str(json).unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(pod.metadata.labels.as_ref().unwrap()["app"], "web");
        assert!(pod.metadata.annotations.is_none() && pod.metadata.managed_fields.is_none());
        assert_eq!(pod.spec.containers[0].ports.len(), 2);
        assert_eq!(
            pod.spec.containers[0].ports[1].protocol.as_deref(),
            Some("UDP")
        );
        assert_eq!(pod.status.pod_ips.len(), 2);
        assert_eq!(pod.spec.node_name.as_deref(), Some("n1"));
    }
}
