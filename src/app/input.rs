//! Typing into the command line or a filter: raw keys, not keymap actions.

use super::command::{self, Command};
use super::msg::Effect;
use super::nav::{Navigation, navigate};
use super::screen::{MatrixLevel, MatrixScreen, Screen, TableScreen};
use super::state::{Input, InputKind, State};
use crate::config::keys::{KeyCodeName, KeyPress};

pub fn open(state: &mut State, kind: InputKind) {
    let text = match kind {
        InputKind::Command => String::new(),
        InputKind::Filter => current_filter(state).unwrap_or_default(),
    };
    state.notice = None;
    state.input = Some(Input {
        kind,
        text,
        candidates: Vec::new(),
        history_pos: None,
    });
}

/// Handles one key while an input line is open.
pub fn key(state: &mut State, key: KeyPress) -> Vec<Effect> {
    let Some(mut input) = state.input.take() else {
        return Vec::new();
    };
    match (key.code, key.ctrl) {
        (KeyCodeName::Esc, _) | (KeyCodeName::Char('c'), true) | (KeyCodeName::Char('g'), true) => {
            if input.kind == InputKind::Filter {
                set_filter(state, String::new()); // esc clears the filter, like k9s
            }
            return Vec::new();
        }
        (KeyCodeName::Enter, _) => return submit(state, input),
        (KeyCodeName::Backspace, _) => {
            input.text.pop();
        }
        (KeyCodeName::Char('u'), true) => input.text.clear(),
        (KeyCodeName::Tab, _) if input.kind == InputKind::Command => {
            let (line, candidates) = command::complete(&input.text, &|cmd: &str| match cmd {
                "ctx" | "context" => state.session.contexts.clone(),
                "theme" => state.session.themes.clone(),
                _ => Vec::new(),
            });
            input.text = line;
            input.candidates = candidates;
        }
        (KeyCodeName::Up | KeyCodeName::Down, _) if input.kind == InputKind::Command => {
            browse_history(state, &mut input, key.code == KeyCodeName::Up);
        }
        (KeyCodeName::Char(c), false) if !key.alt => input.text.push(c),
        _ => {}
    }
    if input.kind == InputKind::Filter {
        set_filter(state, input.text.clone()); // filters apply as you type
    }
    state.input = Some(input);
    Vec::new()
}

fn browse_history(state: &State, input: &mut Input, older: bool) {
    let len = state.session.command_history.len();
    if len == 0 {
        return;
    }
    let pos = match (input.history_pos, older) {
        (None, true) => Some(len - 1),
        (Some(p), true) => Some(p.saturating_sub(1)),
        (Some(p), false) if p + 1 < len => Some(p + 1),
        _ => None,
    };
    input.history_pos = pos;
    input.text = pos
        .map(|p| state.session.command_history[p].clone())
        .unwrap_or_default();
}

fn submit(state: &mut State, input: Input) -> Vec<Effect> {
    match input.kind {
        InputKind::Filter => {
            set_filter(state, input.text);
            Vec::new()
        }
        InputKind::Command => {
            let line = input.text.trim().to_string();
            if line.is_empty() {
                return Vec::new();
            }
            if state.session.command_history.last() != Some(&line) {
                state.session.command_history.push(line.clone());
            }
            match command::parse(&line) {
                Ok(command) => run(state, command),
                Err(message) => {
                    state.notice = Some(message);
                    Vec::new()
                }
            }
        }
    }
}

pub fn run(state: &mut State, command: Command) -> Vec<Effect> {
    match command {
        Command::Tenants => {
            navigate(state, Navigation::Show(Screen::Tenants));
        }
        Command::Matrix => {
            navigate(
                state,
                Navigation::Show(Screen::Matrix(MatrixScreen::groups())),
            );
        }
        Command::Policies => {
            navigate(
                state,
                Navigation::Show(Screen::Policies(TableScreen::default())),
            );
        }
        Command::Findings => {
            navigate(
                state,
                Navigation::Show(Screen::Findings(TableScreen::default())),
            );
        }
        Command::Violations => {
            navigate(
                state,
                Navigation::Show(Screen::Violations(TableScreen::default())),
            );
        }
        Command::Latency => {
            navigate(
                state,
                Navigation::Show(Screen::Latency(TableScreen::default())),
            );
        }
        Command::Agents => {
            navigate(
                state,
                Navigation::Show(Screen::Agents(TableScreen::default())),
            );
        }
        Command::Flows => super::flows_keys::open(state),
        Command::History(target) => return super::history_flow::open(state, target.as_deref()),
        Command::Timeline(tenant) => return super::timeline_flow::open(state, tenant),
        Command::Tour(arg) => return super::tour_flow::command(state, arg.as_deref()),
        Command::Help => state.help = Some(0),
        Command::Quit => {
            state.session.quitting = true;
            return vec![Effect::Quit];
        }
        Command::Theme(name) => return vec![Effect::SetTheme(name)],
        Command::Context(None) => {
            state.notice = Some(if state.session.contexts.is_empty() {
                "no kubeconfig contexts (demo cluster)".to_string()
            } else {
                format!(
                    "contexts: {} (current: {}); :ctx NAME switches",
                    state.session.contexts.join(", "),
                    state.context
                )
            });
        }
        Command::Context(Some(name)) => {
            if !state.session.contexts.contains(&name) {
                state.notice = Some(format!(
                    "no context `{name}`; known: {}",
                    state.session.contexts.join(", ")
                ));
            } else if name != state.context {
                // The last switch asked wins; an older one still connecting is dropped.
                let flow = state.session.flows.issue();
                state.session.switching = Some(flow);
                state.notice = Some(format!("connecting to context {name}…"));
                return vec![Effect::SwitchContext { flow, name }];
            }
        }
    }
    Vec::new()
}

fn current_filter(state: &State) -> Option<String> {
    match &state.screen {
        Screen::Tenants => Some(state.tree_filter.clone()),
        Screen::Flows => Some(state.flows.filter.clone()),
        Screen::Matrix(MatrixScreen {
            level: MatrixLevel::Pairs { filter, .. },
            ..
        }) => Some(filter.clone()),
        other => other.table().map(|t| t.filter.clone()),
    }
}

fn set_filter(state: &mut State, text: String) {
    match &mut state.screen {
        Screen::Tenants => state.tree_filter = text,
        Screen::Flows => {
            state.flows.filter = text;
            super::flows_keys::refilter(state);
        }
        Screen::Matrix(MatrixScreen {
            level: MatrixLevel::Pairs { filter, .. },
            row,
            ..
        }) => {
            *filter = text;
            *row = 0;
        }
        other => {
            if let Some(t) = other.table_mut() {
                t.filter = text;
            }
        }
    }
}
