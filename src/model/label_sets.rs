//! One shared copy of each distinct label set the console's pods carry. The pods of one
//! ReplicaSet, DaemonSet or Job template have the same labels (`pod-template-hash` included),
//! so a cluster of 100,000 pods has a few thousand label sets: one map each, instead of one per
//! pod, each map a B-tree node of about half a kilobyte before its strings.

use std::collections::HashSet;
use std::sync::Arc;

use super::{ClusterObject, Labels};

/// Below this many sets the table is never swept.
const SWEEP_FLOOR: usize = 1_024;

/// The label sets in use, each once.
#[derive(Debug, Clone, Default)]
pub struct LabelSets {
    sets: HashSet<Arc<Labels>>,
    /// The table is swept of the sets no pod holds any more when it reaches this size.
    sweep_at: usize,
}

impl LabelSets {
    /// The shared copy of `labels`; `labels` itself if it is the first of its kind.
    pub fn share(&mut self, labels: Arc<Labels>) -> Arc<Labels> {
        if let Some(shared) = self.sets.get(&*labels) {
            return shared.clone();
        }
        if self.sets.len() >= self.sweep_at.max(SWEEP_FLOOR) {
            // Sets only this table holds: their pods are gone or relabelled.
            self.sets.retain(|set| Arc::strong_count(set) > 1);
            self.sweep_at = self.sets.len() * 2;
        }
        self.sets.insert(labels.clone());
        labels
    }

    /// The object, a pod's labels replaced by their shared copy.
    pub fn in_object(&mut self, mut object: ClusterObject) -> ClusterObject {
        if let ClusterObject::Pod(pod) = &mut object {
            pod.labels = self.share(pod.labels.clone());
        }
        object
    }

    /// How many distinct sets the table holds (swept ones gone).
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(app: &str) -> Arc<Labels> {
        Arc::new(Labels::from([("app".to_string(), app.to_string())]))
    }

    #[test]
    fn equal_sets_share_one_map() {
        let mut sets = LabelSets::default();
        let a = sets.share(labels("web"));
        let b = sets.share(labels("web"));
        let c = sets.share(labels("db"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!((a, c), (labels("web"), labels("db")));
        assert_eq!(sets.len(), 2);
    }

    #[test]
    fn sets_no_pod_holds_are_swept_as_the_table_grows() {
        let mut sets = LabelSets::default();
        let kept = sets.share(labels("kept"));
        // Sets dropped at once, as pods relabelled each to a new template would leave them.
        for i in 1..SWEEP_FLOOR {
            sets.share(labels(&format!("gone-{i}")));
        }
        assert_eq!(sets.len(), SWEEP_FLOOR, "not swept below the floor");
        let next = sets.share(labels("next"));
        assert_eq!(sets.len(), 2, "only the held sets stay: {kept:?}, {next:?}");
        assert!(Arc::ptr_eq(&kept, &sets.share(labels("kept"))));
    }
}
