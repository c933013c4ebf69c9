//! The demo's team recorder, in the demo's process: a kube client as the recorder's service
//! account, its journal in the demo's state directory seeded from the fixture
//! (`tests/fixtures/demo-journal.jsonl`, so the demo has history from before the first console),
//! the watch on its own thread, and the API on 127.0.0.1 behind the Service
//! `palisade/palisade-recorder`, whose proxy the demo server forwards to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use color_eyre::eyre::{Result, WrapErr, eyre};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::ListParams;

use super::RecorderRef;
use super::server::RecorderServer;
use crate::cluster::connect::{ClusterSource, connect};
use crate::history::Journal;
use crate::history::exchange::RevisionLine;
use crate::progress::Progress;
use crate::sim::DemoServer;

const FIXTURE: &str = include_str!("../../tests/fixtures/demo-journal.jsonl");

/// The running recorder; dropping it stops the API (the watch thread ends with the process).
pub struct DemoRecorder {
    server: RecorderServer,
    pub journal: PathBuf,
    /// Ends the recorder's thread; sent and joined on drop, before the runtime shuts down: a
    /// watch still running then would ask the stopped runtime for a timer and panic.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for DemoRecorder {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl DemoRecorder {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// The fixture as history from before this demo server started. Its resourceVersions are
/// another server's: kept, they could equal this server's future ones, and an import dedupes by
/// resourceVersion. So each policy's last fixture revision takes the live object's
/// resourceVersion when its spec is the live one (it is that version, seen earlier), and every
/// other revision has none (then time and content tell revisions apart).
fn fixture_for(live: &[NetworkPolicy]) -> std::result::Result<String, serde_json::Error> {
    let mut lines: Vec<RevisionLine> = FIXTURE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()?;
    let last: BTreeMap<(String, String), u32> = lines.iter().fold(BTreeMap::new(), |mut m, l| {
        let n = m.entry((l.namespace.clone(), l.name.clone())).or_insert(0);
        *n = (*n).max(l.revision);
        m
    });
    for line in &mut lines {
        let newest = last.get(&(line.namespace.clone(), line.name.clone())) == Some(&line.revision);
        let current = live.iter().find(|p| {
            p.metadata.namespace.as_deref() == Some(line.namespace.as_str())
                && p.metadata.name.as_deref() == Some(line.name.as_str())
        });
        line.resource_version = current
            .filter(|p| {
                line.kind.is_none() && newest && serde_json::to_value(&p.spec).ok() == line.spec
            })
            .and_then(|p| p.metadata.resource_version.clone());
    }
    let mut out = String::new();
    for line in &lines {
        out.push_str(&serde_json::to_string(line)?);
        out.push('\n');
    }
    Ok(out)
}

/// Starts the recorder for `demo`, its journal `dir/recorder.sqlite`.
pub async fn start(demo: &DemoServer, dir: &Path) -> Result<DemoRecorder> {
    let path = dir.join("recorder.sqlite");
    let connection = connect(
        ClusterSource::Kubeconfig(Box::new(demo.recorder_kubeconfig())),
        None,
    )
    .await
    .wrap_err("the demo's recorder cannot connect")?;
    let mut journal = Journal::open(&path)
        .wrap_err_with(|| format!("cannot open the recorder's journal {}", path.display()))?
        .with_source(&connection.server, &connection.context);
    let live: Api<NetworkPolicy> = Api::all(connection.client.clone());
    let live = live
        .list(&ListParams::default())
        .await
        .wrap_err("the demo's recorder cannot list NetworkPolicies")?
        .items;
    let seed = fixture_for(&live).wrap_err("the demo journal fixture is unreadable")?;
    journal
        .import(&mut seed.as_bytes())
        .wrap_err("cannot seed the recorder's journal from the fixture")?;
    let client = connection.client.clone();
    let runtime = tokio::runtime::Handle::current();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("demo-recorder".into())
        .spawn(move || {
            // The recorder's progress is not Send: it runs on this thread, its requests on the
            // demo's runtime.
            let progress = Progress::hidden();
            runtime.block_on(async {
                tokio::select! {
                    _ = crate::history::record::record_saying(
                        client,
                        &mut journal,
                        &progress,
                        &|_| {},
                        |_, _| {},
                    ) => {}
                    _ = stopped => {}
                }
            });
        })
        .map_err(|e| eyre!("cannot start the demo's recorder: {e}"))?;
    let server = RecorderServer::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        path.clone(),
        connection.client,
        RecorderRef::default(),
    )
    .await
    .wrap_err("cannot start the demo recorder's API")?;
    demo.set_recorder_backend(server.addr());
    Ok(DemoRecorder {
        server,
        journal: path,
        stop: Some(stop),
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_fixture_revision_equal_to_the_live_object_keeps_a_resource_version() {
        let first: RevisionLine = serde_json::from_str(FIXTURE.lines().next().unwrap()).unwrap();
        let live: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": first.namespace, "name": first.name, "resourceVersion": "9001"},
            "spec": first.spec,
        }))
        .unwrap();
        let seeded: Vec<RevisionLine> = fixture_for(&[live])
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(seeded.len(), FIXTURE.lines().count());
        let with_rv: Vec<(&str, Option<&str>)> = seeded
            .iter()
            .filter(|l| l.resource_version.is_some())
            .map(|l| (l.name.as_str(), l.resource_version.as_deref()))
            .collect();
        // The fixture's own resourceVersions are another server's: none survives.
        assert_eq!(with_rv, [(first.name.as_str(), Some("9001"))]);
    }
}
