//! Why a connection is allowed or denied: which tier rules decided which parts, in the tier
//! order (Admin, NetworkPolicies, Baseline, default), which NetworkPolicies select each end,
//! which rules admit the other end and on which ports, and what each side leaves out.

use std::fmt::Write as _;

use super::calico::CalicoAction;
use super::calico::eval::{CalicoTrace, TraceStep, step_text};
use super::cilium::{self, RuleHit};
use super::compile::Direction;
use super::connset::ConnSet;
use super::decide::SideResult;
use super::decide::{Decider, Trace};
use super::engine::{Engine, Peer};
use super::matching::{Endpoint, Target, rule_peer_matches, rule_ports};
use super::settings::Cni;
use super::tier::{Action, Tier};
use crate::model::{ObjectRef, TierRef};

/// What decided a part of one side's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecidedBy {
    /// A tier rule: `Accept` and `Deny` decide, `Pass` hands the part to the next tier.
    TierRule {
        policy: TierRef,
        tier: Tier,
        /// "ClusterNetworkPolicy `x` (Admin, priority 10)".
        policy_text: String,
        /// "ingress rule `deny-others` #0".
        rule_text: String,
        action: Action,
    },
    /// The NetworkPolicies selecting this end; `allowed` says whether their rules allow it.
    NetworkPolicies { allowed: bool },
    /// No policy decided: allowed by default.
    Default,
}

/// A part of the connections and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub conns: ConnSet,
    pub by: DecidedBy,
}

/// Connections a rule with an undecidable peer (node IPs, DNS names) would decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndecidedPart {
    pub conns: ConnSet,
    pub policy_text: String,
    pub rule_text: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVerdict {
    /// Index in the policy's `ingress` or `egress` list.
    pub index: usize,
    /// Whether the rule's `from`/`to` admits the other end.
    pub peer_matches: bool,
    /// Ports the rule opens for this pair (empty when the peer does not match, or when only
    /// named ports were listed and the destination has none of them).
    pub ports: ConnSet,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVerdict {
    pub policy: ObjectRef,
    pub rules: Vec<RuleVerdict>,
    pub allowed: ConnSet,
}

/// One end's side of the decision: egress of the source or ingress of the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideExplanation {
    pub direction: Direction,
    /// External addresses have no policies.
    pub external: bool,
    /// NetworkPolicies selecting this end in this direction; empty means not isolated.
    pub policies: Vec<PolicyVerdict>,
    pub allowed: ConnSet,
    /// Who decided what, in evaluation order (empty for an external end).
    pub parts: Vec<Part>,
    pub undecided: Vec<UndecidedPart>,
    /// Cilium rules selecting this end whose peers take in the other end (allow and deny).
    pub natives: Vec<RuleHit>,
    /// Cilium policies selecting this end in this direction (policy text, isolates).
    pub native_policies: Vec<(String, bool)>,
    /// What Cilium deny rules took away (part of the NetworkPolicy tier's denied parts).
    pub native_denied: ConnSet,
    /// Under Calico, when some policy selects this end: the walk through its tiers.
    pub calico: Option<CalicoExplanation>,
}

/// Calico's walk for one side: the tiers in order and what decided each part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalicoExplanation {
    /// "tier platform (order 100) → tier default (order 1000000)".
    pub order: String,
    /// Each part and what decided it, in evaluation order; `true` when allowed or passed on.
    pub parts: Vec<(ConnSet, String, CalicoVerdict)>,
}

/// What a step of Calico's walk did with a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalicoVerdict {
    Allowed,
    Denied,
    Passed,
}

impl SideExplanation {
    /// Whether a NetworkPolicy selects this end in this direction.
    pub fn isolated(&self) -> bool {
        !self.policies.is_empty()
            || self.native_policies.iter().any(|(_, iso)| *iso)
            || self.calico.is_some()
    }

    /// Whether a tier rule decided (or passed) any part.
    pub fn tiered(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p.by, DecidedBy::TierRule { .. }))
    }

    /// Whether any part reached the NetworkPolicies.
    pub fn consulted_network_policies(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p.by, DecidedBy::NetworkPolicies { .. }))
    }

    fn external(direction: Direction) -> SideExplanation {
        SideExplanation {
            direction,
            external: true,
            policies: Vec::new(),
            allowed: ConnSet::all(),
            parts: Vec::new(),
            undecided: Vec::new(),
            natives: Vec::new(),
            native_policies: Vec::new(),
            native_denied: ConnSet::none(),
            calico: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub src: Peer,
    pub dst: Peer,
    pub egress: SideExplanation,
    pub ingress: SideExplanation,
    /// `egress.allowed ∩ ingress.allowed`, undecidable peers taken as not matching.
    pub allowed: ConnSet,
    /// What depends on node IPs or DNS names.
    pub undecided: ConnSet,
}

fn endpoint(engine: &Engine, p: &Peer) -> Option<Endpoint> {
    match p {
        Peer::Class(c) => engine
            .classes()
            .classes
            .get(*c)
            .map(|c| (*c.endpoint).clone()),
        Peer::External(_) => None,
    }
}

fn side(engine: &Engine, dir: Direction, subject: &Peer, other: &Peer) -> SideExplanation {
    let (Peer::Class(c), Some(ep)) = (subject, endpoint(engine, subject)) else {
        return SideExplanation::external(dir);
    };
    let other_ep = endpoint(engine, other);
    let target = match (other, &other_ep) {
        (Peer::External(r), _) => Target::External(r),
        (_, Some(e)) => Target::Pod(e),
        (Peer::Class(_), None) => {
            return SideExplanation {
                external: false,
                allowed: ConnSet::none(),
                ..SideExplanation::external(dir)
            };
        }
    };
    // Named ports resolve against the destination pod.
    let dst = match dir {
        Direction::Ingress => Some(&ep),
        Direction::Egress => other_ep.as_ref(),
    };
    let mut policies = Vec::new();
    for id in engine.selecting(*c, dir) {
        let Some(p) = engine.policies().get(id) else {
            continue;
        };
        let mut verdict = PolicyVerdict {
            policy: id.clone(),
            rules: Vec::new(),
            allowed: ConnSet::none(),
        };
        for (index, rule) in p.rules(dir).unwrap_or_default().iter().enumerate() {
            let mode = engine.settings().ip_block_pods;
            let peer_matches = rule_peer_matches(rule, p.namespace(), target, mode);
            let ports = if peer_matches {
                rule_ports(rule, dst)
            } else {
                ConnSet::none()
            };
            verdict.allowed.union_with(&ports);
            verdict.rules.push(RuleVerdict {
                index,
                peer_matches,
                ports,
            });
        }
        policies.push(verdict);
    }
    let native_rules = engine.native_rules(*c, dir);
    let native = cilium::native_side(&native_rules, dir, target, dst);
    let mut native_policies: Vec<(String, bool)> = Vec::new();
    for (p, r) in &native_rules {
        let text = p.describe();
        match native_policies.iter_mut().find(|(t, _)| *t == text) {
            Some((_, iso)) => *iso |= r.isolates(dir),
            None => native_policies.push((text, r.isolates(dir))),
        }
    }
    let mut trace = Trace::default();
    let mut result = engine.side_result(dir, *c, other, Some(&mut trace));
    let (calico, calico_undecided) = match engine.settings().cni {
        Cni::Calico => calico_side(engine, dir, *c, other, &mut result),
        _ => (None, Vec::new()),
    };
    let mut native_denied = ConnSet::none();
    for entry in &trace.entries {
        if entry.decider == Decider::NativeDeny {
            native_denied.union_with(&entry.conns);
        }
    }
    let steps = engine.tier_steps(*c, dir);
    let ingress = dir == Direction::Ingress;
    let texts = |i: usize| {
        let step = &steps[i];
        (step.policy.describe(), step.rule.describe(ingress))
    };
    let parts = trace
        .entries
        .into_iter()
        .map(|entry| Part {
            conns: entry.conns,
            by: match entry.decider {
                Decider::Rule(i) => {
                    let (policy_text, rule_text) = texts(i);
                    DecidedBy::TierRule {
                        policy: steps[i].policy.id.clone(),
                        tier: steps[i].policy.tier,
                        policy_text,
                        rule_text,
                        action: steps[i].rule.action,
                    }
                }
                Decider::NetworkPolicies(allowed) => DecidedBy::NetworkPolicies { allowed },
                // Denied within the NetworkPolicy tier; `native_denied` says by which rules.
                Decider::NativeDeny => DecidedBy::NetworkPolicies { allowed: false },
                Decider::Default => DecidedBy::Default,
            },
        })
        .collect();
    let undecided = trace
        .undecided
        .into_iter()
        .map(|(conns, i, reason)| {
            let (policy_text, rule_text) = texts(i);
            UndecidedPart {
                conns,
                policy_text,
                rule_text,
                reason,
            }
        })
        .collect::<Vec<_>>();
    let mut undecided = undecided;
    undecided.extend(calico_undecided);
    for hit in native.hits.iter().filter(|h| h.unknown.is_some()) {
        undecided.push(UndecidedPart {
            conns: hit.conns.clone(),
            policy_text: hit.policy_text.clone(),
            rule_text: hit.rule_text.clone(),
            reason: hit.unknown.unwrap_or("undecidable"),
        });
    }
    SideExplanation {
        direction: dir,
        external: false,
        policies,
        allowed: result.allowed,
        parts,
        undecided,
        natives: native.hits,
        native_policies,
        native_denied,
        calico,
    }
}

/// Calico's walk for one side, traced: the explanation (`None` when no policy selects the end)
/// and the undecided parts. Sets `result` to the walk's outcome.
fn calico_side(
    engine: &Engine,
    dir: Direction,
    class: usize,
    other: &Peer,
    result: &mut SideResult,
) -> (Option<CalicoExplanation>, Vec<UndecidedPart>) {
    let plan = engine.calico_plan(class, dir);
    if plan.tiers.is_empty() {
        return (None, Vec::new());
    }
    let mut trace = CalicoTrace::default();
    *result = engine.calico_side(dir, class, other, Some(&mut trace));
    let order = plan
        .tiers
        .iter()
        .map(|t| t.tier.describe())
        .collect::<Vec<_>>()
        .join(" → ");
    let parts = trace
        .entries
        .into_iter()
        .map(|(conns, step)| match step {
            TraceStep::Rule(i) => {
                let s = &plan.steps[i];
                let text = step_text(s, dir);
                let verdict = match s.action {
                    CalicoAction::Allow => CalicoVerdict::Allowed,
                    CalicoAction::Pass => CalicoVerdict::Passed,
                    CalicoAction::Deny | CalicoAction::Log => CalicoVerdict::Denied,
                };
                let text = match verdict {
                    CalicoVerdict::Passed => format!("{text}: Pass to the next tier"),
                    _ => text,
                };
                (conns, text, verdict)
            }
            TraceStep::EndOfTier(t) => {
                let tier = &plan.tiers[t].tier;
                match tier.default_pass {
                    true => (
                        conns,
                        format!("end of tier {}: defaultAction Pass", tier.name),
                        CalicoVerdict::Passed,
                    ),
                    false => (
                        conns,
                        format!("end of tier {}: defaultAction Deny", tier.name),
                        CalicoVerdict::Denied,
                    ),
                }
            }
            TraceStep::Profile => (
                conns,
                "passed beyond the last tier: the namespace's profile allows".to_string(),
                CalicoVerdict::Allowed,
            ),
        })
        .collect();
    let undecided = trace
        .undecided
        .into_iter()
        .map(|(conns, i, reason)| UndecidedPart {
            conns,
            policy_text: "Calico".into(),
            rule_text: step_text(&plan.steps[i], dir),
            reason,
        })
        .collect();
    (Some(CalicoExplanation { order, parts }), undecided)
}

pub fn explain(engine: &Engine, src: &Peer, dst: &Peer) -> Explanation {
    let egress = side(engine, Direction::Egress, src, dst);
    let ingress = side(engine, Direction::Ingress, dst, src);
    let allowed = egress.allowed.intersect(&ingress.allowed);
    let undecided = engine.verdict(src, dst).undecided;
    Explanation {
        src: *src,
        dst: *dst,
        egress,
        ingress,
        allowed,
        undecided,
    }
}

fn render_network_policies(out: &mut String, s: &SideExplanation, who: &str, other: &str) {
    let dir = s.direction.as_str();
    let key = dir.to_ascii_lowercase();
    for p in &s.policies {
        let _ = writeln!(out, "    NetworkPolicy '{}' selects {who}", p.policy);
        if p.rules.is_empty() {
            let _ = writeln!(out, "      has no {dir} rules: denies all {key}");
        }
        for r in &p.rules {
            let line = match (r.peer_matches, r.ports.is_empty()) {
                (false, _) => format!("does not match {other}"),
                (true, true) => format!("matches {other}, but none of its ports apply"),
                (true, false) => format!("matches {other}, allows {}", r.ports),
            };
            let _ = writeln!(out, "      {key}[{}] {line}", r.index);
        }
    }
}

/// The Cilium policies selecting this end and their rules that take in the other end.
fn render_natives(out: &mut String, s: &SideExplanation, who: &str, other: &str) {
    for (policy, isolates) in &s.native_policies {
        let mode = match isolates {
            true => "default deny",
            false => "enableDefaultDeny false: does not isolate",
        };
        let _ = writeln!(out, "    {policy} selects {who} ({mode})");
    }
    for h in s.natives.iter().filter(|h| h.unknown.is_none()) {
        let mut notes = String::new();
        if h.l7 {
            notes.push_str(" (L7-filtered: allowed at L4, Cilium's proxy filters requests)");
        }
        if h.icmp {
            notes.push_str(" (its ICMP part is not evaluated)");
        }
        let _ = match h.deny {
            true => writeln!(
                out,
                "      {} of {}: matches {other}, denies {}, over every allow{notes}",
                h.rule_text, h.policy_text, h.conns
            ),
            false => writeln!(
                out,
                "      {} {}: matches {other}, allows {}{notes}",
                h.policy_text, h.rule_text, h.conns
            ),
        };
    }
}

/// Calico's walk: the tiers in order, then each part and what decided it.
fn render_calico(out: &mut String, s: &SideExplanation, x: &CalicoExplanation, who: &str) {
    let dir = s.direction.as_str();
    let _ = writeln!(
        out,
        "  {dir} of {who}: evaluated as Calico: {}; allows {}",
        x.order, s.allowed
    );
    for (conns, text, verdict) in &x.parts {
        let what = match verdict {
            CalicoVerdict::Allowed => "allows",
            CalicoVerdict::Denied => "denies",
            CalicoVerdict::Passed => "passes on",
        };
        let _ = writeln!(out, "    {text}: {what} {conns}");
    }
    for u in &s.undecided {
        let _ = writeln!(
            out,
            "    {}: undecided on {} ({})",
            u.rule_text, u.conns, u.reason
        );
    }
}

fn render_side(out: &mut String, s: &SideExplanation, who: &str, other: &str) {
    let dir = s.direction.as_str();
    if let Some(x) = &s.calico {
        return render_calico(out, s, x, who);
    }
    if s.external {
        let _ = writeln!(out, "  {dir} of {who}: external address, no policies apply");
        return;
    }
    if !s.isolated() && !s.tiered() && s.undecided.is_empty() && s.native_policies.is_empty() {
        let _ = writeln!(
            out,
            "  {dir} of {who}: not isolated (no policy selects it for {dir}), all allowed"
        );
        return;
    }
    match s.isolated() {
        true => {
            let _ = writeln!(out, "  {dir} of {who}: isolated, allows {}", s.allowed);
        }
        false => {
            let _ = writeln!(out, "  {dir} of {who}: allows {}", s.allowed);
        }
    }
    let mut shown_network_policies = false;
    for part in &s.parts {
        match &part.by {
            DecidedBy::TierRule {
                tier,
                policy_text,
                rule_text,
                action,
                ..
            } => {
                let what = match (action, tier) {
                    (Action::Accept, _) => "accepts".to_string(),
                    (Action::Deny, _) => "denies".to_string(),
                    (Action::Pass, Tier::Admin) => "passes to the NetworkPolicies".to_string(),
                    (Action::Pass, Tier::Baseline) => "passes to the default (allow)".to_string(),
                };
                let _ = writeln!(out, "    {policy_text}, {rule_text}: {what} {}", part.conns);
            }
            DecidedBy::NetworkPolicies { .. } if !shown_network_policies => {
                shown_network_policies = true;
                render_network_policies(out, s, who, other);
                render_natives(out, s, who, other);
            }
            DecidedBy::NetworkPolicies { .. } => {}
            DecidedBy::Default => {
                let _ = writeln!(
                    out,
                    "    no policy decides {}: allowed by default",
                    part.conns
                );
            }
        }
    }
    if !shown_network_policies && !s.native_policies.is_empty() {
        render_natives(out, s, who, other);
    }
    if s.isolated() && !shown_network_policies {
        let _ = writeln!(
            out,
            "    NetworkPolicies selecting {who} were not consulted: the Admin tier decided everything"
        );
    }
    for u in &s.undecided {
        let _ = writeln!(
            out,
            "    {}, {}: undecided on {} ({})",
            u.policy_text, u.rule_text, u.conns, u.reason
        );
    }
}

/// Why one side denies what it denies, one line per deciding rule or policy set.
fn render_denials(out: &mut String, s: &SideExplanation) {
    let dir = s.direction.as_str();
    if let Some(x) = &s.calico {
        for (conns, text, verdict) in &x.parts {
            if *verdict == CalicoVerdict::Denied {
                let _ = writeln!(out, "  by {dir}: {conns} ({text})");
            }
        }
        return;
    }
    for part in &s.parts {
        let line = match &part.by {
            DecidedBy::TierRule {
                tier,
                policy_text,
                rule_text,
                action: Action::Deny,
                ..
            } => {
                let after = match tier {
                    Tier::Admin => "NetworkPolicies were not consulted",
                    Tier::Baseline => "no NetworkPolicy selects this end",
                };
                format!("denied by {policy_text}, {rule_text}; {after}")
            }
            DecidedBy::NetworkPolicies { allowed: false } => {
                let by_deny = part.conns.intersect(&s.native_denied);
                for h in s.natives.iter().filter(|h| h.deny && h.unknown.is_none()) {
                    let conns = by_deny.intersect(&h.conns);
                    if !conns.is_empty() {
                        let _ = writeln!(
                            out,
                            "  by {dir}: {conns} ({} of {}: denies, over every allow)",
                            h.rule_text, h.policy_text
                        );
                    }
                }
                let rest = part.conns.subtract(&s.native_denied);
                if rest.is_empty() {
                    continue;
                }
                let whose = match s.native_policies.is_empty() {
                    true => "the selecting NetworkPolicies",
                    false => "the NetworkPolicy tier (NetworkPolicies and Cilium policies)",
                };
                let _ = writeln!(
                    out,
                    "  by {dir}: {rest} (not allowed by any {dir} rule of {whose})"
                );
                continue;
            }
            _ => continue,
        };
        let _ = writeln!(out, "  by {dir}: {} ({line})", part.conns);
    }
}

/// The Pass rules that handed parts on, in order.
fn render_pass_chain(out: &mut String, s: &SideExplanation) {
    for part in &s.parts {
        if let DecidedBy::TierRule {
            tier,
            policy_text,
            rule_text,
            action: Action::Pass,
            ..
        } = &part.by
        {
            let to = match tier {
                Tier::Admin => "NetworkPolicies",
                Tier::Baseline => "the default",
            };
            let _ = writeln!(
                out,
                "  {}: {policy_text}, {rule_text} -> {to}: {}",
                s.direction.as_str(),
                part.conns
            );
        }
    }
}

/// A readable rendering; `src_name`/`dst_name` are the display names of the two ends.
pub fn render_explanation(e: &Explanation, src_name: &str, dst_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Connections between {src_name} => {dst_name}:");
    let _ = writeln!(out, "Allowed: {}", e.allowed);
    if !e.undecided.is_empty() {
        let _ = writeln!(
            out,
            "Undecided: {} (depends on peers palisade cannot resolve from objects)",
            e.undecided
        );
    }
    render_side(&mut out, &e.egress, src_name, dst_name);
    render_side(&mut out, &e.ingress, dst_name, src_name);
    if e.egress.tiered() || e.ingress.tiered() {
        let mut chain = String::new();
        render_pass_chain(&mut chain, &e.egress);
        render_pass_chain(&mut chain, &e.ingress);
        if !chain.is_empty() {
            let _ = writeln!(out, "Pass chain:");
            out.push_str(&chain);
        }
    }
    let denied = ConnSet::all().subtract(&e.allowed);
    if !denied.is_empty() {
        let _ = writeln!(out, "Denied: {denied}");
        render_denials(&mut out, &e.egress);
        render_denials(&mut out, &e.ingress);
    }
    out
}
