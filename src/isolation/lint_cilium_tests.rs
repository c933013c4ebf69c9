//! The Cilium lint rules, from Cilium's documentation: an endpointSelector is matched against
//! the pods' labels (an empty one selects every pod of the policy's scope), and a `toFQDNs`
//! rule works only where Cilium's DNS proxy sees the pods' lookups, which takes an egress rule
//! with `toPorts[].rules.dns` for the same pods ("DNS-based policies").

use kube::core::DynamicObject;

use super::findings::Finding;
use super::lint::lint;
use super::tenants::TenantRules;
use crate::model::fixture::small_cluster;
use crate::model::{ClusterSnapshot, NativeKind, NativePolicyInfo};
use crate::policy::{Engine, Settings};

fn findings_with(docs: &[(NativeKind, String)]) -> Vec<Finding> {
    let mut snapshot = ClusterSnapshot::default();
    for object in small_cluster() {
        snapshot.upsert(object);
    }
    for (kind, doc) in docs {
        let object: DynamicObject = crate::yaml::from_str(doc).expect("test yaml");
        let info = NativePolicyInfo::new(*kind, object).expect("named");
        snapshot.natives.insert(info.id.clone(), info);
    }
    let engine = Engine::new(&snapshot, Settings::default());
    lint(&engine, &snapshot, &TenantRules::default())
}

fn with_id<'a>(findings: &'a [Finding], id: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.id == id).collect()
}

fn cnp(ns: &str, name: &str, spec: &str) -> (NativeKind, String) {
    (
        NativeKind::CiliumNetworkPolicy,
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
        ),
    )
}

fn ccnp(name: &str, spec: &str) -> (NativeKind, String) {
    (
        NativeKind::CiliumClusterwideNetworkPolicy,
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec}"
        ),
    )
}

const FQDN_EGRESS: &str = "  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: '443', protocol: TCP}]}]\n";
const DNS_EGRESS: &str = "  egress:\n  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]\n    toPorts:\n    - ports: [{port: '53', protocol: ANY}]\n      rules:\n        dns: [{matchPattern: '*'}]\n";

#[test]
fn a_selector_that_matches_no_pod_is_reported_and_an_empty_one_never() {
    let typo = cnp(
        "acme-web",
        "typo",
        "  endpointSelector: {matchLabels: {app: wbe}}\n  ingress: [{}]\n",
    );
    let everything = cnp(
        "acme-web",
        "all",
        "  endpointSelector: {}\n  ingress: [{}]\n",
    );
    let other_ns = cnp(
        "acme-db",
        "web-elsewhere",
        "  endpointSelector: {matchLabels: {app: web}}\n  ingress: [{}]\n",
    );
    let cluster_typo = ccnp(
        "nobody",
        "  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: acme-wbe}}\n  ingress: [{}]\n",
    );
    let findings = findings_with(&[typo, everything, other_ns, cluster_typo]);
    let objects: Vec<&str> = with_id(&findings, "PAL080")
        .iter()
        .map(|f| f.object.as_str())
        .collect();
    assert_eq!(
        objects,
        [
            "ccnp/nobody",
            "ciliumnp/acme-db/web-elsewhere",
            "ciliumnp/acme-web/typo"
        ],
        "a CNP selects in its own namespace only: app=web pods live in acme-web"
    );
}

#[test]
fn to_fqdns_without_a_dns_rule_for_the_same_pods_is_reported() {
    let fqdn = cnp(
        "acme-web",
        "to-partner",
        &format!("  endpointSelector: {{matchLabels: {{app: web}}}}\n{FQDN_EGRESS}"),
    );
    let findings = findings_with(std::slice::from_ref(&fqdn));
    let found = with_id(&findings, "PAL081");
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(found[0].object, "ciliumnp/acme-web/to-partner");
    assert!(
        found[0].message.contains("api.example.com") && found[0].message.contains("2 of its pods"),
        "{}",
        found[0].message
    );

    // A DNS rule in another policy, for other pods, does not help.
    let dns_elsewhere = cnp(
        "acme-db",
        "dns",
        &format!("  endpointSelector: {{}}\n{DNS_EGRESS}"),
    );
    let findings = findings_with(&[fqdn.clone(), dns_elsewhere]);
    assert_eq!(with_id(&findings, "PAL081").len(), 1);

    // A clusterwide DNS rule for every pod does, and so does one in the same policy.
    let dns_everywhere = ccnp("dns", &format!("  endpointSelector: {{}}\n{DNS_EGRESS}"));
    let findings = findings_with(&[fqdn, dns_everywhere]);
    assert!(with_id(&findings, "PAL081").is_empty(), "{findings:#?}");
    let both = cnp(
        "acme-web",
        "to-partner",
        &format!(
            "  endpointSelector: {{matchLabels: {{app: web}}}}\n{FQDN_EGRESS}{}",
            DNS_EGRESS.trim_start_matches("  egress:\n")
        ),
    );
    let findings = findings_with(&[both]);
    assert!(with_id(&findings, "PAL081").is_empty(), "{findings:#?}");
}
