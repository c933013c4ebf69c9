//! The one event loop: terminal events, watcher messages and signals go into `update`;
//! pending messages are drained before each draw, so a burst of watch events costs one frame.

use color_eyre::eyre::Result;
use crossterm::event::{
    Event as TermEvent, EventStream, KeyEventKind, MouseButton, MouseEventKind,
};
use futures::StreamExt;
use kube::config::Kubeconfig;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::app::mouse::MouseInput;
use crate::app::{Effect, Msg, State, update};
use crate::cluster::connect::ClusterSource;
use crate::cluster::{self, Connection, Watchers};
use crate::config::keys::KeyPress;
use crate::config::{self, Config, ConfigError};
use crate::isolation::analysis::analyze;
use crate::terminal::TerminalGuard;
use crate::ui;

/// Upper bound on messages applied between two frames, so input stays responsive under a flood.
const MAX_BATCH: usize = 4096;

/// What the console runs on: a connection, and the kubeconfig it came from (for `:ctx`).
pub struct Session {
    pub connection: Connection,
    pub kubeconfig: Option<Kubeconfig>,
}

/// The watchers and the channel their messages arrive on; replaced as a whole on `:ctx`, so no
/// message from the old context can reach the new state.
struct Feed {
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    _watchers: Watchers,
}

impl Feed {
    fn start(connection: &Connection) -> Feed {
        let (tx, rx) = mpsc::unbounded_channel();
        let watchers = Watchers::spawn(&connection.client, &tx);
        Feed {
            tx,
            rx,
            _watchers: watchers,
        }
    }
}

pub async fn run_console(
    session: Session,
    mut config: Config,
    warnings: Vec<ConfigError>,
) -> Result<()> {
    let mut feed = Feed::start(&session.connection);
    let mut state = State::new(
        session.connection.context.clone(),
        config.keymap.clone(),
        warnings.iter().map(ToString::to_string).collect(),
    );
    state.contexts = session
        .kubeconfig
        .iter()
        .flat_map(|k| k.contexts.iter().map(|c| c.name.clone()))
        .collect();
    state.themes = config::builtin_theme_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;

    let mut guard = TerminalGuard::enter()?;
    let size = guard.terminal.size()?;
    update(
        &mut state,
        Msg::Resize {
            width: size.width,
            height: size.height,
        },
    );
    let mut input = EventStream::new();

    loop {
        guard
            .terminal
            .draw(|frame| ui::view(&state, &config.theme, frame))?;
        let first = tokio::select! {
            event = input.next() => match event {
                Some(Ok(event)) => terminal_msg(event),
                Some(Err(err)) => return Err(err.into()),
                None => break,
            },
            Some(msg) = feed.rx.recv() => Some(msg),
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        };
        let mut effects = Vec::new();
        if let Some(msg) = first {
            effects.extend(update(&mut state, msg));
        }
        for _ in 0..MAX_BATCH {
            match feed.rx.try_recv() {
                Ok(msg) => effects.extend(update(&mut state, msg)),
                Err(_) => break,
            }
        }
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Analyze => spawn_analysis(&state, &feed.tx),
                Effect::SetTheme(name) => {
                    let notice = match config.switch_theme(&name, config::no_colour_requested()) {
                        Ok(()) => format!("theme {name}"),
                        Err(err) => err,
                    };
                    update(&mut state, Msg::Notice(notice));
                }
                Effect::SwitchContext(name) => {
                    update(
                        &mut state,
                        Msg::Notice(format!("connecting to context {name}…")),
                    );
                    guard
                        .terminal
                        .draw(|frame| ui::view(&state, &config.theme, frame))?;
                    let source = session
                        .kubeconfig
                        .clone()
                        .map(|k| ClusterSource::Kubeconfig(Box::new(k)));
                    match source.map(|s| cluster::connect(s, Some(&name))) {
                        Some(connecting) => match connecting.await {
                            Ok(connection) => {
                                feed = Feed::start(&connection);
                                update(&mut state, Msg::ContextSwitched(connection.context));
                            }
                            Err(err) => {
                                update(
                                    &mut state,
                                    Msg::Notice(format!("could not switch to {name}: {err}")),
                                );
                            }
                        },
                        None => {
                            update(
                                &mut state,
                                Msg::Notice("no kubeconfig to switch contexts in".into()),
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The engine works on a copy of the snapshot on a blocking thread, so a large cluster never
/// stalls input or drawing.
fn spawn_analysis(state: &State, tx: &mpsc::UnboundedSender<Msg>) {
    let snapshot = state.cluster.clone();
    let rules = state.tenant_rules.clone();
    let setting = state.ip_block_pods;
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let analysis = analyze(snapshot, &rules, setting);
        // The console may have quit meanwhile; nothing to do then.
        let _ = tx.send(Msg::Analyzed(Box::new(analysis)));
    });
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
