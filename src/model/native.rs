//! Policy kinds of the CNIs themselves, evaluated with NetworkPolicy and the tiers: Cilium's
//! CiliumNetworkPolicy (namespaced) and CiliumClusterwideNetworkPolicy (`cilium.io/v2`). The
//! model keeps the API object as served; `policy::cilium` compiles it.

use kube::core::DynamicObject;

/// A CNI's own policy kind.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum NativeKind {
    CiliumNetworkPolicy,
    CiliumClusterwideNetworkPolicy,
}

impl NativeKind {
    pub const ALL: [NativeKind; 2] = [
        Self::CiliumNetworkPolicy,
        Self::CiliumClusterwideNetworkPolicy,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            Self::CiliumNetworkPolicy => "CiliumNetworkPolicy",
            Self::CiliumClusterwideNetworkPolicy => "CiliumClusterwideNetworkPolicy",
        }
    }

    pub fn group(self) -> &'static str {
        "cilium.io"
    }

    pub fn version(self) -> &'static str {
        "v2"
    }

    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    pub fn plural(self) -> &'static str {
        match self {
            Self::CiliumNetworkPolicy => "ciliumnetworkpolicies",
            Self::CiliumClusterwideNetworkPolicy => "ciliumclusterwidenetworkpolicies",
        }
    }

    /// kubectl's short name, also the prefix of `:history` and the typed confirmation.
    /// (`cnp`, Cilium's other short name, is ClusterNetworkPolicy's here.)
    pub fn short_name(self) -> &'static str {
        match self {
            Self::CiliumNetworkPolicy => "ciliumnp",
            Self::CiliumClusterwideNetworkPolicy => "ccnp",
        }
    }

    pub fn namespaced(self) -> bool {
        matches!(self, Self::CiliumNetworkPolicy)
    }

    pub fn from_kind(kind: &str) -> Option<NativeKind> {
        Self::ALL.into_iter().find(|k| k.kind() == kind)
    }

    pub fn from_short_name(short: &str) -> Option<NativeKind> {
        Self::ALL.into_iter().find(|k| k.short_name() == short)
    }
}

/// The identity of a native policy: kind, namespace (empty for a cluster-scoped kind) and name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct NativeRef {
    pub kind: NativeKind,
    pub namespace: String,
    pub name: String,
}

impl NativeRef {
    pub fn new(kind: NativeKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses `ciliumnp/NAMESPACE/NAME` or `ccnp/NAME`.
    pub fn parse(text: &str) -> Option<NativeRef> {
        let (short, rest) = text.split_once('/')?;
        let kind = NativeKind::from_short_name(short)?;
        let (namespace, name) = match kind.namespaced() {
            true => rest.split_once('/')?,
            false => ("", rest),
        };
        let valid = |s: &str| !s.is_empty() && !s.contains('/');
        (valid(name) && (valid(namespace) || !kind.namespaced()))
            .then(|| NativeRef::new(kind, namespace, name))
    }
}

impl std::fmt::Display for NativeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind.namespaced() {
            true => write!(
                f,
                "{}/{}/{}",
                self.kind.short_name(),
                self.namespace,
                self.name
            ),
            false => write!(f, "{}/{}", self.kind.short_name(), self.name),
        }
    }
}

/// A native policy as served: the whole object, whose `spec`/`specs` the engine compiles.
#[derive(Debug, Clone, PartialEq)]
pub struct NativePolicyInfo {
    pub id: NativeRef,
    pub object: DynamicObject,
}

impl NativePolicyInfo {
    /// Builds the info from an object of a known kind; `None` without a name, or without a
    /// namespace for a namespaced kind.
    pub fn new(kind: NativeKind, object: DynamicObject) -> Option<NativePolicyInfo> {
        let name = object.metadata.name.clone().filter(|n| !n.is_empty())?;
        let namespace = match kind.namespaced() {
            true => object
                .metadata
                .namespace
                .clone()
                .filter(|n| !n.is_empty())?,
            false => String::new(),
        };
        Some(NativePolicyInfo {
            id: NativeRef::new(kind, namespace, name),
            object,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_print_and_parse_with_kubectl_short_names() {
        let r = NativeRef::new(NativeKind::CiliumNetworkPolicy, "acme-web", "allow-dns");
        assert_eq!(r.to_string(), "ciliumnp/acme-web/allow-dns");
        assert_eq!(NativeRef::parse("ciliumnp/acme-web/allow-dns"), Some(r));
        let c = NativeRef::new(NativeKind::CiliumClusterwideNetworkPolicy, "", "world");
        assert_eq!(c.to_string(), "ccnp/world");
        assert_eq!(NativeRef::parse("ccnp/world"), Some(c));
        for bad in ["ciliumnp/x", "ccnp/a/b", "ccnp/", "cnp/x", "ciliumnp//x"] {
            assert_eq!(NativeRef::parse(bad), None, "{bad}");
        }
    }
}
