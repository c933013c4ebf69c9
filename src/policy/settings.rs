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

    /// As [`Self::for_manifests`], with the CNI whose order applies to the files' native kinds.
    pub fn for_manifests_with(self, cni: Cni) -> Settings {
        Settings {
            cni,
            ..self.for_manifests()
        }
    }

    /// Live clusters: `Auto` follows the CNI (resolved from `--cni`, the agents, then the
    /// kinds present): Cilium ignores pods, Calico and the others match them.
    pub fn for_cni(self, cni: Cni) -> Settings {
        let ip_block_pods = match self {
            Self::Match => IpBlockPods::Match,
            Self::Ignore => IpBlockPods::Ignore,
            Self::Auto if cni == Cni::Cilium => IpBlockPods::Ignore,
            Self::Auto => IpBlockPods::Match,
        };
        Settings {
            cni,
            ..self.with_tier_networks(ip_block_pods)
        }
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
            // Manifests name no CNI; `for_cni` and `for_manifests_with` set the resolved one.
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
        assert_eq!(auto.for_cni(Cni::Cilium).ip_block_pods, IpBlockPods::Ignore);
        assert_eq!(auto.for_cni(Cni::Generic).ip_block_pods, IpBlockPods::Match);
        let matching = "match".parse::<IpBlockPodsSetting>().unwrap();
        assert_eq!(matching.for_manifests().ip_block_pods, IpBlockPods::Match);
        // Tier networks match pods unless the user says ignore, on manifests too.
        assert_eq!(auto.for_manifests().tier_networks, IpBlockPods::Match);
        assert_eq!(auto.for_cni(Cni::Cilium).tier_networks, IpBlockPods::Match);
        let ignore = "ignore".parse::<IpBlockPodsSetting>().unwrap();
        assert_eq!(
            ignore.for_cni(Cni::Cilium),
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

impl Cni {
    /// The name people write (`Calico`).
    pub fn name(self) -> &'static str {
        match self {
            Cni::Cilium => "Cilium",
            Cni::Calico => "Calico",
            Cni::Generic => "Generic",
        }
    }

    /// The `--cni` value (`calico`).
    pub fn value(self) -> &'static str {
        match self {
            Cni::Cilium => "cilium",
            Cni::Calico => "calico",
            Cni::Generic => "generic",
        }
    }
}

/// `--cni auto|cilium|calico|generic` (and `cni = "..."` in contexts.toml): `Auto` looks at the
/// agents, then at the native kinds present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CniSetting {
    #[default]
    Auto,
    Fixed(Cni),
}

impl FromStr for CniSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cilium" => Ok(Self::Fixed(Cni::Cilium)),
            "calico" => Ok(Self::Fixed(Cni::Calico)),
            "generic" => Ok(Self::Fixed(Cni::Generic)),
            other => Err(format!(
                "expected auto, cilium, calico or generic, got {other:?}"
            )),
        }
    }
}

#[cfg(test)]
mod cni_tests {
    use super::*;

    #[test]
    fn auto_ipblock_matching_follows_the_resolved_cni() {
        let auto = IpBlockPodsSetting::Auto;
        assert_eq!(auto.for_cni(Cni::Cilium).ip_block_pods, IpBlockPods::Ignore);
        assert_eq!(auto.for_cni(Cni::Calico).ip_block_pods, IpBlockPods::Match);
        assert_eq!(auto.for_cni(Cni::Generic).ip_block_pods, IpBlockPods::Match);
        assert_eq!(auto.for_cni(Cni::Calico).cni, Cni::Calico);
        assert_eq!(
            IpBlockPodsSetting::Ignore
                .for_cni(Cni::Calico)
                .ip_block_pods,
            IpBlockPods::Ignore
        );
        assert_eq!(auto.for_manifests_with(Cni::Calico).cni, Cni::Calico);
        assert_eq!("calico".parse(), Ok(CniSetting::Fixed(Cni::Calico)));
        assert_eq!("auto".parse(), Ok(CniSetting::Auto));
        assert!("flannel".parse::<CniSetting>().is_err());
    }
}
