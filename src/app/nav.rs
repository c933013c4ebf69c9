//! The one door between screens: every change of screen goes through [`navigate`], and a handler
//! says where to go with a [`Step`] rather than moving screens itself.

use super::msg::Effect;
use super::screen::Screen;
use super::state::State;

#[derive(Debug, Clone, PartialEq)]
pub enum Navigation {
    /// A top-level screen (`:` commands, the number keys, opening a flow). The current screen
    /// goes on the breadcrumb trail; showing the kind of screen already shown does nothing
    /// (except the matrix, which starts again at its groups).
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
    if let Some(navigation) = step.navigation {
        navigate(state, navigation);
    }
    step.effects
}

/// Moves between screens. Returns whether the screen changed.
pub fn navigate(state: &mut State, navigation: Navigation) -> bool {
    match navigation {
        Navigation::Show(screen) => {
            if std::mem::discriminant(&state.screen) == std::mem::discriminant(&screen)
                && !matches!(screen, Screen::Matrix(_))
            {
                return false;
            }
            let previous = std::mem::replace(&mut state.screen, screen);
            state.back.push(previous);
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
