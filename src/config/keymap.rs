//! Keymaps are data: TOML tables per context mapping keys to action names.
//!
//! ```toml
//! [global]
//! "q" = "quit"
//! [tree]
//! "j" = "down"
//! "x" = "none"   # unbinds a default
//! ```

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::keys::KeyPress;
use super::source::{ConfigError, SourceFile};
use crate::app::action::{Action, KeyContext};

/// The word that removes a default binding.
const UNBIND: &str = "none";

/// Resolved bindings: infallible to use once built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keymap {
    bindings: BTreeMap<KeyContext, BTreeMap<KeyPress, Action>>,
}

/// One parsed line of a keymap file; `action: None` unbinds.
struct Binding {
    context: KeyContext,
    key: KeyPress,
    action: Option<Action>,
}

impl Keymap {
    /// The action a key triggers in a context, falling back to the global bindings.
    pub fn resolve(&self, context: KeyContext, key: KeyPress) -> Option<Action> {
        [context, KeyContext::Global]
            .iter()
            .find_map(|c| self.bindings.get(c)?.get(&key).copied())
    }

    /// Every binding of a context, grouped by action in declaration order (for help and hints).
    pub fn bindings(&self, context: KeyContext) -> Vec<(Action, Vec<KeyPress>)> {
        let mut by_action: BTreeMap<Action, Vec<KeyPress>> = BTreeMap::new();
        for (key, action) in self.bindings.get(&context).into_iter().flatten() {
            by_action.entry(*action).or_default().push(*key);
        }
        by_action.into_iter().collect()
    }

    /// The keys bound to an action in a context (or globally), plain keys first: the first one
    /// is what a hint bar shows.
    pub fn keys_for(&self, context: KeyContext, action: Action) -> Vec<KeyPress> {
        let mut keys: Vec<KeyPress> = [context, KeyContext::Global]
            .iter()
            .filter_map(|c| self.bindings.get(c))
            .flat_map(|map| map.iter().filter(|(_, a)| **a == action).map(|(k, _)| *k))
            .collect();
        keys.sort_by_key(|k| k.ctrl || k.alt);
        keys
    }

    /// Builds the keymap from the embedded defaults with an optional user file layered over.
    /// Bad user entries are skipped and reported; a user file with a syntax error is ignored whole.
    pub fn load(defaults: &SourceFile, user: Option<&SourceFile>) -> (Keymap, Vec<ConfigError>) {
        let mut keymap = Keymap::default();
        let mut errors = Vec::new();
        for source in std::iter::once(defaults).chain(user) {
            match parse_layer(source) {
                Ok((bindings, layer_errors)) => {
                    keymap.apply(bindings);
                    errors.extend(layer_errors);
                }
                Err(err) => errors.push(err),
            }
        }
        (keymap, errors)
    }

    fn apply(&mut self, bindings: Vec<Binding>) {
        for binding in bindings {
            let context = self.bindings.entry(binding.context).or_default();
            match binding.action {
                Some(action) => context.insert(binding.key, action),
                None => context.remove(&binding.key),
            };
        }
    }

    /// The keymap as a TOML file, in the same format it is read from.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (context, map) in &self.bindings {
            out.push_str(&format!("[{}]\n", context.name()));
            for (key, action) in map {
                out.push_str(&format!(
                    "{:<14} = \"{}\"\n",
                    format!("\"{key}\""),
                    action.name()
                ));
            }
            out.push('\n');
        }
        out
    }
}

fn parse_layer(source: &SourceFile) -> Result<(Vec<Binding>, Vec<ConfigError>), ConfigError> {
    let table = DeTable::parse(&source.text).map_err(|e| source.syntax_error(&e))?;
    let mut bindings = Vec::new();
    let mut errors = Vec::new();
    for (context_name, value) in table.get_ref().iter() {
        let Some(context) = KeyContext::from_name(context_name.get_ref()) else {
            let known: Vec<_> = KeyContext::ALL.iter().map(|c| c.name()).collect();
            errors.push(source.error(
                Some(context_name.span()),
                Some(context_name.get_ref()),
                format!("unknown context; expected one of {}", known.join(", ")),
            ));
            continue;
        };
        let DeValue::Table(entries) = value.get_ref() else {
            errors.push(source.error(
                Some(value.span()),
                Some(context_name.get_ref()),
                "expected a table of key = \"action\" entries",
            ));
            continue;
        };
        for (key_text, action_value) in entries.iter() {
            let key_name = format!("{}.{}", context_name.get_ref(), key_text.get_ref());
            let located =
                |message: String| source.error(Some(key_text.span()), Some(&key_name), message);
            let key = match KeyPress::parse(key_text.get_ref()) {
                Ok(key) => key,
                Err(message) => {
                    errors.push(located(message));
                    continue;
                }
            };
            let DeValue::String(action_name) = action_value.get_ref() else {
                errors.push(located("expected an action name in quotes".into()));
                continue;
            };
            let action = if action_name.as_ref() == UNBIND {
                None
            } else if let Some(action) = Action::from_name(action_name) {
                Some(action)
            } else {
                errors.push(located(format!(
                    "unknown action `{action_name}`; see `palisade config print-default` for the list"
                )));
                continue;
            };
            bindings.push(Binding {
                context,
                key,
                action,
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    Ok((bindings, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> SourceFile {
        SourceFile::new(
            "defaults",
            "[global]\nq = \"quit\"\n\"?\" = \"help\"\n[tree]\nj = \"down\"\nk = \"up\"\n",
        )
    }

    fn key(text: &str) -> KeyPress {
        KeyPress::parse(text).unwrap()
    }

    #[test]
    fn context_binding_then_global_fallback() {
        let (keymap, errors) = Keymap::load(&defaults(), None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            keymap.resolve(KeyContext::Tree, key("j")),
            Some(Action::Down)
        );
        assert_eq!(
            keymap.resolve(KeyContext::Tree, key("q")),
            Some(Action::Quit)
        );
        assert_eq!(keymap.resolve(KeyContext::Help, key("j")), None);
    }

    #[test]
    fn user_file_overrides_single_keys_and_unbinds() {
        let user = SourceFile::new(
            "user.toml",
            "[tree]\nj = \"top\"\nk = \"none\"\nn = \"down\"\n",
        );
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            keymap.resolve(KeyContext::Tree, key("j")),
            Some(Action::Top)
        );
        assert_eq!(keymap.resolve(KeyContext::Tree, key("k")), None);
        assert_eq!(
            keymap.resolve(KeyContext::Tree, key("n")),
            Some(Action::Down)
        );
        // Untouched defaults survive.
        assert_eq!(
            keymap.resolve(KeyContext::Tree, key("q")),
            Some(Action::Quit)
        );
    }

    #[test]
    fn bad_entries_name_file_line_and_key_and_the_rest_still_applies() {
        let user = SourceFile::new(
            "user.toml",
            "[tree]\nj = \"top\"\nx = \"launch-missiles\"\nhyper-y = \"down\"\n[nowhere]\na = \"up\"\n",
        );
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), 3, "{rendered:?}");
        assert!(
            rendered[0].starts_with("user.toml:3: `tree.x`: unknown action `launch-missiles`"),
            "{}",
            rendered[0]
        );
        assert!(
            rendered[1].starts_with("user.toml:4: `tree.hyper-y`: unknown modifier"),
            "{}",
            rendered[1]
        );
        assert!(
            rendered[2].starts_with("user.toml:5: `nowhere`: unknown context"),
            "{}",
            rendered[2]
        );
        assert_eq!(
            keymap.resolve(KeyContext::Tree, key("j")),
            Some(Action::Top)
        );
    }

    #[test]
    fn syntax_error_keeps_defaults_and_names_the_line() {
        let user = SourceFile::new("user.toml", "[tree]\nj = \"top\"\nk = = broken\n");
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(3), "{}", errors[0]);
        assert_eq!(keymap, Keymap::load(&defaults(), None).0);
    }

    #[test]
    fn printed_keymap_reads_back_identically() {
        let (keymap, _) = Keymap::load(&defaults(), None);
        let printed = SourceFile::new("printed", keymap.to_toml());
        let (reread, errors) = Keymap::load(&printed, None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(reread, keymap);
    }
}
