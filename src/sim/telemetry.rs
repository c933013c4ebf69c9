//! What the simulated agents count, pure: counters that are exact functions of time, latency
//! histograms, and their exposition as `cilium-agent` and Hubble would serve it.
//!
//! Times are seconds since the agents started, given by the caller. Between two evaluations a
//! series grows at the rate the earlier one found: its value at `t` is what it had at the last
//! evaluation plus `rate × (t − then)`. A series whose traffic is allowed again keeps its value.

use std::collections::BTreeMap;

use crate::metrics::adapters::{cilium, hubble};
use crate::policy::{Direction, Protocol};

use super::agents::Endpoint;
use super::exposition::{Exposition, Histogram, Summary};
use super::traffic::{AllowedKey, DropKey, Rates, unit};

/// Bucket bounds of both delay histograms, in seconds.
pub const DELAY_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The counters and histograms of every agent.
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// When `rates` took effect.
    at: f64,
    rates: Rates,
    denied_before: BTreeMap<DropKey, f64>,
    forwarded_before: BTreeMap<(String, Protocol), f64>,
    allowed_before: BTreeMap<AllowedKey, f64>,
    policy_delay: BTreeMap<String, Histogram>,
    propagation_delay: BTreeMap<String, Histogram>,
    /// Felix's dataplane apply times per node (`felix_int_dataplane_apply_time_seconds`).
    apply_time: BTreeMap<String, Summary>,
    policy_changes: u64,
    endpoint_changes: u64,
    /// Policy changes seen by the last evaluation.
    revision: u64,
}

impl Telemetry {
    pub fn new(nodes: Vec<String>) -> Telemetry {
        let histograms = || {
            nodes
                .iter()
                .map(|n| (n.clone(), Histogram::new(DELAY_BOUNDS)))
                .collect()
        };
        Telemetry {
            policy_delay: histograms(),
            propagation_delay: histograms(),
            apply_time: nodes
                .iter()
                .map(|n| (n.clone(), Summary::default()))
                .collect(),
            at: 0.0,
            rates: Rates::default(),
            denied_before: BTreeMap::new(),
            forwarded_before: BTreeMap::new(),
            allowed_before: BTreeMap::new(),
            policy_changes: 0,
            endpoint_changes: 0,
            revision: 0,
        }
    }

    /// Takes the rates of an evaluation made at `at` that saw `revision` policy changes.
    pub fn apply(&mut self, at: f64, rates: Rates, revision: u64) {
        let at = at.max(self.at);
        let dt = at - self.at;
        for (key, rate) in &self.rates.denied {
            *self.denied_before.entry(key.clone()).or_default() += rate * dt;
        }
        for (key, rate) in &self.rates.forwarded {
            *self.forwarded_before.entry(key.clone()).or_default() += rate * dt;
        }
        for (key, rate) in &self.rates.allowed {
            *self.allowed_before.entry(key.clone()).or_default() += rate * dt;
        }
        for key in rates.allowed.keys() {
            self.allowed_before.entry(key.clone()).or_default();
        }
        // New series start at zero and stay listed once they exist.
        for key in rates.denied.keys() {
            self.denied_before.entry(key.clone()).or_default();
        }
        for key in rates.forwarded.keys() {
            self.forwarded_before.entry(key.clone()).or_default();
        }
        self.at = at;
        self.rates = rates;
        self.revision = revision;
    }

    /// Dropped packets of one series up to `t`.
    pub fn denied(&self, key: &DropKey, t: f64) -> f64 {
        let rate = self.rates.denied.get(key).copied().unwrap_or(0.0);
        self.denied_before.get(key).copied().unwrap_or(0.0) + rate * (t - self.at).max(0.0)
    }

    fn forwarded(&self, key: &(String, Protocol), t: f64) -> f64 {
        let rate = self.rates.forwarded.get(key).copied().unwrap_or(0.0);
        self.forwarded_before.get(key).copied().unwrap_or(0.0) + rate * (t - self.at).max(0.0)
    }

    fn allowed(&self, key: &AllowedKey, t: f64) -> f64 {
        let rate = self.rates.allowed.get(key).copied().unwrap_or(0.0);
        self.allowed_before.get(key).copied().unwrap_or(0.0) + rate * (t - self.at).max(0.0)
    }

    /// One policy change, seen by every agent: each records how long it took to enforce, 20 to
    /// 600 ms, growing with the number of policies, deterministic per change and node.
    pub fn observe_policy_change(&mut self, policies: usize) {
        self.policy_changes += 1;
        let base = 0.02 + 0.4 * policies.min(2000) as f64 / 2000.0;
        for (node, h) in &mut self.policy_delay {
            let jitter = 0.18 * unit(&format!("policy/{}/{node}", self.policy_changes));
            h.observe((base + jitter).min(0.6));
        }
        // Felix applies a policy change in one dataplane batch: a few ms, more with more
        // policies to render.
        let base = 0.004 + 0.2 * policies.min(2000) as f64 / 2000.0;
        for (node, s) in &mut self.apply_time {
            s.observe(base + 0.015 * unit(&format!("apply/{}/{node}", self.policy_changes)));
        }
    }

    /// One endpoint (pod) change on `node`: 5 to 105 ms to propagate, mostly short.
    pub fn observe_endpoint_change(&mut self, node: &str) {
        self.endpoint_changes += 1;
        if let Some(h) = self.propagation_delay.get_mut(node) {
            let u = unit(&format!("endpoint/{}", self.endpoint_changes));
            h.observe(0.005 + 0.1 * u * u);
        }
        if let Some(s) = self.apply_time.get_mut(node) {
            let u = unit(&format!("apply-endpoint/{}", self.endpoint_changes));
            s.observe(0.002 + 0.01 * u);
        }
    }

    /// A quiet cluster's agents still update endpoints (the kubelet's status updates, readiness
    /// flips, restarts): one update on every node per [`super::agent_driver::BACKGROUND_TICK`],
    /// so the propagation delay's window is never empty, as on a real cluster. No object
    /// changes; policy delays are observed only for policy changes.
    pub fn observe_background_updates(&mut self) {
        let nodes: Vec<String> = self.propagation_delay.keys().cloned().collect();
        for node in nodes {
            self.observe_endpoint_change(&node);
        }
    }

    /// The exposition `node`'s agent serves on `endpoint` at time `t`.
    pub fn render(&self, endpoint: Endpoint, node: &str, t: f64) -> String {
        match endpoint {
            Endpoint::Agent => self.render_agent(node, t),
            Endpoint::Hubble => self.render_hubble(node, t),
            Endpoint::Felix => super::felix::render(&self.felix_view(node)),
        }
    }

    fn felix_view<'a>(&'a self, node: &str) -> super::felix::FelixView<'a> {
        super::felix::FelixView {
            hosts: self.apply_time.len(),
            local_endpoints: self.rates.endpoints.get(node).copied().unwrap_or(0),
            cluster_endpoints: self.rates.endpoints.values().sum(),
            policies: self.rates.policies + self.rates.calico_policies,
            apply_time: self.apply_time.get(node),
        }
    }

    fn on_node<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a DropKey> + 'a {
        self.denied_before.keys().filter(move |k| k.node == node)
    }

    fn render_agent(&self, node: &str, t: f64) -> String {
        let mut e = Exposition::new();
        e.family(
            cilium::DROPS,
            "counter",
            "Total dropped packets, tagged by drop reason and ingress/egress direction",
        );
        for (direction, label) in [
            (Direction::Egress, "EGRESS"),
            (Direction::Ingress, "INGRESS"),
        ] {
            let total: f64 = self
                .on_node(node)
                .filter(|k| k.direction == direction)
                .map(|k| self.denied(k, t))
                .sum();
            let labels = [("direction", label), ("reason", "Policy denied")];
            e.sample(cilium::DROPS, &labels, total.floor());
        }
        e.family(
            "cilium_forward_count_total",
            "counter",
            "Total forwarded packets, tagged by ingress/egress direction",
        );
        let forwarded: f64 = Protocol::ALL
            .iter()
            .map(|p| self.forwarded(&(node.to_string(), *p), t))
            .sum();
        e.sample(
            "cilium_forward_count_total",
            &[("direction", "INGRESS")],
            forwarded.floor(),
        );
        e.family(
            cilium::POLICY_COUNT,
            "gauge",
            "Number of policies currently loaded",
        );
        e.sample(cilium::POLICY_COUNT, &[], self.rates.policies as f64);
        e.family(
            "cilium_policy_max_revision",
            "gauge",
            "Highest policy revision number in the agent",
        );
        e.sample("cilium_policy_max_revision", &[], self.revision as f64);
        e.family(
            "cilium_endpoint_state",
            "gauge",
            "Count of all endpoints, tagged by different endpoint states",
        );
        let endpoints = self.rates.endpoints.get(node).copied().unwrap_or(0);
        e.sample(
            "cilium_endpoint_state",
            &[("endpoint_state", "ready")],
            endpoints as f64,
        );
        e.family(
            cilium::POLICY_DELAY,
            "histogram",
            "Time between a policy change and it being fully deployed into the datapath",
        );
        if let Some(h) = self.policy_delay.get(node) {
            e.histogram(cilium::POLICY_DELAY, &[("source", "k8s")], h);
        }
        e.family(
            cilium::PROPAGATION_DELAY,
            "histogram",
            "CiliumEndpoint roundtrip propagation delay in seconds",
        );
        if let Some(h) = self.propagation_delay.get(node) {
            e.histogram(cilium::PROPAGATION_DELAY, &[], h);
        }
        e.family(
            "cilium_unreachable_nodes",
            "gauge",
            "Number of nodes that cannot be reached",
        );
        e.sample("cilium_unreachable_nodes", &[], 0.0);
        e.finish()
    }

    fn render_hubble(&self, node: &str, t: f64) -> String {
        let mut e = Exposition::new();
        e.family(
            "hubble_flows_processed_total",
            "counter",
            "Total number of flows processed",
        );
        let mut drops: BTreeMap<(Protocol, &str, &str), f64> = BTreeMap::new();
        for key in self.on_node(node) {
            let pair = (
                key.protocol,
                key.source_namespace.as_str(),
                key.destination_namespace.as_str(),
            );
            *drops.entry(pair).or_default() += self.denied(key, t);
        }
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            let forwarded = self.forwarded(&(node.to_string(), protocol), t);
            let dropped: f64 = drops
                .iter()
                .filter(|(k, _)| k.0 == protocol)
                .map(|(_, v)| v)
                .sum();
            let p = protocol.as_str();
            let rows = [
                ("to-endpoint", "Trace", "FORWARDED", forwarded),
                ("", "Drop", "DROPPED", dropped),
            ];
            for (subtype, kind, verdict, value) in rows {
                let labels = [
                    ("protocol", p),
                    ("subtype", subtype),
                    ("type", kind),
                    ("verdict", verdict),
                ];
                e.sample("hubble_flows_processed_total", &labels, value.floor());
            }
        }
        e.family(hubble::DROPS, "counter", "Number of drops");
        for ((protocol, src, dst), value) in &drops {
            let labels = [
                ("destination_namespace", *dst),
                ("protocol", protocol.as_str()),
                ("reason", "POLICY_DENIED"),
                ("source_namespace", *src),
            ];
            e.sample(hubble::DROPS, &labels, value.floor());
        }
        e.family(
            hubble::VERDICTS,
            "counter",
            "Number of policy verdicts by action, direction and match type",
        );
        let mut verdicts: BTreeMap<(&str, &str, &str), f64> = BTreeMap::new();
        for key in self.on_node(node) {
            let direction = match key.direction {
                Direction::Ingress => "ingress",
                Direction::Egress => "egress",
            };
            let k = (
                direction,
                key.source_namespace.as_str(),
                key.destination_namespace.as_str(),
            );
            *verdicts.entry(k).or_default() += self.denied(key, t);
        }
        for ((direction, src, dst), value) in &verdicts {
            let labels = [
                ("action", "dropped"),
                ("destination_namespace", *dst),
                ("direction", *direction),
                ("match", "none"),
                ("source_namespace", *src),
            ];
            e.sample(hubble::VERDICTS, &labels, value.floor());
        }
        let allowed: Vec<(&AllowedKey, f64)> = self
            .allowed_before
            .keys()
            .filter(|k| k.node == node)
            .map(|k| (k, self.allowed(k, t)))
            .collect();
        super::hubble_l7::render(&mut e, &allowed);
        e.family(
            "hubble_lost_events_total",
            "counter",
            "Number of lost events",
        );
        e.sample(
            "hubble_lost_events_total",
            &[("source", "perf_event_ring_buffer")],
            0.0,
        );
        e.finish()
    }
}
