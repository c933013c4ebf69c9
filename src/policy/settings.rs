//! The `--ipblock-pods match|ignore|auto` setting, resolved to what the engine needs.

use std::str::FromStr;

use super::engine::Settings;
use super::matching::IpBlockPods;

/// User-facing choice. `Auto` depends on the CNI: Cilium's CIDR rules do not select cluster
/// endpoints, while Calico and Antrea match pod IPs (as the upstream e2e tests expect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpBlockPodsSetting {
    Match,
    Ignore,
    #[default]
    Auto,
}

impl IpBlockPodsSetting {
    /// Manifests have no CNI: `Auto` means `Ignore` for NetworkPolicy ipBlocks, the
    /// netpol-analyzer convention.
    pub fn for_manifests(self) -> Settings {
        let ip_block_pods = match self {
            Self::Match => IpBlockPods::Match,
            Self::Ignore | Self::Auto => IpBlockPods::Ignore,
        };
        self.with_tier_networks(ip_block_pods)
    }

    /// Live clusters: `Auto` ignores pods only when Cilium was detected.
    pub fn for_cluster(self, cilium_detected: bool) -> Settings {
        let ip_block_pods = match self {
            Self::Match => IpBlockPods::Match,
            Self::Ignore => IpBlockPods::Ignore,
            Self::Auto if cilium_detected => IpBlockPods::Ignore,
            Self::Auto => IpBlockPods::Match,
        };
        self.with_tier_networks(ip_block_pods)
    }

    /// Tier `networks` match pod IPs, as the network-policy-api says and its conformance tests
    /// assert, unless the user asked `ignore` (which reproduces netpol-analyzer).
    fn with_tier_networks(self, ip_block_pods: IpBlockPods) -> Settings {
        let tier_networks = match self {
            Self::Ignore => IpBlockPods::Ignore,
            Self::Match | Self::Auto => IpBlockPods::Match,
        };
        Settings {
            ip_block_pods,
            tier_networks,
            // TODO(calico-io): resolved from --cni, the agents, then the kinds present.
            cni: Cni::Cilium,
        }
    }
}

impl FromStr for IpBlockPodsSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "match" => Ok(Self::Match),
            "ignore" => Ok(Self::Ignore),
            "auto" => Ok(Self::Auto),
            other => Err(format!("expected match, ignore or auto, got {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_resolves_by_context() {
        let auto: IpBlockPodsSetting = "auto".parse().unwrap();
        assert_eq!(auto.for_manifests().ip_block_pods, IpBlockPods::Ignore);
        assert_eq!(auto.for_cluster(true).ip_block_pods, IpBlockPods::Ignore);
        assert_eq!(auto.for_cluster(false).ip_block_pods, IpBlockPods::Match);
        let matching = "match".parse::<IpBlockPodsSetting>().unwrap();
        assert_eq!(matching.for_manifests().ip_block_pods, IpBlockPods::Match);
        // Tier networks match pods unless the user says ignore, on manifests too.
        assert_eq!(auto.for_manifests().tier_networks, IpBlockPods::Match);
        assert_eq!(auto.for_cluster(true).tier_networks, IpBlockPods::Match);
        let ignore = "ignore".parse::<IpBlockPodsSetting>().unwrap();
        assert_eq!(
            ignore.for_cluster(false),
            Settings::uniform(IpBlockPods::Ignore)
        );
        assert!("yes".parse::<IpBlockPodsSetting>().is_err());
    }
}

/// The CNI whose own policy kinds the dataplane enforces, and so whose order of evaluation
/// applies: Cilium's kinds join the NetworkPolicy tier, Calico's tiers order everything.
/// `Generic`: neither (their kinds, if any, are not evaluated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cni {
    #[default]
    Cilium,
    Calico,
    Generic,
}
