//! Scrape targets from the cluster snapshot (pure): the Running pods with an IP that an
//! [`AgentRule`] selects, or the explicit URLs given on the command line.

use super::rules::{AgentRule, Scheme};
use crate::metrics::{AgentId, Cni};
use crate::model::{ClusterSnapshot, PodInfo};

/// One endpoint to scrape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub id: AgentId,
    pub how: How,
}

/// How a target is reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum How {
    /// Through the API server's pod proxy, with the console's own credentials.
    PodProxy {
        namespace: String,
        pod: String,
        port: u16,
        scheme: Scheme,
        path: String,
    },
    /// A plain HTTP(S) GET.
    Url(String),
}

impl How {
    /// The request path on the API server for a pod-proxy target:
    /// `/api/v1/namespaces/NS/pods/[https:]NAME:PORT/proxy/PATH`.
    pub fn proxy_path(&self) -> Option<String> {
        let How::PodProxy {
            namespace,
            pod,
            port,
            scheme,
            path,
        } = self
        else {
            return None;
        };
        let scheme = match scheme {
            Scheme::Http => "",
            Scheme::Https => "https:",
        };
        Some(format!(
            "/api/v1/namespaces/{namespace}/pods/{scheme}{pod}:{port}/proxy{path}"
        ))
    }
}

/// The targets the rules select in `cluster`: Running pods with an IP, one target per matching
/// rule, ordered by CNI and then `namespace/pod:port` so the same cluster always gives the same
/// list (and an unchanged list is recognised as such).
pub fn discover(cluster: &ClusterSnapshot, rules: &[AgentRule]) -> Vec<Target> {
    let mut targets: Vec<Target> = cluster
        .pods
        .values()
        .filter(|pod| pod.phase == "Running" && pod.ips.iter().any(|ip| !ip.is_empty()))
        .flat_map(|pod| {
            rules
                .iter()
                .filter(move |rule| selects(rule, pod))
                .map(move |rule| pod_target(rule, pod))
        })
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

fn selects(rule: &AgentRule, pod: &PodInfo) -> bool {
    rule.namespace
        .as_ref()
        .is_none_or(|ns| *ns == pod.id.namespace)
        && rule
            .selector
            .iter()
            .all(|(k, v)| pod.labels.get(k) == Some(v))
}

fn pod_target(rule: &AgentRule, pod: &PodInfo) -> Target {
    Target {
        id: AgentId {
            cni: rule.cni,
            target: format!("{}/{}:{}", pod.id.namespace, pod.id.name, rule.port),
            node: pod.node.clone(),
        },
        how: How::PodProxy {
            namespace: pod.id.namespace.clone(),
            pod: pod.id.name.clone(),
            port: rule.port,
            scheme: rule.scheme,
            path: rule.path.clone(),
        },
    }
}

/// Targets for explicit `--metrics-url CNI=URL`s, in the order given; the node is unknown.
/// The target names the URL without credentials or query (see [`super::redact_url`]).
pub fn url_targets(urls: &[(Cni, String)]) -> Vec<Target> {
    urls.iter()
        .map(|(cni, url)| Target {
            id: AgentId {
                cni: *cni,
                target: super::redact_url(url),
                node: None,
            },
            how: How::Url(url.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, ObjectRef};
    use crate::scrape::rules::{default_rules, rules_from};

    fn pod(ns: &str, name: &str, labels: &[(&str, &str)], phase: &str, ip: &str) -> PodInfo {
        PodInfo {
            id: ObjectRef::new(ns, name),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>()
                .into(),
            ips: if ip.is_empty() {
                vec![]
            } else {
                vec![ip.to_string()]
            },
            ports: vec![],
            phase: phase.to_string(),
            node: Some(format!("node-{name}")),
        }
    }

    fn cluster(pods: Vec<PodInfo>) -> ClusterSnapshot {
        let mut snapshot = ClusterSnapshot::default();
        for p in pods {
            snapshot.pods.insert(p.id.clone(), p);
        }
        snapshot
    }

    fn names(targets: &[Target]) -> Vec<(Cni, &str)> {
        targets
            .iter()
            .map(|t| (t.id.cni, t.id.target.as_str()))
            .collect()
    }

    #[test]
    fn default_rules_find_each_cni_and_skip_pods_not_running() {
        let snapshot = cluster(vec![
            pod(
                "kube-system",
                "cilium-b",
                &[("k8s-app", "cilium")],
                "Running",
                "10.0.0.2",
            ),
            pod(
                "kube-system",
                "cilium-a",
                &[("k8s-app", "cilium")],
                "Running",
                "10.0.0.1",
            ),
            pod(
                "kube-system",
                "cilium-pending",
                &[("k8s-app", "cilium")],
                "Pending",
                "",
            ),
            pod(
                "kube-system",
                "cilium-noip",
                &[("k8s-app", "cilium")],
                "Running",
                "",
            ),
            pod(
                "kube-system",
                "cilium-done",
                &[("k8s-app", "cilium")],
                "Succeeded",
                "10.0.0.9",
            ),
            pod(
                "calico-system",
                "calico-node-x",
                &[("k8s-app", "calico-node")],
                "Running",
                "10.0.1.1",
            ),
            pod(
                "kube-system",
                "antrea-agent-1",
                &[("app", "antrea"), ("component", "antrea-agent")],
                "Running",
                "10.0.2.1",
            ),
            pod(
                "kube-system",
                "antrea-controller",
                &[("app", "antrea"), ("component", "antrea-controller")],
                "Running",
                "10.0.2.2",
            ),
            pod("shop", "web", &[("app", "web")], "Running", "10.1.0.1"),
        ]);
        let targets = discover(&snapshot, &default_rules());
        assert_eq!(
            names(&targets),
            vec![
                (Cni::Cilium, "kube-system/cilium-a:9962"),
                (Cni::Cilium, "kube-system/cilium-b:9962"),
                (Cni::Hubble, "kube-system/cilium-a:9965"),
                (Cni::Hubble, "kube-system/cilium-b:9965"),
                (Cni::Calico, "calico-system/calico-node-x:9091"),
                (Cni::Antrea, "kube-system/antrea-agent-1:10350"),
            ]
        );
        assert_eq!(targets[0].id.node.as_deref(), Some("node-cilium-a"));
        assert_eq!(
            targets[5].how.proxy_path().as_deref(),
            Some("/api/v1/namespaces/kube-system/pods/https:antrea-agent-1:10350/proxy/metrics")
        );
        assert_eq!(
            targets[0].how.proxy_path().as_deref(),
            Some("/api/v1/namespaces/kube-system/pods/cilium-a:9962/proxy/metrics")
        );
        // Same snapshot, same list: the runtime only republishes on change.
        assert_eq!(discover(&snapshot, &default_rules()), targets);
    }

    #[test]
    fn overrides_change_namespace_selector_port_and_disable() {
        let source = crate::config::SourceFile::new(
            "agents.toml",
            "[cilium]\nnamespace = \"cilium\"\nport = 19962\npath = \"/m\"\n[cilium.selector]\napp = \"my-cilium\"\n[hubble]\nenabled = false\n",
        );
        let (rules, errors) = rules_from(Some(&source));
        assert!(errors.is_empty(), "{errors:?}");
        let snapshot = cluster(vec![
            pod(
                "cilium",
                "agent-1",
                &[("app", "my-cilium")],
                "Running",
                "10.0.0.1",
            ),
            pod(
                "kube-system",
                "agent-2",
                &[("app", "my-cilium")],
                "Running",
                "10.0.0.2",
            ),
            pod(
                "kube-system",
                "cilium-x",
                &[("k8s-app", "cilium")],
                "Running",
                "10.0.0.3",
            ),
        ]);
        let targets = discover(&snapshot, &rules);
        assert_eq!(names(&targets), vec![(Cni::Cilium, "cilium/agent-1:19962")]);
        assert_eq!(
            targets[0].how.proxy_path().as_deref(),
            Some("/api/v1/namespaces/cilium/pods/agent-1:19962/proxy/m")
        );
    }

    #[test]
    fn explicit_urls_keep_order_and_hide_credentials() {
        let targets = url_targets(&[
            (Cni::Calico, "http://10.0.0.5:9091/metrics".into()),
            (
                Cni::Cilium,
                "https://user:secret@agent:9962/metrics?token=abc".into(),
            ),
        ]);
        assert_eq!(targets[0].id.target, "http://10.0.0.5:9091/metrics");
        assert_eq!(targets[1].id.target, "https://agent:9962/metrics?…");
        assert!(!targets[1].id.target.contains("secret"));
        assert_eq!(targets[1].id.node, None);
    }
}
