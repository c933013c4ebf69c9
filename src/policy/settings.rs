//! The `--ipblock-pods match|ignore|auto` setting, resolved to what the engine needs.

use std::str::FromStr;

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
    /// Manifests have no CNI: `Auto` means `Ignore`, the netpol-analyzer convention.
    pub fn for_manifests(self) -> IpBlockPods {
        match self {
            Self::Match => IpBlockPods::Match,
            Self::Ignore | Self::Auto => IpBlockPods::Ignore,
        }
    }

    /// Live clusters: `Auto` ignores pods only when Cilium was detected.
    pub fn for_cluster(self, cilium_detected: bool) -> IpBlockPods {
        match self {
            Self::Match => IpBlockPods::Match,
            Self::Ignore => IpBlockPods::Ignore,
            Self::Auto if cilium_detected => IpBlockPods::Ignore,
            Self::Auto => IpBlockPods::Match,
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
        assert_eq!(auto.for_manifests(), IpBlockPods::Ignore);
        assert_eq!(auto.for_cluster(true), IpBlockPods::Ignore);
        assert_eq!(auto.for_cluster(false), IpBlockPods::Match);
        assert_eq!(
            "match"
                .parse::<IpBlockPodsSetting>()
                .unwrap()
                .for_manifests(),
            IpBlockPods::Match
        );
        assert!("yes".parse::<IpBlockPodsSetting>().is_err());
    }
}
