//! Themes and keymaps: defaults embedded from `themes/` and `keymaps/`, user files from the XDG
//! config dir merged over them, resolved into infallible `Theme`/`Keymap` plus warnings.

pub mod keymap;
pub mod keys;
pub mod source;
pub mod theme;
pub mod themes;

use std::path::{Path, PathBuf};

pub use keymap::Keymap;
pub use source::{ConfigError, SourceFile};
pub use theme::{Theme, Token};

pub const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");
pub const DEFAULT_THEME: &str = include_str!("../../themes/default.toml");

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
    /// Loads defaults plus the user files in `dir` (if any). Never fails: problems come back as
    /// warnings, and the defaults stand in for whatever could not be read.
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

pub fn default_keymap_source() -> SourceFile {
    SourceFile::new("<built-in keymaps/default.toml>", DEFAULT_KEYMAP)
}

pub fn default_theme_source() -> SourceFile {
    SourceFile::new("<built-in themes/default.toml>", DEFAULT_THEME)
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
        let bound: Vec<_> = crate::app::action::KeyContext::ALL
            .iter()
            .flat_map(|c| keymap.bindings(*c))
            .map(|(action, _)| action)
            .collect();
        for action in crate::app::action::Action::ALL {
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
                .resolve(crate::app::action::KeyContext::Tree, z),
            Some(crate::app::action::Action::Quit)
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].file.ends_with(THEME_FILE));
        assert_eq!(warnings[0].line, Some(1));
        let (default_theme, _) = Theme::load(&default_theme_source(), None);
        assert_eq!(config.theme, default_theme);
    }
}
