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
    let mut tallies: Vec<Vec<Tally>> = out_hist
        .iter()
        .map(|src| {
            in_hist
                .iter()
                .map(|dst| {
                    let mut t = Tally::new();
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

    for (s, d) in singled_out_pairs(engine) {
        let (gs, gd) = (group_of[s], group_of[d]);
        if gs == usize::MAX || gd == usize::MAX {
            continue;
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
    }

    tallies
        .iter()
        .map(|row| row.iter().map(|t| cell(t, &values.sets)).collect())
        .collect()
}

/// Pairs (source, destination) where either end's row has an exception for the other, each
/// once, without collecting them: at 20k pods they can be ten million (160 MB as a list).
fn singled_out_pairs(engine: &Engine) -> impl Iterator<Item = (usize, usize)> + '_ {
    let n = engine.classes().classes.len();
    let singles_out = |c: usize, dir: Direction, other: usize| {
        engine.row(c, dir).is_some_and(|row| row.singles_out(other))
    };
    let by_egress = (0..n).flat_map(move |s| {
        let row = engine.row(s, Direction::Egress);
        row.into_iter()
            .flat_map(|row| row.exception_classes())
            .map(move |d| (s, d))
    });
    // A pair both ends single out was counted with the source's egress row.
    let by_ingress = (0..n).flat_map(move |d| {
        let row = engine.row(d, Direction::Ingress);
        row.into_iter()
            .flat_map(|row| row.exception_classes())
            .filter(move |&s| !singles_out(s, Direction::Egress, d))
            .map(move |s| (s, d))
    });
    by_egress.chain(by_ingress)
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
