//! Reaching Hubble Relay through the API server: the demo server's `hubble-relay` Service and
//! pod port-forward (WebSocket, `v4.channel.k8s.io`), driven by the real kube-rs client through
//! `flowsrc::tunnel`, with a TCP echo server standing in for the relay.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::config::KubeConfigOptions;
use kube::{Client, Config};
use palisade::flowsrc::tunnel::{RelayTarget, Tunnel, find_relay, open_tunnel};
use palisade::sim::{DemoServer, Scenario, VIEWER_CONTEXT};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const DEADLINE: Duration = Duration::from_secs(20);

async fn client_with(server: &DemoServer, context: Option<&str>) -> Client {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(server.kubeconfig(), &options)
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client builds")
}

/// A TCP echo server on loopback; dropping it closes its listener and every connection.
struct Echo {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Echo {
    async fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    Ok((mut stream, _)) = listener.accept() => {
                        connections.spawn(async move {
                            let (mut read, mut write) = stream.split();
                            let _ = tokio::io::copy(&mut read, &mut write).await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Echo { addr, task }
    }

    async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The demo server, an admin client, the relay's target and an echo server registered as it.
async fn start() -> (DemoServer, Client, RelayTarget, Echo) {
    let server = DemoServer::start(Scenario::builtin())
        .await
        .expect("server starts");
    let client = client_with(&server, None).await;
    let target = find_relay(&client)
        .await
        .expect("the relay is found")
        .expect("the demo has a relay");
    let echo = Echo::start().await;
    server.set_forward_target(&target.namespace, &target.pod, target.port, echo.addr);
    (server, client, target, echo)
}

/// Sends `payload` and reads as many bytes back, within the deadline.
async fn echoes(stream: &mut TcpStream, payload: &[u8]) -> Vec<u8> {
    let exchange = async {
        stream.write_all(payload).await?;
        let mut back = vec![0u8; payload.len()];
        stream.read_exact(&mut back).await?;
        Ok::<_, std::io::Error>(back)
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("the echo comes back in time")
        .expect("the echo comes back")
}

async fn connect(tunnel: &Tunnel) -> TcpStream {
    TcpStream::connect(tunnel.local_addr())
        .await
        .expect("the tunnel accepts")
}

/// Whether the connection was closed from the far side (end of stream or reset), in time.
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn find_relay_follows_the_service_to_a_running_pod_and_its_named_port() {
    let (server, client, target, _echo) = start().await;
    assert_eq!(target.namespace, "kube-system");
    assert_eq!(Some(target.pod.clone()), server.relay_pod());
    assert!(target.pod.starts_with("hubble-relay-"), "{target}");
    assert_eq!(target.port, 4245, "targetPort `grpc` resolved on the pod");
    let pod = Api::<Pod>::namespaced(client.clone(), "kube-system")
        .get(&target.pod)
        .await
        .unwrap();
    let status = pod.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert!(status.pod_ip.is_some_and(|ip| ip.starts_with("10.244.")));

    let services: Api<Service> = Api::namespaced(client.clone(), "kube-system");
    let port = |target_port: serde_json::Value| {
        Patch::Merge(
            json!({"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": target_port}]}}),
        )
    };
    services
        .patch("hubble-relay", &PatchParams::default(), &port(json!(4245)))
        .await
        .unwrap();
    let numbered = find_relay(&client).await.unwrap().unwrap();
    assert_eq!(numbered, target, "a numeric targetPort is taken as it is");
    services
        .patch(
            "hubble-relay",
            &PatchParams::default(),
            &port(json!("nope")),
        )
        .await
        .unwrap();
    let err = find_relay(&client).await.unwrap_err();
    assert!(err.contains("no container port named \"nope\""), "{err}");
}

#[tokio::test]
async fn no_service_means_no_relay() {
    let (_server, client, _target, _echo) = start().await;
    Api::<Service>::namespaced(client.clone(), "kube-system")
        .delete("hubble-relay", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(find_relay(&client).await, Ok(None));
}

#[tokio::test]
async fn a_service_selecting_no_running_pod_is_an_error_that_says_so() {
    let (_server, client, target, _echo) = start().await;
    Api::<Pod>::namespaced(client.clone(), "kube-system")
        .delete(&target.pod, &DeleteParams::default())
        .await
        .unwrap();
    let err = find_relay(&client).await.unwrap_err();
    assert!(err.contains("selects no running pod"), "{err}");
}

#[tokio::test]
async fn bytes_echo_through_the_tunnel() {
    let (_server, client, target, _echo) = start().await;
    let tunnel = open_tunnel(&client, &target).await.expect("tunnel opens");
    assert!(tunnel.local_addr().ip().is_loopback());
    let mut stream = connect(&tunnel).await;
    assert_eq!(echoes(&mut stream, b"hello relay").await, b"hello relay");
    // Larger than one WebSocket message and one read on either side.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(echoes(&mut stream, &big).await, big);
}

#[tokio::test]
async fn two_connections_at_once_each_get_their_own_bytes() {
    let (_server, client, target, _echo) = start().await;
    let tunnel = open_tunnel(&client, &target).await.expect("tunnel opens");
    let mut first = connect(&tunnel).await;
    let mut second = connect(&tunnel).await;
    assert_eq!(echoes(&mut first, b"one").await, b"one");
    assert_eq!(echoes(&mut second, b"two").await, b"two");
    let (a, b) = tokio::join!(echoes(&mut first, &[1u8; 50_000]), async {
        echoes(&mut second, &[2u8; 50_000]).await
    });
    assert!(a.iter().all(|x| *x == 1) && b.iter().all(|x| *x == 2));
}

#[tokio::test]
async fn dropping_the_tunnel_closes_its_listener_and_connections() {
    let (_server, client, target, _echo) = start().await;
    let tunnel = open_tunnel(&client, &target).await.expect("tunnel opens");
    let addr = tunnel.local_addr();
    let mut stream = connect(&tunnel).await;
    assert_eq!(echoes(&mut stream, b"x").await, b"x");
    drop(tunnel);
    assert!(closed(&mut stream).await, "the open connection ends");
    support::poll_until("the listener to close", DEADLINE, || async {
        TcpStream::connect(addr).await.is_err().then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_viewer_may_find_the_relay_but_not_forward_to_it() {
    let (server, _admin, _target, _echo) = start().await;
    let viewer = client_with(&server, Some(VIEWER_CONTEXT)).await;
    let target = find_relay(&viewer)
        .await
        .expect("get and list are allowed")
        .expect("the relay is there");
    let Err(err) = open_tunnel(&viewer, &target).await else {
        panic!("the viewer may not port-forward");
    };
    assert!(err.contains("forbidden (403)"), "{err}");
    assert!(
        err.contains("cannot create resource \"pods/portforward\""),
        "{err}"
    );
    assert!(err.contains(&target.pod), "{err}");
}

#[tokio::test]
async fn a_port_without_a_listener_is_refused_on_the_error_channel() {
    let (_server, client, mut target, _echo) = start().await;
    target.port = 9999;
    let mut forward = Api::<Pod>::namespaced(client, "kube-system")
        .portforward(&target.pod, &[target.port])
        .await
        .expect("the upgrade succeeds: the refusal comes on the error channel");
    let error = forward.take_error(target.port).unwrap();
    let message = tokio::time::timeout(DEADLINE, error)
        .await
        .expect("in time")
        .expect("an error message");
    assert!(
        message.contains("error forwarding port 9999 to pod")
            && message.contains("unable to do port forwarding")
            && message.contains("connection refused"),
        "{message}"
    );
}

#[tokio::test]
async fn a_target_that_goes_down_closes_its_connections_and_the_next_works_once_it_is_back() {
    let (server, client, target, echo) = start().await;
    let tunnel = open_tunnel(&client, &target).await.expect("tunnel opens");
    let mut before = connect(&tunnel).await;
    assert_eq!(echoes(&mut before, b"up").await, b"up");

    echo.stop().await;
    assert!(
        closed(&mut before).await,
        "a broken forward closes its connection"
    );
    let mut while_down = connect(&tunnel).await;
    assert!(
        closed(&mut while_down).await,
        "no target: the connection closes"
    );
    let error = support::poll_until("the refusal to be reported", DEADLINE, || async {
        tunnel.last_error()
    })
    .await;
    assert!(error.contains("connection refused"), "{error}");

    let back = Echo::start().await;
    server.set_forward_target(&target.namespace, &target.pod, target.port, back.addr);
    let mut after = connect(&tunnel).await;
    assert_eq!(echoes(&mut after, b"back").await, b"back");
}

/// kubectl speaks SPDY for port-forward (tunnelled in a WebSocket, then plain), which the demo
/// does not: it must fail at once and say why, not hang or forward garbage.
#[test]
fn kubectl_lists_the_relay_service_and_its_port_forward_is_refused_plainly() {
    if !support::tool_available("kubectl") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(DemoServer::start(Scenario::builtin()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("demo.kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let out = support::kubectl(&kubeconfig, &["get", "svc", "-n", "kube-system"]);
    assert!(out.contains("hubble-relay"), "{out}");
    let out = support::kubectl(
        &kubeconfig,
        &[
            "get",
            "services",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.items[*].spec.ports[0].targetPort}",
        ],
    );
    assert_eq!(out.trim(), "grpc");

    let mut port_forward = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "port-forward",
            "-n",
            "kube-system",
            "svc/hubble-relay",
            "0:80",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = support::wait_until("kubectl port-forward to exit", DEADLINE, || {
        port_forward.try_wait().unwrap()
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut port_forward.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("SPDY (kubectl port-forward) is not supported"),
        "{stderr}"
    );
    drop(server);
}

#[tokio::test]
async fn a_cut_api_server_connection_ends_the_forward_and_the_tunnel_recovers() {
    let (server, client, target, _echo) = start().await;
    let tunnel = open_tunnel(&client, &target).await.expect("tunnel opens");
    let mut before = connect(&tunnel).await;
    assert_eq!(echoes(&mut before, b"before").await, b"before");
    server.inject(palisade::sim::Fault::Drop(Duration::from_millis(300)));
    assert!(closed(&mut before).await, "the cut ends the forward");
    let echoed = support::poll_until(
        "a new connection to echo after the cut",
        DEADLINE,
        || async {
            let mut after = connect(&tunnel).await;
            let exchange = async {
                after.write_all(b"after").await?;
                let mut back = [0u8; 5];
                after.read_exact(&mut back).await?;
                Ok::<_, std::io::Error>(back)
            };
            match tokio::time::timeout(Duration::from_secs(2), exchange).await {
                Ok(Ok(back)) => Some(back),
                _ => None,
            }
        },
    )
    .await;
    assert_eq!(&echoed, b"after");
}
