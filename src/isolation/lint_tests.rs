use super::findings::Finding;
use super::lint::lint;
use super::tenants::TenantRules;
use crate::model::ClusterSnapshot;
use crate::model::fixture::{policy, small_cluster};
use crate::policy::{Engine, Settings};

fn findings_with(extra_policies: &[&str]) -> Vec<Finding> {
    let mut snapshot = ClusterSnapshot::default();
    for object in small_cluster() {
        snapshot.upsert(object);
    }
    for yaml in extra_policies {
        snapshot.upsert(policy(yaml));
    }
    let engine = Engine::new(&snapshot, Settings::default());
    lint(&engine, &snapshot, &TenantRules::default())
}

fn ids_for<'a>(findings: &'a [Finding], object: &str) -> Vec<&'a str> {
    findings
        .iter()
        .filter(|f| f.object == object)
        .map(|f| f.id)
        .collect()
}

const GLOBEX: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: NAME, namespace: globex-app}\nspec:\n";

fn globex_policy(name: &str, spec: &str) -> String {
    format!("{}{spec}", GLOBEX.replace("NAME", name))
}

#[test]
fn missing_default_deny_is_reported_per_direction() {
    let findings = findings_with(&[]);
    assert_eq!(
        ids_for(&findings, "namespace globex-app"),
        ["PAL011"],
        "ingress is covered, egress is not"
    );
    assert!(ids_for(&findings, "namespace acme-web").is_empty());
    assert!(
        ids_for(&findings, "namespace kube-system").is_empty(),
        "platform namespaces are not tenants"
    );
}

#[test]
fn egress_isolated_pods_without_dns_are_flagged_with_the_missing_protocols() {
    let findings = findings_with(&[]);
    let dns: Vec<&Finding> = findings.iter().filter(|f| f.id == "PAL020").collect();
    let objects: Vec<&str> = dns.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(
        objects,
        ["pod acme-db/db-0", "pods acme-web/web-1 (+1 more)"]
    );
    assert!(
        dns[0].message.contains("UDP 53 and TCP 53"),
        "{}",
        dns[0].message
    );

    let udp_only = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: dns, namespace: acme-db}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n    ports: [{protocol: UDP, port: 53}]\n";
    let findings = findings_with(&[udp_only]);
    let db = findings
        .iter()
        .find(|f| f.id == "PAL020" && f.object == "pod acme-db/db-0")
        .expect("still flagged");
    assert!(
        db.message.starts_with("cannot reach kube-dns on TCP 53"),
        "{}",
        db.message
    );
}

#[test]
fn policy_selecting_nothing_and_peer_selecting_nothing() {
    let typo = globex_policy(
        "typo",
        "  podSelector: {matchLabels: {app: ap}}\n  ingress: [{from: [{podSelector: {matchLabels: {role: ghost}}}]}]\n",
    );
    let findings = findings_with(&[&typo]);
    let ids = ids_for(&findings, "netpol globex-app/typo");
    assert!(
        ids.contains(&"PAL030") && ids.contains(&"PAL031"),
        "{ids:?}"
    );
}

#[test]
fn an_empty_pod_selector_is_never_a_typo_but_a_namespace_label_nobody_has_is() {
    let fresh = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n\
        metadata: {name: fresh, namespace: acme-new}\nspec:\n  podSelector: {}\n  \
        ingress: [{from: [{podSelector: {}}]}, {from: [{namespaceSelector: {matchLabels: {tenant: nobody}}}]}]\n";
    let findings = findings_with(&[fresh]);
    let ours: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.object == "netpol acme-new/fresh")
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].id, "PAL031");
    assert!(
        ours[0].message.contains("spec.ingress[1].from[0]"),
        "{ours:?}"
    );
}

#[test]
fn namespace_selector_everything_and_world_ingress() {
    let open = globex_policy(
        "open",
        "  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {}}]\n  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]\n",
    );
    let findings = findings_with(&[&open]);
    let ids = ids_for(&findings, "netpol globex-app/open");
    assert!(
        ids.contains(&"PAL040") && ids.contains(&"PAL041"),
        "{ids:?}"
    );
    let wide = findings.iter().find(|f| f.id == "PAL040").unwrap();
    assert!(
        wide.message.contains("spec.ingress[0].from[0]"),
        "{}",
        wide.message
    );
}

#[test]
fn named_port_that_no_destination_declares() {
    // The fixture pods declare `http` (TCP) only.
    let wrong_name = globex_policy(
        "grpc",
        "  podSelector: {}\n  ingress: [{ports: [{port: grpc}]}]\n",
    );
    let wrong_protocol = globex_policy(
        "udp-http",
        "  podSelector: {}\n  ingress: [{ports: [{port: http, protocol: UDP}]}]\n",
    );
    let right = globex_policy(
        "http",
        "  podSelector: {}\n  ingress: [{ports: [{port: http}]}]\n",
    );
    let findings = findings_with(&[&wrong_name, &wrong_protocol, &right]);
    assert_eq!(ids_for(&findings, "netpol globex-app/grpc"), ["PAL050"]);
    assert_eq!(ids_for(&findings, "netpol globex-app/udp-http"), ["PAL050"]);
    assert!(ids_for(&findings, "netpol globex-app/http").is_empty());
}

#[test]
fn invalid_policies_are_errors_naming_the_field() {
    let bad = globex_policy(
        "bad",
        "  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]\n",
    );
    let findings = findings_with(&[&bad]);
    let invalid = findings
        .iter()
        .find(|f| f.id == "PAL001")
        .expect("reported");
    assert_eq!(invalid.object, "netpol globex-app/bad");
    assert!(
        invalid
            .message
            .contains("spec.ingress[0].from[0].ipBlock.cidr"),
        "{}",
        invalid.message
    );
    assert_eq!(findings[0].id, "PAL001", "errors sort first");
}
