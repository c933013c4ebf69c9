//! The engine under `Cni::Calico`: Calico's policies, Tiers, Kubernetes NetworkPolicies (order
//! 1000 in the default tier) and the cluster tiers (Calico's `kube-admin` and `kube-baseline`
//! tiers) in one ordered walk per class and direction. A child of `engine`.

use std::collections::BTreeMap;

use super::*;
use crate::model::NativeFamily;
use crate::policy::calico::eval::{
    self as calico_eval, CalicoTrace, Plan, StepOrigin, entity_matches, rule_ports,
};
use crate::policy::calico::{
    CalicoTier, CompiledCalico, compile_calico, compile_calico_tier, staged_kubernetes_policy,
};

/// Compiled native objects of both families (each is evaluated only under its own CNI).
#[derive(Debug, Default)]
pub(super) struct CompiledNatives {
    pub cilium: BTreeMap<NativeRef, CompiledNative>,
    pub calico: BTreeMap<NativeRef, CompiledCalico>,
    pub calico_tiers: BTreeMap<String, CalicoTier>,
    pub invalid: BTreeMap<NativeRef, Vec<ValidationError>>,
}

pub(super) fn compile_natives(snapshot: &ClusterSnapshot) -> CompiledNatives {
    let mut out = CompiledNatives::default();
    for (id, p) in &snapshot.natives {
        if let Err(e) = out.insert(p) {
            out.invalid.insert(id.clone(), e);
        }
    }
    out
}

impl CompiledNatives {
    /// Compiles one object into its map; staged kinds are only validated.
    fn insert(&mut self, p: &NativePolicyInfo) -> Result<(), Vec<ValidationError>> {
        let id = p.id.clone();
        match id.kind {
            NativeKind::CiliumNetworkPolicy | NativeKind::CiliumClusterwideNetworkPolicy => {
                self.cilium.insert(id, compile_native(p)?);
            }
            NativeKind::CalicoNetworkPolicy | NativeKind::CalicoGlobalNetworkPolicy => {
                self.calico.insert(id, compile_calico(p)?);
            }
            NativeKind::CalicoTier => {
                let tier = compile_calico_tier(p)?;
                self.calico_tiers.insert(tier.name.clone(), tier);
            }
            NativeKind::CalicoStagedNetworkPolicy | NativeKind::CalicoStagedGlobalNetworkPolicy => {
                compile_calico(p)?;
            }
            NativeKind::CalicoStagedKubernetesNetworkPolicy => {
                staged_kubernetes_policy(p)?;
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Applies one Calico object change (`None` = deleted). A policy re-evaluates the classes
    /// its old or new version selects; a Tier reorders every walk, so it rebuilds all rows;
    /// a staged kind changes nothing enforced.
    pub(super) fn update_calico(
        &mut self,
        id: &NativeRef,
        policy: Option<&NativePolicyInfo>,
    ) -> (UpdateStats, Vec<ValidationError>) {
        self.native_invalid.remove(id);
        match policy {
            Some(p) => self.snapshot.natives.insert(id.clone(), p.clone()),
            None => self.snapshot.natives.remove(id),
        };
        let old = Arc::make_mut(&mut self.calico).remove(id);
        if id.kind == NativeKind::CalicoTier {
            self.calico_tiers.remove(&id.name);
        }
        let mut fresh = CompiledNatives::default();
        let errors = match policy.map(|p| fresh.insert(p)) {
            Some(Err(e)) => {
                self.native_invalid.insert(id.clone(), e.clone());
                e
            }
            _ => Vec::new(),
        };
        self.calico_tiers.extend(fresh.calico_tiers);
        match id.kind {
            NativeKind::CalicoTier => {
                self.rebuild();
                let stats = UpdateStats {
                    recomputed_classes: self.classes.classes.len(),
                    full_rebuild: true,
                    renumbered: false,
                };
                (stats, errors)
            }
            NativeKind::CalicoNetworkPolicy | NativeKind::CalicoGlobalNetworkPolicy => {
                let new = fresh.calico.remove(id);
                let affected: Vec<usize> = (0..self.classes.classes.len())
                    .filter(|&c| {
                        let ep: &Endpoint = &self.classes.classes[c].endpoint;
                        old.iter()
                            .chain(new.iter())
                            .any(|p| calico_eval::selects(p, ep))
                    })
                    .collect();
                if let Some(new) = new {
                    Arc::make_mut(&mut self.calico).insert(id.clone(), new);
                }
                (self.refresh_after_change(affected), errors)
            }
            _ => (UpdateStats::default(), errors),
        }
    }

    /// Calico's `nets`/`notNets`: they match pod IPs, so they split classes under Calico.
    pub(super) fn calico_nets(&self) -> Vec<&IpSet> {
        self.calico
            .values()
            .flat_map(|p| p.ingress.iter().chain(&p.egress))
            .flat_map(|r| [&r.source, &r.destination])
            .flat_map(|e| e.nets.iter().chain(&e.not_nets))
            .collect()
    }

    /// Recomputes which policies of any kind select each of `classes` and their rows, in
    /// Calico's order.
    pub(super) fn refresh_classes_calico(&mut self, classes: impl IntoIterator<Item = usize>) {
        let mut builder = RowBuilder::new(
            &self.classes,
            self.settings.ip_block_pods,
            self.settings.tier_networks,
        );
        let mut by_namespace: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for c in classes {
            let ns = self.classes.classes[c].endpoint.namespace.as_str();
            by_namespace.entry(ns).or_default().push(c);
        }
        for (ns, members) in by_namespace {
            let ns_labels = &self.classes.classes[members[0]].endpoint.ns_labels;
            let tiers_here: Vec<&CompiledTier> = self
                .tiers
                .values()
                .filter(|t| match &t.subject {
                    crate::policy::tier::TierSubject::Namespaces(sel) => sel.matches(ns_labels),
                    crate::policy::tier::TierSubject::Pods { namespaces, .. } => {
                        namespaces.matches(ns_labels)
                    }
                })
                .collect();
            let in_namespace: Vec<&CompiledPolicy> = self
                .policies
                .range(ObjectRef::new(ns, "")..)
                .take_while(|(id, _)| id.namespace == ns)
                .map(|(_, p)| p)
                .collect();
            let cnp = NativeKind::CalicoNetworkPolicy;
            let gnp = NativeKind::CalicoGlobalNetworkPolicy;
            let calico_here: Vec<&CompiledCalico> = self
                .calico
                .range(NativeRef::new(cnp, ns, "")..)
                .take_while(|(id, _)| id.kind == cnp && id.namespace == ns)
                .chain(
                    self.calico
                        .range(NativeRef::new(gnp, "", "")..)
                        .take_while(|(id, _)| id.kind == gnp),
                )
                .map(|(_, p)| p)
                .collect();
            for c in members {
                let ep: &Endpoint = &self.classes.classes[c].endpoint;
                let mut selecting: [Vec<&CompiledPolicy>; 2] = Default::default();
                let mut tiers: [Vec<&CompiledTier>; 2] = Default::default();
                let mut calico: [Vec<&CompiledCalico>; 2] = Default::default();
                for d in DIRS {
                    selecting[di(d)] = in_namespace
                        .iter()
                        .copied()
                        .filter(|p| p.rules(d).is_some() && selects(p, ep))
                        .collect();
                    tiers[di(d)] = tiers_here
                        .iter()
                        .copied()
                        .filter(|t| applies(t, d) && tier_selects(t, ep))
                        .collect();
                    calico[di(d)] = calico_here
                        .iter()
                        .copied()
                        .filter(|p| p.applies(d) && calico_eval::selects(p, ep))
                        .collect();
                }
                self.rows[c] = DIRS.map(|d| {
                    let sel = &selecting[di(d)];
                    let plan = Plan::build(
                        d,
                        ep,
                        &calico[di(d)],
                        &self.calico_tiers,
                        !sel.is_empty(),
                        &tiers[di(d)],
                    );
                    (!plan.tiers.is_empty()).then(|| builder.calico_row(d, ep, &plan, sel))
                });
                Arc::make_mut(&mut self.calico_unknown)[c] = calico.each_ref().map(|list| {
                    list.iter()
                        .flat_map(|p| p.ingress.iter().chain(&p.egress))
                        .any(|r| r.unknown.is_some())
                });
                Arc::make_mut(&mut self.calico_selecting)[c] =
                    calico.map(|list| list.iter().map(|p| p.id.clone()).collect());
                Arc::make_mut(&mut self.native_selecting)[c] = Default::default();
                Arc::make_mut(&mut self.native_pod_unknown)[c] = Default::default();
                Arc::make_mut(&mut self.selecting)[c] =
                    selecting.map(|sel| sel.iter().map(|p| p.id.clone()).collect());
                Arc::make_mut(&mut self.tier_selecting)[c] =
                    tiers.map(|t| t.iter().map(|p| p.id.clone()).collect());
            }
        }
    }

    /// Calico policies selecting a class in one direction.
    pub fn calico_selecting(&self, class: usize, dir: Direction) -> &[NativeRef] {
        self.calico_selecting
            .get(class)
            .map(|s| s[di(dir)].as_slice())
            .unwrap_or_default()
    }

    /// Valid Calico policies (NetworkPolicy, GlobalNetworkPolicy).
    pub fn calico_policies(&self) -> &BTreeMap<NativeRef, CompiledCalico> {
        &self.calico
    }

    /// Valid Tier objects by name.
    pub fn calico_tiers(&self) -> &BTreeMap<String, CalicoTier> {
        &self.calico_tiers
    }

    /// The walk for a class in one direction (empty when nothing selects it there).
    pub fn calico_plan(&self, class: usize, dir: Direction) -> Plan<'_> {
        let Some(pc) = self.classes.classes.get(class) else {
            return Plan::default();
        };
        let policies: Vec<&CompiledCalico> = self
            .calico_selecting(class, dir)
            .iter()
            .filter_map(|id| self.calico.get(id))
            .collect();
        let tiers: Vec<&CompiledTier> = self
            .tier_selecting(class, dir)
            .iter()
            .filter_map(|id| self.tiers.get(id))
            .collect();
        Plan::build(
            dir,
            &pc.endpoint,
            &policies,
            &self.calico_tiers,
            !self.selecting(class, dir).is_empty(),
            &tiers,
        )
    }

    /// One side's outcome under Calico, with a trace when asked.
    pub fn calico_side(
        &self,
        dir: Direction,
        subject: usize,
        other: &Peer,
        trace: Option<&mut CalicoTrace>,
    ) -> SideResult {
        let decided = |allowed: ConnSet| SideResult {
            allowed,
            undecided: ConnSet::none(),
        };
        if trace.is_none() {
            match (&self.rows[subject][di(dir)], other) {
                (None, _) => return decided(ConnSet::all()),
                (Some(row), Peer::Class(o)) if !self.calico_unknown[subject][di(dir)] => {
                    return decided(match *o < self.classes.classes.len() {
                        true => row.get(*o).clone(),
                        false => ConnSet::none(),
                    });
                }
                _ => {}
            }
        }
        let ep: &Endpoint = &self.classes.classes[subject].endpoint;
        let (target, other_ep) = match other {
            Peer::External(r) => (Target::External(r), None),
            Peer::Class(o) => match self.classes.classes.get(*o) {
                Some(oc) => (Target::Pod(&oc.endpoint), Some(&*oc.endpoint)),
                None => return decided(ConnSet::none()),
            },
        };
        let dst = match dir {
            Direction::Ingress => Some(ep),
            Direction::Egress => other_ep,
        };
        let plan = self.calico_plan(subject, dir);
        let sel = self.selecting(subject, dir);
        let mut np: Option<ConnSet> = None;
        let networks = self.settings.tier_networks;
        let hit = |i: usize| match plan.steps[i].origin {
            StepOrigin::Rule { policy, rule } => {
                if !entity_matches(rule.peer(dir), policy.namespace(), target) {
                    return (Matched::No, ConnSet::none());
                }
                let m = rule.unknown.map_or(Matched::Yes, Matched::Unknown);
                (m, rule_ports(rule, dst))
            }
            StepOrigin::NetworkPolicies => {
                let allowed = np.get_or_insert_with(|| self.direction_allows(dir, ep, sel, target));
                (Matched::Yes, allowed.clone())
            }
            StepOrigin::ClusterTier(s) => match tier_rule_matches(s.rule, target, networks) {
                Matched::No => (Matched::No, ConnSet::none()),
                m => (m, tier_rule_ports(s.rule, dst)),
            },
        };
        calico_eval::evaluate(&plan, hit, trace)
    }

    /// What palisade does not evaluate among the native objects, with the reason: the other
    /// family's kinds (not enforced by this CNI), host-only or unreadable Calico policies,
    /// Cilium's own notes, and the staged kinds (rehearsals).
    pub fn native_notes(&self) -> Vec<(NativeRef, String)> {
        let cni = self.settings.cni;
        let enforced = |f: NativeFamily| {
            matches!(
                (cni, f),
                (Cni::Cilium, NativeFamily::Cilium) | (Cni::Calico, NativeFamily::Calico)
            )
        };
        let cni_name = match cni {
            Cni::Cilium => "Cilium",
            Cni::Calico => "Calico",
            Cni::Generic => "neither Cilium nor Calico",
        };
        let mut out = Vec::new();
        for id in self.snapshot.natives.keys() {
            if !enforced(id.kind.family()) {
                out.push((
                    id.clone(),
                    format!("not evaluated: the CNI is {cni_name}, which does not enforce it"),
                ));
            } else if !id.kind.enforced() && id.kind != NativeKind::CalicoTier {
                out.push((
                    id.clone(),
                    "staged: not enforced (see what it would change)".to_string(),
                ));
            }
        }
        if enforced(NativeFamily::Cilium) {
            for (id, note) in self.natives_not_evaluated() {
                out.push((id.clone(), note.to_string()));
            }
        }
        if enforced(NativeFamily::Calico) {
            for (id, p) in self.calico.iter() {
                out.extend(p.not_evaluated.iter().map(|n| (id.clone(), n.clone())));
                if p.tier != crate::policy::calico::DEFAULT_TIER
                    && !self.calico_tiers.contains_key(&p.tier)
                {
                    out.push((
                        id.clone(),
                        format!("tier {} not found: evaluated last, ending in Deny", p.tier),
                    ));
                }
            }
        }
        out
    }
}
