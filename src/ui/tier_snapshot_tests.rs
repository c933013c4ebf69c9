//! Screens with cluster-scoped tier policies: the tree's cluster node, a tenant's boundary
//! rules in its detail pane, and the policies table's tier rows.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::app::State;
use crate::app::testing::{analysed_with, press};
use crate::config::Config;
use crate::model::fixture::tier_cluster;

fn render(state: &State, width: u16) -> Terminal<TestBackend> {
    let (config, _) = Config::load(None, false);
    let mut terminal = Terminal::new(TestBackend::new(width, 30)).unwrap();
    terminal
        .draw(|frame| super::view(state, &config.theme, frame))
        .unwrap();
    terminal
}

fn state() -> State {
    let (config, _) = Config::load(None, false);
    let mut s = analysed_with(tier_cluster());
    s.session.keymap = config.keymap;
    s
}

#[test]
fn tree_with_the_cluster_node_open() {
    let mut s = state();
    press(&mut s, "G"); // the cluster node, last
    press(&mut s, "enter");
    press(&mut s, "j"); // its first tier policy
    insta::assert_snapshot!(render(&s, 140).backend());
}

#[test]
fn tenant_detail_with_its_boundary_rules() {
    let s = state(); // acme, the first tenant, is selected
    insta::assert_snapshot!(render(&s, 160).backend());
}

#[test]
fn policies_with_tier_rows() {
    let mut s = state();
    press(&mut s, "3");
    insta::assert_snapshot!(render(&s, 120).backend());
}

#[test]
fn an_undecided_external_cell_says_why() {
    let mut objects = crate::model::fixture::small_cluster();
    objects.push(crate::model::fixture::tier(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: acme-apis}\nspec:\n  tier: Admin\n  priority: 5\n  subject: {namespaces: {matchLabels: {tenant: acme}}}\n  egress:\n  - name: accept-partner-apis\n    action: Accept\n    to: [{domainNames: [api.example.com]}]\n    protocols: [{tcp: {destinationPort: {number: 443}}}]\n",
    ));
    let (config, _) = Config::load(None, false);
    let mut s = analysed_with(objects);
    s.session.keymap = config.keymap;
    press(&mut s, "2");
    for _ in 0..4 {
        press(&mut s, "l"); // acme → ext-out
    }
    let terminal = render(&s, 120);
    let text: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(text.contains("■ closed ?"), "the cell is marked");
    assert!(
        text.contains("Isolation matrix: from (rows) → to (columns) · tier policies: 1 Admin"),
        "the title says what the cells were decided with"
    );
    assert!(
        text.contains("◧ depends on DNS names: TCP 443 (undecided, not counted as allowed)"),
        "the cell's detail says why"
    );
}

#[test]
fn the_cluster_node_explains_the_order_and_lists_the_policies() {
    let mut s = state();
    press(&mut s, "G");
    let text: String = render(&s, 160)
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    for expected in [
        "cluster-scoped tier policies",
        "1. Admin tier, by priority (lower first)",
        "3. Baseline tier, by priority (only where no NetworkPolicy selects the pod);",
        "Admin 10      cnp/tenant-isolation",
        "Baseline 100  cnp/baseline-deny",
    ] {
        assert!(text.contains(expected), "{expected}");
    }
}

#[test]
fn another_subjects_rule_is_marked_as_a_peer_in_the_tenant_pane() {
    let mut s = state();
    press(&mut s, "j"); // globex
    let text: String = render(&s, 220)
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        text.contains(
            "peer: Deny ingress from namespaces tenant notin (acme) — cnp/tenant-isolation"
        ),
        "acme's Deny takes globex in as a peer"
    );
    assert!(text.contains("  Accept egress to pods k8s-app=kube-dns"));
    assert!(
        !text.contains("peer: Accept egress"),
        "globex is dns's subject"
    );
}
