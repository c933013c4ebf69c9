//! Pods by address, for flows that name an end by address only. Built once from every pod,
//! then patched: a few changed addresses go into a small map of changes over the shared base,
//! so a pod change costs its own addresses instead of a new map of every pod. Many changes
//! at once, or a map of changes grown large, build it again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use crate::model::{ObjectRef, Objects, PodInfo};

/// More changed addresses than this: building again beats finding each one's pod.
const PATCH_AT_MOST: usize = 8;
/// A map of changes this large is folded into a new base.
const CHANGES_AT_MOST: usize = 1024;

#[derive(Debug, Clone, Default)]
pub struct PodAddresses {
    /// Every pod's addresses, built when first asked for.
    base: OnceLock<Arc<HashMap<IpAddr, ObjectRef>>>,
    /// Addresses changed since `base` was built: the pod there now, or none.
    changes: Arc<HashMap<IpAddr, Option<ObjectRef>>>,
}

impl PodAddresses {
    /// The pod at `ip`; `None` until built (see [`PodAddresses::built`]).
    pub fn get(&self, ip: IpAddr) -> Option<&ObjectRef> {
        match self.changes.get(&ip) {
            Some(now) => now.as_ref(),
            None => self.base.get()?.get(&ip),
        }
    }

    /// A copy that answers without the pods: built from `pods` if it was not yet.
    pub fn built(&self, pods: &Objects<ObjectRef, PodInfo>) -> PodAddresses {
        self.base.get_or_init(|| Arc::new(every_address(pods)));
        self.clone()
    }

    /// `addresses` (of the changed pods, before and after) changed; `pods` as they are now.
    pub fn changed(&mut self, addresses: &[IpAddr], pods: &Objects<ObjectRef, PodInfo>) {
        if self.base.get().is_none() {
            return; // built from the pods when first asked for
        }
        if addresses.len() > PATCH_AT_MOST || self.changes.len() >= CHANGES_AT_MOST {
            *self = PodAddresses::default();
            return;
        }
        let changes = Arc::make_mut(&mut self.changes);
        for &ip in addresses {
            changes.insert(ip, pod_at(pods, ip));
        }
    }
}

/// Each address's pod; an address two pods give (host-network pods share their node's) goes
/// to the last in pod order.
fn every_address(pods: &Objects<ObjectRef, PodInfo>) -> HashMap<IpAddr, ObjectRef> {
    (pods.values())
        .flat_map(|pod| addresses(pod).map(|ip| (ip, pod.id.clone())))
        .collect()
}

/// The pod `every_address` would put at `ip`.
fn pod_at(pods: &Objects<ObjectRef, PodInfo>, ip: IpAddr) -> Option<ObjectRef> {
    (pods.values().rev())
        .find(|pod| addresses(pod).any(|a| a == ip))
        .map(|pod| pod.id.clone())
}

/// A pod's addresses that parse.
pub fn addresses(pod: &PodInfo) -> impl Iterator<Item = IpAddr> + '_ {
    pod.ips.iter().filter_map(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture;

    fn pod(name: &str, ips: &[&str]) -> PodInfo {
        let crate::model::ClusterObject::Pod(mut pod) = fixture::pod("a", name, &[]) else {
            unreachable!("a pod fixture")
        };
        pod.ips = ips.iter().map(|ip| ip.to_string()).collect();
        pod
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Patched after each change, the map answers for every address what one built from the
    /// pods then answers, host-network pods sharing an address included.
    #[test]
    fn a_patched_map_answers_as_a_built_one() {
        let all = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "192.168.1.5"];
        let mut pods: Objects<ObjectRef, PodInfo> = Objects::new();
        for p in [
            pod("web", &["10.0.0.1"]),
            pod("db", &["10.0.0.2"]),
            pod("agent-1", &["192.168.1.5"]),
            pod("agent-2", &["192.168.1.5"]),
        ] {
            pods.insert(p.id.clone(), p);
        }
        let mut kept = PodAddresses::default().built(&pods);
        let steps: [(&str, Option<&[&str]>); 5] = [
            ("web", Some(&["10.0.0.3"])),   // moved to a new address
            ("agent-2", None),              // the later of two sharing an address goes
            ("cache", Some(&["10.0.0.2"])), // a second pod at db's address, after it
            ("db", None),
            ("agent-0", Some(&["192.168.1.5"])), // sorts before agent-1: agent-1 stays
        ];
        for (name, now) in steps {
            let id = ObjectRef::new("a", name);
            let before = pods.get(&id).cloned();
            match now {
                Some(ips) => pods.insert(id.clone(), pod(name, ips)),
                None => pods.remove(&id),
            };
            let changed: Vec<IpAddr> = (before.iter().chain(pods.get(&id)))
                .flat_map(|p| addresses(p).collect::<Vec<_>>())
                .collect();
            kept.changed(&changed, &pods);
            let fresh = PodAddresses::default().built(&pods);
            for a in all {
                assert_eq!(kept.get(ip(a)), fresh.get(ip(a)), "{a} after {name}");
            }
        }
        assert_eq!(kept.get(ip("192.168.1.5")).unwrap().name, "agent-1");
        assert_eq!(kept.get(ip("10.0.0.2")).unwrap().name, "cache");
        assert!(kept.changes.len() >= 3, "patched, not built again");
    }

    #[test]
    fn many_changes_at_once_build_the_map_again_when_asked() {
        let mut pods: Objects<ObjectRef, PodInfo> = Objects::new();
        let p = pod("web", &["10.0.0.1"]);
        pods.insert(p.id.clone(), p);
        let mut kept = PodAddresses::default().built(&pods);
        let many: Vec<IpAddr> = (0..20).map(|i| ip(&format!("10.1.0.{i}"))).collect();
        kept.changed(&many, &pods);
        assert_eq!(kept.get(ip("10.0.0.1")), None, "dropped until built again");
        let rebuilt = kept.built(&pods);
        assert_eq!(rebuilt.get(ip("10.0.0.1")).unwrap().name, "web");
    }
}
