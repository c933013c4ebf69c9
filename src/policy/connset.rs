//! Connection sets: for each protocol, the set of allowed destination ports (1-65535).

use std::fmt;

use super::rangeset::RangeSet;

pub const MIN_PORT: u16 = 1;
pub const MAX_PORT: u16 = 65535;

/// Protocols NetworkPolicy knows. Declaration order is the printing order (string order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Sctp,
    Tcp,
    Udp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Sctp, Protocol::Tcp, Protocol::Udp];

    /// Parses the API spelling (case-sensitive, as the API server validates it).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sctp => "SCTP",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Allowed ports per protocol. Normalized, so `==` is set equality.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ConnSet {
    ports: [RangeSet; 3],
}

fn all_ports() -> RangeSet {
    RangeSet::range(MIN_PORT as u128, MAX_PORT as u128)
}

impl ConnSet {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn all() -> Self {
        Self {
            ports: [all_ports(), all_ports(), all_ports()],
        }
    }

    /// Every port of one protocol.
    pub fn all_of(proto: Protocol) -> Self {
        Self::ports(proto, MIN_PORT, MAX_PORT)
    }

    /// Ports `lo..=hi` of one protocol (clamped to 1-65535; empty when `lo > hi`).
    pub fn ports(proto: Protocol, lo: u16, hi: u16) -> Self {
        let mut s = Self::none();
        s.ports[proto.index()] = RangeSet::range(lo.max(MIN_PORT) as u128, hi as u128);
        s
    }

    pub fn port_set(&self, proto: Protocol) -> &RangeSet {
        &self.ports[proto.index()]
    }

    pub fn is_empty(&self) -> bool {
        self.ports.iter().all(RangeSet::is_empty)
    }

    pub fn is_all(&self) -> bool {
        *self == Self::all()
    }

    pub fn contains(&self, proto: Protocol, port: u16) -> bool {
        self.ports[proto.index()].contains(port as u128)
    }

    fn zip(&self, other: &ConnSet, f: impl Fn(&RangeSet, &RangeSet) -> RangeSet) -> ConnSet {
        ConnSet {
            ports: std::array::from_fn(|i| f(&self.ports[i], &other.ports[i])),
        }
    }

    pub fn union(&self, other: &ConnSet) -> ConnSet {
        self.zip(other, RangeSet::union)
    }

    pub fn intersect(&self, other: &ConnSet) -> ConnSet {
        self.zip(other, RangeSet::intersect)
    }

    pub fn subtract(&self, other: &ConnSet) -> ConnSet {
        self.zip(other, RangeSet::subtract)
    }

    pub fn union_with(&mut self, other: &ConnSet) {
        *self = self.union(other);
    }
}

/// The corpus grammar: `All Connections`, `No Connections`, or `TCP 80,8080-8090,UDP 53`.
impl fmt::Display for ConnSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut first = true;
        for proto in Protocol::ALL {
            let set = self.port_set(proto);
            if set.is_empty() {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{proto} ")?;
            for (i, &(lo, hi)) in set.ranges().iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if lo == hi {
                    write!(f, "{lo}")?;
                } else {
                    write!(f, "{lo}-{hi}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_the_corpus_grammar() {
        assert_eq!(ConnSet::all().to_string(), "All Connections");
        assert_eq!(ConnSet::none().to_string(), "No Connections");
        let s = ConnSet::ports(Protocol::Udp, 80, 80)
            .union(&ConnSet::ports(Protocol::Tcp, 8080, 8080))
            .union(&ConnSet::ports(Protocol::Udp, 5000, 6000));
        assert_eq!(s.to_string(), "TCP 8080,UDP 80,5000-6000");
    }

    #[test]
    fn a_partial_union_covering_everything_is_all() {
        let s = ConnSet::ports(Protocol::Tcp, 1, 100)
            .union(&ConnSet::ports(Protocol::Tcp, 101, 65535))
            .union(&ConnSet::all_of(Protocol::Udp))
            .union(&ConnSet::all_of(Protocol::Sctp));
        assert!(s.is_all());
    }

    #[test]
    fn complement_prints_gaps() {
        let s = ConnSet::all().subtract(&ConnSet::ports(Protocol::Udp, 5353, 5353));
        assert_eq!(
            s.to_string(),
            "SCTP 1-65535,TCP 1-65535,UDP 1-5352,5354-65535"
        );
    }

    #[test]
    fn port_zero_is_clamped() {
        assert_eq!(ConnSet::ports(Protocol::Tcp, 0, 2).to_string(), "TCP 1-2");
    }

    fn conn_strategy() -> impl Strategy<Value = ConnSet> {
        prop::collection::vec((0usize..3, 1u16..200, 0u16..50), 0..5).prop_map(|v| {
            v.into_iter().fold(ConnSet::none(), |acc, (p, lo, len)| {
                acc.union(&ConnSet::ports(Protocol::ALL[p], lo, lo + len))
            })
        })
    }

    proptest! {
        #[test]
        fn set_algebra_laws(a in conn_strategy(), b in conn_strategy()) {
            prop_assert_eq!(a.union(&b), b.union(&a));
            prop_assert_eq!(a.intersect(&b), b.intersect(&a));
            prop_assert!(a.subtract(&b).intersect(&b).is_empty());
            prop_assert_eq!(a.subtract(&b).union(&a.intersect(&b)), a.clone());
            prop_assert!(a.union(&ConnSet::all()).is_all());
        }
    }
}
