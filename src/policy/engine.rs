//! The reachability engine: compiled policies over pod classes, with per-class cached rows and
//! an incremental update when one policy changes.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use super::addresses::PodAddresses;
use super::calico::{CalicoTier, CompiledCalico};
use super::cilium::{self, CiliumPeer, CiliumRule, CompiledNative, Entity, compile_native};
use super::classes::{Classes, build_classes, distinct_ip_blocks, tier_networks};
use super::compile::{CompiledPolicy, Direction, compile_policy};
use super::connset::ConnSet;
use super::decide::{self, Matched, SideResult, Trace};
use super::error::ValidationError;
use super::externals::{Externals, externals_with};
use super::ipset::{IpRange, IpSet};
use super::matching::{Endpoint, IpBlockPods, Target, rule_peer_matches, rule_ports, selects};
use super::rows::{Row, RowBuilder};
use super::settings::Cni;
use super::tier::{CompiledTier, compile_tier};
use super::tier_match::{applies, tier_rule_matches, tier_rule_ports, tier_selects};
use crate::model::{
    ClusterSnapshot, NativeKind, NativePolicyInfo, NativeRef, ObjectRef, PolicyInfo,
    TierPolicyInfo, TierRef,
};

#[path = "engine_calico.rs"]
mod calico_side;
#[path = "engine_native.rs"]
mod native_side;
#[path = "engine_queries.rs"]
mod queries;
#[path = "engine_reshape.rs"]
mod reshape;
#[path = "engine_workloads.rs"]
mod workloads;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settings {
    /// Whether NetworkPolicy ipBlocks match pod IPs.
    pub ip_block_pods: IpBlockPods,
    /// Whether tier policies' `networks` peers match pod IPs (the API says they do).
    pub tier_networks: IpBlockPods,
    /// Whose native kinds are enforced, in whose order.
    pub cni: Cni,
}

impl Settings {
    /// Both kinds of CIDR peers treated alike (netpol-analyzer ignores pods for both).
    pub fn uniform(mode: IpBlockPods) -> Settings {
        Settings {
            ip_block_pods: mode,
            tier_networks: mode,
            cni: Cni::Cilium,
        }
    }
}

/// What is allowed between two ends, and what depends on peers palisade cannot decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed, with undecidable peers taken as not matching.
    pub allowed: ConnSet,
    /// Connections whose verdict depends on node IPs or DNS names.
    pub undecided: ConnSet,
}

/// One end of a connection: a class of pods or a range of external addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Class(usize),
    External(IpRange),
}

/// A Cilium rule: its policy and its index there.
type NativeRule = (NativeRef, usize);

/// What an incremental update did, so callers (and tests) can see it stayed local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpdateStats {
    pub recomputed_classes: usize,
    pub full_rebuild: bool,
    /// Classes were formed or dropped and the others renumbered, without a full rebuild: the
    /// new classes' rows and a column in each kept row were computed.
    pub renumbered: bool,
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
    policies: Arc<BTreeMap<ObjectRef, CompiledPolicy>>,
    invalid: BTreeMap<ObjectRef, Vec<ValidationError>>,
    tiers: Arc<BTreeMap<TierRef, CompiledTier>>,
    tier_invalid: BTreeMap<TierRef, Vec<ValidationError>>,
    /// Valid Cilium policies (CNP, CCNP).
    natives: Arc<BTreeMap<NativeRef, CompiledNative>>,
    /// Invalid native objects of either family.
    native_invalid: BTreeMap<NativeRef, Vec<ValidationError>>,
    /// Valid Calico policies (NetworkPolicy, GlobalNetworkPolicy) and Tiers by name.
    calico: Arc<BTreeMap<NativeRef, CompiledCalico>>,
    calico_tiers: BTreeMap<String, CalicoTier>,
    /// Shared with the read-only copies handed out (replaced, never changed in place).
    classes: Arc<Classes>,
    /// Per class and direction, the policies that select it (isolation when non-empty).
    selecting: Arc<Vec<[Vec<ObjectRef>; 2]>>,
    /// Per class and direction, the tier policies that select it and have rules there.
    tier_selecting: Arc<Vec<[Vec<TierRef>; 2]>>,
    /// Per class and direction, the Cilium rules (policy, rule index) that select it and say
    /// something there.
    native_selecting: Arc<Vec<[Vec<NativeRule>; 2]>>,
    /// Per class and direction, whether a selecting Cilium rule has a peer that may or may
    /// not be a pod (then queries skip the cached row, which cannot hold undecided parts).
    native_pod_unknown: Arc<Vec<[bool; 2]>>,
    /// Under Calico: per class and direction, the Calico policies selecting it, and whether
    /// one of their rules has a match palisade cannot decide (then queries skip the row).
    calico_selecting: Arc<Vec<[Vec<NativeRef>; 2]>>,
    calico_unknown: Arc<Vec<[bool; 2]>>,
    /// Per class and direction, what it allows from (ingress) or to (egress) every class;
    /// `None` when no policy of any kind selects it there (then everything is allowed).
    /// Classes with equal inputs share a row.
    rows: Vec<[Option<Arc<Row>>; 2]>,
    /// Pods by address, kept by `into_read_only` when it drops the pod objects: flows that name
    /// an end by address only must still find its pod. Built when the first read-only copy is
    /// made, shared with the copies, patched as pods change.
    pod_addresses: PodAddresses,
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
        let mut tiers = BTreeMap::new();
        let mut tier_invalid = BTreeMap::new();
        for (id, p) in &snapshot.tiers {
            match compile_tier(p) {
                Ok(c) => {
                    tiers.insert(id.clone(), c);
                }
                Err(e) => {
                    tier_invalid.insert(id.clone(), e);
                }
            }
        }
        let compiled = calico_side::compile_natives(&snapshot);
        let mut engine = Engine {
            settings,
            snapshot,
            policies: Arc::new(policies),
            invalid,
            tiers: Arc::new(tiers),
            tier_invalid,
            natives: Arc::new(compiled.cilium),
            native_invalid: compiled.invalid,
            calico: Arc::new(compiled.calico),
            calico_tiers: compiled.calico_tiers,
            classes: Arc::default(),
            selecting: Arc::default(),
            tier_selecting: Arc::default(),
            native_selecting: Arc::default(),
            native_pod_unknown: Arc::default(),
            calico_selecting: Arc::default(),
            calico_unknown: Arc::default(),
            rows: Vec::new(),
            pod_addresses: PodAddresses::default(),
        };
        engine.rebuild();
        engine
    }

    /// Recomputes classes and every row (after pod or namespace changes).
    pub fn rebuild(&mut self) {
        self.classes = Arc::new(build_classes(&self.snapshot, self.splitting_ip_blocks()));
        let n = self.classes.classes.len();
        self.selecting = Arc::new(vec![Default::default(); n]);
        self.tier_selecting = Arc::new(vec![Default::default(); n]);
        self.native_selecting = Arc::new(vec![Default::default(); n]);
        self.native_pod_unknown = Arc::new(vec![Default::default(); n]);
        self.calico_selecting = Arc::new(vec![Default::default(); n]);
        self.calico_unknown = Arc::new(vec![Default::default(); n]);
        self.rows = vec![Default::default(); n];
        self.refresh_classes(0..n);
    }

    /// The CIDR sets that can tell pods apart by IP under the settings.
    fn splitting_ip_blocks(&self) -> Vec<IpSet> {
        let mut out = match self.settings.ip_block_pods {
            IpBlockPods::Match => distinct_ip_blocks(self.policies.values()),
            IpBlockPods::Ignore => Vec::new(),
        };
        if self.settings.tier_networks == IpBlockPods::Match {
            for set in tier_networks(self.tiers.values()) {
                if !out.contains(&set) {
                    out.push(set);
                }
            }
        }
        if self.settings.cni == Cni::Calico {
            for set in self.calico_nets() {
                if !out.contains(set) {
                    out.push(set.clone());
                }
            }
        }
        out
    }

    /// Applies one tier policy change (`None` = deleted) and re-evaluates only the classes
    /// the old or new version selects. Returns the new version's validation errors.
    pub fn update_tier(
        &mut self,
        id: &TierRef,
        policy: Option<&TierPolicyInfo>,
    ) -> (UpdateStats, Vec<ValidationError>) {
        let old = Arc::make_mut(&mut self.tiers).remove(id);
        self.tier_invalid.remove(id);
        let mut errors = Vec::new();
        let new = match policy {
            Some(p) => {
                self.snapshot.tiers.insert(id.clone(), p.clone());
                match compile_tier(p) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors = e.clone();
                        self.tier_invalid.insert(id.clone(), e);
                        None
                    }
                }
            }
            None => {
                self.snapshot.tiers.remove(id);
                None
            }
        };
        let affected: Vec<usize> = (0..self.classes.classes.len())
            .filter(|&c| {
                let ep: &Endpoint = &self.classes.classes[c].endpoint;
                old.iter().chain(new.iter()).any(|p| tier_selects(p, ep))
            })
            .collect();
        if let Some(new) = new {
            Arc::make_mut(&mut self.tiers).insert(id.clone(), new);
        }
        (self.refresh_after_change(affected), errors)
    }

    /// Re-evaluates the classes a policy change touched; a full rebuild when the CIDR sets that
    /// split classes by pod IP changed (pod IPs split classes only in Match mode, and only by
    /// the CIDRs that exist).
    fn refresh_after_change(&mut self, affected: Vec<usize>) -> UpdateStats {
        if self.splitting_ip_blocks() != self.classes.ip_blocks {
            self.rebuild();
            return UpdateStats {
                recomputed_classes: self.classes.classes.len(),
                full_rebuild: true,
                renumbered: false,
            };
        }
        self.refresh_classes(affected.iter().copied());
        UpdateStats {
            recomputed_classes: affected.len(),
            full_rebuild: false,
            renumbered: false,
        }
    }

    /// Applies one policy change (`None` = deleted) and re-evaluates only the classes the old
    /// or new version can select. Returns the new version's validation errors, if any; an
    /// invalid policy is treated as absent.
    pub fn update_policy(
        &mut self,
        id: &ObjectRef,
        policy: Option<&PolicyInfo>,
    ) -> (UpdateStats, Vec<ValidationError>) {
        let old = Arc::make_mut(&mut self.policies).remove(id);
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
                let ep: &Endpoint = &self.classes.classes[c].endpoint;
                old.iter().chain(new.iter()).any(|p| selects(p, ep))
            })
            .collect();
        if let Some(new) = new {
            Arc::make_mut(&mut self.policies).insert(id.clone(), new);
        }
        (self.refresh_after_change(affected), errors)
    }

    /// Recomputes which policies select each of `classes`, and their rows.
    fn refresh_classes(&mut self, classes: impl IntoIterator<Item = usize>) {
        if self.settings.cni == Cni::Calico {
            return self.refresh_classes_calico(classes);
        }
        let mut builder = RowBuilder::new(
            &self.classes,
            self.settings.ip_block_pods,
            self.settings.tier_networks,
        );
        // Tier subjects select by namespace first: their namespace test runs once per
        // namespace, not once per class.
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
                    super::tier::TierSubject::Namespaces(sel) => sel.matches(ns_labels),
                    super::tier::TierSubject::Pods { namespaces, .. } => {
                        namespaces.matches(ns_labels)
                    }
                })
                .collect();
            let start = ObjectRef::new(ns, "");
            let in_namespace: Vec<&CompiledPolicy> = self
                .policies
                .range(start..)
                .take_while(|(id, _)| id.namespace == ns)
                .map(|(_, p)| p)
                .collect();
            // This namespace's CNPs (a range of the map), then every CCNP.
            let cnp = NativeKind::CiliumNetworkPolicy;
            let ccnp = NativeKind::CiliumClusterwideNetworkPolicy;
            // Cilium's kinds are enforced only when the CNI is Cilium.
            let cilium = self.settings.cni == Cni::Cilium;
            let natives_here: Vec<(&CompiledNative, &CiliumRule)> = self
                .natives
                .range(NativeRef::new(cnp, ns, "")..)
                .take_while(|(id, _)| id.kind == cnp && id.namespace == ns)
                .chain(
                    self.natives
                        .range(NativeRef::new(ccnp, "", "")..)
                        .take_while(|(id, _)| id.kind == ccnp),
                )
                .filter(|_| cilium)
                .flat_map(|(_, p)| p.rules.iter().map(move |r| (p, r)))
                .collect();
            for c in members {
                let ep: &Endpoint = &self.classes.classes[c].endpoint;
                let mut natives: [Vec<(&CompiledNative, &CiliumRule)>; 2] = Default::default();
                for &(p, r) in natives_here
                    .iter()
                    .filter(|(_, r)| r.subject.matches(ep) == Matched::Yes)
                {
                    for d in DIRS {
                        if r.applies(d) {
                            natives[di(d)].push((p, r));
                        }
                    }
                }
                let mut selecting: [Vec<&CompiledPolicy>; 2] = Default::default();
                for p in in_namespace.iter().filter(|p| selects(p, ep)) {
                    for d in DIRS {
                        if p.rules(d).is_some() {
                            selecting[di(d)].push(p);
                        }
                    }
                }
                let mut tiers: [Vec<&CompiledTier>; 2] = Default::default();
                for t in tiers_here.iter().filter(|t| tier_selects(t, ep)) {
                    for d in DIRS {
                        if applies(t, d) {
                            tiers[di(d)].push(t);
                        }
                    }
                }
                self.rows[c] = DIRS.map(|d| {
                    let (sel, tiers, nat) = (&selecting[di(d)], &tiers[di(d)], &natives[di(d)]);
                    (!sel.is_empty() || !tiers.is_empty() || !nat.is_empty())
                        .then(|| builder.row(d, ep, sel, tiers, nat))
                });
                Arc::make_mut(&mut self.native_pod_unknown)[c] = natives
                    .each_ref()
                    .map(|n| n.iter().any(|(_, r)| native_side::may_be_pod_unknown(r)));
                Arc::make_mut(&mut self.native_selecting)[c] =
                    natives.map(|n| n.iter().map(|(p, r)| (p.id.clone(), r.index)).collect());
                Arc::make_mut(&mut self.selecting)[c] =
                    selecting.map(|sel| sel.iter().map(|p| p.id.clone()).collect());
                Arc::make_mut(&mut self.tier_selecting)[c] =
                    tiers.map(|t| t.iter().map(|p| p.id.clone()).collect());
            }
        }
    }

    /// Gives up the ability to rebuild or update in exchange for memory: drops the pods and the
    /// policy objects of the kept snapshot (only `rebuild`/`update_policy` read them; classes and
    /// compiled policies hold what queries need). For analyses that only answer questions, like
    /// the console's, which builds a new engine per change.
    pub fn into_read_only(mut self) -> ReadOnlyEngine {
        self.pod_addresses = self.addresses();
        self.snapshot.pods = Default::default();
        self.snapshot.policies = Default::default();
        self.snapshot.tiers = Default::default();
        self.snapshot.natives = Default::default();
        ReadOnlyEngine(self)
    }

    /// The pod at `ip`, as a read-only engine kept it (a full engine may answer `None` until
    /// it has made a read-only copy: ask its snapshot's pods then).
    pub fn kept_pod_at(&self, ip: IpAddr) -> Option<&ObjectRef> {
        self.pod_addresses.get(ip)
    }

    /// Pods by address, built once and then patched as pods change.
    pub(super) fn addresses(&self) -> PodAddresses {
        self.pod_addresses.built(&self.snapshot.pods)
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

    /// Valid tier policies.
    pub fn tiers(&self) -> &BTreeMap<TierRef, CompiledTier> {
        &self.tiers
    }

    /// Tier policies selecting a class in one direction (with rules in it).
    pub fn tier_selecting(&self, class: usize, dir: Direction) -> &[TierRef] {
        self.tier_selecting
            .get(class)
            .map(|s| s[di(dir)].as_slice())
            .unwrap_or_default()
    }

    /// Policies selecting a class in one direction; non-empty means isolated.
    pub fn selecting(&self, class: usize, dir: Direction) -> &[ObjectRef] {
        self.selecting
            .get(class)
            .map(|s| s[di(dir)].as_slice())
            .unwrap_or_default()
    }

    /// Whether a NetworkPolicy or a Cilium rule in default deny isolates the class.
    pub fn is_isolated(&self, class: usize, dir: Direction) -> bool {
        !self.selecting(class, dir).is_empty()
            || !self.calico_selecting(class, dir).is_empty()
            || self
                .native_rules(class, dir)
                .iter()
                .any(|(_, r)| r.isolates(dir))
    }

    pub fn validation_errors(&self) -> impl Iterator<Item = &ValidationError> {
        self.invalid
            .values()
            .flatten()
            .chain(self.tier_invalid.values().flatten())
            .chain(self.native_invalid.values().flatten())
    }

    /// External address atoms: cut by NetworkPolicy ipBlocks, tier networks and Cilium CIDRs.
    pub fn externals(&self) -> Externals {
        let cilium = self.settings.cni == Cni::Cilium;
        let cidrs = |dir: Direction| -> Vec<&IpSet> {
            let mut out: Vec<&IpSet> = match self.settings.cni {
                Cni::Calico => self.calico_nets(),
                _ => Vec::new(),
            };
            out.extend(
                self.natives
                    .values()
                    .filter(|_| cilium)
                    .flat_map(|p| &p.rules)
                    .flat_map(move |r| r.allows(dir).iter().chain(r.denies(dir)))
                    .flat_map(|pr| pr.peers.iter().flatten())
                    .filter_map(|peer| match peer {
                        CiliumPeer::Cidr { set, .. } => Some(set),
                        _ => None,
                    }),
            );
            out
        };
        externals_with(
            self.policies.values(),
            self.tiers.values(),
            &cidrs(Direction::Ingress),
            &cidrs(Direction::Egress),
        )
    }

    /// The cached row of a class in one direction; `None` when no policy of any kind selects
    /// it there (then it allows everything).
    pub fn row(&self, class: usize, dir: Direction) -> Option<&Row> {
        self.rows.get(class)?[di(dir)].as_deref()
    }

    /// Handles on the cached rows, to tell later which classes an update changed.
    pub fn row_handles(&self) -> RowHandles {
        RowHandles(self.rows.clone())
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

/// The engine's cached rows at one moment, kept across updates to tell which classes' rows
/// they changed (a copy of handles, the rows themselves are shared).
#[derive(Debug, Clone, Default)]
pub struct RowHandles(Vec<[Option<Arc<Row>>; 2]>);

impl RowHandles {
    /// The classes (sorted) whose row in either direction differs from `before`'s. Meaningful
    /// only when the classes are the same ones (no update since re-formed them); `None` when
    /// their number differs.
    pub fn changed_since(&self, before: &RowHandles) -> Option<Vec<usize>> {
        if self.0.len() != before.0.len() {
            return None;
        }
        let same = |a: &Option<Arc<Row>>, b: &Option<Arc<Row>>| match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
            (a, b) => a.is_none() && b.is_none(),
        };
        let changed = (self.0.iter().zip(&before.0).enumerate())
            .filter(|(_, (now, then))| !(same(&now[0], &then[0]) && same(&now[1], &then[1])))
            .map(|(class, _)| class)
            .collect();
        Some(changed)
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
