//! What an analysis of a live cluster could not see, said plainly: tier kinds and Cilium's
//! kinds the cluster serves but the user may not read, and policy kinds of other projects
//! (Calico, Antrea, Multus) that Palisade does not evaluate, with how many objects each holds.

use super::{NativeFamily, NativeKind, TierKind};

/// How many objects a not-evaluated kind holds, from a metadata-only list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Count {
    Objects(u64),
    /// The list failed (a 403, say): the kind is served, its objects are unknown.
    Unknown(String),
}

/// A served policy kind Palisade does not evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unevaluated {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub count: Count,
}

impl Unevaluated {
    /// The kind's name, qualified by its group where the bare kind would read as one Palisade
    /// evaluates (Calico's and Antrea's `NetworkPolicy`, Antrea's `ClusterNetworkPolicy`).
    pub fn label(&self) -> String {
        if self.kind == "NetworkPolicy" || TierKind::from_kind(&self.kind).is_some() {
            format!("{}.{}", self.kind, self.group)
        } else {
            self.kind.clone()
        }
    }

    /// True unless the kind is known to hold no object.
    pub fn matters(&self) -> bool {
        self.count != Count::Objects(0)
    }
}

/// The plain sentence for the tier kinds the user may not list or watch (one sentence for
/// all, so it fits a status line); `None` when there is none.
pub fn forbidden_line(kinds: &[TierKind]) -> Option<String> {
    forbidden_sentence(&kinds.iter().map(|k| k.kind()).collect::<Vec<_>>())
}

/// The same sentence for the CNIs' kinds, one per family (Cilium's, Calico's), so each
/// stays short.
pub fn forbidden_native_lines(kinds: &[NativeKind]) -> Vec<String> {
    [NativeFamily::Cilium, NativeFamily::Calico]
        .into_iter()
        .filter_map(|family| {
            let labels: Vec<String> = kinds
                .iter()
                .filter(|k| k.family() == family)
                .map(|k| k.label())
                .collect();
            forbidden_sentence(&labels.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect()
}

fn forbidden_sentence(names: &[&str]) -> Option<String> {
    let (subject, verb) = match names {
        [] => return None,
        [one] => (one.to_string(), "is"),
        [init @ .., last] => (format!("{} and {last}", init.join(", ")), "are"),
    };
    Some(format!(
        "{subject} {verb} served but forbidden to you: the matrix cannot be trusted"
    ))
}

/// `not evaluated: 12 CiliumNetworkPolicy, 3 GlobalNetworkPolicy: the dataplane may deny what
/// this matrix shows open`, or `None` when no such kind holds an object.
pub fn not_evaluated_line(kinds: &[Unevaluated]) -> Option<String> {
    let parts: Vec<String> = kinds
        .iter()
        .filter(|k| k.matters())
        .map(|k| match &k.count {
            Count::Objects(n) => format!("{n} {}", k.label()),
            Count::Unknown(why) => format!("{} (count unknown: {why})", k.label()),
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "not evaluated: {}: the dataplane may deny what this matrix shows open",
            parts.join(", ")
        )
    })
}

/// Which CNI's order of evaluation the analysis applied, and why (`Calico`,
/// `calico-node agents`); `source` is `flag`, `context`, `agents`, `kinds` or `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniNote {
    pub name: String,
    pub value: String,
    pub source: String,
    pub reason: String,
}

impl CniNote {
    /// `CNI: Calico (calico-node agents)`.
    pub fn line(&self) -> String {
        format!("CNI: {} ({})", self.name, self.reason)
    }
}

/// What an analysis of a live cluster could not see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// The CNI the analysis took the cluster to run (said first, not a warning).
    pub cni: Option<CniNote>,
    /// Tier kinds served but forbidden to the user: analysed without them.
    pub forbidden: Vec<TierKind>,
    /// Cilium's kinds served but forbidden to the user: analysed without them.
    pub forbidden_natives: Vec<NativeKind>,
    /// Served policy kinds of other projects, with their counts.
    pub unevaluated: Vec<Unevaluated>,
    /// Some namespaces only: what the user can see, said first.
    pub scope: Option<super::NamespaceScope>,
}

impl Coverage {
    /// False when a served tier or Cilium kind could not be read: the matrix may be wrong
    /// either way.
    pub fn trustworthy(&self) -> bool {
        self.forbidden.is_empty() && self.forbidden_natives.is_empty()
    }

    /// Every warning, forbidden kinds first; empty when there is nothing to say.
    pub fn lines(&self) -> Vec<String> {
        (self
            .scope
            .as_ref()
            .map(super::NamespaceScope::line)
            .into_iter())
        .chain(forbidden_line(&self.forbidden))
        .chain(forbidden_native_lines(&self.forbidden_natives))
        .chain(not_evaluated_line(&self.unevaluated))
        .collect()
    }

    /// The JSON form for `analyze` and `check`.
    pub fn to_json(&self) -> serde_json::Value {
        let unevaluated: Vec<serde_json::Value> = self
            .unevaluated
            .iter()
            .map(|k| {
                let mut entry = serde_json::json!({
                    "group": k.group, "version": k.version, "kind": k.kind,
                });
                match &k.count {
                    Count::Objects(n) => entry["count"] = (*n).into(),
                    Count::Unknown(why) => {
                        entry["count"] = serde_json::Value::Null;
                        entry["error"] = why.clone().into();
                    }
                }
                entry
            })
            .collect();
        let cni = self
            .cni
            .as_ref()
            .map(|c| serde_json::json!({"name": c.value, "source": c.source, "reason": c.reason}));
        serde_json::json!({
            "cni": cni,
            "trustworthy": self.trustworthy(),
            "forbidden": self.forbidden.iter().map(|k| k.kind())
                .chain(self.forbidden_natives.iter().map(|k| k.kind()))
                .collect::<Vec<_>>(),
            "not_evaluated": unevaluated,
            "warnings": self.lines(),
            "scope": self.scope.as_ref().map(super::NamespaceScope::to_json),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(group: &str, kind: &str, count: Count) -> Unevaluated {
        Unevaluated {
            group: group.into(),
            version: "v2".into(),
            kind: kind.into(),
            count,
        }
    }

    #[test]
    fn counts_read_as_one_sentence_and_empty_kinds_are_left_out() {
        let kinds = [
            kind("k8s.cni.cncf.io", "MultiNetworkPolicy", Count::Objects(12)),
            kind(
                "projectcalico.org",
                "StagedNetworkPolicy",
                Count::Objects(0),
            ),
            kind(
                "projectcalico.org",
                "GlobalNetworkPolicy",
                Count::Objects(3),
            ),
        ];
        assert_eq!(
            not_evaluated_line(&kinds).as_deref(),
            Some(
                "not evaluated: 12 MultiNetworkPolicy, 3 GlobalNetworkPolicy: the dataplane may deny what this matrix shows open"
            )
        );
        assert_eq!(not_evaluated_line(&kinds[1..2]), None);
        assert_eq!(not_evaluated_line(&[]), None);
    }

    #[test]
    fn kinds_that_read_like_evaluated_ones_name_their_group_and_unknown_counts_say_why() {
        let kinds = [
            kind("projectcalico.org", "NetworkPolicy", Count::Objects(2)),
            kind(
                "crd.antrea.io",
                "ClusterNetworkPolicy",
                Count::Unknown("403 Forbidden".into()),
            ),
        ];
        assert_eq!(
            not_evaluated_line(&kinds).as_deref(),
            Some(
                "not evaluated: 2 NetworkPolicy.projectcalico.org, ClusterNetworkPolicy.crd.antrea.io (count unknown: 403 Forbidden): the dataplane may deny what this matrix shows open"
            )
        );
    }

    #[test]
    fn forbidden_kinds_come_first() {
        let coverage = Coverage {
            cni: None,
            forbidden: vec![TierKind::ClusterNetworkPolicy],
            forbidden_natives: vec![NativeKind::CiliumNetworkPolicy],
            unevaluated: vec![kind(
                "k8s.cni.cncf.io",
                "MultiNetworkPolicy",
                Count::Objects(1),
            )],
            scope: None,
        };
        assert!(!coverage.trustworthy());
        let lines = coverage.lines();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "ClusterNetworkPolicy is served but forbidden to you: the matrix cannot be trusted"
        );
        assert_eq!(
            lines[1],
            "CiliumNetworkPolicy is served but forbidden to you: the matrix cannot be trusted"
        );
        assert!(lines[2].starts_with("not evaluated: 1 MultiNetworkPolicy"));
        let json = coverage.to_json();
        assert_eq!(json["trustworthy"], false);
        assert_eq!(json["forbidden"][0], "ClusterNetworkPolicy");
        assert_eq!(json["forbidden"][1], "CiliumNetworkPolicy");
        let only_cilium = Coverage {
            forbidden_natives: NativeKind::CILIUM.to_vec(),
            ..Coverage::default()
        };
        assert!(!only_cilium.trustworthy());
        assert_eq!(
            only_cilium.lines(),
            [
                "CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy are served but forbidden to you: the matrix cannot be trusted"
            ]
        );
        assert_eq!(json["not_evaluated"][0]["count"], 1);
        assert!(Coverage::default().lines().is_empty() && Coverage::default().trustworthy());
    }

    #[test]
    fn forbidden_native_kinds_make_one_sentence_per_cni() {
        let coverage = Coverage {
            forbidden_natives: vec![
                NativeKind::CiliumNetworkPolicy,
                NativeKind::CalicoNetworkPolicy,
                NativeKind::CalicoGlobalNetworkPolicy,
            ],
            ..Coverage::default()
        };
        assert_eq!(
            coverage.lines(),
            [
                "CiliumNetworkPolicy is served but forbidden to you: the matrix cannot be trusted",
                "NetworkPolicy.projectcalico.org and GlobalNetworkPolicy are served but forbidden to you: the matrix cannot be trusted",
            ]
        );
    }

    #[test]
    fn several_forbidden_kinds_make_one_sentence() {
        assert_eq!(
            forbidden_line(&TierKind::ALL).as_deref(),
            Some(
                "ClusterNetworkPolicy, AdminNetworkPolicy and BaselineAdminNetworkPolicy are served but forbidden to you: the matrix cannot be trusted"
            )
        );
        assert_eq!(forbidden_line(&[]), None);
    }
}
