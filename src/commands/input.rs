//! What the headless commands analyse: manifests from disk, or the live cluster.

use std::path::PathBuf;

use color_eyre::eyre::{Result, WrapErr};

use crate::cli::{AnalysisArgs, ClusterArgs};
use crate::cluster::{self, snapshot::fetch_snapshot};
use crate::isolation::analysis::cilium_detected;
use crate::isolation::intent::Intent;
use crate::isolation::tenants::TenantRules;
use crate::manifest::{self, Warning};
use crate::model::ClusterSnapshot;
use crate::policy::connlist::pod_peers;
use crate::policy::{Engine, IpBlockPods, NamedPeer, Settings};

pub struct Input {
    pub snapshot: ClusterSnapshot,
    /// Peers for connlist output: workloads for manifests, pods for a live cluster.
    pub peers: Vec<NamedPeer>,
    pub ip_block_pods: IpBlockPods,
    pub warnings: Vec<Warning>,
    pub tenant_rules: TenantRules,
}

impl Input {
    pub fn engine(&self) -> Engine {
        Engine::new(
            &self.snapshot,
            Settings {
                ip_block_pods: self.ip_block_pods,
            },
        )
    }
}

pub async fn load(args: &AnalysisArgs, cluster_args: &ClusterArgs) -> Result<Input> {
    let mut tenant_rules = tenant_rules(args.tenant_label.as_deref());
    tenant_rules.name_patterns = args.tenant_pattern.clone();
    if !args.manifests.is_empty() {
        return from_manifests(&args.manifests, args, tenant_rules);
    }
    let source = cluster::resolve_kubeconfig(cluster_args.kubeconfig.as_deref())?;
    let connection = cluster::connect(source, cluster_args.context.as_deref()).await?;
    let snapshot = fetch_snapshot(&connection).await?;
    let cilium = cilium_detected(&snapshot);
    Ok(Input {
        peers: pod_peers(snapshot.pods.keys()),
        ip_block_pods: args.ipblock_pods.for_cluster(cilium),
        snapshot,
        warnings: Vec::new(),
        tenant_rules,
    })
}

fn from_manifests(
    paths: &[PathBuf],
    args: &AnalysisArgs,
    tenant_rules: TenantRules,
) -> Result<Input> {
    let topology = manifest::load_paths(paths).wrap_err("cannot load the manifests")?;
    Ok(Input {
        snapshot: topology.snapshot,
        peers: topology.peers,
        ip_block_pods: args.ipblock_pods.for_manifests(),
        warnings: topology.warnings,
        tenant_rules,
    })
}

fn tenant_rules(label: Option<&str>) -> TenantRules {
    let mut rules = TenantRules::default();
    if let Some(label) = label {
        rules.label_keys = vec![label.to_string()];
    }
    rules
}

/// Reads and validates an intent file; the error names the file (and the line or rule).
pub fn read_intent(path: &std::path::Path) -> Result<Intent, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read intent file {}: {e}", path.display()))?;
    Intent::from_yaml(&text).map_err(|e| format!("intent file {}: {e}", path.display()))
}
