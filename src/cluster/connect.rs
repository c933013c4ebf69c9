//! Kubeconfig resolution and a client that is known to reach its API server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::time::Instant;

use super::credentials;

/// How long start-up waits for the API server before saying it is unreachable.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(10);

/// A client plus what the status bar shows about it.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The same connection without kube-rs' default retries, for scraping agents through the pod
    /// proxy: kube-rs repeats a 503 up to 15 times with growing backoff, so a down agent would
    /// hold its scrape until the deadline and read "no answer" instead of the API server's 503.
    pub scrape_client: Client,
    /// The same user for the team's recorder: requests to a Service's proxy also carry the
    /// user's token in `X-Palisade-Authorization` (see `team/client.rs`).
    pub team_client: Client,
    /// Whether the user authenticates with a bearer token (a client certificate alone cannot
    /// tell the team's recorder who calls).
    pub sends_token: bool,
    pub context: String,
    /// The API server URL, without a trailing slash (see [`server_url`]).
    pub server: String,
    /// Which namespaces to watch: the caller sets `asked` (`-n`, `contexts.toml`); `connect`
    /// sets the kubeconfig context's namespace, the fallback when cluster-wide lists are
    /// forbidden (see `scope.rs`).
    pub scope: super::scope::ScopeRequest,
}

/// An API server URL as palisade keeps it (the journal's sources and file name, the audit's
/// cluster): without trailing slashes, read once here. kube-rs prints `https://h:6443` as
/// `https://h:6443/` and a kubeconfig may write either: one cluster, one spelling, and a path
/// joined to it has no `//`. Anything but an absolute URL (scheme and host) is an error that
/// names it.
pub fn server_url(text: &str) -> Result<String, String> {
    let bad = |why: String| format!("`{text}` is not a URL such as https://HOST:PORT: {why}");
    let uri: hyper::Uri = text.parse().map_err(|e| bad(format!("{e}")))?;
    if uri.scheme().is_none() {
        return Err(bad("no scheme".into()));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// Where the cluster's configuration came from.
pub enum ClusterSource {
    Kubeconfig(Box<Kubeconfig>),
    InCluster,
}

/// The standard resolution: `--kubeconfig`, else `$KUBECONFIG` (merged), else `~/.kube/config`,
/// else the in-cluster service account. The error names every place tried.
pub fn resolve_kubeconfig(explicit: Option<&Path>) -> Result<ClusterSource> {
    if let Some(path) = explicit {
        return Kubeconfig::read_from(path)
            .map(|k| ClusterSource::Kubeconfig(Box::new(k)))
            .wrap_err_with(|| format!("cannot read kubeconfig {}", path.display()));
    }
    let mut tried = Vec::new();
    match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(value) => {
            let paths: Vec<PathBuf> = std::env::split_paths(&value).collect();
            if paths.iter().any(|p| p.exists()) {
                return Kubeconfig::from_env()
                    .wrap_err("cannot read the kubeconfig files in $KUBECONFIG")?
                    .map(|k| ClusterSource::Kubeconfig(Box::new(k)))
                    .ok_or_else(|| eyre!("$KUBECONFIG names no readable file"));
            }
            for path in paths {
                tried.push(format!("{} (from $KUBECONFIG: not found)", path.display()));
            }
        }
        None => tried.push("$KUBECONFIG (not set)".to_string()),
    }
    match dirs::home_dir().map(|home| home.join(".kube").join("config")) {
        Some(path) if path.exists() => {
            return Kubeconfig::read_from(&path)
                .map(|k| ClusterSource::Kubeconfig(Box::new(k)))
                .wrap_err_with(|| format!("cannot read kubeconfig {}", path.display()));
        }
        Some(path) => tried.push(format!("{} (not found)", path.display())),
        None => tried.push("~/.kube/config (no home directory)".to_string()),
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return Ok(ClusterSource::InCluster);
    }
    tried.push("in-cluster service account (KUBERNETES_SERVICE_HOST not set)".to_string());
    Err(eyre!(
        "no kubeconfig found. Tried:\n  {}\nPass --kubeconfig FILE, set KUBECONFIG, or try the built-in demo cluster: palisade demo",
        tried.join("\n  ")
    ))
}

/// Builds a client for the chosen context and checks that the API server answers, so that an
/// unreachable cluster is a clear message within `REACH_TIMEOUT`, not a hang. The user's
/// credentials are checked first (see `credentials.rs`): a token that is no header value is an
/// error naming the user, and an exec plugin that does not answer within `REACH_TIMEOUT` is
/// stopped and named.
pub async fn connect(source: ClusterSource, context: Option<&str>) -> Result<Connection> {
    let (config, context_name, user, namespace) = match source {
        ClusterSource::Kubeconfig(kubeconfig) => {
            let kubeconfig = *kubeconfig;
            let context_name = context
                .map(str::to_string)
                .or_else(|| kubeconfig.current_context.clone())
                .unwrap_or_default();
            if let Some(wanted) = context
                && !kubeconfig.contexts.iter().any(|c| c.name == wanted)
            {
                let known: Vec<&str> = kubeconfig
                    .contexts
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                return Err(eyre!(
                    "context `{wanted}` is not in the kubeconfig; known contexts: {}",
                    if known.is_empty() {
                        "(none)".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
            let named = kubeconfig
                .contexts
                .iter()
                .find(|c| c.name == context_name)
                .and_then(|c| c.context.as_ref());
            let user = named.and_then(|c| c.user.clone()).unwrap_or_default();
            let namespace = named
                .and_then(|c| c.namespace.clone())
                .filter(|ns| !ns.is_empty());
            let options = KubeConfigOptions {
                context: context.map(str::to_string),
                ..Default::default()
            };
            let config = Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .wrap_err_with(|| format!("cannot use kubeconfig context `{context_name}`"))?;
            (config, context_name, user, namespace)
        }
        ClusterSource::InCluster => (
            Config::incluster().wrap_err("cannot configure the in-cluster client")?,
            "in-cluster".to_string(),
            "in-cluster service account".to_string(),
            None,
        ),
    };
    credentials::check_static(&config.auth_info, &user)?;
    let plugin = config.auth_info.exec.as_ref().map(credentials::plugin_name);
    if let Some(exec) = &config.auth_info.exec {
        credentials::check_exec(exec, &user, Instant::now() + REACH_TIMEOUT).await?;
    }
    let server = server_url(&config.cluster_url.to_string())
        .map_err(|e| eyre!("cannot use kubeconfig context `{context_name}`: the server {e}"))?;
    let sends_token = crate::team::client::sends_token(&config);
    let (client, scrape_client, team_client) =
        build_clients(config, &user, plugin.as_deref()).await?;
    match tokio::time::timeout(REACH_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(Connection {
            client,
            scrape_client,
            team_client,
            sends_token,
            context: context_name,
            server,
            scope: super::scope::ScopeRequest {
                asked: Vec::new(),
                fallback: namespace,
            },
        }),
        Ok(Err(err)) => Err(eyre!(
            "cannot reach the API server at {server} (context `{context_name}`): {err}"
        )),
        Err(_) => Err(eyre!(
            "the API server at {server} (context `{context_name}`) did not answer within {} s",
            REACH_TIMEOUT.as_secs()
        )),
    }
}

/// The console's client, the scraping one and the team's. kube-rs runs an exec plugin again, with a
/// blocking call, while it builds them, so they are built on a thread of their own under a
/// deadline: a plugin that hangs now (it answered the check a moment ago) leaves that thread
/// behind, not the caller, and a panic in kube-rs becomes an error.
async fn build_clients(
    mut config: Config,
    user: &str,
    plugin: Option<&str>,
) -> Result<(Client, Client, Client)> {
    config.connect_timeout = Some(REACH_TIMEOUT / 2);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    // The clients spawn their request buffers on this runtime.
    let runtime = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name("kube-client-build".into())
        .spawn(move || {
            let _inside = runtime.enter();
            let mut scrape_config = config.clone();
            scrape_config.default_retry = false;
            let built = Client::try_from(scrape_config).and_then(|scrape| {
                let team = crate::team::client::build_team_client(&config)?;
                Client::try_from(config).map(|client| (client, scrape, team))
            });
            let _ = sender.send(built);
        });
    if let Err(err) = spawned {
        return Err(eyre!("cannot start building the Kubernetes client: {err}"));
    }
    let what = match plugin {
        Some(plugin) => {
            format!("with the credential plugin `{plugin}` of kubeconfig user `{user}`")
        }
        None => format!("for kubeconfig user `{user}`"),
    };
    match tokio::time::timeout(REACH_TIMEOUT, receiver).await {
        Ok(Ok(Ok(clients))) => Ok(clients),
        Ok(Ok(Err(err))) => {
            Err(eyre!(err).wrap_err(format!("cannot build the Kubernetes client {what}")))
        }
        Ok(Err(_)) => Err(eyre!(
            "building the Kubernetes client {what} failed inside kube-rs (see the message above)"
        )),
        Err(_) => Err(eyre!(
            "building the Kubernetes client {what} did not finish within {} s",
            REACH_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::location::identity_from_source;
    use crate::sim::{DemoServer, Scenario, ServerOptions};

    #[test]
    fn a_server_url_is_kept_without_its_trailing_slash_and_a_bad_one_is_named() {
        for spelling in [
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080//",
        ] {
            assert_eq!(server_url(spelling).unwrap(), "http://127.0.0.1:8080");
        }
        assert_eq!(
            server_url("https://rancher.example/k8s/clusters/c-1/").unwrap(),
            "https://rancher.example/k8s/clusters/c-1"
        );
        // What kube-rs prints for the kubeconfig's `https://h:6443`.
        let printed = hyper::Uri::from_static("https://h:6443").to_string();
        assert_eq!(server_url(&printed).unwrap(), "https://h:6443");
        // A path joined to it has one slash.
        let path = crate::team::RecorderRef::default().proxy_path("v1/audit");
        let joined = format!("{}{path}", server_url("http://127.0.0.1:8080/").unwrap());
        assert_eq!(
            joined,
            "http://127.0.0.1:8080/api/v1/namespaces/palisade/services/https:palisade-recorder:https/proxy/v1/audit"
        );
        for (bad, why) in [
            ("", "empty string"),
            ("127.0.0.1:8080", "no scheme"),
            ("/api", "no scheme"),
            ("http://", "empty string"),
            ("http://exa mple", "invalid uri character"),
        ] {
            let err = server_url(bad).unwrap_err();
            assert!(
                err.starts_with(&format!("`{bad}` is not a URL such as https://HOST:PORT: ")),
                "{err}"
            );
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    /// The console's connection names the API server as the journal's identity (`record`,
    /// `history`, `rollback`) does, whether the kubeconfig writes a trailing slash or not: the
    /// journal's sources and the audit's cluster then agree.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_connection_names_the_server_as_the_journal_identity_does() {
        let options = ServerOptions {
            agents: false,
            ..ServerOptions::default()
        };
        let server = DemoServer::start_with(Scenario::builtin(), options)
            .await
            .expect("server starts");
        let url = server.url();
        for spelling in [url.clone(), format!("{url}/")] {
            let mut kubeconfig = server.kubeconfig();
            for named in &mut kubeconfig.clusters {
                if let Some(cluster) = named.cluster.as_mut() {
                    cluster.server = Some(spelling.clone());
                }
            }
            let source = || ClusterSource::Kubeconfig(Box::new(kubeconfig.clone()));
            let identity = identity_from_source(&source(), None).expect("an identity");
            let connection = connect(source(), None).await.expect("connects");
            assert_eq!(identity.server, url, "{spelling}");
            assert_eq!(connection.server, url, "{spelling}");
        }
        server.shutdown().await;
    }
}
