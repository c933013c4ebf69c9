//! A scenario as the console sees it once every watch is live, without a server in between:
//! for benchmarks and tests of the engine on generated clusters.

use serde_json::Value;

use super::meta::Placement;
use super::resource::Resource;
use super::scenario::Scenario;
use crate::cluster::convert;
use crate::model::{ClusterObject, ClusterSnapshot, NativePolicyInfo, TierPolicyInfo};

impl Scenario {
    /// Decodes every object the demo server would seed into the model, through the same
    /// conversions the watchers use. Pods get nodes and IPs as the demo server assigns them.
    pub fn snapshot(&self) -> Result<ClusterSnapshot, serde_json::Error> {
        let mut placement = Placement::new(self.nodes().to_vec());
        let mut snapshot = ClusterSnapshot::default();
        for (resource, _, object) in self.objects() {
            if let Some(object) = model_object(resource, object, &mut placement)? {
                snapshot.upsert(object);
            }
        }
        Ok(snapshot)
    }
}

fn model_object(
    resource: Resource,
    mut object: Value,
    placement: &mut Placement,
) -> Result<Option<ClusterObject>, serde_json::Error> {
    Ok(Some(match resource {
        Resource::Namespaces => convert::namespace(&serde_json::from_value(object)?),
        Resource::Pods => {
            placement.place(&mut object);
            convert::pod(&serde_json::from_value(object)?)
        }
        Resource::NetworkPolicies => convert::policy(&serde_json::from_value(object)?),
        Resource::Tier(kind) => match TierPolicyInfo::new(kind, serde_json::from_value(object)?) {
            Some(info) => ClusterObject::Tier(info),
            None => return Ok(None),
        },
        Resource::Native(kind) | Resource::CalicoCrd(kind) => {
            match NativePolicyInfo::new(kind, serde_json::from_value(object)?) {
                Some(info) => ClusterObject::Native(info),
                None => return Ok(None),
            }
        }
        Resource::Services | Resource::Events | Resource::Foreign(_) | Resource::GitOps(_) => {
            return Ok(None);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::super::ScaleSpec;
    use super::*;

    #[test]
    fn generated_snapshot_has_the_requested_size_with_ips_and_named_ports() {
        let spec: ScaleSpec = "10,57,30".parse().unwrap();
        let scenario = Scenario::generated(spec);
        let snapshot = scenario.snapshot().unwrap();
        assert_eq!(snapshot.namespaces.len(), spec.namespaces);
        // The requested workload pods, plus one CNI agent pod per node and the Hubble Relay pod.
        assert_eq!(
            snapshot.pods.len(),
            spec.pods + scenario.agent_count() + scenario.relay_count()
        );
        assert_eq!(scenario.relay_count(), 1);
        assert_eq!(scenario.agent_count(), 3);
        assert_eq!(snapshot.policies.len(), spec.policies);
        for pod in snapshot.pods.values() {
            assert_eq!(pod.ips.len(), 1, "{}", pod.id);
            assert!(!pod.ports.is_empty(), "{}", pod.id);
        }
    }
}
