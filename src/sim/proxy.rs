//! The pod proxy subresource: `GET /api/v1/namespaces/{ns}/pods/{name}[:{port}]/proxy/{path}`,
//! also with a scheme (`http:{name}:{port}`). The simulated agents answer on their metrics
//! ports; any other pod or port is unreachable, as a real API server reports it.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode, header};
use serde_json::Value;

use super::agents;
use super::exposition::CONTENT_TYPE;
use super::http::{Body, Shared};
use super::meta::str_at;
use super::resource::Resource;
use super::status::{ApiError, ApiResult};

/// A parsed proxy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTarget {
    pub namespace: String,
    pub name: String,
    pub scheme: Option<String>,
    /// Port number or container port name, as given; `None` means the default (80).
    pub port: Option<String>,
    /// The path after `proxy`, without the leading slash.
    pub path: String,
}

/// Recognises pod proxy paths among the URL's segments.
pub fn parse(segments: &[&str]) -> Option<ProxyTarget> {
    parse_subresource("pods", segments)
}

/// The proxy subresource of `resource` (`pods`, `services`) among the URL's segments.
pub fn parse_subresource(resource: &str, segments: &[&str]) -> Option<ProxyTarget> {
    let [
        "api",
        "v1",
        "namespaces",
        ns,
        kind,
        target,
        "proxy",
        rest @ ..,
    ] = segments
    else {
        return None;
    };
    if *kind != resource {
        return None;
    }
    let parts: Vec<&str> = target.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => (None, *name, None),
        [scheme @ ("http" | "https"), name] => (Some(*scheme), *name, None),
        [name, port] => (None, *name, Some(*port)),
        [scheme, name, port] => (Some(*scheme), *name, Some(*port)),
        _ => return None,
    };
    Some(ProxyTarget {
        namespace: ns.to_string(),
        name: name.to_string(),
        scheme: scheme.map(str::to_string),
        port: port.filter(|p| !p.is_empty()).map(str::to_string),
        path: rest.join("/"),
    })
}

/// Answers a proxy request from the store and the agents.
pub fn handle(shared: &Shared, method: &Method, target: &ProxyTarget) -> ApiResult<Response<Body>> {
    let pod = shared
        .store()
        .get(Resource::Pods, &target.namespace, &target.name)?;
    let port = resolve_port(&pod, target.port.as_deref());
    let unreachable = || {
        let ip = str_at(&pod, "/status/podIP");
        let port = port.map_or_else(
            || target.port.clone().unwrap_or("80".into()),
            |p| p.to_string(),
        );
        ApiError::service_unavailable(format!(
            "error trying to reach service: dial tcp {ip}:{port}: connect: connection refused"
        ))
    };
    let served = match (&shared.agents, port.and_then(|p| agents::endpoint(&pod, p))) {
        (Some(state), Some(endpoint))
            if agents::is_agent(&pod) && target.scheme.as_deref() != Some("https") =>
        {
            Some((state, endpoint))
        }
        _ => None,
    };
    let Some((state, endpoint)) = served else {
        return Err(unreachable());
    };
    if *method != Method::GET {
        return Ok(text(
            405,
            "text/plain; charset=utf-8",
            "Method Not Allowed\n".into(),
        ));
    }
    if target.path.trim_end_matches('/') != "metrics" {
        return Ok(text(
            404,
            "text/plain; charset=utf-8",
            "404 page not found\n".into(),
        ));
    }
    let node = str_at(&pod, "/spec/nodeName");
    Ok(text(200, CONTENT_TYPE, state.render(endpoint, node)))
}

/// A port number, or a container port's name resolved on the pod.
fn resolve_port(pod: &Value, port: Option<&str>) -> Option<u16> {
    let port = port.unwrap_or("80");
    if let Ok(number) = port.parse() {
        return Some(number);
    }
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array)?;
    containers
        .iter()
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .find(|p| str_at(p, "/name") == port)
        .and_then(|p| p.get("containerPort")?.as_u64())
        .and_then(|n| u16::try_from(n).ok())
}

fn text(code: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Full(Full::new(Bytes::from(body))));
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<&str> {
        path.split('/').filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn every_form_real_api_servers_accept() {
        let p = parse(&segments(
            "/api/v1/namespaces/kube-system/pods/cilium-x:9962/proxy/metrics",
        ))
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.port.as_deref(), p.path.as_str()),
            ("cilium-x", Some("9962"), "metrics")
        );
        let p = parse(&segments(
            "/api/v1/namespaces/ns/pods/http:web-0:8080/proxy/a/b",
        ))
        .unwrap();
        assert_eq!(
            (
                p.scheme.as_deref(),
                p.name.as_str(),
                p.port.as_deref(),
                p.path.as_str()
            ),
            (Some("http"), "web-0", Some("8080"), "a/b")
        );
        let p = parse(&segments("/api/v1/namespaces/ns/pods/web-0/proxy")).unwrap();
        assert_eq!((p.port, p.path.as_str()), (None, ""));
        let p = parse(&segments("/api/v1/namespaces/ns/pods/https:web-0/proxy/")).unwrap();
        assert_eq!(
            (p.scheme.as_deref(), p.name.as_str()),
            (Some("https"), "web-0")
        );
        assert!(parse(&segments("/api/v1/namespaces/ns/pods/web-0")).is_none());
        assert!(parse(&segments("/api/v1/namespaces/ns/pods/a:b:c:d/proxy")).is_none());
    }

    #[test]
    fn named_ports_resolve_on_the_pod() {
        let pod = &agents::agent_pods(&["n".into()])[0];
        assert_eq!(resolve_port(pod, Some("hubble-metrics")), Some(9965));
        assert_eq!(resolve_port(pod, Some("9962")), Some(9962));
        assert_eq!(resolve_port(pod, None), Some(80));
        assert_eq!(resolve_port(pod, Some("nope")), None);
    }
}
