//! Objects to a topology: namespaces, one representative pod per workload, and policies.
//! Follows the netpol-analyzer conventions (corpus FORMAT.md §1) so outputs line up.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::ObjectMeta;
use kube::core::DynamicObject;
use serde_json::Value;

use super::parse::{Document, Warning, WarningClass};
use super::strict::unknown_fields;
use crate::model::{
    ClusterSnapshot, Labels, NamedPort, NamespaceInfo, NativeKind, NativePolicyInfo, ObjectRef,
    PodInfo, PolicyInfo, TIER_GROUP, TierKind, TierPolicyInfo,
};
use crate::policy::NamedPeer;
use crate::policy::classes::NAME_LABEL;

const WORKLOAD_KINDS: [&str; 7] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
];

/// What a set of manifests describes: the snapshot (one pod per workload, keyed by the peer
/// name), the peers to list, and the warnings met on the way.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub snapshot: ClusterSnapshot,
    pub peers: Vec<NamedPeer>,
    pub warnings: Vec<Warning>,
}

pub fn build_topology(docs: &[Document]) -> Topology {
    let mut t = Topology::default();
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    for doc in docs {
        let kind = doc.value.get("kind").and_then(Value::as_str).unwrap_or("");
        let ns = str_at(&doc.value, &["metadata", "namespace"]).unwrap_or("default");
        let warn = |reason: String| Warning {
            file: doc.file.clone(),
            document: Some(doc.index),
            reason,
            class: WarningClass::Broken,
        };
        // A CNI's kind by its group (Calico's NetworkPolicy shares Kubernetes' kind name).
        let group = str_at(&doc.value, &["apiVersion"])
            .and_then(|a| a.split_once('/'))
            .map_or("", |(g, _)| g);
        if let Some(native) = NativeKind::from_group_kind(group, kind) {
            if add_native(&mut t, &doc.value, native, ns, &warn) {
                referenced.insert(ns.to_string());
            }
            continue;
        }
        if kind == "Namespace"
            || kind == "NetworkPolicy"
            || kind == "Pod"
            || WORKLOAD_KINDS.contains(&kind)
        {
            t.warnings.extend(strictly_rejected(doc, kind, ns));
        }
        match kind {
            "Namespace" => match namespace(&doc.value) {
                Some(info) => {
                    t.snapshot.namespaces.insert(info.name.clone(), info);
                }
                None => t.warnings.push(warn("Namespace without a name".into())),
            },
            "NetworkPolicy" => match serde_json::from_value::<NetworkPolicy>(doc.value.clone()) {
                Ok(np) => {
                    let Some(name) = np.metadata.name.clone() else {
                        t.warnings.push(warn("NetworkPolicy without a name".into()));
                        continue;
                    };
                    referenced.insert(ns.to_string());
                    let id = ObjectRef::new(ns, name);
                    t.snapshot
                        .policies
                        .insert(id.clone(), PolicyInfo { id, object: np });
                }
                Err(e) => t.warnings.push(warn(format!("invalid NetworkPolicy: {e}"))),
            },
            "Pod" => add_pod(&mut t, &doc.value, ns, &warn),
            k if TierKind::from_kind(k).is_some() => add_tier(&mut t, &doc.value, k, &warn),
            // A CNI's kind name in another group (read above when in its own).
            k if NativeKind::from_kind(k).is_some() => {
                let kind = NativeKind::from_kind(k).unwrap_or(NativeKind::CiliumNetworkPolicy);
                t.warnings.push(Warning {
                    class: WarningClass::UnusedKind,
                    ..warn(format!(
                        "{k} of apiVersion {:?} is not {}; skipped",
                        str_at(&doc.value, &["apiVersion"]).unwrap_or_default(),
                        kind.group()
                    ))
                });
            }
            k if WORKLOAD_KINDS.contains(&k) => add_workload(&mut t, &doc.value, k, ns, &warn),
            "" => t
                .warnings
                .push(warn("document has no kind; skipped".into())),
            other => t.warnings.push(Warning {
                class: WarningClass::UnusedKind,
                ..warn(format!("kind {other} is not used; skipped"))
            }),
        }
        if kind == "Pod" || WORKLOAD_KINDS.contains(&kind) {
            referenced.insert(ns.to_string());
        }
    }
    for ns in referenced {
        if !t.snapshot.namespaces.contains_key(&ns) {
            let info = namespace_info(&ns, Labels::new(), None);
            t.snapshot.namespaces.insert(ns, info);
        }
    }
    t
}

/// A cluster-scoped tier policy; its namespace, if any, is ignored as the API server would.
fn add_tier(t: &mut Topology, v: &Value, kind: &str, warn: &dyn Fn(String) -> Warning) {
    let Some(kind) = TierKind::from_kind(kind) else {
        return;
    };
    let group = str_at(v, &["apiVersion"]).unwrap_or_default();
    if group.split('/').next() != Some(TIER_GROUP) {
        t.warnings.push(Warning {
            class: WarningClass::UnusedKind,
            ..warn(format!(
                "{} of apiVersion {group:?} is not {TIER_GROUP}; skipped",
                kind.kind()
            ))
        });
        return;
    }
    match serde_json::from_value::<DynamicObject>(v.clone()) {
        Ok(object) => match TierPolicyInfo::new(kind, object) {
            Some(info) => {
                t.snapshot.tiers.insert(info.id.clone(), info);
            }
            None => t
                .warnings
                .push(warn(format!("{} without a name", kind.kind()))),
        },
        Err(e) => t
            .warnings
            .push(warn(format!("invalid {}: {e}", kind.kind()))),
    }
}

/// A CNI's policy (Cilium's, or Calico's in `projectcalico.org/v3` or its
/// `crd.projectcalico.org/v1` CRDs): a namespaced one in its namespace (`default` when the
/// document names none, as kubectl would apply it), a cluster-scoped one without one. True
/// when a namespaced policy was added (its namespace then exists in the topology).
fn add_native(
    t: &mut Topology,
    v: &Value,
    kind: NativeKind,
    ns: &str,
    warn: &dyn Fn(String) -> Warning,
) -> bool {
    let mut object = match serde_json::from_value::<DynamicObject>(v.clone()) {
        Ok(object) => object,
        Err(e) => {
            t.warnings
                .push(warn(format!("invalid {}: {e}", kind.kind())));
            return false;
        }
    };
    object.metadata.namespace = kind.namespaced().then(|| ns.to_string());
    match NativePolicyInfo::new(kind, object) {
        Some(info) => {
            t.snapshot.natives.insert(info.id.clone(), info);
            kind.namespaced()
        }
        None => {
            t.warnings
                .push(warn(format!("{} without a name", kind.kind())));
            false
        }
    }
}

/// What the API server's strict field validation would reject in one object Palisade reads.
fn strictly_rejected(doc: &Document, kind: &str, ns: &str) -> Option<Warning> {
    let unknown = unknown_fields(&doc.value).unwrap_or_default();
    if unknown.is_empty() && doc.duplicates.is_empty() {
        return None;
    }
    let quoted = |paths: &[String]| {
        paths
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut problems = Vec::new();
    if !unknown.is_empty() {
        problems.push(format!("unknown field(s) {}", quoted(&unknown)));
    }
    if !doc.duplicates.is_empty() {
        problems.push(format!(
            "key(s) given twice in one mapping {} (the last one is read)",
            quoted(&doc.duplicates)
        ));
    }
    let name = str_at(&doc.value, &["metadata", "name"]).unwrap_or("(no name)");
    let object = if kind == "Namespace" {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    };
    Some(Warning {
        file: doc.file.clone(),
        document: Some(doc.index),
        reason: format!(
            "{object}: {}; the API server's strict field validation rejects this object",
            problems.join("; ")
        ),
        class: WarningClass::Rejected,
    })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn labels_at(v: &Value, path: &[&str]) -> Labels {
    let Some(map) = path
        .iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_object)
    else {
        return Labels::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                // YAML may type `version: 1` or `on: true` as a number or bool.
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), v))
        })
        .collect()
}

fn namespace(v: &Value) -> Option<NamespaceInfo> {
    let name = str_at(v, &["metadata", "name"])?;
    let typed = serde_json::from_value::<Namespace>(v.clone()).ok();
    Some(namespace_info(
        name,
        labels_at(v, &["metadata", "labels"]),
        typed,
    ))
}

/// Every namespace carries `kubernetes.io/metadata.name`, as the API server guarantees.
fn namespace_info(name: &str, mut labels: Labels, object: Option<Namespace>) -> NamespaceInfo {
    labels
        .entry(NAME_LABEL.to_string())
        .or_insert_with(|| name.to_string());
    let object = object.unwrap_or_else(|| Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        ..Default::default()
    });
    NamespaceInfo {
        name: name.to_string(),
        labels,
        object,
    }
}

fn add_pod(t: &mut Topology, v: &Value, ns: &str, warn: &dyn Fn(String) -> Warning) {
    let Some(name) = str_at(v, &["metadata", "name"]) else {
        t.warnings.push(warn("Pod without a name".into()));
        return;
    };
    let owner = v
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|o| {
            o.get("controller").and_then(Value::as_bool) == Some(true)
                && o.get("kind").and_then(Value::as_str) != Some("Node")
        });
    let peer = match owner {
        Some(o) => {
            let owner_name = o.get("name").and_then(Value::as_str).unwrap_or(name);
            let kind = o
                .get("kind")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .unwrap_or("Pod");
            format!("{ns}/{owner_name}[{kind}]")
        }
        None => format!("{ns}/{name}[Pod]"),
    };
    let mut ips: Vec<String> = v
        .pointer("/status/podIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("ip").and_then(Value::as_str).map(String::from))
        .collect();
    if ips.is_empty() {
        ips.extend(str_at(v, &["status", "podIP"]).map(String::from));
    }
    add_peer(
        t,
        ns,
        peer,
        labels_at(v, &["metadata", "labels"]),
        v.get("spec"),
        ips,
    );
}

fn add_workload(
    t: &mut Topology,
    v: &Value,
    kind: &str,
    ns: &str,
    warn: &dyn Fn(String) -> Warning,
) {
    let Some(name) = str_at(v, &["metadata", "name"]) else {
        t.warnings.push(warn(format!("{kind} without a name")));
        return;
    };
    let template = if kind == "CronJob" {
        v.pointer("/spec/jobTemplate/spec/template")
    } else {
        v.pointer("/spec/template")
    };
    let Some(template) = template else {
        t.warnings
            .push(warn(format!("{kind} {ns}/{name} has no pod template")));
        return;
    };
    let labels = labels_at(template, &["metadata", "labels"]);
    let peer = format!("{ns}/{name}[{kind}]");
    add_peer(t, ns, peer, labels, template.get("spec"), Vec::new());
}

/// The first pod seen for a peer represents it; later pods of the same owner are replicas.
fn add_peer(
    t: &mut Topology,
    ns: &str,
    peer: String,
    labels: Labels,
    spec: Option<&Value>,
    mut ips: Vec<String>,
) {
    if t.peers.iter().any(|p| p.name == peer) {
        return;
    }
    if ips.is_empty() {
        ips.push("127.0.0.1".into());
    }
    let id = ObjectRef::new(ns, peer.strip_prefix(&format!("{ns}/")).unwrap_or(&peer));
    t.snapshot.pods.insert(
        id.clone(),
        PodInfo {
            id: id.clone(),
            labels: labels.into(),
            ips,
            ports: container_ports(spec),
            phase: "Running".into(),
            node: None,
        },
    );
    t.peers.push(NamedPeer {
        name: peer,
        pod: id,
    });
}

/// Named container ports; unnamed ones can never match a named policy port.
fn container_ports(spec: Option<&Value>) -> Vec<NamedPort> {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    let mut out = Vec::new();
    for c in containers.into_iter().flatten() {
        for p in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(port) = p
                .get("containerPort")
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
            else {
                continue;
            };
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            out.push(NamedPort {
                name: name.to_string(),
                port,
                protocol: protocol.to_string(),
            });
        }
    }
    out
}
