//! `palisade record`: journal every NetworkPolicy change of the cluster until SIGTERM/SIGINT.
//!
//! A user whose Role covers a few namespaces (`-n`, the context's `namespaces` in contexts.toml,
//! or the kubeconfig namespace when cluster-wide lists are forbidden) has those recorded, as the
//! console would watch them; the scope is said in one line on stderr.
//!
//! Exit codes: 0 stopped (a signal, or the watch ended); 1 no cluster, no journal, nothing this
//! user may record, or the recorder failed.

use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr};

use crate::cli::{ClusterArgs, RecordArgs};
use crate::cluster::{connect, resolve_kubeconfig};
use crate::history::Journal;
use crate::history::location::{default_journal_path, identity_from_source};
use crate::history::record::{self, Stopped, describe};
use crate::progress::Progress;
use crate::team::server::RecorderServer;

/// `palisade record`: connect like the console, then journal until SIGTERM/SIGINT.
pub async fn run(args: &RecordArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let source = resolve_kubeconfig(cluster.kubeconfig.as_deref())?;
    let identity = identity_from_source(&source, cluster.context.as_deref())?;
    let path = match &args.journal {
        Some(path) => path.clone(),
        None => default_journal_path(&identity)?,
    };
    let mut connection = connect(source, cluster.context.as_deref()).await?;
    super::input::narrow(&mut connection, &args.namespaces);
    let deadline = crate::cluster::liveness::Timing::default().request_deadline;
    let scope =
        crate::cluster::scope::resolve(&connection.client, &connection.scope, deadline).await;
    if let Some(scope) = &scope {
        eprintln!("palisade record: {}", scope.line());
        if scope.namespaces.is_empty() {
            eprintln!(
                "palisade record: error: nothing to record: context `{}` may watch no namespace's NetworkPolicies",
                connection.context
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    let namespaces = scope.map(|s| s.namespaces);
    let mut journal = Journal::open(&path)
        .wrap_err_with(|| format!("cannot open the journal {}", path.display()))?
        .with_source(&identity.server, &connection.context);
    let others = other_clusters(journal.sources()?, &identity.server);
    if !others.is_empty() {
        // Revisions are keyed by namespace/name: two clusters in one file would mix histories.
        eprintln!(
            "palisade record: warning: {} also holds revisions of another cluster: {}",
            path.display(),
            others.join(", ")
        );
    }
    let what = match &namespaces {
        Some(names) => format!("the NetworkPolicies of {}", names.join(", ")),
        None => "NetworkPolicies (and the tier policies served)".to_string(),
    };
    eprintln!(
        "palisade record: journalling {what} of context `{}` ({}) into {}",
        connection.context,
        identity.server,
        path.display()
    );
    let server = match &args.serve {
        None => None,
        Some(text) => {
            let addr = serve_addr(text).map_err(|e| color_eyre::eyre::eyre!(e))?;
            let server = RecorderServer::start(
                addr,
                path.clone(),
                connection.client.clone(),
                args.service.clone(),
            )
            .await
            .wrap_err_with(|| format!("cannot serve the team's history on {addr}"))?;
            eprintln!(
                "palisade record: serving the team's history on https://{} (Service {}, port `{}`; \
                 callers checked with TokenReview and SubjectAccessReview on services/proxy)",
                server.addr(),
                args.service,
                crate::team::PORT_NAME
            );
            Some(server)
        }
    };
    let progress = Progress::stderr(args.quiet);
    let say = |line: &str| progress.note(line);
    let stopped = record::record_within(
        connection.client,
        namespaces.as_deref(),
        &mut journal,
        &progress,
        &say,
        |journal, revision| {
            let previous = revision
                .number
                .checked_sub(1)
                .and_then(|n| journal.revision_of(&revision.key(), n).ok())
                .flatten();
            eprintln!("{}", describe(revision, previous.as_ref()));
        },
    )
    .await
    .wrap_err_with(|| format!("recording into {} failed", path.display()));
    progress.finish();
    if let Some(server) = server {
        server.shutdown();
    }
    let stopped = stopped?;
    let why = match stopped {
        Stopped::Signal => "stop signal",
        Stopped::StreamEnded => "watch ended",
    };
    eprintln!(
        "palisade record: stopped ({why}); {} holds {} revision(s)",
        path.display(),
        journal.count()?
    );
    Ok(ExitCode::SUCCESS)
}

/// The journal's sources on another cluster than `server`, for the warning. Both spell the
/// server URL without a trailing slash (`cluster::connect::server_url`), whoever wrote it.
fn other_clusters(sources: Vec<(String, String)>, server: &str) -> Vec<String> {
    sources
        .into_iter()
        .filter(|(other, _)| other != server)
        .map(|(server, context)| format!("{server} (context `{context}`)"))
        .collect()
}

/// `--serve`'s address: `PORT` or `:PORT` is 127.0.0.1; anything else as written (a pod gives
/// `0.0.0.0:8443` explicitly).
pub fn serve_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    let port = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|e| {
        format!("--serve {text:?}: expected PORT, 127.0.0.1:PORT or (in a pod) 0.0.0.0:8443: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::{other_clusters, serve_addr};
    use crate::history::Journal;

    #[test]
    fn the_consoles_trailing_slash_is_the_same_cluster() {
        // A journal an older console wrote (the server URL with kube-rs' trailing slash), and
        // revisions of another cluster.
        let dir = tempfile::tempdir().unwrap();
        let policy = |name: &str| {
            serde_json::from_value(serde_json::json!({
                "metadata": {"namespace": "a", "name": name, "resourceVersion": "1"},
                "spec": {"podSelector": {}},
            }))
            .unwrap()
        };
        let at = k8s_openapi::jiff::Timestamp::UNIX_EPOCH;
        let mut journal = Journal::open(&dir.path().join("j.sqlite"))
            .unwrap()
            .with_source("https://127.0.0.1:6443/", "admin");
        journal.observe(&policy("p"), at).unwrap();
        let mut journal = journal.with_source("https://10.0.0.1:6443", "prod");
        journal.observe(&policy("q"), at).unwrap();
        assert_eq!(
            other_clusters(journal.sources().unwrap(), "https://127.0.0.1:6443"),
            ["https://10.0.0.1:6443 (context `prod`)"]
        );
    }

    #[test]
    fn a_bare_port_binds_loopback_only() {
        assert_eq!(serve_addr("8443").unwrap().to_string(), "127.0.0.1:8443");
        assert_eq!(serve_addr(":8443").unwrap().to_string(), "127.0.0.1:8443");
        assert_eq!(
            serve_addr("0.0.0.0:8443").unwrap().to_string(),
            "0.0.0.0:8443"
        );
        assert!(serve_addr("host:x").is_err());
    }
}
