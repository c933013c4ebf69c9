//! What the runtime keeps running, and feeds from the state, derived from `State` alone (the Elm
//! name: subscriptions). The runtime reads the state nowhere else: it carries out effects, and
//! asks this module what the current state wants kept alive. Pure.

use super::changes::Changes;
use super::state::{State, SyncState};
use crate::flow::FlowId;
use crate::isolation::config::AnalysisConfig;
use crate::isolation::intent::Intent;
use crate::isolation::tenants::TenantRules;
use crate::model::{ClusterSnapshot, ResourceKind};
use crate::policy::IpBlockPodsSetting;

/// What the state wants from the runtime right now.
#[derive(Debug, PartialEq)]
pub struct Subscriptions<'a> {
    /// Agent pods are discovered from this snapshot (the metrics scraper's targets) once the pods
    /// have been listed; `None` before.
    pub agent_discovery: Option<&'a ClusterSnapshot>,
    /// The snapshot changed since derived state was last rebuilt: a frame (and a `Settle`) is due.
    pub settle_pending: bool,
    /// The cluster snapshot itself changed since then (not only flows): the agent pods may have.
    pub cluster_changed: bool,
    /// `:flows` is on screen: new flows are drawn as a live tail, not only as counts.
    pub flows_on_screen: bool,
}

pub fn subscriptions(state: &State) -> Subscriptions<'_> {
    let pods_listed = state
        .sync
        .get(&ResourceKind::Pod)
        .is_some_and(|s| *s != SyncState::Syncing);
    Subscriptions {
        agent_discovery: pods_listed.then_some(&state.cluster),
        settle_pending: state.cluster_changed || state.flows.changed,
        cluster_changed: state.cluster_changed,
        flows_on_screen: matches!(state.screen, super::screen::Screen::Flows),
    }
}

/// What an analysis (`Effect::Analyze`) works on: a copy of the snapshot and the settings, taken
/// when the runtime starts the run (the pacer may start it up to a second after it was asked).
#[derive(Debug, Clone)]
pub struct AnalysisInput {
    pub snapshot: ClusterSnapshot,
    pub settings: AnalysisSettings,
}

/// The settings an analysis runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSettings {
    pub rules: TenantRules,
    pub ip_block_pods: IpBlockPodsSetting,
    pub cni: crate::isolation::cni::CniChoice,
    pub intent: Option<Intent>,
    /// The Namespace objects cannot be read (a namespace-scoped user): what depends on their
    /// labels is unknown.
    pub labels_unknown: bool,
}

pub fn analysis_settings(state: &State) -> AnalysisSettings {
    AnalysisSettings {
        rules: state.tenant_rules.clone(),
        ip_block_pods: state.ip_block_pods,
        cni: state.cni,
        intent: state.session.intent.clone(),
        labels_unknown: state.scope.as_ref().is_some_and(|s| !s.labels_known),
    }
}

pub fn analysis_input(state: &State) -> AnalysisInput {
    AnalysisInput {
        snapshot: state.cluster.clone(),
        settings: analysis_settings(state),
    }
}

/// The analysis asked last as changes on top of the one asked before it (`base`), when it can
/// be: `None` asks for a full build from [`analysis_input`] (the first analysis of a context,
/// a relist). Changes made since the request are included, so the analysis is of the snapshot
/// as it is when the run starts (as a full copy would be); the next analysis applies them
/// again, to the same effect.
pub fn analysis_delta(state: &State) -> Option<(FlowId, Changes)> {
    let pending = &state.changes.pending;
    match &state.changes.asked {
        Some((Some(base), asked)) if !pending.relisted => {
            Some((*base, asked.with(pending).objects(&state.cluster)))
        }
        _ => None,
    }
}

/// What a rollback's blast radius is computed on (`Effect::PrepareRollback`).
pub fn blast_input(state: &State) -> (ClusterSnapshot, AnalysisConfig) {
    (state.cluster.clone(), state.analysis_config())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testing::{analysed, state};
    use crate::app::{Msg, WatchEvent, update};

    #[test]
    fn flows_are_on_screen_only_on_the_flows_screen() {
        use crate::app::testing::{press, type_text};
        let mut s = analysed();
        assert!(!subscriptions(&s).flows_on_screen, "tenants");
        press(&mut s, ":");
        type_text(&mut s, "flows");
        press(&mut s, "enter");
        assert!(subscriptions(&s).flows_on_screen, ":flows");
        press(&mut s, "esc");
        assert!(!subscriptions(&s).flows_on_screen, "back");
    }

    #[test]
    fn agent_discovery_waits_for_the_pod_list() {
        let mut s = state();
        assert_eq!(subscriptions(&s).agent_discovery, None);
        update(
            &mut s,
            Msg::Watch {
                kind: ResourceKind::Pod,
                event: WatchEvent::Listed(Vec::new()),
            },
        );
        assert!(subscriptions(&s).agent_discovery.is_some());
        // A relist in progress does not stop the scraper's targets from following the pods.
        update(
            &mut s,
            Msg::Watch {
                kind: ResourceKind::Pod,
                event: WatchEvent::Health(crate::model::Health::Reconnecting {
                    since: k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                    error: "connection reset".into(),
                }),
            },
        );
        assert!(subscriptions(&s).agent_discovery.is_some());
    }

    #[test]
    fn a_watch_change_asks_for_a_settle_until_it_is_settled() {
        let mut s = analysed();
        assert!(!subscriptions(&s).settle_pending);
        update(
            &mut s,
            Msg::Watch {
                kind: ResourceKind::Namespace,
                event: WatchEvent::Deleted {
                    namespace: None,
                    name: "acme-web".into(),
                },
            },
        );
        assert!(subscriptions(&s).settle_pending);
        assert!(
            subscriptions(&s).cluster_changed,
            "the agent pods may have moved"
        );
        update(&mut s, Msg::Settle);
        assert!(!subscriptions(&s).settle_pending);
        assert!(!subscriptions(&s).cluster_changed);
    }

    #[test]
    fn the_analysis_works_on_the_state_settings() {
        let mut s = analysed();
        s.ip_block_pods = IpBlockPodsSetting::Ignore;
        let input = analysis_input(&s);
        assert_eq!(input.snapshot, s.cluster);
        assert_eq!(input.settings.ip_block_pods, IpBlockPodsSetting::Ignore);
    }
}
