//! `palisade`: parse the command line, choose what SIGPIPE does, run the command (`commands::run`)
//! and turn an error into a message and exit code 1.

use std::process::ExitCode;

use clap::Parser;

use palisade::cli::{Cli, Command};
use palisade::commands;

fn main() -> ExitCode {
    if let Err(err) = color_eyre::install() {
        eprintln!("palisade: cannot install error reporting: {err}");
    }
    let cli = Cli::parse();
    if quiet_on_broken_pipe(cli.command.as_ref()) {
        // `palisade analyze -o json | head` must end quietly when the reader leaves, as other
        // Unix tools do, rather than panic on the broken pipe (Rust ignores SIGPIPE by default).
        // SAFETY: before the async runtime starts any thread; restores the default disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("palisade: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            // A plain message chain, not a stack trace: these are operator-facing errors.
            eprintln!("palisade: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether a broken pipe may end the process silently (SIGPIPE's default action). Only for the
/// headless commands that print a result and hold nothing else: a server, the console or a
/// recorder keeps SIGPIPE ignored, so a client or peer that leaves is an EPIPE error on that one
/// connection (issue 1b: a watch client that left killed the demo server with status 141).
/// Rollback too, so a reader that leaves can never cut it off between the apply and its audit.
fn quiet_on_broken_pipe(command: Option<&Command>) -> bool {
    match command {
        Some(
            Command::Analyze(_)
            | Command::Check(_)
            | Command::Config(_)
            | Command::History(_)
            | Command::Baseline(_)
            | Command::Timeline(_)
            | Command::Flows(_)
            | Command::Suspects(_)
            | Command::Gitops(_),
        ) => true,
        None
        | Some(Command::Demo(_) | Command::Tour(_) | Command::Record(_) | Command::Rollback(_)) => {
            false
        }
    }
}
