//! The demo scenario: a compact YAML description of namespaces, workloads and policies.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};

use super::agents;
use super::relay_pod;
use super::resource::{GitOpsKind, Resource};
use super::store::name_suffix;
use crate::model::{NativeKind, TierKind};

const BUILTIN: &str = include_str!("scenario.yaml");

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario is not valid YAML: {0}")]
    Yaml(#[from] crate::yaml::Error),
    #[error("scenario is inconsistent: {0}")]
    Invalid(String),
}

/// A parsed scenario, ready to seed a demo cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub(super) nodes: Vec<String>,
    pub(super) namespaces: Vec<NamespaceSpec>,
    #[serde(default)]
    pub(super) policies: Vec<Value>,
    /// Cluster-scoped tier policies (ClusterNetworkPolicy, AdminNetworkPolicy,
    /// BaselineAdminNetworkPolicy manifests).
    #[serde(default)]
    pub(super) tiers: Vec<Value>,
    /// Cilium's policies (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy manifests).
    #[serde(default)]
    pub(super) cilium: Vec<Value>,
    /// Calico's policies (`projectcalico.org/v3` Tier, NetworkPolicy, GlobalNetworkPolicy and
    /// the staged kinds), served with `palisade demo --cni calico`.
    #[serde(default)]
    pub(super) calico: Vec<Value>,
    /// Whose agents run: Cilium's (the default) or Calico's `calico-node` (`--cni calico`).
    #[serde(skip)]
    pub(super) calico_agents: bool,
    /// GitOps owners (a Flux Kustomization, an Argo CD Application), each owning the policies
    /// of one tenant's namespaces: they carry the owner's labels.
    #[serde(default)]
    pub(super) gitops: Vec<GitOpsSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GitOpsSpec {
    /// The tenant whose policies the owner reconciles.
    pub(super) tenant: String,
    /// The Kustomization or Application manifest.
    pub(super) object: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NamespaceSpec {
    pub(super) name: String,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) workloads: Vec<Workload>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Workload {
    pub(super) name: String,
    #[serde(default = "one")]
    pub(super) replicas: u32,
    #[serde(default)]
    pub(super) statefulset: bool,
    #[serde(default)]
    pub(super) image: Option<String>,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) ports: Vec<Port>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Port {
    #[serde(default)]
    pub(super) name: Option<String>,
    pub(super) container_port: u16,
    #[serde(default = "tcp")]
    pub(super) protocol: String,
}

fn one() -> u32 {
    1
}

fn tcp() -> String {
    "TCP".into()
}

impl Scenario {
    /// The scenario shipped with Palisade; a unit test guards that it parses.
    pub fn builtin() -> Scenario {
        match Scenario::from_yaml(BUILTIN) {
            Ok(s) => s,
            Err(e) => panic!("embedded scenario.yaml is broken: {e}"),
        }
    }

    pub fn from_yaml(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = crate::yaml::from_str(text)?;
        scenario.check()?;
        Ok(scenario)
    }

    fn check(&self) -> Result<(), ScenarioError> {
        let mut names = BTreeSet::new();
        for ns in &self.namespaces {
            if !names.insert(ns.name.as_str()) {
                return Err(ScenarioError::Invalid(format!(
                    "namespace {} listed twice",
                    ns.name
                )));
            }
        }
        for (i, policy) in self.policies.iter().enumerate() {
            let ns = policy
                .pointer("/metadata/namespace")
                .and_then(Value::as_str);
            let name = policy.pointer("/metadata/name").and_then(Value::as_str);
            match (ns, name) {
                (Some(ns), Some(_)) if names.contains(ns) => {}
                _ => {
                    return Err(ScenarioError::Invalid(format!(
                        "policy #{i} needs metadata.name and a metadata.namespace listed under namespaces"
                    )));
                }
            }
        }
        for (i, tier) in self.tiers.iter().enumerate() {
            let kind = tier.get("kind").and_then(Value::as_str).unwrap_or("");
            let named = tier
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_some();
            if TierKind::from_kind(kind).is_none() || !named {
                return Err(ScenarioError::Invalid(format!(
                    "tier policy #{i} needs metadata.name and a kind: ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy"
                )));
            }
        }
        for (i, policy) in self.cilium.iter().enumerate() {
            let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = policy.pointer("/metadata/name").and_then(Value::as_str);
            let ns = policy
                .pointer("/metadata/namespace")
                .and_then(Value::as_str);
            let placed = match NativeKind::from_kind(kind) {
                Some(kind) if kind.namespaced() => ns.is_some_and(|ns| names.contains(ns)),
                Some(_) => ns.is_none(),
                None => false,
            };
            if name.is_none() || !placed {
                return Err(ScenarioError::Invalid(format!(
                    "cilium policy #{i} needs metadata.name and a kind: CiliumNetworkPolicy (with a metadata.namespace listed under namespaces) or CiliumClusterwideNetworkPolicy (without one)"
                )));
            }
        }
        for (i, policy) in self.calico.iter().enumerate() {
            let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = policy.pointer("/metadata/name").and_then(Value::as_str);
            let ns = policy
                .pointer("/metadata/namespace")
                .and_then(Value::as_str);
            let placed = match NativeKind::from_group_kind("projectcalico.org", kind) {
                Some(kind) if kind.namespaced() => ns.is_some_and(|ns| names.contains(ns)),
                Some(_) => ns.is_none(),
                None => false,
            };
            if name.is_none() || !placed {
                return Err(ScenarioError::Invalid(format!(
                    "calico policy #{i} needs metadata.name and a projectcalico.org kind: NetworkPolicy, StagedNetworkPolicy or StagedKubernetesNetworkPolicy (with a metadata.namespace listed under namespaces), or GlobalNetworkPolicy, StagedGlobalNetworkPolicy or Tier (without one)"
                )));
            }
        }
        Ok(())
    }

    /// The same cluster run by Calico: `calico-node` agents instead of Cilium's (the server
    /// decides which kinds it serves).
    pub fn with_calico_agents(mut self) -> Scenario {
        self.calico_agents = true;
        self
    }

    /// Calico policies the demo server holds when it serves `projectcalico.org`.
    pub fn calico_count(&self) -> usize {
        self.calico.len()
    }

    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    pub fn namespace_count(&self) -> usize {
        self.namespaces.len()
    }

    pub(super) fn namespace_names(&self) -> Vec<String> {
        self.namespaces.iter().map(|ns| ns.name.clone()).collect()
    }

    /// Cluster-scoped tier policies the demo server holds when it serves the tier group.
    pub fn tier_count(&self) -> usize {
        self.tiers.len()
    }

    /// Cilium policies the demo server holds when it serves `cilium.io`.
    pub fn cilium_count(&self) -> usize {
        self.cilium.len()
    }

    /// Workload pods (what the scenario's workloads expand into), without the agent pods.
    pub fn pod_count(&self) -> usize {
        self.namespaces
            .iter()
            .flat_map(|ns| &ns.workloads)
            .map(|w| w.replicas as usize)
            .sum()
    }

    /// The nodes pods are placed on: the listed ones, or the one default node.
    pub(crate) fn effective_nodes(&self) -> Vec<String> {
        if self.nodes.is_empty() {
            vec![super::meta::DEFAULT_NODE.to_string()]
        } else {
            self.nodes.clone()
        }
    }

    /// Simulated CNI agent pods: one per node, when the scenario has `kube-system`.
    pub fn agent_count(&self) -> usize {
        self.agent_pods().len()
    }

    /// The Hubble Relay pod (and its Service): one when the scenario has `kube-system` and
    /// runs Cilium (a Calico cluster has no Hubble).
    pub fn relay_count(&self) -> usize {
        usize::from(self.has_relay())
    }

    fn has_relay(&self) -> bool {
        self.has_system_namespace() && !self.calico_agents
    }

    fn has_system_namespace(&self) -> bool {
        self.namespaces.iter().any(|n| n.name == agents::NAMESPACE)
    }

    /// Every pod the demo server holds: workload pods, agent pods and the relay pod.
    pub fn total_pod_count(&self) -> usize {
        self.pod_count() + self.agent_count() + self.relay_count()
    }

    fn agent_pods(&self) -> Vec<Value> {
        match (self.has_system_namespace(), self.calico_agents) {
            (true, false) => agents::agent_pods(&self.effective_nodes()),
            (true, true) => agents::calico_node_pods(&self.effective_nodes()),
            (false, _) => Vec::new(),
        }
    }

    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    /// Distinct values of the `tenant` namespace label.
    pub fn tenants(&self) -> BTreeSet<&str> {
        self.namespaces
            .iter()
            .filter_map(|ns| ns.labels.get("tenant").map(String::as_str))
            .collect()
    }

    /// Labels a policy in a namespace of a GitOps-owned tenant as its owner's controller does.
    fn label_owned(&self, namespace: &str, policy: &mut Value) {
        let tenant = self
            .namespaces
            .iter()
            .find(|n| n.name == namespace)
            .and_then(|n| n.labels.get("tenant"));
        let Some(owner) = self.gitops.iter().find(|g| Some(&g.tenant) == tenant) else {
            return;
        };
        let name = owner.object["metadata"]["name"].clone();
        let labels = match owner.object["kind"].as_str() {
            Some("Kustomization") => json!({
                "kustomize.toolkit.fluxcd.io/name": name,
                "kustomize.toolkit.fluxcd.io/namespace": owner.object["metadata"]["namespace"],
            }),
            _ => json!({"argocd.argoproj.io/instance": name}),
        };
        if !policy["metadata"]["labels"].is_object() {
            policy["metadata"]["labels"] = json!({});
        }
        if let (Some(into), Some(from)) = (
            policy["metadata"]["labels"].as_object_mut(),
            labels.as_object(),
        ) {
            into.extend(from.clone());
        }
    }

    /// Every object to seed, in creation order: namespaces, then the agent pods (one per node),
    /// then workload pods, then the Hubble Relay pod (last, so that it takes no node or IP a
    /// workload pod had before it existed), then policies, then tier policies, then Services.
    pub(crate) fn objects(&self) -> Vec<(Resource, String, Value)> {
        let mut out = Vec::new();
        for ns in &self.namespaces {
            let body = json!({"metadata": {"name": ns.name, "labels": ns.labels}});
            out.push((Resource::Namespaces, String::new(), body));
        }
        for pod in self.agent_pods() {
            out.push((Resource::Pods, agents::NAMESPACE.to_string(), pod));
        }
        for ns in &self.namespaces {
            for workload in &ns.workloads {
                for pod in expand(&ns.name, workload) {
                    out.push((Resource::Pods, ns.name.clone(), pod));
                }
            }
        }
        for policy in &self.cilium {
            let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
            if let Some(kind) = NativeKind::from_kind(kind) {
                let ns = policy
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push((Resource::Native(kind), ns.to_string(), policy.clone()));
            }
        }
        for policy in &self.calico {
            let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
            if let Some(kind) = NativeKind::from_group_kind("projectcalico.org", kind) {
                let ns = policy
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push((Resource::Native(kind), ns.to_string(), policy.clone()));
            }
        }
        if self.has_relay() {
            out.push((
                Resource::Pods,
                relay_pod::NAMESPACE.to_string(),
                relay_pod::pod(),
            ));
        }
        for policy in &self.policies {
            let ns = policy
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut policy = policy.clone();
            self.label_owned(ns, &mut policy);
            out.push((Resource::NetworkPolicies, ns.to_string(), policy));
        }
        for owner in &self.gitops {
            let ns = owner.object["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default();
            let resource = match owner.object["kind"].as_str() {
                Some("Kustomization") => Resource::GitOps(GitOpsKind::Kustomization),
                Some("Application") => Resource::GitOps(GitOpsKind::Application),
                _ => continue,
            };
            out.push((resource, ns.to_string(), owner.object.clone()));
        }
        for tier in &self.tiers {
            let kind = tier.get("kind").and_then(Value::as_str).unwrap_or("");
            if let Some(kind) = TierKind::from_kind(kind) {
                out.push((Resource::Tier(kind), String::new(), tier.clone()));
            }
        }
        if self.has_relay() {
            out.push((
                Resource::Services,
                relay_pod::NAMESPACE.to_string(),
                relay_pod::service(),
            ));
        }
        out
    }
}

/// FNV-1a, for stable pod-template hashes across runs and platforms.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Expands a workload into pods named like a Deployment's or a StatefulSet's.
fn expand(namespace: &str, workload: &Workload) -> Vec<Value> {
    let hash = stable_hash(&format!("{namespace}/{}", workload.name));
    let template_hash = format!("{}{}", name_suffix(hash), name_suffix(hash >> 7));
    let ports: Vec<Value> = workload
        .ports
        .iter()
        .map(|p| {
            let mut port = json!({"containerPort": p.container_port, "protocol": p.protocol});
            if let Some(name) = &p.name {
                port["name"] = json!(name);
            }
            port
        })
        .collect();
    let image = workload
        .image
        .clone()
        .unwrap_or_else(|| format!("registry.example.com/{}:latest", workload.name));
    (0..workload.replicas)
        .map(|i| {
            let mut labels = workload.labels.clone();
            let name = if workload.statefulset {
                let name = format!("{}-{i}", workload.name);
                labels.insert("statefulset.kubernetes.io/pod-name".into(), name.clone());
                name
            } else {
                labels.insert("pod-template-hash".into(), template_hash.clone());
                let suffix = name_suffix(hash.wrapping_add(u64::from(i) + 1));
                format!("{}-{template_hash}-{suffix}", workload.name)
            };
            json!({
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"containers": [{"name": workload.name, "image": image, "ports": ports}]},
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenario_is_rich_enough() {
        let s = Scenario::builtin();
        assert!(s.tenants().len() >= 4, "tenants: {:?}", s.tenants());
        let tenant_namespaces = s
            .namespaces
            .iter()
            .filter(|n| n.labels.contains_key("tenant"));
        assert!(tenant_namespaces.count() >= 10);
        assert!(s.pod_count() >= 40, "pods: {}", s.pod_count());
        let objects = s.objects();
        let dns_pods = objects.iter().filter(|(r, ns, o)| {
            *r == Resource::Pods
                && ns == "kube-system"
                && o.pointer("/metadata/labels/k8s-app") == Some(&json!("kube-dns"))
        });
        assert!(dns_pods.count() >= 1);
        for (r, _, o) in &objects {
            if *r == Resource::Pods {
                let ports = o
                    .pointer("/spec/containers/0/ports")
                    .and_then(Value::as_array);
                let named = ports.is_some_and(|ps| ps.iter().any(|p| p.get("name").is_some()));
                assert!(named, "pod without a named port: {o}");
            }
        }
        for ns in [
            "kube-system",
            "monitoring",
            "ingress-nginx",
            "shared-services",
        ] {
            assert!(s.namespaces.iter().any(|n| n.name == ns), "{ns} missing");
        }
    }

    #[test]
    fn builtin_tier_policies_are_valid_with_admin_and_baseline_tiers() {
        let s = Scenario::builtin();
        let tiers: Vec<(Resource, Value)> = s
            .objects()
            .into_iter()
            .filter(|(r, _, _)| matches!(r, Resource::Tier(_)))
            .map(|(r, _, o)| (r, o))
            .collect();
        assert_eq!(tiers.len(), s.tier_count());
        let count = |tier: &str| {
            tiers
                .iter()
                .filter(|(_, o)| o.pointer("/spec/tier") == Some(&json!(tier)))
                .count()
        };
        assert!(count("Admin") >= 3 && count("Baseline") >= 1);
        for (resource, object) in &tiers {
            let Resource::Tier(kind) = resource else {
                unreachable!()
            };
            let errors = super::super::tier_schema::validate(*kind, object);
            assert!(errors.is_empty(), "{object}: {errors:?}");
        }
        let bad = "namespaces: [{name: a}]\ntiers: [{kind: NetworkPolicy, metadata: {name: p}}]";
        assert!(matches!(
            Scenario::from_yaml(bad),
            Err(ScenarioError::Invalid(_))
        ));
    }

    /// The Calico seed (`palisade demo --cni calico`): two tiers in order, a GNP in each, the
    /// explicit Deny, one staged policy, the `paymnet` typo; every object passes the API
    /// server's checks; bad entries are refused.
    #[test]
    fn builtin_calico_policies_pass_the_api_checks_and_bad_entries_are_refused() {
        let s = Scenario::builtin();
        let calico: Vec<(NativeKind, String, Value)> = s
            .objects()
            .into_iter()
            .filter_map(|(r, ns, o)| match r {
                Resource::Native(k) if k.family() == crate::model::NativeFamily::Calico => {
                    Some((k, ns, o))
                }
                _ => None,
            })
            .collect();
        assert_eq!(calico.len(), s.calico_count());
        for (kind, _, object) in &calico {
            let errors = super::super::calico_schema::validate(*kind, object);
            assert!(errors.is_empty(), "{object}: {errors:?}");
        }
        let named = |kind: NativeKind, name: &str| {
            calico
                .iter()
                .find(|(k, _, o)| *k == kind && o["metadata"]["name"] == name)
                .map(|(_, ns, o)| (ns.clone(), o.clone()))
                .unwrap_or_else(|| panic!("{name}"))
        };
        let (_, security) = named(NativeKind::CalicoTier, "security");
        let (_, platform) = named(NativeKind::CalicoTier, "platform");
        assert_eq!(
            (
                security["spec"]["order"].as_u64(),
                platform["spec"]["order"].as_u64()
            ),
            (Some(100), Some(200))
        );
        let (_, staged) = named(
            NativeKind::CalicoStagedGlobalNetworkPolicy,
            "security.quarantine-umbrella-egress",
        );
        assert_eq!(staged["spec"]["tier"], "security");
        let (ns, typo) = named(NativeKind::CalicoNetworkPolicy, "deny-web-to-payments");
        assert_eq!(
            (ns.as_str(), typo["spec"]["selector"].as_str()),
            ("acme-api", Some("app == 'paymnet'"))
        );
        let (ns, _) = named(NativeKind::CalicoNetworkPolicy, "deny-web-to-postgres");
        assert_eq!(ns, "globex-data");
        // The agents are Calico's when asked.
        let agents = s.clone().with_calico_agents();
        assert!(
            agents.objects().iter().any(|(r, _, o)| *r == Resource::Pods
                && o["metadata"]["labels"]["k8s-app"] == "calico-node")
        );
        assert!(!agents.objects().iter().any(
            |(r, _, o)| *r == Resource::Pods && o["metadata"]["labels"]["k8s-app"] == "cilium"
        ));
        for bad in [
            "namespaces: [{name: a}]\ncalico: [{kind: GlobalNetworkPolicy, metadata: {name: p, namespace: a}}]",
            "namespaces: [{name: a}]\ncalico: [{kind: NetworkPolicy, metadata: {name: p}}]",
            "namespaces: [{name: a}]\ncalico: [{kind: CiliumNetworkPolicy, metadata: {name: p, namespace: a}}]",
        ] {
            assert!(
                matches!(Scenario::from_yaml(bad), Err(ScenarioError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn builtin_cilium_policies_pass_the_crd_checks_and_bad_entries_are_refused() {
        let s = Scenario::builtin();
        let cilium: Vec<(Resource, String, Value)> = s
            .objects()
            .into_iter()
            .filter(|(r, _, _)| {
                matches!(r, Resource::Native(k) if k.family() == crate::model::NativeFamily::Cilium)
            })
            .collect();
        assert_eq!(cilium.len(), s.cilium_count());
        assert!(cilium.iter().any(|(r, ns, _)| {
            *r == Resource::Native(NativeKind::CiliumClusterwideNetworkPolicy) && ns.is_empty()
        }));
        for (_, _, object) in &cilium {
            let errors = super::super::cilium_schema::validate(object);
            assert!(errors.is_empty(), "{object}: {errors:?}");
        }
        for bad in [
            "namespaces: [{name: a}]\ncilium: [{kind: CiliumNetworkPolicy, metadata: {name: p}}]",
            "namespaces: [{name: a}]\ncilium: [{kind: CiliumNetworkPolicy, metadata: {name: p, namespace: b}}]",
            "namespaces: [{name: a}]\ncilium: [{kind: CiliumClusterwideNetworkPolicy, metadata: {name: p, namespace: a}}]",
            "namespaces: [{name: a}]\ncilium: [{kind: NetworkPolicy, metadata: {name: p, namespace: a}}]",
        ] {
            assert!(
                matches!(Scenario::from_yaml(bad), Err(ScenarioError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn expansion_is_deterministic_and_unique() {
        let names = |s: &Scenario| -> Vec<String> {
            s.objects()
                .iter()
                .map(|(_, ns, o)| format!("{ns}/{}", o["metadata"]["name"]))
                .collect()
        };
        let a = names(&Scenario::builtin());
        assert_eq!(a, names(&Scenario::builtin()));
        let unique: BTreeSet<_> = a.iter().collect();
        assert_eq!(unique.len(), a.len());
    }

    #[test]
    fn broken_scenarios_are_errors() {
        assert!(matches!(
            Scenario::from_yaml("namespaces: 3"),
            Err(ScenarioError::Yaml(_))
        ));
        let orphan = "namespaces: [{name: a}]\npolicies: [{metadata: {name: p, namespace: b}}]";
        assert!(matches!(
            Scenario::from_yaml(orphan),
            Err(ScenarioError::Invalid(_))
        ));
    }
}
