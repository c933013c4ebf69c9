//! Terminal setup and the guarantee that it is restored: on quit, on error, on panic (ratatui's
//! hook, chained before color-eyre's report) and on SIGTERM (the runtime leaves its loop).

use std::io::stdout;

use color_eyre::eyre::Result;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use ratatui::DefaultTerminal;

/// Owns the terminal in raw mode on the alternate screen; restores it when dropped.
pub struct TerminalGuard {
    pub terminal: DefaultTerminal,
}

impl TerminalGuard {
    pub fn enter() -> Result<TerminalGuard> {
        // `ratatui::init` also installs a panic hook that restores the terminal first, then runs
        // the hook installed before it (color-eyre's), so the report lands on a sane screen.
        let terminal = ratatui::try_init()?;
        // Mouse: click to select, wheel to scroll. Hold shift to select text in most terminals.
        execute!(stdout(), EnableMouseCapture)?;
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = execute!(stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}
