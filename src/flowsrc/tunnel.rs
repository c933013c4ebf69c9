//! Reaching Hubble Relay through the API server, as `cilium hubble port-forward` does: find the
//! `kube-system/hubble-relay` Service, pick a running pod it selects, and serve a local listener
//! whose every connection is its own port-forward to that pod (WebSocket, `pods/portforward`).
//! A broken forward closes only its connection; the gRPC client reconnects and gets a new one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Where the relay's Service lives (the Cilium chart's default).
pub const RELAY_NAMESPACE: &str = "kube-system";
pub const RELAY_SERVICE: &str = "hubble-relay";

/// A pod port to forward to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTarget {
    pub namespace: String,
    pub pod: String,
    pub port: u16,
}

impl std::fmt::Display for RelayTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.pod, self.port)
    }
}

/// What a failed API call means for the operator.
fn describe(what: &str, err: kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 403 => {
            format!("{what}: forbidden (403): {}", status.message)
        }
        kube::Error::Api(status) => {
            format!(
                "{what}: {} ({}): {}",
                status.reason, status.code, status.message
            )
        }
        other => format!("{what}: {other}"),
    }
}

/// The relay behind the `kube-system/hubble-relay` Service: a Running pod it selects and the
/// pod port its first port targets (a number, or a container port's name resolved on the pod).
/// No such Service: `Ok(None)` (Hubble Relay is not installed). A Service that selects no running
/// pod, or a refused read: an error that says so.
pub async fn find_relay(client: &kube::Client) -> Result<Option<RelayTarget>, String> {
    let services: Api<Service> = Api::namespaced(client.clone(), RELAY_NAMESPACE);
    let service = services.get_opt(RELAY_SERVICE).await.map_err(|e| {
        describe(
            &format!("reading Service {RELAY_NAMESPACE}/{RELAY_SERVICE}"),
            e,
        )
    })?;
    let Some(service) = service else {
        return Ok(None);
    };
    let spec = service.spec.unwrap_or_default();
    let selector = spec.selector.unwrap_or_default();
    if selector.is_empty() {
        return Err(format!(
            "Service {RELAY_NAMESPACE}/{RELAY_SERVICE} has no selector: no pod to forward to"
        ));
    }
    let port = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| format!("Service {RELAY_NAMESPACE}/{RELAY_SERVICE} has no port"))?;
    let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let pods: Api<Pod> = Api::namespaced(client.clone(), RELAY_NAMESPACE);
    let listed = pods
        .list(&ListParams::default().labels(&labels.join(",")))
        .await
        .map_err(|e| describe(&format!("listing pods in {RELAY_NAMESPACE}"), e))?;
    let pod = listed
        .items
        .into_iter()
        .find(|p| {
            let status = p.status.as_ref();
            p.metadata.deletion_timestamp.is_none()
                && status.and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .ok_or_else(|| {
            format!(
                "Service {RELAY_NAMESPACE}/{RELAY_SERVICE} selects no running pod ({})",
                labels.join(",")
            )
        })?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let number = match port.target_port {
        None => port.port,
        Some(IntOrString::Int(n)) => n,
        Some(IntOrString::String(named)) => named_port(&pod, &named).ok_or_else(|| {
            format!("pod {RELAY_NAMESPACE}/{name} has no container port named {named:?}")
        })?,
    };
    let port = u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("Service {RELAY_NAMESPACE}/{RELAY_SERVICE}: bad port {number}"))?;
    Ok(Some(RelayTarget {
        namespace: RELAY_NAMESPACE.into(),
        pod: name,
        port,
    }))
}

fn named_port(pod: &Pod, name: &str) -> Option<i32> {
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(name))
        .map(|p| p.container_port)
}

/// A local listener on 127.0.0.1 that forwards each connection to the target pod's port. It
/// stops, with every connection through it, when dropped.
pub struct Tunnel {
    local_addr: SocketAddr,
    target: RelayTarget,
    last_error: Arc<Mutex<Option<String>>>,
    task: JoinHandle<()>,
}

impl Tunnel {
    /// Where to connect (`http://{local_addr}` for the gRPC client).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn target(&self) -> &RelayTarget {
        &self.target
    }

    /// Why the most recent connection through the tunnel failed, if one did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens the tunnel. One port-forward is tried first, so that a refusal (403: the user may not
/// `create` `pods/portforward`; 404: the pod is gone) is an error here rather than connections
/// that close silently later.
pub async fn open_tunnel(client: &kube::Client, target: &RelayTarget) -> Result<Tunnel, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
    let probe = pods
        .portforward(&target.pod, &[target.port])
        .await
        .map_err(|e| describe(&format!("port-forward to {target}"), e))?;
    // Dropping its stream closes the probe's WebSocket.
    drop(probe);
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| format!("could not listen on 127.0.0.1 for the tunnel: {e}"))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| format!("tunnel listener: {e}"))?;
    let last_error = Arc::new(Mutex::new(None));
    let task = tokio::spawn(accept_loop(
        listener,
        pods,
        target.clone(),
        last_error.clone(),
    ));
    Ok(Tunnel {
        local_addr,
        target: target.clone(),
        last_error,
        task,
    })
}

/// Accepts until aborted; aborting drops the JoinSet, which ends every connection.
async fn accept_loop(
    listener: TcpListener,
    pods: Api<Pod>,
    target: RelayTarget,
    last_error: Arc<Mutex<Option<String>>>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((local, _)) = accepted else { continue };
                let pods = pods.clone();
                let target = target.clone();
                let last_error = last_error.clone();
                connections.spawn(async move {
                    if let Err(e) = forward(local, &pods, &target).await {
                        *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One connection: its own port-forward, bytes copied both ways until the pod's side ends (then
/// the local connection is closed) or fails (the error channel's message is returned).
async fn forward(
    mut local: TcpStream,
    pods: &Api<Pod>,
    target: &RelayTarget,
) -> Result<(), String> {
    let mut forwarder = pods
        .portforward(&target.pod, &[target.port])
        .await
        .map_err(|e| describe(&format!("port-forward to {target}"), e))?;
    let (Some(remote), Some(error)) = (
        forwarder.take_stream(target.port),
        forwarder.take_error(target.port),
    ) else {
        return Err(format!("port-forward to {target}: no stream for the port"));
    };
    let result = {
        let (mut local_read, mut local_write) = local.split();
        let (mut remote_read, mut remote_write) = tokio::io::split::<DuplexStream>(remote);
        let upstream = async {
            let _ = tokio::io::copy(&mut local_read, &mut remote_write).await;
            // The client is done sending: pass that on, and keep reading the answer.
            let _ = remote_write.shutdown().await;
            std::future::pending::<()>().await
        };
        let downstream = tokio::io::copy(&mut remote_read, &mut local_write);
        tokio::select! {
            // Ahead of the end of the stream, which follows the error message.
            biased;
            Some(message) = error => Err(format!("port-forward to {target}: {message}")),
            copied = downstream => copied
                .map(drop)
                .map_err(|e| format!("port-forward to {target}: {e}")),
            () = upstream => Ok(()),
        }
    };
    let _ = local.shutdown().await;
    result
}
