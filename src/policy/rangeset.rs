//! Sets of integers stored as sorted, disjoint, non-adjacent inclusive ranges.
//! One implementation serves port sets (1-65535) and IP address sets (IPv4 and IPv6 as u128).

/// Normalized set of inclusive `u128` ranges: sorted, disjoint and never touching, so equal sets
/// have equal representations and printing gives maximal ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RangeSet {
    ranges: Vec<(u128, u128)>,
}

impl RangeSet {
    pub fn empty() -> Self {
        Self::default()
    }

    /// The range `lo..=hi`; empty when `lo > hi`.
    pub fn range(lo: u128, hi: u128) -> Self {
        if lo > hi {
            return Self::empty();
        }
        Self {
            ranges: vec![(lo, hi)],
        }
    }

    pub fn from_ranges(ranges: impl IntoIterator<Item = (u128, u128)>) -> Self {
        let mut v: Vec<(u128, u128)> = ranges.into_iter().filter(|(a, b)| a <= b).collect();
        v.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                // Merge overlapping or adjacent ranges (checked add: hi may be u128::MAX).
                Some(last) if last.1.checked_add(1).is_none_or(|n| lo <= n) => {
                    last.1 = last.1.max(hi);
                }
                _ => out.push((lo, hi)),
            }
        }
        Self { ranges: out }
    }

    pub fn ranges(&self) -> &[(u128, u128)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn contains(&self, x: u128) -> bool {
        let idx = self.ranges.partition_point(|&(_, hi)| hi < x);
        self.ranges.get(idx).is_some_and(|&(lo, _)| lo <= x)
    }

    /// True when every element of `other` is in `self`.
    pub fn is_superset(&self, other: &RangeSet) -> bool {
        other.subtract(self).is_empty()
    }

    pub fn union(&self, other: &RangeSet) -> RangeSet {
        Self::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    pub fn intersect(&self, other: &RangeSet) -> RangeSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a0, a1) = self.ranges[i];
            let (b0, b1) = other.ranges[j];
            let lo = a0.max(b0);
            let hi = a1.min(b1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        // Pieces of two normalized sets are already sorted and non-adjacent.
        Self { ranges: out }
    }

    pub fn subtract(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            let mut cur = lo;
            let mut done = false;
            while j < other.ranges.len() && other.ranges[j].1 < cur {
                j += 1;
            }
            let mut k = j;
            while k < other.ranges.len() && other.ranges[k].0 <= hi {
                let (b0, b1) = other.ranges[k];
                if b0 > cur {
                    out.push((cur, b0 - 1));
                }
                match b1.checked_add(1) {
                    Some(n) if n <= hi => cur = n,
                    _ => {
                        done = true;
                        break;
                    }
                }
                k += 1;
            }
            if !done {
                out.push((cur, hi));
            }
        }
        Self { ranges: out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set_strategy() -> impl Strategy<Value = RangeSet> {
        prop::collection::vec((0u128..200, 0u128..20), 0..6)
            .prop_map(|v| RangeSet::from_ranges(v.into_iter().map(|(a, l)| (a, a + l))))
    }

    fn members(s: &RangeSet) -> Vec<u128> {
        (0u128..230).filter(|x| s.contains(*x)).collect()
    }

    #[test]
    fn merges_adjacent_ranges() {
        let s = RangeSet::from_ranges([(5, 7), (1, 4), (9, 9)]);
        assert_eq!(s.ranges(), &[(1, 7), (9, 9)]);
    }

    #[test]
    fn subtract_splits_a_range() {
        let s = RangeSet::range(1, 65535).subtract(&RangeSet::range(80, 80));
        assert_eq!(s.ranges(), &[(1, 79), (81, 65535)]);
    }

    #[test]
    fn handles_the_top_of_the_domain() {
        let all = RangeSet::range(0, u128::MAX);
        assert!(all.subtract(&all).is_empty());
        let top = RangeSet::range(u128::MAX, u128::MAX);
        assert_eq!(all.subtract(&top).ranges(), &[(0, u128::MAX - 1)]);
        assert_eq!(all.union(&top), all);
    }

    proptest! {
        #[test]
        fn operations_match_membership(a in set_strategy(), b in set_strategy()) {
            let (ma, mb) = (members(&a), members(&b));
            let u: Vec<u128> = (0u128..230).filter(|x| ma.contains(x) || mb.contains(x)).collect();
            let i: Vec<u128> = (0u128..230).filter(|x| ma.contains(x) && mb.contains(x)).collect();
            let d: Vec<u128> = (0u128..230).filter(|x| ma.contains(x) && !mb.contains(x)).collect();
            prop_assert_eq!(members(&a.union(&b)), u);
            prop_assert_eq!(members(&a.intersect(&b)), i);
            prop_assert_eq!(members(&a.subtract(&b)), d);
        }

        #[test]
        fn results_are_normalized(a in set_strategy(), b in set_strategy()) {
            for s in [a.union(&b), a.intersect(&b), a.subtract(&b)] {
                let again = RangeSet::from_ranges(s.ranges().iter().copied());
                prop_assert_eq!(&again, &s);
            }
        }

        #[test]
        fn superset_agrees_with_subtract(a in set_strategy(), b in set_strategy()) {
            prop_assert_eq!(a.is_superset(&b), b.subtract(&a).is_empty());
            prop_assert!(a.union(&b).is_superset(&a));
        }
    }
}
