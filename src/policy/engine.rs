//! The reachability engine: compiled policies over pod classes, with per-class cached rows and
//! an incremental update when one policy changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::classes::{Classes, build_classes, distinct_ip_blocks};
use super::compile::{CompiledPolicy, Direction, compile_policy};
use super::connset::ConnSet;
use super::error::ValidationError;
use super::externals::{Externals, externals};
use super::ipset::IpRange;
use super::matching::{Endpoint, IpBlockPods, Target, rule_peer_matches, rule_ports, selects};
use super::rows::{Row, RowBuilder};
use crate::model::{ClusterSnapshot, ObjectRef, PolicyInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settings {
    pub ip_block_pods: IpBlockPods,
}

/// One end of a connection: a class of pods or a range of external addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Class(usize),
    External(IpRange),
}

/// What an incremental update did, so callers (and tests) can see it stayed local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpdateStats {
    pub recomputed_classes: usize,
    pub full_rebuild: bool,
}

const DIRS: [Direction; 2] = [Direction::Ingress, Direction::Egress];

fn di(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

#[derive(Debug, Clone)]
pub struct Engine {
    settings: Settings,
    snapshot: ClusterSnapshot,
    policies: BTreeMap<ObjectRef, CompiledPolicy>,
    invalid: BTreeMap<ObjectRef, Vec<ValidationError>>,
    classes: Classes,
    /// Per class and direction, the policies that select it (isolation when non-empty).
    selecting: Vec<[Vec<ObjectRef>; 2]>,
    /// Per class and direction, what it allows from (ingress) or to (egress) every class;
    /// `None` when not isolated in that direction. Classes with equal inputs share a row.
    rows: Vec<[Option<Arc<Row>>; 2]>,
}

impl Engine {
    /// Builds the engine from a snapshot. Invalid policies are left out (the API server would
    /// have rejected them) and reported by [`Engine::validation_errors`].
    pub fn new(snapshot: &ClusterSnapshot, settings: Settings) -> Engine {
        Engine::from_snapshot(snapshot.clone(), settings)
    }

    /// Like [`Engine::new`], taking the snapshot over instead of copying it (the console hands
    /// the engine a copy made for it; a second one would double the peak memory).
    pub fn from_snapshot(snapshot: ClusterSnapshot, settings: Settings) -> Engine {
        let mut policies = BTreeMap::new();
        let mut invalid = BTreeMap::new();
        for (id, p) in &snapshot.policies {
            match compile_policy(p) {
                Ok(c) => {
                    policies.insert(id.clone(), c);
                }
                Err(e) => {
                    invalid.insert(id.clone(), e);
                }
            }
        }
        let mut engine = Engine {
            settings,
            snapshot,
            policies,
            invalid,
            classes: Classes::default(),
            selecting: Vec::new(),
            rows: Vec::new(),
        };
        engine.rebuild();
        engine
    }

    /// Recomputes classes and every row (after pod or namespace changes).
    pub fn rebuild(&mut self) {
        self.classes = build_classes(&self.snapshot, &self.policies, self.settings.ip_block_pods);
        let n = self.classes.classes.len();
        self.selecting = vec![Default::default(); n];
        self.rows = vec![Default::default(); n];
        self.refresh_classes(0..n);
    }

    /// Applies one policy change (`None` = deleted) and re-evaluates only the classes the old
    /// or new version can select. Returns the new version's validation errors, if any; an
    /// invalid policy is treated as absent.
    pub fn update_policy(
        &mut self,
        id: &ObjectRef,
        policy: Option<&PolicyInfo>,
    ) -> (UpdateStats, Vec<ValidationError>) {
        let old = self.policies.remove(id);
        self.invalid.remove(id);
        let mut errors = Vec::new();
        let new = match policy {
            Some(p) => {
                self.snapshot.policies.insert(id.clone(), p.clone());
                match compile_policy(p) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors = e.clone();
                        self.invalid.insert(id.clone(), e);
                        None
                    }
                }
            }
            None => {
                self.snapshot.policies.remove(id);
                None
            }
        };
        let candidates = self
            .classes
            .by_namespace
            .get(&id.namespace)
            .cloned()
            .unwrap_or_default();
        let affected: Vec<usize> = candidates
            .into_iter()
            .filter(|&c| {
                let ep = &self.classes.classes[c].endpoint;
                old.iter().chain(new.iter()).any(|p| selects(p, ep))
            })
            .collect();
        if let Some(new) = new {
            self.policies.insert(id.clone(), new);
        }
        // Pod IPs split classes only in Match mode, and only by the ipBlocks that exist.
        if self.settings.ip_block_pods == IpBlockPods::Match
            && distinct_ip_blocks(self.policies.values()) != self.classes.ip_blocks
        {
            self.rebuild();
            let stats = UpdateStats {
                recomputed_classes: self.classes.classes.len(),
                full_rebuild: true,
            };
            return (stats, errors);
        }
        self.refresh_classes(affected.iter().copied());
        let stats = UpdateStats {
            recomputed_classes: affected.len(),
            full_rebuild: false,
        };
        (stats, errors)
    }

    /// Recomputes which policies select each of `classes`, and their rows.
    fn refresh_classes(&mut self, classes: impl IntoIterator<Item = usize>) {
        let mut builder = RowBuilder::new(&self.classes, self.settings.ip_block_pods);
        for c in classes {
            let ep = &self.classes.classes[c].endpoint;
            let start = ObjectRef::new(ep.namespace.as_str(), "");
            let in_namespace = self
                .policies
                .range(start..)
                .take_while(|(id, _)| id.namespace == ep.namespace)
                .map(|(_, p)| p);
            let mut selecting: [Vec<&CompiledPolicy>; 2] = Default::default();
            for p in in_namespace.filter(|p| selects(p, ep)) {
                for d in DIRS {
                    if p.rules(d).is_some() {
                        selecting[di(d)].push(p);
                    }
                }
            }
            self.rows[c] = DIRS.map(|d| {
                let sel = &selecting[di(d)];
                (!sel.is_empty()).then(|| builder.row(d, ep, sel))
            });
            self.selecting[c] = selecting.map(|sel| sel.iter().map(|p| p.id.clone()).collect());
        }
    }

    /// What the policies in `selecting` (all selecting `subject`) allow between `subject` and
    /// `other` in direction `dir`.
    pub(crate) fn direction_allows(
        &self,
        dir: Direction,
        subject: &Endpoint,
        selecting: &[ObjectRef],
        other: Target,
    ) -> ConnSet {
        let mut acc = ConnSet::none();
        for p in selecting.iter().filter_map(|id| self.policies.get(id)) {
            for rule in p.rules(dir).unwrap_or_default() {
                if rule_peer_matches(rule, p.namespace(), other, self.settings.ip_block_pods) {
                    // Named ports always resolve against the destination.
                    let dst = match (dir, other) {
                        (Direction::Ingress, _) => Some(subject),
                        (Direction::Egress, Target::Pod(e)) => Some(e),
                        (Direction::Egress, Target::External(_)) => None,
                    };
                    acc.union_with(&rule_ports(rule, dst));
                }
            }
        }
        acc
    }

    fn side(&self, dir: Direction, subject: usize, other: &Peer) -> ConnSet {
        if let (Some(row), Peer::Class(o)) = (&self.rows[subject][di(dir)], other) {
            return match *o < self.classes.classes.len() {
                true => row.get(*o).clone(),
                false => ConnSet::none(),
            };
        }
        let sel = &self.selecting[subject][di(dir)];
        if sel.is_empty() {
            return ConnSet::all();
        }
        let ep = &self.classes.classes[subject].endpoint;
        match other {
            Peer::Class(o) => match self.classes.classes.get(*o) {
                Some(oc) => self.direction_allows(dir, ep, sel, Target::Pod(&oc.endpoint)),
                None => ConnSet::none(),
            },
            Peer::External(r) => self.direction_allows(dir, ep, sel, Target::External(r)),
        }
    }

    /// Connections allowed from `src` to `dst`: source egress AND destination ingress.
    /// External ends have no policies, so their side allows everything.
    pub fn allowed(&self, src: &Peer, dst: &Peer) -> ConnSet {
        let valid = |p: &Peer| match p {
            Peer::Class(c) => *c < self.classes.classes.len(),
            Peer::External(_) => true,
        };
        if !valid(src) || !valid(dst) {
            return ConnSet::none();
        }
        let egress = match src {
            Peer::Class(s) => self.side(Direction::Egress, *s, dst),
            Peer::External(_) => ConnSet::all(),
        };
        let ingress = match dst {
            Peer::Class(d) => self.side(Direction::Ingress, *d, src),
            Peer::External(_) => ConnSet::all(),
        };
        egress.intersect(&ingress)
    }

    /// Shortcut for two pods of the snapshot.
    pub fn allowed_between_pods(&self, src: &ObjectRef, dst: &ObjectRef) -> Option<ConnSet> {
        let s = self.class_of(src)?;
        let d = self.class_of(dst)?;
        Some(self.allowed(&Peer::Class(s), &Peer::Class(d)))
    }

    pub fn class_of(&self, pod: &ObjectRef) -> Option<usize> {
        self.classes.of_pod.get(pod).copied()
    }

    /// Gives up the ability to rebuild or update in exchange for memory: drops the pods and the
    /// policy objects of the kept snapshot (only `rebuild`/`update_policy` read them; classes and
    /// compiled policies hold what queries need). For analyses that only answer questions, like
    /// the console's, which builds a new engine per change.
    pub fn into_read_only(mut self) -> ReadOnlyEngine {
        self.snapshot.pods = Default::default();
        self.snapshot.policies = Default::default();
        ReadOnlyEngine(self)
    }

    /// The snapshot the engine was built from.
    pub fn snapshot(&self) -> &ClusterSnapshot {
        &self.snapshot
    }

    pub fn classes(&self) -> &Classes {
        &self.classes
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn policies(&self) -> &BTreeMap<ObjectRef, CompiledPolicy> {
        &self.policies
    }

    /// Policies selecting a class in one direction; non-empty means isolated.
    pub fn selecting(&self, class: usize, dir: Direction) -> &[ObjectRef] {
        self.selecting
            .get(class)
            .map(|s| s[di(dir)].as_slice())
            .unwrap_or_default()
    }

    pub fn is_isolated(&self, class: usize, dir: Direction) -> bool {
        !self.selecting(class, dir).is_empty()
    }

    pub fn validation_errors(&self) -> impl Iterator<Item = &ValidationError> {
        self.invalid.values().flatten()
    }

    pub fn externals(&self) -> Externals {
        externals(self.policies.values())
    }

    /// The cached row of an isolated class in one direction; `None` when not isolated (then
    /// it allows everything).
    pub fn row(&self, class: usize, dir: Direction) -> Option<&Row> {
        self.rows.get(class)?[di(dir)].as_deref()
    }

    /// Cached rows, dense, for comparing an incremental update with a full rebuild.
    pub fn rows_fingerprint(&self) -> Vec<[Option<Vec<ConnSet>>; 2]> {
        let n = self.classes.classes.len();
        let dense = |row: &Option<Arc<Row>>| {
            row.as_ref()
                .map(|row| (0..n).map(|o| row.get(o).clone()).collect())
        };
        self.rows
            .iter()
            .map(|[i, e]| [dense(i), dense(e)])
            .collect()
    }
}

/// An engine that answers queries but cannot be rebuilt or updated: its snapshot has no pods.
/// Derefs to `Engine` for every read-only method; `rebuild`/`update_policy` need `&mut Engine`,
/// which this type never hands out.
#[derive(Debug, Clone)]
pub struct ReadOnlyEngine(Engine);

impl std::ops::Deref for ReadOnlyEngine {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.0
    }
}
