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

use super::action::{Action, KeyContext};
use super::keys::{Chord, KeyPress};
use super::source::{ConfigError, SourceFile};

/// The word that removes a default binding.
const UNBIND: &str = "none";

/// The key that quits from every context, whatever the user's file says: the way out that
/// always works (the rollback screen's typing lets it through, input lines close on it).
pub const WAY_OUT: &str = "ctrl-c";

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
        if let Some((source, layer)) = user_layer {
            for binding in layer.bindings {
                let (span, name, chord) = (
                    binding.span.clone(),
                    binding.name.clone(),
                    binding.chord.clone(),
                );
                let before = keymap.clone();
                keymap.apply(vec![binding]);
                if let Some(context) = keymap.way_out_lost_since(&before) {
                    keymap = before;
                    user_errors.push(source.error(
                        Some(span),
                        Some(&name),
                        format!(
                            "`{WAY_OUT}` must quit in every context, the way out that always \
                             works; `{chord}` here would take it away in [{}], so this entry \
                             is skipped and `{WAY_OUT}` stays `quit`",
                            context.name()
                        ),
                    ));
                }
            }
        }
        user_errors.sort_by_key(|e| e.line);
        errors.extend(user_errors);
        (keymap, errors)
    }

    /// A context where `ctrl-c` quitted with `before` and no longer does with `self`.
    fn way_out_lost_since(&self, before: &Keymap) -> Option<KeyContext> {
        let way_out = Chord::parse(WAY_OUT).expect("ctrl-c is a key");
        let quits = |keymap: &Keymap, context| {
            keymap.resolve(context, way_out.presses()) == Resolution::Action(Action::Quit)
        };
        KeyContext::ALL
            .into_iter()
            .find(|c| quits(before, *c) && !quits(self, *c))
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
