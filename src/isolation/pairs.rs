//! The group × group cells of the matrix without visiting every class pair.
//!
//! What class `s` may send to class `d` is `egress(s)[d] ∩ ingress(d)[s]`. Each row is a base
//! value plus a few exceptions (`policy::rows`), so most pairs get `base ∩ base`: those are
//! counted per group pair from how many classes of each group have each base. Only pairs that
//! some row singles out are then looked at one by one, moving their count from the base value
//! to the real one. A cell needs only how many pairs have each value, so the result is the same
//! as visiting every pair.

use std::collections::HashMap;

use super::matrix::Cell;
use crate::policy::{ConnSet, Direction, Engine};

/// Integer keys hashed without SipHash's cost (the keys are not attacker-chosen).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Connection sets interned as small ids, with their intersections memoized.
#[derive(Default)]
struct Values {
    ids: HashMap<ConnSet, usize>,
    /// Ids of sets stored in the engine's rows, by address: rows share their values, so most
    /// look-ups need no hashing of the set itself.
    stored: FastMap<usize, usize>,
    sets: Vec<ConnSet>,
    meets: FastMap<(usize, usize), usize>,
}

impl Values {
    /// The id of a set held by one of the engine's rows (its address stays put while the
    /// engine is borrowed).
    fn stored_id(&mut self, set: &ConnSet) -> usize {
        let address = set as *const ConnSet as usize;
        if let Some(&id) = self.stored.get(&address) {
            return id;
        }
        let id = self.id(set);
        self.stored.insert(address, id);
        id
    }

    fn id(&mut self, set: &ConnSet) -> usize {
        if let Some(&id) = self.ids.get(set) {
            return id;
        }
        self.sets.push(set.clone());
        self.ids.insert(set.clone(), self.sets.len() - 1);
        self.sets.len() - 1
    }

    fn meet(&mut self, a: usize, b: usize) -> usize {
        if let Some(&id) = self.meets.get(&(a, b)) {
            return id;
        }
        let id = self.id(&self.sets[a].intersect(&self.sets[b]));
        self.meets.insert((a, b), id);
        id
    }
}

/// How many pairs of a cell have each value (by id).
type Tally = Vec<(usize, i64)>;

fn count(tally: &mut Tally, value: usize, n: i64) {
    match tally.iter_mut().find(|(v, _)| *v == value) {
        Some((_, c)) => *c += n,
        None => tally.push((value, n)),
    }
}

/// `cells[a][b]` over all class pairs from `members[a]` × `members[b]`.
pub fn class_cells(engine: &Engine, members: &[&[usize]]) -> Vec<Vec<Cell>> {
    class_cells_touching(engine, members, &vec![true; members.len()], &[])
}

/// As [`class_cells`], computing only the rows and columns of the `touched` groups and taking
/// the other cells from `previous` (computed with the same members): after a change to the rows
/// of some classes, only their groups' cells can differ. The rows single out pairs by the
/// million, so the untouched ones are not even visited: each row is searched for the touched
/// groups' class ranges only.
pub fn class_cells_touching(
    engine: &Engine,
    members: &[&[usize]],
    touched: &[bool],
    previous: &[Vec<Cell>],
) -> Vec<Vec<Cell>> {
    let n = engine.classes().classes.len();
    let mut values = Values::default();
    let all = values.id(&ConnSet::all());
    let mut base = |dir: Direction| -> Vec<usize> {
        (0..n)
            .map(|c| {
                engine
                    .row(c, dir)
                    .map_or(all, |r| values.stored_id(&r.base))
            })
            .collect()
    };
    let egress_base = base(Direction::Egress);
    let ingress_base = base(Direction::Ingress);
    let mut group_of = vec![usize::MAX; n];
    for (g, classes) in members.iter().enumerate() {
        for &c in classes.iter() {
            group_of[c] = g;
        }
    }
    let wanted = |gs: usize, gd: usize| touched[gs] || touched[gd];
    let histogram = |bases: &[usize], classes: &[usize]| {
        let mut h = Tally::new();
        for &c in classes {
            count(&mut h, bases[c], 1);
        }
        h
    };
    let out_hist: Vec<Tally> = members.iter().map(|m| histogram(&egress_base, m)).collect();
    let in_hist: Vec<Tally> = members
        .iter()
        .map(|m| histogram(&ingress_base, m))
        .collect();
    let mut tallies: Vec<Vec<Tally>> = (out_hist.iter().enumerate())
        .map(|(gs, src)| {
            (in_hist.iter().enumerate())
                .map(|(gd, dst)| {
                    let mut t = Tally::new();
                    if !wanted(gs, gd) {
                        return t;
                    }
                    for &(e, ne) in src {
                        for &(i, ni) in dst {
                            count(&mut t, values.meet(e, i), ne * ni);
                        }
                    }
                    t
                })
                .collect()
        })
        .collect();

    let touched_class: Vec<bool> = (group_of.iter())
        .map(|&g| g != usize::MAX && touched[g])
        .collect();
    singled_out_pairs(engine, &touched_class, |s, d| {
        let (gs, gd) = (group_of[s], group_of[d]);
        if gs == usize::MAX || gd == usize::MAX || !wanted(gs, gd) {
            return;
        }
        let side = |c: usize, dir: Direction, other: usize, values: &mut Values| {
            engine
                .row(c, dir)
                .map_or(all, |r| values.stored_id(r.get(other)))
        };
        let egress = side(s, Direction::Egress, d, &mut values);
        let ingress = side(d, Direction::Ingress, s, &mut values);
        let actual = values.meet(egress, ingress);
        let default = values.meet(egress_base[s], ingress_base[d]);
        if actual != default {
            count(&mut tallies[gs][gd], default, -1);
            count(&mut tallies[gs][gd], actual, 1);
        }
    });

    (tallies.iter().enumerate())
        .map(|(gs, row)| {
            (row.iter().enumerate())
                .map(|(gd, t)| match wanted(gs, gd) {
                    true => cell(t, &values.sets),
                    false => previous[gs][gd].clone(),
                })
                .collect()
        })
        .collect()
}

/// Visits the pairs (source, destination) where either end's row has an exception for the
/// other, each once, without collecting them: at 20k pods they can be ten million (160 MB as a
/// list). Only pairs with an end in `touched` (per class): a row of an untouched class is
/// searched for the touched classes' ranges alone.
fn singled_out_pairs(engine: &Engine, touched: &[bool], mut visit: impl FnMut(usize, usize)) {
    let n = engine.classes().classes.len();
    let runs = runs_of(touched);
    // The classes a row singles out that pair with its own class: all of them when it is
    // touched, else those among the touched.
    let each_other = |c: usize, dir: Direction, visit: &mut dyn FnMut(usize)| {
        let Some(row) = engine.row(c, dir) else {
            return;
        };
        if touched[c] {
            row.exception_classes().for_each(visit);
        } else {
            for run in &runs {
                row.exception_classes_in(run.clone()).for_each(&mut *visit);
            }
        }
    };
    for s in 0..n {
        each_other(s, Direction::Egress, &mut |d| visit(s, d));
    }
    // A pair both ends single out was counted with the source's egress row.
    let singles_out = |c: usize, dir: Direction, other: usize| {
        engine.row(c, dir).is_some_and(|row| row.singles_out(other))
    };
    for d in 0..n {
        each_other(d, Direction::Ingress, &mut |s| {
            if !singles_out(s, Direction::Egress, d) {
                visit(s, d)
            }
        });
    }
}

/// The runs of consecutive class numbers marked in `marked`.
fn runs_of(marked: &[bool]) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (c, _) in marked.iter().enumerate().filter(|(_, m)| **m) {
        match runs.last_mut() {
            Some(run) if run.end == c => run.end = c + 1,
            _ => runs.push(c..c + 1),
        }
    }
    runs
}

fn cell(tally: &Tally, sets: &[ConnSet]) -> Cell {
    let mut cell = Cell::empty();
    let mut all_pairs_all = true;
    for &(value, pairs) in tally.iter().filter(|(_, pairs)| *pairs > 0) {
        let pairs = usize::try_from(pairs).unwrap_or_default();
        cell.add_pairs(&sets[value], pairs, &mut all_pairs_all);
    }
    cell.finish(all_pairs_all && cell.pairs_total > 0);
    cell
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isolation::matrix::{classes_by_group, fill};
    use crate::isolation::tenants::TenantRules;
    use crate::model::ClusterSnapshot;
    use crate::policy::{IpBlockPods, Peer, Settings};
    use crate::sim::Scenario;

    /// Every class pair visited one by one, as the matrix did before.
    fn pair_by_pair(engine: &Engine, members: &[&[usize]]) -> Vec<Vec<Cell>> {
        let pairs = |src: &[usize], dst: &[usize]| -> Vec<(Peer, Peer)> {
            src.iter()
                .flat_map(|s| dst.iter().map(|d| (Peer::Class(*s), Peer::Class(*d))))
                .collect()
        };
        members
            .iter()
            .map(|src| {
                members
                    .iter()
                    .map(|dst| fill(pairs(src, dst).into_iter(), engine))
                    .collect()
            })
            .collect()
    }

    /// Four tenants of two namespaces with two workloads each. Every workload's ingress admits
    /// one workload of the next tenant and its egress reaches one of the tenant before, so
    /// rows single out classes of other groups in both directions and no cell is closed by
    /// one side alone.
    fn ring_of_tenants() -> ClusterSnapshot {
        use crate::model::fixture::{namespace, pod, policy};
        let mut snapshot = ClusterSnapshot::default();
        let tenants = ["t0", "t1", "t2", "t3"];
        for (t, tenant) in tenants.iter().enumerate() {
            let (next, prev) = (tenants[(t + 1) % 4], tenants[(t + 3) % 4]);
            for ns in ["a", "b"] {
                let ns = format!("{tenant}-{ns}");
                snapshot.upsert(namespace(&ns, &[("tenant", tenant)]));
                for app in ["web", "db"] {
                    snapshot.upsert(pod(&ns, app, &[("app", app)]));
                }
                for (app, port) in [("web", 80), ("db", 5432)] {
                    snapshot.upsert(policy(&format!(
                        "metadata: {{name: {app}, namespace: {ns}}}\nspec:\n  \
                         podSelector: {{matchLabels: {{app: {app}}}}}\n  \
                         policyTypes: [Ingress, Egress]\n  ingress: [{{from: \
                         [{{namespaceSelector: {{matchLabels: {{tenant: {next}}}}}, \
                         podSelector: {{matchLabels: {{app: web}}}}}}], \
                         ports: [{{port: {port}}}]}}]\n  egress: [{{to: \
                         [{{namespaceSelector: {{matchLabels: {{tenant: {prev}}}}}, \
                         podSelector: {{matchLabels: {{app: db}}}}}}]}}]\n"
                    )));
                }
            }
        }
        snapshot
    }

    /// After a policy's change, recomputing only the groups of the classes whose rows changed
    /// gives the cells a full count gives, for each policy deleted in turn.
    #[test]
    fn only_the_changed_classes_groups_are_counted_again_with_the_same_result() {
        let snapshot = ring_of_tenants();
        let engine = Engine::new(&snapshot, Settings::uniform(IpBlockPods::Ignore));
        let by_group = classes_by_group(&engine, &snapshot, &TenantRules::default());
        let members: Vec<&[usize]> = by_group.values().map(Vec::as_slice).collect();
        assert_eq!(members.len(), 4, "one group per tenant");
        let before = class_cells(&engine, &members);
        for id in snapshot.policies.keys() {
            let mut after = engine.clone();
            let (stats, _) = after.update_policy(id, None);
            assert!(!stats.full_rebuild);
            let changed = after.row_handles().changed_since(&engine.row_handles());
            let changed = changed.expect("the same classes");
            assert_eq!(changed.len(), 1, "{id} selects one workload");
            let touched: Vec<bool> = (members.iter())
                .map(|classes| classes.iter().any(|c| changed.binary_search(c).is_ok()))
                .collect();
            let full = class_cells(&after, &members);
            assert_ne!(full, before, "deleting {id} opens something");
            assert_eq!(
                class_cells_touching(&after, &members, &touched, &before),
                full,
                "{id} deleted"
            );
        }
    }

    #[test]
    fn counting_by_base_values_equals_visiting_every_pair() {
        let scenarios = [
            Scenario::builtin(),
            Scenario::generated("30,700,160".parse().unwrap()),
        ];
        for scenario in scenarios {
            let snapshot = scenario.snapshot().unwrap();
            for ip_block_pods in [IpBlockPods::Ignore, IpBlockPods::Match] {
                let engine = Engine::new(&snapshot, Settings::uniform(ip_block_pods));
                let by_group = classes_by_group(&engine, &snapshot, &TenantRules::default());
                let members: Vec<&[usize]> = by_group.values().map(Vec::as_slice).collect();
                assert_eq!(
                    class_cells(&engine, &members),
                    pair_by_pair(&engine, &members)
                );
            }
        }
    }
}
