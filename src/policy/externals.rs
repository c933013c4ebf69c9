//! External peers: the address space outside the cluster, cut into atoms so that every ipBlock
//! either contains an atom whole or misses it.

use std::collections::BTreeSet;

use super::compile::{CompiledPolicy, Direction, PeerSpec};
use super::ipset::{Family, IpRange, IpSet};
use super::tier::{CompiledTier, TierPeer};

/// Source externals (cut by ingress ipBlocks) and destination externals (cut by egress ones
/// and tier `networks`, which exist only in egress rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Externals {
    pub sources: Vec<IpRange>,
    pub destinations: Vec<IpRange>,
}

pub fn externals<'a>(
    policies: impl Iterator<Item = &'a CompiledPolicy> + Clone,
    tiers: impl Iterator<Item = &'a CompiledTier>,
) -> Externals {
    externals_with(policies, tiers, &[], &[])
}

/// Like [`externals`], also cut by more sets per direction (Cilium's CIDR peers).
pub fn externals_with<'a>(
    policies: impl Iterator<Item = &'a CompiledPolicy> + Clone,
    tiers: impl Iterator<Item = &'a CompiledTier>,
    more_sources: &[&'a IpSet],
    more_destinations: &[&'a IpSet],
) -> Externals {
    let mut networks: Vec<&IpSet> = tiers
        .flat_map(|t| &t.egress)
        .flat_map(|r| &r.peers)
        .filter_map(|p| match p {
            TierPeer::Networks { set, .. } => Some(set),
            _ => None,
        })
        .collect();
    networks.extend_from_slice(more_destinations);
    Externals {
        sources: atoms(policies.clone(), Direction::Ingress, more_sources),
        destinations: atoms(policies, Direction::Egress, &networks),
    }
}

/// Atoms of one direction: IPv4 always (starting from 0.0.0.0/0); IPv6 only when some ipBlock
/// of that direction is IPv6.
pub fn atoms<'a>(
    policies: impl Iterator<Item = &'a CompiledPolicy>,
    dir: Direction,
    more: &[&'a IpSet],
) -> Vec<IpRange> {
    let mut sets: Vec<&IpSet> = more.to_vec();
    for p in policies {
        for rule in p.rules(dir).unwrap_or_default() {
            for peer in rule.peers.iter().flatten() {
                if let PeerSpec::IpBlock { set, .. } = peer {
                    sets.push(set);
                }
            }
        }
    }
    let mut out = split(Family::V4, u32::MAX as u128, &sets);
    if sets.iter().any(|s| !s.v6.is_empty()) {
        out.extend(split(Family::V6, u128::MAX, &sets));
    }
    out
}

fn split(family: Family, max: u128, sets: &[&IpSet]) -> Vec<IpRange> {
    // Cut points: the first address of every range and the one after its end.
    let mut cuts: BTreeSet<u128> = BTreeSet::from([0]);
    for s in sets {
        for &(lo, hi) in s.family(family).ranges() {
            cuts.insert(lo);
            if hi < max {
                cuts.insert(hi + 1);
            }
        }
    }
    let cuts: Vec<u128> = cuts.into_iter().collect();
    cuts.iter()
        .enumerate()
        .map(|(i, &lo)| IpRange {
            family,
            lo,
            hi: cuts.get(i + 1).map_or(max, |n| n - 1),
        })
        .collect()
}
