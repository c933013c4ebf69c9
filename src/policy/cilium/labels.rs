//! Cilium endpoint selectors over a pod's Cilium labels: its own labels, plus
//! `io.kubernetes.pod.namespace` (its namespace), `io.cilium.k8s.namespace.labels.<key>` (its
//! namespace's labels) and `io.cilium.k8s.policy.serviceaccount`, each optionally prefixed with
//! a source (`k8s:`, `any:`). A selector is split into a namespace part and a pod part, so it
//! matches like a tier peer without building label maps per pod.

use std::collections::BTreeSet;

use super::super::classes::NAME_LABEL;
use super::super::decide::Matched;
use super::super::matching::Endpoint;
use super::super::selector::{Requirement, Selector};

const NAMESPACE: &str = "io.kubernetes.pod.namespace";
const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";
const SERVICE_ACCOUNT: &str = "io.cilium.k8s.policy.serviceaccount";
const CLUSTER: &str = "io.cilium.k8s.policy.cluster";

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EndpointSelector {
    /// Over the namespace's labels (`kubernetes.io/metadata.name` stands for its name).
    pub namespaces: Selector,
    pub pods: Selector,
    /// Whether the selector names the namespace (its name or one of its labels): then a
    /// namespaced policy's peer is not limited to the policy's namespace.
    pub names_namespace: bool,
    /// Labels palisade's model has no value for (service account, cluster name).
    pub unknown: Option<&'static str>,
    /// As written, for explanations.
    pub text: String,
}

/// Removes a Cilium label source prefix palisade treats as the Kubernetes one.
fn strip_source(key: &str) -> &str {
    key.strip_prefix("k8s:")
        .or_else(|| key.strip_prefix("any:"))
        .unwrap_or(key)
}

impl EndpointSelector {
    /// Splits a compiled label selector written with Cilium's keys.
    pub fn from_selector(sel: Selector) -> EndpointSelector {
        let text = sel.to_string();
        let mut out = EndpointSelector {
            text,
            ..Default::default()
        };
        for req in sel.requirements {
            let key = match &req {
                Requirement::In(k, _)
                | Requirement::NotIn(k, _)
                | Requirement::Exists(k)
                | Requirement::DoesNotExist(k) => strip_source(k).to_string(),
            };
            let rekey = |k: String| match req.clone() {
                Requirement::In(_, v) => Requirement::In(k, v),
                Requirement::NotIn(_, v) => Requirement::NotIn(k, v),
                Requirement::Exists(_) => Requirement::Exists(k),
                Requirement::DoesNotExist(_) => Requirement::DoesNotExist(k),
            };
            if key == NAMESPACE {
                out.names_namespace = true;
                out.namespaces.requirements.push(rekey(NAME_LABEL.into()));
            } else if let Some(ns_key) = key.strip_prefix(NAMESPACE_LABELS) {
                out.names_namespace = true;
                out.namespaces.requirements.push(rekey(ns_key.into()));
            } else if key == SERVICE_ACCOUNT {
                out.unknown = Some("selects by service account, which palisade does not read");
            } else if key == CLUSTER {
                out.unknown = Some("selects by cluster name, which palisade does not know");
            } else {
                out.pods.requirements.push(rekey(key));
            }
        }
        out
    }

    /// Limits the selector to one namespace (a namespaced policy's subject, or its peers
    /// that name no namespace).
    pub fn in_namespace(mut self, ns: &str) -> EndpointSelector {
        self.namespaces.requirements.push(Requirement::In(
            NAME_LABEL.into(),
            BTreeSet::from([ns.to_string()]),
        ));
        self
    }

    pub fn matches(&self, ep: &Endpoint) -> Matched {
        if !self.namespaces.matches(&ep.ns_labels) || !self.pods.matches(&ep.labels) {
            return Matched::No;
        }
        match self.unknown {
            Some(reason) => Matched::Unknown(reason),
            None => Matched::Yes,
        }
    }
}
