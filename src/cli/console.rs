//! The console's options, shared by `palisade` (no subcommand), `demo` and `tour`: journal and
//! write gate, agent metrics, flow sources.

use std::path::PathBuf;

use clap::Args;

use crate::flows::RingLimits;
use crate::flowsrc::{FlowSourceOptions, HubbleTarget, TlsFiles};
use crate::metrics::Cni;
use crate::scrape::rules::{check_url, parse_metrics_url};

/// The console's journal and write gate, for `palisade` and `palisade demo`.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Revision journal (default: the context's own, as `palisade record` uses; for the demo, a
    /// file of this run, removed when it ends)
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Never write to the cluster: rollbacks are refused (and audited as refused)
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    pub recorder: super::RecorderArgs,
}

/// Where the console reads CNI agent metrics from (see docs/metrics.md).
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Read agent metrics from this Prometheus server's HTTP API instead of scraping the agents
    #[arg(long, value_name = "URL", value_parser = parse_prometheus_url, conflicts_with_all = ["metrics_url", "no_metrics"])]
    pub prometheus: Option<String>,
    /// Scrape this agent URL instead of discovering agent pods; repeatable,
    /// e.g. --metrics-url cilium=http://10.0.0.5:9962/metrics
    #[arg(long = "metrics-url", value_name = "CNI=URL", value_parser = parse_metrics_url)]
    pub metrics_url: Vec<(Cni, String)>,
    /// Seconds between two metrics rounds (1 to 3600). Default: 5, longer when the agents are
    /// more than 50 a second would reach (e.g. 2,000 agents: 40)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub scrape_interval: Option<u64>,
    /// Do not read agent metrics at all
    #[arg(long, conflicts_with_all = ["prometheus", "metrics_url"])]
    pub no_metrics: bool,
}

fn parse_prometheus_url(text: &str) -> Result<String, String> {
    check_url(text.trim())?;
    Ok(text.trim().to_string())
}

/// Where the console reads the dataplane's flows from (Hubble Relay, Goldmane), and how many
/// it keeps (see docs/operator-guide.md, `:flows`).
#[derive(Debug, Clone, Args)]
pub struct FlowArgs {
    #[command(flatten)]
    pub source: FlowSourceArgs,
    /// Flows kept in memory for :flows, the newest ones (100 to 10000000)
    #[arg(long, value_name = "N", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub flows_max: u64,
    /// How long flows are kept (counted back from the newest flow), e.g. 10m, 90s; the
    /// violations view, the tree and the matrix count drops over this window
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_flow_age)]
    pub flows_max_age: std::time::Duration,
}

/// The flow sources alone (`palisade flows` reads them too).
#[derive(Debug, Clone, Args)]
pub struct FlowSourceArgs {
    /// Hubble Relay's gRPC address, host:port or http(s)://host:port (default: find the
    /// hubble-relay Service and reach it through a port-forward over the API server)
    #[arg(long, value_name = "ADDR", conflicts_with = "no_flows")]
    pub hubble_relay: Option<String>,
    /// CA certificate (PEM) that signed Hubble Relay's server certificate: TLS instead of plain text
    #[arg(long, value_name = "FILE")]
    pub hubble_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for Hubble Relay's mutual TLS (with --hubble-tls-key)
    #[arg(long, value_name = "FILE", requires = "hubble_tls_key")]
    pub hubble_tls_cert: Option<PathBuf>,
    /// Client key (PEM) for Hubble Relay's mutual TLS (with --hubble-tls-cert)
    #[arg(long, value_name = "FILE", requires = "hubble_tls_cert")]
    pub hubble_tls_key: Option<PathBuf>,
    /// The name Hubble Relay's certificate is checked against, when it is not the address's
    /// host (e.g. *.hubble-relay.cilium.io)
    #[arg(long, value_name = "NAME")]
    pub hubble_tls_server_name: Option<String>,
    /// Calico Goldmane's gRPC address, host:port (mutual TLS; in-cluster it is
    /// goldmane.calico-system:7443)
    #[arg(long, value_name = "ADDR", conflicts_with = "no_flows")]
    pub goldmane: Option<String>,
    /// CA certificate (PEM) that signed Goldmane's server certificate
    #[arg(long, value_name = "FILE")]
    pub goldmane_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for Goldmane's mutual TLS (with --goldmane-tls-key)
    #[arg(long, value_name = "FILE", requires = "goldmane_tls_key")]
    pub goldmane_tls_cert: Option<PathBuf>,
    /// Client key (PEM) for Goldmane's mutual TLS (with --goldmane-tls-cert)
    #[arg(long, value_name = "FILE", requires = "goldmane_tls_cert")]
    pub goldmane_tls_key: Option<PathBuf>,
    /// Read no flows at all (:flows says so; violations come from the agent counters)
    #[arg(long)]
    pub no_flows: bool,
    /// Do not look for Hubble Relay: set by the Calico demo, whose cluster has no Hubble (its
    /// flows come from Goldmane).
    #[arg(skip)]
    pub no_hubble: bool,
}

fn parse_flow_age(text: &str) -> Result<std::time::Duration, String> {
    let age = crate::sim::parse_duration(text.trim())?;
    if age.is_zero() {
        return Err("the flows' age must be longer than 0".into());
    }
    Ok(age)
}

impl FlowSourceArgs {
    /// The sources to start.
    pub fn options(&self) -> FlowSourceOptions {
        let tls = |ca: &Option<PathBuf>, cert: &Option<PathBuf>, key: &Option<PathBuf>| TlsFiles {
            ca: ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
            server_name: None,
        };
        FlowSourceOptions {
            hubble: (!self.no_flows && !self.no_hubble).then(|| match &self.hubble_relay {
                Some(addr) => HubbleTarget::Address(addr.trim().to_string()),
                None => HubbleTarget::Discover,
            }),
            hubble_tls: TlsFiles {
                server_name: self.hubble_tls_server_name.clone(),
                ..tls(
                    &self.hubble_tls_ca,
                    &self.hubble_tls_cert,
                    &self.hubble_tls_key,
                )
            },
            goldmane: if self.no_flows {
                None
            } else {
                self.goldmane.as_ref().map(|a| a.trim().to_string())
            },
            goldmane_tls: tls(
                &self.goldmane_tls_ca,
                &self.goldmane_tls_cert,
                &self.goldmane_tls_key,
            ),
        }
    }
}

impl FlowArgs {
    /// The sources to start and the ring's bounds: the one place the options become settings.
    pub fn settings(&self) -> (FlowSourceOptions, RingLimits) {
        let options = self.source.options();
        let limits = RingLimits {
            max_flows: usize::try_from(self.flows_max).unwrap_or(usize::MAX),
            max_age: self.flows_max_age,
        };
        (options, limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Probe {
        #[command(flatten)]
        flows: FlowArgs,
    }

    fn parse(args: &[&str]) -> Result<FlowArgs, clap::Error> {
        let mut all = vec!["probe"];
        all.extend_from_slice(args);
        Probe::try_parse_from(all).map(|p| p.flows)
    }

    #[test]
    fn defaults_discover_hubble_and_keep_20000_flows_for_10_minutes() {
        let (options, limits) = parse(&[]).unwrap().settings();
        assert_eq!(options.hubble, Some(HubbleTarget::Discover));
        assert_eq!(options.goldmane, None);
        assert_eq!(limits, RingLimits::default());
    }

    #[test]
    fn addresses_tls_files_and_bounds_become_settings() {
        let (options, limits) = parse(&[
            "--hubble-relay",
            "localhost:4245",
            "--hubble-tls-ca",
            "ca.pem",
            "--hubble-tls-server-name",
            "relay.example",
            "--goldmane",
            "goldmane:7443",
            "--goldmane-tls-cert",
            "c.pem",
            "--goldmane-tls-key",
            "k.pem",
            "--flows-max",
            "500",
            "--flows-max-age",
            "90s",
        ])
        .unwrap()
        .settings();
        assert_eq!(
            options.hubble,
            Some(HubbleTarget::Address("localhost:4245".into()))
        );
        assert_eq!(options.hubble_tls.ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(
            options.hubble_tls.server_name.as_deref(),
            Some("relay.example")
        );
        assert_eq!(options.goldmane.as_deref(), Some("goldmane:7443"));
        assert_eq!(options.goldmane_tls.key, Some(PathBuf::from("k.pem")));
        assert_eq!(limits.max_flows, 500);
        assert_eq!(limits.max_age, std::time::Duration::from_secs(90));
    }

    #[test]
    fn no_flows_starts_nothing_and_bad_values_are_refused() {
        let (options, _) = parse(&["--no-flows"]).unwrap().settings();
        assert_eq!((options.hubble, options.goldmane), (None, None));
        assert!(parse(&["--no-flows", "--hubble-relay", "x:1"]).is_err());
        assert!(parse(&["--flows-max-age", "0s"]).is_err());
        assert!(parse(&["--flows-max-age", "ten"]).is_err());
        assert!(parse(&["--flows-max", "5"]).is_err());
        assert!(
            parse(&["--hubble-tls-cert", "c.pem"]).is_err(),
            "a cert needs its key"
        );
    }
}
