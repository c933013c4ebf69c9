//! Lint rules for the cluster-scoped tier policies (ClusterNetworkPolicy, AdminNetworkPolicy,
//! BaselineAdminNetworkPolicy), over the compiled policies and the engine's pod classes. Peers
//! and subjects are compared by the pods they take in today (classes), and by their addresses
//! for `networks`; `nodes` and `domainNames` only by equality.

use super::findings::{
    BANP_NAME, Finding, INVALID_TIER_POLICY, PASS_WITHOUT_NETWORK_POLICY, SAME_PRIORITY_OVERLAP,
    SHADOWED_TIER_RULE, TIER_LIMITS,
};
use crate::model::{ClusterSnapshot, TierKind, TierPolicyInfo};
use crate::policy::connset::ConnSet;
use crate::policy::decide::Matched;
use crate::policy::ipset::IpSet;
use crate::policy::matching::Target;
use crate::policy::tier::{Action, CompiledTier, Tier, TierPeer, TierPort, TierRule, max_rules};
use crate::policy::tier_match::{tier_rule_matches, tier_selects};
use crate::policy::{Direction, Engine};

/// Entries a rule's `from`/`to` may have: 25 in `v1alpha2`, 100 in `v1alpha1`.
pub fn max_peers(kind: TierKind) -> usize {
    match kind {
        TierKind::ClusterNetworkPolicy => 25,
        _ => 100,
    }
}

pub fn tier_findings(engine: &Engine, snapshot: &ClusterSnapshot) -> Vec<Finding> {
    let mut findings: Vec<Finding> = engine
        .validation_errors()
        .filter(|e| e.kind != "NetworkPolicy" && !e.kind.starts_with("Calico "))
        // Counts over the limits are reported (with the limit) by `limit_findings`.
        .filter(|e| !e.reason.starts_with("Too many"))
        .map(|e| {
            let short = TierKind::from_kind(e.kind).map_or(e.kind, TierKind::short_name);
            Finding::new(
                INVALID_TIER_POLICY,
                "",
                format!("{short}/{}", e.object.name),
                format!("{}: {}", e.field, e.reason),
            )
        })
        .collect();
    for info in snapshot.tiers.values() {
        findings.extend(limit_findings(info));
        if info.id.kind == TierKind::BaselineAdminNetworkPolicy && info.id.name != "default" {
            findings.push(Finding::new(
                BANP_NAME,
                "",
                info.id.to_string(),
                format!(
                    "a BaselineAdminNetworkPolicy must be named `default` (it is a singleton); the API server rejects `{}`",
                    info.id.name
                ),
            ));
        }
    }
    let facts = Facts::new(engine);
    findings.extend(overlap_findings(&facts));
    findings.extend(shadow_findings(&facts));
    findings.extend(pass_findings(engine, &facts));
    findings
}

/// Rules per direction and peers per rule over the CRD's limits, counted on the object as
/// written (the API server rejects it).
fn limit_findings(info: &TierPolicyInfo) -> Vec<Finding> {
    let kind = info.id.kind;
    let mut out = Vec::new();
    for (dir, peers_key) in [("ingress", "from"), ("egress", "to")] {
        let Some(rules) = info
            .spec()
            .and_then(|s| s.get(dir))
            .and_then(|r| r.as_array())
        else {
            continue;
        };
        if rules.len() > max_rules(kind) {
            out.push(Finding::new(
                TIER_LIMITS,
                "",
                info.id.to_string(),
                format!(
                    "spec.{dir}: {} rules, {} {} allows at most {}",
                    rules.len(),
                    kind.kind(),
                    kind.version(),
                    max_rules(kind)
                ),
            ));
        }
        for (i, rule) in rules.iter().enumerate() {
            let peers = rule
                .get(peers_key)
                .and_then(|p| p.as_array())
                .map_or(0, Vec::len);
            if peers > max_peers(kind) {
                out.push(Finding::new(
                    TIER_LIMITS,
                    "",
                    info.id.to_string(),
                    format!(
                        "spec.{dir}[{i}].{peers_key}: {peers} entries, {} {} allows at most {}",
                        kind.kind(),
                        kind.version(),
                        max_peers(kind)
                    ),
                ));
            }
        }
    }
    out
}

/// A set of pod classes.
#[derive(Debug, Clone, PartialEq)]
struct ClassSet(Vec<u64>);

impl ClassSet {
    fn new(n: usize, mut has: impl FnMut(usize) -> bool) -> ClassSet {
        let mut words = vec![0u64; n.div_ceil(64)];
        for c in 0..n {
            if has(c) {
                words[c / 64] |= 1 << (c % 64);
            }
        }
        ClassSet(words)
    }

    fn contains(&self, c: usize) -> bool {
        self.0.get(c / 64).is_some_and(|w| w & (1 << (c % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    fn is_subset(&self, other: &ClassSet) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }

    fn meets(&self, other: &ClassSet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
}

/// What each valid tier policy selects and each of its rules takes in, computed once.
struct Facts<'a> {
    /// In evaluation order.
    policies: Vec<PolicyFacts<'a>>,
}

struct PolicyFacts<'a> {
    policy: &'a CompiledTier,
    subject: ClassSet,
    /// `[ingress, egress]`: per rule, the classes its peers take in.
    peers: [Vec<ClassSet>; 2],
}

impl<'a> Facts<'a> {
    fn new(engine: &'a Engine) -> Facts<'a> {
        let classes = &engine.classes().classes;
        let n = classes.len();
        let networks = engine.settings().tier_networks;
        let mut policies: Vec<&CompiledTier> = engine.tiers().values().collect();
        policies.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        let policies = policies
            .into_iter()
            .map(|policy| {
                let peers = |ingress: bool| -> Vec<ClassSet> {
                    policy
                        .rules(ingress)
                        .iter()
                        .map(|rule| {
                            ClassSet::new(n, |c| {
                                tier_rule_matches(rule, Target::Pod(&classes[c].endpoint), networks)
                                    == Matched::Yes
                            })
                        })
                        .collect()
                };
                PolicyFacts {
                    policy,
                    subject: ClassSet::new(n, |c| tier_selects(policy, &classes[c].endpoint)),
                    peers: [peers(true), peers(false)],
                }
            })
            .collect();
        Facts { policies }
    }
}

fn dir_index(ingress: bool) -> usize {
    usize::from(!ingress)
}

fn dir_name(ingress: bool) -> &'static str {
    if ingress { "ingress" } else { "egress" }
}

/// Addresses of a rule's `networks` peers.
fn networks(rule: &TierRule) -> IpSet {
    rule.peers
        .iter()
        .filter_map(|p| match p {
            TierPeer::Networks { set, .. } => Some(set.clone()),
            _ => None,
        })
        .fold(IpSet::default(), |acc, s| acc.union(&s))
}

/// `nodes` and `domainNames` peers, which are compared as written.
fn undecidable_peers(rule: &TierRule) -> Vec<&TierPeer> {
    rule.peers
        .iter()
        .filter(|p| p.undecidable_reason().is_some())
        .collect()
}

/// The port ranges of a rule (`None`: every port) and its named ports.
fn ports(rule: &TierRule) -> (Option<ConnSet>, Vec<&str>) {
    let Some(list) = &rule.ports else {
        return (None, Vec::new());
    };
    let mut set = ConnSet::none();
    let mut named = Vec::new();
    for p in list {
        match p {
            TierPort::Range { proto, lo, hi } => set.union_with(&ConnSet::ports(*proto, *lo, *hi)),
            TierPort::Named(name) => named.push(name.as_str()),
        }
    }
    (Some(set), named)
}

/// Whether two rules could decide the same connection: a common pod peer, overlapping
/// networks, or an equal `nodes`/`domainNames` peer; and ports that can meet (a named port may
/// be any number, so it meets every port).
fn could_meet(a: &TierRule, a_peers: &ClassSet, b: &TierRule, b_peers: &ClassSet) -> bool {
    let (na, nb) = (networks(a), networks(b));
    let peers = a_peers.meets(b_peers)
        || !na.subtract(&na.subtract(&nb)).is_empty()
        || undecidable_peers(a)
            .iter()
            .any(|p| undecidable_peers(b).contains(p));
    if !peers {
        return false;
    }
    match (ports(a), ports(b)) {
        ((None, _), _) | (_, (None, _)) => true,
        ((Some(pa), named_a), (Some(pb), named_b)) => {
            !named_a.is_empty() || !named_b.is_empty() || !pa.intersect(&pb).is_empty()
        }
    }
}

/// Whether `earlier` decides everything `later` could: every pod and address `later` takes in,
/// on every port it names.
fn covers(earlier: &TierRule, e_peers: &ClassSet, later: &TierRule, l_peers: &ClassSet) -> bool {
    let peers = l_peers.is_subset(e_peers)
        && networks(later).subtract(&networks(earlier)).is_empty()
        && undecidable_peers(later)
            .iter()
            .all(|p| undecidable_peers(earlier).contains(p));
    if !peers {
        return false;
    }
    match (ports(earlier), ports(later)) {
        ((None, _), _) => true,
        (_, (None, _)) => false,
        ((Some(pe), named_e), (Some(pl), named_l)) => {
            pl.subtract(&pe).is_empty() && named_l.iter().all(|n| named_e.contains(n))
        }
    }
}

fn takes_in_anything(rule: &TierRule, peers: &ClassSet) -> bool {
    !peers.is_empty() || !networks(rule).is_empty() || !undecidable_peers(rule).is_empty()
}

/// Two policies of one tier with the same priority that select a common pod and have rules that
/// could decide the same connection: the API leaves their order undefined.
fn overlap_findings(facts: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, a) in facts.policies.iter().enumerate() {
        for b in &facts.policies[i + 1..] {
            let same_slot = a.policy.tier == b.policy.tier
                && a.policy.priority.is_some()
                && a.policy.priority == b.policy.priority;
            if !same_slot || !a.subject.meets(&b.subject) {
                continue;
            }
            let meeting = [true, false].into_iter().find_map(|ingress| {
                let d = dir_index(ingress);
                a.policy
                    .rules(ingress)
                    .iter()
                    .enumerate()
                    .find_map(|(ra, rule_a)| {
                        b.policy
                            .rules(ingress)
                            .iter()
                            .enumerate()
                            .find(|(rb, rule_b)| {
                                could_meet(rule_a, &a.peers[d][ra], rule_b, &b.peers[d][*rb])
                            })
                            .map(|(_, rule_b)| (ingress, rule_a, rule_b))
                    })
            });
            let Some((ingress, rule_a, rule_b)) = meeting else {
                continue;
            };
            let consequence = if rule_a.action == rule_b.action {
                format!(
                    "both {}: the verdict is the same today, but an edit to either changes that",
                    rule_a.action.as_str()
                )
            } else {
                format!(
                    "{} against {}: the verdict depends on the implementation (palisade takes the names' order)",
                    rule_a.action.as_str(),
                    rule_b.action.as_str()
                )
            };
            out.push(Finding::new(
                SAME_PRIORITY_OVERLAP,
                "",
                a.policy.id.to_string(),
                format!(
                    "same tier and priority as {} ({} {}), common pods, and {} and {} of {} can match the same peer; the API leaves their order undefined: {consequence}",
                    b.policy.id,
                    a.policy.tier.as_str(),
                    a.policy.priority.unwrap_or_default(),
                    rule_a.describe(ingress),
                    rule_b.describe(ingress),
                    b.policy.id,
                ),
            ));
        }
    }
    out
}

/// Rules that an earlier rule of the same tier (same policy, or one of a lower priority selecting
/// at least the same pods) always decides first: they can never decide anything.
fn shadow_findings(facts: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (li, later) in facts.policies.iter().enumerate() {
        if later.subject.is_empty() {
            continue; // selects no pod: nothing to shadow
        }
        for ingress in [true, false] {
            let d = dir_index(ingress);
            for (lr, rule) in later.policy.rules(ingress).iter().enumerate() {
                let l_peers = &later.peers[d][lr];
                if !takes_in_anything(rule, l_peers) {
                    continue;
                }
                let shadow = facts.policies[..=li]
                    .iter()
                    .filter(|e| {
                        // Equal priorities have no order (that is PAL071's finding).
                        let before = std::ptr::eq(e.policy, later.policy)
                            || e.policy.order_key().1 < later.policy.order_key().1;
                        before
                            && e.policy.tier == later.policy.tier
                            && later.subject.is_subset(&e.subject)
                    })
                    .find_map(|e| {
                        let same = std::ptr::eq(e.policy, later.policy);
                        e.policy
                            .rules(ingress)
                            .iter()
                            .enumerate()
                            .take(if same { lr } else { usize::MAX })
                            .find(|(er, earlier)| covers(earlier, &e.peers[d][*er], rule, l_peers))
                            .map(|(_, earlier)| (e.policy, earlier))
                    });
                if let Some((policy, earlier)) = shadow {
                    let by = if std::ptr::eq(policy, later.policy) {
                        earlier.describe(ingress)
                    } else {
                        format!("{} of {}", earlier.describe(ingress), policy.id)
                    };
                    out.push(Finding::new(
                        SHADOWED_TIER_RULE,
                        "",
                        later.policy.id.to_string(),
                        format!(
                            "{} ({}) can never decide anything: {by} ({}) comes first in the evaluation order and takes in the same or more peers and ports",
                            rule.describe(ingress),
                            rule.action.as_str(),
                            earlier.action.as_str(),
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Admin `Pass` rules for pods no NetworkPolicy selects in that direction: what they pass goes
/// on to the Baseline tier, or is allowed when no Baseline policy decides it.
fn pass_findings(engine: &Engine, facts: &Facts) -> Vec<Finding> {
    let classes = &engine.classes().classes;
    let mut out = Vec::new();
    for pf in &facts.policies {
        if pf.policy.tier != Tier::Admin {
            continue;
        }
        for ingress in [true, false] {
            let dir = if ingress {
                Direction::Ingress
            } else {
                Direction::Egress
            };
            for (r, rule) in pf.policy.rules(ingress).iter().enumerate() {
                if rule.action != Action::Pass
                    || !takes_in_anything(rule, &pf.peers[dir_index(ingress)][r])
                {
                    continue;
                }
                let bare: Vec<usize> = (0..classes.len())
                    .filter(|c| pf.subject.contains(*c))
                    .filter(|c| engine.selecting(*c, dir).is_empty())
                    .collect();
                let Some(first) = bare.first().and_then(|c| classes[*c].members.first()) else {
                    continue;
                };
                let pods: usize = bare.iter().map(|c| classes[*c].members.len()).sum();
                let baseline = bare.iter().any(|c| {
                    engine
                        .tier_selecting(*c, dir)
                        .iter()
                        .filter_map(|id| engine.tiers().get(id))
                        .any(|p| p.tier == Tier::Baseline)
                });
                let next = if baseline {
                    "goes on to the Baseline tier"
                } else {
                    "is allowed (no Baseline policy selects them either)"
                };
                out.push(Finding::new(
                    PASS_WITHOUT_NETWORK_POLICY,
                    "",
                    pf.policy.id.to_string(),
                    format!(
                        "{} passes to the NetworkPolicies, but none selects {pods} of its pods for {} (e.g. {first}): what it passes for them {next}",
                        rule.describe(ingress),
                        dir_name(ingress),
                    ),
                ));
            }
        }
    }
    out
}
