//! The tier lint rules, each written from the network-policy-api's text: equal priorities have
//! no defined order; the first matching rule decides; Pass hands the connection to the
//! NetworkPolicies; the CRDs' limits; the BaselineAdminNetworkPolicy singleton.

use super::findings::Finding;
use super::lint::lint;
use super::tenants::TenantRules;
use crate::model::ClusterSnapshot;
use crate::model::fixture::{small_cluster, tier};
use crate::policy::{Engine, Settings};

fn findings_with(tiers: &[String]) -> Vec<Finding> {
    let mut snapshot = ClusterSnapshot::default();
    for object in small_cluster() {
        snapshot.upsert(object);
    }
    for yaml in tiers {
        snapshot.upsert(tier(yaml));
    }
    let engine = Engine::new(&snapshot, Settings::default());
    lint(&engine, &snapshot, &TenantRules::default())
}

fn with_id<'a>(findings: &'a [Finding], id: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.id == id).collect()
}

/// A v1alpha2 ClusterNetworkPolicy; `body` holds `subject` and the rules, indented by two.
fn cnp(name: &str, tier: &str, priority: u32, body: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  tier: {tier}\n  priority: {priority}\n{body}"
    )
}

const ALL_NS: &str = "  subject: {namespaces: {}}\n";

fn ingress_rule(name: &str, action: &str, from: &str) -> String {
    format!("  - name: {name}\n    action: {action}\n    from: [{from}]\n")
}

#[test]
fn equal_priorities_in_one_tier_that_overlap_are_reported() {
    let a = cnp(
        "a-deny",
        "Admin",
        10,
        &format!(
            "{ALL_NS}  ingress:\n{}",
            ingress_rule("deny", "Deny", "{namespaces: {}}")
        ),
    );
    let b = cnp(
        "b-accept",
        "Admin",
        10,
        &format!(
            "{ALL_NS}  ingress:\n{}",
            ingress_rule(
                "accept",
                "Accept",
                "{namespaces: {matchLabels: {tenant: acme}}}"
            )
        ),
    );
    let findings = findings_with(&[a.clone(), b.clone()]);
    let overlap = with_id(&findings, "PAL071");
    assert_eq!(overlap.len(), 1, "{findings:#?}");
    assert_eq!(overlap[0].object, "cnp/a-deny");
    assert!(
        overlap[0].message.contains("cnp/b-accept")
            && overlap[0].message.contains("Deny against Accept"),
        "{}",
        overlap[0].message
    );
    // Another priority gives them an order.
    let b11 = b.replace("priority: 10", "priority: 11");
    assert!(with_id(&findings_with(&[a.clone(), b11]), "PAL071").is_empty());
    // The same priority in different tiers is no ambiguity either.
    let b_baseline = b.replace("tier: Admin", "tier: Baseline");
    assert!(with_id(&findings_with(&[a.clone(), b_baseline]), "PAL071").is_empty());
    // Subjects without a common pod never compete.
    let b_elsewhere = b.replace(
        ALL_NS,
        "  subject: {namespaces: {matchLabels: {tenant: globex}}}\n",
    );
    let a_acme = a.replace(
        ALL_NS,
        "  subject: {namespaces: {matchLabels: {tenant: acme}}}\n",
    );
    assert!(with_id(&findings_with(&[a_acme, b_elsewhere]), "PAL071").is_empty());
}

#[test]
fn equal_priorities_whose_rules_cannot_meet_are_not_reported() {
    let a = cnp(
        "a",
        "Admin",
        10,
        &format!(
            "{ALL_NS}  ingress:\n{}",
            ingress_rule(
                "from-acme",
                "Deny",
                "{namespaces: {matchLabels: {tenant: acme}}}"
            )
        ),
    );
    let b = cnp(
        "b",
        "Admin",
        10,
        &format!(
            "{ALL_NS}  ingress:\n{}",
            ingress_rule(
                "from-globex",
                "Accept",
                "{namespaces: {matchLabels: {tenant: globex}}}"
            )
        ),
    );
    assert!(with_id(&findings_with(&[a, b]), "PAL071").is_empty());
}

#[test]
fn a_rule_after_a_wider_one_in_the_same_policy_is_shadowed() {
    let rules = format!(
        "{}{}",
        ingress_rule("deny-all", "Deny", "{namespaces: {}}"),
        ingress_rule(
            "accept-acme",
            "Accept",
            "{namespaces: {matchLabels: {tenant: acme}}}"
        )
    );
    let findings = findings_with(&[cnp(
        "shadow",
        "Admin",
        10,
        &format!("{ALL_NS}  ingress:\n{rules}"),
    )]);
    let shadowed = with_id(&findings, "PAL072");
    assert_eq!(shadowed.len(), 1, "{findings:#?}");
    assert!(
        shadowed[0]
            .message
            .starts_with("ingress rule `accept-acme` #1 (Accept) can never decide anything: ingress rule `deny-all` #0 (Deny)"),
        "{}",
        shadowed[0].message
    );
    // The narrower rule first: both can decide.
    let reversed = format!(
        "{}{}",
        ingress_rule(
            "accept-acme",
            "Accept",
            "{namespaces: {matchLabels: {tenant: acme}}}"
        ),
        ingress_rule("deny-all", "Deny", "{namespaces: {}}")
    );
    let findings = findings_with(&[cnp(
        "ordered",
        "Admin",
        10,
        &format!("{ALL_NS}  ingress:\n{reversed}"),
    )]);
    assert!(with_id(&findings, "PAL072").is_empty(), "{findings:#?}");
}

#[test]
fn a_rule_is_shadowed_by_an_earlier_policy_only_when_that_selects_its_pods_and_ports() {
    let early = cnp(
        "early",
        "Admin",
        5,
        &format!(
            "{ALL_NS}  ingress:\n{}    protocols: [{{tcp: {{destinationPort: {{range: {{start: 1, end: 9000}}}}}}}}]\n",
            ingress_rule("deny-low-ports", "Deny", "{namespaces: {}}")
        ),
    );
    let late = |ports: &str| {
        cnp(
            "late",
            "Admin",
            10,
            &format!(
                "  subject: {{namespaces: {{matchLabels: {{tenant: acme}}}}}}\n  ingress:\n{}    protocols: [{ports}]\n",
                ingress_rule(
                    "accept-web",
                    "Accept",
                    "{namespaces: {matchLabels: {tenant: globex}}}"
                )
            ),
        )
    };
    let inside = late("{tcp: {destinationPort: {number: 8080}}}");
    let findings = findings_with(&[early.clone(), inside]);
    let shadowed = with_id(&findings, "PAL072");
    assert_eq!(shadowed.len(), 1, "{findings:#?}");
    assert_eq!(shadowed[0].object, "cnp/late");
    assert!(shadowed[0].message.contains("of cnp/early"));
    // A port the earlier rule does not cover: the later rule decides that one.
    let outside = late("{tcp: {destinationPort: {number: 9443}}}");
    assert!(with_id(&findings_with(&[early.clone(), outside]), "PAL072").is_empty());
    // The Baseline tier is another evaluation: an Admin rule does not shadow it.
    let baseline =
        late("{tcp: {destinationPort: {number: 8080}}}").replace("tier: Admin", "tier: Baseline");
    assert!(with_id(&findings_with(&[early, baseline]), "PAL072").is_empty());
}

#[test]
fn an_admin_pass_for_pods_no_network_policy_selects_is_reported_with_where_it_goes() {
    // kube-system has no NetworkPolicy; acme's namespaces have deny-all.
    let pass = |subject: &str| {
        cnp(
            "pass-to-netpol",
            "Admin",
            10,
            &format!(
                "  subject: {{namespaces: {subject}}}\n  ingress:\n{}",
                ingress_rule("pass", "Pass", "{namespaces: {}}")
            ),
        )
    };
    let kube_system = pass("{matchLabels: {kubernetes.io/metadata.name: kube-system}}");
    let findings = findings_with(std::slice::from_ref(&kube_system));
    let passes = with_id(&findings, "PAL074");
    assert_eq!(passes.len(), 1, "{findings:#?}");
    assert!(
        passes[0]
            .message
            .contains("1 of its pods for ingress (e.g. kube-system/coredns-1)")
            && passes[0]
                .message
                .ends_with("is allowed (no Baseline policy selects them either)"),
        "{}",
        passes[0].message
    );
    let baseline = cnp(
        "baseline",
        "Baseline",
        50,
        &format!(
            "{ALL_NS}  ingress:\n{}",
            ingress_rule("deny", "Deny", "{namespaces: {}}")
        ),
    );
    let findings = findings_with(&[kube_system, baseline]);
    assert!(
        with_id(&findings, "PAL074")[0]
            .message
            .ends_with("goes on to the Baseline tier"),
        "{findings:#?}"
    );
    let acme = pass("{matchLabels: {tenant: acme}}");
    assert!(with_id(&findings_with(&[acme]), "PAL074").is_empty());
}

#[test]
fn rules_and_peers_over_the_api_limits_are_errors_per_version() {
    let many_rules: String = (0..26)
        .map(|i| ingress_rule(&format!("r{i}"), "Deny", "{namespaces: {}}"))
        .collect();
    let findings = findings_with(&[cnp(
        "too-many",
        "Admin",
        10,
        &format!("{ALL_NS}  ingress:\n{many_rules}"),
    )]);
    let limits = with_id(&findings, "PAL073");
    assert_eq!(limits.len(), 1, "{findings:#?}");
    assert_eq!(
        limits[0].message,
        "spec.ingress: 26 rules, ClusterNetworkPolicy v1alpha2 allows at most 25"
    );
    assert!(
        with_id(&findings, "PAL070").is_empty(),
        "the count is reported once, with its limit"
    );
    // v1alpha1 allows 100 rules.
    let anp = format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: many}}\nspec:\n  priority: 10\n{ALL_NS}  ingress:\n{}",
        many_rules.replace("Deny", "Allow")
    );
    assert!(with_id(&findings_with(&[anp]), "PAL073").is_empty());
    let peers: Vec<String> = (0..26)
        .map(|i| format!("{{namespaces: {{matchLabels: {{n: '{i}'}}}}}}"))
        .collect();
    let findings = findings_with(&[cnp(
        "wide",
        "Admin",
        10,
        &format!(
            "{ALL_NS}  ingress:\n{}",
            ingress_rule("r", "Deny", &peers.join(", "))
        ),
    )]);
    assert_eq!(
        with_id(&findings, "PAL073")[0].message,
        "spec.ingress[0].from: 26 entries, ClusterNetworkPolicy v1alpha2 allows at most 25"
    );
}

#[test]
fn a_baseline_admin_network_policy_must_be_named_default() {
    let banp = |name: &str| {
        format!(
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{ALL_NS}  ingress:\n{}",
            ingress_rule("deny", "Deny", "{namespaces: {}}")
        )
    };
    let findings = findings_with(&[banp("tenants")]);
    let named = with_id(&findings, "PAL075");
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].object, "banp/tenants");
    assert!(with_id(&findings_with(&[banp("default")]), "PAL075").is_empty());
}

#[test]
fn an_invalid_tier_policy_is_named_by_its_kind_not_as_a_network_policy() {
    let bad = cnp(
        "bad-action",
        "Admin",
        10,
        &format!(
            "{ALL_NS}  ingress:\n{}",
            ingress_rule("r", "Allow", "{namespaces: {}}")
        ),
    );
    let findings = findings_with(&[bad]);
    let invalid = with_id(&findings, "PAL070");
    assert_eq!(invalid.len(), 1, "{findings:#?}");
    assert_eq!(invalid[0].object, "cnp/bad-action");
    assert_eq!(invalid[0].namespace, "");
    assert!(
        invalid[0]
            .message
            .starts_with("spec.ingress[0].action: Unsupported value: \"Allow\"")
    );
    assert!(with_id(&findings, "PAL001").is_empty());
}
