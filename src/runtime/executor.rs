//! The one executor: every message goes through `update`, and every effect `update` returns is
//! carried out here, in one place. Messages an effect produces at once (a failure to start it,
//! say) go back through `update` in turn, so none is lost. The executor reads the state only
//! through `app::subscriptions`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use tokio::sync::mpsc;

use super::analyst::{AnalystHandle, Job};
use super::rollback::{self, RollbackContext, Unapplied};
use super::{Feed, Session, tour};
use crate::app::msg::JournalNews;
use crate::app::subscriptions::{analysis_delta, analysis_settings, blast_input};
use crate::app::{Effect, Msg, State, update};
use crate::cluster::connect::ClusterSource;
use crate::cluster::{self, Connection};
use crate::config::{self, Config};
use crate::flow::FlowId;

/// A `:ctx` connection finished: its flow and the connection, or why not.
pub type ConnectionMade = (FlowId, Result<Connection, String>);

pub struct Executor<'s> {
    session: &'s Session,
    pub config: Config,
    pub state: State,
    pub feed: Feed,
    /// Where `:ctx` connection tasks report.
    pub connections: mpsc::UnboundedReceiver<ConnectionMade>,
    connections_tx: mpsc::UnboundedSender<ConnectionMade>,
    /// Connections made, until `update` adopts one (`Effect::AdoptContext`) or a newer switch
    /// makes them moot.
    connected: BTreeMap<FlowId, Connection>,
    /// An analysis `update` asked for, until the pacer lets it start.
    analysis: Option<FlowId>,
    /// The thread that keeps the engine between analyses.
    analyst: AnalystHandle,
    quit: bool,
    /// ctrl-z: the loop suspends the terminal (it owns it).
    suspend: bool,
}

impl<'s> Executor<'s> {
    pub fn new(session: &'s Session, config: Config, state: State, feed: Feed) -> Executor<'s> {
        let (connections_tx, connections) = mpsc::unbounded_channel();
        Executor {
            session,
            config,
            state,
            feed,
            connections,
            connections_tx,
            connected: BTreeMap::new(),
            analysis: None,
            analyst: AnalystHandle::default(),
            quit: false,
            suspend: false,
        }
    }

    /// Applies a message and carries out its effects (and theirs).
    pub fn dispatch(&mut self, msg: Msg) {
        let mut queue = VecDeque::from([msg]);
        while let Some(msg) = queue.pop_front() {
            for effect in update(&mut self.state, msg) {
                queue.extend(self.execute(effect));
            }
        }
    }

    pub fn quitting(&self) -> bool {
        self.quit
    }

    /// Whether `update` asked to suspend since the last call.
    pub fn take_suspend(&mut self) -> bool {
        std::mem::take(&mut self.suspend)
    }

    /// A `:ctx` connection task reported: keep the connection for `update` to adopt, and tell
    /// `update` (which drops it unless it is the switch asked last).
    pub fn connection_made(&mut self, (flow, result): ConnectionMade) -> Msg {
        let result = result.map(|connection| {
            let context = connection.context.clone();
            self.connected.insert(flow, connection);
            context
        });
        Msg::ContextConnected { flow, result }
    }

    /// Derived state was rebuilt: the agent pods may have changed.
    pub fn cluster_settled(&mut self) {
        if let Some(metrics) = self.feed.metrics.as_mut() {
            metrics.cluster_changed();
        }
    }

    pub fn analysis_wanted(&self) -> bool {
        self.analysis.is_some()
    }

    /// Starts the analysis asked for on the analyst's thread, so a large cluster never stalls
    /// input or drawing. Only the objects changed since the previous analysis go there, unless
    /// the analyst's engine cannot take them (then a copy of the snapshot does).
    pub fn start_analysis(&mut self) {
        let Some(flow) = self.analysis.take() else {
            return;
        };
        let job = match analysis_delta(&self.state) {
            Some((base, changes)) if self.analyst.extends(base) => Job::Delta {
                changes,
                now: self.state.cluster.clone(),
            },
            _ => Job::Full(self.state.cluster.clone()),
        };
        let state = &self.state;
        self.analyst.send(
            flow,
            analysis_settings(state),
            job,
            self.feed.tx.clone(),
            || state.cluster.clone(),
        );
    }

    pub fn follow_agents(&mut self, now: Instant) -> Option<Instant> {
        self.feed.follow_agents(&self.state, now)
    }

    /// What a rollback step needs, for the feed's current connection.
    /// The team's recorder for the current context, unless turned off.
    fn team(&self) -> Option<crate::team::client::TeamClient> {
        let connection = &self.feed.connection;
        let choice = self
            .session
            .recorder
            .choice(self.session.contexts.recorder(&connection.context));
        crate::team::client::TeamClient::of(connection, &choice)
    }

    fn rollback_context(&self) -> RollbackContext {
        let connection = &self.feed.connection;
        RollbackContext {
            connection: connection.clone(),
            kubeconfig: self.session.kubeconfig.clone(),
            journal: self.feed.journal.as_ref().map(|j| j.path().to_path_buf()),
            team: self.team(),
            read_only: crate::rollback::read_only_reason(
                self.session.read_only,
                &connection.context,
                &self.session.contexts,
            ),
        }
    }

    /// Carries out one effect; a message when the effect answers at once.
    fn execute(&mut self, effect: Effect) -> Option<Msg> {
        match effect {
            Effect::Quit => self.quit = true,
            Effect::Suspend => self.suspend = true,
            Effect::Analyze(flow) => self.analysis = Some(flow),
            Effect::SetTheme(name) => {
                let notice = match self
                    .config
                    .switch_theme(&name, config::no_colour_requested())
                {
                    Ok(()) => format!("theme {name}"),
                    Err(err) => err,
                };
                return Some(Msg::Notice(notice));
            }
            Effect::Journal(record) => {
                if let Some(journal) = &self.feed.journal {
                    journal.record(*record);
                }
            }
            Effect::LoadGitOpsReminders => {
                rollback::spawn_reminders(self.rollback_context(), &self.feed.tx)
            }
            Effect::LoadTimeline { flow, tenants } => match &self.feed.journal {
                Some(journal) => {
                    // `:timeline` refreshes the reminders too.
                    rollback::spawn_reminders(self.rollback_context(), &self.feed.tx);
                    journal.ask_timeline(flow, tenants)
                }
                None => {
                    return Some(Msg::Journal(JournalNews::Timeline {
                        flow,
                        events: Err("the revision journal is not available".into()),
                    }));
                }
            },
            Effect::LoadChanges => {
                // The suspects wait for one answer before they ask again: always give one.
                let asked = self.feed.journal.as_ref().map(|j| j.ask_recent_changes());
                let why = match asked {
                    Some(true) => return None,
                    Some(false) => "the revision journal has stopped",
                    None => "the revision journal is not available",
                };
                return Some(Msg::Journal(JournalNews::RecentChanges(Err(why.into()))));
            }
            Effect::ComputeRadii { flow, changes } => {
                // Two engines per change: off the UI loop, like the rollback's blast radius.
                let (snapshot, analysis) = blast_input(&self.state);
                let tx = self.feed.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let radii = changes
                        .iter()
                        .map(|c| (c.id(), crate::suspects::radius(&snapshot, &analysis, c)))
                        .collect();
                    let _ = tx.send(Msg::Radii { flow, radii });
                });
            }
            Effect::LoadHistory { flow, policy } => match &self.feed.journal {
                Some(journal) => {
                    // The local revisions at once; the team's merged in when they arrive.
                    journal.ask_revisions(flow, policy.clone());
                    if let Some(team) = self.team() {
                        journal.ask_revisions_after_team(flow, policy, team, &self.feed.tx);
                    }
                }
                None => {
                    return Some(Msg::Journal(JournalNews::Revisions {
                        flow,
                        policy,
                        revisions: Err("the revision journal is not available".into()),
                    }));
                }
            },
            Effect::PrepareRollback { flow, policy, kind } => {
                let (snapshot, analysis) = blast_input(&self.state);
                rollback::spawn_prepare(
                    self.rollback_context(),
                    flow,
                    policy,
                    kind,
                    snapshot,
                    analysis,
                    &self.feed.tx,
                );
            }
            Effect::DryRunRollback(attempt) => {
                rollback::spawn_dry_run(self.rollback_context(), *attempt, &self.feed.tx)
            }
            Effect::SuspendOwner { attempt, passed } => {
                rollback::spawn_suspend(self.rollback_context(), *attempt, passed, &self.feed.tx)
            }
            Effect::ApplyRollback { attempt, passed } => {
                rollback::spawn_apply(self.rollback_context(), *attempt, passed, &self.feed.tx)
            }
            Effect::AbandonRollback {
                attempt,
                dry_run,
                in_flight,
            } => rollback::spawn_audit_unapplied(
                self.rollback_context(),
                *attempt,
                Unapplied {
                    dry_run,
                    in_flight,
                    why: "the operator left after the dry run".into(),
                },
            ),
            Effect::AuditDroppedDryRun {
                attempt,
                dry_run,
                why,
            } => rollback::spawn_audit_unapplied(
                self.rollback_context(),
                *attempt,
                Unapplied {
                    dry_run,
                    in_flight: None,
                    why,
                },
            ),
            Effect::SaveTour(step) => tour::save(step, &self.feed.tx),
            Effect::TourBreak(policy) => tour::spawn_break(
                self.feed.connection.client.clone(),
                tour::BreakGate {
                    demo: self.session.demo
                        && self.feed.connection.server == self.session.connection.server,
                    read_only: crate::rollback::read_only_reason(
                        self.session.read_only,
                        &self.feed.connection.context,
                        &self.session.contexts,
                    ),
                },
                policy,
                &self.feed.tx,
            ),
            Effect::SwitchContext { flow, name } => self.connect(flow, name),
            Effect::AdoptContext(flow) => {
                if let Some(connection) = self.connected.remove(&flow) {
                    self.feed = Feed::start(&connection, self.session);
                }
                // Older switches' connections are moot now.
                self.connected.clear();
            }
        }
        None
    }

    /// Connects to a context in a task, so keys and signals are never blocked by a slow cluster.
    fn connect(&mut self, flow: FlowId, name: String) {
        let kubeconfig = self.session.kubeconfig.clone();
        let tx = self.connections_tx.clone();
        // The new context's own `namespaces` from contexts.toml (`-n` was for the first one).
        let configured = self.session.contexts.namespaces(&name).to_vec();
        tokio::spawn(async move {
            let result = match kubeconfig {
                Some(kubeconfig) => {
                    cluster::connect(ClusterSource::Kubeconfig(Box::new(kubeconfig)), Some(&name))
                        .await
                        .map(|mut connection| {
                            connection.scope.ask(&[], &configured);
                            connection
                        })
                        .map_err(|err| format!("{name}: {err}"))
                }
                None => Err("no kubeconfig to switch contexts in".to_string()),
            };
            let _ = tx.send((flow, result));
        });
    }
}
