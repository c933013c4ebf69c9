//! The tenant × tenant isolation matrix, plus exposure to and from outside the cluster.
//! Each cell says whether any connection is allowed between two groups, which, and for how many
//! of the workload pairs.

use std::collections::{BTreeMap, BTreeSet};

use super::pairs::{class_cells, class_cells_touching};
use super::tenants::{Group, TenantRules};
use crate::model::ClusterSnapshot;
use crate::policy::externals::Externals;
use crate::policy::{ConnSet, Engine, Peer};

/// How open a cell is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Nothing allowed.
    Closed,
    /// Some ports or some pod pairs.
    Partial,
    /// Every pod pair allows every connection.
    Open,
    /// Cannot be known: an end lies in namespaces the user cannot see (see `UNSEEN`).
    Unknown,
}

/// The row and column that stand for the namespaces a namespace-scoped user cannot see: every
/// cell to or from them is unknown, never open or closed.
pub const UNSEEN: &str = "other ns";

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Closed => "closed",
            Level::Partial => "partial",
            Level::Open => "open",
            Level::Unknown => "unknown",
        }
    }

    /// A symbol as well as a colour, so the matrix reads without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Level::Closed => "■",
            Level::Partial => "◧",
            Level::Open => "□",
            Level::Unknown => "?",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub level: Level,
    /// Union of what is allowed over all pairs.
    pub conns: ConnSet,
    /// Class pairs with any connection allowed, and pairs in total.
    pub pairs_allowed: usize,
    pub pairs_total: usize,
    /// Connections whose verdict depends on peers palisade cannot decide from objects (tier
    /// rules with `nodes` or `domainNames`, pod → external pairs; namespaceSelectors on labels
    /// the user cannot read, which make the cell unknown), and why.
    pub undecided: ConnSet,
    pub undecided_reasons: Vec<String>,
}

impl Cell {
    pub(super) fn empty() -> Cell {
        Cell {
            level: Level::Closed,
            conns: ConnSet::none(),
            pairs_allowed: 0,
            pairs_total: 0,
            undecided: ConnSet::none(),
            undecided_reasons: Vec::new(),
        }
    }

    /// A cell with an end the user cannot see.
    pub fn unknown() -> Cell {
        Cell {
            level: Level::Unknown,
            ..Cell::empty()
        }
    }

    /// Counts `pairs` pairs that each allow `allowed`.
    pub(super) fn add_pairs(&mut self, allowed: &ConnSet, pairs: usize, all_pairs_all: &mut bool) {
        if pairs == 0 {
            return;
        }
        self.pairs_total += pairs;
        if !allowed.is_empty() {
            self.pairs_allowed += pairs;
            self.conns.union_with(allowed);
        }
        *all_pairs_all &= allowed.is_all();
    }

    pub(super) fn finish(&mut self, all_pairs_all: bool) {
        self.level = if self.conns.is_empty() {
            Level::Closed
        } else if all_pairs_all {
            Level::Open
        } else {
            Level::Partial
        };
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Row and column order: tenants by name, then platform, then unassigned.
    pub groups: Vec<Group>,
    /// `cells[src][dst]`.
    pub cells: Vec<Vec<Cell>>,
    /// Per group: from addresses outside the cluster into the group.
    pub external_in: Vec<Cell>,
    /// Per group: from the group out to addresses outside the cluster.
    pub external_out: Vec<Cell>,
    /// The address ranges outside the cluster that the external cells were computed over.
    pub outside: Externals,
}

impl Matrix {
    pub fn index_of(&self, group: &Group) -> Option<usize> {
        self.groups.iter().position(|g| g == group)
    }

    pub fn cell(&self, src: &Group, dst: &Group) -> Option<&Cell> {
        Some(&self.cells[self.index_of(src)?][self.index_of(dst)?])
    }
}

/// Groups each pod class of the engine by the tenant of its namespace.
pub fn classes_by_group(
    engine: &Engine,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
) -> BTreeMap<Group, Vec<usize>> {
    let mut by_group: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
    for (namespace, classes) in &engine.classes().by_namespace {
        by_group
            .entry(rules.group_in(snapshot, namespace))
            .or_default()
            .extend(classes);
    }
    by_group
}

pub fn tenant_matrix(engine: &Engine, snapshot: &ClusterSnapshot, rules: &TenantRules) -> Matrix {
    tenant_matrix_since(engine, snapshot, rules, None)
}

/// An earlier matrix and what changed since, for [`tenant_matrix_since`].
#[derive(Debug, Clone, Copy)]
pub struct Since<'a> {
    pub matrix: &'a Matrix,
    /// Where classes' rows changed or classes were formed or dropped.
    pub namespaces: &'a BTreeSet<String>,
    /// Nothing else changed about other namespaces' classes (what selects them).
    pub confined: bool,
}

/// As [`tenant_matrix`], given an earlier matrix and what changed since: when the groups are
/// the same, only the changed namespaces' groups' rows and columns are computed again, and,
/// when the changes were confined to them and the outside is cut the same, only their cells
/// to and from outside the cluster.
pub fn tenant_matrix_since(
    engine: &Engine,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
    before: Option<Since>,
) -> Matrix {
    let by_group = classes_by_group(engine, snapshot, rules);
    let mut groups: Vec<Group> = by_group.keys().cloned().collect();
    groups.sort_by_key(group_rank);
    let members: Vec<&[usize]> = groups.iter().map(|g| by_group[g].as_slice()).collect();
    let externals = engine.externals();
    let before = before.filter(|since| since.matrix.groups == groups);
    let touched: Vec<bool> = match before {
        Some(since) => {
            let touched_groups: BTreeSet<Group> = (since.namespaces.iter())
                .map(|ns| rules.group_in(snapshot, ns))
                .collect();
            groups.iter().map(|g| touched_groups.contains(g)).collect()
        }
        None => vec![true; groups.len()],
    };
    let cells = match before {
        Some(since) => class_cells_touching(engine, &members, &touched, &since.matrix.cells),
        None => class_cells(engine, &members),
    };
    // The outside's cells of a group whose classes nothing touched, over the same atoms.
    let kept_outside = before
        .filter(|since| since.confined && since.matrix.outside == externals)
        .map(|since| since.matrix);
    let outside_kept = |g: usize| kept_outside.filter(|_| !touched[g]);
    let external_in = (members.iter().enumerate())
        .map(|(g, dst)| {
            if let Some(kept) = outside_kept(g) {
                return kept.external_in[g].clone();
            }
            let pairs = externals.sources.iter().flat_map(|e| {
                dst.iter()
                    .map(move |d| (Peer::External(*e), Peer::Class(*d)))
            });
            fill(pairs, engine)
        })
        .collect();
    let external_out = (members.iter().enumerate())
        .map(|(g, src)| {
            if let Some(kept) = outside_kept(g) {
                return kept.external_out[g].clone();
            }
            let pairs = src.iter().flat_map(|s| {
                externals
                    .destinations
                    .iter()
                    .map(move |e| (Peer::Class(*s), Peer::External(*e)))
            });
            fill(pairs, engine)
        })
        .collect();
    Matrix {
        groups,
        cells,
        external_in,
        external_out,
        outside: externals,
    }
}

/// Cells for every (row, column) pair of class sets, pair by pair: for the drill-down levels,
/// which are small; the tenant matrix uses `class_cells`, which scales.
pub fn grid(engine: &Engine, rows: &[&[usize]], cols: &[&[usize]]) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|src| {
            cols.iter()
                .map(|dst| {
                    let pairs = src
                        .iter()
                        .flat_map(|s| dst.iter().map(move |d| (Peer::Class(*s), Peer::Class(*d))));
                    fill(pairs, engine)
                })
                .collect()
        })
        .collect()
}

/// One drill-down level below the tenant matrix: namespace × namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceGrid {
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<Cell>>,
}

pub fn namespace_grid(engine: &Engine, rows: Vec<String>, cols: Vec<String>) -> NamespaceGrid {
    let by_ns = &engine.classes().by_namespace;
    let classes = |names: &[String]| -> Vec<Vec<usize>> {
        names
            .iter()
            .map(|n| by_ns.get(n).cloned().unwrap_or_default())
            .collect()
    };
    let (row_classes, col_classes) = (classes(&rows), classes(&cols));
    let cells = grid(engine, &as_slices(&row_classes), &as_slices(&col_classes));
    NamespaceGrid { rows, cols, cells }
}

fn as_slices(v: &[Vec<usize>]) -> Vec<&[usize]> {
    v.iter().map(Vec::as_slice).collect()
}

/// The bottom level: workload (class) pairs between two namespaces, with what each allows.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPair {
    pub src: usize,
    pub dst: usize,
    pub conns: ConnSet,
}

pub fn class_pairs(engine: &Engine, src_namespace: &str, dst_namespace: &str) -> Vec<ClassPair> {
    let by_ns = &engine.classes().by_namespace;
    let none = Vec::new();
    let (srcs, dsts) = (
        by_ns.get(src_namespace).unwrap_or(&none),
        by_ns.get(dst_namespace).unwrap_or(&none),
    );
    srcs.iter()
        .flat_map(|s| dsts.iter().map(move |d| (*s, *d)))
        .map(|(src, dst)| ClassPair {
            src,
            dst,
            conns: engine.allowed(&Peer::Class(src), &Peer::Class(dst)),
        })
        .collect()
}

pub(super) fn fill(pairs: impl Iterator<Item = (Peer, Peer)>, engine: &Engine) -> Cell {
    let mut cell = Cell::empty();
    let mut all_pairs_all = true;
    for (src, dst) in pairs {
        let verdict = engine.verdict(&src, &dst);
        cell.add_pairs(&verdict.allowed, 1, &mut all_pairs_all);
        if !verdict.undecided.is_empty() {
            cell.undecided.union_with(&verdict.undecided);
            for reason in undecided_reasons(engine, &src) {
                if !cell.undecided_reasons.iter().any(|r| r == reason) {
                    cell.undecided_reasons.push(reason.to_string());
                }
            }
        }
    }
    cell.finish(all_pairs_all && cell.pairs_total > 0);
    cell
}

/// Why a source's egress can be undecided: the kinds of undecidable peers in the tier rules
/// that select it.
fn undecided_reasons(engine: &Engine, src: &Peer) -> Vec<&'static str> {
    let Peer::Class(class) = src else {
        return Vec::new();
    };
    engine
        .tier_selecting(*class, crate::policy::Direction::Egress)
        .iter()
        .filter_map(|id| engine.tiers().get(id))
        .flat_map(|p| &p.egress)
        .flat_map(|r| &r.peers)
        .filter_map(|p| p.undecidable_reason())
        .collect()
}

/// Tenants first by name, then the platform, then unassigned namespaces.
pub fn group_rank(group: &Group) -> (u8, String) {
    match group {
        Group::Tenant(name) => (0, name.clone()),
        Group::Platform => (1, String::new()),
        Group::Unassigned => (2, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture::small_cluster;
    use crate::policy::{Protocol, Settings};

    fn matrix() -> Matrix {
        let mut snapshot = ClusterSnapshot::default();
        for object in small_cluster() {
            snapshot.upsert(object);
        }
        let engine = Engine::new(&snapshot, Settings::default());
        tenant_matrix(&engine, &snapshot, &TenantRules::default())
    }

    fn tenant(name: &str) -> Group {
        Group::Tenant(name.into())
    }

    #[test]
    fn drill_down_levels_agree_with_the_tenant_cell() {
        let mut snapshot = ClusterSnapshot::default();
        for object in small_cluster() {
            snapshot.upsert(object);
        }
        let engine = Engine::new(&snapshot, Settings::default());
        let grid = namespace_grid(
            &engine,
            vec!["kube-system".into()],
            vec!["globex-app".into(), "acme-web".into()],
        );
        assert_eq!(
            grid.cells[0][0].conns,
            ConnSet::ports(Protocol::Tcp, 8080, 8080)
        );
        assert_eq!(grid.cells[0][1].level, Level::Closed);
        let pairs = class_pairs(&engine, "kube-system", "globex-app");
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].conns, ConnSet::ports(Protocol::Tcp, 8080, 8080));
    }

    #[test]
    fn groups_are_ordered_tenants_then_platform() {
        assert_eq!(
            matrix().groups,
            vec![tenant("acme"), tenant("globex"), Group::Platform]
        );
    }

    #[test]
    fn deny_all_tenant_is_closed_both_ways() {
        let m = matrix();
        for other in [tenant("globex"), Group::Platform] {
            assert_eq!(
                m.cell(&tenant("acme"), &other).unwrap().level,
                Level::Closed
            );
            assert_eq!(
                m.cell(&other, &tenant("acme")).unwrap().level,
                Level::Closed
            );
        }
        let acme = m.index_of(&tenant("acme")).unwrap();
        assert_eq!(m.external_in[acme].level, Level::Closed);
        assert_eq!(m.external_out[acme].level, Level::Closed);
    }

    #[test]
    fn ingress_only_isolation_is_partial_on_the_allowed_port_and_open_outbound() {
        let m = matrix();
        let into_globex = m.cell(&Group::Platform, &tenant("globex")).unwrap();
        assert_eq!(into_globex.level, Level::Partial);
        assert_eq!(into_globex.conns, ConnSet::ports(Protocol::Tcp, 8080, 8080));
        assert_eq!(
            m.cell(&tenant("globex"), &Group::Platform).unwrap().level,
            Level::Open
        );
        let globex = m.index_of(&tenant("globex")).unwrap();
        assert_eq!(
            m.external_in[globex].conns,
            ConnSet::ports(Protocol::Tcp, 8080, 8080)
        );
        assert_eq!(m.external_out[globex].level, Level::Open);
    }
}

/// The matrix as the views show it: each group's cells, then ext-in and ext-out; when only
/// some namespaces are seen (`scoped`), one more column and one more row, `UNSEEN`, all unknown.
/// Borrows the matrix: at 1,250 tenants it has 1.5 million cells, and a frame shows a few
/// hundred of them.
pub struct ShownGrid<'a> {
    matrix: &'a Matrix,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    unknown: Cell,
}

impl ShownGrid<'_> {
    /// The cell at a shown row and column (both in range).
    pub fn cell(&self, r: usize, c: usize) -> &Cell {
        let m = self.matrix;
        let groups = m.groups.len();
        match (m.cells.get(r), c) {
            (Some(row), c) if c < groups => &row[c],
            (Some(_), c) if c == groups => &m.external_in[r],
            (Some(_), c) if c == groups + 1 => &m.external_out[r],
            _ => &self.unknown,
        }
    }

    /// One shown row's cells, in column order.
    pub fn row(&self, r: usize) -> impl Iterator<Item = &Cell> {
        (0..self.cols.len()).map(move |c| self.cell(r, c))
    }
}

pub fn shown_grid(matrix: &Matrix, scoped: bool) -> ShownGrid<'_> {
    let mut rows: Vec<String> = matrix
        .groups
        .iter()
        .map(|g| g.label().to_string())
        .collect();
    let mut cols = rows.clone();
    cols.extend(["ext-in".to_string(), "ext-out".to_string()]);
    if scoped {
        // Appended after ext-out, so every other cell keeps its place.
        cols.push(UNSEEN.to_string());
        rows.push(UNSEEN.to_string());
    }
    ShownGrid {
        matrix,
        rows,
        cols,
        unknown: Cell::unknown(),
    }
}

#[cfg(test)]
mod unseen_tests {
    use super::*;
    use crate::isolation::tenants::Group;

    #[test]
    fn a_scoped_matrix_has_an_unknown_row_and_column_for_the_unseen_namespaces() {
        let cell = |level| Cell {
            level,
            ..Cell::empty()
        };
        let matrix = Matrix {
            groups: vec![Group::Tenant("acme".into())],
            cells: vec![vec![cell(Level::Open)]],
            external_in: vec![cell(Level::Closed)],
            external_out: vec![cell(Level::Partial)],
            outside: Default::default(),
        };
        let plain = shown_grid(&matrix, false);
        assert_eq!((plain.rows.len(), plain.cols.len()), (1, 3));
        let levels = |grid: &ShownGrid, r| grid.row(r).map(|c| c.level).collect::<Vec<_>>();
        assert_eq!(
            levels(&plain, 0),
            [Level::Open, Level::Closed, Level::Partial]
        );
        let scoped = shown_grid(&matrix, true);
        assert_eq!(scoped.rows, ["acme", UNSEEN]);
        assert_eq!(scoped.cols, ["acme", "ext-in", "ext-out", UNSEEN]);
        // Known cells keep their place and level; every cell touching the unseen is unknown.
        assert_eq!(
            levels(&scoped, 0),
            [Level::Open, Level::Closed, Level::Partial, Level::Unknown]
        );
        assert_eq!(levels(&scoped, 1), [Level::Unknown; 4]);
        assert_eq!(Level::Unknown.symbol(), "?");
    }
}
