//! `palisade suspects` with `--prometheus`: the denied rates from one round of queries to a
//! stand-in Prometheus on 127.0.0.1 (answers in the HTTP API's format), the changes from a
//! journal written with the `Journal` API, the cluster from `palisade demo --serve-only`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use palisade::history::Journal;
use support::{BINARY, kubectl, run, tool_available};

/// A Prometheus that reports acme-web → kube-system drops from Hubble at 2/s, one agent up, and
/// nothing else; it answers until the test ends.
fn stand_in_prometheus() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // The rest of the head.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let result = if line.contains("hubble_drop_total") {
                r#"{"metric":{"node":"demo-node-a","instance":"10.0.0.1:9965","reason":"POLICY_DENIED","source_namespace":"acme-web","destination_namespace":"kube-system"},"value":[1700000000.5,"2"]}"#
            } else if line.contains("up") && line.contains("hubble") {
                r#"{"metric":{"__name__":"up","job":"hubble","instance":"10.0.0.1:9965","node":"demo-node-a"},"value":[1700000000.5,"1"]}"#
            } else {
                ""
            };
            let body = format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{result}]}}}}"#
            );
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn managed_by(policy: &mut NetworkPolicy, manager: &str, at: Timestamp, rv: &str) {
    policy.metadata.resource_version = Some(rv.into());
    policy.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some(manager.into()),
        time: Some(Time(at)),
        ..ManagedFieldsEntry::default()
    }]);
}

#[test]
fn prometheus_rates_and_the_journal_name_the_patch() {
    if !tool_available("kubectl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, kubeconfig) = support::serve_only(dir.path(), "demo.kubeconfig", &[]);
    // The journal: allow-dns as it is live (rev 1, a minute ago), then patched to 5353 by
    // kubectl 20 s ago (rev 2). The cluster itself is not changed: the radius is computed on it.
    let live: NetworkPolicy = serde_json::from_str(&kubectl(
        &kubeconfig,
        &["-n", "acme-web", "get", "netpol", "allow-dns", "-o", "json"],
    ))
    .unwrap();
    let now = Timestamp::now();
    let minute_ago = now - SignedDuration::from_secs(60);
    let seconds_ago = now - SignedDuration::from_secs(20);
    let mut first = live.clone();
    managed_by(&mut first, "kubectl-client-side-apply", minute_ago, "100");
    let mut patched = live;
    managed_by(&mut patched, "kubectl-patch", seconds_ago, "101");
    let ports = patched.spec.as_mut().unwrap().egress.as_mut().unwrap()[0]
        .ports
        .as_mut()
        .unwrap();
    ports[0].port = Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(5353));
    let path = dir.path().join("journal.sqlite");
    let mut journal = Journal::open(&path).unwrap();
    journal.observe(&first, minute_ago).unwrap().unwrap();
    journal.observe(&patched, seconds_ago).unwrap().unwrap();
    drop(journal);

    let out = run(Command::new(BINARY)
        .env("HOME", dir.path())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["suspects", "--since", "10m", "--no-flows", "-o", "json"])
        .args(["--prometheus", &stand_in_prometheus(), "--journal"])
        .arg(&path));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let observations = report["observations"].as_array().unwrap();
    assert_eq!(observations.len(), 1, "{stdout}");
    let dns = &observations[0];
    assert_eq!(
        (
            &dns["from_namespace"],
            &dns["to_namespace"],
            &dns["evidence"]
        ),
        (
            &serde_json::json!("acme-web"),
            &serde_json::json!("kube-system"),
            &serde_json::json!("counters")
        )
    );
    let top = &dns["suspects"][0];
    assert_eq!(top["policy"], "acme-web/allow-dns", "{stdout}");
    assert_eq!(top["revision_before"], 1);
    assert_eq!(top["manager"], "kubectl-patch");
    assert!(top["seconds_before"].as_u64().unwrap() >= 20, "{top}");

    // A URL that is not one is bad input.
    let out = run(Command::new(BINARY)
        .env("HOME", dir.path())
        .args(["suspects", "--prometheus", "not a url", "--journal"])
        .arg(&path));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prometheus"));
}
