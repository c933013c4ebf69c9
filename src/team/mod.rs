//! The team's history: the recorder (`palisade record --serve`) answers revisions and audit
//! records over HTTPS, and consoles and headless commands reach it through the API server's
//! service proxy (`/api/v1/namespaces/NS/services/https:NAME:https/proxy/...`), authorised by RBAC
//! on `services/proxy` (see docs/history.md, "Team history").
//!
//! * `server.rs`: the recorder's API (read-only, except appending audit records).
//! * `auth.rs`: who calls: the caller's own token in `X-Palisade-Authorization`, checked with a
//!   TokenReview, then a SubjectAccessReview on the recorder's Service, cached briefly.
//! * `tls.rs`: the self-signed certificate the recorder serves with.
//! * `client.rs`: the client side: a kube client that copies its `Authorization` header into
//!   `X-Palisade-Authorization` for the recorder's proxy path only, and typed errors.
//! * `sync.rs`: a policy's team revisions merged into the local journal (the cache and the
//!   fallback), and team audit records merged with the local ones.

pub mod auth;
pub mod client;
pub mod demo;
pub mod server;
pub mod sync;
pub mod tls;

/// The header that carries the caller's bearer token to the recorder: the API server removes
/// `Authorization` before proxying.
pub const TOKEN_HEADER: &str = "x-palisade-authorization";

/// The recorder Service's port name.
pub const PORT_NAME: &str = "https";
/// The port the recorder listens on in a pod (`--serve 0.0.0.0:8443`).
pub const POD_PORT: u16 = 8443;
/// The largest audit record a client may POST.
pub const MAX_POST: usize = 64 * 1024;

/// The recorder's Service: `NS/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderRef {
    pub namespace: String,
    pub name: String,
}

impl Default for RecorderRef {
    fn default() -> Self {
        RecorderRef {
            namespace: "palisade".into(),
            name: "palisade-recorder".into(),
        }
    }
}

impl RecorderRef {
    /// `NS/NAME`, both DNS labels.
    pub fn parse(text: &str) -> Result<RecorderRef, String> {
        let label = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        };
        match text.split_once('/') {
            Some((namespace, name)) if label(namespace) && label(name) => Ok(RecorderRef {
                namespace: namespace.into(),
                name: name.into(),
            }),
            _ => Err(format!(
                "`{text}` is not a Service as NAMESPACE/NAME (e.g. palisade/palisade-recorder)"
            )),
        }
    }

    /// The service proxy path to `path` (no leading slash) on the recorder.
    pub fn proxy_path(&self, path: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/https:{}:{PORT_NAME}/proxy/{path}",
            self.namespace, self.name
        )
    }
}

impl std::fmt::Display for RecorderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Whether and where to reach the team's recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderChoice {
    Off,
    Service(RecorderRef),
}

impl RecorderChoice {
    /// `--no-recorder` wins, then `--recorder`, then the context's `recorder = ...` in
    /// contexts.toml, then the default Service.
    pub fn resolve(
        no_recorder: bool,
        flag: Option<&RecorderRef>,
        configured: Option<&RecorderChoice>,
    ) -> RecorderChoice {
        if no_recorder {
            return RecorderChoice::Off;
        }
        if let Some(service) = flag {
            return RecorderChoice::Service(service.clone());
        }
        configured
            .cloned()
            .unwrap_or_else(|| RecorderChoice::Service(RecorderRef::default()))
    }
}

/// Percent-decodes a query value (`+` is a space).
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes a query value (everything but unreserved characters).
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_parse_and_the_proxy_path_names_the_port() {
        let r = RecorderRef::parse("team/rec").unwrap();
        assert_eq!(
            r.proxy_path("v1/audit"),
            "/api/v1/namespaces/team/services/https:rec:https/proxy/v1/audit"
        );
        for bad in ["", "x", "/x", "x/", "A/b", "a/b/c", "a/-b"] {
            assert!(RecorderRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_flag_wins_over_the_context_and_off_wins_over_all() {
        let flag = RecorderRef::parse("a/b").unwrap();
        let configured = RecorderChoice::Off;
        assert_eq!(
            RecorderChoice::resolve(false, Some(&flag), Some(&configured)),
            RecorderChoice::Service(flag.clone())
        );
        assert_eq!(
            RecorderChoice::resolve(false, None, Some(&configured)),
            RecorderChoice::Off
        );
        assert_eq!(
            RecorderChoice::resolve(true, Some(&flag), None),
            RecorderChoice::Off
        );
        assert_eq!(
            RecorderChoice::resolve(false, None, None),
            RecorderChoice::Service(RecorderRef::default())
        );
    }

    #[test]
    fn query_values_round_trip() {
        let text = "2026-12-06T22:00:00.000Z a/b";
        assert_eq!(percent_decode(&percent_encode(text)).unwrap(), text);
        assert_eq!(percent_decode("a%3Ab+c").unwrap(), "a:b c");
        assert!(percent_decode("%zz").is_none());
    }
}
