//! The pod port-forward subresource: `GET|POST /api/v1/namespaces/{ns}/pods/{name}/portforward
//! ?ports=P[,Q]` upgraded to a WebSocket with the `v4.channel.k8s.io` subprotocol, as a kubelet
//! serves it behind a real API server (SPDY is not spoken here).
//!
//! Framing: every binary message starts with a channel byte; port i uses channel 2i for data and
//! 2i+1 for errors. The server first sends each channel its port number (2 bytes, little
//! endian). Bytes then go both ways on the data channel; a port that cannot be reached gets one
//! text message on its error channel, in a kubelet's words. The connection closes when every port
//! has finished (its target hung up or failed) or the client closes it.
//!
//! There is no container behind the demo's pods: what answers a (pod, port) is the address
//! registered with [`ForwardTargets::set`] (the simulated Hubble Relay registers itself). A port
//! without a target is refused, as a pod with nothing listening.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};

use super::faults::Signal;
use super::http::{Body, Shared};
use super::meta::str_at;
use super::query::Query;
use super::resource::Resource;
use super::status::{ApiError, ApiResult};

/// The only subprotocol served (what kubelets speak for port-forward over WebSocket).
pub const PROTOCOL: &str = "v4.channel.k8s.io";

/// Where each (namespace, pod, port) is forwarded to.
#[derive(Debug, Default)]
pub struct ForwardTargets {
    targets: Mutex<HashMap<(String, String, u16), SocketAddr>>,
}

impl ForwardTargets {
    /// Forwards `namespace/pod:port` to `addr` from the next port-forward on (replacing any
    /// earlier address).
    pub fn set(&self, namespace: &str, pod: &str, port: u16, addr: SocketAddr) {
        self.lock()
            .insert((namespace.into(), pod.into(), port), addr);
    }

    fn get(&self, namespace: &str, pod: &str, port: u16) -> Option<SocketAddr> {
        self.lock()
            .get(&(namespace.to_string(), pod.to_string(), port))
            .copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String, u16), SocketAddr>> {
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Recognises `/api/v1/namespaces/{ns}/pods/{name}/portforward`: (namespace, pod).
pub fn parse<'a>(segments: &[&'a str]) -> Option<(&'a str, &'a str)> {
    match segments {
        ["api", "v1", "namespaces", ns, "pods", name, "portforward"] => Some((ns, name)),
        _ => None,
    }
}

/// The ports asked for, as a kubelet reads them (`ports=80,443`).
fn ports(query: Option<&str>) -> ApiResult<Vec<u16>> {
    let query = Query::parse(query)?;
    let raw = query.get("ports").unwrap_or("");
    let mut out = Vec::new();
    for text in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let port: u16 = text.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "unable to parse {text:?} as a port: invalid syntax"
            ))
        })?;
        if port == 0 {
            return Err(ApiError::bad_request(format!("port {text:?} must be > 0")));
        }
        out.push(port);
    }
    if out.is_empty() {
        return Err(ApiError::bad_request(
            "query parameter \"port\" is required",
        ));
    }
    Ok(out)
}

/// Whether the client offered `v4.channel.k8s.io` (one header with a list, or several).
fn offers_v4(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL)
}

fn is_websocket_upgrade(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Checks the request, answers 101 and forwards on the upgraded connection in a task of its own.
pub fn handle(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    namespace: &str,
    name: &str,
) -> ApiResult<Response<Body>> {
    if req.method() != Method::GET && req.method() != Method::POST {
        return Err(ApiError::method_not_allowed(req.method().as_str()));
    }
    let pod = shared.store().get(Resource::Pods, namespace, name)?;
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()));
    let key = match key {
        Some(key) if is_websocket_upgrade(&req) && offers_v4(&req) => key,
        _ => {
            return Err(ApiError::bad_request(format!(
                "the demo API server forwards ports over WebSocket with the {PROTOCOL} subprotocol only; SPDY (kubectl port-forward) is not supported"
            )));
        }
    };
    let ports = ports(req.uri().query())?;
    let session = Session {
        namespace: namespace.to_string(),
        pod: name.to_string(),
        uid: str_at(&pod, "/metadata/uid").to_string(),
        ports,
    };
    let upgrade = hyper::upgrade::on(&mut req);
    let shared_for_task = shared.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        session.run(shared_for_task, ws).await;
    });
    let mut response = Response::new(Body::Full(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        header::HeaderValue::from_static(PROTOCOL),
    );
    if let Ok(value) = header::HeaderValue::from_str(&key) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    Ok(response)
}

/// One port-forward connection.
struct Session {
    namespace: String,
    pod: String,
    uid: String,
    ports: Vec<u16>,
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A channel's frame: the channel byte, then the payload.
fn frame(channel: u8, payload: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(payload.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(payload);
    Message::binary(bytes)
}

impl Session {
    async fn run(self, shared: Arc<Shared>, ws: Socket) {
        let (mut sink, mut stream) = ws.split();
        let mut shutdown = shared.shutdown.clone();
        let mut signals = shared.faults.subscribe();
        // Channels are one byte: at most 128 ports, as kube-rs and kubectl limit them.
        let ports: Vec<u16> = self.ports.iter().copied().take(128).collect();
        for (i, port) in ports.iter().enumerate() {
            for channel in [2 * i as u8, 2 * i as u8 + 1] {
                if sink
                    .send(frame(channel, &port.to_le_bytes()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let (from_targets, mut to_client) = mpsc::channel::<(u8, Option<Bytes>)>(16);
        let mut readers = JoinSet::new();
        let mut writers: Vec<Option<OwnedWriteHalf>> = Vec::with_capacity(ports.len());
        for (i, port) in ports.iter().enumerate() {
            match self.connect(&shared, *port).await {
                Ok(target) => {
                    let (mut read, write) = target.into_split();
                    let tx = from_targets.clone();
                    let channel = 2 * i as u8;
                    readers.spawn(async move {
                        let mut buf = vec![0u8; 32 * 1024];
                        loop {
                            match read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    let chunk = Bytes::copy_from_slice(&buf[..n]);
                                    if tx.send((channel, Some(chunk))).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        let _ = tx.send((channel, None)).await;
                    });
                    writers.push(Some(write));
                }
                Err(message) => {
                    let _ = sink.send(frame(2 * i as u8 + 1, message.as_bytes())).await;
                    writers.push(None);
                }
            }
        }
        drop(from_targets);
        let mut open = writers.iter().filter(|w| w.is_some()).count();
        while open > 0 {
            tokio::select! {
                _ = shutdown.changed() => break,
                Ok(()) = signals.changed() => {
                    // A cut or a restart ends upgraded connections too.
                    if matches!(signals.borrow_and_update().1, Signal::Drop | Signal::Restart { .. }) {
                        break;
                    }
                }
                message = stream.next() => match message {
                    Some(Ok(Message::Binary(bytes))) if bytes.len() > 1 => {
                        let index = usize::from(bytes[0] / 2);
                        if bytes[0] % 2 != 0 {
                            continue;
                        }
                        let Some(slot) = writers.get_mut(index) else { continue };
                        if let Some(writer) = slot
                            && writer.write_all(&bytes[1..]).await.is_err()
                        {
                            *slot = None;
                            open -= 1;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                Some((channel, data)) = to_client.recv() => match data {
                    Some(bytes) => {
                        if sink.send(frame(channel, &bytes)).await.is_err() {
                            break;
                        }
                    }
                    None => {
                        let slot = &mut writers[usize::from(channel / 2)];
                        if slot.take().is_some() {
                            open -= 1;
                        }
                    }
                },
            }
        }
        readers.abort_all();
        let _ = sink.send(Message::Close(None)).await;
        let _ = sink.close().await;
    }

    /// Connects to the port's registered target; the error channel's message otherwise.
    async fn connect(&self, shared: &Shared, port: u16) -> Result<TcpStream, String> {
        let refused = |why: &str| {
            format!(
                "error forwarding port {port} to pod {}, uid {}: unable to do port forwarding: dial tcp4 127.0.0.1:{port}: connect: {why}",
                self.pod, self.uid
            )
        };
        let Some(addr) = shared.forward_targets.get(&self.namespace, &self.pod, port) else {
            return Err(refused("connection refused"));
        };
        TcpStream::connect(addr).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => refused("connection refused"),
            _ => refused(&e.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_as_a_kubelet_reads_them() {
        assert_eq!(ports(Some("&ports=4245")).unwrap(), vec![4245]);
        assert_eq!(ports(Some("ports=80%2C1234")).unwrap(), vec![80, 1234]);
        assert_eq!(ports(None).unwrap_err().code, 400);
        assert!(
            ports(Some("ports=http"))
                .unwrap_err()
                .message
                .contains("\"http\"")
        );
        assert_eq!(ports(Some("ports=0")).unwrap_err().code, 400);
        assert_eq!(ports(Some("ports=70000")).unwrap_err().code, 400);
    }

    #[test]
    fn only_the_portforward_subresource_is_recognised() {
        let seg = |p: &'static str| p.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>();
        assert_eq!(
            parse(&seg("/api/v1/namespaces/kube-system/pods/r-1/portforward")),
            Some(("kube-system", "r-1"))
        );
        assert_eq!(parse(&seg("/api/v1/namespaces/ns/pods/r-1/proxy")), None);
        assert_eq!(parse(&seg("/api/v1/namespaces/ns/pods/r-1")), None);
    }
}
