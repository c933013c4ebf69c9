//! The order in which one side of a connection (the source's egress or the destination's
//! ingress) is decided: Admin tier rules by priority, then NetworkPolicies, then Baseline tier
//! rules, then the default (allow). Within a tier the first matching rule decides a connection:
//! `Accept` and `Deny` end the evaluation, `Pass` skips the rest of the tier (to the
//! NetworkPolicies from Admin, to the default from Baseline).
//!
//! One function serves the cached rows, direct queries and explanations, so they cannot
//! disagree: callers say which rules match the other end and which ports they open.

use super::connset::ConnSet;
use super::tier::{Action, CompiledTier, Tier, TierRule};

/// Whether a tier rule's peers take in the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    No,
    Yes,
    /// Cannot be decided from objects (node IPs, DNS names): the connections the rule would
    /// decide are reported as undecided, and the evaluation goes on as if it did not match.
    Unknown(&'static str),
}

/// A tier rule in evaluation order.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub policy: &'a CompiledTier,
    pub rule: &'a TierRule,
}

/// Every rule of `policies` (all selecting the subject) in one direction, in evaluation order.
pub fn steps<'a>(policies: &[&'a CompiledTier], ingress: bool) -> Vec<Step<'a>> {
    let mut sorted: Vec<&CompiledTier> = policies.to_vec();
    sorted.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    sorted
        .into_iter()
        .flat_map(|policy| {
            policy
                .rules(ingress)
                .iter()
                .map(move |rule| Step { policy, rule })
        })
        .collect()
}

/// What decided a part of the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// A tier rule with `Accept` or `Deny`, or a `Pass` (which hands the part on).
    Rule(usize),
    /// The NetworkPolicy tier (NetworkPolicies and Cilium's rules) selecting the subject:
    /// `true` for what their rules allow.
    NetworkPolicies(bool),
    /// A Cilium deny rule: over every allow of the NetworkPolicy tier, isolated or not.
    NativeDeny,
    /// Nothing decided: the default allows.
    Default,
}

/// A part of the connections and what decided it (`Rule` indexes the steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub conns: ConnSet,
    pub decider: Decider,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub entries: Vec<TraceEntry>,
    /// Parts reached by a rule whose match is unknown, with the step and the reason.
    pub undecided: Vec<(ConnSet, usize, &'static str)>,
}

/// The outcome of one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideResult {
    /// Allowed, with rules of unknown match taken as not matching.
    pub allowed: ConnSet,
    /// Connections whose verdict depends on a rule of unknown match.
    pub undecided: ConnSet,
}

/// What the tiers do to one side's connections, before the NetworkPolicies are known: the rows
/// compute it once per set of tier policies and combine it with each class's NetworkPolicies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierOutcome {
    /// Accepted by the Admin tier.
    pub accepted: ConnSet,
    /// Neither accepted nor denied by the Admin tier (what it passed included): the
    /// NetworkPolicies decide this part when they select the subject.
    pub next: ConnSet,
    /// The side's allowed set when no NetworkPolicy selects the subject: `accepted`, plus what
    /// the Baseline tier and the default allow of `next`.
    pub without_network_policies: ConnSet,
}

impl TierOutcome {
    /// The side's allowed set, given what the NetworkPolicy tier allows (`None`: nothing
    /// isolates the subject) and what Cilium's deny rules deny. Equals [`decide`]'s `allowed`
    /// for the same inputs. (The Baseline tier decides each connection alone, so denying
    /// before it equals removing from what it allows.)
    pub fn allowed(&self, np: Option<&ConnSet>, deny: &ConnSet) -> ConnSet {
        match np {
            Some(np) => self.accepted.union(&self.next.intersect(np).subtract(deny)),
            None => self
                .accepted
                .union(&self.without_network_policies.subtract(deny)),
        }
    }
}

/// Runs one tier's rules over `open`, first match first. `on_hit` gets each matching rule's
/// action and the part it decides; that part leaves `open`.
#[allow(clippy::too_many_arguments)]
fn run_tier(
    steps: &[Step],
    tier: Tier,
    open: &mut ConnSet,
    matched: &mut dyn FnMut(usize) -> Matched,
    ports: &mut dyn FnMut(usize) -> ConnSet,
    on_hit: &mut dyn FnMut(Action, &ConnSet),
    undecided: &mut ConnSet,
    trace: &mut Option<&mut Trace>,
) {
    for (i, step) in steps.iter().enumerate() {
        if step.policy.tier != tier {
            continue;
        }
        if open.is_empty() {
            break;
        }
        let m = matched(i);
        if m == Matched::No {
            continue;
        }
        let hit = open.intersect(&ports(i));
        if hit.is_empty() {
            continue;
        }
        if let Matched::Unknown(reason) = m {
            undecided.union_with(&hit);
            if let Some(t) = trace.as_deref_mut() {
                t.undecided.push((hit, i, reason));
            }
            continue;
        }
        on_hit(step.rule.action, &hit);
        if let Some(t) = trace.as_deref_mut() {
            t.entries.push(TraceEntry {
                conns: hit.clone(),
                decider: Decider::Rule(i),
            });
        }
        *open = open.subtract(&hit);
    }
}

/// The Admin tier over every connection: (accepted, handed on).
fn admin(
    steps: &[Step],
    matched: &mut dyn FnMut(usize) -> Matched,
    ports: &mut dyn FnMut(usize) -> ConnSet,
    undecided: &mut ConnSet,
    trace: &mut Option<&mut Trace>,
) -> (ConnSet, ConnSet) {
    let mut open = ConnSet::all();
    let mut accepted = ConnSet::none();
    let mut passed = ConnSet::none();
    run_tier(
        steps,
        Tier::Admin,
        &mut open,
        matched,
        ports,
        &mut |action, hit| match action {
            Action::Accept => accepted.union_with(hit),
            Action::Pass => passed.union_with(hit),
            Action::Deny => {}
        },
        undecided,
        trace,
    );
    (accepted, open.union(&passed))
}

/// The Baseline tier over `next`, then the default: what it allows (a Baseline Pass goes to the
/// default, which allows).
fn baseline(
    steps: &[Step],
    mut next: ConnSet,
    matched: &mut dyn FnMut(usize) -> Matched,
    ports: &mut dyn FnMut(usize) -> ConnSet,
    undecided: &mut ConnSet,
    trace: &mut Option<&mut Trace>,
) -> ConnSet {
    let mut allowed = ConnSet::none();
    run_tier(
        steps,
        Tier::Baseline,
        &mut next,
        matched,
        ports,
        &mut |action, hit| {
            if action != Action::Deny {
                allowed.union_with(hit)
            }
        },
        undecided,
        trace,
    );
    if let Some(t) = trace.as_deref_mut()
        && !next.is_empty()
    {
        t.entries.push(TraceEntry {
            conns: next.clone(),
            decider: Decider::Default,
        });
    }
    allowed.union_with(&next);
    allowed
}

/// The tiers' part of one side (no unknown matches: the rows are between pods).
pub fn outcome(
    steps: &[Step],
    mut matched: impl FnMut(usize) -> Matched,
    mut ports: impl FnMut(usize) -> ConnSet,
) -> TierOutcome {
    let mut undecided = ConnSet::none();
    let (accepted, next) = admin(steps, &mut matched, &mut ports, &mut undecided, &mut None);
    let below = baseline(
        steps,
        next.clone(),
        &mut matched,
        &mut ports,
        &mut undecided,
        &mut None,
    );
    TierOutcome {
        without_network_policies: accepted.union(&below),
        accepted,
        next,
    }
}

/// Decides one side. `np` is what the NetworkPolicy tier (NetworkPolicies and Cilium rules)
/// allows, `None` when nothing isolates the subject in this direction; `deny` is what Cilium's
/// deny rules deny, which the NetworkPolicy tier removes whether or not it isolates. `matched(i)` and `ports(i)` describe `steps[i]` for the
/// other end; `ports` is only asked for rules that match.
pub fn decide(
    steps: &[Step],
    np: Option<&ConnSet>,
    deny: &ConnSet,
    mut matched: impl FnMut(usize) -> Matched,
    mut ports: impl FnMut(usize) -> ConnSet,
    mut trace: Option<&mut Trace>,
) -> SideResult {
    let mut undecided = ConnSet::none();
    let (mut allowed, next) = admin(steps, &mut matched, &mut ports, &mut undecided, &mut trace);
    let denied = next.intersect(deny);
    if let Some(t) = trace.as_deref_mut()
        && !denied.is_empty()
    {
        t.entries.push(TraceEntry {
            conns: denied,
            decider: Decider::NativeDeny,
        });
    }
    let next = next.subtract(deny);
    match np {
        Some(np) => {
            let by_np = next.intersect(np);
            if let Some(t) = trace.as_deref_mut() {
                for (conns, ok) in [(by_np.clone(), true), (next.subtract(np), false)] {
                    if !conns.is_empty() {
                        t.entries.push(TraceEntry {
                            conns,
                            decider: Decider::NetworkPolicies(ok),
                        });
                    }
                }
            }
            allowed.union_with(&by_np);
        }
        None => {
            let below = baseline(
                steps,
                next,
                &mut matched,
                &mut ports,
                &mut undecided,
                &mut trace,
            );
            allowed.union_with(&below);
        }
    }
    SideResult { allowed, undecided }
}
