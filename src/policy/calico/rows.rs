//! Cached rows under Calico's order: the walk of [`Plan`] towards every class, computed once for
//! the classes no rule singles out and once per class some rule lists. A child of `rows`, whose
//! class-match caches it shares.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::super::calico::eval::{self as calico_eval, Plan, StepOrigin};
use super::super::calico::{CalicoRule, CompiledCalico};
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
        let value = |o: Option<usize>| -> ConnSet {
            let hit = |i: usize| {
                let m: &ClassMatch = &matches[i];
                let yes = match o {
                    Some(o) => m.contains(o),
                    None => m.takes_unlisted(),
                };
                if !yes {
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
        let base = value(None);
        let mut values: Vec<ConnSet> = Vec::new();
        let mut index_of: HashMap<ConnSet, u32> = HashMap::new();
        let mut exceptions = Vec::new();
        for o in listed {
            let set = value(Some(o));
            if set == base {
                continue;
            }
            let index = *index_of.entry(set).or_insert_with_key(|set| {
                values.push(set.clone());
                (values.len() - 1) as u32
            });
            exceptions.push((o as u32, index));
        }
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
        let classes = self.classes;
        let n = classes.classes.len();
        let peer = rule.peer(dir);
        let matched: Vec<usize> = match rule.unknown {
            Some(_) => Vec::new(),
            None => {
                let own_namespace = policy.namespace().filter(|_| {
                    peer.namespace_selector.is_none()
                        && (peer.selector.is_some() || peer.not_selector.is_some())
                });
                let candidates: Vec<usize> = match own_namespace {
                    Some(ns) => classes.by_namespace.get(ns).cloned().unwrap_or_default(),
                    None => (0..n).collect(),
                };
                let mut out: Vec<usize> = candidates
                    .into_iter()
                    .filter(|c| {
                        let ep = &classes.classes[*c].endpoint;
                        calico_eval::entity_matches(peer, policy.namespace(), Target::Pod(ep))
                    })
                    .collect();
                out.sort_unstable();
                out
            }
        };
        let out = Rc::new(ClassMatch::of(matched, n));
        self.calico_rules.insert(key, out.clone());
        out
    }
}
