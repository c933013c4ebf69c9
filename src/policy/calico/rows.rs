//! Cached rows under Calico's order: the walk of [`Plan`] towards every class, computed once for
//! the classes no rule singles out and once per class some rule lists. A child of `rows`, whose
//! class-match caches it shares.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::super::calico::eval::{self as calico_eval, Plan, StepOrigin};
use super::super::calico::{CalicoRule, CompiledCalico, EntityRule};
use super::super::ipset::IpSet;

pub(super) use super::super::calico::selector::Selector as CalicoSelector;
use super::*;

/// What a Calico row depends on: direction, the walk, the Kubernetes NetworkPolicies and (for
/// ingress) the subject's named ports.
pub(super) type CalicoRowKey<'a> = (
    Direction,
    Vec<usize>,
    Vec<&'a ObjectRef>,
    Option<Vec<NamedPort>>,
);

impl<'a> RowBuilder<'a> {
    /// The row of `subject` in `dir` under Calico's walk `plan`; `selecting` are the Kubernetes
    /// NetworkPolicies selecting it there (their allows are one step of the default tier).
    pub fn calico_row(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        plan: &Plan<'a>,
        selecting: &[&'a CompiledPolicy],
    ) -> Arc<Row> {
        let ingress = dir == Direction::Ingress;
        let key: CalicoRowKey<'a> = (
            dir,
            plan.key(),
            selecting.iter().map(|p| &p.id).collect(),
            ingress.then(|| subject.ports.clone()),
        );
        if let Some(row) = self.calico_rows.get(&key) {
            return row.clone();
        }
        let row = Arc::new(self.compute_calico(dir, subject, plan, selecting));
        self.calico_rows.insert(key, row.clone());
        row
    }

    fn compute_calico(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        plan: &Plan<'a>,
        selecting: &[&'a CompiledPolicy],
    ) -> Row {
        let n = self.classes.classes.len();
        let ingress = dir == Direction::Ingress;
        let uses_np = plan
            .steps
            .iter()
            .any(|s| matches!(s.origin, StepOrigin::NetworkPolicies));
        let (np_base, np_extra) = match uses_np {
            true => self.np_values(dir, subject, selecting),
            false => Default::default(),
        };
        let mut listed: Vec<usize> = np_extra.keys().copied().collect();
        let mut matches: Vec<Rc<ClassMatch>> = Vec::with_capacity(plan.steps.len());
        let mut ports: Vec<StepPorts> = Vec::with_capacity(plan.steps.len());
        for step in &plan.steps {
            let (m, p) = match step.origin {
                StepOrigin::Rule { policy, rule } => {
                    let m = self.calico_rule_matches(policy, rule, dir);
                    let p = match ingress || !calico_eval::has_named_ports(rule) {
                        true => StepPorts::Fixed(calico_eval::rule_ports(
                            rule,
                            ingress.then_some(subject),
                        )),
                        false => StepPorts::PerPeer,
                    };
                    (m, p)
                }
                StepOrigin::NetworkPolicies => {
                    (Rc::new(ClassMatch::AllBut(Vec::new())), StepPorts::PerPeer)
                }
                StepOrigin::ClusterTier(s) => {
                    let m = self.tier_rule_matches(s.rule);
                    let p = match ingress || !tier_match::has_named_ports(s.rule) {
                        true => {
                            StepPorts::Fixed(tier_match::tier_rule_ports(s.rule, Some(subject)))
                        }
                        false => StepPorts::PerPeer,
                    };
                    (m, p)
                }
            };
            let np_step = matches!(step.origin, StepOrigin::NetworkPolicies);
            if matches!(p, StepPorts::PerPeer)
                && !np_step
                && (m.takes_unlisted() || !m.listed().is_empty())
            {
                listed = (0..n).collect();
            }
            listed.extend_from_slice(m.listed());
            matches.push(m);
            ports.push(p);
        }
        listed.sort_unstable();
        listed.dedup();
        let classes = self.classes;
        // `contains(i)`: whether step i's criteria take in the other end.
        let value = |contains: &dyn Fn(usize) -> bool, o: Option<usize>| -> ConnSet {
            let hit = |i: usize| {
                if !contains(i) {
                    return (Matched::No, ConnSet::none());
                }
                let conns = match (&plan.steps[i].origin, &ports[i], o) {
                    (StepOrigin::NetworkPolicies, _, o) => match o.and_then(|o| np_extra.get(&o)) {
                        Some(extra) => extra.union(&np_base),
                        None => np_base.clone(),
                    },
                    (_, StepPorts::Fixed(p), _) => p.clone(),
                    (StepOrigin::Rule { rule, .. }, StepPorts::PerPeer, Some(o)) => {
                        calico_eval::rule_ports(rule, Some(&classes.classes[o].endpoint))
                    }
                    (StepOrigin::ClusterTier(s), StepPorts::PerPeer, Some(o)) => {
                        tier_match::tier_rule_ports(s.rule, Some(&classes.classes[o].endpoint))
                    }
                    (_, StepPorts::PerPeer, _) => ConnSet::none(),
                };
                (Matched::Yes, conns)
            };
            calico_eval::evaluate(plan, hit, None).allowed
        };
        let base = value(&|i| matches[i].takes_unlisted(), None);
        // Without per-peer ports, a class's value depends only on which steps list it and on
        // its NetworkPolicy additions: walk once per such membership, not once per class (a
        // `nets` rule lists thousands of classes alike).
        let by_membership = plan.steps.len() <= 128
            && !plan.steps.iter().zip(&ports).any(|(s, p)| {
                matches!(p, StepPorts::PerPeer) && !matches!(s.origin, StepOrigin::NetworkPolicies)
            });
        let mut masks = std::mem::take(&mut self.calico_masks);
        if by_membership {
            masks.resize(n, 0);
            for (i, m) in matches.iter().enumerate() {
                for &o in m.listed() {
                    masks[o] |= 1 << i;
                }
            }
        }
        let mut by_mask: HashMap<(u128, usize), Option<u32>> = HashMap::new();
        let mut values: Vec<ConnSet> = Vec::new();
        let mut index_of: HashMap<ConnSet, u32> = HashMap::new();
        let mut exceptions = Vec::new();
        for o in listed {
            let mut index_for = |set: ConnSet| -> Option<u32> {
                if set == base {
                    return None;
                }
                Some(*index_of.entry(set).or_insert_with_key(|set| {
                    values.push(set.clone());
                    (values.len() - 1) as u32
                }))
            };
            let index = match by_membership {
                true => {
                    let mask = std::mem::take(&mut masks[o]);
                    let extra = np_extra.get(&o).map_or(0, |e| e as *const ConnSet as usize);
                    *by_mask.entry((mask, extra)).or_insert_with(|| {
                        let listed_in = |i: usize| mask & (1 << i) != 0;
                        index_for(value(
                            &|i| listed_in(i) != matches[i].takes_unlisted(),
                            Some(o),
                        ))
                    })
                }
                false => index_for(value(&|i| matches[i].contains(o), Some(o))),
            };
            if let Some(index) = index {
                exceptions.push((o as u32, index));
            }
        }
        self.calico_masks = masks;
        Row {
            base,
            exceptions,
            values,
        }
    }

    /// Classes a Calico rule's criteria on the other end take in for sure (a rule of unknown
    /// match takes in none: the engine answers its classes without the rows).
    fn calico_rule_matches(
        &mut self,
        policy: &'a CompiledCalico,
        rule: &'a CalicoRule,
        dir: Direction,
    ) -> Rc<ClassMatch> {
        let key = rule as *const CalicoRule as usize;
        if let Some(found) = self.calico_rules.get(&key) {
            return found.clone();
        }
        let out = match rule.unknown {
            Some(_) => Rc::new(ClassMatch::Only(Vec::new())),
            None => self.calico_peer_matches(rule.peer(dir), policy.namespace()),
        };
        self.calico_rules.insert(key, out.clone());
        out
    }

    /// Classes an entity rule takes in, matched once per distinct criteria: thousands of
    /// policies repeat a few hundred tenants' `namespaceSelector`s and the same `nets`.
    fn calico_peer_matches(
        &mut self,
        peer: &'a EntityRule,
        policy_ns: Option<&'a str>,
    ) -> Rc<ClassMatch> {
        let scoped = peer.selector.is_some()
            || peer.not_selector.is_some()
            || peer.namespace_selector.is_some();
        // The policy's namespace only matters where it stands in for a missing namespaceSelector.
        let own_namespace = policy_ns.filter(|_| scoped && peer.namespace_selector.is_none());
        let key = CalicoPeerKey {
            nets: peer.nets.as_ref(),
            not_nets: peer.not_nets.as_ref(),
            selector: peer.selector.as_ref(),
            not_selector: peer.not_selector.as_ref(),
            namespace_selector: peer.namespace_selector.as_ref(),
            own_namespace,
        };
        if let Some(found) = self.calico_peers.get(&key) {
            return found.clone();
        }
        let classes = self.classes;
        let n = classes.classes.len();
        let candidates: Rc<Vec<usize>> = match (own_namespace, &peer.namespace_selector) {
            (Some(ns), _) => Rc::new(classes.by_namespace.get(ns).cloned().unwrap_or_default()),
            (None, Some(selector)) => self.calico_namespace_classes(selector),
            (None, None) => Rc::new((0..n).collect()),
        };
        let mut matched: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|c| {
                let ep = &classes.classes[*c].endpoint;
                calico_eval::entity_matches(peer, policy_ns, Target::Pod(ep))
            })
            .collect();
        matched.sort_unstable();
        let out = Rc::new(ClassMatch::of(matched, n));
        self.calico_peers.insert(key, out.clone());
        out
    }

    /// Classes of the namespaces a `namespaceSelector` takes in, testing it once per namespace
    /// (a namespace's labels are the same on each of its classes).
    fn calico_namespace_classes(&mut self, selector: &'a CalicoSelector) -> Rc<Vec<usize>> {
        if let Some(found) = self.calico_namespaces.get(selector) {
            return found.clone();
        }
        let out = Rc::new(
            (self.classes).of_namespaces_where(|ep| calico_eval::matches_namespace(selector, ep)),
        );
        self.calico_namespaces.insert(selector, out.clone());
        out
    }
}

/// The criteria of an entity rule that decide which pods it takes in (ports aside).
#[derive(PartialEq, Eq, Hash)]
pub(super) struct CalicoPeerKey<'a> {
    nets: Option<&'a IpSet>,
    not_nets: Option<&'a IpSet>,
    selector: Option<&'a CalicoSelector>,
    not_selector: Option<&'a CalicoSelector>,
    namespace_selector: Option<&'a CalicoSelector>,
    own_namespace: Option<&'a str>,
}
