//! The console's signals. A signal whose default action would end the process ends the console
//! through its loop instead, so the terminal guard restores the terminal on the way out and the
//! exit status is 128 + the signal's number, as a shell reports a signal death. SIGTSTP suspends
//! like the suspend key; SIGCONT (after a stop by anyone) takes the terminal back and redraws.
//!
//! Left alone: SIGPIPE (ignored, see `main.rs`: a broken connection is an error on that
//! connection), SIGTTIN/SIGTTOU (a console sent to the background stops until `fg`, as it should),
//! and the faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS), which no async loop can
//! answer.

use std::future::poll_fn;
use std::process::ExitCode;
use std::task::{Context, Poll};

use color_eyre::eyre::Result;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::app::Msg;
use crate::terminal::TerminalGuard;

/// How the console ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The user quit (or the terminal's input ended).
    Quit,
    /// This signal ended it, after the terminal was restored.
    Signal(i32),
}

impl Ending {
    /// 0 for a quit, 128 + the number for a signal (SIGHUP 129, SIGINT 130, SIGQUIT 131,
    /// SIGTERM 143).
    pub fn exit_code(self) -> ExitCode {
        match self {
            Ending::Quit => ExitCode::SUCCESS,
            Ending::Signal(number) => ExitCode::from(u8::try_from(128 + number).unwrap_or(u8::MAX)),
        }
    }
}

/// What the loop does about a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    End(Ending),
    Suspend,
    Resume,
}

/// The signals whose default action ends the process, and which a handler can catch. (The
/// real-time signals stop one short of SIGRTMAX: tokio's table has no slot for it.)
fn ending_signals() -> Vec<i32> {
    let mut numbers = vec![
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGABRT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGIO,
    ];
    #[cfg(target_os = "linux")]
    {
        numbers.extend([libc::SIGPWR, libc::SIGSTKFLT]);
        numbers.extend(libc::SIGRTMIN()..libc::SIGRTMAX());
    }
    numbers
}

/// The console's signal streams, registered before the terminal is taken.
pub struct ConsoleSignals {
    ending: Vec<(i32, Signal)>,
    stop: Signal,
    resume: Signal,
}

impl ConsoleSignals {
    pub fn install() -> std::io::Result<ConsoleSignals> {
        let ending = ending_signals()
            .into_iter()
            .map(|number| Ok((number, signal(SignalKind::from_raw(number))?)))
            .collect::<std::io::Result<_>>()?;
        Ok(ConsoleSignals {
            ending,
            stop: signal(SignalKind::from_raw(libc::SIGTSTP))?,
            resume: signal(SignalKind::from_raw(libc::SIGCONT))?,
        })
    }

    /// The next signal's action; an ending signal wins over a suspend that arrived with it.
    pub async fn next(&mut self) -> SignalAction {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<SignalAction> {
        for (number, stream) in &mut self.ending {
            if stream.poll_recv(cx).is_ready() {
                return Poll::Ready(SignalAction::End(Ending::Signal(*number)));
            }
        }
        if self.stop.poll_recv(cx).is_ready() {
            return Poll::Ready(SignalAction::Suspend);
        }
        if self.resume.poll_recv(cx).is_ready() {
            return Poll::Ready(SignalAction::Resume);
        }
        Poll::Pending
    }
}

/// Gives the terminal back to the shell, stops the process like an unhandled SIGTSTP would, and
/// once continued (`fg`) takes the terminal again. The returned message makes the loop draw a
/// full frame at the terminal's size, which may have changed meanwhile.
pub fn suspend(guard: &mut TerminalGuard) -> Result<Msg> {
    guard.release()?;
    stop_until_continued()?;
    resume(guard)
}

/// Raw mode, alternate screen and mouse again, and a full redraw at the current size.
pub fn resume(guard: &mut TerminalGuard) -> Result<Msg> {
    guard.take_back()?;
    let size = guard.terminal.size()?;
    Ok(Msg::Resize {
        width: size.width,
        height: size.height,
    })
}

/// SIGTSTP with its default action for the moment of the stop (our handler would only queue it
/// again). The shell then reports the job as stopped, and an orphaned process group, where the
/// kernel discards a terminal stop, simply carries on instead of hanging.
fn stop_until_continued() -> std::io::Result<()> {
    // SAFETY: plain sigaction calls on a zero-initialised struct (SIG_DFL, empty mask, no flags);
    // the handler that was installed is put back unchanged right after the process continues.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGTSTP, &default, &mut previous) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Delivered to this thread before `raise` returns: the whole process stops here.
        libc::raise(libc::SIGTSTP);
        if libc::sigaction(libc::SIGTSTP, &previous, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_ending_exits_as_a_shell_reports_a_signal_death() {
        assert_eq!(Ending::Quit.exit_code(), ExitCode::SUCCESS);
        assert_eq!(
            Ending::Signal(libc::SIGINT).exit_code(),
            ExitCode::from(130)
        );
        assert_eq!(
            Ending::Signal(libc::SIGQUIT).exit_code(),
            ExitCode::from(131)
        );
        assert_eq!(
            Ending::Signal(libc::SIGTERM).exit_code(),
            ExitCode::from(143)
        );
    }

    #[test]
    fn every_ending_signal_is_one_a_handler_may_catch() {
        let numbers = ending_signals();
        for uncatchable in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGPIPE] {
            assert!(!numbers.contains(&uncatchable), "{uncatchable}");
        }
        for stop_or_continue in [libc::SIGTSTP, libc::SIGCONT, libc::SIGTTIN, libc::SIGTTOU] {
            assert!(!numbers.contains(&stop_or_continue), "{stop_or_continue}");
        }
    }
}
