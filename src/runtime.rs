//! The one event loop: terminal events, watcher messages and signals go into `update`;
//! pending messages are drained before each draw, so a burst of watch events costs one frame.

use color_eyre::eyre::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::app::{Effect, Msg, State, update};
use crate::cluster::{Connection, Watchers};
use crate::config::keys::KeyPress;
use crate::config::{Config, ConfigError};
use crate::isolation::analysis::analyze;
use crate::terminal::TerminalGuard;
use crate::ui;

/// Upper bound on messages applied between two frames, so input stays responsive under a flood.
const MAX_BATCH: usize = 4096;

pub async fn run_console(
    connection: Connection,
    config: Config,
    warnings: Vec<ConfigError>,
) -> Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _watchers = Watchers::spawn(&connection.client, &tx);
    let mut state = State::new(
        connection.context.clone(),
        config.keymap.clone(),
        warnings.iter().map(ToString::to_string).collect(),
    );
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
            Some(msg) = rx.recv() => Some(msg),
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        };
        let mut effects = Vec::new();
        if let Some(msg) = first {
            effects.extend(update(&mut state, msg));
        }
        for _ in 0..MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => effects.extend(update(&mut state, msg)),
                Err(_) => break,
            }
        }
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Analyze => spawn_analysis(&state, &tx),
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
        let analysis = analyze(&snapshot, &rules, setting);
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
        _ => None,
    }
}
