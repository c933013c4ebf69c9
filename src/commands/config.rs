//! `palisade config check` and `palisade config print-default`.

use std::process::ExitCode;

use crate::cli::ConfigCommand;
use crate::config::action::Action;
use crate::config::{self, Config};
use crate::scrape;

pub fn run(command: &ConfigCommand) -> ExitCode {
    match command {
        ConfigCommand::PrintDefault => {
            println!("# ---- keymap.toml (built-in \"default\") ----");
            println!("{}", config::DEFAULT_KEYMAP);
            println!("# ---- theme.toml (built-in \"dark\") ----");
            println!("{}", config::DEFAULT_THEME);
            println!("# ---- built-in keymaps (keymap.toml: base = \"NAME\") ----");
            println!("# {}", config::builtin_keymap_names().join(", "));
            println!("# ---- built-in themes (theme.toml: parent = \"NAME\") ----");
            println!("# {}", config::builtin_theme_names().join(", "));
            println!("# ---- actions a keymap can bind ----");
            for action in Action::ALL {
                println!("# {:<14} {}", action.name(), action.description());
            }
            ExitCode::SUCCESS
        }
        ConfigCommand::Check => {
            let Some(dir) = config::user_config_dir() else {
                eprintln!("palisade: no config directory (is $HOME set?)");
                return ExitCode::FAILURE;
            };
            let (_, mut warnings) = Config::load(Some(&dir), false);
            warnings.extend(scrape::load_rules(Some(&dir)).1);
            let (contexts, context_warnings) = config::load_contexts(Some(&dir));
            warnings.extend(context_warnings);
            for file in [
                config::KEYMAP_FILE,
                config::THEME_FILE,
                scrape::AGENTS_FILE,
                config::CONTEXTS_FILE,
            ] {
                let path = dir.join(file);
                let state = if path.exists() {
                    "checked"
                } else {
                    "absent (defaults apply)"
                };
                println!("{}: {state}", path.display());
            }
            if warnings.is_empty() {
                println!("ok: no problems found");
                ExitCode::SUCCESS
            } else {
                for warning in &warnings {
                    eprintln!("{warning}");
                }
                eprintln!("{}", config::check_summary(&warnings, &contexts));
                ExitCode::FAILURE
            }
        }
    }
}
