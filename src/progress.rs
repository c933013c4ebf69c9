//! Progress of the headless commands that can take a while (`analyze` and `check` on a live
//! cluster, `history import`/`export`, the recorder's seeding).
//!
//! The libraries report [`Phase`]s to a callback and do no terminal IO; [`Progress`] shows them
//! on stderr, and only when stderr is a terminal and `--quiet` was not given, so pipes and CI
//! logs get no progress bytes at all.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One step of a long command, with counts when the step has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// What is under way, e.g. "listing pods" or "computing the matrix".
    pub label: String,
    /// Items done so far, when the step counts.
    pub done: Option<u64>,
    /// The total, when known (a list's total is the server's estimate: `remainingItemCount`).
    pub total: Option<u64>,
}

impl Phase {
    /// A step without counts.
    pub fn step(label: impl Into<String>) -> Phase {
        Phase {
            label: label.into(),
            done: None,
            total: None,
        }
    }

    /// A counted step; `total` is `None` when it is not known.
    pub fn counted(label: impl Into<String>, done: u64, total: Option<u64>) -> Phase {
        Phase {
            label: label.into(),
            done: Some(done),
            total,
        }
    }
}

impl std::fmt::Display for Phase {
    /// `listing pods 40,000/100,000`, `listing pods 500`, `computing the matrix`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)?;
        match (self.done, self.total) {
            (Some(done), Some(total)) => {
                write!(f, " {}/{}", thousands(done), thousands(total.max(done)))
            }
            (Some(done), None) => write!(f, " {}", thousands(done)),
            (None, _) => Ok(()),
        }
    }
}

/// `40000` → `40,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether progress is shown: never with `--quiet`, never when stderr is not a terminal.
pub fn visible(quiet: bool, stderr_is_terminal: bool) -> bool {
    !quiet && stderr_is_terminal
}

/// Whether `NO_COLOR` asks for no colour (set and not empty, as no-color.org says).
pub fn no_color(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// The spinner line on stderr; a no-op when progress is not shown. Clearing it (or dropping it)
/// leaves the terminal as it was; a later phase brings a new line (the recorder lists again
/// after a `410 Gone`).
pub struct Progress {
    enabled: bool,
    colour: bool,
    bar: RefCell<Option<ProgressBar>>,
}

impl Progress {
    /// Progress for a command run with `quiet`, on stderr when it is a terminal.
    pub fn stderr(quiet: bool) -> Progress {
        Progress {
            enabled: visible(quiet, std::io::stderr().is_terminal()),
            colour: !no_color(std::env::var_os("NO_COLOR").as_deref()),
            bar: RefCell::new(None),
        }
    }

    /// Shows nothing, ever.
    pub fn hidden() -> Progress {
        Progress {
            enabled: false,
            colour: false,
            bar: RefCell::new(None),
        }
    }

    /// Shows the phase under way.
    pub fn show(&self, phase: &Phase) {
        if !self.enabled {
            return;
        }
        let mut bar = self.bar.borrow_mut();
        bar.get_or_insert_with(|| self.spinner())
            .set_message(phase.to_string());
    }

    fn spinner(&self) -> ProgressBar {
        let template = if self.colour {
            "{spinner:.cyan} {msg} {elapsed:.dim}"
        } else {
            "{spinner} {msg} ({elapsed})"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10))
            .with_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// A callback for the libraries' `&mut dyn FnMut(&Phase)` parameters.
    pub fn observer(&self) -> impl FnMut(&Phase) + '_ {
        move |phase| self.show(phase)
    }

    /// Writes a line to stderr without tearing the spinner (warnings printed mid-run).
    pub fn note(&self, line: &str) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Clears the line: the work is done and its result follows.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(40_000), "40,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn phases_read_as_a_step_with_its_counts() {
        assert_eq!(
            Phase::counted("listing pods", 40_000, Some(100_000)).to_string(),
            "listing pods 40,000/100,000"
        );
        assert_eq!(
            Phase::counted("listing pods", 500, None).to_string(),
            "listing pods 500"
        );
        assert_eq!(
            Phase::step("computing the matrix").to_string(),
            "computing the matrix"
        );
    }

    #[test]
    fn an_estimate_below_the_count_never_shows_more_done_than_total() {
        // remainingItemCount is an estimate: objects created during the list can exceed it.
        assert_eq!(
            Phase::counted("listing pods", 1_200, Some(1_000)).to_string(),
            "listing pods 1,200/1,200"
        );
    }

    #[test]
    fn progress_shows_only_on_a_terminal_without_quiet() {
        assert!(visible(false, true));
        assert!(!visible(true, true));
        assert!(!visible(false, false));
        assert!(!visible(true, false));
    }

    #[test]
    fn no_color_counts_only_when_set_and_not_empty() {
        assert!(no_color(Some(std::ffi::OsStr::new("1"))));
        assert!(!no_color(Some(std::ffi::OsStr::new(""))));
        assert!(!no_color(None));
    }
}
