//! Validation as the API server does it: errors name the object and the field path.

use super::compile_policy;
use crate::model::{ObjectRef, PolicyInfo};

fn errors(spec: &str) -> Vec<String> {
    let yaml = format!("metadata: {{name: p, namespace: ns}}\nspec:\n{spec}");
    let object = crate::yaml::from_str(&yaml).expect("test yaml");
    let info = PolicyInfo {
        id: ObjectRef::new("ns", "p"),
        object,
    };
    match compile_policy(&info) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn assert_one(spec: &str, field: &str) {
    let e = errors(spec);
    assert_eq!(e.len(), 1, "{e:?}");
    let prefix = format!("NetworkPolicy ns/p: {field}: ");
    assert!(
        e[0].starts_with(&prefix),
        "{e:?} should start with {prefix}"
    );
}

#[test]
fn a_valid_policy_has_no_errors() {
    let spec = "  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}, {podSelector: {}}]
    ports: [{port: 80, endPort: 90}, {port: http, protocol: SCTP}]";
    assert_eq!(errors(spec), Vec::<String>::new());
}

#[test]
fn invalid_cidr() {
    assert_one(
        "  ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/40}}]}]",
        "spec.ingress[0].from[1].ipBlock.cidr",
    );
}

#[test]
fn except_outside_cidr() {
    assert_one(
        "  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24, 11.0.0.0/24]}}]}]",
        "spec.egress[0].to[0].ipBlock.except[1]",
    );
    assert_one(
        "  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}}]}]",
        "spec.egress[0].to[0].ipBlock.except[0]",
    );
}

#[test]
fn end_port_below_port_or_with_a_named_port() {
    assert_one(
        "  ingress: [{ports: [{port: 90, endPort: 80}]}]",
        "spec.ingress[0].ports[0].endPort",
    );
    assert_one(
        "  ingress: [{ports: [{port: 80}, {port: http, endPort: 90}]}]",
        "spec.ingress[0].ports[1].endPort",
    );
}

#[test]
fn unknown_protocol() {
    assert_one(
        "  ingress: [{ports: [{port: 80, protocol: ICMP}]}]",
        "spec.ingress[0].ports[0].protocol",
    );
}

#[test]
fn selector_operators_and_values() {
    assert_one(
        "  podSelector: {matchExpressions: [{key: a, operator: Equals, values: [x]}]}",
        "spec.podSelector.matchExpressions[0].operator",
    );
    assert_one(
        "  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: a, operator: In}]}}]}]",
        "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values",
    );
    assert_one(
        "  ingress: [{from: [{podSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}]}]",
        "spec.ingress[0].from[0].podSelector.matchExpressions[0].values",
    );
}

#[test]
fn peers_need_exactly_one_kind() {
    assert_one("  ingress: [{from: [{}]}]", "spec.ingress[0].from[0]");
    assert_one(
        "  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]",
        "spec.ingress[0].from[0]",
    );
}

#[test]
fn policy_types_values() {
    assert_one("  policyTypes: [Ingress, Both]", "spec.policyTypes[1]");
}
