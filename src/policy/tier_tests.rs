//! The tier order, one test per sentence of the network-policy-api's own text (the
//! ClusterNetworkPolicy and AdminNetworkPolicy API reference), on the small cluster of
//! `semantics_tests`: namespaces `a` (team=red: pods web, db) and `b` (team=blue: pod client).

use super::semantics_tests::{conns, engine, snapshot, with};
use super::*;
use crate::model::{TierKind, TierRef};

const ALL: &str = "All Connections";
const NONE: &str = "No Connections";

fn cnp(name: &str, tier: &str, priority: u32, body: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n\
         metadata: {{name: {name}}}\nspec:\n  tier: {tier}\n  priority: {priority}\n{body}"
    )
}

fn many(docs: &[String]) -> String {
    with(&docs.join("\n---\n"))
}

/// Ingress of every pod of namespace `a`.
const SUBJECT_A: &str = "  subject: {namespaces: {matchLabels: {team: red}}}\n";

fn ingress_rule(action: &str, from: &str, extra: &str) -> String {
    format!("  ingress:\n  - {{name: r, action: {action}, from: [{from}]{extra}}}\n")
}

const FROM_B: &str = "{namespaces: {matchLabels: {team: blue}}}";

const NP_ALLOW_B_TO_WEB: &str = "kind: NetworkPolicy\nmetadata: {name: allow-b, namespace: a}\n\
spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: blue}}}]\n";

const NP_DENY_ALL_A: &str = "kind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\n\
spec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";

#[test]
fn an_admin_deny_is_final_even_when_a_network_policy_allows() {
    // "Deny: Drops the selected traffic. No further ClusterNetworkPolicy or NetworkPolicy
    // rules will be processed."
    let body = format!("{SUBJECT_A}{}", ingress_rule("Deny", FROM_B, ""));
    let e = engine(
        &many(&[cnp("x", "Admin", 10, &body), NP_ALLOW_B_TO_WEB.into()]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    // Other sources are not concerned: the NetworkPolicy decides for them (web isolated).
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    assert_eq!(conns(&e, "a/web", "a/db"), ALL);
}

#[test]
fn an_admin_accept_is_final_even_when_a_network_policy_denies() {
    // "Accept: Accepts the selected traffic ... No further ingress ClusterNetworkPolicy or
    // NetworkPolicy rules will be processed."
    let body = format!("{SUBJECT_A}{}", ingress_rule("Accept", FROM_B, ""));
    let e = engine(
        &many(&[cnp("x", "Admin", 10, &body), NP_DENY_ALL_A.into()]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(
        conns(&e, "a/db", "a/web"),
        NONE,
        "the deny-all still holds for others"
    );
}

#[test]
fn an_admin_pass_hands_the_connection_to_the_network_policies() {
    // "Pass: Skips all further ClusterNetworkPolicy rules in the current tier ... and passes
    // evaluation to the next tier."
    let pass = format!(
        "{SUBJECT_A}  ingress:\n  - {{action: Pass, from: [{FROM_B}]}}\n  - {{action: Deny, from: [{FROM_B}]}}\n"
    );
    let e = engine(
        &many(&[cnp("x", "Admin", 10, &pass), NP_ALLOW_B_TO_WEB.into()]),
        IpBlockPods::Ignore,
    );
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "the later Deny is skipped"
    );
    let e = engine(
        &many(&[cnp("x", "Admin", 10, &pass), NP_DENY_ALL_A.into()]),
        IpBlockPods::Ignore,
    );
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "the NetworkPolicy decides"
    );
}

#[test]
fn a_pass_over_pods_no_network_policy_selects_reaches_the_baseline() {
    let pass = format!("{SUBJECT_A}{}", ingress_rule("Pass", FROM_B, ""));
    let deny = format!("{SUBJECT_A}{}", ingress_rule("Deny", FROM_B, ""));
    let e = engine(
        &many(&[
            cnp("pass", "Admin", 10, &pass),
            cnp("base", "Baseline", 10, &deny),
        ]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
}

#[test]
fn lower_priority_values_are_evaluated_first() {
    // "Policies with lower priority values have higher precedence."
    let accept = format!("{SUBJECT_A}{}", ingress_rule("Accept", FROM_B, ""));
    let deny = format!("{SUBJECT_A}{}", ingress_rule("Deny", FROM_B, ""));
    let e = engine(
        &many(&[
            cnp("accept", "Admin", 5, &accept),
            cnp("deny", "Admin", 50, &deny),
        ]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    let e = engine(
        &many(&[
            cnp("accept", "Admin", 50, &accept),
            cnp("deny", "Admin", 5, &deny),
        ]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
}

#[test]
fn within_a_policy_the_first_rule_written_wins() {
    // "a rule that appears at the top of the ingress rules would take the highest precedence"
    let rules = |first: &str, second: &str| {
        format!(
            "{SUBJECT_A}  ingress:\n  - {{action: {first}, from: [{FROM_B}]}}\n  - {{action: {second}, from: [{FROM_B}]}}\n"
        )
    };
    let e = engine(
        &many(&[cnp("x", "Admin", 1, &rules("Deny", "Accept"))]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    let e = engine(
        &many(&[cnp("x", "Admin", 1, &rules("Accept", "Deny"))]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
}

#[test]
fn a_rule_decides_only_the_ports_it_names_and_the_rest_goes_on() {
    let body = format!(
        "{SUBJECT_A}{}",
        ingress_rule(
            "Deny",
            FROM_B,
            ", protocols: [{tcp: {destinationPort: {number: 80}}}, {udp: {destinationPort: {range: {start: 5000, end: 5010}}}}]"
        )
    );
    let e = engine(&many(&[cnp("x", "Admin", 1, &body)]), IpBlockPods::Ignore);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        "SCTP 1-65535,TCP 1-79,81-65535,UDP 1-4999,5011-65535"
    );
}

#[test]
fn a_named_port_resolves_against_the_destination_container_port() {
    // web has containerPort http=8080 (TCP) and dns=53 (UDP); db has none.
    let body = format!(
        "{SUBJECT_A}{}",
        ingress_rule("Deny", FROM_B, ", protocols: [{destinationNamedPort: dns}]")
    );
    let e = engine(&many(&[cnp("x", "Admin", 1, &body)]), IpBlockPods::Ignore);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        "SCTP 1-65535,TCP 1-65535,UDP 1-52,54-65535"
    );
    assert_eq!(conns(&e, "b/client", "a/db"), ALL);
}

#[test]
fn the_baseline_tier_applies_only_to_pods_no_network_policy_selects() {
    // "Baseline tier is a cluster-wide policy that can be overridden by the v1.NetworkPolicy."
    let deny = format!("{SUBJECT_A}{}", ingress_rule("Deny", FROM_B, ""));
    let e = engine(
        &many(&[cnp("base", "Baseline", 1, &deny), NP_ALLOW_B_TO_WEB.into()]),
        IpBlockPods::Ignore,
    );
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "the NetworkPolicy decides"
    );
    assert_eq!(
        conns(&e, "b/client", "a/db"),
        NONE,
        "db: no NetworkPolicy, Baseline denies"
    );
}

#[test]
fn a_baseline_pass_falls_to_the_default_allow() {
    let body = format!(
        "{SUBJECT_A}  ingress:\n  - {{action: Pass, from: [{FROM_B}]}}\n  - {{action: Deny, from: [{FROM_B}]}}\n"
    );
    let e = engine(
        &many(&[cnp("base", "Baseline", 1, &body)]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
}

#[test]
fn an_egress_accept_still_needs_the_destination_ingress() {
    // "Accept ... No further egress ClusterNetworkPolicy or NetworkPolicy rules will be
    // processed but any ingress rules at the destination do apply."
    let egress = "  subject: {namespaces: {matchLabels: {team: blue}}}\n  egress:\n  \
                  - {action: Accept, to: [{namespaces: {matchLabels: {team: red}}}]}\n";
    let e = engine(
        &many(&[cnp("out", "Admin", 1, egress), NP_DENY_ALL_A.into()]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
}

#[test]
fn a_policy_without_ingress_rules_leaves_ingress_alone() {
    // "CNPs with no ingress rules do not affect ingress traffic."
    let egress_only = format!(
        "{SUBJECT_A}  egress:\n  - {{action: Deny, to: [{{namespaces: {{matchLabels: {{team: blue}}}}}}]}}\n"
    );
    let e = engine(
        &many(&[cnp("x", "Admin", 1, &egress_only)]),
        IpBlockPods::Ignore,
    );
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(conns(&e, "a/web", "b/client"), NONE);
}

#[test]
fn a_pods_subject_selects_by_namespace_and_pod_labels() {
    let body = format!(
        "  subject: {{pods: {{namespaceSelector: {{matchLabels: {{team: red}}}}, podSelector: {{matchLabels: {{app: db}}}}}}}}\n{}",
        ingress_rule("Deny", FROM_B, "")
    );
    let e = engine(&many(&[cnp("x", "Admin", 1, &body)]), IpBlockPods::Ignore);
    assert_eq!(conns(&e, "b/client", "a/db"), NONE);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
}

#[test]
fn networks_match_pod_ips_unless_told_to_ignore_them() {
    // "if you Accept or Deny traffic to "0.0.0.0/0", that will allow or deny all IPv4
    // pod-to-pod traffic as well."
    let body = "  subject: {namespaces: {matchLabels: {team: blue}}}\n  egress:\n  \
                - {action: Deny, to: [{networks: [0.0.0.0/0]}]}\n";
    let yaml = many(&[cnp("x", "Admin", 1, body)]);
    let settings = Settings {
        ip_block_pods: IpBlockPods::Ignore,
        tier_networks: IpBlockPods::Match,
        ..Settings::uniform(IpBlockPods::Ignore)
    };
    let e = Engine::new(&snapshot(&yaml), settings);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    let e = engine(&yaml, IpBlockPods::Ignore);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "netpol-analyzer's reading"
    );
}

#[test]
fn a_zero_priority_admin_deny_of_everything_closes_every_path_of_its_subject() {
    let body =
        format!("{SUBJECT_A}  ingress:\n  - {{action: Deny, from: [{{namespaces: {{}}}}]}}\n");
    let e = engine(
        &many(&[cnp("x", "Admin", 0, &body), NP_ALLOW_B_TO_WEB.into()]),
        IpBlockPods::Ignore,
    );
    for src in ["a/web", "a/db", "b/client"] {
        for dst in ["a/web", "a/db"] {
            if src != dst {
                assert_eq!(conns(&e, src, dst), NONE, "{src} -> {dst}");
            }
        }
    }
}

/// The verdict towards one external address from pod `src`.
fn to_external(e: &Engine, src: &str, ip: &str) -> Verdict {
    let addr: std::net::Ipv4Addr = ip.parse().unwrap();
    let ext = e.externals();
    let r = ext
        .destinations
        .iter()
        .find(|r| (r.lo..=r.hi).contains(&(u32::from(addr) as u128)))
        .unwrap();
    let (ns, n) = src.split_once('/').unwrap();
    let s = e
        .class_of(&crate::model::ObjectRef::new(ns, format!("{n}[Pod]")))
        .unwrap();
    e.verdict(&Peer::Class(s), &Peer::External(*r))
}

#[test]
fn domain_names_and_nodes_are_undecided_never_guessed() {
    let body = "  subject: {namespaces: {matchLabels: {team: blue}}}\n  egress:\n  \
                - {name: dns-allow, action: Accept, to: [{domainNames: [example.com]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}\n  \
                - {name: to-nodes, action: Deny, to: [{nodes: {}}], protocols: [{tcp: {destinationPort: {number: 10250}}}]}\n  \
                - {name: rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}\n";
    let e = engine(&many(&[cnp("x", "Admin", 1, body)]), IpBlockPods::Ignore);
    let v = to_external(&e, "b/client", "93.184.216.34");
    assert_eq!(v.undecided.to_string(), "TCP 443,10250");
    // Taken as not matching, the final Deny decides: nothing is allowed for certain.
    assert_eq!(v.allowed.to_string(), NONE);
    // Pods are neither nodes nor DNS names: pod-to-pod is decided.
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
}

#[test]
fn invalid_tier_policies_are_left_out_and_reported() {
    let bad = [
        cnp(
            "prio",
            "Admin",
            1001,
            &format!("{SUBJECT_A}{}", ingress_rule("Deny", FROM_B, "")),
        ),
        cnp(
            "tier",
            "Middle",
            1,
            &format!("{SUBJECT_A}{}", ingress_rule("Deny", FROM_B, "")),
        ),
        cnp(
            "action",
            "Admin",
            1,
            &format!("{SUBJECT_A}{}", ingress_rule("Allow", FROM_B, "")),
        ),
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n\
         metadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress:\n  \
         - {action: Pass, from: [{namespaces: {}}]}\n"
            .to_string(),
    ];
    let e = Engine::new(&snapshot(&many(&bad)), Settings::default());
    let errors: Vec<String> = e.validation_errors().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(errors[0].starts_with("ClusterNetworkPolicy action: spec.ingress[0].action"));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("ClusterNetworkPolicy prio: spec.priority"))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("ClusterNetworkPolicy tier: spec.tier"))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("BaselineAdminNetworkPolicy default: spec.ingress[0].action"))
    );
    assert!(e.tiers().is_empty());
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
}

#[test]
fn v1alpha1_and_v1alpha2_say_the_same_thing_in_their_own_fields() {
    let v2 = cnp(
        "x",
        "Admin",
        7,
        &format!(
            "{SUBJECT_A}{}",
            ingress_rule(
                "Deny",
                FROM_B,
                ", protocols: [{tcp: {destinationPort: {range: {start: 80, end: 90}}}}]"
            )
        ),
    );
    let v1 = format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n\
         metadata: {{name: x}}\nspec:\n  priority: 7\n{SUBJECT_A}{}",
        ingress_rule(
            "Deny",
            FROM_B,
            ", ports: [{portRange: {protocol: TCP, start: 80, end: 90}}]"
        )
    );
    let (a, b) = (
        engine(&many(&[v2]), IpBlockPods::Ignore),
        engine(&many(&[v1]), IpBlockPods::Ignore),
    );
    assert_eq!(
        conns(&a, "b/client", "a/web"),
        conns(&b, "b/client", "a/web")
    );
    assert_eq!(
        conns(&a, "b/client", "a/web"),
        "SCTP 1-65535,TCP 1-79,91-65535,UDP 1-65535"
    );
    let id = TierRef::new(TierKind::AdminNetworkPolicy, "x");
    assert_eq!(
        b.tiers()[&id].describe(),
        "AdminNetworkPolicy `x` (Admin, priority 7)"
    );
}

fn explain_pods(e: &Engine, src: &str, dst: &str) -> String {
    let class = |s: &str| {
        let (ns, n) = s.split_once('/').unwrap();
        Peer::Class(
            e.class_of(&crate::model::ObjectRef::new(ns, format!("{n}[Pod]")))
                .unwrap(),
        )
    };
    render_explanation(&explain(e, &class(src), &class(dst)), src, dst)
}

#[test]
fn explain_names_the_deciding_tier_rule_and_says_network_policies_were_not_consulted() {
    let body = format!(
        "{SUBJECT_A}  ingress:\n  - {{name: deny-other-tenants, action: Deny, from: [{FROM_B}]}}\n"
    );
    let e = engine(
        &many(&[
            cnp("tenant-isolation", "Admin", 10, &body),
            NP_ALLOW_B_TO_WEB.into(),
        ]),
        IpBlockPods::Ignore,
    );
    let text = explain_pods(&e, "b/client", "a/web");
    assert!(
        text.contains(
            "by Ingress: All Connections (denied by ClusterNetworkPolicy `tenant-isolation` \
             (Admin, priority 10), ingress rule `deny-other-tenants` #0; NetworkPolicies were \
             not consulted)"
        ),
        "{text}"
    );
    assert!(
        text.contains("were not consulted: the Admin tier decided everything"),
        "{text}"
    );
}

#[test]
fn explain_lists_the_pass_chain_and_the_network_policies_behind_it() {
    let pass = format!(
        "{SUBJECT_A}  ingress:\n  - {{name: to-owners, action: Pass, from: [{FROM_B}], protocols: [{{tcp: {{destinationPort: {{number: 8080}}}}}}]}}\n  - {{name: rest, action: Deny, from: [{FROM_B}]}}\n"
    );
    let e = engine(
        &many(&[cnp("delegate", "Admin", 3, &pass), NP_ALLOW_B_TO_WEB.into()]),
        IpBlockPods::Ignore,
    );
    let text = explain_pods(&e, "b/client", "a/web");
    assert!(
        text.starts_with("Connections between b/client => a/web:\nAllowed: TCP 8080\n"),
        "{text}"
    );
    assert!(text.contains(
        "Pass chain:\n  Ingress: ClusterNetworkPolicy `delegate` (Admin, priority 3), ingress rule `to-owners` #0 -> NetworkPolicies: TCP 8080\n"
    ), "{text}");
    assert!(
        text.contains("NetworkPolicy 'a/allow-b' selects a/web"),
        "{text}"
    );
    assert!(
        text.contains(
            "denied by ClusterNetworkPolicy `delegate` (Admin, priority 3), ingress rule `rest` #1"
        ),
        "{text}"
    );
}
