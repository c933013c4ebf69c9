//! The one place state changes: `update(&mut State, Msg) -> Vec<Effect>`. Pure: no IO, no clock.

use super::action::{Action, KeyContext};
use super::command::Command;
use super::history_flow;
use super::input;
use super::layout::page_rows;
use super::mouse;
use super::msg::{Effect, JournalNews, Msg, PolicyRecord, WatchEvent};
use super::nav::{self, Navigation, navigate};
use super::rollback_flow;
use super::screen::Screen;
use super::screen_nav::{explain_action, matrix_action, table_action};
use super::state::{Focus, InputKind, SessionState, State, SyncState};
use super::tree::TenantTree;
use super::tree_nav::{keep_selection, navigate_tree, scroll};
use crate::config::Resolution;
use crate::config::keys::{KeyCodeName, KeyPress};
use crate::flow::FlowId;
use crate::history::{JournalEvent, PolicyKey, PolicyKind, PolicyObject};
use crate::model::{ClusterObject, Health, NativeRef, ObjectRef, ResourceKind, TierRef};

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut effects = apply(state, msg);
    // Back on `:flows` (esc, a key, a command): rows missed while away are rebuilt now.
    if state.flows.rows_stale && state.screen == Screen::Flows {
        super::flows_settle::rebuild(state);
    }
    // The guided tour moves on as soon as the current step's condition holds.
    if state.session.tour.started {
        effects.extend(super::tour_flow::advance(state));
    }
    effects
}

fn apply(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        // Text fields take keys as text, but the suspend key still suspends, as in a shell.
        Msg::Key(key) if state.input.is_some() && suspends(state, key) => vec![Effect::Suspend],
        Msg::Key(key) if state.input.is_some() => input::key(state, key),
        Msg::Key(key) => {
            // The rollback screen takes typing (confirmation, reason) and its own keys first;
            // ctrl-c still quits and the suspend key still suspends.
            let quits = key.ctrl && key.code == KeyCodeName::Char('c');
            let flow_key = !(quits || suspends(state, key));
            let suspend_key = state.session.pending_keys.is_empty()
                && state.session.keymap.resolve(KeyContext::Rollback, &[key])
                    == Resolution::Action(Action::SuspendGitOps);
            if let Screen::Rollback(screen) = &mut state.screen
                && flow_key
                && let Some(step) =
                    rollback_flow::key(screen, &mut state.session.flows, key, suspend_key)
            {
                return nav::take(state, step);
            }
            // Esc abandons an unfinished chord (and does nothing else).
            if key == KeyPress::plain(KeyCodeName::Esc) && !state.session.pending_keys.is_empty() {
                state.session.pending_keys.clear();
                return Vec::new();
            }
            let context = key_context(state);
            state.session.pending_keys.push(key);
            match state
                .session
                .keymap
                .resolve(context, &state.session.pending_keys)
            {
                Resolution::Action(action) => {
                    state.session.pending_keys.clear();
                    perform(state, context, action)
                }
                Resolution::Pending => Vec::new(),
                Resolution::Unbound => {
                    state.session.pending_keys.clear();
                    Vec::new()
                }
            }
        }
        Msg::ScrollLimits(limits) => {
            state.session.scroll_limits = limits;
            state.detail_scroll = state.detail_scroll.min(limits.detail);
            if let Screen::Explain(explain) = &mut state.screen {
                explain.scroll = explain.scroll.min(limits.detail);
            }
            state.help = state.help.map(|offset| offset.min(limits.help));
            Vec::new()
        }
        Msg::Resize { width, height } => {
            // Title, borders, status and hint lines take six rows.
            state.session.viewport_rows = height.saturating_sub(6).max(1);
            state.session.terminal_size = (width, height);
            Vec::new()
        }
        Msg::Mouse(input) => match mouse::mouse(state, input) {
            Some(action) if state.input.is_none() => {
                let context = key_context(state);
                perform(state, context, action)
            }
            _ => Vec::new(),
        },
        Msg::Watch { kind, event } => {
            // The journal records the event as the console had the policy before applying it.
            let record = journal_record(state, kind, &event);
            let mut effects = apply_watch(state, kind, event);
            effects.extend(record.map(|r| Effect::Journal(Box::new(r))));
            effects
        }
        Msg::Unevaluated(counts) => {
            state.unevaluated = counts;
            Vec::new()
        }
        Msg::Scope(scope) => {
            state.scope = Some(scope);
            Vec::new()
        }
        Msg::Settle => {
            super::flows_settle::settle(state);
            let mut effects = settle(state);
            effects.extend(super::suspects_flow::settle(state));
            effects
        }
        Msg::Flows(news) => {
            state.flows.news(news);
            Vec::new()
        }
        Msg::Analyst(report) => {
            state.telemetry.analyst = Some(report);
            Vec::new()
        }
        Msg::Analyzed { flow, analysis } => {
            if state.analysis_job.running != Some(flow) {
                return Vec::new(); // asked before a context switch: another cluster's snapshot
            }
            state.analysis = Some(analysis);
            state.flows.analysis_changed();
            state.analysis_job.running = None;
            rebuild_tree(state, Workloads::Form);
            if std::mem::take(&mut state.analysis_job.stale) {
                request_analysis(state)
            } else {
                Vec::new()
            }
        }
        Msg::Notice(text) => {
            state.notice = Some(text);
            Vec::new()
        }
        Msg::ContextConnected { flow, result } => context_connected(state, flow, result),
        Msg::Metrics(reading) => {
            let mut telemetry = std::mem::take(&mut state.telemetry);
            telemetry.apply(*reading, &|ns| state.group_label(ns));
            state.telemetry = telemetry;
            Vec::new()
        }
        Msg::MetricsProgress { done, total } => {
            state.telemetry.progress = Some((done, total));
            Vec::new()
        }
        Msg::Journal(news) => {
            // New revisions (or a journal just opened): suspects read the recent changes again
            // when a denial is on screen (`suspects_flow::settle`).
            let known = &state.journal.changes;
            let changed = match &news {
                JournalNews::Opened(_) => true,
                JournalNews::Changes(all) => **all != *known,
                JournalNews::ChangesFor(some) => some.iter().any(|(k, c)| known.get(k) != Some(c)),
                _ => false,
            };
            state.suspects.stale |= changed;
            match news {
                JournalNews::Timeline { flow, events } => {
                    super::timeline_flow::loaded(state, flow, events);
                    Vec::new()
                }
                news => history_flow::journal_news(state, news),
            }
        }
        Msg::Radii { flow, radii } => {
            super::suspects_flow::radii_computed(state, flow, radii);
            Vec::new()
        }
        Msg::Rollback { flow, news } => rollback_flow::news(state, flow, news),
        Msg::WatchLag { p50, p95 } => {
            state.telemetry.watch_lag = Some((p50, p95));
            Vec::new()
        }
        Msg::TourLoaded {
            saved,
            offer,
            start,
        } => super::tour_flow::loaded(state, saved, offer, start),
        Msg::TourBreakRefused { policy, reason } => {
            super::tour_flow::break_refused(state, &policy, reason);
            Vec::new()
        }
    }
}

/// The keymap context the next key press is resolved in.
pub fn key_context(state: &State) -> KeyContext {
    if state.help.is_some() {
        return KeyContext::Help;
    }
    match (&state.screen, state.focus) {
        (Screen::Tenants, Focus::Tree) => KeyContext::Tree,
        (Screen::Tenants, Focus::Detail) | (Screen::Explain(_), _) => KeyContext::Detail,
        (Screen::Matrix(_), _) => KeyContext::Matrix,
        (Screen::History(_), _) => KeyContext::History,
        (Screen::Flows, _) => KeyContext::Flows,
        (Screen::Rollback(_), _) => KeyContext::Rollback,
        (Screen::Timeline(_), _) => KeyContext::Timeline,
        (
            Screen::Policies(_)
            | Screen::Findings(_)
            | Screen::Violations(_)
            | Screen::Latency(_)
            | Screen::Agents(_),
            _,
        ) => KeyContext::Table,
    }
}

/// Whether `key` alone is bound to `suspend` in the global context, for the places that take
/// typing before the keymap.
fn suspends(state: &State, key: KeyPress) -> bool {
    state.session.pending_keys.is_empty()
        && state.session.keymap.resolve(KeyContext::Global, &[key])
            == Resolution::Action(Action::Suspend)
}

fn perform(state: &mut State, context: KeyContext, action: Action) -> Vec<Effect> {
    state.notice = None;
    match (context, action) {
        (_, Action::Quit) => return input::run(state, Command::Quit),
        (_, Action::Suspend) => return vec![Effect::Suspend],
        (KeyContext::Help, Action::Back | Action::Help) => state.help = None,
        (KeyContext::Help, other) => {
            let offset = scroll(state.help.unwrap_or(0), other, page_rows(state));
            state.help = Some(offset.min(state.session.scroll_limits.help));
        }
        (_, Action::Help) => state.help = Some(0),
        (_, Action::Command) => input::open(state, InputKind::Command),
        (_, Action::Filter) => input::open(state, InputKind::Filter),
        (_, Action::ShowTenants) => return input::run(state, Command::Tenants),
        (_, Action::ShowMatrix) => return input::run(state, Command::Matrix),
        (_, Action::ShowPolicies) => return input::run(state, Command::Policies),
        (_, Action::ShowFindings) => return input::run(state, Command::Findings),
        (_, Action::ShowHistory) => return input::run(state, Command::History(None)),
        (_, Action::ShowFlows) => return input::run(state, Command::Flows),
        (_, Action::RollbackSuspect) => return super::suspects_flow::rollback_top(state),
        (_, Action::Back) => return back(state),
        (_, Action::NextPane) if state.screen == Screen::Tenants => {
            state.focus = match state.focus {
                Focus::Tree => Focus::Detail,
                Focus::Detail => Focus::Tree,
            }
        }
        (KeyContext::Matrix, other) => matrix_action(state, other),
        (KeyContext::Flows, other) => super::flows_keys::action(state, other),
        (KeyContext::Table, other) => table_action(state, other),
        (KeyContext::History, Action::Revert | Action::RemovePolicy | Action::UndoRollback) => {
            return history_flow::start_rollback(state, action);
        }
        (KeyContext::History, other) => {
            if let Screen::History(h) = &mut state.screen {
                h.select(other);
            }
        }
        (KeyContext::Timeline, other) => return super::timeline_flow::action(state, other),
        (KeyContext::Detail, other) if matches!(state.screen, Screen::Explain(_)) => {
            explain_action(state, other)
        }
        (KeyContext::Detail | KeyContext::Rollback, other) => {
            let offset = scroll(state.detail_scroll, other, page_rows(state));
            state.detail_scroll = offset.min(state.session.scroll_limits.detail);
        }
        (_, tree_action) => navigate_tree(state, tree_action),
    }
    Vec::new()
}

/// Esc: close what is open, else go back along the breadcrumb trail, else up the tree.
fn back(state: &mut State) -> Vec<Effect> {
    if state.screen == Screen::Tenants && state.focus == Focus::Detail {
        state.focus = Focus::Tree;
    } else if navigate(state, Navigation::Back) {
        return super::nav::returned(state);
    } else if !state.tree_filter.is_empty() {
        state.tree_filter.clear();
    } else {
        navigate_tree(state, Action::Back);
    }
    Vec::new()
}

fn apply_watch(state: &mut State, kind: ResourceKind, event: WatchEvent) -> Vec<Effect> {
    let changed = match event {
        WatchEvent::Restarted => {
            state.sync.insert(kind, SyncState::Syncing);
            false
        }
        WatchEvent::Listing { .. } => false,
        WatchEvent::Health(health) => {
            let sync = match health {
                // Only a list makes a kind that was never listed live.
                Health::Live if !state.listed.contains(&kind) => SyncState::Syncing,
                Health::Live => SyncState::Live,
                Health::Reconnecting { since, error } => SyncState::Reconnecting { since, error },
                Health::Stale { since, reason } => SyncState::Stale { since, reason },
                Health::Forbidden { since, error } => SyncState::Forbidden { since, error },
            };
            // A tier or Cilium kind first found forbidden no longer holds the analysis back:
            // settle.
            let unblocks = matches!(sync, SyncState::Forbidden { .. })
                && matches!(kind, ResourceKind::Tier(_) | ResourceKind::Native(_))
                && !state.listed.contains(&kind)
                && !matches!(state.sync.get(&kind), Some(SyncState::Forbidden { .. }));
            state.sync.insert(kind, sync);
            unblocks
        }
        WatchEvent::NotServed => {
            state.sync.remove(&kind);
            match kind {
                ResourceKind::Tier(tier) => {
                    state.not_served.insert(tier);
                }
                ResourceKind::Native(native) => {
                    state.not_served_natives.insert(native);
                }
                _ => {}
            }
            true
        }
        WatchEvent::Listed(objects) => {
            state.changes.pending.relisted = true;
            let objects = (objects.into_iter())
                .map(|object| state.label_sets.in_object(object))
                .collect();
            state.cluster.replace_kind(kind, objects);
            state.sync.insert(kind, SyncState::Live);
            state.listed.insert(kind);
            true
        }
        WatchEvent::Applied(object) => {
            state.changes.pending.applied(&object);
            state.cluster.upsert(state.label_sets.in_object(*object));
            true
        }
        WatchEvent::Deleted { namespace, name } => {
            state
                .changes
                .pending
                .deleted(kind, namespace.as_deref(), &name);
            state.cluster.remove(kind, namespace.as_deref(), &name);
            true
        }
    };
    state.cluster_changed |= changed;
    Vec::new()
}

/// What the revision journal should record of a watch event: NetworkPolicies, the
/// cluster-scoped tier policies and the CNIs' own policies.
fn journal_record(state: &State, kind: ResourceKind, event: &WatchEvent) -> Option<PolicyRecord> {
    let journalled = match kind {
        ResourceKind::NetworkPolicy => PolicyKind::NetworkPolicy,
        ResourceKind::Tier(tier) => PolicyKind::Tier(tier),
        ResourceKind::Native(native) => PolicyKind::Native(native),
        _ => return None,
    };
    let policy = |object: &ClusterObject| match object {
        ClusterObject::Policy(p) => Some(PolicyObject::Network(p.object.clone())),
        ClusterObject::Tier(t) => Some(PolicyObject::Tier(t.clone())),
        ClusterObject::Native(n) => Some(PolicyObject::Native(n.clone())),
        _ => None,
    };
    Some(match event {
        WatchEvent::Listed(objects) => {
            let objects = objects.iter().filter_map(policy).collect();
            // Watched per namespace: the list says nothing of the namespaces not watched.
            match state.scope.as_ref().filter(|s| !s.namespaces.is_empty()) {
                Some(scope) if journalled.namespaced() => {
                    PolicyRecord::SeedWithin(journalled, scope.namespaces.clone(), objects)
                }
                _ => PolicyRecord::Seed(journalled, objects),
            }
        }
        WatchEvent::Applied(object) => {
            PolicyRecord::Event(Box::new(JournalEvent::Observed(policy(object)?)))
        }
        WatchEvent::Deleted { namespace, name } => {
            let (key, last) = match journalled {
                PolicyKind::NetworkPolicy => {
                    let id = ObjectRef::new(namespace.clone().unwrap_or_default(), name.clone());
                    let last = state.cluster.policies.get(&id);
                    let last = last.map(|p| PolicyObject::Network(p.object.clone()));
                    (PolicyKey::Network(id), last)
                }
                PolicyKind::Tier(tier) => {
                    let id = TierRef::new(tier, name.clone());
                    let last = state
                        .cluster
                        .tiers
                        .get(&id)
                        .cloned()
                        .map(PolicyObject::Tier);
                    (PolicyKey::Tier(id), last)
                }
                PolicyKind::Native(native) => {
                    let namespace = match native.namespaced() {
                        true => namespace.clone().unwrap_or_default(),
                        false => String::new(),
                    };
                    let id = NativeRef::new(native, namespace, name.clone());
                    let last = state.cluster.natives.get(&id).cloned();
                    (PolicyKey::Native(id), last.map(PolicyObject::Native))
                }
            };
            PolicyRecord::Event(Box::new(JournalEvent::Deleted { key, last }))
        }
        WatchEvent::Restarted
        | WatchEvent::Listing { .. }
        | WatchEvent::Health(_)
        | WatchEvent::NotServed => return None,
    })
}

/// Once per batch of messages: rebuild what derives from the snapshot, and ask for an analysis.
/// A burst of a thousand watch events thus costs one rebuild, not a thousand.
fn settle(state: &mut State) -> Vec<Effect> {
    if !std::mem::take(&mut state.cluster_changed) {
        return Vec::new();
    }
    rebuild_tree(state, Workloads::Keep);
    // Analysing a half-listed cluster would flash wrong findings, so wait until every kind has
    // been listed once; after that, analyse what there is (the header says when it is partial)
    // rather than freeze while a kind reconnects.
    if state.all_listed() {
        request_analysis(state)
    } else {
        Vec::new()
    }
}

fn request_analysis(state: &mut State) -> Vec<Effect> {
    if state.analysis_job.running.is_some() {
        state.analysis_job.stale = true;
        Vec::new()
    } else {
        let flow = state.session.flows.issue();
        state.analysis_job.running = Some(flow);
        state.changes.ask(flow);
        vec![Effect::Analyze(flow)]
    }
}

/// The connection of a `:ctx` switch is ready: move to it if it is the switch asked last (a
/// slower, older one is dropped, and so is its connection).
fn context_connected(
    state: &mut State,
    flow: FlowId,
    result: Result<String, String>,
) -> Vec<Effect> {
    if state.session.switching != Some(flow) {
        return Vec::new();
    }
    state.session.switching = None;
    let context = match result {
        Ok(context) => context,
        Err(err) => {
            state.notice = Some(format!("could not switch contexts: {err}"));
            return Vec::new();
        }
    };
    // The new context's watchers start from nothing: show syncing, not the old cluster. The
    // session (keys, history, terminal, tour, request identities) carries over as it is.
    *state = State::for_context(
        context,
        std::mem::replace(
            &mut state.session,
            SessionState::new(Default::default(), Vec::new()),
        ),
    );
    state.notice = Some(format!("switched to context {}", state.context));
    vec![Effect::AdoptContext(flow)]
}

/// Whether a tree rebuild may keep the workload nodes of the tree it replaces.
enum Workloads {
    /// The analysis is the one the tree was built on: its workload nodes stand (under churn
    /// the tree is rebuilt up to 30 times a second, and forming every class's node again was
    /// most of the UI thread's time).
    Keep,
    /// A new analysis: form them from its classes.
    Form,
}

fn rebuild_tree(state: &mut State, workloads: Workloads) {
    let kept = match workloads {
        Workloads::Keep => state.tree.take_workloads(),
        Workloads::Form => Default::default(),
    };
    state.tree = TenantTree::build_keeping(
        &state.cluster,
        &state.tenant_rules,
        state.analysis.as_deref(),
        kept,
    );
    keep_selection(state);
}
