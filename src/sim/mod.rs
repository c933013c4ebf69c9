//! The built-in demo cluster: a Kubernetes-compatible API server on loopback, over TLS with
//! a certificate made up at start, requiring a bearer token (see `auth.rs`, `tls.rs`).
//!
//! Serves namespaces, pods, services and NetworkPolicies seeded from a [`Scenario`] (with a Hubble
//! Relay pod and Service, reached through `pods/portforward`: `relay_pod.rs`, `portforward.rs`),
//! with list/watch/create/replace/patch/delete, so kube-rs and kubectl can
//! talk to it like to a real cluster. One simulated Cilium agent per node serves
//! drop counters and latency histograms through the pod proxy, following the
//! policies as they change (see `docs/metrics.md`, "Demo cluster agents").

mod agent_driver;
mod agent_lag;
mod agents;
mod auth;
mod calico_schema;
mod churn;
mod cilium_schema;
mod continue_token;
mod discovery;
mod exposition;
mod faults;
mod felix;
pub mod flow_feed;
mod flow_gen;
mod flow_trace;
mod foreign;
mod generate;
pub mod goldmane;
pub mod goldmane_certs;
mod http;
mod hubble_l7;
mod meta;
mod openapi;
mod patch;
mod portforward;
mod protobuf;
mod proxy;
mod query;
mod rbac_scoped;
pub mod relay;
mod relay_pod;
mod resource;
mod scenario;
mod selector;
mod service_proxy;
mod snapshot;
mod status;
mod store;
mod table;
mod team_recorder;
mod telemetry;
mod tier_fields;
mod tier_schema;
mod tls;
mod traffic;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube::config::{
    AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub use agent_lag::{AgentLag, DEFAULT_LAG, LagArg};
pub use churn::MAX_RATE as MAX_CHURN_RATE;
pub use faults::{Fault, FaultPlan, Restart, parse_duration};
pub use foreign::{Foreign, ForeignPolicies};
pub use generate::{ScaleSpec, tenant_isolation, tier_policies as generated_tier_policies};
pub use scenario::{Scenario, ScenarioError};

use agent_driver::Agents;
use http::Shared;
use store::{Store, WriteOptions};

const NAME: &str = "palisade-demo";
/// The demo's read-only context and user (get, list, watch only).
pub const VIEWER_CONTEXT: &str = "palisade-demo-viewer";
/// The context of the user to whom the tier group is forbidden (`--tiers-forbidden-user`).
pub const NO_TIERS_CONTEXT: &str = "palisade-demo-no-tiers";
/// The namespace-scoped user's context (a Role in the `acme-*` namespaces only); its
/// kubeconfig namespace is `acme-web`.
pub const SCOPED_CONTEXT: &str = "palisade-demo-acme";
/// The namespace the scoped context names in the kubeconfig.
pub const SCOPED_NAMESPACE: &str = "acme-web";
pub use auth::{ADMIN_USER, NO_TIERS_USER, RECORDER_USER, SCOPED_USER, VIEWER_USER};

/// Tunables, mostly so tests can exercise edge cases quickly.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How many past events are kept for watch resumption; older versions get 410 Expired.
    pub event_window: usize,
    /// How often watch streams with `allowWatchBookmarks` get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Load mode: keep changing pods and policies at about this many watch events per second
    /// (at most `event_window` per second). See `churn.rs`.
    pub churn: Option<NonZeroU32>,
    /// Simulated Cilium agents: traffic following the policies, and their metrics served
    /// through the pod proxy (see `docs/metrics.md`). When off, the agent pods still exist but
    /// their ports answer 503, like agents that are down.
    pub agents: bool,
    /// `--faults`: misbehave on a timer (see `faults.rs` and docs/demo-faults.md).
    pub faults: Option<FaultPlan>,
    /// `--admission-delay`: every write (create, replace, patch, delete; dry run or not) waits
    /// this long before the store handles it, as behind a slow validating admission webhook.
    /// Reads are not delayed.
    pub admission_delay: Duration,
    /// Serve `policy.networking.k8s.io` (ClusterNetworkPolicy, AdminNetworkPolicy,
    /// BaselineAdminNetworkPolicy) as a cluster with the CRDs installed. Off (`--no-tiers`): the
    /// group is not discovered, its paths are 404 and the scenario's tier policies are left out.
    pub tiers: bool,
    /// Serve `cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy with the
    /// scenario's Cilium policies. Off (`--no-cilium`): not discovered, paths 404.
    pub cilium: bool,
    /// Serve Calico's kinds in `projectcalico.org/v3` (as its API server does) with the
    /// scenario's Calico policies: `palisade demo --cni calico`.
    pub calico: bool,
    /// Serve Calico's kinds only as its `crd.projectcalico.org/v1` CRDs (a cluster without
    /// Calico's API server), with the scenario's Calico policies.
    pub calico_crds: bool,
    /// `--tiers-forbidden-user`: a third user and context, `palisade-demo-no-tiers`, who may do
    /// everything except touch the tier group and `cilium.io` (403).
    pub tiers_forbidden_user: bool,
    /// `--foreign-policies`: other projects' policy kinds to serve, with so many objects each.
    pub foreign: ForeignPolicies,
    /// `--flow-rate`: flows per second the simulated dataplane reports over the whole cluster
    /// (0: none). Needs `agents`.
    pub flow_rate: u32,
    /// `--agent-lag`: nodes whose agent enforces the policies as they were some seconds ago.
    pub agent_lag: AgentLag,
    /// `--goldmane-listen`: also serve a simulated Calico Goldmane (mTLS) on this loopback
    /// address, with the flow feed's flows (see `goldmane.rs`).
    pub goldmane_listen: Option<SocketAddr>,
    /// The simulated Goldmane's aggregation window (Goldmane's: 15 s).
    pub goldmane_window: Duration,
    /// `--hubble-relay-listen`: where the simulated Hubble Relay serves the flow feed (loopback
    /// only; port 0: a free one). `None`: no relay.
    pub hubble_relay_listen: Option<SocketAddr>,
}

/// The demo's flow rate unless told otherwise.
pub const DEFAULT_FLOW_RATE: u32 = 50;
/// The highest `--flow-rate`.
pub const MAX_FLOW_RATE: u32 = 100_000;

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            event_window: 10_000,
            bookmark_interval: Duration::from_secs(3),
            churn: None,
            agents: true,
            faults: None,
            admission_delay: Duration::ZERO,
            tiers: true,
            cilium: true,
            calico: false,
            calico_crds: false,
            tiers_forbidden_user: false,
            foreign: ForeignPolicies::default(),
            flow_rate: DEFAULT_FLOW_RATE,
            agent_lag: AgentLag::Default,
            goldmane_listen: None,
            goldmane_window: goldmane::WINDOW,
            hubble_relay_listen: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
        }
    }
}

/// A running demo API server; dropping it stops the server.
pub struct DemoServer {
    addr: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    churn: Option<JoinHandle<()>>,
    agents: Option<JoinHandle<()>>,
    faults: Option<JoinHandle<()>>,
    tokens: auth::Tokens,
    shared: Arc<Shared>,
    ca_pem: String,
    /// The simulated Goldmane and its certificates, with `goldmane_listen`.
    goldmane: Option<(goldmane::SimGoldmane, goldmane_certs::GoldmaneCerts)>,
    hubble_relay: Option<relay::HubbleRelay>,
}

impl DemoServer {
    pub async fn start(scenario: Scenario) -> std::io::Result<DemoServer> {
        DemoServer::start_with(scenario, ServerOptions::default()).await
    }

    /// Seeds a store from the scenario and serves it on a random loopback port.
    pub async fn start_with(
        scenario: Scenario,
        options: ServerOptions,
    ) -> std::io::Result<DemoServer> {
        // A Calico cluster (`--cni calico`): its agents are calico-node pods.
        let scenario = match (options.calico || options.calico_crds) && !options.cilium {
            true => scenario.with_calico_agents(),
            false => scenario,
        };
        let nodes = scenario.effective_nodes();
        let lagging = options
            .agent_lag
            .resolve(&nodes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut store = Store::new(scenario.nodes().to_vec(), options.event_window);
        let seed = WriteOptions {
            dry_run: false,
            field_manager: "palisade-scenario".into(),
            operation: "Update",
            strict_fields: true,
        };
        let served = resource::Served {
            tiers: options.tiers,
            cilium: options.cilium,
            calico: options.calico,
            calico_crds: options.calico_crds,
            foreign: options.foreign.counts.iter().map(|(k, _)| *k).collect(),
        };
        let objects = scenario
            .objects()
            .into_iter()
            .map(|seed| match options.calico_crds {
                true => resource::as_calico_crd(seed),
                false => seed,
            })
            .chain(foreign::objects(
                &options.foreign,
                &scenario.namespace_names(),
            ));
        for (resource, namespace, object) in objects.filter(|(r, _, _)| served.serves(*r)) {
            store
                .create(resource, &namespace, object, &seed)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        }
        store
            .create_in_hidden_namespace(
                resource::Resource::Services,
                team_recorder::NAMESPACE,
                team_recorder::service(),
                &seed,
            )
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let planner = options.churn.map(|rate| {
            churn::Planner::from_store(&store, churn::limit(rate, options.event_window))
        });
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let tokens = auth::Tokens::generate(options.tiers_forbidden_user)?;
        let tls = tls::DemoTls::generate()?;
        let agents = options
            .agents
            .then(|| Arc::new(Agents::new(nodes, options.flow_rate, lagging)));
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            options,
            shutdown: shutdown_rx,
            agents: agents.clone(),
            tokens: tokens.clone(),
            faults: faults::Faults::default(),
            served,
            flow_feed: Arc::new(flow_feed::FlowFeed::new(
                flow_feed::FlowFeed::KEEP,
                flow_feed::FlowFeed::LAG,
            )),
            forward_targets: portforward::ForwardTargets::default(),
            service_backends: service_proxy::ServiceBackends::default(),
        });
        let hubble_relay = match shared.options.hubble_relay_listen {
            Some(addr) => Some(relay::HubbleRelay::start(addr, shared.flow_feed.clone()).await?),
            None => None,
        };
        // The relay pod's gRPC port forwards to the simulated relay, so a client that finds
        // the relay through its Service (`palisade` without `--hubble-relay`) reaches it.
        if let Some(relay) = &hubble_relay {
            let pod = relay_pod::pod();
            let name = meta::str_at(&pod, "/metadata/name");
            if shared
                .store()
                .get(resource::Resource::Pods, relay_pod::NAMESPACE, name)
                .is_ok()
            {
                shared.set_forward_target(
                    relay_pod::NAMESPACE,
                    name,
                    relay_pod::PORT,
                    relay.addr(),
                );
            }
        }
        let churn = planner.map(|planner| tokio::spawn(churn::run(shared.clone(), planner)));
        let agents = agents.map(|agents| tokio::spawn(agent_driver::run(shared.clone(), agents)));
        let faults = shared
            .options
            .faults
            .clone()
            .map(|plan| tokio::spawn(run_fault_plan(shared.clone(), plan)));
        let goldmane = match shared.options.goldmane_listen {
            Some(addr) => {
                let certs = goldmane_certs::GoldmaneCerts::generate()?;
                let sim = goldmane::SimGoldmane::start(
                    shared.flow_feed.clone(),
                    addr,
                    &certs,
                    shared.options.goldmane_window,
                )
                .await?;
                Some((sim, certs))
            }
            None => None,
        };
        let task = tokio::spawn(accept_loop(listener, tls.acceptor, shared.clone()));
        Ok(DemoServer {
            addr,
            shutdown,
            task: Some(task),
            churn,
            agents,
            faults,
            tokens,
            shared,
            ca_pem: tls.ca_pem,
            goldmane,
            hubble_relay,
        })
    }

    /// The simulated Goldmane's address and certificates (`goldmane_listen`).
    pub fn goldmane(&self) -> Option<(SocketAddr, &goldmane_certs::GoldmaneCerts)> {
        self.goldmane
            .as_ref()
            .map(|(sim, certs)| (sim.addr(), certs))
    }

    /// The simulated dataplane's flows, as the simulated flow APIs serve them.
    pub fn flow_feed(&self) -> Arc<flow_feed::FlowFeed> {
        self.shared.flow_feed.clone()
    }

    /// Forwards the port-forwards to `namespace/pod:port` to `addr` from now on (a port without a
    /// target is refused, as a pod with nothing listening on it).
    pub fn set_forward_target(&self, namespace: &str, pod: &str, port: u16, addr: SocketAddr) {
        self.shared.set_forward_target(namespace, pod, port, addr);
    }

    /// The seeded Hubble Relay pod's name (absent when the scenario has no `kube-system`), whose
    /// port 4245 the simulated relay registers with [`DemoServer::set_forward_target`].
    /// Sends the service proxy of `palisade/palisade-recorder` to `addr` (the in-process
    /// recorder's HTTPS address).
    pub fn set_recorder_backend(&self, addr: SocketAddr) {
        self.shared.service_backends.set(
            team_recorder::NAMESPACE,
            team_recorder::NAME,
            team_recorder::PORT,
            addr,
        );
    }

    /// A kubeconfig for the recorder's service account (reads, token and access reviews).
    pub fn recorder_kubeconfig(&self) -> Kubeconfig {
        let mut kubeconfig = self.kubeconfig();
        let user = NamedAuthInfo {
            name: RECORDER_USER.into(),
            auth_info: Some(
                serde_json::from_value::<AuthInfo>(
                    serde_json::json!({"token": self.tokens.recorder}),
                )
                .unwrap_or_default(),
            ),
            ..NamedAuthInfo::default()
        };
        kubeconfig.auth_infos = vec![user];
        kubeconfig.contexts = vec![NamedContext {
            name: RECORDER_USER.into(),
            context: Some(Context {
                cluster: NAME.into(),
                user: Some(RECORDER_USER.into()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }];
        kubeconfig.current_context = Some(RECORDER_USER.into());
        kubeconfig
    }

    pub fn relay_pod(&self) -> Option<String> {
        let pod = relay_pod::pod();
        let name = meta::str_at(&pod, "/metadata/name");
        let store = self.shared.store();
        store
            .get(resource::Resource::Pods, relay_pod::NAMESPACE, name)
            .ok()
            .map(|_| name.to_string())
    }

    /// Where the simulated Hubble Relay listens (`None`: started without one).
    pub fn hubble_relay_addr(&self) -> Option<SocketAddr> {
        self.hubble_relay.as_ref().map(relay::HubbleRelay::addr)
    }

    /// Makes the server misbehave now (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        inject(&self.shared, fault);
    }

    /// Stops `--churn` (tests compare the cluster with a client's view once it holds still).
    pub fn stop_churn(&mut self) {
        if let Some(churn) = self.churn.take() {
            churn.abort();
        }
    }

    /// The store's current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().resource_version()
    }

    /// Every NetworkPolicy write from now on, as (namespace, name, resourceVersion, deleted),
    /// for tests that check what a client recorded against what the server produced.
    pub fn policy_writes(&self) -> tokio::sync::mpsc::UnboundedReceiver<PolicyWrite> {
        let mut changes = self.shared.store().subscribe();
        let mut shutdown = self.shared.shutdown.clone();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = shutdown.changed() => return,
                    event = changes.recv() => event,
                };
                match event {
                    Ok(event) if event.resource == resource::Resource::NetworkPolicies => {
                        let write = PolicyWrite {
                            namespace: meta::str_at(&event.object, "/metadata/namespace").into(),
                            name: meta::str_at(&event.object, "/metadata/name").into(),
                            resource_version: event.rv.to_string(),
                            deleted: event.kind == store::EventKind::Deleted,
                        };
                        if tx.send(write).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // A test reading too slowly must not pass by missing writes.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        rx
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The certificate authority (PEM) that signed the server's certificate, for clients that
    /// do not read the kubeconfig (Prometheus in the tests).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The admin's bearer token (every verb).
    pub fn admin_token(&self) -> &str {
        &self.tokens.admin
    }

    /// A kubeconfig for this server with three contexts: `palisade-demo` (the current one, admin
    /// token: every verb), `palisade-demo-viewer` (viewer token: get, list and watch only) and
    /// `palisade-demo-acme` (a Role in the `acme-*` namespaces only, namespace `acme-web`);
    /// with `tiers_forbidden_user`, a third: `palisade-demo-no-tiers` (every verb except on the
    /// tier group).
    pub fn kubeconfig(&self) -> Kubeconfig {
        // Through serde: the token type is kube's secret string.
        let user = |name: &str, token: &str| NamedAuthInfo {
            name: name.into(),
            auth_info: Some(
                serde_json::from_value::<AuthInfo>(serde_json::json!({"token": token}))
                    .unwrap_or_default(),
            ),
            ..NamedAuthInfo::default()
        };
        let context = |name: &str| NamedContext {
            name: name.into(),
            context: Some(Context {
                cluster: NAME.into(),
                user: Some(name.into()),
                ..Context::default()
            }),
            ..NamedContext::default()
        };
        Kubeconfig {
            clusters: vec![NamedCluster {
                name: NAME.into(),
                cluster: Some(Cluster {
                    server: Some(self.url()),
                    certificate_authority_data: Some(
                        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
                    ),
                    ..Cluster::default()
                }),
                ..NamedCluster::default()
            }],
            auth_infos: [
                user(ADMIN_USER, &self.tokens.admin),
                user(VIEWER_USER, &self.tokens.viewer),
                user(SCOPED_USER, &self.tokens.scoped),
            ]
            .into_iter()
            .chain(
                self.tokens
                    .no_tiers
                    .as_deref()
                    .map(|token| user(NO_TIERS_USER, token)),
            )
            .collect(),
            contexts: [context(NAME), context(VIEWER_CONTEXT), {
                let mut scoped = context(SCOPED_CONTEXT);
                if let Some(c) = scoped.context.as_mut() {
                    c.namespace = Some(SCOPED_NAMESPACE.into());
                }
                scoped
            }]
            .into_iter()
            .chain(
                self.tokens
                    .no_tiers
                    .is_some()
                    .then(|| context(NO_TIERS_CONTEXT)),
            )
            .collect(),
            current_context: Some(NAME.into()),
            kind: Some("Config".into()),
            api_version: Some("v1".into()),
            ..Kubeconfig::default()
        }
    }

    /// Writes [`DemoServer::kubeconfig`] to `path`, readable by its owner only (it holds the
    /// tokens): a new file created 0600 beside it, then renamed over `path`, so the tokens are
    /// never in a file others may read, even when `path` existed with wider permissions.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text = crate::yaml::to_string(&self.kubeconfig()).map_err(std::io::Error::other)?;
        crate::private_file::write_replacing(path, text.as_bytes())
    }

    /// Stops accepting, closes connections and ends watch streams.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some((goldmane, _)) = self.goldmane.take() {
            goldmane.shutdown().await;
        }
        if let Some(relay) = self.hubble_relay.take() {
            relay.stop().await;
        }
        if let Some(faults) = self.faults.take() {
            faults.abort();
        }
        for task in [self.task.take(), self.churn.take(), self.agents.take()]
            .into_iter()
            .flatten()
        {
            let _ = task.await;
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in [
            self.task.take(),
            self.churn.take(),
            self.agents.take(),
            self.faults.take(),
        ]
        .into_iter()
        .flatten()
        {
            task.abort();
        }
    }
}

/// One NetworkPolicy write, as `DemoServer::policy_writes` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWrite {
    pub namespace: String,
    pub name: String,
    pub resource_version: String,
    pub deleted: bool,
}

/// Applies a fault: the store's part here, the rest through the fault state's windows and
/// signals.
fn inject(shared: &Shared, fault: Fault) {
    match fault {
        Fault::Expire => shared.store().compact(),
        Fault::Restart(_) => shared.store().renumber(),
        _ => {}
    }
    shared.faults.start(fault);
}

/// `--faults`: one fault per period, in order, round and round, until shutdown.
async fn run_fault_plan(shared: Arc<Shared>, plan: FaultPlan) {
    let mut shutdown = shared.shutdown.clone();
    for fault in plan.faults.iter().cycle() {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(plan.every) => inject(&shared, *fault),
        }
    }
}

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until shutdown; dropping the JoinSet aborts open connections. Faults:
/// a cut aborts every connection; a restart shuts every open connection down gracefully (open
/// watch streams hang silent first, see `watch.rs`); refused connections are dropped at once.
async fn accept_loop(listener: TcpListener, tls: tokio_rustls::TlsAcceptor, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut signals = shared.faults.subscribe();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Ok(()) = signals.changed() => {
                if signals.borrow_and_update().1 == faults::Signal::Drop {
                    connections.abort_all();
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if shared.faults.refusing() {
                    drop(stream);
                    continue;
                }
                let shared = shared.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    // A failed or stalled handshake (a plain-HTTP client, a port scan) ends only
                    // that connection.
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await
                    else {
                        return;
                    };
                    serve(stream, shared).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One HTTP/1 connection until the client hangs up, the server restarts (graceful: the response
/// in flight finishes first) or it is aborted.
async fn serve(
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    shared: Arc<Shared>,
) {
    let mut restarts = shared.faults.subscribe();
    let service = {
        let shared = shared.clone();
        service_fn(move |req| http::handle(shared.clone(), req))
    };
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        // Port-forward upgrades the connection to a WebSocket.
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    loop {
        tokio::select! {
            // Connection errors (client hung up) only end that connection.
            _ = connection.as_mut() => return,
            Ok(()) = restarts.changed() => {
                if matches!(restarts.borrow_and_update().1, faults::Signal::Restart { .. }) {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
