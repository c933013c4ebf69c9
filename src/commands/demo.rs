//! `palisade demo` and `palisade tour`: the demo API server on 127.0.0.1, alone
//! (`--serve-only`) or under the console.

use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::console::{ConsoleOptions, console};
use crate::cli::{DemoArgs, FlowArgs};
use crate::cluster::connect::ClusterSource;
use crate::commands::input::read_intent;
use crate::isolation::intent::Intent;
use crate::policy::{Cni, CniSetting};
use crate::runtime::JournalChoice;
use crate::sim::{AgentLag, DemoServer, Scenario, ServerOptions};

/// A free port on 127.0.0.1.
const ANY_LOOPBACK_PORT: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// The demo's own isolation contract, so the matrix shows intended cells and breaches.
const DEMO_INTENT: &str = include_str!("../../docs/examples/intent.yaml");

pub async fn run(args: DemoArgs, start_tour: bool) -> Result<ExitCode> {
    let intent = match (&args.intent, args.scale) {
        (Some(path), _) => Some(read_intent(path).map_err(|e| eyre!(e))?),
        // The example names the built-in scenario's namespaces; a generated cluster has none.
        (None, None) => {
            Some(Intent::from_yaml(DEMO_INTENT).map_err(|e| eyre!("built-in intent: {e}"))?)
        }
        (None, Some(_)) => None,
    };
    // `--cni calico`: the Calico flavour (its kinds served, calico-node agents, no cilium.io);
    // anything else, the default Cilium one. The console analyses with the same `--cni`.
    let calico = match args.analysis.cni {
        Some(CniSetting::Fixed(Cni::Calico)) => true,
        Some(CniSetting::Fixed(Cni::Generic)) => {
            return Err(eyre!(
                "--cni generic: the demo simulates a Cilium or a Calico cluster (--cni cilium or --cni calico)"
            ));
        }
        _ => false,
    };
    if args.goldmane_certs_out.is_some() && args.goldmane_listen.is_none() && !calico {
        return Err(eyre!(
            "--goldmane-certs-out: this demo serves no Goldmane (the Calico flavour does, \
             --cni calico, or add --goldmane-listen ADDR)"
        ));
    }
    let scenario = match args.scale {
        Some(spec) => Scenario::generated(spec),
        None => Scenario::builtin(),
    };
    if let Some(addr) = args.hubble_relay_listen
        && !addr.ip().is_loopback()
    {
        return Err(eyre!(
            "--hubble-relay-listen {addr}: the demo's Hubble Relay listens on loopback only \
             (127.0.0.1 or [::1]), never on the network"
        ));
    }
    let options = ServerOptions {
        churn: args.churn.and_then(std::num::NonZeroU32::new),
        faults: args.faults.clone(),
        admission_delay: args.admission_delay.unwrap_or_default(),
        tiers: !args.no_tiers,
        cilium: !args.no_cilium && !calico,
        calico,
        tiers_forbidden_user: args.tiers_forbidden_user,
        foreign: args.foreign_policies.clone().unwrap_or_default(),
        flow_rate: args.flow_rate,
        agent_lag: AgentLag::from_args(&args.agent_lag).map_err(|e| eyre!(e))?,
        // A Calico cluster reports flows through Goldmane, a Cilium one through Hubble Relay:
        // each flavour serves its own by default, the other only when asked for.
        goldmane_listen: args.goldmane_listen.or(calico.then_some(ANY_LOOPBACK_PORT)),
        hubble_relay_listen: args
            .hubble_relay_listen
            .or((!calico).then_some(ANY_LOOPBACK_PORT)),
        ..ServerOptions::default()
    };
    let lagging = options
        .agent_lag
        .resolve(&scenario.effective_nodes())
        .map_err(|e| eyre!(e))?;
    let server = DemoServer::start_with(scenario, options)
        .await
        .wrap_err("cannot start the demo API server on 127.0.0.1")?;
    // The demo's state (its team recorder's journal, the console's journal, client files)
    // lives as long as the demo.
    let run_dir = std::env::temp_dir().join(format!("palisade-demo-{}", std::process::id()));
    let recorder = if args.session.recorder.no_recorder {
        None
    } else {
        Some(crate::team::demo::start(&server, &run_dir).await?)
    };
    // Written once everything runs: a client that starts on seeing it finds the recorder up.
    if let Some(path) = &args.kubeconfig_out {
        server
            .write_kubeconfig(path)
            .wrap_err_with(|| format!("cannot write kubeconfig {}", path.display()))?;
    }
    if let (Some(dir), Some((_, certs))) = (&args.goldmane_certs_out, server.goldmane()) {
        certs.write_client_files(dir).wrap_err_with(|| {
            format!(
                "cannot write the Goldmane certificates into {}",
                dir.display()
            )
        })?;
    }
    if args.serve_only {
        println!("palisade demo API server listening on {}", server.url());
        if let Some((addr, _)) = server.goldmane() {
            println!("simulated Goldmane (goldmane.Flows, mutual TLS) listening on {addr}");
        }
        if let Some(dir) = &args.goldmane_certs_out {
            println!(
                "Goldmane client files written to {} (ca.crt, tls.crt, tls.key)",
                dir.display()
            );
        }
        if let Some(relay) = server.hubble_relay_addr() {
            println!(
                "simulated Hubble Relay (plain gRPC) listening on {relay}; try: hubble observe \
                 --server {relay} --verdict DROPPED --follow"
            );
        }
        match &recorder {
            Some(recorder) => println!(
                "team recorder listening on https://{} (the Service palisade/palisade-recorder, \
                 through the service proxy); its journal {}",
                recorder.addr(),
                recorder.journal.display()
            ),
            None => println!("no team recorder (--no-recorder)"),
        }
        if let Some(rate) = args.churn {
            println!("churning pods and policies at about {rate} watch events per second");
        }
        if let Some(plan) = &args.faults {
            println!(
                "injecting {} fault(s), one every {} ms, round and round",
                plan.faults.len(),
                plan.every.as_millis()
            );
        }
        if let Some(delay) = args.admission_delay {
            println!(
                "every write waits {} ms in admission before it is handled",
                delay.as_millis()
            );
        }
        if args.no_tiers {
            println!("not serving policy.networking.k8s.io (no tier policies)");
        }
        if args.tiers_forbidden_user {
            println!(
                "context {}: every verb except on policy.networking.k8s.io",
                crate::sim::NO_TIERS_CONTEXT
            );
        }
        if let Some(foreign) = &args.foreign_policies {
            let kinds: Vec<String> = foreign
                .counts
                .iter()
                .map(|(kind, n)| format!("{n} {}", kind.info().kind))
                .collect();
            println!("also serving {}", kinds.join(", "));
        }
        if args.flow_rate > 0 {
            println!("simulated dataplane: {} flows per second", args.flow_rate);
        }
        for (node, lag) in &lagging {
            println!("deliberate drift: the agent on {node} enforces policy changes {lag} s late");
        }
        if let Some(path) = &args.kubeconfig_out {
            println!(
                "kubeconfig written to {}; try: kubectl --kubeconfig {} get netpol -A",
                path.display(),
                path.display()
            );
        }
        println!("press ctrl-c to stop");
        wait_for_stop_signal().await?;
        drop(recorder);
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&run_dir);
        return Ok(ExitCode::SUCCESS);
    }
    let journal = JournalChoice::Fixed(
        args.session
            .journal
            .clone()
            .unwrap_or_else(|| run_dir.join("journal.sqlite")),
    );
    let flows = demo_flow_sources(&args.flows, &server, &run_dir)?;
    let options = ConsoleOptions {
        intent,
        metrics: &args.metrics,
        flows: &flows,
        journal,
        read_only: args.session.read_only,
        recorder: args.session.recorder.clone(),
        analysis: args.analysis.choices(),
        tour: Some(start_tour),
        namespaces: args.scope.namespaces.clone(),
    };
    let code = console(
        ClusterSource::Kubeconfig(Box::new(server.kubeconfig())),
        None,
        options,
    )
    .await;
    drop(recorder);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&run_dir);
    code
}

/// The demo's console reads the demo's own flow APIs unless told otherwise: its simulated
/// Hubble Relay (the Cilium flavour's, or `--hubble-relay-listen`), and its simulated Goldmane
/// (the Calico flavour's, or `--goldmane-listen`; client files written 0600 into the demo's
/// run directory). Without a relay it looks for none: a Calico cluster has no Hubble.
fn demo_flow_sources(
    given: &FlowArgs,
    server: &DemoServer,
    run_dir: &std::path::Path,
) -> Result<FlowArgs> {
    let mut flows = given.clone();
    if flows.source.no_flows {
        return Ok(flows);
    }
    if flows.source.hubble_relay.is_none() {
        match server.hubble_relay_addr() {
            Some(addr) => flows.source.hubble_relay = Some(addr.to_string()),
            None => flows.source.no_hubble = true,
        }
    }
    if let (None, Some((addr, certs))) = (&flows.source.goldmane, server.goldmane()) {
        let dir = run_dir.join("goldmane");
        certs.write_client_files(&dir).wrap_err_with(|| {
            format!(
                "cannot write the Goldmane client files into {}",
                dir.display()
            )
        })?;
        flows.source.goldmane = Some(addr.to_string());
        flows.source.goldmane_tls_ca = Some(dir.join("ca.crt"));
        flows.source.goldmane_tls_cert = Some(dir.join("tls.crt"));
        flows.source.goldmane_tls_key = Some(dir.join("tls.key"));
    }
    Ok(flows)
}

async fn wait_for_stop_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigterm = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = sigterm.recv() => {}
    }
    Ok(())
}
