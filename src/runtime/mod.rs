//! The one event loop: terminal events, watcher messages and signals go into `update`;
//! pending messages are drained before each draw, so a burst of watch events costs one frame.
//!
//! With `PALISADE_TRACE_FRAMES=FILE`, every frame drawn after a batch of messages appends one
//! line to FILE: `T_MS LATENCY_US MESSAGES KEY`, where T_MS is the time since the console started,
//! LATENCY_US the time from receiving the batch's first message to the end of `terminal.draw`,
//! MESSAGES the number of messages the batch applied, and KEY 1 when the batch held a key press.
//! The clock is read here only, never in `update` or `view`.

pub mod analyst;
#[cfg(test)]
mod analyst_tests;
mod executor;
mod journal;
mod lag;
mod pacing;
mod rollback;
mod signals;
mod tour;

use std::io::Write;
use std::time::Instant;

use color_eyre::eyre::Result;
use crossterm::event::{
    Event as TermEvent, EventStream, KeyEventKind, MouseButton, MouseEventKind,
};
use futures::StreamExt;
use kube::config::Kubeconfig;
use tokio::sync::mpsc;

use crate::app::mouse::MouseInput;
use crate::app::state::SessionState;
use crate::app::subscriptions::subscriptions;
use crate::app::telemetry::SourceKind;
use crate::app::{Msg, State};
use crate::cluster::{Connection, Watchers};
use crate::config::keys::KeyPress;
use crate::config::{self, Config, ConfigError, ContextSettings};
use crate::flows::{FlowNews, FlowSourceKind, RingLimits, SourceStatus};
use crate::flowsrc::{self, FlowSink, FlowSourceOptions, FlowSources};
use crate::isolation::intent::Intent;
use crate::model::ClusterNews;
use crate::scrape::{MetricsEvent, MetricsSetup, MetricsTask};
use crate::terminal::TerminalGuard;
use crate::ui;
use executor::Executor;
pub use journal::JournalChoice;
use journal::JournalFeed;
use lag::LagMeter;
use pacing::{Pace, Pacer};
pub use signals::Ending;
use signals::{ConsoleSignals, SignalAction};

/// Upper bound on messages applied between two frames, so input stays responsive under a flood.
const MAX_BATCH: usize = 4096;

/// The environment variable naming the frame trace file.
pub const TRACE_ENV: &str = "PALISADE_TRACE_FRAMES";

/// The opt-in frame trace (see the module docs).
struct FrameTrace {
    file: std::fs::File,
    started: Instant,
}

/// One batch of messages, from its first message until its frame is drawn.
struct Batch {
    received: Instant,
    messages: usize,
    key: bool,
}

impl FrameTrace {
    /// Opens the trace file when the variable is set; a file that cannot be opened becomes a
    /// warning on screen, not an error.
    fn from_env(warnings: &mut Vec<String>) -> Option<FrameTrace> {
        let path = std::env::var_os(TRACE_ENV)?;
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(file) => Some(FrameTrace {
                file,
                started: Instant::now(),
            }),
            Err(err) => {
                warnings.push(format!(
                    "{TRACE_ENV}: cannot open {}: {err}",
                    std::path::Path::new(&path).display()
                ));
                None
            }
        }
    }

    fn record(&mut self, batch: &Batch) {
        let now = Instant::now();
        let line = format!(
            "{} {} {} {}\n",
            now.duration_since(self.started).as_millis(),
            now.duration_since(batch.received).as_micros(),
            batch.messages,
            u8::from(batch.key)
        );
        // One write per line, so a reader never sees half a line; a full disk only loses lines.
        let _ = self.file.write_all(line.as_bytes());
    }
}

/// What the console runs on: a connection, and the kubeconfig it came from (for `:ctx`).
pub struct Session {
    pub connection: Connection,
    pub kubeconfig: Option<Kubeconfig>,
    /// The isolation contract the matrix and findings check against.
    pub intent: Option<Intent>,
    /// Where agent metrics come from; restarted with the new client on `:ctx`.
    pub metrics: MetricsSetup,
    /// Which flow sources to run and how many flows to keep; restarted with the new client on
    /// `:ctx`.
    pub flows: (FlowSourceOptions, RingLimits),
    /// Where the revision journal lives; reopened for the new context on `:ctx`.
    pub journal: JournalChoice,
    /// `--read-only`: the console never writes to the cluster.
    pub read_only: bool,
    /// `--recorder`, `--no-recorder`: the team's recorder (with contexts.toml's `recorder`).
    pub recorder: crate::cli::RecorderArgs,
    /// `--tenant-label`, `--tenant-pattern`, `--ipblock-pods`: over each context's defaults.
    pub analysis: crate::isolation::config::AnalysisChoices,
    /// Per-context settings (contexts.toml), e.g. read-only production contexts.
    pub contexts: ContextSettings,
    /// The console runs on the built-in demo cluster: the tour is offered, and its rollback
    /// rehearsal may break a demo policy on purpose.
    pub demo: bool,
    /// Start the guided tour at once (`palisade tour`).
    pub start_tour: bool,
}

/// The watchers, the metrics source and the channel their messages arrive on; replaced as a
/// whole on `:ctx`, so no message from the old context can reach the new state.
struct Feed {
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    _watchers: Watchers,
    metrics: Option<MetricsTask>,
    /// The flow sources (Hubble Relay, Goldmane); dropping them stops their tasks.
    _flows: FlowSources,
    journal: Option<JournalFeed>,
    /// The connection these run on (rollback steps use it too).
    connection: Connection,
}

impl Feed {
    fn start(connection: &Connection, session: &Session) -> Feed {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = tx.clone();
        let watchers = Watchers::spawn_for(connection, move |news| {
            let msg = match news {
                // A list's page counts are for the headless commands' progress; the console's
                // header already says `syncing`, and each would cost a frame.
                ClusterNews::Watch {
                    event: crate::model::WatchEvent::Listing { .. },
                    ..
                } => return true,
                ClusterNews::Watch { kind, event } => Msg::Watch { kind, event },
                ClusterNews::Unevaluated(counts) => Msg::Unevaluated(counts),
                ClusterNews::Scope(scope) => Msg::Scope(scope),
            };
            sink.send(msg).is_ok()
        });
        let metrics = MetricsTask::start(
            &session.metrics,
            &connection.scrape_client,
            &metrics_sink(&tx),
        );
        let journal = JournalFeed::start(&session.journal, connection, &tx);
        let flows = start_flows(&session.flows.0, connection, &tx);
        Feed {
            tx,
            rx,
            _watchers: watchers,
            metrics,
            _flows: flows,
            journal,
            connection: connection.clone(),
        }
    }

    /// The scraper's targets follow the agent pods (at most once a `DISCOVERY_EVERY`), once
    /// the state says the pods are listed. Returns when the next discovery is due, for the
    /// loop's wake-up.
    fn follow_agents(&mut self, state: &State, now: Instant) -> Option<Instant> {
        let pods = subscriptions(state).agent_discovery?;
        let metrics = self.metrics.as_mut()?;
        metrics.discover_if_due(pods, now);
        metrics.discovery_due()
    }
}

/// Starts the flow sources; their news go to the console as `Msg::Flows`. The sources batch
/// flows, and the messages are not urgent: a burst costs one frame, like watch traffic. With no
/// source asked for (`--no-flows`), `:flows` says so.
fn start_flows(
    options: &FlowSourceOptions,
    connection: &Connection,
    tx: &mpsc::UnboundedSender<Msg>,
) -> FlowSources {
    let sink_tx = tx.clone();
    let sink: FlowSink = std::sync::Arc::new(move |news| {
        let _ = sink_tx.send(Msg::Flows(news));
    });
    if options.hubble.is_none() && options.goldmane.is_none() {
        sink(FlowNews::Status {
            source: FlowSourceKind::Hubble,
            status: SourceStatus::Absent {
                reason: "flows are off (--no-flows)".into(),
            },
        });
    }
    flowsrc::start(options, Some(connection.client.clone()), sink)
}

/// The metrics source reports on its own channel; its events become the console's messages.
fn metrics_sink(tx: &mpsc::UnboundedSender<Msg>) -> mpsc::UnboundedSender<MetricsEvent> {
    let (sink, mut events) = mpsc::unbounded_channel();
    let tx = tx.clone();
    // Ends when the source (its sender) is dropped with the feed, or the console is gone.
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let msg = match event {
                MetricsEvent::Reading(reading) => Msg::Metrics(reading),
                MetricsEvent::Progress { done, total } => Msg::MetricsProgress { done, total },
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
    sink
}

pub async fn run_console(
    session: Session,
    config: Config,
    warnings: Vec<ConfigError>,
) -> Result<Ending> {
    let feed = Feed::start(&session.connection, &session);
    let mut warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    let mut trace = FrameTrace::from_env(&mut warnings);
    let mut session_state = SessionState::new(config.keymap.clone(), warnings);
    session_state.analysis_choices = session.analysis.clone();
    session_state.context_analysis = session
        .contexts
        .contexts
        .iter()
        .map(|(name, setting)| (name.clone(), setting.analysis.clone()))
        .collect();
    let mut state = State::for_context(session.connection.context.clone(), session_state);
    state.session.contexts = session
        .kubeconfig
        .iter()
        .flat_map(|k| k.contexts.iter().map(|c| c.name.clone()))
        .collect();
    state.session.intent = session.intent.clone();
    state.session.metrics_source = source_kind(&session.metrics.source);
    state.session.flow_limits = session.flows.1;
    state.flows = crate::app::flows::FlowsState::new(session.flows.1);
    state.session.themes = config::builtin_theme_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let _ = feed.tx.send(Msg::TourLoaded {
        saved: tour::load(),
        offer: session.demo && !session.start_tour,
        start: session.start_tour,
    });
    let mut signal_streams = ConsoleSignals::install()?;

    let mut guard = TerminalGuard::enter()?;
    let size = guard.terminal.size()?;
    let mut console = Executor::new(&session, config, state, feed);
    console.dispatch(Msg::Resize {
        width: size.width,
        height: size.height,
    });
    let mut input = EventStream::new();
    let mut batch: Option<Batch> = None;
    let mut pacer = Pacer::new();
    let mut lag = LagMeter::new();
    // When the oldest watch event not yet on screen arrived.
    let mut watch_pending: Option<Instant> = None;

    loop {
        let now = Instant::now();
        if let Some(for_input) = pacer.take_draw(now) {
            // Derived state (tree, analysis request) is rebuilt at most once per FRAME, and not
            // on frames answering input: a key press is drawn at once on a tree at most
            // INPUT_STALENESS old, and the rebuild follows with the next watch-driven frame.
            if pacer.take_settle(now, for_input) {
                // Only a changed snapshot can have moved the agent pods: flows and metrics
                // settle too, and rediscovering among 100k pods each second cost a tenth of
                // a core.
                let cluster_changed = subscriptions(&console.state).cluster_changed;
                console.dispatch(Msg::Settle);
                if cluster_changed {
                    console.cluster_settled();
                }
            } else if subscriptions(&console.state).settle_pending {
                pacer.changed(Pace::Prompt);
            }
            guard
                .terminal
                .draw(|frame| ui::view(&console.state, &console.config.theme, frame))?;
            if let (Some(trace), Some(done)) = (trace.as_mut(), batch.take()) {
                trace.record(&done);
            }
            if let Some(received) = watch_pending.take() {
                lag.record(received, Instant::now());
            }
            if let Some((p50, p95)) = lag.report(Instant::now()) {
                console.dispatch(Msg::WatchLag { p50, p95 });
            }
        }
        if console.analysis_wanted() {
            pacer.want_analysis();
        }
        if pacer.take_analysis(now) {
            console.start_analysis();
        }
        let discovery = console.follow_agents(now);
        let wake = pacer.wake_at().into_iter().chain(discovery).min();
        let first = tokio::select! {
            event = input.next() => match event {
                Some(Ok(event)) => terminal_msg(event),
                Some(Err(err)) => return Err(err.into()),
                None => break,
            },
            Some(msg) = console.feed.rx.recv() => Some(msg),
            Some(made) = console.connections.recv() => Some(console.connection_made(made)),
            action = signal_streams.next() => match action {
                // Returning drops the guard, which restores the terminal.
                SignalAction::End(ending) => return Ok(ending),
                SignalAction::Suspend => Some(signals::suspend(&mut guard)?),
                SignalAction::Resume => Some(signals::resume(&mut guard)?),
            },
            _ = tokio::time::sleep_until(wake.unwrap_or(now).into()), if wake.is_some() => continue,
        };
        let flows_on_screen = subscriptions(&console.state).flows_on_screen;
        let pace_in_view = |msg: &Msg| pace_of(msg, flows_on_screen);
        let mut pace = first.as_ref().map_or(Pace::Background, pace_in_view);
        if matches!(first, Some(Msg::Key(_) | Msg::Mouse(_))) {
            // The panes' scroll limits as drawn, so this page-down stops at the last screenful
            // instead of counting on past it. Measured here, not after every frame: measuring
            // wraps a pane's whole text, and the view clamps what it draws meanwhile.
            refresh_scroll_limits(&mut console);
        }
        if matches!(first, Some(Msg::Watch { .. })) {
            watch_pending.get_or_insert_with(Instant::now);
        }
        let mut current = trace.is_some().then(|| Batch {
            received: Instant::now(),
            messages: 0,
            key: matches!(first, Some(Msg::Key(_))),
        });
        let mut applied = 0;
        let mut replaced_analysis = false;
        if let Some(msg) = first {
            replaced_analysis |= matches!(msg, Msg::Analyzed { .. });
            console.dispatch(msg);
            applied += 1;
        }
        for _ in 0..MAX_BATCH {
            if console.quitting() {
                break;
            }
            match console.feed.rx.try_recv() {
                Ok(msg) => {
                    pace = pace.max(pace_in_view(&msg));
                    replaced_analysis |= matches!(msg, Msg::Analyzed { .. });
                    if matches!(msg, Msg::Watch { .. }) {
                        watch_pending.get_or_insert_with(Instant::now);
                    }
                    console.dispatch(msg);
                    applied += 1;
                }
                Err(_) => break,
            }
        }
        if console.quitting() {
            return Ok(Ending::Quit);
        }
        if replaced_analysis {
            release_freed_memory(); // the previous analysis (engine and all) was just dropped
        }
        if let Some(current) = current.as_mut() {
            current.messages = applied;
        }
        // Batches not yet on screen merge into one trace line: the latency of the oldest (or of
        // the key press, which is drawn at once), the messages of all.
        batch = match (batch.take(), current) {
            (Some(mut pending), Some(new)) => {
                pending.messages += new.messages;
                if new.key {
                    pending.received = new.received;
                    pending.key = true;
                }
                Some(pending)
            }
            (pending, new) => pending.or(new),
        };
        pacer.changed(pace);
        if console.take_suspend() {
            // ctrl-z: give the terminal back and stop; `fg` resumes here with a full redraw.
            let resized = signals::suspend(&mut guard)?;
            console.dispatch(resized);
            pacer.changed(Pace::Input);
        }
    }
    Ok(Ending::Quit)
}

/// Measures the panes' scroll limits for the state as drawn and hands them to `update` when
/// they changed.
fn refresh_scroll_limits(console: &mut Executor) {
    let limits = ui::scroll_limits(&console.state, &console.config.theme);
    if limits != console.state.session.scroll_limits {
        console.dispatch(Msg::ScrollLimits(limits));
    }
}

/// How soon a message's effect must be drawn.
fn pace_of(msg: &Msg, flows_on_screen: bool) -> Pace {
    match msg {
        Msg::Key(_) | Msg::Mouse(_) | Msg::Resize { .. } => Pace::Input,
        Msg::Flows(FlowNews::Flows { .. }) if flows_on_screen => Pace::Live,
        Msg::Flows(FlowNews::Flows { .. }) | Msg::MetricsProgress { .. } => Pace::Background,
        _ => Pace::Prompt,
    }
}

fn terminal_msg(event: TermEvent) -> Option<Msg> {
    match event {
        TermEvent::Key(key) if key.kind != KeyEventKind::Release => {
            KeyPress::from_event(&key).map(Msg::Key)
        }
        TermEvent::Resize(width, height) => Some(Msg::Resize { width, height }),
        TermEvent::Mouse(mouse) => match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => Some(Msg::Mouse(MouseInput::Click {
                column: mouse.column,
                row: mouse.row,
            })),
            MouseEventKind::ScrollUp => Some(Msg::Mouse(MouseInput::WheelUp)),
            MouseEventKind::ScrollDown => Some(Msg::Mouse(MouseInput::WheelDown)),
            _ => None,
        },
        _ => None,
    }
}

/// A full analysis allocates a copy of the snapshot and a whole engine on the analyst's thread,
/// and each analysis frees the previous one's read-only engine; glibc keeps such peaks resident in per-thread arenas.
/// Hand the free pages back (malloc_trim walks every arena).
#[cfg(target_env = "gnu")]
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own free lists; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn release_freed_memory() {}

/// How the console names the metrics source in its views.
fn source_kind(source: &crate::scrape::MetricsSource) -> SourceKind {
    match source {
        crate::scrape::MetricsSource::Off => SourceKind::Off,
        crate::scrape::MetricsSource::Agents { urls, .. } if urls.is_empty() => SourceKind::Direct,
        crate::scrape::MetricsSource::Agents { urls, .. } => SourceKind::Urls(
            urls.iter()
                .map(|(_, url)| crate::scrape::redact_url(url))
                .collect(),
        ),
        crate::scrape::MetricsSource::Prometheus { url, .. } => {
            SourceKind::Prometheus(crate::scrape::redact_url(url))
        }
    }
}

#[cfg(test)]
mod source_kind_tests {
    use super::*;
    use crate::scrape::MetricsSource;

    #[test]
    fn metrics_urls_are_named_as_such_and_their_secrets_are_redacted() {
        let agents = |urls: Vec<(crate::metrics::Cni, String)>| MetricsSource::Agents {
            rules: Vec::new(),
            urls,
        };
        assert_eq!(source_kind(&agents(Vec::new())), SourceKind::Direct);
        assert_eq!(
            source_kind(&agents(vec![(
                crate::metrics::Cni::Cilium,
                "http://user:secret@10.0.0.5:9962/metrics".into()
            )])),
            SourceKind::Urls(vec![crate::scrape::redact_url(
                "http://user:secret@10.0.0.5:9962/metrics"
            )])
        );
        let SourceKind::Urls(urls) = source_kind(&agents(vec![(
            crate::metrics::Cni::Cilium,
            "http://user:secret@10.0.0.5:9962/metrics".into(),
        )])) else {
            panic!("not Urls")
        };
        assert!(!urls[0].contains("secret"), "{urls:?}");
    }
}
