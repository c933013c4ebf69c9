//! Themes and keymaps: defaults embedded from `themes/` and `keymaps/`, user files from the XDG
//! config dir merged over them, resolved into infallible `Theme`/`Keymap` plus warnings.

pub mod action;
pub mod contexts;
pub mod keymap;
#[cfg(test)]
mod keymap_tests;
pub mod keys;
pub mod source;
pub mod theme;

use std::path::{Path, PathBuf};

pub use contexts::{CONTEXTS_FILE, ContextSettings, load_contexts};
pub use keymap::{Keymap, Resolution, builtin_keymap_names};
pub use source::{ConfigError, SourceFile};
pub use theme::{Theme, Token, builtin_theme_names};

/// The built-in `default` keymap (vim/k9s-like).
pub const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");
/// The built-in `dark` theme, the default.
pub const DEFAULT_THEME: &str = include_str!("../../themes/dark.toml");

pub const KEYMAP_FILE: &str = "keymap.toml";
pub const THEME_FILE: &str = "theme.toml";

/// Everything configurable, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub keymap: Keymap,
    pub theme: Theme,
}

/// Where user config lives: `$XDG_CONFIG_HOME/palisade` (usually `~/.config/palisade`).
pub fn user_config_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("palisade"))
}

impl Config {
    /// Loads the user files in `dir` (if any) over the built-ins they name (`base = "..."` for the
    /// keymap, default `default`; `parent = "..."` for the theme, default `dark`). Never fails:
    /// problems come back as warnings, and the defaults stand in for whatever could not be read.
    pub fn load(dir: Option<&Path>, no_colour: bool) -> (Config, Vec<ConfigError>) {
        let mut warnings = Vec::new();
        let mut user_file = |name: &str| {
            let path = dir?.join(name);
            SourceFile::read_optional(&path).unwrap_or_else(|err| {
                warnings.push(err);
                None
            })
        };
        let user_keymap = user_file(KEYMAP_FILE);
        let user_theme = user_file(THEME_FILE);

        let (keymap, keymap_warnings) =
            Keymap::load(&default_keymap_source(), user_keymap.as_ref());
        let (theme, theme_warnings) = Theme::load(&default_theme_source(), user_theme.as_ref());
        warnings.extend(keymap_warnings);
        warnings.extend(theme_warnings);
        let theme = if no_colour {
            theme.without_colour()
        } else {
            theme
        };
        (Config { keymap, theme }, warnings)
    }
}

impl Config {
    /// Switches to a built-in theme by name (`:theme light`), without colour when `no_colour`.
    /// The user's `theme.toml` is not applied over it. Unknown names leave the theme as it is.
    pub fn switch_theme(&mut self, name: &str, no_colour: bool) -> Result<(), String> {
        let (theme, errors) = Theme::builtin(name).ok_or_else(|| {
            format!(
                "unknown theme `{name}`; built-in themes: {}",
                builtin_theme_names().join(", ")
            )
        })?;
        // Built-in themes are checked by the tests; an error here is a bug, not user input.
        debug_assert!(errors.is_empty(), "{errors:?}");
        self.theme = if no_colour {
            theme.without_colour()
        } else {
            theme
        };
        Ok(())
    }
}

pub fn default_keymap_source() -> SourceFile {
    keymap::builtin_keymap_source(keymap::DEFAULT_BASE).expect("the default keymap is built in")
}

pub fn default_theme_source() -> SourceFile {
    theme::builtin_theme_source(theme::DEFAULT_THEME_NAME).expect("the default theme is built in")
}

/// `config check`'s last line when it found problems: what the console would do about them. The
/// keymap, theme and agent rules fall back to the defaults for what was wrong; contexts.toml
/// fails closed (read-only), which must not read as "defaults".
pub fn check_summary(problems: &[ConfigError], contexts: &ContextSettings) -> String {
    let from_contexts = |p: &&ConfigError| Path::new(&p.file).ends_with(CONTEXTS_FILE);
    let mut consequences = Vec::new();
    if problems.iter().any(|p| !from_contexts(&p)) {
        consequences.push("the defaults stand in for the other entries named above".to_string());
    }
    consequences.extend(contexts.consequence());
    if consequences.is_empty() && problems.iter().any(|p| from_contexts(&p)) {
        consequences.push(format!(
            "the entries of {CONTEXTS_FILE} named above are ignored"
        ));
    }
    format!(
        "{} problem(s) found. The console would still start: {}",
        problems.len(),
        consequences.join("; ")
    )
}

/// `NO_COLOR` set to anything non-empty turns colour off.
pub fn no_colour_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_clean() {
        let (_, keymap_errors) = Keymap::load(&default_keymap_source(), None);
        let (_, theme_errors) = Theme::load(&default_theme_source(), None);
        assert!(keymap_errors.is_empty(), "{keymap_errors:?}");
        assert!(theme_errors.is_empty(), "{theme_errors:?}");
    }

    #[test]
    fn every_action_has_a_default_key() {
        let (keymap, _) = Keymap::load(&default_keymap_source(), None);
        let bound: Vec<_> = crate::config::action::KeyContext::ALL
            .iter()
            .flat_map(|c| keymap.bindings(*c))
            .map(|(action, _)| action)
            .collect();
        for action in crate::config::action::Action::ALL {
            assert!(
                bound.contains(action),
                "no default key for {}",
                action.name()
            );
        }
    }

    #[test]
    fn user_files_in_dir_are_merged_and_broken_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEYMAP_FILE), "[global]\nZ = \"quit\"\n").unwrap();
        std::fs::write(dir.path().join(THEME_FILE), "[tokens\nok = 1\n").unwrap();
        let (config, warnings) = Config::load(Some(dir.path()), false);
        let z = keys::KeyPress::parse("Z").unwrap();
        assert_eq!(
            config
                .keymap
                .resolve(crate::config::action::KeyContext::Tree, &[z]),
            Resolution::Action(crate::config::action::Action::Quit)
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].file.ends_with(THEME_FILE));
        assert_eq!(warnings[0].line, Some(1));
        let (default_theme, _) = Theme::load(&default_theme_source(), None);
        assert_eq!(config.theme, default_theme);
    }

    #[test]
    fn user_files_pick_their_base_keymap_and_parent_theme() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(KEYMAP_FILE),
            "base = \"emacs\"\n[tree]\n\"j\" = \"down\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(THEME_FILE),
            "parent = \"light\"\n[tokens]\nok = \"blue\"\n",
        )
        .unwrap();
        let (config, warnings) = Config::load(Some(dir.path()), false);
        assert!(warnings.is_empty(), "{warnings:?}");
        let (emacs, _) = Keymap::builtin("emacs").unwrap();
        let tree = crate::config::action::KeyContext::Tree;
        let press = |text: &str| keys::Chord::parse(text).unwrap();
        assert_eq!(
            config.keymap.resolve(tree, press("ctrl-n").presses()),
            emacs.resolve(tree, press("ctrl-n").presses())
        );
        assert_eq!(
            config.keymap.resolve(tree, press("j").presses()),
            Resolution::Action(crate::config::action::Action::Down)
        );
        let (light, _) = Theme::builtin("light").unwrap();
        assert_eq!(
            config.theme.style(Token::Ok).fg,
            Some(ratatui::style::Color::Blue)
        );
        assert_eq!(config.theme.style(Token::Text), light.style(Token::Text));

        let (plain, _) = Config::load(Some(dir.path()), true);
        assert_eq!(plain.theme.style(Token::Ok).fg, None);
    }

    #[test]
    fn defaults_are_the_dark_theme_and_the_default_keymap() {
        let (config, _) = Config::load(None, false);
        assert_eq!(config.theme, Theme::builtin("dark").unwrap().0);
        assert_eq!(config.keymap, Keymap::builtin("default").unwrap().0);
        assert_eq!(builtin_theme_names()[0], theme::DEFAULT_THEME_NAME);
        assert_eq!(builtin_keymap_names()[0], keymap::DEFAULT_BASE);
    }

    /// A contexts.toml that cannot be parsed makes every context read-only: the summary and the
    /// warning say so rather than "defaults".
    #[test]
    fn the_check_summary_says_what_happens_for_each_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONTEXTS_FILE),
            "[contexts.prod\nread_only = true\n",
        )
        .unwrap();
        let (contexts, problems) = load_contexts(Some(dir.path()));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .ends_with("; every context is read-only until this is fixed"),
            "{}",
            problems[0]
        );
        assert!(contexts.read_only("any").is_some());
        assert_eq!(
            check_summary(&problems, &contexts),
            "1 problem(s) found. The console would still start: contexts.toml cannot be used, so \
             every context is read-only until this is fixed (fail-closed)"
        );

        std::fs::write(
            dir.path().join(CONTEXTS_FILE),
            "[contexts.prod]\nread_only = \"yes\"\n[contexts.dev]\ncolour = 1\n",
        )
        .unwrap();
        std::fs::write(dir.path().join(KEYMAP_FILE), "[tree]\nx = \"explode\"\n").unwrap();
        let (_, mut problems) = Config::load(Some(dir.path()), false);
        let (contexts, context_problems) = load_contexts(Some(dir.path()));
        problems.extend(context_problems);
        assert_eq!(
            check_summary(&problems, &contexts),
            "3 problem(s) found. The console would still start: the defaults stand in for the \
             other entries named above; contexts.toml: context(s) prod count as read-only while \
             their entry is broken"
        );
        std::fs::write(
            dir.path().join(CONTEXTS_FILE),
            "[contexts.dev]\ncolour = 1\n",
        )
        .unwrap();
        let (contexts, problems) = load_contexts(Some(dir.path()));
        assert_eq!(
            check_summary(&problems, &contexts),
            "1 problem(s) found. The console would still start: the entries of contexts.toml named \
             above are ignored"
        );
    }

    #[test]
    fn themes_switch_by_name_at_runtime() {
        let (mut config, _) = Config::load(None, false);
        config.switch_theme("high-contrast", false).unwrap();
        assert_eq!(config.theme, Theme::builtin("high-contrast").unwrap().0);
        let err = config.switch_theme("sepia", false).unwrap_err();
        assert!(
            err.contains("dark, light, high-contrast, colour-blind"),
            "{err}"
        );
        assert_eq!(config.theme, Theme::builtin("high-contrast").unwrap().0);
        config.switch_theme("light", true).unwrap();
        assert_eq!(config.theme.style(Token::Text).fg, None);
    }
}
