//! `palisade config`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the user files (keymap.toml, theme.toml, agents.toml, contexts.toml) in the config dir; exit 1 on problems
    Check,
    /// Print the built-in keymap and theme
    PrintDefault,
}
