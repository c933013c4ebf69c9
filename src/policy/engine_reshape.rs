//! Pods that need a class of their own (relabelled to labels no pod has) or leave one empty:
//! the classes are renumbered, only the new classes' rows are computed, and every kept row
//! gains the new classes' values, instead of every row being computed again. A child of
//! `engine`.

use super::*;
use crate::policy::classes::{PodClass, Reshape};

impl Engine {
    /// Places the changed pods (already in the snapshot) into the classes as a fresh build
    /// would: pods that only moved between classes leave every row as it is; classes formed
    /// or dropped renumber the others. `None` when the classes must be built again instead
    /// (Calico's rows, or an order of the kept classes that changes).
    pub(super) fn reshape_classes(&mut self, changed: &[ObjectRef]) -> Option<UpdateStats> {
        if self.settings.cni == Cni::Calico {
            return None;
        }
        let reshape = Arc::make_mut(&mut self.classes).reshape(changed, &self.snapshot)?;
        if reshape.only_moved() {
            return Some(UpdateStats {
                recomputed_classes: 0,
                full_rebuild: false,
                renumbered: false,
            });
        }
        let n = self.classes.classes.len();
        renumber(&mut self.selecting, &reshape, n);
        renumber(&mut self.tier_selecting, &reshape, n);
        renumber(&mut self.native_selecting, &reshape, n);
        renumber(&mut self.native_pod_unknown, &reshape, n);
        renumber(&mut self.calico_selecting, &reshape, n);
        renumber(&mut self.calico_unknown, &reshape, n);
        let mut rows = vec![[None, None]; n];
        for (from, to) in reshape.former.iter().enumerate() {
            if let Some(to) = to {
                rows[*to] = std::mem::take(&mut self.rows[from]);
            }
        }
        self.rows = rows;
        self.add_columns(&reshape);
        self.refresh_classes(reshape.formed.iter().copied());
        Some(UpdateStats {
            recomputed_classes: reshape.formed.len(),
            full_rebuild: false,
            renumbered: true,
        })
    }

    /// Every kept row, with its classes renumbered, gains its values at the `formed` classes
    /// (whose own rows are still empty). Each distinct row is worked once: its value at a new
    /// class is computed against that class alone.
    fn add_columns(&mut self, reshape: &Reshape) {
        let formed = reshape.formed.as_slice();
        let alone = Classes {
            classes: (formed.iter())
                .map(|&c| PodClass {
                    endpoint: self.classes.classes[c].endpoint.clone(),
                    members: Arc::default(),
                })
                .collect(),
            by_namespace: formed.iter().enumerate().fold(
                BTreeMap::new(),
                |mut by_ns: BTreeMap<String, Vec<usize>>, (i, &c)| {
                    let ns = &self.classes.classes[c].endpoint.namespace;
                    by_ns.entry(ns.clone()).or_default().push(i);
                    by_ns
                },
            ),
            ip_blocks: self.classes.ip_blocks.clone(),
        };
        let mut builder = RowBuilder::new(
            &alone,
            self.settings.ip_block_pods,
            self.settings.tier_networks,
        );
        let mut done: HashMap<*const Row, Arc<Row>> = HashMap::new();
        let mut rows = std::mem::take(&mut self.rows);
        for (class, row) in rows.iter_mut().enumerate() {
            for d in DIRS {
                let Some(old) = &row[di(d)] else { continue };
                if let Some(new) = done.get(&Arc::as_ptr(old)) {
                    row[di(d)] = Some(new.clone());
                    continue;
                }
                let selecting: Vec<&CompiledPolicy> = (self.selecting(class, d).iter())
                    .filter_map(|id| self.policies.get(id))
                    .collect();
                let tiers: Vec<&CompiledTier> = (self.tier_selecting(class, d).iter())
                    .filter_map(|id| self.tiers.get(id))
                    .collect();
                let natives = self.native_rules(class, d);
                let subject = &self.classes.classes[class].endpoint;
                let column = builder.row(d, subject, &selecting, &tiers, &natives);
                let new = Arc::new(with_columns(old, &reshape.former, formed, &column));
                done.insert(Arc::as_ptr(old), new.clone());
                row[di(d)] = Some(new);
            }
        }
        self.rows = rows;
    }
}

/// A per-class list in the new numbering; the new classes' entries empty until refreshed.
fn renumber<T: Clone + Default>(list: &mut Arc<Vec<T>>, reshape: &Reshape, n: usize) {
    let mut out = vec![T::default(); n];
    for (from, to) in reshape.former.iter().enumerate() {
        if let (Some(to), Some(item)) = (to, list.get(from)) {
            out[*to] = item.clone();
        }
    }
    *list = Arc::new(out);
}

/// `old` renumbered (`former`: each old class's new number, `None` for a class gone), with its
/// values at the `formed` classes taken from `column` (a row over those classes alone, in
/// order).
fn with_columns(old: &Row, former: &[Option<usize>], formed: &[usize], column: &Row) -> Row {
    let mut values = old.values.clone();
    let mut value_of = |set: &ConnSet| -> u32 {
        let at = values.iter().position(|v| v == set).unwrap_or_else(|| {
            values.push(set.clone());
            values.len() - 1
        });
        u32::try_from(at).unwrap_or(u32::MAX)
    };
    let number = |c: usize| u32::try_from(c).unwrap_or(u32::MAX);
    let mut added = (formed.iter().enumerate())
        .filter(|(i, _)| column.get(*i) != &old.base)
        .map(|(i, &c)| (number(c), value_of(column.get(i))))
        .collect::<Vec<_>>()
        .into_iter()
        .peekable();
    let mut exceptions = Vec::with_capacity(old.exceptions.len() + formed.len());
    for &(c, v) in &old.exceptions {
        let Some(to) = former.get(c as usize).copied().flatten() else {
            continue;
        };
        let to = number(to);
        exceptions.extend(std::iter::from_fn(|| added.next_if(|(k, _)| *k < to)));
        exceptions.push((to, v));
    }
    exceptions.extend(added);
    compact(Row {
        base: old.base.clone(),
        exceptions,
        values,
    })
}

/// Drops the values no exception uses any more (a class gone was the only one with it).
fn compact(mut row: Row) -> Row {
    let mut used = vec![false; row.values.len()];
    for &(_, v) in &row.exceptions {
        used[v as usize] = true;
    }
    if used.iter().all(|u| *u) {
        return row;
    }
    let mut new_index = vec![0u32; used.len()];
    let mut kept = Vec::new();
    for (i, value) in std::mem::take(&mut row.values).into_iter().enumerate() {
        if used[i] {
            new_index[i] = u32::try_from(kept.len()).unwrap_or(u32::MAX);
            kept.push(value);
        }
    }
    for (_, v) in &mut row.exceptions {
        *v = new_index[*v as usize];
    }
    row.values = kept;
    row
}
