//! Which CNI's order of evaluation applies, and why: `--cni` (or a context's `cni`), else the
//! agents running (`k8s-app=cilium` or `k8s-app=calico-node` pods), else the family of the
//! native policy kinds present, else none (`Generic`). Pure: it reads a snapshot.

use crate::model::{ClusterSnapshot, CniNote, NativeFamily};
use crate::policy::{Cni, CniSetting};

/// Where the chosen `--cni` came from, when it was chosen rather than detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CniChoice {
    #[default]
    Auto,
    /// `--cni` on the command line.
    Flag(Cni),
    /// `cni = "..."` in the context's contexts.toml entry.
    Context(Cni),
}

impl CniChoice {
    /// The command line's setting over the context's; an explicit `--cni auto` wins too.
    pub fn resolve(command_line: Option<CniSetting>, context: Option<CniSetting>) -> CniChoice {
        match (command_line, context) {
            (Some(CniSetting::Fixed(cni)), _) => CniChoice::Flag(cni),
            (Some(CniSetting::Auto), _) => CniChoice::Auto,
            (None, Some(CniSetting::Fixed(cni))) => CniChoice::Context(cni),
            (None, _) => CniChoice::Auto,
        }
    }
}

/// Why the CNI was taken to be what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CniSource {
    Flag,
    Context,
    /// Its agents' pods run (`cilium`, `calico-node`: the `k8s-app` label's value).
    Agents(&'static str),
    /// Its own policy kinds hold objects (no agent seen).
    Kinds,
    /// Neither agents nor kinds of a known CNI.
    Nothing,
}

/// The CNI whose order applies, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedCni {
    pub cni: Cni,
    pub source: CniSource,
}

impl ResolvedCni {
    /// `calico-node agents`, `--cni`, ...
    pub fn reason(&self) -> String {
        match self.source {
            CniSource::Flag => "--cni".into(),
            CniSource::Context => "cni in contexts.toml".into(),
            CniSource::Agents(app) => format!("{app} agents"),
            CniSource::Kinds => format!("{} policy kinds present", self.cni.name()),
            CniSource::Nothing => "no CNI agents or policy kinds found".into(),
        }
    }

    /// `CNI: Calico (calico-node agents)`.
    pub fn line(&self) -> String {
        format!("CNI: {} ({})", self.cni.name(), self.reason())
    }

    pub fn to_json(&self) -> serde_json::Value {
        let note = self.note();
        serde_json::json!({"name": note.value, "source": note.source, "reason": note.reason})
    }

    /// The same, as the coverage of `analyze` and `check` carries it.
    pub fn note(&self) -> CniNote {
        let source = match self.source {
            CniSource::Flag => "flag",
            CniSource::Context => "context",
            CniSource::Agents(_) => "agents",
            CniSource::Kinds => "kinds",
            CniSource::Nothing => "none",
        };
        CniNote {
            name: self.cni.name().into(),
            value: self.cni.value().into(),
            source: source.into(),
            reason: self.reason(),
        }
    }
}

/// The agents' `k8s-app` label values, per CNI.
const AGENTS: [(&str, Cni); 2] = [("cilium", Cni::Cilium), ("calico-node", Cni::Calico)];

/// The CNI a live cluster runs, as `choice` says or as detected.
pub fn resolve(choice: CniChoice, snapshot: &ClusterSnapshot) -> ResolvedCni {
    match choice {
        CniChoice::Flag(cni) => ResolvedCni {
            cni,
            source: CniSource::Flag,
        },
        CniChoice::Context(cni) => ResolvedCni {
            cni,
            source: CniSource::Context,
        },
        CniChoice::Auto => detect(snapshot),
    }
}

/// Agents first (a cluster may hold leftover objects of a CNI it no longer runs), then the
/// kinds present.
pub fn detect(snapshot: &ClusterSnapshot) -> ResolvedCni {
    let running = |app: &str| {
        snapshot
            .pods
            .values()
            .any(|p| p.labels.get("k8s-app").map(String::as_str) == Some(app))
    };
    if let Some((app, cni)) = AGENTS.into_iter().find(|(app, _)| running(app)) {
        return ResolvedCni {
            cni,
            source: CniSource::Agents(app),
        };
    }
    match families_present(snapshot).first() {
        Some(family) => ResolvedCni {
            cni: cni_of(*family),
            source: CniSource::Kinds,
        },
        None => ResolvedCni {
            cni: Cni::Generic,
            source: CniSource::Nothing,
        },
    }
}

/// Manifests have no agents: the family whose kinds the files hold; both: Cilium, with a
/// warning to say which with `--cni`.
pub fn for_manifests(
    choice: CniChoice,
    snapshot: &ClusterSnapshot,
) -> (ResolvedCni, Option<String>) {
    if choice != CniChoice::Auto {
        return (resolve(choice, snapshot), None);
    }
    let families = families_present(snapshot);
    let warning = (families.len() > 1).then(|| {
        "the manifests hold both Cilium's and Calico's policy kinds: evaluated as Cilium; pass --cni calico if Calico enforces them".to_string()
    });
    (detect(snapshot), warning)
}

fn families_present(snapshot: &ClusterSnapshot) -> Vec<NativeFamily> {
    let mut families: Vec<NativeFamily> =
        snapshot.natives.keys().map(|id| id.kind.family()).collect();
    families.sort();
    families.dedup();
    families
}

fn cni_of(family: NativeFamily) -> Cni {
    match family {
        NativeFamily::Cilium => Cni::Cilium,
        NativeFamily::Calico => Cni::Calico,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NativeKind, NativePolicyInfo, NativeRef, ObjectRef, PodInfo};

    fn pod(namespace: &str, name: &str, app: &str) -> PodInfo {
        PodInfo {
            id: ObjectRef::new(namespace, name),
            labels: std::sync::Arc::new([("k8s-app".to_string(), app.to_string())].into()),
            ips: vec![],
            ports: vec![],
            phase: "Running".into(),
            node: None,
        }
    }

    fn native(kind: NativeKind, namespace: &str, name: &str) -> NativePolicyInfo {
        NativePolicyInfo {
            id: NativeRef::new(kind, namespace, name),
            object: serde_json::from_value(serde_json::json!({
                "apiVersion": kind.api_version(), "kind": kind.kind(),
                "metadata": {"name": name}, "spec": {}
            }))
            .unwrap(),
        }
    }

    fn with(pods: &[PodInfo], natives: &[NativePolicyInfo]) -> ClusterSnapshot {
        let mut snapshot = ClusterSnapshot::default();
        for p in pods {
            snapshot.pods.insert(p.id.clone(), p.clone());
        }
        for n in natives {
            snapshot.natives.insert(n.id.clone(), n.clone());
        }
        snapshot
    }

    #[test]
    fn agents_decide_before_the_kinds_present() {
        let gnp = native(NativeKind::CalicoGlobalNetworkPolicy, "", "deny");
        let cnp = native(NativeKind::CiliumNetworkPolicy, "a", "allow");
        let calico_agents = with(
            &[pod("calico-system", "calico-node-x", "calico-node")],
            std::slice::from_ref(&cnp),
        );
        let got = detect(&calico_agents);
        assert_eq!(got.cni, Cni::Calico);
        assert_eq!(got.line(), "CNI: Calico (calico-node agents)");
        let cilium_agents = with(
            &[pod("kube-system", "cilium-x", "cilium")],
            std::slice::from_ref(&gnp),
        );
        assert_eq!(detect(&cilium_agents).line(), "CNI: Cilium (cilium agents)");
        // No agent: the kinds present.
        let kinds = detect(&with(&[], std::slice::from_ref(&gnp)));
        assert_eq!(kinds.line(), "CNI: Calico (Calico policy kinds present)");
        assert_eq!(kinds.to_json()["source"], "kinds");
        let none = detect(&with(&[pod("a", "web", "web")], &[]));
        assert_eq!(
            none.line(),
            "CNI: Generic (no CNI agents or policy kinds found)"
        );
        assert_eq!(none.to_json()["name"], "generic");
    }

    #[test]
    fn a_chosen_cni_wins_and_says_where_it_was_chosen() {
        let cilium = with(&[pod("kube-system", "cilium-x", "cilium")], &[]);
        let flag = resolve(CniChoice::Flag(Cni::Calico), &cilium);
        assert_eq!(flag.line(), "CNI: Calico (--cni)");
        let context = resolve(CniChoice::Context(Cni::Generic), &cilium);
        assert_eq!(context.line(), "CNI: Generic (cni in contexts.toml)");
        let calico = Some(CniSetting::Fixed(Cni::Calico));
        let cilium_setting = Some(CniSetting::Fixed(Cni::Cilium));
        assert_eq!(
            CniChoice::resolve(calico, cilium_setting),
            CniChoice::Flag(Cni::Calico)
        );
        assert_eq!(
            CniChoice::resolve(None, cilium_setting),
            CniChoice::Context(Cni::Cilium)
        );
        assert_eq!(
            CniChoice::resolve(Some(CniSetting::Auto), cilium_setting),
            CniChoice::Auto
        );
        assert_eq!(CniChoice::resolve(None, None), CniChoice::Auto);
    }

    #[test]
    fn manifests_follow_their_kinds_and_both_families_warn() {
        let gnp = native(NativeKind::CalicoGlobalNetworkPolicy, "", "deny");
        let cnp = native(NativeKind::CiliumNetworkPolicy, "a", "allow");
        let (calico, warning) =
            for_manifests(CniChoice::Auto, &with(&[], std::slice::from_ref(&gnp)));
        assert_eq!((calico.cni, warning), (Cni::Calico, None));
        let (both, warning) = for_manifests(CniChoice::Auto, &with(&[], &[gnp.clone(), cnp]));
        assert_eq!(both.cni, Cni::Cilium);
        assert!(warning.unwrap().contains("--cni calico"));
        let (flag, warning) = for_manifests(CniChoice::Flag(Cni::Calico), &with(&[], &[]));
        assert_eq!((flag.cni, warning), (Cni::Calico, None));
    }
}
