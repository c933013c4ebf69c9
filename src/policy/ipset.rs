//! IP address sets (IPv4 and IPv6 kept apart) built from CIDRs, for ipBlock peers and externals.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::rangeset::RangeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

/// A parsed CIDR: the address range it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub family: Family,
    pub lo: u128,
    pub hi: u128,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::y/n`. The API server accepts host bits set (it only warns),
    /// so they are masked off here.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR (missing '/prefix')"))?;
        let len: u32 = len
            .parse()
            .map_err(|_| format!("{s:?}: invalid prefix length"))?;
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?}: invalid IP address"))?;
        let (family, value, bits) = match ip {
            IpAddr::V4(v4) => (Family::V4, u32::from(v4) as u128, 32),
            IpAddr::V6(v6) => (Family::V6, u128::from(v6), 128),
        };
        if len > bits {
            return Err(format!("{s:?}: prefix length must be at most {bits}"));
        }
        let host_bits = bits - len;
        let host_mask: u128 = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let lo = value & !host_mask;
        Ok(Cidr {
            family,
            lo,
            hi: lo | host_mask,
        })
    }
}

/// A set of addresses of both families.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpSet {
    pub v4: RangeSet,
    pub v6: RangeSet,
}

impl IpSet {
    pub fn from_cidr(c: Cidr) -> IpSet {
        let r = RangeSet::range(c.lo, c.hi);
        match c.family {
            Family::V4 => IpSet {
                v4: r,
                v6: RangeSet::empty(),
            },
            Family::V6 => IpSet {
                v4: RangeSet::empty(),
                v6: r,
            },
        }
    }

    pub fn all_v4() -> IpSet {
        IpSet {
            v4: RangeSet::range(0, u32::MAX as u128),
            v6: RangeSet::empty(),
        }
    }

    pub fn family(&self, f: Family) -> &RangeSet {
        match f {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn union(&self, o: &IpSet) -> IpSet {
        IpSet {
            v4: self.v4.union(&o.v4),
            v6: self.v6.union(&o.v6),
        }
    }

    pub fn subtract(&self, o: &IpSet) -> IpSet {
        IpSet {
            v4: self.v4.subtract(&o.v4),
            v6: self.v6.subtract(&o.v6),
        }
    }

    pub fn contains_addr(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a) as u128),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    /// True when the whole range is inside this set.
    pub fn contains_range(&self, r: &IpRange) -> bool {
        self.family(r.family)
            .is_superset(&RangeSet::range(r.lo, r.hi))
    }
}

/// One contiguous address range; the unit of an external peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpRange {
    pub family: Family,
    pub lo: u128,
    pub hi: u128,
}

fn addr(family: Family, v: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// Printed `lo-hi` as in the corpus (`0.0.0.0-255.255.255.255`).
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            addr(self.family, self.lo),
            addr(self.family, self.hi)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_masks_host_bits() {
        let c = Cidr::parse("10.1.2.3/8").unwrap();
        assert_eq!(c.family, Family::V4);
        let r = IpRange {
            family: c.family,
            lo: c.lo,
            hi: c.hi,
        };
        assert_eq!(r.to_string(), "10.0.0.0-10.255.255.255");
    }

    #[test]
    fn parses_v6() {
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert_eq!(c.family, Family::V6);
        let set = IpSet::from_cidr(c);
        assert!(set.contains_addr("2001:db8::1".parse().unwrap()));
        assert!(!set.contains_addr("2001:db9::1".parse().unwrap()));
        assert!(!set.contains_addr("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "x/1", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(Cidr::parse("0.0.0.0/0").is_ok());
        assert!(Cidr::parse("::/0").is_ok());
    }
}
