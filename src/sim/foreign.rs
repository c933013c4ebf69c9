//! Policy kinds of other projects (Calico, Antrea, Multus) that the demo server can serve
//! as CRDs with a given number of objects, so clients can be tested on detecting policies they do
//! not evaluate (`--foreign-policies`). Discovery, list (also metadata-only), get and watch; the
//! objects carry an empty spec.

use std::str::FromStr;

use serde_json::{Value, json};

use super::resource::Resource;

/// One served kind of another project. (Cilium's policy kinds are served with real objects:
/// `Resource::Native`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Foreign {
    CalicoNetworkPolicy,
    CalicoGlobalNetworkPolicy,
    CalicoStagedNetworkPolicy,
    CalicoStagedGlobalNetworkPolicy,
    CalicoStagedKubernetesNetworkPolicy,
    AntreaNetworkPolicy,
    AntreaClusterNetworkPolicy,
    MultiNetworkPolicy,
}

/// (group, version, apiVersion), kind, plural, singular, namespaced, short names.
type Row = (
    (&'static str, &'static str, &'static str),
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
);

/// What discovery says about a kind.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    pub group: &'static str,
    pub version: &'static str,
    pub api_version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    /// Antrea's old `anp` is left out: they would shadow the tier kinds'
    /// short names in kubectl when both are served.
    pub short_names: &'static [&'static str],
}

impl Foreign {
    pub const ALL: [Foreign; 8] = [
        Foreign::CalicoNetworkPolicy,
        Foreign::CalicoGlobalNetworkPolicy,
        Foreign::CalicoStagedNetworkPolicy,
        Foreign::CalicoStagedGlobalNetworkPolicy,
        Foreign::CalicoStagedKubernetesNetworkPolicy,
        Foreign::AntreaNetworkPolicy,
        Foreign::AntreaClusterNetworkPolicy,
        Foreign::MultiNetworkPolicy,
    ];

    pub fn info(self) -> Info {
        const CALICO: (&str, &str, &str) = ("projectcalico.org", "v3", "projectcalico.org/v3");
        const ANTREA: (&str, &str, &str) = ("crd.antrea.io", "v1beta1", "crd.antrea.io/v1beta1");
        const MULTUS: (&str, &str, &str) =
            ("k8s.cni.cncf.io", "v1beta1", "k8s.cni.cncf.io/v1beta1");
        let (gv, kind, plural, singular, namespaced, short_names): Row = match self {
            Foreign::CalicoNetworkPolicy => (
                CALICO,
                "NetworkPolicy",
                "networkpolicies",
                "networkpolicy",
                true,
                &[],
            ),
            Foreign::CalicoGlobalNetworkPolicy => (
                CALICO,
                "GlobalNetworkPolicy",
                "globalnetworkpolicies",
                "globalnetworkpolicy",
                false,
                &["gnp"],
            ),
            Foreign::CalicoStagedNetworkPolicy => (
                CALICO,
                "StagedNetworkPolicy",
                "stagednetworkpolicies",
                "stagednetworkpolicy",
                true,
                &[],
            ),
            Foreign::CalicoStagedGlobalNetworkPolicy => (
                CALICO,
                "StagedGlobalNetworkPolicy",
                "stagedglobalnetworkpolicies",
                "stagedglobalnetworkpolicy",
                false,
                &[],
            ),
            Foreign::CalicoStagedKubernetesNetworkPolicy => (
                CALICO,
                "StagedKubernetesNetworkPolicy",
                "stagedkubernetesnetworkpolicies",
                "stagedkubernetesnetworkpolicy",
                true,
                &[],
            ),
            Foreign::AntreaNetworkPolicy => (
                ANTREA,
                "NetworkPolicy",
                "networkpolicies",
                "networkpolicy",
                true,
                &["annp"],
            ),
            Foreign::AntreaClusterNetworkPolicy => (
                ANTREA,
                "ClusterNetworkPolicy",
                "clusternetworkpolicies",
                "clusternetworkpolicy",
                false,
                &["acnp"],
            ),
            Foreign::MultiNetworkPolicy => (
                MULTUS,
                "MultiNetworkPolicy",
                "multi-networkpolicies",
                "multi-networkpolicy",
                true,
                &["multi-policy"],
            ),
        };
        Info {
            group: gv.0,
            version: gv.1,
            api_version: gv.2,
            kind,
            plural,
            singular,
            namespaced,
            short_names,
        }
    }
}

/// `--foreign-policies`: how many objects of which kinds, e.g.
/// `MultiNetworkPolicy=12,GlobalNetworkPolicy=3,NetworkPolicy.crd.antrea.io=2`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForeignPolicies {
    pub counts: Vec<(Foreign, usize)>,
}

impl ForeignPolicies {
    pub fn count(&self, kind: Foreign) -> Option<usize> {
        self.counts
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, n)| *n)
    }
}

/// The most objects of one kind (the store holds them all in memory).
pub const MAX_FOREIGN_OBJECTS: usize = 100_000;

impl FromStr for ForeignPolicies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut counts: Vec<(Foreign, usize)> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, count) = part.split_once('=').ok_or_else(|| {
                format!("{part:?}: expected KIND=COUNT, e.g. GlobalNetworkPolicy=12")
            })?;
            let count: usize = count
                .trim()
                .parse()
                .ok()
                .filter(|n| *n <= MAX_FOREIGN_OBJECTS)
                .ok_or_else(|| {
                    format!("{part:?}: COUNT must be a number from 0 to {MAX_FOREIGN_OBJECTS}")
                })?;
            let kind = lookup(name.trim())?;
            if counts.iter().any(|(k, _)| *k == kind) {
                return Err(format!("{part:?}: {} listed twice", name.trim()));
            }
            counts.push((kind, count));
        }
        if counts.is_empty() {
            return Err("expected KIND=COUNT[,KIND=COUNT...], e.g. GlobalNetworkPolicy=12".into());
        }
        Ok(ForeignPolicies { counts })
    }
}

/// The objects to seed: `{singular}-{i}` for each kind, namespaced ones spread over
/// `namespaces` in turn.
pub fn objects(
    policies: &ForeignPolicies,
    namespaces: &[String],
) -> Vec<(Resource, String, Value)> {
    let mut out = Vec::new();
    for (kind, count) in &policies.counts {
        let info = kind.info();
        for i in 0..*count {
            let namespace = match (info.namespaced, namespaces.is_empty()) {
                (true, false) => namespaces[i % namespaces.len()].clone(),
                (true, true) => "default".to_string(),
                (false, _) => String::new(),
            };
            let mut metadata = json!({"name": format!("{}-{i}", info.singular)});
            if info.namespaced {
                metadata["namespace"] = json!(namespace);
            }
            let object = json!({
                "apiVersion": info.api_version,
                "kind": info.kind,
                "metadata": metadata,
                "spec": {},
            });
            out.push((Resource::Foreign(*kind), namespace, object));
        }
    }
    out
}

/// `Kind` when only one served group has it, else `Kind.group`.
fn lookup(name: &str) -> Result<Foreign, String> {
    let (kind, group) = match name.split_once('.') {
        Some((kind, group)) => (kind, Some(group)),
        None => (name, None),
    };
    let matching: Vec<Foreign> = Foreign::ALL
        .into_iter()
        .filter(|f| f.info().kind == kind && group.is_none_or(|g| g == f.info().group))
        .collect();
    let known = || {
        Foreign::ALL
            .iter()
            .map(|f| format!("{}.{}", f.info().kind, f.info().group))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matching.as_slice() {
        [one] => Ok(*one),
        [] if kind.starts_with("Cilium") => Err(format!(
            "{name:?}: Cilium's policy kinds are served with the scenario's own objects (the `cilium` section of the scenario), not counted"
        )),
        [] => Err(format!("unknown policy kind {name:?}; known: {}", known())),
        _ => Err(format!(
            "{name:?} is served by several groups; say which, e.g. {kind}.crd.antrea.io or {kind}.projectcalico.org"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_by_kind_or_kind_and_group() {
        let parsed: ForeignPolicies =
            "MultiNetworkPolicy=12, GlobalNetworkPolicy=3,NetworkPolicy.crd.antrea.io=0"
                .parse()
                .unwrap();
        assert_eq!(
            parsed.counts,
            vec![
                (Foreign::MultiNetworkPolicy, 12),
                (Foreign::CalicoGlobalNetworkPolicy, 3),
                (Foreign::AntreaNetworkPolicy, 0),
            ]
        );
        for bad in [
            "",
            "GlobalNetworkPolicy",
            "GlobalNetworkPolicy=x",
            "NetworkPolicy=2",
            "Nope=1",
            "CiliumNetworkPolicy=1",
            "GlobalNetworkPolicy=1,GlobalNetworkPolicy=2",
            "GlobalNetworkPolicy=100001",
        ] {
            assert!(bad.parse::<ForeignPolicies>().is_err(), "{bad:?} parsed");
        }
        let ambiguous = "NetworkPolicy=2".parse::<ForeignPolicies>().unwrap_err();
        assert!(ambiguous.contains("crd.antrea.io"), "{ambiguous}");
    }

    #[test]
    fn every_kind_has_a_distinct_group_and_plural() {
        let mut seen = std::collections::BTreeSet::new();
        for f in Foreign::ALL {
            let i = f.info();
            assert_eq!(i.api_version, format!("{}/{}", i.group, i.version));
            assert!(seen.insert((i.group, i.plural)), "{f:?}");
        }
    }
}
