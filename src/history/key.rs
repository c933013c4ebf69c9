//! What the journal and a rollback address: a namespaced NetworkPolicy (`NS/NAME`), a
//! cluster-scoped tier policy (`cnp/NAME`, `anp/NAME`, `banp/NAME`) or a CNI's own policy
//! (`ciliumnp/NS/NAME`, `ccnp/NAME`, `caliconp/NS/NAME`, `gnp/NAME`, ...), and the API object of
//! each. Tier policies are stored with an empty namespace and their kind, so `cnp/x` and `anp/x`
//! are two policies, and neither is a NetworkPolicy of a namespace named `cnp`. Calico's
//! NetworkPolicy is stored as `NetworkPolicy.projectcalico.org`, never as Kubernetes' kind.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind, TypeMeta};
use serde_json::Value;

use crate::model::{
    NativeKind, NativePolicyInfo, NativeRef, ObjectRef, TIER_GROUP, TierKind, TierPolicyInfo,
    TierRef,
};

/// The kind of a journalled policy, as the `kind` column stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    NetworkPolicy,
    Tier(TierKind),
    Native(NativeKind),
}

impl PolicyKind {
    pub const NETWORK_POLICY: &'static str = "NetworkPolicy";

    /// Calico's NetworkPolicy in the `kind` column (Kubernetes' owns the bare name).
    pub const CALICO_NETWORK_POLICY: &'static str = "NetworkPolicy.projectcalico.org";

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => Self::NETWORK_POLICY,
            PolicyKind::Tier(kind) => kind.kind(),
            PolicyKind::Native(NativeKind::CalicoNetworkPolicy) => Self::CALICO_NETWORK_POLICY,
            PolicyKind::Native(kind) => kind.kind(),
        }
    }

    pub fn parse(text: &str) -> Option<PolicyKind> {
        if text == Self::NETWORK_POLICY {
            return Some(PolicyKind::NetworkPolicy);
        }
        if text == Self::CALICO_NETWORK_POLICY {
            return Some(PolicyKind::Native(NativeKind::CalicoNetworkPolicy));
        }
        TierKind::from_kind(text)
            .map(PolicyKind::Tier)
            .or_else(|| NativeKind::from_kind(text).map(PolicyKind::Native))
    }

    /// Whether a policy of this kind lives in a namespace.
    pub fn namespaced(self) -> bool {
        match self {
            PolicyKind::NetworkPolicy => true,
            PolicyKind::Tier(_) => false,
            PolicyKind::Native(kind) => kind.namespaced(),
        }
    }

    /// The API group (`networking.k8s.io` or `policy.networking.k8s.io`).
    pub fn group(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => "networking.k8s.io",
            PolicyKind::Tier(_) => TIER_GROUP,
            PolicyKind::Native(kind) => kind.group(),
        }
    }

    /// The resource (plural) an access review names.
    pub fn plural(self) -> &'static str {
        match self {
            PolicyKind::NetworkPolicy => "networkpolicies",
            PolicyKind::Tier(kind) => kind.plural(),
            PolicyKind::Native(kind) => kind.plural(),
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a journalled policy. Prints as `NS/NAME`, `cnp/NAME` or
/// `ciliumnp/NS/NAME`: also what the operator types to confirm a rollback of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKey {
    Network(ObjectRef),
    Tier(TierRef),
    Native(NativeRef),
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
            PolicyKind::Native(kind) => {
                let namespace = if kind.namespaced() { namespace } else { "" };
                PolicyKey::Native(NativeRef::new(kind, namespace, name))
            }
        })
    }

    /// `cnp/NAME` (`anp/`, `banp/`) is a tier policy, `ciliumnp/NS/NAME` (`ccnp/NAME`,
    /// `caliconp/NS/NAME`, `gnp/NAME`, ...) a CNI's own, `NS/NAME` a NetworkPolicy. A
    /// NetworkPolicy in a namespace named like a short name is `networkpolicy/NS/NAME`.
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
        if let Some((short, _)) = text.split_once('/')
            && NativeKind::from_short_name(short).is_some()
        {
            let native = NativeRef::parse(text)?;
            let namespace_ok = !native.kind.namespaced() || valid(&native.namespace);
            return (valid(&native.name) && namespace_ok).then_some(PolicyKey::Native(native));
        }
        let (namespace, name) = text.split_once('/')?;
        (valid(namespace) && valid(name)).then(|| PolicyKey::network(namespace, name))
    }

    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyKey::Network(_) => PolicyKind::NetworkPolicy,
            PolicyKey::Tier(tier) => PolicyKind::Tier(tier.kind),
            PolicyKey::Native(native) => PolicyKind::Native(native.kind),
        }
    }

    /// The namespace column: empty for a cluster-scoped policy.
    pub fn namespace(&self) -> &str {
        match self {
            PolicyKey::Network(id) => &id.namespace,
            PolicyKey::Tier(_) => "",
            PolicyKey::Native(native) => &native.namespace,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            PolicyKey::Network(id) => &id.name,
            PolicyKey::Tier(tier) => &tier.name,
            PolicyKey::Native(native) => &native.name,
        }
    }

    pub fn as_network(&self) -> Option<&ObjectRef> {
        match self {
            PolicyKey::Network(id) => Some(id),
            _ => None,
        }
    }

    pub fn as_tier(&self) -> Option<&TierRef> {
        match self {
            PolicyKey::Tier(tier) => Some(tier),
            _ => None,
        }
    }

    pub fn as_native(&self) -> Option<&NativeRef> {
        match self {
            PolicyKey::Native(native) => Some(native),
            _ => None,
        }
    }

    /// The namespace a namespaced policy lives in (`None`: cluster-scoped).
    pub fn namespace_opt(&self) -> Option<&str> {
        self.kind().namespaced().then(|| self.namespace())
    }

    /// "NetworkPolicy acme/x" or "ClusterNetworkPolicy cnp/x", for messages.
    pub fn describe(&self) -> String {
        format!("{} {self}", self.kind())
    }

    /// Where an access review or a message says the policy lives.
    pub fn scope(&self) -> String {
        match self {
            PolicyKey::Network(id) => format!("in {}", id.namespace),
            PolicyKey::Native(native) if native.kind.namespaced() => {
                format!("in {}", native.namespace)
            }
            PolicyKey::Tier(_) | PolicyKey::Native(_) => "(cluster-scoped)".to_string(),
        }
    }
}

impl std::fmt::Display for PolicyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyKey::Network(id) => id.fmt(f),
            PolicyKey::Tier(tier) => tier.fmt(f),
            PolicyKey::Native(native) => native.fmt(f),
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

impl From<NativeRef> for PolicyKey {
    fn from(native: NativeRef) -> PolicyKey {
        PolicyKey::Native(native)
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
    Native(NativePolicyInfo),
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

impl From<NativePolicyInfo> for PolicyObject {
    fn from(native: NativePolicyInfo) -> PolicyObject {
        PolicyObject::Native(native)
    }
}

/// The `ApiResource` of a native kind served at `api_version` (`group/version`: Calico's
/// objects may be served by its API server or as the datastore's CRDs).
pub fn native_resource(kind: NativeKind, api_version: &str) -> ApiResource {
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or((kind.group(), kind.version()));
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind.kind()),
        kind.plural(),
    )
}

/// What a native revision stores of the object: every top-level field but `status` (a
/// CiliumNetworkPolicy carries `spec` or `specs`, Calico's kinds `spec`). Keys are sorted.
pub fn native_body(object: &DynamicObject) -> Value {
    let mut body = object.data.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("status");
    }
    body
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

    /// A native policy from a revision's stored body (`null`: empty), written at the kind's
    /// preferred API version (a rollback rewrites it to the version the cluster serves).
    pub fn native(kind: NativeKind, metadata: ObjectMeta, body: Option<Value>) -> PolicyObject {
        let name = metadata.name.clone().unwrap_or_default();
        let namespace = metadata.namespace.clone().unwrap_or_default();
        let api_version = kind.api_version();
        let mut object = DynamicObject::new(&name, &native_resource(kind, &api_version));
        object.types = Some(TypeMeta {
            api_version,
            kind: kind.kind().to_string(),
        });
        object.metadata = metadata;
        object.data = match body {
            Some(body @ Value::Object(_)) => body,
            _ => serde_json::json!({}),
        };
        PolicyObject::Native(NativePolicyInfo {
            id: NativeRef::new(kind, namespace, name),
            object,
        })
    }

    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyObject::Network(_) => PolicyKind::NetworkPolicy,
            PolicyObject::Tier(tier) => PolicyKind::Tier(tier.id.kind),
            PolicyObject::Native(native) => PolicyKind::Native(native.id.kind),
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
            PolicyObject::Native(native) => {
                let kind = native.id.kind;
                let namespace = match kind.namespaced() {
                    true => meta.namespace.clone().filter(|n| !n.is_empty())?,
                    false => String::new(),
                };
                PolicyKey::Native(NativeRef::new(kind, namespace, name))
            }
        })
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            PolicyObject::Network(policy) => &policy.metadata,
            PolicyObject::Tier(tier) => &tier.object.metadata,
            PolicyObject::Native(native) => &native.object.metadata,
        }
    }

    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            PolicyObject::Network(policy) => &mut policy.metadata,
            PolicyObject::Tier(tier) => &mut tier.object.metadata,
            PolicyObject::Native(native) => &mut native.object.metadata,
        }
    }

    /// The spec as JSON (`null` when the object has none); a native policy's stored body
    /// ([`native_body`]: `{"spec": ...}` or Cilium's `{"specs": [...]}`).
    pub fn spec_value(&self) -> Value {
        match self {
            PolicyObject::Network(policy) => {
                serde_json::to_value(&policy.spec).unwrap_or(Value::Null)
            }
            PolicyObject::Tier(tier) => tier.spec().cloned().unwrap_or(Value::Null),
            PolicyObject::Native(native) => native_body(&native.object),
        }
    }

    pub fn as_network(&self) -> Option<&NetworkPolicy> {
        match self {
            PolicyObject::Network(policy) => Some(policy),
            _ => None,
        }
    }

    pub fn as_tier(&self) -> Option<&TierPolicyInfo> {
        match self {
            PolicyObject::Tier(tier) => Some(tier),
            _ => None,
        }
    }

    pub fn as_native(&self) -> Option<&NativePolicyInfo> {
        match self {
            PolicyObject::Native(native) => Some(native),
            _ => None,
        }
    }

    /// The object's apiVersion as served (`None` for a NetworkPolicy or an object without one).
    pub fn api_version(&self) -> Option<&str> {
        match self {
            PolicyObject::Network(_) => None,
            PolicyObject::Tier(tier) => tier.object.types.as_ref().map(|t| t.api_version.as_str()),
            PolicyObject::Native(native) => {
                native.object.types.as_ref().map(|t| t.api_version.as_str())
            }
        }
    }

    /// The object as JSON text (what a plan key compares).
    pub fn to_json(&self) -> String {
        match self {
            PolicyObject::Network(policy) => serde_json::to_string(policy),
            PolicyObject::Tier(tier) => serde_json::to_string(&tier.object),
            PolicyObject::Native(native) => serde_json::to_string(&native.object),
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
