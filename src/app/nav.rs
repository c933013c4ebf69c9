//! The one door between screens: every change of screen goes through [`navigate`], and a handler
//! says where to go with a [`Step`] rather than moving screens itself.

use super::msg::Effect;
use super::screen::Screen;
use super::state::State;

#[derive(Debug, Clone, PartialEq)]
pub enum Navigation {
    /// A top-level screen (`:` commands, the number keys, opening a flow). The current screen
    /// goes on the breadcrumb trail. Showing the kind of screen already shown does nothing,
    /// except: the matrix starts again at its groups; a history or timeline of another subject
    /// (`:history ns/B` over the history of A) is shown, A going on the trail; the same subject
    /// again replaces the screen in place (a reload).
    Show(Screen),
    /// Drill down: `from` (the current screen, with its cursor as it should be found on the way
    /// back) goes on the trail, `to` is shown.
    Open { from: Screen, to: Screen },
    /// esc: the previous screen on the trail, if any.
    Back,
}

/// What a handler asks for: where to go, and what the runtime should do.
#[derive(Debug, Default, PartialEq)]
pub struct Step {
    pub navigation: Option<Navigation>,
    pub effects: Vec<Effect>,
}

impl Step {
    pub fn effects(effects: Vec<Effect>) -> Step {
        Step {
            navigation: None,
            effects,
        }
    }

    pub fn to(navigation: Navigation, effects: Vec<Effect>) -> Step {
        Step {
            navigation: Some(navigation),
            effects,
        }
    }
}

/// Carries out a step's navigation; its effects are returned for the runtime.
pub fn take(state: &mut State, step: Step) -> Vec<Effect> {
    let mut effects = step.effects;
    if let Some(navigation) = step.navigation {
        let back = navigation == Navigation::Back;
        if navigate(state, navigation) && back {
            effects.extend(returned(state));
        }
    }
    effects
}

/// A screen shown again by esc reloads what may have changed while it was hidden: a rollback
/// started from a history adds revisions to it.
pub fn returned(state: &mut State) -> Vec<Effect> {
    match &mut state.screen {
        Screen::History(history) => {
            let flow = state.session.flows.issue();
            history.flow = flow;
            vec![Effect::LoadHistory {
                flow,
                policy: history.policy.clone(),
            }]
        }
        _ => Vec::new(),
    }
}

/// Whether two screens of one kind are about the same thing (always, for kinds without one).
fn same_subject(a: &Screen, b: &Screen) -> bool {
    match (a, b) {
        (Screen::History(a), Screen::History(b)) => a.policy == b.policy,
        (Screen::Timeline(a), Screen::Timeline(b)) => a.tenant == b.tenant,
        _ => true,
    }
}

/// A reload in place shows what was shown until the journal answers, so a key pressed in
/// between (`j`, then `R`) acts on the list the operator sees, and the answer keeps the cursor.
fn keep_until_answered(old: &Screen, new: &mut Screen) {
    if let (Screen::History(old), Screen::History(new)) = (old, new) {
        new.revisions = old.revisions.clone();
        new.selected = old.selected;
        new.team = old.team.clone();
    }
}

/// Moves between screens. Returns whether the screen changed.
pub fn navigate(state: &mut State, navigation: Navigation) -> bool {
    match navigation {
        Navigation::Show(screen) => {
            let same_kind =
                std::mem::discriminant(&state.screen) == std::mem::discriminant(&screen);
            let reloads = matches!(screen, Screen::History(_) | Screen::Timeline(_));
            if same_kind && reloads && same_subject(&state.screen, &screen) {
                let mut screen = screen;
                keep_until_answered(&state.screen, &mut screen);
                state.screen = screen;
            } else if same_kind && !reloads && !matches!(screen, Screen::Matrix(_)) {
                return false;
            } else {
                let previous = std::mem::replace(&mut state.screen, screen);
                state.back.push(previous);
            }
        }
        Navigation::Open { from, to } => {
            state.back.push(from);
            state.screen = to;
        }
        Navigation::Back => match state.back.pop() {
            Some(previous) => state.screen = previous,
            None => return false,
        },
    }
    state.help = None;
    true
}
