//! Cached rows, sparse: what an isolated class allows from (ingress) or to (egress) every class,
//! stored as one value for all classes plus the classes some rule's peers single out.
//!
//! A dense class × class table grows with classes², which at 10,000 classes is billions of
//! bytes. Most rules name a few peers (a tenant's namespaces, one workload), so a row is a
//! `base` (rules without `from`/`to`) plus exceptions for the classes that peers match. Peer
//! matches are found through the namespace index instead of testing every class.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::classes::Classes;
use super::compile::{CompiledPolicy, Direction, NamespaceMatch, PeerSpec, PortSpec, Rule};
use super::connset::ConnSet;
use super::matching::{Endpoint, IpBlockPods, Target, peer_matches, rule_ports};
use crate::model::{NamedPort, ObjectRef};

/// One direction of one isolated class. `get(o)` equals what the class's selecting policies
/// allow between it and class `o`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The value at every class not listed in `exceptions`.
    pub base: ConnSet,
    /// `(class, index into values)`, sorted by class; every value differs from `base`.
    /// A tenant-wide rule gives every class of the tenant the same exception, so the values are
    /// stored once and the exceptions are 8 bytes each (a `ConnSet` per entry cost ~100).
    pub exceptions: Vec<(u32, u32)>,
    pub values: Vec<ConnSet>,
}

impl Row {
    pub fn get(&self, class: usize) -> &ConnSet {
        let Ok(class) = u32::try_from(class) else {
            return &self.base;
        };
        match self.exceptions.binary_search_by_key(&class, |(c, _)| *c) {
            Ok(i) => &self.values[self.exceptions[i].1 as usize],
            Err(_) => &self.base,
        }
    }

    /// The classes this row singles out.
    pub fn exception_classes(&self) -> impl Iterator<Item = usize> + '_ {
        self.exceptions.iter().map(|(c, _)| *c as usize)
    }
}

/// What a row depends on: the direction, the selecting policies and, for ingress, the
/// subject's named ports (named ports resolve against the destination).
type RowKey<'a> = (Direction, Vec<&'a ObjectRef>, Option<Vec<NamedPort>>);

/// Computes rows over one set of classes, sharing peer matches and identical rows.
pub struct RowBuilder<'a> {
    classes: &'a Classes,
    mode: IpBlockPods,
    peers: HashMap<(Option<&'a str>, &'a PeerSpec), Rc<Vec<usize>>>,
    rows: HashMap<RowKey<'a>, Arc<Row>>,
}

impl<'a> RowBuilder<'a> {
    pub fn new(classes: &'a Classes, mode: IpBlockPods) -> Self {
        RowBuilder {
            classes,
            mode,
            peers: HashMap::new(),
            rows: HashMap::new(),
        }
    }

    /// The row of `subject` in `dir` under `selecting` (non-empty, all selecting `subject`).
    /// Classes with the same inputs share one row.
    pub fn row(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        selecting: &[&'a CompiledPolicy],
    ) -> Arc<Row> {
        let ids = selecting.iter().map(|p| &p.id).collect();
        let ports = (dir == Direction::Ingress).then(|| subject.ports.clone());
        let key = (dir, ids, ports);
        if let Some(row) = self.rows.get(&key) {
            return row.clone();
        }
        let row = Arc::new(self.compute(dir, subject, selecting));
        self.rows.insert(key, row.clone());
        row
    }

    fn compute(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        selecting: &[&'a CompiledPolicy],
    ) -> Row {
        let mut base = ConnSet::none();
        let mut extra: HashMap<usize, ConnSet> = HashMap::new();
        for &policy in selecting {
            for rule in policy.rules(dir).unwrap_or_default() {
                // Ingress ports resolve against the subject; egress ones against each peer.
                let fixed = (dir == Direction::Ingress || !has_named_ports(rule))
                    .then(|| rule_ports(rule, Some(subject)));
                let matched = match &rule.peers {
                    None => match fixed {
                        Some(ports) => {
                            base.union_with(&ports);
                            continue;
                        }
                        None => Rc::new((0..self.classes.classes.len()).collect()),
                    },
                    Some(peers) => self.rule_matches(policy.namespace(), peers),
                };
                for &o in matched.iter() {
                    let ports = match &fixed {
                        Some(ports) => ports.clone(),
                        None => rule_ports(rule, Some(&self.classes.classes[o].endpoint)),
                    };
                    extra.entry(o).or_default().union_with(&ports);
                }
            }
        }
        let mut singled: Vec<(usize, ConnSet)> = extra
            .into_iter()
            .map(|(o, set)| (o, set.union(&base)))
            .filter(|(_, set)| *set != base)
            .collect();
        singled.sort_unstable_by_key(|(o, _)| *o);
        let mut values: Vec<ConnSet> = Vec::new();
        let mut index_of: HashMap<ConnSet, u32> = HashMap::new();
        let exceptions = singled
            .into_iter()
            .map(|(o, set)| {
                let index = *index_of.entry(set).or_insert_with_key(|set| {
                    values.push(set.clone());
                    (values.len() - 1) as u32
                });
                (o as u32, index)
            })
            .collect();
        Row {
            base,
            exceptions,
            values,
        }
    }

    /// Classes admitted by any of a rule's peers, sorted.
    fn rule_matches(&mut self, policy_ns: &'a str, peers: &'a [PeerSpec]) -> Rc<Vec<usize>> {
        if let [peer] = peers {
            return self.peer_matches(policy_ns, peer);
        }
        let mut all: Vec<usize> = Vec::new();
        for peer in peers {
            all.extend(self.peer_matches(policy_ns, peer).iter());
        }
        all.sort_unstable();
        all.dedup();
        Rc::new(all)
    }

    /// Classes a peer admits, sorted; namespaces are filtered before their classes.
    fn peer_matches(&mut self, policy_ns: &'a str, peer: &'a PeerSpec) -> Rc<Vec<usize>> {
        let own = matches!(
            peer,
            PeerSpec::Pods {
                namespaces: NamespaceMatch::Own,
                ..
            }
        );
        let key = (own.then_some(policy_ns), peer);
        if let Some(found) = self.peers.get(&key) {
            return found.clone();
        }
        let classes = self.classes;
        let admits = |c: &usize| {
            let ep = &classes.classes[*c].endpoint;
            peer_matches(peer, policy_ns, Target::Pod(ep), self.mode)
        };
        let mut out: Vec<usize> = match peer {
            PeerSpec::Pods {
                namespaces: NamespaceMatch::Own,
                ..
            } => classes
                .by_namespace
                .get(policy_ns)
                .into_iter()
                .flatten()
                .copied()
                .filter(admits)
                .collect(),
            PeerSpec::Pods {
                namespaces: NamespaceMatch::Selector(ns_selector),
                ..
            } => classes
                .by_namespace
                .values()
                .filter(|members| {
                    // Classes of one namespace share its labels.
                    members.first().is_some_and(|c| {
                        ns_selector.matches(&classes.classes[*c].endpoint.ns_labels)
                    })
                })
                .flatten()
                .copied()
                .filter(admits)
                .collect(),
            PeerSpec::IpBlock { .. } if self.mode == IpBlockPods::Ignore => Vec::new(),
            PeerSpec::IpBlock { .. } => (0..classes.classes.len()).filter(admits).collect(),
        };
        out.sort_unstable();
        let out = Rc::new(out);
        self.peers.insert(key, out.clone());
        out
    }
}

fn has_named_ports(rule: &Rule) -> bool {
    rule.ports
        .iter()
        .flatten()
        .any(|p| matches!(p, PortSpec::Named { .. }))
}
