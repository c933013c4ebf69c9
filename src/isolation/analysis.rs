//! Everything the console shows from the engine, computed in one pure pass over a snapshot.

use std::collections::BTreeMap;

use super::findings::Finding;
use super::lint::lint;
use super::matrix::{Matrix, tenant_matrix};
use super::tenants::TenantRules;
use crate::model::{ClusterSnapshot, Directions};
use crate::policy::{Direction, Engine, IpBlockPods, IpBlockPodsSetting, Settings};

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Per namespace: whether every pod is isolated, per direction (no pods: not isolated).
    pub isolation: BTreeMap<String, Directions>,
    pub findings: Vec<Finding>,
    pub matrix: Matrix,
    pub ip_block_pods: IpBlockPods,
}

impl Analysis {
    pub fn findings_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings
            .iter()
            .filter(move |f| f.namespace == namespace)
    }
}

/// Cilium agents run as pods labelled `k8s-app=cilium`.
pub fn cilium_detected(snapshot: &ClusterSnapshot) -> bool {
    snapshot
        .pods
        .values()
        .any(|p| p.labels.get("k8s-app").map(String::as_str) == Some("cilium"))
}

pub fn analyze(
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
    setting: IpBlockPodsSetting,
) -> Analysis {
    let ip_block_pods = setting.for_cluster(cilium_detected(snapshot));
    let engine = Engine::new(snapshot, Settings { ip_block_pods });
    let isolation = engine
        .classes()
        .by_namespace
        .iter()
        .map(|(namespace, classes)| {
            let all =
                |dir| !classes.is_empty() && classes.iter().all(|c| engine.is_isolated(*c, dir));
            (
                namespace.clone(),
                Directions {
                    ingress: all(Direction::Ingress),
                    egress: all(Direction::Egress),
                },
            )
        })
        .collect();
    Analysis {
        isolation,
        findings: lint(&engine, snapshot, rules),
        matrix: tenant_matrix(&engine, snapshot, rules),
        ip_block_pods,
    }
}
