//! The console's views of the cluster-scoped tier policies: the tree's cluster node and the
//! tier policies under each group, the policies table's tier rows, their detail, and the
//! tenant's boundary rules.

use super::rows::{policy_of_row_key, policy_rows};
use super::screen::Screen;
use super::testing::{analysed_with, press, type_text};
use super::tree::{CLUSTER_NODE, NodeTarget};
use crate::model::fixture::{small_cluster, tier_cluster};
use crate::model::{TierKind, TierRef};

fn cnp(name: &str) -> TierRef {
    TierRef::new(TierKind::ClusterNetworkPolicy, name)
}

#[test]
fn the_cluster_node_lists_the_tier_policies_in_evaluation_order_after_the_groups() {
    let s = analysed_with(tier_cluster());
    let cluster = s.tree.cluster.as_ref().expect("a cluster node");
    let listed: Vec<(String, String)> = cluster
        .tiers
        .iter()
        .map(|t| (t.policy.to_string(), t.tier_label()))
        .collect();
    assert_eq!(
        listed,
        [
            ("cnp/tenant-isolation".into(), "Admin 10".into()),
            ("cnp/dns".into(), "Admin 20".into()),
            ("cnp/baseline-deny".into(), "Baseline 100".into()),
        ]
    );
    let rows = s.tree.visible_paths(&Default::default());
    assert_eq!(
        rows.last(),
        Some(&vec![CLUSTER_NODE.to_string()]),
        "the cluster node comes after the groups, which keep their places"
    );
    assert_eq!(rows[0], vec!["tenant:acme".to_string()]);
    assert!(
        analysed_with(small_cluster()).tree.cluster.is_none(),
        "no tier policies, no node"
    );
}

#[test]
fn each_group_lists_the_tier_policies_whose_subject_selects_its_pods() {
    let s = analysed_with(tier_cluster());
    let tiers_of = |group: &str| -> Vec<String> {
        s.tree
            .groups
            .iter()
            .find(|g| g.id == group)
            .unwrap()
            .tiers
            .iter()
            .map(|t| t.policy.name.clone())
            .collect()
    };
    assert_eq!(
        tiers_of("tenant:acme"),
        ["tenant-isolation", "dns", "baseline-deny"]
    );
    assert_eq!(tiers_of("tenant:globex"), ["dns", "baseline-deny"]);
    assert_eq!(tiers_of("platform"), ["dns"]);
    // They are children of the group, after its namespaces, and open with it.
    let mut opened = std::collections::HashSet::new();
    opened.insert(vec!["tenant:globex".to_string()]);
    let rows = s.tree.visible_paths(&opened);
    let globex: Vec<&Vec<String>> = rows
        .iter()
        .filter(|p| p[0] == "tenant:globex" && p.len() == 2)
        .collect();
    assert_eq!(
        globex.iter().map(|p| p[1].as_str()).collect::<Vec<_>>(),
        ["ns:globex-app", "tier:cnp/dns", "tier:cnp/baseline-deny"]
    );
    assert!(matches!(
        s.tree.find(globex[1]),
        Some(NodeTarget::Tier(t)) if t.policy == cnp("dns")
    ));
}

#[test]
fn the_tree_filter_keeps_matching_tier_policies() {
    let s = analysed_with(tier_cluster());
    let filtered = s.tree.filtered("tenantiso");
    let cluster = filtered.cluster.expect("the cluster node keeps its match");
    assert_eq!(cluster.tiers.len(), 1);
    let acme = &filtered.groups[0];
    assert_eq!(acme.tiers.len(), 1);
    assert!(acme.namespaces.is_empty());
    assert!(s.tree.filtered("nothing-like-it").cluster.is_none());
}

#[test]
fn the_policies_table_lists_tier_policies_first_with_tier_and_priority() {
    let mut s = analysed_with(tier_cluster());
    press(&mut s, "3");
    let Screen::Policies(table) = &s.screen else {
        panic!("policies")
    };
    let rows = policy_rows(&s, table);
    let cells: Vec<(String, String, Option<String>, Option<i64>)> = rows
        .iter()
        .map(|r| {
            (
                r.namespace.clone(),
                r.name.clone(),
                r.tier.clone(),
                r.priority,
            )
        })
        .take(4)
        .collect();
    assert_eq!(
        cells,
        [
            (
                "cluster".into(),
                "cnp/tenant-isolation".into(),
                Some("Admin".into()),
                Some(10)
            ),
            (
                "cluster".into(),
                "cnp/dns".into(),
                Some("Admin".into()),
                Some(20)
            ),
            (
                "cluster".into(),
                "cnp/baseline-deny".into(),
                Some("Baseline".into()),
                Some(100)
            ),
            ("acme-db".into(), "deny-all".into(), None, None),
        ]
    );
    assert_eq!(rows[0].key, "tier:cnp/tenant-isolation");
    assert_eq!(policy_of_row_key(&rows[0].key), rows[0].id.clone());
    assert_eq!(rows[0].tenant, "acme");
    assert_eq!(rows[1].tenant, "3 groups");
    assert_eq!(rows[0].pods, Some(3), "acme's three pods");
    assert_eq!(rows.len(), 3 + 4);
}

#[test]
fn sorting_by_tier_gives_the_evaluation_order_and_the_filter_finds_cluster_rows() {
    let mut s = analysed_with(tier_cluster());
    press(&mut s, "3");
    for _ in 0..2 {
        press(&mut s, "s");
    }
    let Screen::Policies(table) = &s.screen else {
        panic!("policies")
    };
    assert_eq!(table.sort, 2);
    let tiers: Vec<Option<String>> = policy_rows(&s, table).into_iter().map(|r| r.tier).collect();
    let admin = Some("Admin".to_string());
    let baseline = Some("Baseline".to_string());
    assert_eq!(
        tiers,
        [admin.clone(), admin, None, None, None, None, baseline]
    );
    press(&mut s, "/");
    type_text(&mut s, "cluster");
    press(&mut s, "enter");
    let Screen::Policies(table) = &s.screen else {
        panic!("policies")
    };
    let names: Vec<String> = policy_rows(&s, table).into_iter().map(|r| r.name).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("cnp/")));
}

#[test]
fn enter_on_a_tier_row_opens_its_summary_and_yaml() {
    let mut s = analysed_with(tier_cluster());
    press(&mut s, "3");
    press(&mut s, "enter");
    let Screen::Explain(e) = &s.screen else {
        panic!("explain, got {:?}", s.screen)
    };
    assert_eq!(e.title, "cnp/tenant-isolation");
    let expected = [
        "tier: Admin, priority 10",
        "subject: pods of namespaces tenant=acme",
        "selects: 3 pod(s) in acme-db, acme-web",
        "rules, in the order they are tried:",
        "  Pass ingress from namespaces tenant=acme — cnp/tenant-isolation (Admin, priority 10) rule `pass-same-tenant` #0",
        "  Deny ingress from namespaces tenant notin (acme) — cnp/tenant-isolation (Admin, priority 10) rule `deny-others` #1",
    ];
    let lines: Vec<&str> = e.text.lines().take(expected.len()).collect();
    assert_eq!(lines, expected);
    assert!(e.text.contains("kind: ClusterNetworkPolicy"));
}

#[test]
fn a_tenant_boundary_lists_admin_and_baseline_rules_in_evaluation_order() {
    let s = analysed_with(tier_cluster());
    let analysis = s.analysis.as_ref().unwrap();
    let acme: Vec<&str> = analysis.boundaries["acme"]
        .iter()
        .map(|r| r.text.as_str())
        .collect();
    assert_eq!(
        acme,
        [
            "Pass ingress from namespaces tenant=acme — cnp/tenant-isolation (Admin, priority 10) rule `pass-same-tenant` #0",
            "Deny ingress from namespaces tenant notin (acme) — cnp/tenant-isolation (Admin, priority 10) rule `deny-others` #1",
            "Accept egress to pods k8s-app=kube-dns of namespaces kubernetes.io/metadata.name=kube-system on UDP 53 — cnp/dns (Admin, priority 20) rule `accept-dns` #0",
            "Deny ingress from namespaces tenant — cnp/baseline-deny (Baseline, priority 100) rule `deny-from-tenants` #0",
        ]
    );
    // globex is not acme's subject, but acme's Deny takes globex in as a peer.
    let globex: Vec<(&str, bool)> = analysis.boundaries["globex"]
        .iter()
        .map(|r| (r.policy.name.as_str(), r.subject))
        .collect();
    assert_eq!(
        globex,
        [
            ("tenant-isolation", false),
            ("dns", true),
            ("baseline-deny", true)
        ]
    );
}

#[test]
fn enter_on_a_tier_finding_shows_the_policy_under_the_cluster_node() {
    let mut objects = tier_cluster();
    objects.push(crate::model::fixture::tier(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: not-default}\nspec:\n  subject: {namespaces: {}}\n  ingress:\n  - {name: deny, action: Deny, from: [{namespaces: {}}]}\n",
    ));
    let mut s = analysed_with(objects);
    press(&mut s, "4");
    press(&mut s, "/");
    type_text(&mut s, "PAL075");
    press(&mut s, "enter");
    press(&mut s, "enter");
    assert_eq!(s.screen, Screen::Tenants);
    assert_eq!(
        s.nav.selected,
        vec![
            CLUSTER_NODE.to_string(),
            "tier:banp/not-default".to_string()
        ]
    );
}

/// acme may reach two DNS names (an Admin Accept with `domainNames`): palisade cannot tell which
/// addresses those are, so acme → outside is undecided there, not open and not closed.
const ACCEPT_DOMAINS: &str = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: acme-apis}\nspec:\n  tier: Admin\n  priority: 5\n  subject: {namespaces: {matchLabels: {tenant: acme}}}\n  egress:\n  - name: accept-partner-apis\n    action: Accept\n    to: [{domainNames: [api.example.com, '*.partner.example']}]\n    protocols: [{tcp: {destinationPort: {number: 443}}}]\n";

#[test]
fn an_undecidable_tier_rule_marks_the_external_cell_with_its_reason() {
    let mut objects = small_cluster();
    objects.push(crate::model::fixture::tier(ACCEPT_DOMAINS));
    let s = analysed_with(objects);
    let matrix = &s.analysis.as_ref().unwrap().matrix;
    let acme = matrix
        .index_of(&crate::isolation::tenants::Group::Tenant("acme".into()))
        .unwrap();
    let out = &matrix.external_out[acme];
    assert!(
        out.conns.is_empty(),
        "acme's deny-all egress still closes it"
    );
    assert_eq!(
        out.undecided,
        crate::policy::ConnSet::ports(crate::policy::Protocol::Tcp, 443, 443)
    );
    assert_eq!(out.undecided_reasons, ["depends on DNS names"]);
    let globex = matrix
        .index_of(&crate::isolation::tenants::Group::Tenant("globex".into()))
        .unwrap();
    assert!(matrix.external_out[globex].undecided.is_empty());
    assert!(
        matrix.cells[acme].iter().all(|c| c.undecided.is_empty()),
        "pod → pod pairs are always decided"
    );
}

#[test]
fn the_drill_down_explains_a_pair_by_the_deciding_tier_rule() {
    let mut s = analysed_with(tier_cluster());
    press(&mut s, "2");
    press(&mut s, "j"); // globex → acme
    press(&mut s, "enter"); // namespaces
    press(&mut s, "enter"); // globex-app → acme-db: workload pairs
    press(&mut s, "enter"); // explain
    let Screen::Explain(e) = &s.screen else {
        panic!("explain, got {:?}", s.screen)
    };
    assert!(
        e.text
            .contains("ClusterNetworkPolicy `tenant-isolation` (Admin, priority 10)")
            && e.text.contains("deny-others"),
        "{}",
        e.text
    );
}

/// Lists `objects` with the tier kinds first, as a live cluster may answer them.
fn listed_tiers_first(s: &mut super::state::State, objects: Vec<crate::model::ClusterObject>) {
    use super::{Msg, WatchEvent, update};
    use crate::model::{NativeKind, ResourceKind, TierKind};
    let kinds = TierKind::ALL
        .into_iter()
        .map(ResourceKind::Tier)
        .chain(NativeKind::ALL.map(ResourceKind::Native))
        .chain(ResourceKind::ALL);
    for kind in kinds {
        let of_kind = objects.iter().filter(|o| o.kind() == kind).cloned();
        let event = WatchEvent::Listed(of_kind.collect());
        update(s, Msg::Watch { kind, event });
        update(s, Msg::Settle);
    }
}

#[test]
fn the_first_tenant_is_selected_even_when_the_tier_policies_arrive_before_the_namespaces() {
    let mut s = super::testing::state();
    listed_tiers_first(&mut s, tier_cluster());
    assert_eq!(
        s.nav.selected,
        ["tenant:acme"],
        "until the operator moves, the cursor is on the first row"
    );
}

#[test]
fn a_cursor_the_operator_put_on_the_cluster_node_stays_there_as_tenants_arrive() {
    let mut s = super::testing::state();
    let objects = tier_cluster();
    let tiers_only: Vec<_> = objects
        .iter()
        .filter(|o| matches!(o.kind(), crate::model::ResourceKind::Tier(_)))
        .cloned()
        .collect();
    listed_tiers_first(&mut s, tiers_only);
    press(&mut s, "home");
    assert_eq!(s.nav.selected, [CLUSTER_NODE]);
    listed_tiers_first(&mut s, objects);
    assert_eq!(
        s.nav.selected,
        [CLUSTER_NODE],
        "the operator's choice is kept"
    );
}
