//! Terminal setup and the guarantee that it is restored: on quit, on error, on panic (ratatui's
//! hook, chained before color-eyre's), on every catchable signal that ends the console (the
//! runtime leaves its loop, see `runtime/signals.rs`), and around a suspend (ctrl-z, SIGTSTP).

use std::io::stdout;

use color_eyre::eyre::Result;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, disable_raw_mode, enable_raw_mode,
};
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

    /// Hands the terminal back as the shell left it (mouse reporting off, cursor shown, main
    /// screen, cooked mode), for a suspend; `take_back` undoes it.
    pub fn release(&mut self) -> Result<()> {
        execute!(stdout(), DisableMouseCapture)?;
        self.terminal.show_cursor()?;
        ratatui::try_restore()?;
        Ok(())
    }

    /// Raw mode, the alternate screen and the mouse again after a suspend (or after someone
    /// else's SIGSTOP, when the shell has reset the terminal meanwhile). Entering twice is
    /// harmless. The next draw repaints every cell.
    pub fn take_back(&mut self) -> Result<()> {
        // crossterm skips enabling raw mode it believes is on; after a stop it may not be (the
        // shell restores its own modes), so leave it first, which is a no-op when it is off.
        disable_raw_mode()?;
        enable_raw_mode()?;
        execute!(
            stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            Clear(ClearType::All)
        )?;
        // Forget what ratatui believes is on screen: each swap blanks the buffer it makes
        // current, so after two both are blank and the next frame is drawn in full.
        // (`Terminal::clear` would do it too, but asks the terminal for the cursor position,
        // racing the event reader for the answer.)
        self.terminal.swap_buffers();
        self.terminal.swap_buffers();
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = execute!(stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}
