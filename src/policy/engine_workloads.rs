//! The parts of the engine the console's analyst needs to keep one engine across analyses:
//! pod and namespace changes, a read-only copy to hand out, the snapshot back. A child of
//! `engine`.

use super::*;
use crate::model::{NamespaceInfo, PodInfo};
use crate::policy::addresses::addresses;

impl Engine {
    /// A read-only copy for answering questions while this engine goes on being updated: the
    /// snapshot's pods and policy objects are left out, as in [`Engine::into_read_only`]; the
    /// rows are shared, not copied.
    pub fn read_only_copy(&self) -> ReadOnlyEngine {
        ReadOnlyEngine(Engine {
            settings: self.settings,
            snapshot: ClusterSnapshot {
                namespaces: self.snapshot.namespaces.clone(),
                ..Default::default()
            },
            policies: self.policies.clone(),
            invalid: self.invalid.clone(),
            tiers: self.tiers.clone(),
            tier_invalid: self.tier_invalid.clone(),
            natives: self.natives.clone(),
            native_invalid: self.native_invalid.clone(),
            calico: self.calico.clone(),
            calico_tiers: self.calico_tiers.clone(),
            classes: self.classes.clone(),
            selecting: self.selecting.clone(),
            tier_selecting: self.tier_selecting.clone(),
            native_selecting: self.native_selecting.clone(),
            native_pod_unknown: self.native_pod_unknown.clone(),
            calico_selecting: self.calico_selecting.clone(),
            calico_unknown: self.calico_unknown.clone(),
            rows: self.rows.clone(),
            pod_addresses: self.addresses(),
        })
    }

    /// Keeps `now` in place of its own snapshot, which changes have made equal to it: the
    /// console's version, so that both hold one snapshot between them instead of one each.
    pub fn adopt_snapshot(&mut self, now: ClusterSnapshot) {
        debug_assert!(self.snapshot == now, "the engine's changes lead to `now`");
        self.snapshot = now;
    }

    /// Gives the snapshot back (to rebuild from it with other settings or many changes).
    pub fn into_snapshot(self) -> ClusterSnapshot {
        self.snapshot
    }

    /// Applies pod and namespace changes (`None` = deleted); policies stay compiled. Pods that
    /// only move between existing classes (a replica added or replaced, a relabel to labels
    /// another pod has) leave the classes' rows as they are; pods that form new classes or
    /// leave one empty cost the new classes' rows and a column in each kept row; a namespace
    /// change, or a change of the classes' order, forms the classes and every row again.
    /// Either way the result is exactly what a fresh build of the same snapshot gives (classes
    /// numbered by their first pod).
    pub fn update_workloads(
        &mut self,
        namespaces: Vec<(String, Option<Arc<NamespaceInfo>>)>,
        pods: Vec<(ObjectRef, Option<Arc<PodInfo>>)>,
    ) -> UpdateStats {
        let mut reform = false;
        for (name, namespace) in namespaces {
            let old = match namespace {
                Some(ns) => {
                    let labels = ns.labels.clone();
                    let old = self.snapshot.namespaces.insert_shared(name, ns);
                    old.filter(|old| old.labels == labels)
                }
                None => {
                    self.snapshot.namespaces.remove(&name);
                    None
                }
            };
            // Only a namespace that stays, with the same labels, leaves every class as it is.
            reform |= old.is_none();
        }
        let changed: Vec<ObjectRef> = pods.iter().map(|(id, _)| id.clone()).collect();
        let mut moved_addresses: Vec<IpAddr> = Vec::new();
        for (id, pod) in pods {
            moved_addresses.extend(pod.iter().flat_map(|pod| addresses(pod)));
            let before = match pod {
                Some(pod) => self.snapshot.pods.insert_shared(id, pod),
                None => self.snapshot.pods.remove(&id),
            };
            moved_addresses.extend(before.iter().flat_map(|pod| addresses(pod)));
        }
        moved_addresses.sort_unstable();
        moved_addresses.dedup();
        self.pod_addresses
            .changed(&moved_addresses, &self.snapshot.pods);
        if !reform && let Some(stats) = self.reshape_classes(&changed) {
            return stats;
        }
        self.rebuild();
        UpdateStats {
            recomputed_classes: self.classes.classes.len(),
            full_rebuild: true,
            renumbered: false,
        }
    }
}
