//! Who calls the recorder, and whether they may. The service proxy strips the caller's
//! `Authorization` and adds no identity a backend could trust, so the caller sends its own
//! bearer token in `X-Palisade-Authorization`; the recorder asks the API server about it with a
//! TokenReview, then asks a SubjectAccessReview whether that user (and groups) may `get`
//! (reads) or `create` (appends) `services/proxy` of the recorder's own Service: the same rule
//! the API server checked on the way in, so the recorder's answer matches RBAC even for a caller
//! that reaches it on the pod network directly.
//!
//! Positive answers are cached for [`CACHE_FOR`], keyed by a SHA-256 of the token and the verb
//! (never the token itself), at most [`CACHE_ENTRIES`] of them. Tokens are never logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

use super::RecorderRef;

pub const CACHE_FOR: Duration = Duration::from_secs(30);
pub const CACHE_ENTRIES: usize = 1024;
/// A review that takes longer than this is an unavailable authoriser, not a hang.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(5);

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    pub groups: Vec<String>,
}

/// Why a call is refused; each a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 401.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 503: the reviews could not be made.
    #[error("{0}")]
    Unavailable(String),
}

/// What the recorder asks for: read or append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Append,
}

impl Access {
    pub fn verb(self) -> &'static str {
        match self {
            Access::Read => "get",
            Access::Append => "create",
        }
    }
}

type Digest = [u8; 32];

pub struct Authenticator {
    client: Client,
    service: RecorderRef,
    cache: Mutex<HashMap<(Digest, Access), (Caller, Instant)>>,
}

impl Authenticator {
    pub fn new(client: Client, service: RecorderRef) -> Authenticator {
        Authenticator {
            client,
            service,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Checks the `X-Palisade-Authorization` header's value for `access`.
    pub async fn check(&self, header: Option<&[u8]>, access: Access) -> Result<Caller, Refusal> {
        let token = bearer(header)?;
        let digest = digest(token);
        let now = Instant::now();
        if let Some(caller) = self.cached(digest, access, now) {
            return Ok(caller);
        }
        let caller = self.review_token(token).await?;
        self.review_access(&caller, access).await?;
        self.remember(digest, access, caller.clone(), now);
        Ok(caller)
    }

    fn cached(&self, digest: Digest, access: Access, now: Instant) -> Option<Caller> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&(digest, access))
            .filter(|(_, until)| *until > now)
            .map(|(caller, _)| caller.clone())
    }

    fn remember(&self, digest: Digest, access: Access, caller: Caller, now: Instant) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert((digest, access), (caller, now + CACHE_FOR));
    }

    async fn review_token(&self, token: &str) -> Result<Caller, Refusal> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_string(),
                ..TokenReviewSpec::default()
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer =
            tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
                .await
                .map_err(|_| Refusal::Unavailable("the TokenReview did not answer in time".into()))?
                .map_err(|e| {
                    Refusal::Unavailable(format!(
                        "the recorder cannot review tokens: {}",
                        brief(&e)
                    ))
                })?;
        let status = answer.status.unwrap_or_default();
        let user = status.user.unwrap_or_default();
        match (status.authenticated, user.username) {
            (Some(true), Some(username)) if !username.is_empty() => Ok(Caller {
                username,
                groups: user.groups.unwrap_or_default(),
            }),
            _ => Err(Refusal::Unauthenticated(format!(
                "the token in X-Palisade-Authorization was not accepted by the API server{}",
                status
                    .error
                    .filter(|e| !e.is_empty())
                    .map_or(String::new(), |e| format!(" ({e})"))
            ))),
        }
    }

    async fn review_access(&self, caller: &Caller, access: Access) -> Result<(), Refusal> {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(caller.username.clone()),
                groups: Some(caller.groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(self.service.namespace.clone()),
                    verb: Some(access.verb().into()),
                    resource: Some("services".into()),
                    subresource: Some("proxy".into()),
                    name: Some(self.service.name.clone()),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer =
            tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review))
                .await
                .map_err(|_| {
                    Refusal::Unavailable("the SubjectAccessReview did not answer in time".into())
                })?
                .map_err(|e| {
                    Refusal::Unavailable(format!(
                        "the recorder cannot review access: {}",
                        brief(&e)
                    ))
                })?;
        if answer.status.is_some_and(|s| s.allowed) {
            return Ok(());
        }
        Err(Refusal::Forbidden(format!(
            "user \"{}\" may not {} services/proxy \"{}\" in namespace \"{}\" ({})",
            caller.username,
            access.verb(),
            self.service.name,
            self.service.namespace,
            match access {
                Access::Read => "reading the team's history needs it",
                Access::Append => "appending to the team's audit needs it",
            }
        )))
    }
}

/// The token of `Bearer TOKEN`; 401 for anything else.
fn bearer(header: Option<&[u8]>) -> Result<&str, Refusal> {
    let Some(value) = header else {
        return Err(Refusal::Unauthenticated(
            "no X-Palisade-Authorization: Bearer token (the team's recorder needs the caller's \
             own token to know who calls)"
                .into(),
        ));
    };
    std::str::from_utf8(value)
        .ok()
        .filter(|v| v.is_ascii())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            Refusal::Unauthenticated("X-Palisade-Authorization is not `Bearer TOKEN`".into())
        })
}

fn digest(token: &str) -> Digest {
    let hash = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

/// A kube error in one line, without anything of the request.
fn brief(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("{} {}", status.code, status.message),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_token_is_read() {
        assert_eq!(bearer(Some(b"Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer(Some(b"bearer  abc ")).unwrap(), "abc");
        for bad in [&b"Basic abc"[..], b"Bearer ", b"abc", b"Bearer \xff"] {
            assert!(
                matches!(bearer(Some(bad)), Err(Refusal::Unauthenticated(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(bearer(None), Err(Refusal::Unauthenticated(_))));
    }

    #[test]
    fn the_cache_keys_by_digest_and_never_keeps_the_token() {
        let a = digest("secret-token");
        assert_ne!(a, digest("secret-tokem"));
        assert!(!a.windows(6).any(|w| w == b"secret"));
    }
}
