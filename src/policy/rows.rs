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

use super::cilium::{self, CiliumPeer, CiliumRule, CompiledNative, PeerRule};
use super::classes::Classes;
use super::compile::{CompiledPolicy, Direction, NamespaceMatch, PeerSpec, PortSpec, Rule};
use super::connset::ConnSet;
use super::decide::{self, Matched, TierOutcome};
use super::matching::{Endpoint, IpBlockPods, Target, peer_matches, rule_ports};
use super::selector::{Requirement, Selector};
use super::tier::{CompiledTier, TierPeer, TierRule};
use super::tier_match;
use crate::model::{NamedPort, NativeRef, ObjectRef, TierRef};

#[path = "calico/rows.rs"]
mod calico_rows;

/// One direction of one class that some policy (NetworkPolicy or tier) selects. `get(o)`
/// equals what those policies allow between it and class `o`.
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
        match self.exception(class) {
            Some(i) => &self.values[self.exceptions[i].1 as usize],
            None => &self.base,
        }
    }

    /// Where `class`'s exception stands in `exceptions`, if it has one.
    fn exception(&self, class: usize) -> Option<usize> {
        let class = u32::try_from(class).ok()?;
        (self.exceptions.binary_search_by_key(&class, |(c, _)| *c)).ok()
    }

    /// The classes this row singles out.
    pub fn exception_classes(&self) -> impl Iterator<Item = usize> + '_ {
        self.exceptions.iter().map(|(c, _)| *c as usize)
    }

    /// The classes this row singles out among `classes` (a range of class numbers).
    pub fn exception_classes_in(
        &self,
        classes: std::ops::Range<usize>,
    ) -> impl Iterator<Item = usize> + '_ {
        let at = |class: usize| (self.exceptions).partition_point(|(c, _)| (*c as usize) < class);
        let (from, to) = (at(classes.start), at(classes.end));
        self.exceptions[from..to.max(from)]
            .iter()
            .map(|(c, _)| *c as usize)
    }

    /// Whether this row has an exception for `class`.
    pub fn singles_out(&self, class: usize) -> bool {
        self.exception(class).is_some()
    }
}

/// What a row depends on: the direction, the selecting NetworkPolicies, tier policies and
/// Cilium rules and, for ingress, the subject's named ports (named ports resolve against the
/// destination).
type RowKey<'a> = (
    Direction,
    Vec<&'a ObjectRef>,
    Vec<&'a TierRef>,
    Vec<(&'a NativeRef, usize)>,
    Option<Vec<NamedPort>>,
);

/// Cilium rules selecting a subject: the policy and one of its rules.
pub type NativeRules<'a> = [(&'a CompiledNative, &'a CiliumRule)];

/// The classes a tier rule's peers take in, in whichever form is shorter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassMatch {
    /// These classes, sorted.
    Only(Vec<usize>),
    /// Every class but these, sorted.
    AllBut(Vec<usize>),
}

impl ClassMatch {
    fn contains(&self, class: usize) -> bool {
        match self {
            ClassMatch::Only(x) => x.binary_search(&class).is_ok(),
            ClassMatch::AllBut(x) => x.binary_search(&class).is_err(),
        }
    }

    /// Whether a class no rule lists is in.
    fn takes_unlisted(&self) -> bool {
        matches!(self, ClassMatch::AllBut(_))
    }

    fn listed(&self) -> &[usize] {
        match self {
            ClassMatch::Only(x) | ClassMatch::AllBut(x) => x,
        }
    }

    fn union(&self, other: &ClassMatch) -> ClassMatch {
        use ClassMatch::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(merge(a, b)),
            (Only(a), AllBut(b)) | (AllBut(b), Only(a)) => AllBut(
                b.iter()
                    .copied()
                    .filter(|c| a.binary_search(c).is_err())
                    .collect(),
            ),
            (AllBut(a), AllBut(b)) => AllBut(
                a.iter()
                    .copied()
                    .filter(|c| b.binary_search(c).is_ok())
                    .collect(),
            ),
        }
    }

    /// The shorter form of `matched` among `n` classes.
    fn of(matched: Vec<usize>, n: usize) -> ClassMatch {
        if matched.len() * 2 <= n {
            return ClassMatch::Only(matched);
        }
        let mut rest = Vec::with_capacity(n - matched.len());
        let mut it = matched.iter().peekable();
        for c in 0..n {
            if it.peek() == Some(&&c) {
                it.next();
            } else {
                rest.push(c);
            }
        }
        ClassMatch::AllBut(rest)
    }
}

fn merge(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = a.iter().chain(b).copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The tiers' outcome towards every class: one for the classes no tier rule lists, one per
/// listed class (sorted).
struct TierTable {
    base: TierOutcome,
    listed: Vec<(usize, TierOutcome)>,
}

impl TierTable {
    fn get(&self, class: Option<usize>) -> &TierOutcome {
        let Some(class) = class else {
            return &self.base;
        };
        match self.listed.binary_search_by_key(&class, |(c, _)| *c) {
            Ok(i) => &self.listed[i].1,
            Err(_) => &self.base,
        }
    }
}

/// The classes of each namespace, by one of its labels (key, value).
type NamespaceIndex<'a> = HashMap<(&'a str, &'a str), Vec<&'a [usize]>>;

type TierTableKey<'a> = (Direction, Vec<&'a TierRef>, Option<Vec<NamedPort>>);

/// Ports of a tier rule: the same towards every class, or resolved per class (egress named
/// ports resolve against each destination).
enum StepPorts {
    Fixed(ConnSet),
    PerPeer,
}

/// Computes rows over one set of classes, sharing peer matches and identical rows.
pub struct RowBuilder<'a> {
    classes: &'a Classes,
    mode: IpBlockPods,
    networks: IpBlockPods,
    peers: HashMap<(Option<&'a str>, &'a PeerSpec), Rc<Vec<usize>>>,
    tier_rules: HashMap<*const TierRule, Rc<ClassMatch>>,
    tier_peers: HashMap<&'a TierPeer, Rc<ClassMatch>>,
    tier_tables: HashMap<TierTableKey<'a>, Rc<TierTable>>,
    native_rules: HashMap<*const PeerRule, Rc<Vec<usize>>>,
    /// Namespaces (their classes) by label key and value, for selectors that name one value.
    ns_index: Option<NamespaceIndex<'a>>,
    rows: HashMap<RowKey<'a>, Arc<Row>>,
    /// Calico: class matches by rule (address) and by peer criteria (policies repeat a
    /// tenant's `namespaceSelector`), classes by namespace selector, and rows by walk.
    calico_rules: HashMap<usize, Rc<ClassMatch>>,
    calico_peers: HashMap<calico_rows::CalicoPeerKey<'a>, Rc<ClassMatch>>,
    calico_namespaces: HashMap<&'a calico_rows::CalicoSelector, Rc<Vec<usize>>>,
    /// Scratch for Calico rows: per class, the steps whose criteria list it (kept zeroed).
    calico_masks: Vec<u128>,
    calico_rows: HashMap<calico_rows::CalicoRowKey<'a>, Arc<Row>>,
}

impl<'a> RowBuilder<'a> {
    /// `mode` says whether NetworkPolicy ipBlocks match pods, `networks` whether tier
    /// `networks` peers do.
    pub fn new(classes: &'a Classes, mode: IpBlockPods, networks: IpBlockPods) -> Self {
        RowBuilder {
            classes,
            mode,
            networks,
            peers: HashMap::new(),
            tier_rules: HashMap::new(),
            tier_peers: HashMap::new(),
            tier_tables: HashMap::new(),
            native_rules: HashMap::new(),
            ns_index: None,
            rows: HashMap::new(),
            calico_rules: HashMap::new(),
            calico_peers: HashMap::new(),
            calico_namespaces: HashMap::new(),
            calico_masks: Vec::new(),
            calico_rows: HashMap::new(),
        }
    }

    /// The row of `subject` in `dir` under the NetworkPolicies `selecting`, the tier
    /// policies `tiers` and the Cilium rules `natives` (all selecting `subject`, at least one
    /// of any). Classes with the same inputs share one row.
    pub fn row(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        selecting: &[&'a CompiledPolicy],
        tiers: &[&'a CompiledTier],
        natives: &NativeRules<'a>,
    ) -> Arc<Row> {
        let ids = selecting.iter().map(|p| &p.id).collect();
        let tier_ids = tiers.iter().map(|p| &p.id).collect();
        let native_ids = natives.iter().map(|(p, r)| (&p.id, r.index)).collect();
        let ports = (dir == Direction::Ingress).then(|| subject.ports.clone());
        let key = (dir, ids, tier_ids, native_ids, ports);
        if let Some(row) = self.rows.get(&key) {
            return row.clone();
        }
        let row = Arc::new(self.compute(dir, subject, selecting, tiers, natives));
        self.rows.insert(key, row.clone());
        row
    }

    fn compute(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        selecting: &[&'a CompiledPolicy],
        tiers: &[&'a CompiledTier],
        natives: &NativeRules<'a>,
    ) -> Row {
        let (mut np_base, mut np_extra) = self.np_values(dir, subject, selecting);
        let (allow, deny) = self.native_values(dir, subject, natives);
        np_base.union_with(&allow.0);
        for (o, set) in allow.1 {
            np_extra.entry(o).or_default().union_with(&set);
        }
        let (deny_base, deny_extra) = deny;
        let np = |o: Option<usize>| match o.and_then(|o| np_extra.get(&o)) {
            Some(extra) => extra.union(&np_base),
            None => np_base.clone(),
        };
        let denied = |o: Option<usize>| match o.and_then(|o| deny_extra.get(&o)) {
            Some(extra) => extra.union(&deny_base),
            None => deny_base.clone(),
        };
        let isolated = !selecting.is_empty() || natives.iter().any(|(_, r)| r.isolates(dir));
        let mut candidates: Vec<usize> = np_extra.keys().copied().collect();
        candidates.extend(deny_extra.keys().copied());
        let table = (!tiers.is_empty()).then(|| self.tier_table(dir, subject, tiers));
        if let Some(table) = &table {
            candidates.extend(table.listed.iter().map(|(c, _)| *c));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let value = |o: Option<usize>| -> ConnSet {
            match &table {
                // Without tier policies the NetworkPolicy tier decides alone (most rows).
                None => match isolated {
                    true => np(o).subtract(&denied(o)),
                    false => ConnSet::all().subtract(&denied(o)),
                },
                Some(table) => table
                    .get(o)
                    .allowed(isolated.then(|| np(o)).as_ref(), &denied(o)),
            }
        };
        let base = value(None);
        let mut values: Vec<ConnSet> = Vec::new();
        let mut index_of: HashMap<ConnSet, u32> = HashMap::new();
        let mut exceptions = Vec::new();
        for o in candidates {
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

    /// The tiers' outcome towards every class for one subject, shared by every row with the
    /// same tier policies (and, for ingress, the same named ports) whatever its NetworkPolicies.
    fn tier_table(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        tiers: &[&'a CompiledTier],
    ) -> Rc<TierTable> {
        let ingress = dir == Direction::Ingress;
        // The subject's ports matter only to ingress rules with named ports.
        let named = ingress
            && tiers
                .iter()
                .flat_map(|t| t.rules(true))
                .any(tier_match::has_named_ports);
        let key = (
            dir,
            tiers.iter().map(|p| &p.id).collect::<Vec<_>>(),
            named.then(|| subject.ports.clone()),
        );
        if let Some(found) = self.tier_tables.get(&key) {
            return found.clone();
        }
        let steps = decide::steps(tiers, ingress);
        let mut matches = Vec::with_capacity(steps.len());
        let mut ports = Vec::with_capacity(steps.len());
        let mut listed: Vec<usize> = Vec::new();
        for step in &steps {
            let m = self.tier_rule_matches(step.rule);
            listed.extend_from_slice(m.listed());
            let p = match ingress || !tier_match::has_named_ports(step.rule) {
                true => StepPorts::Fixed(tier_match::tier_rule_ports(step.rule, Some(subject))),
                false => {
                    if m.takes_unlisted() || !m.listed().is_empty() {
                        listed = (0..self.classes.classes.len()).collect();
                    }
                    StepPorts::PerPeer
                }
            };
            matches.push(m);
            ports.push(p);
        }
        listed.sort_unstable();
        listed.dedup();
        let classes = self.classes;
        let at = |o: Option<usize>| {
            let matched = |i: usize| {
                let m: &ClassMatch = &matches[i];
                let yes = match o {
                    Some(o) => m.contains(o),
                    None => m.takes_unlisted(),
                };
                if yes { Matched::Yes } else { Matched::No }
            };
            let step_ports = |i: usize| match (&ports[i], o) {
                (StepPorts::Fixed(p), _) => p.clone(),
                (StepPorts::PerPeer, Some(o)) => {
                    tier_match::tier_rule_ports(steps[i].rule, Some(&classes.classes[o].endpoint))
                }
                (StepPorts::PerPeer, None) => ConnSet::none(),
            };
            decide::outcome(&steps, matched, step_ports)
        };
        let table = Rc::new(TierTable {
            base: at(None),
            listed: listed.into_iter().map(|o| (o, at(Some(o)))).collect(),
        });
        self.tier_tables.insert(key, table.clone());
        table
    }

    /// What the NetworkPolicies allow: the value for every class, and the additions for the
    /// classes some rule's peers single out.
    fn np_values(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        selecting: &[&'a CompiledPolicy],
    ) -> (ConnSet, HashMap<usize, ConnSet>) {
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
        (base, extra)
    }

    /// What the Cilium rules allow and deny, each as a value for every class plus additions
    /// for the classes some rule's peers single out. Unknown matches count as no match (the
    /// engine answers those classes without the rows).
    #[allow(clippy::type_complexity)]
    fn native_values(
        &mut self,
        dir: Direction,
        subject: &Endpoint,
        natives: &NativeRules<'a>,
    ) -> (
        (ConnSet, HashMap<usize, ConnSet>),
        (ConnSet, HashMap<usize, ConnSet>),
    ) {
        let mut allow: (ConnSet, HashMap<usize, ConnSet>) = Default::default();
        let mut deny: (ConnSet, HashMap<usize, ConnSet>) = Default::default();
        for &(_, rule) in natives {
            for (acc, list) in [
                (&mut allow, rule.allows(dir)),
                (&mut deny, rule.denies(dir)),
            ] {
                for pr in list {
                    let fixed = (dir == Direction::Ingress || !cilium::has_named_ports(pr))
                        .then(|| cilium::native_rule_ports(pr, Some(subject)));
                    let matched = match (&pr.peers, &fixed) {
                        (None, Some(ports)) => {
                            acc.0.union_with(ports);
                            continue;
                        }
                        (None, None) => Rc::new((0..self.classes.classes.len()).collect()),
                        (Some(_), _) => self.native_rule_matches(pr),
                    };
                    for &o in matched.iter() {
                        let ports = match &fixed {
                            Some(ports) => ports.clone(),
                            None => cilium::native_rule_ports(
                                pr,
                                Some(&self.classes.classes[o].endpoint),
                            ),
                        };
                        acc.1.entry(o).or_default().union_with(&ports);
                    }
                }
            }
        }
        (allow, deny)
    }

    /// Classes a Cilium rule's peers take in for sure, sorted.
    fn native_rule_matches(&mut self, rule: &'a PeerRule) -> Rc<Vec<usize>> {
        let key = rule as *const PeerRule;
        if let Some(found) = self.native_rules.get(&key) {
            return found.clone();
        }
        let classes = self.classes;
        let mut out: Vec<usize> = Vec::new();
        for peer in rule.peers.iter().flatten() {
            let candidates: Vec<usize> = match peer {
                // Only endpoints and the all/cluster entities take in pods.
                CiliumPeer::Cidr { .. } | CiliumPeer::Undecidable { .. } => continue,
                CiliumPeer::Endpoints {
                    namespace: Some(ns),
                    ..
                } => classes.by_namespace.get(ns).cloned().unwrap_or_default(),
                // Namespaces first (one label test per namespace, not per class): a tenant's
                // label takes in a few namespaces of thousands.
                CiliumPeer::Endpoints { selector, .. } => {
                    classes.of_namespaces_where(|ep| selector.namespaces.matches(&ep.ns_labels))
                }
                _ => (0..classes.classes.len()).collect(),
            };
            out.extend(candidates.into_iter().filter(|c| {
                let ep = &classes.classes[*c].endpoint;
                cilium::peer_match(peer, Target::Pod(ep)) == Matched::Yes
            }));
        }
        out.sort_unstable();
        out.dedup();
        let out = Rc::new(out);
        self.native_rules.insert(key, out.clone());
        out
    }

    /// Classes a tier rule's peers take in (unknown matches never concern pods).
    fn tier_rule_matches(&mut self, rule: &'a TierRule) -> Rc<ClassMatch> {
        let key = rule as *const TierRule;
        if let Some(found) = self.tier_rules.get(&key) {
            return found.clone();
        }
        let n = self.classes.classes.len();
        let mut out: Option<Rc<ClassMatch>> = None;
        for peer in &rule.peers {
            // Policies repeat peers ("every namespace", a tenant's label): match each once.
            let m = match self.tier_peers.get(peer) {
                Some(m) => m.clone(),
                None => {
                    let m = Rc::new(self.tier_peer_matches(peer));
                    self.tier_peers.insert(peer, m.clone());
                    m
                }
            };
            out = Some(match out {
                None => m,
                Some(acc) => Rc::new(acc.union(&m)),
            });
        }
        let out = out.unwrap_or_else(|| Rc::new(ClassMatch::Only(Vec::new())));
        self.tier_rules.insert(key, out.clone());
        debug_assert!(out.listed().iter().all(|c| *c < n));
        out
    }

    fn tier_peer_matches(&mut self, peer: &TierPeer) -> ClassMatch {
        let classes = self.classes;
        let n = classes.classes.len();
        let matched: Vec<usize> = match peer {
            TierPeer::Namespaces(sel) => self
                .namespaces_matching(sel)
                .into_iter()
                .flatten()
                .copied()
                .collect(),
            TierPeer::Pods { namespaces, pods } => self
                .namespaces_matching(namespaces)
                .into_iter()
                .flatten()
                .copied()
                .filter(|c| pods.matches(&classes.classes[*c].endpoint.labels))
                .collect(),
            TierPeer::Networks { .. } if self.networks == IpBlockPods::Ignore => Vec::new(),
            TierPeer::Networks { .. } => (0..n)
                .filter(|c| {
                    let target = Target::Pod(&classes.classes[*c].endpoint);
                    tier_match::tier_peer_matches(peer, target, self.networks) == Matched::Yes
                })
                .collect(),
            TierPeer::Nodes(_) | TierPeer::DomainNames(_) => Vec::new(),
        };
        let mut matched = matched;
        matched.sort_unstable();
        ClassMatch::of(matched, n)
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

    /// The classes of every namespace `selector` selects. A selector that requires one label
    /// value looks only at the namespaces with that label (through an index built on first
    /// use); others test every namespace once.
    fn namespaces_matching(&mut self, selector: &Selector) -> Vec<&'a [usize]> {
        let classes = self.classes;
        let labels_of = |members: &[usize]| {
            // Classes of one namespace share its labels.
            members
                .first()
                .map(|c| &*classes.classes[*c].endpoint.ns_labels)
        };
        let index = self.ns_index.get_or_insert_with(|| {
            let mut index: NamespaceIndex<'a> = HashMap::new();
            for members in classes.by_namespace.values() {
                for (k, v) in labels_of(members).into_iter().flatten() {
                    index.entry((k, v)).or_default().push(members);
                }
            }
            index
        });
        let narrowed = selector.requirements.iter().find_map(|r| match r {
            Requirement::In(key, values) if values.len() == 1 => {
                let value = values.iter().next()?;
                Some(
                    index
                        .get(&(key.as_str(), value.as_str()))
                        .cloned()
                        .unwrap_or_default(),
                )
            }
            _ => None,
        });
        let candidates: Vec<&'a [usize]> = match narrowed {
            Some(found) => found,
            None => classes.by_namespace.values().map(Vec::as_slice).collect(),
        };
        candidates
            .into_iter()
            .filter(|members| labels_of(members).is_some_and(|l| selector.matches(l)))
            .collect()
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
                pods,
            } => self
                .namespaces_matching(ns_selector)
                .into_iter()
                .flatten()
                .copied()
                .filter(|c| pods.matches(&classes.classes[*c].endpoint.labels))
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
