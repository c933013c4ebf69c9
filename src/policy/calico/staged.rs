//! Staged policies are not enforced: palisade shows what they would change. Each staged object
//! is promoted to the kind it rehearses (StagedNetworkPolicy → NetworkPolicy,
//! StagedGlobalNetworkPolicy → GlobalNetworkPolicy, StagedKubernetesNetworkPolicy → a
//! Kubernetes NetworkPolicy; `stagedAction: Delete` removes the enforced policy of that name),
//! a second engine is built, and the two are compared pod class by pod class.

use std::collections::BTreeMap;

use serde_json::Value;

use super::compile::staged_kubernetes_policy;
use crate::model::{ClusterSnapshot, NativeKind, NativePolicyInfo, NativeRef, ObjectRef};
use crate::policy::connset::ConnSet;
use crate::policy::engine::{Engine, Settings};

/// `stagedAction`: `Set` (the default) rehearses the policy, `Delete` its removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedAction {
    Set,
    Delete,
}

pub fn staged_action(info: &NativePolicyInfo) -> StagedAction {
    let action = info
        .object
        .data
        .get("spec")
        .and_then(|s| s.get("stagedAction"))
        .and_then(Value::as_str);
    match action {
        Some("Delete") => StagedAction::Delete,
        _ => StagedAction::Set,
    }
}

/// The snapshot as it would be with every staged object applied (and none left staged), and
/// the staged objects that could not be promoted (malformed), with why.
pub fn promote(snapshot: &ClusterSnapshot) -> (ClusterSnapshot, Vec<(NativeRef, String)>) {
    let mut out = snapshot.clone();
    let mut failed = Vec::new();
    let staged: Vec<&NativePolicyInfo> = snapshot
        .natives
        .values()
        .filter(|n| is_staged(n.id.kind))
        .collect();
    for info in staged {
        out.natives.remove(&info.id);
        let action = staged_action(info);
        let enforced_kind = match info.id.kind {
            NativeKind::CalicoStagedNetworkPolicy => NativeKind::CalicoNetworkPolicy,
            NativeKind::CalicoStagedGlobalNetworkPolicy => NativeKind::CalicoGlobalNetworkPolicy,
            _ => {
                let id = ObjectRef::new(info.id.namespace.clone(), info.id.name.clone());
                match action {
                    StagedAction::Delete => {
                        out.policies.remove(&id);
                    }
                    StagedAction::Set => match staged_kubernetes_policy(info) {
                        Ok(p) => {
                            out.policies.insert(id, p);
                        }
                        Err(e) => failed.push((info.id.clone(), describe(&e))),
                    },
                }
                continue;
            }
        };
        let id = NativeRef::new(
            enforced_kind,
            info.id.namespace.clone(),
            info.id.name.clone(),
        );
        match action {
            StagedAction::Delete => {
                out.natives.remove(&id);
            }
            StagedAction::Set => {
                let mut object = info.object.clone();
                if let Some(types) = &mut object.types {
                    types.kind = enforced_kind.kind().to_string();
                }
                if let Some(spec) = object.data.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("stagedAction");
                }
                out.natives
                    .insert(id.clone(), NativePolicyInfo { id, object });
            }
        }
    }
    (out, failed)
}

fn is_staged(kind: NativeKind) -> bool {
    matches!(
        kind,
        NativeKind::CalicoStagedNetworkPolicy
            | NativeKind::CalicoStagedGlobalNetworkPolicy
            | NativeKind::CalicoStagedKubernetesNetworkPolicy
    )
}

fn describe(errors: &[crate::policy::ValidationError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the staged objects would change between two namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedChange {
    pub src_namespace: String,
    pub dst_namespace: String,
    /// Allowed now, denied once the staged objects apply (some pod pair of the namespaces).
    pub would_deny: ConnSet,
    /// Denied now, allowed once they apply.
    pub would_allow: ConnSet,
    /// A pod pair where it happens (the first found), for the views to point at.
    pub example: (ObjectRef, ObjectRef),
}

impl StagedChange {
    /// "staged: would deny acme → globex (All Connections)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.would_deny.is_empty() {
            parts.push(format!(
                "would deny {} → {} ({})",
                self.src_namespace, self.dst_namespace, self.would_deny
            ));
        }
        if !self.would_allow.is_empty() {
            parts.push(format!(
                "would allow {} → {} ({})",
                self.src_namespace, self.dst_namespace, self.would_allow
            ));
        }
        format!("staged: {}", parts.join("; "))
    }
}

/// What the staged objects of `snapshot` would change, by namespace pair (sorted), comparing
/// an engine over the snapshot with one over its promotion. Pure; the cost is one engine build
/// and one query per pair of pod classes.
pub fn staged_changes(snapshot: &ClusterSnapshot, settings: Settings) -> Vec<StagedChange> {
    if !snapshot.natives.keys().any(|id| is_staged(id.kind)) {
        return Vec::new();
    }
    let (promoted, _) = promote(snapshot);
    let before = Engine::new(snapshot, settings);
    let after = Engine::new(&promoted, settings);
    let mut out: BTreeMap<(String, String), StagedChange> = BTreeMap::new();
    let classes = &after.classes().classes;
    for src in classes {
        for dst in classes {
            let (Some(s), Some(d)) = (src.members.first(), dst.members.first()) else {
                continue;
            };
            let (Some(now), Some(then)) = (
                before.allowed_between_pods(s, d),
                after.allowed_between_pods(s, d),
            ) else {
                continue;
            };
            if now == then {
                continue;
            }
            let key = (
                src.endpoint.namespace.clone(),
                dst.endpoint.namespace.clone(),
            );
            let change = out.entry(key.clone()).or_insert_with(|| StagedChange {
                src_namespace: key.0,
                dst_namespace: key.1,
                would_deny: ConnSet::none(),
                would_allow: ConnSet::none(),
                example: (s.clone(), d.clone()),
            });
            change.would_deny.union_with(&now.subtract(&then));
            change.would_allow.union_with(&then.subtract(&now));
        }
    }
    out.into_values().collect()
}
