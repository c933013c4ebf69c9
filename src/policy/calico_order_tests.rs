//! Calico's order of evaluation under `Cni::Calico`, one test per rule of Calico's documentation
//! (docs.tigera.io, Calico Open Source: "NetworkPolicy", "GlobalNetworkPolicy", "Tier",
//! "Get started with policy tiers", "Kubernetes network policy"): policies by `order` and name,
//! tiers by `order`, `Pass` and a tier's `defaultAction`, the namespace's profile after the last
//! tier, where Kubernetes and admin policies sit, and how explain names the tier that decided.
//! Same cluster and fixtures as `calico_tests`.

use super::calico_tests::{ALL, NONE, cnp, engine, explain_text, gnp, knp, tier};
use super::semantics_tests::conns;

#[test]
fn lower_order_first_absent_order_last_and_ties_by_name() {
    // NetworkPolicy `order`: "lower values take precedence... If the order is omitted, it may
    // be considered to be infinite"; equal orders are applied by name.
    let deny = |name: &str, order: &str| {
        gnp(
            name,
            &format!(
                "  {order}selector: app == 'web'\n  ingress: [{{action: Deny, source: {{selector: app == 'client'}}}}]\n"
            ),
        )
    };
    let allow = |name: &str, order: &str| {
        gnp(
            name,
            &format!("  {order}selector: app == 'web'\n  ingress: [{{action: Allow}}]\n"),
        )
    };
    let e = engine(&[&deny("d", "order: 10\n  "), &allow("a", "order: 20\n  ")]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    let e = engine(&[&deny("d", "order: 30\n  "), &allow("a", "order: 20\n  ")]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    let e = engine(&[&deny("d", ""), &allow("a", "order: 20\n  ")]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "no order: last");
    let e = engine(&[
        &deny("a-deny", "order: 5\n  "),
        &allow("b-allow", "order: 5\n  "),
    ]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE, "a-deny sorts first");
    let e = engine(&[
        &deny("z-deny", "order: 5\n  "),
        &allow("b-allow", "order: 5\n  "),
    ]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "b-allow sorts first");
}

#[test]
fn pass_jumps_to_the_next_tier() {
    // Tier: "If a NetworkPolicy or GlobalNetworkPolicy in the Tier Passes the packet, the
    // next Tier containing a Policy that applies to the endpoint processes the packet."
    let security = tier("security", 100, "Deny");
    let pass = gnp(
        "security.pass-blue",
        "  tier: security\n  order: 1\n  selector: all()\n  ingress: [{action: Pass, source: {namespaceSelector: team == 'blue'}}]\n",
    );
    let allow = cnp(
        "a",
        "allow-client",
        "  selector: app == 'web'\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}]\n",
    );
    let e = engine(&[&security, &pass, &allow]);
    assert_eq!(conns(&e, "b/client", "a/web"), "TCP 8080");
    assert_eq!(
        conns(&e, "a/db", "a/web"),
        NONE,
        "not passed: end of tier security"
    );
    let text = explain_text(&e, "b/client", "a/web");
    assert!(
        text.contains("tier security (order 100) → tier default (order 1000000)"),
        "{text}"
    );
    assert!(
        text.contains(
            "GlobalNetworkPolicy security.pass-blue ingress rule #0 Pass: Pass to the next tier"
        ),
        "{text}"
    );
    let text = explain_text(&e, "a/db", "a/web");
    assert!(
        text.contains("end of tier security: defaultAction Deny: denies All Connections"),
        "{text}"
    );
}

#[test]
fn a_tier_that_selects_but_decides_nothing_ends_in_its_default_action() {
    // Tier `defaultAction`: "If the Tier applies to the endpoint, but takes no action on the
    // packet the packet is dropped", unless defaultAction is Pass.
    let only_db = gnp(
        "platform.only-db",
        "  tier: platform\n  selector: app == 'web'\n  ingress: [{action: Allow, source: {selector: app == 'db'}}]\n",
    );
    let allow_all = gnp(
        "allow-all",
        "  selector: all()\n  ingress: [{action: Allow}]\n",
    );
    let e = engine(&[&tier("platform", 100, "Deny"), &only_db, &allow_all]);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    let e = engine(&[&tier("platform", 100, "Pass"), &only_db, &allow_all]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "Pass: the default tier allows"
    );
}

#[test]
fn tiers_apply_in_order_and_a_tier_selecting_nothing_is_skipped() {
    // Tiers are sorted by order, smallest first; a tier with no policy applying to the
    // endpoint does not process the packet.
    let deny = gnp(
        "late.deny",
        "  tier: late\n  selector: all()\n  ingress: [{action: Deny, source: {selector: app == 'client'}}]\n",
    );
    let allow = gnp(
        "early.allow",
        "  tier: early\n  selector: all()\n  ingress: [{action: Allow, source: {selector: app == 'client'}}]\n",
    );
    let e = engine(&[
        &tier("early", 10, "Deny"),
        &tier("late", 20, "Deny"),
        &deny,
        &allow,
    ]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    let e = engine(&[
        &tier("early", 30, "Deny"),
        &tier("late", 20, "Deny"),
        &deny,
        &allow,
    ]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    // A tier whose policies select only b's pods is skipped for a's.
    let only_b = gnp(
        "early.b",
        "  tier: early\n  selector: projectcalico.org/namespace == 'b'\n  egress: [{action: Deny}]\n",
    );
    let e = engine(&[&tier("early", 10, "Deny"), &only_b]);
    assert_eq!(conns(&e, "a/web", "a/db"), ALL);
    assert_eq!(conns(&e, "b/client", "a/db"), NONE);
}

#[test]
fn endpoints_no_policy_selects_are_allowed_by_the_profile() {
    // Pods no policy selects fall to their namespace's profile, which allows.
    let e = engine(&[&gnp(
        "web",
        "  selector: app == 'web'\n  ingress: [{action: Deny}]\n",
    )]);
    assert_eq!(conns(&e, "a/web", "a/db"), ALL);
    assert_eq!(conns(&e, "b/client", "a/db"), ALL);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
}

#[test]
fn kubernetes_network_policies_sit_at_order_1000_in_the_default_tier() {
    // "Kubernetes network policy" is converted to a Calico policy of order 1000 in the
    // default tier: a Calico Deny at a lower order wins, one at a higher order comes after
    // its allows; and it makes the endpoint selected in the default tier.
    let k = knp(
        "a",
        "allow-db",
        "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: db}}}]}]\n",
    );
    let deny = |order: u32| {
        gnp(
            "deny-db",
            &format!(
                "  order: {order}\n  selector: app == 'web'\n  ingress: [{{action: Deny, source: {{selector: app == 'db'}}}}]\n"
            ),
        )
    };
    let e = engine(&[&k, &deny(500)]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    let e = engine(&[&k, &deny(2000)]);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "end of the default tier"
    );
    let later_allow = gnp(
        "allow-client",
        "  order: 2000\n  selector: app == 'web'\n  ingress: [{action: Allow, source: {selector: app == 'client'}}]\n",
    );
    let e = engine(&[&k, &later_allow]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "reaches order 2000");
    let e = engine(&[&k]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE, "as Kubernetes says");
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
}

#[test]
fn admin_network_policies_sit_in_the_kube_admin_tier_at_order_1000() {
    // Policy tiers: the tier of the Kubernetes admin policies has order 1,000 and default
    // action Pass; a Calico tier of lower order comes first.
    let anp = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: deny-blue}\nspec:\n  priority: 10\n  subject: {namespaces: {}}\n  ingress:\n  - {name: deny, action: Deny, from: [{namespaces: {matchLabels: {team: blue}}}]}\n";
    let allow = |order: u32| {
        vec![
            tier("first", order, "Deny"),
            gnp(
                "first.allow",
                "  tier: first\n  selector: all()\n  ingress: [{action: Allow}]\n",
            ),
        ]
    };
    let early = allow(500);
    let e = engine(&[anp, &early[0], &early[1]]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "order 500 before 1000");
    let late = allow(5000);
    let e = engine(&[anp, &late[0], &late[1]]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE, "the admin tier first");
    assert_eq!(
        conns(&e, "a/db", "a/web"),
        ALL,
        "no match: Pass to the next tier"
    );
}

#[test]
fn explain_names_the_tier_the_policy_and_the_rule_that_denied() {
    // Explain says "evaluated as Calico", the tiers in order, and which rule decided.
    let platform = tier("platform", 100, "Pass");
    let deny = gnp(
        "deny-cross-tenant",
        "  tier: platform\n  selector: pcns.team == 'red'\n  ingress: [{action: Deny, source: {namespaceSelector: team == 'blue'}}]\n",
    );
    let e = engine(&[&platform, &deny]);
    let text = explain_text(&e, "b/client", "a/web");
    assert!(
        text.contains("Ingress of a/web: evaluated as Calico: tier platform (order 100); allows No Connections"),
        "{text}"
    );
    assert!(text.contains("Denied: All Connections"), "{text}");
    assert!(
        text.contains(
            "by Ingress: All Connections (GlobalNetworkPolicy deny-cross-tenant ingress rule #0 Deny)"
        ),
        "{text}"
    );
    let text = explain_text(&e, "a/db", "a/web");
    assert!(
        text.contains("end of tier platform: defaultAction Pass: passes on All Connections"),
        "{text}"
    );
    assert!(
        text.contains(
            "passed beyond the last tier: the namespace's profile allows: allows All Connections"
        ),
        "{text}"
    );
}
