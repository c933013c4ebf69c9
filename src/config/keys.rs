//! Key presses as keymap files spell them: `q`, `G`, `ctrl-c`, `shift-tab`, `enter`, `pagedown`,
//! and chords of several presses separated by spaces: `g g`, `space e`, `ctrl-x ctrl-c`.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A normalised key press: shift is folded into the character for printable keys, so `G` and
/// `shift-g` are the same press.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPress {
    pub code: KeyCodeName,
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
}

/// The key codes a keymap can name. A separate type keeps crossterm's wide enum at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeName {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    F(u8),
}

const NAMED: &[(&str, KeyCodeName)] = &[
    ("enter", KeyCodeName::Enter),
    ("esc", KeyCodeName::Esc),
    ("tab", KeyCodeName::Tab),
    ("backtab", KeyCodeName::BackTab),
    ("backspace", KeyCodeName::Backspace),
    ("delete", KeyCodeName::Delete),
    ("up", KeyCodeName::Up),
    ("down", KeyCodeName::Down),
    ("left", KeyCodeName::Left),
    ("right", KeyCodeName::Right),
    ("home", KeyCodeName::Home),
    ("end", KeyCodeName::End),
    ("pageup", KeyCodeName::PageUp),
    ("pagedown", KeyCodeName::PageDown),
    ("space", KeyCodeName::Char(' ')),
];

impl KeyPress {
    pub fn plain(code: KeyCodeName) -> Self {
        Self {
            code,
            ctrl: false,
            alt: false,
            shift: false,
        }
    }

    /// Parses `ctrl-alt-x`, `shift-tab`, `G`, `?`, `f5`. Modifier names are case-insensitive.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty key".into());
        }
        let mut press = Self::plain(KeyCodeName::Enter);
        let mut rest = text;
        // A lone "-" is the minus key, not a separator.
        while let Some((modifier, tail)) = rest.split_once('-').filter(|(_, tail)| !tail.is_empty())
        {
            match modifier.to_ascii_lowercase().as_str() {
                "ctrl" | "c" => press.ctrl = true,
                "alt" | "a" | "m" => press.alt = true,
                "shift" | "s" => press.shift = true,
                other => return Err(format!("unknown modifier `{other}` in `{text}`")),
            }
            rest = tail;
        }
        press.code = parse_code(rest).ok_or_else(|| format!("unknown key `{rest}` in `{text}`"))?;
        Ok(press.normalised())
    }

    pub fn from_event(event: &KeyEvent) -> Option<Self> {
        let code = match event.code {
            KeyCode::Char(c) => KeyCodeName::Char(c),
            KeyCode::Enter => KeyCodeName::Enter,
            KeyCode::Esc => KeyCodeName::Esc,
            KeyCode::Tab => KeyCodeName::Tab,
            KeyCode::BackTab => KeyCodeName::BackTab,
            KeyCode::Backspace => KeyCodeName::Backspace,
            KeyCode::Delete => KeyCodeName::Delete,
            KeyCode::Up => KeyCodeName::Up,
            KeyCode::Down => KeyCodeName::Down,
            KeyCode::Left => KeyCodeName::Left,
            KeyCode::Right => KeyCodeName::Right,
            KeyCode::Home => KeyCodeName::Home,
            KeyCode::End => KeyCodeName::End,
            KeyCode::PageUp => KeyCodeName::PageUp,
            KeyCode::PageDown => KeyCodeName::PageDown,
            KeyCode::F(n) => KeyCodeName::F(n),
            _ => return None,
        };
        let press = Self {
            code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
            alt: event.modifiers.contains(KeyModifiers::ALT),
            shift: event.modifiers.contains(KeyModifiers::SHIFT),
        };
        Some(press.normalised())
    }

    fn normalised(mut self) -> Self {
        if let KeyCodeName::Char(c) = self.code {
            if self.shift && c.is_ascii_alphabetic() {
                self.code = KeyCodeName::Char(c.to_ascii_uppercase());
            }
            // Terminals report shifted symbols (`?`, `G`) with or without SHIFT; the char says it all.
            self.shift = false;
            if self.ctrl && c.is_ascii_uppercase() {
                self.code = KeyCodeName::Char(c.to_ascii_lowercase());
            }
        }
        if self.code == KeyCodeName::BackTab {
            self.shift = false;
        }
        if self.code == KeyCodeName::Tab && self.shift {
            self.code = KeyCodeName::BackTab;
            self.shift = false;
        }
        self
    }
}

fn parse_code(text: &str) -> Option<KeyCodeName> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(KeyCodeName::Char(c));
    }
    let lower = text.to_ascii_lowercase();
    if let Some((_, code)) = NAMED.iter().find(|(name, _)| *name == lower) {
        return Some(*code);
    }
    let number = lower.strip_prefix('f')?.parse::<u8>().ok()?;
    (1..=24).contains(&number).then_some(KeyCodeName::F(number))
}

impl fmt::Display for KeyPress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            write!(f, "ctrl-")?;
        }
        if self.alt {
            write!(f, "alt-")?;
        }
        if self.shift {
            write!(f, "shift-")?;
        }
        match self.code {
            KeyCodeName::Char(' ') => write!(f, "space"),
            KeyCodeName::Char(c) => write!(f, "{c}"),
            KeyCodeName::F(n) => write!(f, "f{n}"),
            other => {
                let name = NAMED
                    .iter()
                    .find(|(_, code)| *code == other)
                    .map_or("?", |(name, _)| *name);
                write!(f, "{name}")
            }
        }
    }
}

/// One or more key presses pressed in turn, written separated by spaces: `g g`, `ctrl-x o`.
/// A single press is a chord of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Chord(Vec<KeyPress>);

impl Chord {
    /// Parses `g g`, `space e`, `ctrl-x ctrl-c`; a lone `q` is a chord of one press.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.is_empty() && text.trim().is_empty() {
            // `" "` names the space bar, as `space` does.
            return Ok(Self(vec![KeyPress::parse(" ")?]));
        }
        let presses = text
            .split_whitespace()
            .map(KeyPress::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if presses.is_empty() {
            return Err("empty key".into());
        }
        Ok(Self(presses))
    }

    /// The chord of the presses so far (may be empty, which no binding matches).
    pub fn from_presses(presses: &[KeyPress]) -> Self {
        Self(presses.to_vec())
    }

    pub fn presses(&self) -> &[KeyPress] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `self` is a strict prefix of `other` (`g` of `g g`).
    pub fn is_strict_prefix_of(&self, other: &Chord) -> bool {
        self.0.len() < other.0.len() && other.0.starts_with(&self.0)
    }

    /// True when any press holds ctrl or alt.
    pub fn has_modifier(&self) -> bool {
        self.0.iter().any(|k| k.ctrl || k.alt)
    }
}

impl From<KeyPress> for Chord {
    fn from(press: KeyPress) -> Self {
        Self(vec![press])
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, press) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{press}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for text in [
            "q", "G", "?", "ctrl-c", "enter", "pagedown", "backtab", "f5", "space", "-", "alt-x",
        ] {
            let press = KeyPress::parse(text).unwrap();
            assert_eq!(press.to_string(), text, "{text}");
        }
    }

    #[test]
    fn shift_folds_into_letters_and_tab() {
        assert_eq!(
            KeyPress::parse("shift-g").unwrap(),
            KeyPress::parse("G").unwrap()
        );
        assert_eq!(
            KeyPress::parse("shift-tab").unwrap(),
            KeyPress::parse("backtab").unwrap()
        );
        assert_eq!(
            KeyPress::parse("ctrl-C").unwrap(),
            KeyPress::parse("ctrl-c").unwrap()
        );
    }

    #[test]
    fn terminal_events_match_parsed_keys() {
        let event = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(KeyPress::from_event(&event), KeyPress::parse("G").ok());
        let event = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(KeyPress::from_event(&event), KeyPress::parse("?").ok());
        let event = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(KeyPress::from_event(&event), KeyPress::parse("ctrl-c").ok());
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert!(KeyPress::parse("").is_err());
        assert!(KeyPress::parse("hyper-x").unwrap_err().contains("hyper"));
        assert!(KeyPress::parse("enterr").unwrap_err().contains("enterr"));
        assert!(KeyPress::parse("f99").is_err());
    }

    #[test]
    fn chords_parse_print_and_know_their_prefixes() {
        for text in ["g g", "space e", "ctrl-x ctrl-c", "q", "alt-<"] {
            assert_eq!(Chord::parse(text).unwrap().to_string(), text, "{text}");
        }
        assert_eq!(Chord::parse("g   g").unwrap(), Chord::parse("g g").unwrap());
        assert_eq!(Chord::parse(" ").unwrap().to_string(), "space");
        let g: Chord = KeyPress::parse("g").unwrap().into();
        let gg = Chord::parse("g g").unwrap();
        assert!(g.is_strict_prefix_of(&gg));
        assert!(!gg.is_strict_prefix_of(&gg));
        assert!(!gg.is_strict_prefix_of(&g));
        assert!(Chord::parse("").is_err());
        assert!(Chord::parse("g hyper-x").unwrap_err().contains("hyper"));
        assert!(Chord::parse("ctrl-x o").unwrap().has_modifier());
    }
}
