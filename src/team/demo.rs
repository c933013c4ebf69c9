//! The demo's team recorder, in the demo's process: a kube client as the recorder's service
//! account, its journal in the demo's state directory seeded from the fixture
//! (`tests/fixtures/demo-journal.jsonl`, so the demo has history from before the first console),
//! the watch on its own thread, and the API on 127.0.0.1 behind the Service
//! `palisade/palisade-recorder`, whose proxy the demo server forwards to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::RecorderRef;
use super::server::RecorderServer;
use crate::cluster::connect::{ClusterSource, connect};
use crate::history::Journal;
use crate::progress::Progress;
use crate::sim::DemoServer;

const FIXTURE: &str = include_str!("../../tests/fixtures/demo-journal.jsonl");

/// The running recorder; dropping it stops the API (the watch thread ends with the process).
pub struct DemoRecorder {
    server: RecorderServer,
    pub journal: PathBuf,
}

impl DemoRecorder {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
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
    journal
        .import(&mut FIXTURE.as_bytes())
        .wrap_err("cannot seed the recorder's journal from the fixture")?;
    let client = connection.client.clone();
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("demo-recorder".into())
        .spawn(move || {
            // The recorder's progress is not Send: it runs on this thread, its requests on the
            // demo's runtime.
            let _ = runtime.block_on(crate::history::record::record_saying(
                client,
                &mut journal,
                &Progress::hidden(),
                &|_| {},
                |_, _| {},
            ));
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
    })
}
