//! Keymaps are data: TOML tables per context mapping keys (or chords of keys) to action names.
//!
//! ```toml
//! base = "default"   # the built-in keymap this file is layered over (user files only)
//! [global]
//! "q" = "quit"
//! [tree]
//! "j" = "down"
//! "g g" = "top"      # a chord: g, then g
//! "x" = "none"       # unbinds a default
//! ```
//!
//! Chord rule: within one context a key sequence is either a binding or the start of longer
//! chords, never both. Inside one file such a conflict is a located error (the later entry is
//! skipped); a later layer (your file) replaces the conflicting bindings of the layer below, so
//! `"g" = "top"` in your file removes the built-in `"g g"` of that context.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::keys::{Chord, KeyPress};
use super::source::{ConfigError, SourceFile};
use crate::app::action::{Action, KeyContext};

/// The word that removes a default binding.
const UNBIND: &str = "none";

/// The built-in keymap a user file is layered over when it names no `base`.
pub const DEFAULT_BASE: &str = "default";

const BUILTIN_NAMES: &[&str] = &["default", "emacs"];

/// The names `base = "..."` accepts, default first.
pub fn builtin_keymap_names() -> &'static [&'static str] {
    BUILTIN_NAMES
}

/// An embedded keymap by name, named `<built-in keymaps/NAME.toml>` in messages.
pub fn builtin_keymap_source(name: &str) -> Option<SourceFile> {
    let text = match name {
        "default" => super::DEFAULT_KEYMAP,
        "emacs" => include_str!("../../keymaps/emacs.toml"),
        _ => return None,
    };
    Some(SourceFile::new(
        format!("<built-in keymaps/{name}.toml>"),
        text,
    ))
}

/// Resolved bindings: infallible to use once built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keymap {
    bindings: BTreeMap<KeyContext, BTreeMap<Chord, Action>>,
}

/// What the keys pressed so far mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A complete binding: perform it and forget the keys.
    Action(Action),
    /// The keys start a longer chord: keep them and wait for the next key.
    Pending,
    /// Nothing starts with these keys: forget them.
    Unbound,
}

/// One parsed line of a keymap file; `action: None` unbinds.
struct Binding {
    context: KeyContext,
    chord: Chord,
    action: Option<Action>,
    /// The key's position in its file, for ordering and messages.
    span: Range<usize>,
    name: String,
}

/// One parsed keymap file.
struct Layer {
    /// `base = "NAME"` and where it was written.
    base: Option<(String, Range<usize>)>,
    bindings: Vec<Binding>,
    errors: Vec<ConfigError>,
}

impl Keymap {
    /// What the keys pressed so far (`pending`, oldest first, the new key last) mean in a context.
    /// The context is searched first, for a binding or the start of a chord; then `[global]`.
    pub fn resolve(&self, context: KeyContext, pending: &[KeyPress]) -> Resolution {
        if pending.is_empty() {
            return Resolution::Unbound;
        }
        let chord = Chord::from_presses(pending);
        for c in [context, KeyContext::Global] {
            let Some(map) = self.bindings.get(&c) else {
                continue;
            };
            if let Some(action) = map.get(&chord) {
                return Resolution::Action(*action);
            }
            if map.keys().any(|bound| chord.is_strict_prefix_of(bound)) {
                return Resolution::Pending;
            }
        }
        Resolution::Unbound
    }

    /// Every binding of a context, grouped by action (for help and hints).
    pub fn bindings(&self, context: KeyContext) -> Vec<(Action, Vec<Chord>)> {
        let mut by_action: BTreeMap<Action, Vec<Chord>> = BTreeMap::new();
        for (chord, action) in self.bindings.get(&context).into_iter().flatten() {
            by_action.entry(*action).or_default().push(chord.clone());
        }
        by_action.into_iter().collect()
    }

    /// The keys bound to an action in a context (or globally): single plain keys first, then
    /// plain chords, then keys with ctrl/alt. The first one is what a hint bar shows.
    pub fn keys_for(&self, context: KeyContext, action: Action) -> Vec<Chord> {
        let mut keys: Vec<Chord> = [context, KeyContext::Global]
            .iter()
            .filter_map(|c| self.bindings.get(c))
            .flat_map(|map| {
                map.iter()
                    .filter(|(_, a)| **a == action)
                    .map(|(k, _)| k.clone())
            })
            .collect();
        keys.sort_by_key(|k| (k.has_modifier(), k.len()));
        keys
    }

    /// A built-in keymap by name (see [`builtin_keymap_names`]).
    pub fn builtin(name: &str) -> Option<(Keymap, Vec<ConfigError>)> {
        builtin_keymap_source(name).map(|source| Keymap::load(&source, None))
    }

    /// Builds the keymap: the user file layered over the built-in keymap its `base` names, or over
    /// `defaults` when it names none. Bad user entries are skipped and reported; a user file with
    /// a syntax error is ignored whole. (`base` is only read from the user file.)
    pub fn load(defaults: &SourceFile, user: Option<&SourceFile>) -> (Keymap, Vec<ConfigError>) {
        let mut user_errors = Vec::new();
        let user_layer = user.and_then(|source| match parse_layer(source) {
            Ok(mut layer) => {
                user_errors.append(&mut layer.errors);
                Some((source, layer))
            }
            Err(err) => {
                user_errors.push(err);
                None
            }
        });
        let mut base = defaults.clone();
        if let Some((
            source,
            Layer {
                base: Some((name, span)),
                ..
            },
        )) = &user_layer
        {
            match builtin_keymap_source(name) {
                Some(named) => base = named,
                None => user_errors.push(source.error(
                    Some(span.clone()),
                    Some("base"),
                    format!(
                        "unknown base keymap `{name}`; built-in keymaps: {} (the defaults apply)",
                        BUILTIN_NAMES.join(", ")
                    ),
                )),
            }
        }

        let mut keymap = Keymap::default();
        let mut errors = Vec::new();
        match parse_layer(&base) {
            Ok(layer) => {
                keymap.apply(layer.bindings);
                errors.extend(layer.errors);
            }
            Err(err) => errors.push(err),
        }
        if let Some((_, layer)) = user_layer {
            keymap.apply(layer.bindings);
        }
        user_errors.sort_by_key(|e| e.line);
        errors.extend(user_errors);
        (keymap, errors)
    }

    /// Applies a layer over what is there: a binding replaces the same chord and removes the
    /// bindings it conflicts with (its prefixes and its extensions) in that context.
    fn apply(&mut self, bindings: Vec<Binding>) {
        for binding in bindings {
            let context = self.bindings.entry(binding.context).or_default();
            match binding.action {
                Some(action) => {
                    context.retain(|bound, _| {
                        !bound.is_strict_prefix_of(&binding.chord)
                            && !binding.chord.is_strict_prefix_of(bound)
                    });
                    context.insert(binding.chord, action);
                }
                None => {
                    context.remove(&binding.chord);
                }
            }
        }
    }

    /// The keymap as a TOML file, in the same format it is read from.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (context, map) in &self.bindings {
            out.push_str(&format!("[{}]\n", context.name()));
            for (chord, action) in map {
                out.push_str(&format!(
                    "{:<16} = \"{}\"\n",
                    format!("\"{chord}\""),
                    action.name()
                ));
            }
            out.push('\n');
        }
        out
    }
}

fn parse_layer(source: &SourceFile) -> Result<Layer, ConfigError> {
    let table = DeTable::parse(&source.text).map_err(|e| source.syntax_error(&e))?;
    let mut base = None;
    let mut bindings = Vec::new();
    let mut errors = Vec::new();
    for (context_name, value) in table.get_ref().iter() {
        if context_name.get_ref() == "base" {
            match value.get_ref() {
                DeValue::String(name) => base = Some((name.to_string(), context_name.span())),
                _ => errors.push(source.error(
                    Some(context_name.span()),
                    Some("base"),
                    format!(
                        "expected a built-in keymap name in quotes: {}",
                        BUILTIN_NAMES.join(", ")
                    ),
                )),
            }
            continue;
        }
        let Some(context) = KeyContext::from_name(context_name.get_ref()) else {
            let known: Vec<_> = KeyContext::ALL.iter().map(|c| c.name()).collect();
            errors.push(source.error(
                Some(context_name.span()),
                Some(context_name.get_ref()),
                format!(
                    "unknown context; expected `base` or one of {}",
                    known.join(", ")
                ),
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
            if key_text.get_ref() == "base" {
                errors.push(located(
                    "`base` must come before the first [table], at the top of the file".into(),
                ));
                continue;
            }
            let chord = match Chord::parse(key_text.get_ref()) {
                Ok(chord) => chord,
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
                chord,
                action,
                span: key_text.span(),
                name: key_name,
            });
        }
    }
    // Tables iterate by key name; conflicts are judged, and later entries win, in file order.
    bindings.sort_by_key(|b| b.span.start);
    let mut accepted: Vec<Binding> = Vec::with_capacity(bindings.len());
    for binding in bindings {
        let conflict = accepted.iter().find(|earlier| {
            earlier.context == binding.context
                && earlier.action.is_some()
                && binding.action.is_some()
                && (earlier.chord.is_strict_prefix_of(&binding.chord)
                    || binding.chord.is_strict_prefix_of(&earlier.chord))
        });
        if let Some(earlier) = conflict {
            let (short, long) = if earlier.chord.len() < binding.chord.len() {
                (&earlier.chord, &binding.chord)
            } else {
                (&binding.chord, &earlier.chord)
            };
            errors.push(source.error(
                Some(binding.span.clone()),
                Some(&binding.name),
                format!(
                    "`{short}` is bound and also starts the chord `{long}` (`{}`, line {}); \
                     a key sequence cannot be both, so this entry is skipped",
                    earlier.name,
                    source.line_of(earlier.span.start)
                ),
            ));
            continue;
        }
        accepted.push(binding);
    }
    errors.sort_by_key(|e| e.line);
    Ok(Layer {
        base,
        bindings: accepted,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> SourceFile {
        SourceFile::new(
            "defaults",
            "[global]\nq = \"quit\"\n\"?\" = \"help\"\n[tree]\nj = \"down\"\nk = \"up\"\n\"g g\" = \"top\"\n",
        )
    }

    /// What a sequence of keys written as a chord (`g g`) resolves to.
    fn resolve(keymap: &Keymap, context: KeyContext, keys: &str) -> Resolution {
        let chord = Chord::parse(keys).unwrap();
        keymap.resolve(context, chord.presses())
    }

    fn act(action: Action) -> Resolution {
        Resolution::Action(action)
    }

    #[test]
    fn context_binding_then_global_fallback() {
        let (keymap, errors) = Keymap::load(&defaults(), None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(resolve(&keymap, KeyContext::Tree, "j"), act(Action::Down));
        assert_eq!(resolve(&keymap, KeyContext::Tree, "q"), act(Action::Quit));
        assert_eq!(resolve(&keymap, KeyContext::Help, "j"), Resolution::Unbound);
    }

    #[test]
    fn chords_wait_on_a_prefix_and_act_when_complete() {
        let (keymap, _) = Keymap::load(&defaults(), None);
        assert_eq!(resolve(&keymap, KeyContext::Tree, "g"), Resolution::Pending);
        assert_eq!(resolve(&keymap, KeyContext::Tree, "g g"), act(Action::Top));
        assert_eq!(
            resolve(&keymap, KeyContext::Tree, "g j"),
            Resolution::Unbound
        );
        assert_eq!(resolve(&keymap, KeyContext::Tree, "x"), Resolution::Unbound);
        assert_eq!(keymap.resolve(KeyContext::Tree, &[]), Resolution::Unbound);
        // The chord belongs to [tree]; elsewhere `g` means nothing.
        assert_eq!(
            resolve(&keymap, KeyContext::Detail, "g"),
            Resolution::Unbound
        );
        let keys: Vec<String> = keymap
            .keys_for(KeyContext::Tree, Action::Top)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(keys, ["g g"]);
    }

    #[test]
    fn a_context_chord_shadows_a_global_key_that_starts_it() {
        let defaults = SourceFile::new(
            "defaults",
            "[global]\ng = \"help\"\n[tree]\n\"g g\" = \"top\"\n",
        );
        let (keymap, errors) = Keymap::load(&defaults, None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(resolve(&keymap, KeyContext::Tree, "g"), Resolution::Pending);
        assert_eq!(resolve(&keymap, KeyContext::Detail, "g"), act(Action::Help));
    }

    #[test]
    fn a_key_that_is_bound_and_starts_a_chord_in_one_file_is_a_located_error() {
        let user = SourceFile::new(
            "user.toml",
            "[tree]\n\"space e\" = \"expand-all\"\n\"space\" = \"toggle\"\n\"z z\" = \"top\"\n\"z z z\" = \"bottom\"\n",
        );
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), 2, "{rendered:?}");
        assert!(
            rendered[0].starts_with(
                "user.toml:3: `tree.space`: `space` is bound and also starts the chord `space e`"
            ),
            "{}",
            rendered[0]
        );
        assert!(
            rendered[1].starts_with("user.toml:5: `tree.z z z`: `z z` is bound"),
            "{}",
            rendered[1]
        );
        // The earlier entry stands.
        assert_eq!(
            resolve(&keymap, KeyContext::Tree, "space"),
            Resolution::Pending
        );
        assert_eq!(
            resolve(&keymap, KeyContext::Tree, "space e"),
            act(Action::ExpandAll)
        );
        assert_eq!(resolve(&keymap, KeyContext::Tree, "z z"), act(Action::Top));
    }

    #[test]
    fn a_user_key_replaces_the_chords_it_conflicts_with() {
        let user = SourceFile::new("user.toml", "[tree]\ng = \"bottom\"\n\"j j\" = \"top\"\n");
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(resolve(&keymap, KeyContext::Tree, "g"), act(Action::Bottom));
        assert_eq!(resolve(&keymap, KeyContext::Tree, "j"), Resolution::Pending);
        assert_eq!(resolve(&keymap, KeyContext::Tree, "j j"), act(Action::Top));
        assert!(keymap.keys_for(KeyContext::Tree, Action::Down).is_empty());
    }

    #[test]
    fn bad_chords_are_located() {
        let user = SourceFile::new(
            "user.toml",
            "[tree]\nj = \"top\"\n\"g hyper-x\" = \"down\"\n",
        );
        let (_, errors) = Keymap::load(&defaults(), Some(&user));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .to_string()
                .starts_with("user.toml:3: `tree.g hyper-x`: unknown modifier `hyper`"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn user_file_overrides_single_keys_and_unbinds() {
        let user = SourceFile::new(
            "user.toml",
            "[tree]\nj = \"top\"\nk = \"none\"\nn = \"down\"\n\"g g\" = \"none\"\n",
        );
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(resolve(&keymap, KeyContext::Tree, "j"), act(Action::Top));
        assert_eq!(resolve(&keymap, KeyContext::Tree, "k"), Resolution::Unbound);
        assert_eq!(resolve(&keymap, KeyContext::Tree, "n"), act(Action::Down));
        assert_eq!(resolve(&keymap, KeyContext::Tree, "g"), Resolution::Unbound);
        // Untouched defaults survive.
        assert_eq!(resolve(&keymap, KeyContext::Tree, "q"), act(Action::Quit));
    }

    #[test]
    fn user_file_picks_the_emacs_base_and_overrides_it() {
        let user = SourceFile::new(
            "user.toml",
            "base = \"emacs\"\n[tree]\n\"ctrl-n\" = \"bottom\"\n\"j\" = \"down\"\n",
        );
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            resolve(&keymap, KeyContext::Tree, "ctrl-n"),
            act(Action::Bottom)
        );
        assert_eq!(resolve(&keymap, KeyContext::Tree, "j"), act(Action::Down));
        assert_eq!(
            resolve(&keymap, KeyContext::Tree, "ctrl-p"),
            act(Action::Up)
        );
        assert_eq!(
            resolve(&keymap, KeyContext::Tree, "ctrl-x"),
            Resolution::Pending
        );
        assert_eq!(
            resolve(&keymap, KeyContext::Tree, "ctrl-x ctrl-c"),
            act(Action::Quit)
        );
        // Nothing of `defaults` is left: the base replaced it.
        assert_eq!(resolve(&keymap, KeyContext::Tree, "k"), Resolution::Unbound);
    }

    #[test]
    fn unknown_base_is_located_and_the_defaults_apply() {
        let user = SourceFile::new(
            "user.toml",
            "# mine\n\nbase = \"vi\"\n[tree]\nn = \"down\"\n",
        );
        let (keymap, errors) = Keymap::load(&defaults(), Some(&user));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].to_string().starts_with(
                "user.toml:3: `base`: unknown base keymap `vi`; built-in keymaps: default, emacs"
            ),
            "{}",
            errors[0]
        );
        assert_eq!(resolve(&keymap, KeyContext::Tree, "j"), act(Action::Down));
        assert_eq!(resolve(&keymap, KeyContext::Tree, "n"), act(Action::Down));
        let user = SourceFile::new("user.toml", "base = 3\n");
        let (_, errors) = Keymap::load(&defaults(), Some(&user));
        assert_eq!(errors[0].line, Some(1), "{errors:?}");
        // `base` below a table header belongs to that table: say so.
        let user = SourceFile::new("user.toml", "[tree]\nbase = \"emacs\"\n");
        let (_, errors) = Keymap::load(&defaults(), Some(&user));
        assert!(
            errors[0]
                .to_string()
                .starts_with("user.toml:2: `tree.base`: `base` must come before the first [table]"),
            "{errors:?}"
        );
    }

    #[test]
    fn every_builtin_keymap_is_clean_and_binds_every_action() {
        assert_eq!(builtin_keymap_names()[0], DEFAULT_BASE);
        for name in builtin_keymap_names() {
            let (keymap, errors) = Keymap::builtin(name).expect("listed keymaps exist");
            assert!(errors.is_empty(), "{name}: {errors:?}");
            let bound: Vec<Action> = KeyContext::ALL
                .iter()
                .flat_map(|c| keymap.bindings(*c))
                .map(|(action, _)| action)
                .collect();
            for action in Action::ALL {
                assert!(
                    bound.contains(action),
                    "{name}: no key for {}",
                    action.name()
                );
            }
            // Every context can be left and every context can quit or go back.
            for context in KeyContext::ALL {
                assert!(
                    !keymap.keys_for(context, Action::Back).is_empty(),
                    "{name}: no back key in {}",
                    context.name()
                );
            }
        }
        assert!(Keymap::builtin("vi").is_none());
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
        assert_eq!(resolve(&keymap, KeyContext::Tree, "j"), act(Action::Top));
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
    fn printed_keymaps_read_back_identically() {
        let (keymap, _) = Keymap::load(&defaults(), None);
        let mut keymaps = vec![keymap];
        for name in builtin_keymap_names() {
            keymaps.push(Keymap::builtin(name).unwrap().0);
        }
        for keymap in keymaps {
            let printed = SourceFile::new("printed", keymap.to_toml());
            let (reread, errors) = Keymap::load(&printed, None);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(reread, keymap);
        }
    }
}
