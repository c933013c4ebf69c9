//! The detail pane: a summary for tenants, the YAML for namespaces and policies.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::tenants::{directions_label, isolation_badges};
use super::{field, panel, severity_token, yaml};
use crate::app::State;
use crate::app::screen::ExplainScreen;
use crate::app::state::Focus;
use crate::app::tree::{
    ClusterNode, GroupNode, NamespaceNode, NativeNode, NodeTarget, PolicyNode, TierNode,
    WorkloadNode,
};
use crate::config::{Theme, Token};
use crate::isolation::tenants::Group;
use crate::model::NativeKind;
use crate::policy::{Cni, Direction};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let paragraph = pane(state, theme);
    let offset = clamped(&paragraph, state.detail_scroll, area);
    frame.render_widget(paragraph.scroll((offset, 0)), area);
}

/// `offset`, never past the last screenful. Measuring wraps the whole text, so a pane at its
/// top is not measured: drawing wraps only the rows it shows, and a long pane (a tenant beside
/// hundreds of tier rules) drawn on every frame was most of an idle console's CPU.
fn clamped(paragraph: &Paragraph, offset: u16, area: Rect) -> u16 {
    match offset {
        0 => 0,
        offset => offset.min(last_screenful(paragraph, area)),
    }
}

/// How far the pane in `area` scrolls.
pub fn max_scroll(state: &State, theme: &Theme, area: Rect) -> u16 {
    last_screenful(&pane(state, theme), area)
}

fn pane<'a>(state: &'a State, theme: &Theme) -> Paragraph<'a> {
    let (title, lines) = content(state, theme);
    Paragraph::new(lines)
        .block(panel(&title, state.focus == Focus::Detail, theme))
        .wrap(Wrap { trim: false })
}

/// The scroll offset that shows a bordered, wrapped paragraph's last rows at the bottom of
/// `area`: never into an empty pane, and every wrapped row reachable.
pub fn last_screenful(paragraph: &Paragraph, area: Rect) -> u16 {
    // `line_count` counts the rows wrapping makes, and the block's two borders.
    let rows = paragraph.line_count(area.width);
    u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .saturating_sub(area.height)
}

/// The pane's title and lines for the tree's selection.
fn content<'a>(state: &'a State, theme: &Theme) -> (String, Vec<Line<'a>>) {
    match state.tree.find(&state.nav.selected) {
        Some(NodeTarget::Cluster(cluster)) => (
            match cluster.natives.is_empty() {
                true => "cluster-scoped tier policies".to_string(),
                false => "cluster-scoped policies".to_string(),
            },
            cluster_summary(state, cluster, theme),
        ),
        Some(NodeTarget::Tier(tier)) => (tier.policy.to_string(), tier_detail(state, tier, theme)),
        Some(NodeTarget::Group(group)) => (
            group.group.label().to_string(),
            group_summary(state, group, theme),
        ),
        Some(NodeTarget::Namespace(ns)) => (
            format!("namespace {}", ns.name),
            namespace_detail(state, ns, theme),
        ),
        Some(NodeTarget::Workload(workload)) => (
            format!("workload {}", workload.label),
            workload_detail(state, workload, theme),
        ),
        Some(NodeTarget::Policy(policy)) => (
            format!("netpol {}", policy.policy),
            policy_detail(state, policy, theme),
        ),
        Some(NodeTarget::Native(native)) => (
            native.policy.to_string(),
            native_detail(state, native, theme),
        ),
        None => (
            "Detail".to_string(),
            vec![Line::from(Span::styled(
                "Select a tenant, namespace or policy.",
                theme.style(Token::Muted),
            ))],
        ),
    }
}

/// How a connection is decided under the CNI the analysis used (Calico orders everything in
/// its tiers; Cilium's policies join the NetworkPolicies).
fn evaluation_order(cni: Option<Cni>) -> &'static [&'static str] {
    match cni {
        Some(Cni::Calico) => &[
            "Evaluated as Calico: tiers by order (lower first), policies in a tier by order;",
            "the first Allow or Deny decides, Pass goes to the next tier, a tier that selected",
            "the pod but decided nothing ends in its defaultAction (Deny unless Pass):",
            "  Calico's Tiers at their order (e.g. 100);",
            "  kube-admin (1000): the Admin tier policies;",
            "  default (1,000,000 unless a Tier says): Calico policies, and the Kubernetes",
            "     NetworkPolicies at order 1000;",
            "  kube-baseline (10,000,000): the Baseline tier policies;",
            "  a pod no tier selects, or passed beyond the last: allowed (its profile).",
            "The source's egress and the destination's ingress must both allow.",
            "",
        ],
        Some(Cni::Cilium) => &[
            "A connection is decided by the first verdict in this order:",
            "  1. Admin tier, by priority (lower first): Accept and Deny are final, Pass skips",
            "     the rest of the tier;",
            "  2. the NetworkPolicies and Cilium's policies selecting the pod: a Cilium deny",
            "     beats every allow;",
            "  3. Baseline tier, by priority (only where no policy of step 2 selects the pod);",
            "  4. allow.",
            "The source's egress and the destination's ingress must both allow.",
            "",
        ],
        _ => &[
            "A connection is decided by the first verdict in this order:",
            "  1. Admin tier, by priority (lower first): Accept and Deny are final, Pass skips",
            "     the rest of the tier;",
            "  2. the NetworkPolicies selecting the pod;",
            "  3. Baseline tier, by priority (only where no NetworkPolicy selects the pod);",
            "  4. allow.",
            "The source's egress and the destination's ingress must both allow.",
            "",
        ],
    }
}

/// The tier order, then every tier policy in it.
fn cluster_summary<'a>(state: &State, cluster: &'a ClusterNode, theme: &Theme) -> Vec<Line<'a>> {
    let muted = theme.style(Token::Muted);
    let cni = state.analysis.as_ref().map(|a| a.settings.cni);
    let mut lines: Vec<Line> = evaluation_order(cni)
        .iter()
        .map(|t| Line::from(Span::styled(*t, muted)))
        .collect();
    for tier in &cluster.tiers {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<14}", tier.tier_label()), muted),
            Span::styled(tier.policy.to_string(), theme.style(Token::Text)),
            Span::styled(
                if tier.valid { "" } else { "  ✗ invalid" },
                theme.style(Token::Error),
            ),
        ]));
    }
    let families = [
        (
            crate::model::NativeFamily::Cilium,
            "Cilium's clusterwide policies (CiliumClusterwideNetworkPolicy):",
        ),
        (
            crate::model::NativeFamily::Calico,
            "Calico's tiers and global policies (Tier, GlobalNetworkPolicy, staged):",
        ),
    ];
    for (family, heading) in families {
        let natives: Vec<&NativeNode> = cluster
            .natives
            .iter()
            .filter(|n| n.policy.kind.family() == family)
            .collect();
        if natives.is_empty() {
            continue;
        }
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(heading, muted)));
        for native in natives {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<15}", directions_label(native.directions)),
                    muted,
                ),
                Span::styled(native.policy.to_string(), theme.style(Token::Text)),
            ]));
        }
    }
    lines
}

/// A CNI's policy: its kind and directions (a staged one: not enforced), then its YAML.
fn native_detail<'a>(state: &'a State, native: &'a NativeNode, theme: &Theme) -> Vec<Line<'a>> {
    let text = theme.style(Token::Text);
    let kind = native.policy.kind;
    let mut lines = vec![
        field("kind", kind.label(), theme, text),
        field(
            "directions",
            directions_label(native.directions).to_string(),
            theme,
            text,
        ),
    ];
    if kind.family() == crate::model::NativeFamily::Calico && kind != NativeKind::CalicoTier {
        lines.push(field(
            "enforced",
            match kind.enforced() {
                true => "yes".to_string(),
                false => "no: staged, a rehearsal of what it would change".to_string(),
            },
            theme,
            text,
        ));
    }
    lines.push(Line::default());
    if let Some(info) = state.cluster.natives.get(&native.policy) {
        lines.extend(yaml::highlight(&to_yaml(&info.object), theme));
    }
    lines
}

/// A tier policy: what it is and selects, its rules in order, then its YAML.
fn tier_detail<'a>(state: &'a State, tier: &'a TierNode, theme: &Theme) -> Vec<Line<'a>> {
    let text = theme.style(Token::Text);
    let summary = match &state.analysis {
        None => vec!["(analysing)".to_string()],
        Some(a) => crate::isolation::tiers::tier_summary(
            &a.engine,
            a.tier_reach.get(&tier.policy),
            &tier.policy,
        ),
    };
    let mut lines: Vec<Line> = summary
        .into_iter()
        .map(|l| Line::from(Span::styled(l, text)))
        .collect();
    lines.push(Line::default());
    if let Some(info) = state.cluster.tiers.get(&tier.policy) {
        lines.extend(yaml::highlight(&to_yaml(&info.object), theme));
    }
    lines
}

fn group_summary<'a>(state: &'a State, group: &'a GroupNode, theme: &Theme) -> Vec<Line<'a>> {
    let kind = match &group.group {
        Group::Tenant(_) => "tenant",
        Group::Platform => "platform namespaces (kube-system, monitoring, ingress, ...)",
        Group::Unassigned => "namespaces with no tenant label and no platform name",
    };
    let text = theme.style(Token::Text);
    let mut lines = vec![
        field("kind", kind.to_string(), theme, text),
        field(
            "namespaces",
            group.namespaces.len().to_string(),
            theme,
            text,
        ),
        field("pods", group.pod_count().to_string(), theme, text),
        field("policies", group.policy_count().to_string(), theme, text),
        field("findings", group.finding_count().to_string(), theme, text),
        Line::default(),
        Line::from(Span::styled(
            "Default isolation per namespace (✓ = every pod isolated):",
            theme.style(Token::Muted),
        )),
    ];
    for ns in &group.namespaces {
        let mut spans = vec![Span::styled(format!("  {:<24}", ns.name), text)];
        spans.extend(isolation_badges(ns.isolated, theme));
        if let Some(info) = state.cluster.namespaces.get(&ns.name) {
            let (_, placement) = state.tenant_rules.placement(&ns.name, &info.labels);
            spans.push(Span::styled(
                format!("  {placement}"),
                theme.style(Token::Muted),
            ));
        }
        lines.push(Line::from(spans));
    }
    if let Group::Tenant(tenant) = &group.group {
        lines.extend(super::tenant_traffic::tenant_lines(state, tenant, theme));
    }
    lines.extend(boundary_lines(state, group, theme));
    lines
}

/// The Admin and Baseline rules that shape a tenant's boundary, in evaluation order.
fn boundary_lines<'a>(state: &'a State, group: &GroupNode, theme: &Theme) -> Vec<Line<'a>> {
    let Group::Tenant(tenant) = &group.group else {
        return Vec::new();
    };
    let Some(rules) = state
        .analysis
        .as_ref()
        .and_then(|a| a.boundaries.get(tenant))
    else {
        return Vec::new();
    };
    let mut lines = vec![
        Line::default(),
        Line::from(Span::styled(
            "Admin and Baseline rules at its boundary, in evaluation order (peer: another subject's rule that takes its pods in):",
            theme.style(Token::Muted),
        )),
    ];
    lines.extend(rules.iter().map(|r| {
        let style = match r.text.split(' ').next() {
            Some("Deny") => theme.style(Token::Closed),
            Some("Accept") => theme.style(Token::Open),
            _ => theme.style(Token::Text),
        };
        let role = if r.subject { "  " } else { "  peer: " };
        Line::from(vec![
            Span::styled(role, theme.style(Token::Muted)),
            Span::styled(r.text.clone(), style),
        ])
    }));
    lines
}

fn namespace_detail<'a>(state: &'a State, ns: &'a NamespaceNode, theme: &Theme) -> Vec<Line<'a>> {
    let text = theme.style(Token::Text);
    let mut badges = vec![Span::styled(
        format!("{:<12}", "isolation"),
        theme.style(Token::Muted),
    )];
    badges.extend(isolation_badges(ns.isolated, theme));
    let mut lines = vec![
        field("pods", ns.pod_count.to_string(), theme, text),
        field("policies", ns.policies.len().to_string(), theme, text),
        Line::from(badges),
        Line::default(),
    ];
    if let Some(analysis) = &state.analysis {
        for finding in analysis.findings_in(&ns.name) {
            let style = theme.style(severity_token(finding.severity));
            lines.push(Line::from(vec![
                Span::styled(format!("⚠ {} ", finding.id), style),
                Span::styled(
                    format!("{}: {}", finding.object, finding.message),
                    theme.style(Token::Text),
                ),
            ]));
            lines.push(Line::from(Span::styled(
                format!("  fix: {}", finding.hint),
                theme.style(Token::Muted),
            )));
        }
        if analysis.findings_in(&ns.name).next().is_some() {
            lines.push(Line::default());
        }
    }
    if let Some(info) = state.cluster.namespaces.get(&ns.name) {
        lines.extend(yaml::highlight(&to_yaml(&info.object), theme));
    }
    lines
}

fn workload_detail<'a>(
    state: &'a State,
    workload: &'a WorkloadNode,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let text = theme.style(Token::Text);
    let mut lines = vec![
        Line::from(Span::styled(
            "Pods that every policy treats alike.",
            theme.style(Token::Muted),
        )),
        Line::default(),
    ];
    let Some(engine) = state.analysis.as_ref().map(|a| &a.engine) else {
        return lines;
    };
    for direction in [Direction::Ingress, Direction::Egress] {
        let name = direction.as_str().to_lowercase();
        let policies = engine.selecting(workload.class, direction);
        if policies.is_empty() {
            lines.push(Line::from(vec![
                Span::styled(format!("{name:<12}"), theme.style(Token::Muted)),
                Span::styled(
                    "not isolated: no policy selects these pods, everything is allowed",
                    theme.style(Token::Open),
                ),
            ]));
        } else {
            lines.push(Line::from(Span::styled(
                format!("{name}: selected by"),
                theme.style(Token::Muted),
            )));
            lines.extend(
                policies
                    .iter()
                    .map(|p| Line::from(Span::styled(format!("  netpol {p}"), text))),
            );
        }
    }
    let members = engine
        .classes()
        .classes
        .get(workload.class)
        .map(|c| c.members.as_slice())
        .unwrap_or_default();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        format!("pods ({})", members.len()),
        theme.style(Token::Muted),
    )));
    lines.extend(
        members
            .iter()
            .map(|p| Line::from(Span::styled(format!("  {}", p.name), text))),
    );
    lines
}

fn policy_detail<'a>(state: &'a State, policy: &'a PolicyNode, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![field(
        "directions",
        directions_label(policy.directions).to_string(),
        theme,
        theme.style(Token::Text),
    )];
    if let Some(analysis) = &state.analysis {
        let pods = analysis.selected_pods(&policy.policy);
        let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        let shown = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        lines.push(field(
            "selects",
            format!("{} pod(s): {shown}", names.len()),
            theme,
            theme.style(Token::Text),
        ));
    }
    lines.push(Line::default());
    if let Some(info) = state.cluster.policies.get(&policy.policy) {
        lines.extend(yaml::highlight(&to_yaml(&info.object), theme));
    }
    lines
}

fn to_yaml(object: &impl serde::Serialize) -> String {
    crate::yaml::to_string(object).unwrap_or_else(|err| format!("# cannot render as YAML: {err}"))
}

/// A scrollable text screen: explanations and policy details.
pub fn explain(screen: &ExplainScreen, theme: &Theme, frame: &mut Frame, area: Rect) {
    let paragraph = explain_pane(screen, theme);
    let offset = clamped(&paragraph, screen.scroll, area);
    frame.render_widget(paragraph.scroll((offset, 0)), area);
}

/// How far an explanation in `area` scrolls.
pub fn explain_max_scroll(screen: &ExplainScreen, theme: &Theme, area: Rect) -> u16 {
    last_screenful(&explain_pane(screen, theme), area)
}

fn explain_pane<'a>(screen: &'a ExplainScreen, theme: &Theme) -> Paragraph<'a> {
    Paragraph::new(yaml::highlight(&screen.text, theme))
        .block(panel(&screen.title, true, theme))
        .wrap(Wrap { trim: false })
}
