//! The tenants tree: tenant → namespaces → policies, with counts and isolation badges.

use std::collections::HashSet;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_tree_widget::{Tree, TreeItem, TreeState};

use super::highlight::matched;
use super::panel;
use crate::app::State;
use crate::app::denials::Denied;
use crate::app::fuzzy;
use crate::app::state::Focus;
use crate::app::tree::{
    ClusterNode, GroupNode, NamespaceNode, NativeNode, NodeId, NodePath, PolicyNode, TierNode,
    WorkloadNode,
};
use crate::app::tree_nav::shown_tree;
use crate::config::{Theme, Token};
use crate::isolation::tenants::Group;
use crate::model::Directions;

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let (shown, opened) = shown_tree(state);
    let title = if state.tree_filter.is_empty() {
        "Tenants".to_string()
    } else {
        format!("Tenants /{}", state.tree_filter)
    };
    let block = panel(&title, state.focus == Focus::Tree, theme);
    if shown.groups.is_empty() && shown.cluster.is_none() {
        let text = if !state.tree_filter.is_empty() {
            "Nothing matches the filter (esc clears it)."
        } else if state
            .listed
            .contains(&crate::model::ResourceKind::Namespace)
        {
            "No namespaces in this cluster."
        } else {
            "Loading namespaces…"
        };
        let hint =
            Paragraph::new(Line::from(Span::styled(text, theme.style(Token::Muted)))).block(block);
        frame.render_widget(hint, area);
        return;
    }
    // Items only for the top-level nodes with a row on screen. The widget, given a fresh
    // state, scrolls just far enough to show the selected row, so it draws the same rows from
    // them as from the whole tree (at 1,250 tenants, every tenant's item in each frame cost a
    // fifth of a core while flows kept the screen redrawing).
    let mut tops: Vec<&NodeId> = Vec::new();
    let mut selected = None;
    shown.each_visible(&opened, |row| {
        if selected.is_none() && row.is(&state.nav.selected) {
            selected = Some(tops.len());
        }
        tops.push(row.top());
    });
    let fit = usize::from(area.height.saturating_sub(2)).max(1);
    let first = selected.unwrap_or(0).saturating_sub(fit - 1);
    let on_screen: HashSet<&NodeId> = tops.into_iter().skip(first).take(fit).collect();
    let items: Vec<TreeItem<'_, NodeId>> = (shown.groups.iter())
        .filter(|g| on_screen.contains(&g.id))
        .map(|g| group_item(g, state, &opened, &state.tree_filter, theme))
        .chain(
            (shown.cluster.iter())
                .filter(|c| on_screen.contains(&c.id))
                .map(|c| cluster_item(c, &opened, &state.tree_filter, theme)),
        )
        .collect();
    // Identifiers are unique by construction (one id per namespace/policy), so this cannot fail;
    // fall back to an empty panel rather than panic if it ever did.
    let Ok(tree) = Tree::new(&items) else {
        frame.render_widget(block, area);
        return;
    };
    let tree = tree
        .block(block)
        .highlight_style(theme.style(Token::Selection))
        .highlight_symbol("› ");
    // The widget needs a mutable state for scrolling; build a fresh one from our own so that
    // rendering never writes back into `State`.
    let mut tree_state = TreeState::default();
    for path in opened.iter() {
        tree_state.open(path.clone());
    }
    tree_state.select(state.nav.selected.clone());
    frame.render_stateful_widget(tree, area, &mut tree_state);
}

/// The children of a closed node are never drawn, so it gets its first one only: enough for the
/// tree to mark it expandable. (Building every hidden child in each frame took half a core at
/// 100k pods while flows kept the screen redrawing.)
fn shown_children<'a>(
    open: bool,
    children: impl Iterator<Item = TreeItem<'a, NodeId>>,
) -> Vec<TreeItem<'a, NodeId>> {
    children.take(if open { usize::MAX } else { 1 }).collect()
}

fn group_item<'a>(
    group: &'a GroupNode,
    state: &State,
    opened: &HashSet<NodePath>,
    filter: &str,
    theme: &Theme,
) -> TreeItem<'a, NodeId> {
    let name_style = match group.group {
        Group::Tenant(_) => theme.style(Token::Text),
        Group::Platform => theme.style(Token::Accent),
        Group::Unassigned => theme.style(Token::Warn),
    };
    let line = Line::from(vec![
        Span::styled(group.group.label().to_string(), name_style),
        Span::styled(
            format!(
                "  {} ns · {} · {} netpol{}",
                group.namespaces.len(),
                count(group.pod_count(), "pod"),
                group.policy_count(),
                match group.tiers.len() {
                    0 => String::new(),
                    n => format!(" · {n} tier"),
                }
            ),
            theme.style(Token::Muted),
        ),
    ]);
    let mut line = line;
    line.spans
        .extend(findings_badge(group.finding_count(), theme));
    line.spans.extend(denied_badge(
        state.denied_around_group(group.group.label()),
        theme,
    ));
    let path = vec![group.id.clone()];
    let open = opened.contains(&path);
    let ns_open =
        |ns: &NamespaceNode| open && opened.contains(&[path.clone(), vec![ns.id.clone()]].concat());
    let children = shown_children(
        open,
        (group.namespaces.iter())
            .map(|ns| namespace_item(ns, ns_open(ns), state, filter, theme))
            .chain(group.tiers.iter().map(|t| tier_item(t, filter, theme))),
    );
    TreeItem::new(group.id.clone(), line, children)
        .unwrap_or_else(|_| TreeItem::new_leaf(group.id.clone(), group.group.label().to_string()))
}

/// "cluster  4 tier policies": the cluster-scoped policies, decided around the NetworkPolicies.
fn cluster_item<'a>(
    cluster: &'a ClusterNode,
    opened: &HashSet<NodePath>,
    filter: &str,
    theme: &Theme,
) -> TreeItem<'a, NodeId> {
    let tiers = match cluster.tiers.len() {
        0 => String::new(),
        1 => "  1 tier policy · Admin before NetworkPolicies, Baseline after".to_string(),
        n => format!("  {n} tier policies · Admin before NetworkPolicies, Baseline after"),
    };
    // `· 1 ccnp`, `· 5 gnp · 2 tier · 1 sgnp`: how many of each cluster-scoped CNI kind.
    let natives: String = crate::model::NativeKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let n = cluster
                .natives
                .iter()
                .filter(|c| c.policy.kind == kind)
                .count();
            (n > 0).then(|| format!("  · {n} {}", kind.short_name()))
        })
        .collect();
    let line = Line::from(vec![
        Span::styled("cluster", theme.style(Token::Accent)),
        Span::styled(format!("{tiers}{natives}"), theme.style(Token::Muted)),
    ]);
    let children = shown_children(
        opened.contains(&vec![cluster.id.clone()]),
        (cluster.tiers.iter())
            .map(|t| tier_item(t, filter, theme))
            .chain(
                cluster
                    .natives
                    .iter()
                    .map(|n| native_item(n, filter, theme)),
            ),
    );
    TreeItem::new(cluster.id.clone(), line, children)
        .unwrap_or_else(|_| TreeItem::new_leaf(cluster.id.clone(), "cluster"))
}

/// "▲ cnp/tenant-isolation  Admin 10  ingress": kind and name, tier and priority, directions.
fn tier_item<'a>(tier: &'a TierNode, filter: &str, theme: &Theme) -> TreeItem<'a, NodeId> {
    let mut spans = vec![Span::styled(
        format!("{}/", tier.policy.kind.short_name()),
        theme.style(Token::Muted),
    )];
    spans.extend(name_spans(&tier.policy.name, filter, theme));
    spans.push(Span::styled(
        format!(
            "  {}  {}",
            tier.tier_label(),
            directions_label(tier.directions)
        ),
        theme.style(Token::Muted),
    ));
    if !tier.valid {
        spans.push(Span::styled("  ✗ invalid", theme.style(Token::Error)));
    }
    TreeItem::new_leaf(tier.id.clone(), Line::from(spans))
}

/// "ciliumnp/storefront-to-world  egress": Cilium's short name, the name, the directions.
fn native_item<'a>(native: &'a NativeNode, filter: &str, theme: &Theme) -> TreeItem<'a, NodeId> {
    let mut spans = vec![Span::styled(
        format!("{}/", native.policy.kind.short_name()),
        theme.style(Token::Muted),
    )];
    spans.extend(name_spans(&native.policy.name, filter, theme));
    spans.push(Span::styled(
        format!("  {}", directions_label(native.directions)),
        theme.style(Token::Muted),
    ));
    TreeItem::new_leaf(native.id.clone(), Line::from(spans))
}

fn namespace_item<'a>(
    ns: &'a NamespaceNode,
    open: bool,
    state: &State,
    filter: &str,
    theme: &Theme,
) -> TreeItem<'a, NodeId> {
    let mut spans = name_spans(&ns.name, filter, theme);
    spans.push(Span::styled(
        format!("  {}  ", count(ns.pod_count, "pod")),
        theme.style(Token::Muted),
    ));
    spans.extend(isolation_badges(ns.isolated, theme));
    spans.extend(findings_badge(ns.findings, theme));
    spans.extend(denied_badge(state.denied_around_namespace(&ns.name), theme));
    let children = shown_children(
        open,
        (ns.workloads.iter())
            .map(|w| workload_item(w, filter, theme))
            .chain(ns.policies.iter().map(|p| policy_item(p, filter, theme)))
            .chain(ns.natives.iter().map(|n| native_item(n, filter, theme))),
    );
    TreeItem::new(ns.id.clone(), Line::from(spans), children)
        .unwrap_or_else(|_| TreeItem::new_leaf(ns.id.clone(), ns.name.clone()))
}

fn workload_item<'a>(
    workload: &'a WorkloadNode,
    filter: &str,
    theme: &Theme,
) -> TreeItem<'a, NodeId> {
    let isolation = workload.isolated;
    let mut spans = vec![Span::styled("◆ ", theme.style(Token::Text))];
    spans.extend(name_spans(&workload.label, filter, theme));
    spans.push(Span::styled("  ", theme.style(Token::Text)));
    spans.extend(isolation_badges(isolation, theme));
    TreeItem::new_leaf(workload.id.clone(), Line::from(spans))
}

fn policy_item<'a>(policy: &'a PolicyNode, filter: &str, theme: &Theme) -> TreeItem<'a, NodeId> {
    let mut spans = name_spans(&policy.policy.name, filter, theme);
    spans.push(Span::styled(
        format!("  {}", directions_label(policy.directions)),
        theme.style(Token::Muted),
    ));
    let line = Line::from(spans);
    TreeItem::new_leaf(policy.id.clone(), line)
}

/// A node's name with the characters the tree's filter matched in it emphasised (the filter
/// matches namespace, policy and workload names one by one, see `TenantTree::filtered`).
fn name_spans(name: &str, filter: &str, theme: &Theme) -> Vec<Span<'static>> {
    matched(
        name,
        &fuzzy::indices(filter, name),
        theme.style(Token::Text),
        theme,
    )
    .spans
}

/// `in✓ eg✗`: whether every pod of the namespace is isolated per direction. Symbols as well as
/// colours, so the badge reads without colour.
pub fn isolation_badges(isolated: Directions, theme: &Theme) -> Vec<Span<'static>> {
    let badge = |label: &str, on: bool| {
        if on {
            Span::styled(format!("{label}✓"), theme.style(Token::Closed))
        } else {
            Span::styled(format!("{label}✗"), theme.style(Token::Open))
        }
    };
    vec![
        badge("in", isolated.ingress),
        Span::raw(" "),
        badge("eg", isolated.egress),
    ]
}

/// `  ⚠ 3` when the analysis found something; nothing otherwise.
/// Denied flows per second into and out of a tenant or namespace, when the agents saw any.
fn denied_badge((into, out): (Denied, Denied), theme: &Theme) -> Option<Span<'static>> {
    let part = |d: Denied, way: &str| d.any().then(|| format!("{} {way}", d.label()));
    let parts: Vec<String> = [part(into, "in"), part(out, "out")]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| {
        Span::styled(
            format!("  denied {}", parts.join(" · ")),
            theme.style(Token::Open),
        )
    })
}

pub use crate::app::denials::per_second;

pub fn findings_badge(count: usize, theme: &Theme) -> Option<Span<'static>> {
    (count > 0).then(|| Span::styled(format!("  ⚠ {count}"), theme.style(Token::Warn)))
}

pub fn directions_label(directions: Directions) -> &'static str {
    match (directions.ingress, directions.egress) {
        (true, true) => "ingress+egress",
        (true, false) => "ingress",
        (false, true) => "egress",
        (false, false) => "no direction",
    }
}

/// `1 pod`, `3 pods`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
