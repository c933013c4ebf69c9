//! Tests of `keymap.rs`.

use super::action::{Action, KeyContext};
use super::keymap::*;
use super::keys::Chord;
use super::source::SourceFile;

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

/// `ctrl-c` quits in every context of every built-in keymap, and no user entry can take that
/// away: not unbinding it, not rebinding it, not a context binding or chord that shadows it. The
/// entry is skipped with a located error; the rest of the file applies.
#[test]
fn ctrl_c_always_quits_and_a_user_file_cannot_remove_the_way_out() {
    for name in builtin_keymap_names() {
        let (keymap, _) = Keymap::builtin(name).unwrap();
        for context in KeyContext::ALL {
            assert_eq!(
                resolve(&keymap, context, "ctrl-c"),
                act(Action::Quit),
                "{name} [{}]",
                context.name()
            );
        }
    }
    let user = SourceFile::new(
        "keymap.toml",
        "[global]\n\"ctrl-c\" = \"none\"\n\"q\" = \"none\"\n\"Z\" = \"quit\"\n\
         \"ctrl-c ctrl-c\" = \"quit\"\n[tree]\n\"ctrl-c\" = \"down\"\n[help]\n\"ctrl-c x\" = \"top\"\n",
    );
    let (keymap, errors) = Keymap::load(&crate::config::default_keymap_source(), Some(&user));
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 4, "{shown:#?}");
    assert!(
        shown[0].starts_with("keymap.toml:2: `global.ctrl-c`: `ctrl-c` must quit in every context")
            && shown[0].ends_with(
                "would take it away in [global], so this entry is skipped and `ctrl-c` stays `quit`"
            ),
        "{shown:#?}"
    );
    assert!(shown[1].starts_with("keymap.toml:5: `global.ctrl-c ctrl-c`"));
    assert!(shown[2].starts_with("keymap.toml:7: `tree.ctrl-c`") && shown[2].contains("in [tree]"));
    assert!(
        shown[3].starts_with("keymap.toml:9: `help.ctrl-c x`") && shown[3].contains("in [help]")
    );
    for context in KeyContext::ALL {
        assert_eq!(resolve(&keymap, context, "ctrl-c"), act(Action::Quit));
        assert_eq!(resolve(&keymap, context, "Z"), act(Action::Quit));
    }
    // The entries that leave the way out alone still apply.
    assert_eq!(resolve(&keymap, KeyContext::Tree, "q"), Resolution::Unbound);
}
