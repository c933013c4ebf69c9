//! `palisade demo` and `palisade tour`.

use std::path::PathBuf;

use clap::Args;

use super::console::{FlowArgs, MetricsArgs, SessionArgs};
use crate::sim::{MAX_CHURN_RATE, ScaleSpec};

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub scope: super::ScopeArgs,
    /// Only run the demo API server (for kubectl and other clients); stop with ctrl-c
    #[arg(long)]
    pub serve_only: bool,
    /// Write a kubeconfig for the demo server to FILE (kubectl --kubeconfig FILE ...)
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Intent file (default: the demo's own, docs/examples/intent.yaml, built in)
    #[arg(long, value_name = "FILE")]
    pub intent: Option<PathBuf>,
    /// Seed a generated multi-tenant cluster of this size instead of the built-in scenario,
    /// e.g. 200,20000,2000; a fourth number adds that many ClusterNetworkPolicies (tenant
    /// isolation in the Admin tier, a Baseline deny), e.g. 5000,100000,20000,200
    #[arg(long, value_name = "NAMESPACES,PODS,POLICIES[,TIER_POLICIES]")]
    pub scale: Option<ScaleSpec>,
    /// Load mode: keep changing pods and policies at about RATE watch events per second
    /// (1 to 10000), e.g. 1000
    #[arg(long, value_name = "RATE", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CHURN_RATE)))]
    pub churn: Option<u32>,
    /// Fault mode: misbehave like a troubled API server, one fault per period, e.g.
    /// drop=1s,expire,throttle=3,error=2,stall=35s,restart=60s,every=20s (see docs/demo-faults.md)
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<crate::sim::FaultPlan>,
    /// Slow admission: every write (create, update, patch, delete; dry run or not) waits
    /// DURATION before the server handles it, as behind a slow validating webhook, e.g. 4s
    /// (see docs/demo-faults.md)
    #[arg(long, value_name = "DURATION", value_parser = crate::sim::parse_duration)]
    pub admission_delay: Option<std::time::Duration>,
    /// Serve no policy.networking.k8s.io group (ClusterNetworkPolicy, AdminNetworkPolicy,
    /// BaselineAdminNetworkPolicy), as a cluster without those CRDs; the scenario's tier
    /// policies are left out (see docs/demo-server.md)
    #[arg(long)]
    pub no_tiers: bool,
    /// Add a user and context, palisade-demo-no-tiers, to whom the tier group is forbidden
    /// (403 on every verb, as RBAC without a role for it); written into --kubeconfig-out
    #[arg(long)]
    pub tiers_forbidden_user: bool,
    /// Serve no cilium.io kinds (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy): a
    /// cluster without Cilium's CRDs. (`--cni calico` runs the Calico flavour: Calico's
    /// projectcalico.org/v3 kinds with their seed, calico-node agents, no cilium.io.)
    #[arg(long)]
    pub no_cilium: bool,
    /// Also serve policy kinds palisade does not evaluate, with COUNT objects each, e.g.
    /// MultiNetworkPolicy=12,GlobalNetworkPolicy=3,NetworkPolicy.crd.antrea.io=2 (Calico,
    /// Antrea and MultiNetworkPolicy kinds; see docs/demo-server.md)
    #[arg(long, value_name = "KIND=COUNT,...")]
    pub foreign_policies: Option<crate::sim::ForeignPolicies>,
    /// Flows per second the simulated dataplane reports over the whole cluster (0 to 100000;
    /// 0: none), as the simulated Hubble Relay serves them
    #[arg(long, value_name = "N", default_value_t = crate::sim::DEFAULT_FLOW_RATE,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::sim::MAX_FLOW_RATE)))]
    pub flow_rate: u32,
    /// Deliberate drift: NODE's agent enforces the policies as they were SECS seconds ago
    /// (repeatable; default: the last node, 20 s; `none`: no agent lags; see docs/demo-server.md)
    #[arg(long, value_name = "NODE=SECS|none")]
    pub agent_lag: Vec<crate::sim::LagArg>,
    /// Serve a simulated Calico Goldmane (goldmane.Flows, mutual TLS with its own CA) on this
    /// loopback address, e.g. 127.0.0.1:7443 (default: none; with --cni calico, a free
    /// loopback port; see docs/flows.md)
    #[arg(long, value_name = "ADDR", value_parser = loopback_addr)]
    pub goldmane_listen: Option<std::net::SocketAddr>,
    /// Write the simulated Goldmane's CA and a client certificate and key (ca.crt, tls.crt,
    /// tls.key; mode 0600) into DIR, for clients; needs a Goldmane (--cni calico or
    /// --goldmane-listen)
    #[arg(long, value_name = "DIR")]
    pub goldmane_certs_out: Option<PathBuf>,
    /// Where the demo's simulated Hubble Relay listens (loopback only), e.g. 127.0.0.1:4245
    /// (default: a free loopback port; with --cni calico, none; see docs/flows.md)
    #[arg(long, value_name = "ADDR")]
    pub hubble_relay_listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub flows: FlowArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    #[command(flatten)]
    pub analysis: super::AnalysisFlags,
}

/// The demo's servers listen on loopback only.
fn loopback_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    let addr: std::net::SocketAddr = text
        .parse()
        .map_err(|e| format!("{text:?} is not an address like 127.0.0.1:7443: {e}"))?;
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!(
            "{addr} is not a loopback address: the demo listens on 127.0.0.1 (or ::1) only"
        ))
    }
}
