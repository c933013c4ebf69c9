//! The snapshot's maps: persistent, so that a copy of the whole cluster costs nothing and shares
//! every object with the original. The console's snapshot, the analyst's engine, a rollback's
//! blast radius and the suspects' radius each hold their own version of the cluster, and a
//! change to one copies only the path to the changed entry (a few nodes of up to 64 entries),
//! never the objects: each object is behind an `Arc`, written only by replacing it.

use std::borrow::Borrow;
use std::fmt;
use std::ops::RangeBounds;
use std::sync::Arc;

use imbl::OrdMap;

/// Objects of one kind by their identity, ordered by it.
pub struct Objects<K, V>(OrdMap<K, Arc<V>>);

impl<K: Ord + Clone, V> Objects<K, V> {
    pub fn new() -> Self {
        Self(OrdMap::new())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.0.contains_key(key)
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.0.get(key).map(|object| &**object)
    }

    /// The object itself, to keep or share without copying it.
    pub fn get_shared<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&Arc<V>>
    where
        K: Borrow<Q>,
    {
        self.0.get(key)
    }

    /// Inserts an object; the one it replaces, if any.
    pub fn insert(&mut self, key: K, object: V) -> Option<Arc<V>> {
        self.0.insert(key, Arc::new(object))
    }

    /// Inserts an object another snapshot holds too.
    pub fn insert_shared(&mut self, key: K, object: Arc<V>) -> Option<Arc<V>> {
        self.0.insert(key, object)
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
    {
        self.0.remove(key)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let gone: Vec<K> = (self.0.iter())
            .filter(|(key, object)| !keep(key, object))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &gone {
            self.0.remove(key);
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_ {
        self.0.iter().map(|(key, object)| (key, &**object))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + '_ {
        self.0.keys()
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.0.values().map(|object| &**object)
    }

    pub fn range<R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_ {
        self.0.range(range).map(|(key, object)| (key, &**object))
    }

    /// Whether both hold the very same version (not only equal objects): O(1).
    pub fn same_version(&self, other: &Self) -> bool {
        self.0.ptr_eq(&other.0)
    }
}

impl<K: Ord + Clone, V: Clone> Objects<K, V> {
    /// The object to change in place; copied first when another snapshot shares it.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.0.get_mut(key).map(Arc::make_mut)
    }

    /// The objects themselves, each copied only when another snapshot still holds it.
    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.0
            .into_iter()
            .map(|(_, object)| Arc::unwrap_or_clone(object))
    }
}

/// O(1): the copy shares every node and object with the original.
impl<K, V> Clone for Objects<K, V> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K: Ord + Clone, V> Default for Objects<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone, V: PartialEq> PartialEq for Objects<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.same_version(other)
            || (self.len() == other.len()
                && (self.0.iter().zip(other.0.iter()))
                    .all(|((k, a), (l, b))| k == l && (Arc::ptr_eq(a, b) || a == b)))
    }
}

impl<K: Ord + Clone + fmt::Debug, V: fmt::Debug> fmt::Debug for Objects<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Ord + Clone, V> FromIterator<(K, V)> for Objects<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut objects = Self::new();
        objects.extend(entries);
        objects
    }
}

impl<K: Ord + Clone, V> Extend<(K, V)> for Objects<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (key, object) in entries {
            self.insert(key, object);
        }
    }
}

/// `objects[&key]`: the object, which must be there.
impl<K: Ord + Clone + Borrow<Q>, V, Q: Ord + ?Sized> std::ops::Index<&Q> for Objects<K, V> {
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        &self.0[key]
    }
}

impl<'a, K: Ord + Clone, V> IntoIterator for &'a Objects<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Box<dyn Iterator<Item = (&'a K, &'a V)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(entries: &[(&str, u32)]) -> Objects<String, u32> {
        (entries.iter())
            .map(|(key, value)| (key.to_string(), *value))
            .collect()
    }

    #[test]
    fn a_copy_shares_its_objects_until_one_side_replaces_them() {
        let original = objects(&[("a", 1), ("b", 2)]);
        let mut copy = original.clone();
        assert!(copy.same_version(&original));
        let a = |o: &Objects<String, u32>| Arc::as_ptr(o.get_shared("a").unwrap());
        assert_eq!(a(&copy), a(&original), "one object, two snapshots");

        *copy.get_mut("a").unwrap() = 10;
        copy.insert("c".into(), 3);
        copy.remove("b");
        assert_eq!(
            original,
            objects(&[("a", 1), ("b", 2)]),
            "the original is unchanged"
        );
        assert_eq!(copy, objects(&[("a", 10), ("c", 3)]));
        assert!(!copy.same_version(&original));
    }

    #[test]
    fn equal_contents_are_equal_whatever_their_history() {
        let mut built = objects(&[("a", 1)]);
        built.insert("b".into(), 2);
        assert_eq!(built, objects(&[("a", 1), ("b", 2)]));
        assert_ne!(built, objects(&[("a", 1), ("b", 3)]));
        assert_ne!(built, objects(&[("a", 1)]));
    }

    #[test]
    fn ranges_retain_and_order_follow_the_keys() {
        let mut all = objects(&[("c", 3), ("a", 1), ("b", 2), ("d", 4)]);
        let keys = |o: &Objects<String, u32>| o.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&all), ["a", "b", "c", "d"]);
        let from_b: Vec<u32> = all.range("b".to_string()..).map(|(_, v)| *v).collect();
        assert_eq!(from_b, [2, 3, 4]);
        all.retain(|_, value| value % 2 == 0);
        assert_eq!(keys(&all), ["b", "d"]);
    }
}
