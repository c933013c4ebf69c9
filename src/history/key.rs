//! What the journal and a rollback address: a namespaced NetworkPolicy (`NS/NAME`) or a
//! cluster-scoped tier policy (`cnp/NAME`, `anp/NAME`, `banp/NAME`), and the API object of either.
//! Tier policies are stored with an empty namespace and their kind, so `cnp/x` and `anp/x` are
//! two policies, and neither is a NetworkPolicy of a namespace named `cnp`.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind, TypeMeta};
use serde_json::Value;

use crate::model::{ObjectRef, TIER_GROUP, TierKind, TierPolicyInfo, TierRef};

/// The kind of a journalled policy, as the `kind` column stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    NetworkPolicy,
    Tier(TierKind),
}

impl PolicyKind {
    pub const NETWORK_POLICY: &'static str = "NetworkPolicy";

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => Self::NETWORK_POLICY,
            PolicyKind::Tier(kind) => kind.kind(),
        }
    }

    pub fn parse(text: &str) -> Option<PolicyKind> {
        if text == Self::NETWORK_POLICY {
            return Some(PolicyKind::NetworkPolicy);
        }
        TierKind::from_kind(text).map(PolicyKind::Tier)
    }

    /// The API group (`networking.k8s.io` or `policy.networking.k8s.io`).
    pub fn group(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => "networking.k8s.io",
            PolicyKind::Tier(_) => TIER_GROUP,
        }
    }

    /// The resource (plural) an access review names.
    pub fn plural(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => "networkpolicies",
            PolicyKind::Tier(kind) => kind.plural(),
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a journalled policy. Prints as `NS/NAME` or `cnp/NAME`: also what the
/// operator types to confirm a rollback of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKey {
    Network(ObjectRef),
    Tier(TierRef),
}

impl PolicyKey {
    pub fn network(namespace: impl Into<String>, name: impl Into<String>) -> PolicyKey {
        PolicyKey::Network(ObjectRef::new(namespace, name))
    }

    /// From the journal's columns; `None` for a kind this palisade does not know.
    pub fn from_columns(kind: &str, namespace: &str, name: &str) -> Option<PolicyKey> {
        Some(match PolicyKind::parse(kind)? {
            PolicyKind::NetworkPolicy => PolicyKey::network(namespace, name),
            PolicyKind::Tier(kind) => PolicyKey::Tier(TierRef::new(kind, name)),
        })
    }

    /// `cnp/NAME` (`anp/`, `banp/`) is a tier policy, `NS/NAME` a NetworkPolicy. A NetworkPolicy
    /// in a namespace named like a short name is `networkpolicy/NS/NAME`.
    pub fn parse(text: &str) -> Option<PolicyKey> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        };
        if let Some(rest) = text.strip_prefix("networkpolicy/") {
            let (namespace, name) = rest.split_once('/')?;
            return (valid(namespace) && valid(name)).then(|| PolicyKey::network(namespace, name));
        }
        if let Some(tier) = TierRef::parse(text) {
            return valid(&tier.name).then_some(PolicyKey::Tier(tier));
        }
        let (namespace, name) = text.split_once('/')?;
        (valid(namespace) && valid(name)).then(|| PolicyKey::network(namespace, name))
    }

    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyKey::Network(_) => PolicyKind::NetworkPolicy,
            PolicyKey::Tier(tier) => PolicyKind::Tier(tier.kind),
        }
    }

    /// The namespace column: empty for a cluster-scoped tier policy.
    pub fn namespace(&self) -> &str {
        match self {
            PolicyKey::Network(id) => &id.namespace,
            PolicyKey::Tier(_) => "",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            PolicyKey::Network(id) => &id.name,
            PolicyKey::Tier(tier) => &tier.name,
        }
    }

    pub fn as_network(&self) -> Option<&ObjectRef> {
        match self {
            PolicyKey::Network(id) => Some(id),
            PolicyKey::Tier(_) => None,
        }
    }

    pub fn as_tier(&self) -> Option<&TierRef> {
        match self {
            PolicyKey::Tier(tier) => Some(tier),
            PolicyKey::Network(_) => None,
        }
    }

    /// "NetworkPolicy acme/x" or "ClusterNetworkPolicy cnp/x", for messages.
    pub fn describe(&self) -> String {
        format!("{} {self}", self.kind())
    }

    /// Where an access review or a message says the policy lives.
    pub fn scope(&self) -> String {
        match self {
            PolicyKey::Network(id) => format!("in {}", id.namespace),
            PolicyKey::Tier(_) => "(cluster-scoped)".to_string(),
        }
    }
}

impl std::fmt::Display for PolicyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyKey::Network(id) => id.fmt(f),
            PolicyKey::Tier(tier) => tier.fmt(f),
        }
    }
}

impl From<ObjectRef> for PolicyKey {
    fn from(id: ObjectRef) -> PolicyKey {
        PolicyKey::Network(id)
    }
}

impl From<TierRef> for PolicyKey {
    fn from(tier: TierRef) -> PolicyKey {
        PolicyKey::Tier(tier)
    }
}

/// As the audit's JSON lines write it: `{"kind", "namespace", "name"}`; lines written before
/// tier policies have no kind and are NetworkPolicies.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeyRepr {
    #[serde(default = "network_policy_kind")]
    kind: String,
    #[serde(default)]
    namespace: String,
    name: String,
}

fn network_policy_kind() -> String {
    PolicyKind::NETWORK_POLICY.to_string()
}

impl serde::Serialize for PolicyKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyRepr {
            kind: self.kind().as_str().to_string(),
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for PolicyKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<PolicyKey, D::Error> {
        let repr = KeyRepr::deserialize(deserializer)?;
        PolicyKey::from_columns(&repr.kind, &repr.namespace, &repr.name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown policy kind `{}`", repr.kind)))
    }
}

/// The API object of a journalled policy, as served or as a rollback writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyObject {
    Network(NetworkPolicy),
    Tier(TierPolicyInfo),
}

impl From<NetworkPolicy> for PolicyObject {
    fn from(policy: NetworkPolicy) -> PolicyObject {
        PolicyObject::Network(policy)
    }
}

impl From<TierPolicyInfo> for PolicyObject {
    fn from(tier: TierPolicyInfo) -> PolicyObject {
        PolicyObject::Tier(tier)
    }
}

/// The `ApiResource` of a tier kind, for `Api<DynamicObject>`.
pub fn tier_resource(kind: TierKind) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(TIER_GROUP, kind.version(), kind.kind()),
        kind.plural(),
    )
}

impl PolicyObject {
    /// A tier policy with `spec` (absent: no spec) and `metadata`.
    pub fn tier(kind: TierKind, metadata: ObjectMeta, spec: Option<Value>) -> PolicyObject {
        let name = metadata.name.clone().unwrap_or_default();
        let mut object = DynamicObject::new(&name, &tier_resource(kind));
        object.types = Some(TypeMeta {
            api_version: kind.api_version(),
            kind: kind.kind().to_string(),
        });
        object.metadata = metadata;
        // A flattened `data` must be a map for the object to serialise.
        object.data = match spec {
            Some(spec) => serde_json::json!({ "spec": spec }),
            None => serde_json::json!({}),
        };
        PolicyObject::Tier(TierPolicyInfo {
            id: TierRef::new(kind, name),
            object,
        })
    }

    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyObject::Network(_) => PolicyKind::NetworkPolicy,
            PolicyObject::Tier(tier) => PolicyKind::Tier(tier.id.kind),
        }
    }

    /// The key from the object's own metadata; `None` without a name (or a namespace, for a
    /// NetworkPolicy).
    pub fn key(&self) -> Option<PolicyKey> {
        let meta = self.meta();
        let name = meta.name.clone().filter(|n| !n.is_empty())?;
        Some(match self {
            PolicyObject::Network(_) => {
                PolicyKey::network(meta.namespace.clone().filter(|n| !n.is_empty())?, name)
            }
            PolicyObject::Tier(tier) => PolicyKey::Tier(TierRef::new(tier.id.kind, name)),
        })
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            PolicyObject::Network(policy) => &policy.metadata,
            PolicyObject::Tier(tier) => &tier.object.metadata,
        }
    }

    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            PolicyObject::Network(policy) => &mut policy.metadata,
            PolicyObject::Tier(tier) => &mut tier.object.metadata,
        }
    }

    /// The spec as JSON (`null` when the object has none).
    pub fn spec_value(&self) -> Value {
        match self {
            PolicyObject::Network(policy) => {
                serde_json::to_value(&policy.spec).unwrap_or(Value::Null)
            }
            PolicyObject::Tier(tier) => tier.spec().cloned().unwrap_or(Value::Null),
        }
    }

    pub fn as_network(&self) -> Option<&NetworkPolicy> {
        match self {
            PolicyObject::Network(policy) => Some(policy),
            PolicyObject::Tier(_) => None,
        }
    }

    pub fn as_tier(&self) -> Option<&TierPolicyInfo> {
        match self {
            PolicyObject::Tier(tier) => Some(tier),
            PolicyObject::Network(_) => None,
        }
    }

    /// The object as JSON text (what a plan key compares).
    pub fn to_json(&self) -> String {
        match self {
            PolicyObject::Network(policy) => serde_json::to_string(policy),
            PolicyObject::Tier(tier) => serde_json::to_string(&tier.object),
        }
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_print_as_typed() {
        let cnp = PolicyKey::parse("cnp/tenant-isolation").unwrap();
        assert_eq!(cnp.kind(), PolicyKind::Tier(TierKind::ClusterNetworkPolicy));
        assert_eq!((cnp.namespace(), cnp.name()), ("", "tenant-isolation"));
        assert_eq!(cnp.to_string(), "cnp/tenant-isolation");
        let np = PolicyKey::parse("acme-web/default-deny").unwrap();
        assert_eq!(np, PolicyKey::network("acme-web", "default-deny"));
        // A NetworkPolicy in a namespace named `cnp` stays reachable.
        assert_eq!(
            PolicyKey::parse("networkpolicy/cnp/x"),
            Some(PolicyKey::network("cnp", "x"))
        );
        for bad in ["x", "cnp/", "a/b/c", "Acme/x", "/x", "cnp/X"] {
            assert_eq!(PolicyKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_serialize_with_their_kind_and_read_old_lines_as_network_policies() {
        let key = PolicyKey::parse("banp/default").unwrap();
        let text = serde_json::to_string(&key).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"BaselineAdminNetworkPolicy","namespace":"","name":"default"}"#
        );
        assert_eq!(serde_json::from_str::<PolicyKey>(&text).unwrap(), key);
        let old: PolicyKey = serde_json::from_str(r#"{"namespace":"a","name":"p"}"#).unwrap();
        assert_eq!(old, PolicyKey::network("a", "p"));
        assert!(serde_json::from_str::<PolicyKey>(r#"{"kind":"Pod","name":"p"}"#).is_err());
    }
}
