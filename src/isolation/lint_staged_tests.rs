//! Staged policies, from Calico's "Staged network policies" page: they are not enforced, and
//! they show what the enforced policy would do. So the matrix stays as it is, and the findings
//! name each tenant cell that applying them would change.

use kube::core::DynamicObject;

use super::findings::Finding;
use super::lint::lint;
use super::tenants::TenantRules;
use crate::model::fixture::small_cluster;
use crate::model::{ClusterSnapshot, NativeKind, NativePolicyInfo};
use crate::policy::{Cni, Engine, IpBlockPods, Settings};

fn findings_with(docs: &[(NativeKind, &str)]) -> (Engine, Vec<Finding>) {
    let mut snapshot = ClusterSnapshot::default();
    for object in small_cluster() {
        snapshot.upsert(object);
    }
    for (kind, doc) in docs {
        let object: DynamicObject = crate::yaml::from_str(doc).expect("test yaml");
        let info = NativePolicyInfo::new(*kind, object).expect("named");
        snapshot.natives.insert(info.id.clone(), info);
    }
    let settings = Settings {
        cni: Cni::Calico,
        ..Settings::uniform(IpBlockPods::Match)
    };
    let engine = Engine::new(&snapshot, settings);
    let findings = lint(&engine, &snapshot, &TenantRules::default());
    (engine, findings)
}

/// globex-app's pods take ingress on `http` only (a NetworkPolicy); this would deny all of it,
/// at order 10, before the Kubernetes policies at 1000.
const STAGED_QUARANTINE: &str = "apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: default.quarantine-globex}
spec:
  order: 10
  selector: projectcalico.org/namespace == 'globex-app'
  types: [Ingress]
  ingress:
  - action: Deny
";

/// acme is isolated by deny-all policies; this one, with no order (so after the Kubernetes
/// policies at 1000 in the default tier), denies globex and passes the rest to the next tier,
/// past the default tier's end-of-tier deny: with no later tier, the profile allows it.
const STAGED_PASS: &str = "apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: default.isolate-acme}
spec:
  selector: projectcalico.org/namespace starts with 'acme'
  types: [Ingress]
  ingress:
  - action: Deny
    source: {namespaceSelector: tenant == 'globex'}
  - action: Pass
";

fn staged(findings: &[Finding]) -> Vec<&str> {
    findings
        .iter()
        .filter(|f| f.id == "PAL094")
        .map(|f| f.message.as_str())
        .collect()
}

#[test]
fn a_staged_deny_is_said_as_what_it_would_close_and_is_not_enforced() {
    let (engine, findings) = findings_with(&[(
        NativeKind::CalicoStagedGlobalNetworkPolicy,
        STAGED_QUARANTINE,
    )]);
    let said = staged(&findings);
    assert!(
        said.contains(
            &"staged: would deny kube-system → globex (TCP,UDP,SCTP http): partial → closed"
        ) || said
            .iter()
            .any(|m| m.starts_with("staged: would deny platform → globex")),
        "{said:#?}"
    );
    assert!(said.iter().all(|m| !m.contains("would allow")), "{said:#?}");
    let object = findings.iter().find(|f| f.id == "PAL094").unwrap();
    assert_eq!(object.object, "sgnp/default.quarantine-globex");
    // Not enforced: kube-system still reaches globex's app on http.
    let dns = crate::model::ObjectRef::new("kube-system", "coredns-1");
    let app = crate::model::ObjectRef::new("globex-app", "app-1");
    assert!(!engine.allowed_between_pods(&dns, &app).unwrap().is_empty());
}

#[test]
fn a_staged_pass_past_the_default_tier_would_open_what_its_end_denies() {
    let (_, findings) =
        findings_with(&[(NativeKind::CalicoStagedGlobalNetworkPolicy, STAGED_PASS)]);
    let said = staged(&findings);
    assert!(
        said.iter()
            .any(|m| m.starts_with("staged: would allow platform → acme")),
        "{said:#?}"
    );
    assert!(
        said.iter().all(|m| !m.contains("globex → acme")),
        "globex stays denied: {said:#?}"
    );
}

#[test]
fn no_staged_policy_no_finding() {
    let (_, findings) = findings_with(&[]);
    assert!(findings.iter().all(|f| f.id != "PAL094"));
}
