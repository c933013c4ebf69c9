//! The guided tour's IO: its progress file, and the rollback rehearsal's deliberate break of a
//! demo policy (refused unless the console runs on the demo cluster).

use std::path::PathBuf;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::app::Msg;
use crate::app::tour::{parse_progress, progress_text};
use crate::model::ObjectRef;

/// `$XDG_STATE_HOME/palisade/tour` (else the data dir).
pub fn progress_path() -> Option<PathBuf> {
    dirs::state_dir()
        .or_else(dirs::data_dir)
        .map(|dir| dir.join("palisade").join("tour"))
}

/// The saved step, or `None` when there is no (readable) progress file.
pub fn load() -> Option<usize> {
    let text = std::fs::read_to_string(progress_path()?).ok()?;
    parse_progress(&text)
}

/// Saves the step; a failure is a notice, never fatal.
pub fn save(step: usize, tx: &mpsc::UnboundedSender<Msg>) {
    let Some(path) = progress_path() else {
        return;
    };
    let result = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, progress_text(step)));
    if let Err(err) = result {
        let _ = tx.send(Msg::Notice(format!(
            "cannot save the tour's progress to {}: {err}",
            path.display()
        )));
    }
}

/// The egress ports of a policy with every port 53 turned into 5353 (the rehearsal's fault).
fn broken_egress(policy: &Value) -> Option<Value> {
    let mut egress = policy.pointer("/spec/egress")?.clone();
    for rule in egress.as_array_mut()? {
        for port in rule
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if port.get("port") == Some(&json!(53)) {
                port["port"] = json!(5353);
            }
        }
    }
    Some(egress)
}

/// Where the rehearsal's break may be made: the write is refused unless both hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGate {
    /// The console runs on the built-in demo cluster (not a real one reached by kubeconfig).
    pub demo: bool,
    /// Why the console must not write (`--read-only`, contexts.toml), from
    /// `rollback::read_only_reason`, as for rollbacks.
    pub read_only: Option<String>,
}

impl BreakGate {
    /// Why the break must not be made, if it must not.
    fn refusal(&self) -> Option<String> {
        if !self.demo {
            return Some(
                "the tour breaks a policy only on the demo cluster (palisade tour)".to_string(),
            );
        }
        self.read_only
            .as_ref()
            .map(|why| format!("the console is read-only: {why}"))
    }
}

/// Breaks the policy's DNS egress on the demo cluster; refuses anywhere else and in read-only
/// mode, telling the tour why (it skips the rehearsal).
pub fn spawn_break(
    client: kube::Client,
    gate: BreakGate,
    policy: ObjectRef,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    if let Some(reason) = gate.refusal() {
        let _ = tx.send(Msg::TourBreakRefused { policy, reason });
        return;
    }
    tokio::spawn(async move {
        let api: Api<NetworkPolicy> = Api::namespaced(client, &policy.namespace);
        let result = async {
            let current = api.get(&policy.name).await.map_err(|e| e.to_string())?;
            let value = serde_json::to_value(&current).map_err(|e| e.to_string())?;
            let egress = broken_egress(&value).ok_or("the policy has no egress rules")?;
            let params = PatchParams {
                field_manager: Some("palisade-tour".into()),
                ..PatchParams::default()
            };
            let patch = json!({"spec": {"egress": egress}});
            api.patch(&policy.name, &params, &Patch::Merge(&patch))
                .await
                .map_err(|e| e.to_string())?;
            Ok::<(), String>(())
        }
        .await;
        let notice = match result {
            Ok(()) => {
                format!("the tour broke {policy} on purpose: its DNS egress is now port 5353")
            }
            Err(err) => format!("the tour could not break {policy}: {err}"),
        };
        let _ = tx.send(Msg::Notice(notice));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_break_is_refused_off_the_demo_and_when_read_only() {
        let gate = |demo, read_only: Option<&str>| BreakGate {
            demo,
            read_only: read_only.map(String::from),
        };
        assert_eq!(gate(true, None).refusal(), None);
        assert!(
            gate(false, None)
                .refusal()
                .is_some_and(|r| r.contains("only on the demo cluster"))
        );
        assert_eq!(
            gate(true, Some("--read-only")).refusal().as_deref(),
            Some("the console is read-only: --read-only")
        );
    }

    #[test]
    fn only_port_53_moves_to_5353() {
        let policy = json!({"spec": {"egress": [
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 443}]},
            {"to": []}
        ]}});
        assert_eq!(
            broken_egress(&policy).unwrap(),
            json!([{"ports": [{"port": 5353, "protocol": "UDP"}, {"port": 443}]}, {"to": []}])
        );
        assert!(broken_egress(&json!({"spec": {}})).is_none());
    }
}
