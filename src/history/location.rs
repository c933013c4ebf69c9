//! Where a journal lives: `<data dir>/palisade/journals/<key>.sqlite`, the key derived from the
//! cluster's server URL and the context name. Resolved from the kubeconfig alone, so reading
//! history never needs the cluster.

use std::path::PathBuf;

use color_eyre::eyre::{Result, eyre};

use crate::cluster::connect::{ClusterSource, server_url};

/// The cluster and context a journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalIdentity {
    /// The API server URL as the kubeconfig names it, without a trailing slash.
    pub server: String,
    pub context: String,
}

/// The identity of the chosen context (`context`, else the current one) without contacting the
/// cluster. In a pod it is the in-cluster API server.
pub fn identity_from_source(
    source: &ClusterSource,
    context: Option<&str>,
) -> Result<JournalIdentity> {
    match source {
        ClusterSource::Kubeconfig(kubeconfig) => {
            let name = context
                .map(str::to_string)
                .or_else(|| kubeconfig.current_context.clone())
                .ok_or_else(|| {
                    eyre!("the kubeconfig has no current context; pass --context NAME or --journal PATH")
                })?;
            let named = kubeconfig
                .contexts
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| eyre!("context `{name}` is not in the kubeconfig"))?;
            let cluster_name = named
                .context
                .as_ref()
                .map(|c| c.cluster.clone())
                .unwrap_or_default();
            let server = kubeconfig
                .clusters
                .iter()
                .find(|c| c.name == cluster_name)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone())
                .ok_or_else(|| {
                    eyre!("context `{name}` names cluster `{cluster_name}`, which has no server in the kubeconfig")
                })?;
            let server = server_url(&server).map_err(|e| {
                eyre!("context `{name}` names cluster `{cluster_name}`, whose server {e}")
            })?;
            Ok(JournalIdentity {
                server,
                context: name,
            })
        }
        ClusterSource::InCluster => {
            let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
            let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            Ok(JournalIdentity {
                server: format!("https://{host}:{port}"),
                context: "in-cluster".to_string(),
            })
        }
    }
}

/// `<context>--<server host>--<hash>`: readable, safe as a file name, and distinct for distinct
/// (server, context) pairs even when sanitising makes two names alike.
pub fn journal_key(identity: &JournalIdentity) -> String {
    let host = identity
        .server
        .split("://")
        .nth(1)
        .unwrap_or(&identity.server)
        .split('/')
        .next()
        .unwrap_or_default();
    let hash = fnv1a(format!("{}\n{}", identity.server, identity.context).as_bytes());
    format!(
        "{}--{}--{:08x}",
        sanitise(&identity.context),
        sanitise(host),
        hash as u32 ^ (hash >> 32) as u32
    )
}

/// `$XDG_DATA_HOME/palisade/journals/<key>.sqlite` (`~/.local/share/...` by default).
pub fn default_journal_path(identity: &JournalIdentity) -> Result<PathBuf> {
    let dir = dirs::data_dir()
        .ok_or_else(|| eyre!("no data directory (is $HOME set?); pass --journal PATH"))?;
    Ok(dir
        .join("palisade")
        .join("journals")
        .join(format!("{}.sqlite", journal_key(identity))))
}

fn sanitise(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    if cleaned.is_empty() {
        "_".to_string()
    } else {
        cleaned
    }
}

/// 64-bit FNV-1a: stable across builds and platforms (unlike std's hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(server: &str, context: &str) -> JournalIdentity {
        JournalIdentity {
            server: server.into(),
            context: context.into(),
        }
    }

    #[test]
    fn keys_are_readable_safe_and_distinct() {
        let key = journal_key(&id("https://prod.example.com:6443", "admin@prod"));
        assert!(
            key.starts_with("admin_prod--prod.example.com_6443--"),
            "{key}"
        );
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        );
        assert_ne!(
            key,
            journal_key(&id("https://prod.example.com:6443", "admin#prod"))
        );
        assert_ne!(
            key,
            journal_key(&id("https://stage.example.com:6443", "admin@prod"))
        );
        assert_eq!(
            key,
            journal_key(&id("https://prod.example.com:6443", "admin@prod"))
        );
        assert!(!journal_key(&id("", "")).is_empty());
    }

    #[test]
    fn identity_comes_from_the_kubeconfig_without_a_cluster() {
        let kubeconfig: kube::config::Kubeconfig = crate::yaml::from_str(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://10.0.0.1:6443/'}\n\
             - name: b\n  cluster: {server: '10.0.0.1:6443'}\n\
             contexts:\n- name: prod\n  context: {cluster: c, user: u}\n- name: other\n  context: {cluster: gone, user: u}\n\
             - name: bad\n  context: {cluster: b, user: u}\n\
             current-context: prod\nusers:\n- name: u\n  user: {}\n",
        )
        .unwrap();
        let source = ClusterSource::Kubeconfig(Box::new(kubeconfig));
        assert_eq!(
            identity_from_source(&source, None).unwrap(),
            id("https://10.0.0.1:6443", "prod")
        );
        let err = identity_from_source(&source, Some("nope")).unwrap_err();
        assert!(
            err.to_string().contains("`nope` is not in the kubeconfig"),
            "{err}"
        );
        let err = identity_from_source(&source, Some("other")).unwrap_err();
        assert!(err.to_string().contains("no server"), "{err}");
        let err = identity_from_source(&source, Some("bad")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "context `bad` names cluster `b`, whose server `10.0.0.1:6443` is not a URL such as \
             https://HOST:PORT: no scheme"
        );
    }
}
