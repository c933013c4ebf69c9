//! Generated multi-tenant clusters of a given size, for scale tests and benchmarks:
//! `palisade demo --scale NAMESPACES,PODS,POLICIES`.
//!
//! The shape follows the built-in scenario's conventions: tenants of four namespaces, each with a
//! default-deny, DNS egress and same-tenant policies, then per-workload allow rules. Every seventh
//! namespace's default-deny covers ingress only, a realistic gap. Deterministic: the same spec
//! always gives the same cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use super::scenario::{NamespaceSpec, Port, Scenario, Workload};

/// Namespaces per tenant in a generated cluster.
const NAMESPACES_PER_TENANT: usize = 4;
/// Largest workload; more pods means more workloads.
const MAX_REPLICAS: usize = 5;
/// The platform part: kube-system (2 kube-dns pods) and monitoring (1 prometheus pod).
const PLATFORM_NAMESPACES: usize = 2;
const PLATFORM_PODS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleSpec {
    pub namespaces: usize,
    pub pods: usize,
    pub policies: usize,
    /// ClusterNetworkPolicies on top (an optional fourth number): see [`tier_policies`].
    pub tier_policies: usize,
}

impl FromStr for ScaleSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let (namespaces, pods, policies, tiers) = match parts[..] {
            [namespaces, pods, policies] => (namespaces, pods, policies, "0"),
            [namespaces, pods, policies, tiers] => (namespaces, pods, policies, tiers),
            _ => {
                return Err(format!(
                    "expected NAMESPACES,PODS,POLICIES[,TIER_POLICIES] (e.g. 200,20000,2000), got `{text}`"
                ));
            }
        };
        let number = |what: &str, value: &str| {
            value
                .parse::<usize>()
                .map_err(|_| format!("{what} must be a whole number, got `{value}`"))
        };
        let spec = ScaleSpec {
            namespaces: number("NAMESPACES", namespaces)?,
            pods: number("PODS", pods)?,
            policies: number("POLICIES", policies)?,
            tier_policies: number("TIER_POLICIES", tiers)?,
        };
        if spec.namespaces <= PLATFORM_NAMESPACES || spec.namespaces > 100_000 {
            return Err(format!(
                "NAMESPACES must be between {} and 100000",
                PLATFORM_NAMESPACES + 1
            ));
        }
        if spec.pods < PLATFORM_PODS || spec.pods > 1_000_000 {
            return Err(format!("PODS must be between {PLATFORM_PODS} and 1000000"));
        }
        if spec.policies > 1_000_000 {
            return Err("POLICIES must be at most 1000000".into());
        }
        if spec.tier_policies > 1_000 {
            return Err("TIER_POLICIES must be at most 1000 (they are cluster-wide)".into());
        }
        Ok(spec)
    }
}

impl fmt::Display for ScaleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.namespaces, self.pods, self.policies)?;
        match self.tier_policies {
            0 => Ok(()),
            n => write!(f, ",{n}"),
        }
    }
}

const ROLES: [&str; NAMESPACES_PER_TENANT] = ["web", "api", "data", "jobs"];

impl Scenario {
    pub fn generated(spec: ScaleSpec) -> Scenario {
        let tenant_namespaces = spec.namespaces - PLATFORM_NAMESPACES;
        let names: Vec<(String, String)> = (0..tenant_namespaces)
            .map(|i| {
                let tenant = format!("t{:04}", i / NAMESPACES_PER_TENANT);
                let role = ROLES[i % NAMESPACES_PER_TENANT];
                (format!("{tenant}-{role}"), tenant)
            })
            .collect();
        let mut namespaces = platform();
        let tenant_pods = spec.pods - PLATFORM_PODS;
        for (i, (name, tenant)) in names.iter().enumerate() {
            // Spread pods evenly; the first namespaces take the remainder.
            let pods =
                tenant_pods / tenant_namespaces + usize::from(i < tenant_pods % tenant_namespaces);
            namespaces.push(NamespaceSpec {
                name: name.clone(),
                labels: BTreeMap::from([("tenant".to_string(), tenant.clone())]),
                workloads: workloads(pods),
            });
        }
        let policies = policies(&names, &namespaces[PLATFORM_NAMESPACES..], spec.policies);
        Scenario {
            // About one node per 100 pods, as in a typical cluster; each gets a Cilium agent.
            nodes: (0..(spec.pods / 100).max(3))
                .map(|i| format!("node-{i:04}"))
                .collect(),
            namespaces,
            policies,
            tiers: tier_policies(spec.tier_policies),
            cilium: Vec::new(),
            calico: Vec::new(),
            calico_agents: false,
            gitops: Vec::new(),
        }
    }
}

fn port(name: &str, number: u16, protocol: &str) -> Port {
    Port {
        name: Some(name.into()),
        container_port: number,
        protocol: protocol.into(),
    }
}

fn platform() -> Vec<NamespaceSpec> {
    vec![
        NamespaceSpec {
            name: "kube-system".into(),
            labels: BTreeMap::new(),
            workloads: vec![Workload {
                name: "coredns".into(),
                replicas: 2,
                statefulset: false,
                image: None,
                labels: BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
                ports: vec![port("dns", 53, "UDP"), port("dns-tcp", 53, "TCP")],
            }],
        },
        NamespaceSpec {
            name: "monitoring".into(),
            labels: BTreeMap::new(),
            workloads: vec![Workload {
                name: "prometheus".into(),
                replicas: 1,
                statefulset: true,
                image: None,
                labels: BTreeMap::from([("app".to_string(), "prometheus".to_string())]),
                ports: vec![port("web", 9090, "TCP")],
            }],
        },
    ]
}

fn workloads(pods: usize) -> Vec<Workload> {
    (0..pods.div_ceil(MAX_REPLICAS))
        .map(|j| Workload {
            name: format!("svc-{j:03}"),
            replicas: u32::try_from((pods - j * MAX_REPLICAS).min(MAX_REPLICAS)).unwrap_or(1),
            statefulset: false,
            image: None,
            labels: BTreeMap::from([
                ("app".to_string(), format!("svc-{j:03}")),
                ("tier".to_string(), ["web", "api", "db"][j % 3].to_string()),
            ]),
            ports: vec![port("http", 8080, "TCP"), port("metrics", 9100, "TCP")],
        })
        .collect()
}

fn policy(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

#[derive(Clone, Copy)]
enum Baseline {
    DefaultDeny,
    Dns,
    SameTenant,
}

impl Baseline {
    /// The policy of this kind for the `index`th tenant namespace.
    fn policy(self, index: usize, ns: &str, tenant: &str) -> Value {
        match self {
            Baseline::DefaultDeny => {
                let types = if index % 7 == 6 {
                    json!(["Ingress"])
                } else {
                    json!(["Ingress", "Egress"])
                };
                policy(
                    ns,
                    "default-deny",
                    json!({"podSelector": {}, "policyTypes": types}),
                )
            }
            Baseline::Dns => policy(
                ns,
                "allow-dns",
                json!({
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{
                        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }],
                }),
            ),
            Baseline::SameTenant => policy(
                ns,
                "allow-same-tenant",
                json!({
                    "podSelector": {},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"tenant": tenant}}}]}],
                    "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"tenant": tenant}}}]}],
                }),
            ),
        }
    }
}

/// Baseline policies first (default-deny everywhere, then DNS, then same-tenant), then
/// workload-to-workload allows, until `budget` is spent.
fn policies(names: &[(String, String)], namespaces: &[NamespaceSpec], budget: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(budget);
    for kind in [Baseline::DefaultDeny, Baseline::Dns, Baseline::SameTenant] {
        for (i, (ns, tenant)) in names.iter().enumerate() {
            if out.len() == budget {
                return out;
            }
            out.push(kind.policy(i, ns, tenant));
        }
    }
    // Workload allows: round r lets workload r%n accept http from the workload r/n+1 places after
    // it in the same namespace (never itself), round-robin over namespaces so each gets some.
    let mut round = 0;
    while out.len() < budget {
        let mut added = false;
        for ns in namespaces {
            if out.len() == budget {
                break;
            }
            let count = ns.workloads.len();
            if count < 2 || round >= count * (count - 1) {
                continue;
            }
            let target_index = round % count;
            let target = &ns.workloads[target_index].name;
            let source = &ns.workloads[(target_index + 1 + round / count) % count].name;
            out.push(policy(&ns.name, &format!("allow-{target}-from-{source}"), json!({
                "podSelector": {"matchLabels": {"app": target}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": source}}}], "ports": [{"port": "http"}]}],
            })));
            added = true;
        }
        if !added {
            break; // every workload has its allow: the cluster cannot hold more distinct policies
        }
        round += 1;
    }
    out
}

/// `count` ClusterNetworkPolicies in the shape a platform team writes for tenant isolation:
/// one Admin policy per tenant (the first `count - 2` tenants, `t0000`…) that passes
/// intra-tenant traffic to the NetworkPolicies, accepts monitoring's scrapes and denies every
/// other namespace; one Admin policy protecting kube-system; one Baseline default deny.
/// `benches/engine.rs` measures the same set.
pub fn tier_policies(count: usize) -> Vec<Value> {
    let cnp = |name: String, spec: Value| {
        json!({
            "apiVersion": "policy.networking.k8s.io/v1alpha2",
            "kind": "ClusterNetworkPolicy",
            "metadata": {"name": name},
            "spec": spec,
        })
    };
    let mut out: Vec<Value> = (0..count.saturating_sub(2))
        .map(|t| {
            let tenant = format!("t{t:04}");
            let priority = 10 + (t % 900) as i64;
            cnp(
                format!("isolate-{tenant}"),
                tenant_isolation(&tenant, priority, 9100),
            )
        })
        .collect();
    if count >= 2 {
        out.push(cnp(
            "protect-kube-system".into(),
            json!({
                "tier": "Admin", "priority": 1,
                "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}},
                "ingress": [
                    {"name": "dns", "action": "Accept", "from": [{"namespaces": {}}],
                     "protocols": [{"udp": {"destinationPort": {"number": 53}}}, {"tcp": {"destinationPort": {"number": 53}}}]},
                    {"name": "rest", "action": "Deny", "from": [{"namespaces": {}}]},
                ],
            }),
        ));
        out.push(cnp(
            "baseline-deny".into(),
            json!({
                "tier": "Baseline", "priority": 100,
                "subject": {"namespaces": {}},
                "ingress": [{"name": "deny", "action": "Deny", "from": [{"namespaces": {}}]}],
            }),
        ));
    }
    out
}

/// The spec of one tenant's Admin isolation policy (`scrape_port`: monitoring's allowed port).
pub fn tenant_isolation(tenant: &str, priority: i64, scrape_port: i64) -> Value {
    json!({
        "tier": "Admin", "priority": priority,
        "subject": {"namespaces": {"matchLabels": {"tenant": tenant}}},
        "ingress": [
            {"name": "same-tenant", "action": "Pass", "from": [{"namespaces": {"matchLabels": {"tenant": tenant}}}]},
            {"name": "scrape", "action": "Accept",
             "from": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
             "protocols": [{"tcp": {"destinationPort": {"number": scrape_port}}}]},
            {"name": "other-tenants", "action": "Deny", "from": [{"namespaces": {}}]},
        ],
        "egress": [
            {"name": "same-tenant", "action": "Pass", "to": [{"namespaces": {"matchLabels": {"tenant": tenant}}}]},
            {"name": "other-tenants", "action": "Deny", "to": [{"namespaces": {"matchExpressions": [{"key": "tenant", "operator": "Exists"}]}}]},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form_and_rejects_nonsense() {
        let spec: ScaleSpec = "200,20000,2000".parse().unwrap();
        assert_eq!(
            spec,
            ScaleSpec {
                namespaces: 200,
                pods: 20000,
                policies: 2000,
                tier_policies: 0,
            }
        );
        assert_eq!(spec.to_string(), "200,20000,2000");
        let tiered: ScaleSpec = "5000,100000,20000,200".parse().unwrap();
        assert_eq!(
            (tiered.tier_policies, tiered.to_string().as_str()),
            (200, "5000,100000,20000,200")
        );
        assert!(
            "200,20000,2000,5000"
                .parse::<ScaleSpec>()
                .unwrap_err()
                .contains("TIER_POLICIES")
        );
        assert!(
            "200,20000"
                .parse::<ScaleSpec>()
                .unwrap_err()
                .contains("NAMESPACES,PODS,POLICIES[,TIER_POLICIES]")
        );
        assert!(
            "a,1,1"
                .parse::<ScaleSpec>()
                .unwrap_err()
                .contains("NAMESPACES")
        );
        assert!(
            "1,100,1".parse::<ScaleSpec>().is_err(),
            "needs room for the platform namespaces"
        );
    }

    #[test]
    fn generated_cluster_has_exactly_the_requested_size() {
        for text in ["200,20000,2000", "10,57,3", "6,40,20"] {
            let spec: ScaleSpec = text.parse().unwrap();
            let scenario = Scenario::generated(spec);
            assert_eq!(scenario.namespace_count(), spec.namespaces, "{text}");
            assert_eq!(scenario.pod_count(), spec.pods, "{text}");
            assert_eq!(scenario.policy_count(), spec.policies, "{text}");
            assert!(
                scenario.tenants().len() >= (spec.namespaces - 2) / 4,
                "{text}"
            );
        }
    }

    /// `--scale 50,2000,600,20`: 20 ClusterNetworkPolicies the demo server accepts (its schema)
    /// and the console decodes, in both tiers.
    #[test]
    fn a_fourth_number_adds_valid_tier_policies() {
        let scenario = Scenario::generated("50,2000,600,20".parse().unwrap());
        assert_eq!(scenario.tier_count(), 20);
        for object in &scenario.tiers {
            let kind = crate::model::TierKind::ClusterNetworkPolicy;
            let errors = super::super::tier_schema::validate(kind, object);
            assert!(errors.is_empty(), "{object}: {errors:?}");
        }
        let snapshot = scenario.snapshot().unwrap();
        assert_eq!(snapshot.tiers.len(), 20);
        let tier_of = |name: &str| {
            let (_, info) = snapshot
                .tiers
                .iter()
                .find(|(id, _)| id.name == name)
                .unwrap();
            info.spec()
                .and_then(|s| s["tier"].as_str().map(str::to_string))
        };
        assert_eq!(tier_of("isolate-t0017").as_deref(), Some("Admin"));
        assert_eq!(tier_of("baseline-deny").as_deref(), Some("Baseline"));
        assert_eq!(
            Scenario::generated("50,2000,600".parse().unwrap()).tier_count(),
            0
        );
    }

    #[test]
    fn nodes_and_agents_grow_with_pods() {
        let big = Scenario::generated("200,20000,2000".parse().unwrap());
        assert_eq!(big.nodes().len(), 200);
        assert_eq!(big.agent_count(), 200);
        // 20,000 workload pods, 200 agents and the Hubble Relay pod.
        assert_eq!(big.total_pod_count(), 20_201);
        let small = Scenario::generated("10,57,3".parse().unwrap());
        assert_eq!((small.nodes().len(), small.agent_count()), (3, 3));
    }

    #[test]
    fn policies_stop_where_the_cluster_has_no_distinct_ones_left() {
        // 4 tenant namespaces of 9 or 10 pods: 2 workloads each, so 2 allows each after 12 baseline.
        let scenario = Scenario::generated("6,40,100".parse().unwrap());
        assert_eq!(scenario.policy_count(), 12 + 4 * 2);
    }

    #[test]
    fn generated_policies_have_unique_names_per_namespace() {
        let scenario = Scenario::generated("50,2000,600".parse().unwrap());
        let mut seen = std::collections::BTreeSet::new();
        for p in &scenario.policies {
            let key = (
                p["metadata"]["namespace"].to_string(),
                p["metadata"]["name"].to_string(),
            );
            assert!(seen.insert(key.clone()), "duplicate {key:?}");
        }
    }
}
