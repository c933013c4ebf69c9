//! Themes are data: semantic tokens (ok, warn, error, muted, selection, ...) mapped to styles,
//! with fallbacks between tokens so a theme only has to name what it changes.
//!
//! ```toml
//! parent = "light"   # optional: a built-in theme this one overrides
//! [tokens]
//! ok = { fg = "green" }
//! selection = { fg = "black", bg = "#5fd7ff", bold = true }
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use ratatui::style::{Color, Modifier, Style};
use toml::de::{DeTable, DeValue};

use super::source::{ConfigError, SourceFile};

/// The built-in theme a user theme is layered over when it names no `parent`.
pub const DEFAULT_THEME_NAME: &str = "dark";

const BUILTIN_NAMES: &[&str] = &["dark", "light", "high-contrast", "colour-blind"];

/// The names `parent = "..."` and theme switching accept, default first.
pub fn builtin_theme_names() -> &'static [&'static str] {
    BUILTIN_NAMES
}

/// An embedded theme by name, named `<built-in themes/NAME.toml>` in messages.
pub fn builtin_theme_source(name: &str) -> Option<SourceFile> {
    let text = match name {
        "dark" => super::DEFAULT_THEME,
        "light" => include_str!("../../themes/light.toml"),
        "high-contrast" => include_str!("../../themes/high-contrast.toml"),
        "colour-blind" => include_str!("../../themes/colour-blind.toml"),
        _ => return None,
    };
    Some(SourceFile::new(
        format!("<built-in themes/{name}.toml>"),
        text,
    ))
}

macro_rules! tokens {
    ($($variant:ident => $name:literal, $fallback:expr;)*) => {
        /// What a piece of the screen means, not what colour it is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Token {
            $($variant,)*
        }

        impl Token {
            pub const ALL: &'static [Token] = &[$(Token::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Token::$variant => $name,)*
                }
            }

            /// The token whose style is used when a theme does not define this one.
            fn fallback(self) -> Option<Token> {
                match self {
                    $(Token::$variant => $fallback,)*
                }
            }
        }
    };
}

tokens! {
    Text => "text", None;
    Muted => "muted", Some(Token::Text);
    Accent => "accent", Some(Token::Text);
    Ok => "ok", Some(Token::Text);
    Warn => "warn", Some(Token::Text);
    Error => "error", Some(Token::Text);
    Selection => "selection", Some(Token::Accent);
    Title => "title", Some(Token::Accent);
    Border => "border", Some(Token::Muted);
    BorderFocused => "border_focused", Some(Token::Accent);
    StatusBar => "status_bar", Some(Token::Text);
    Hint => "hint", Some(Token::Muted);
    HintKey => "hint_key", Some(Token::Accent);
    Open => "open", Some(Token::Error);
    Partial => "partial", Some(Token::Warn);
    Closed => "closed", Some(Token::Ok);
    YamlKey => "yaml_key", Some(Token::Accent);
    YamlValue => "yaml_value", Some(Token::Text);
    YamlComment => "yaml_comment", Some(Token::Muted);
    TourHighlight => "tour_highlight", Some(Token::Warn);
    // The two below are drawn over the style of the line they sit in (`Style::patch`).
    DiffWord => "diff_word", None;
    FuzzyMatch => "fuzzy_match", None;
}

impl Token {
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// A resolved theme: every token has a style.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Theme {
    defined: BTreeMap<Token, Style>,
}

impl Theme {
    pub fn style(&self, token: Token) -> Style {
        let mut current = Some(token);
        while let Some(t) = current {
            if let Some(style) = self.defined.get(&t) {
                return *style;
            }
            current = t.fallback();
        }
        Style::default()
    }

    /// A built-in theme by name (see [`builtin_theme_names`]), over its parent chain.
    pub fn builtin(name: &str) -> Option<(Theme, Vec<ConfigError>)> {
        let source = builtin_theme_source(name)?;
        let mut errors = Vec::new();
        let defined = resolve_chain(&source, Some(name), &builtin_theme_source, &mut errors);
        Some((Theme { defined }, errors))
    }

    /// The user file over its `parent` (a built-in theme), or over `defaults` (and its parents)
    /// when it names none. Bad entries are skipped and reported; a user file with a syntax error
    /// is ignored whole; an unknown parent is reported and `defaults` stands in for it.
    pub fn load(defaults: &SourceFile, user: Option<&SourceFile>) -> (Theme, Vec<ConfigError>) {
        load_with(defaults, user, &builtin_theme_source)
    }
    /// `NO_COLOR` (https://no-color.org): keep emphasis, drop colours; selection stays visible
    /// through reverse video.
    pub fn without_colour(mut self) -> Theme {
        for style in self.defined.values_mut() {
            style.fg = None;
            style.bg = None;
        }
        let selection = self.style(Token::Selection);
        self.defined
            .insert(Token::Selection, selection.add_modifier(Modifier::REVERSED));
        self
    }

    /// The resolved theme as TOML, every token spelled out.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("[tokens]\n");
        for token in Token::ALL {
            out.push_str(&format!(
                "{} = {}\n",
                token.name(),
                style_to_toml(self.style(*token))
            ));
        }
        out
    }
}

/// A built-in theme by name; a parameter so that tests can build chains and cycles.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<SourceFile>;

fn load_with(
    defaults: &SourceFile,
    user: Option<&SourceFile>,
    lookup: Lookup<'_>,
) -> (Theme, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let mut user_errors = Vec::new();
    let user_layer = user.and_then(|source| match parse_layer(source, &mut user_errors) {
        Ok(layer) => Some((source, layer)),
        Err(err) => {
            user_errors.push(err);
            None
        }
    });
    let mut defined = None;
    if let Some((source, layer)) = &user_layer
        && let Some((name, span)) = &layer.parent
    {
        match lookup(name) {
            Some(parent) => {
                defined = Some(resolve_chain(&parent, Some(name), lookup, &mut errors));
            }
            None => user_errors.push(unknown_parent(source, name, span.clone())),
        }
    }
    let mut defined = defined.unwrap_or_else(|| resolve_chain(defaults, None, lookup, &mut errors));
    if let Some((_, layer)) = user_layer {
        defined.extend(layer.tokens);
    }
    user_errors.sort_by_key(|e| e.line);
    errors.extend(user_errors);
    (Theme { defined }, errors)
}

/// One parsed theme file: its own tokens and the parent it names.
struct Layer {
    parent: Option<(String, Range<usize>)>,
    tokens: BTreeMap<Token, Style>,
}

/// Follows `parent` links from `source` (whose built-in name, if any, is `name`) and merges the
/// chain: a theme's own tokens win over its parent's, and so on up. An unknown parent or a cycle
/// is reported at the `parent` line that causes it, and the chain stops there.
fn resolve_chain(
    source: &SourceFile,
    name: Option<&str>,
    lookup: Lookup<'_>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<Token, Style> {
    let mut visited: Vec<String> = name.map(str::to_string).into_iter().collect();
    let mut layers = Vec::new();
    let mut current = source.clone();
    loop {
        let mut layer_errors = Vec::new();
        let layer = parse_layer(&current, &mut layer_errors);
        layer_errors.sort_by_key(|e| e.line);
        errors.extend(layer_errors);
        let layer = match layer {
            Ok(layer) => layer,
            Err(err) => {
                errors.push(err);
                break;
            }
        };
        let parent = layer.parent;
        layers.push(layer.tokens);
        let Some((parent, span)) = parent else {
            break;
        };
        if visited.contains(&parent) {
            let mut cycle = visited.clone();
            cycle.push(parent);
            errors.push(current.error(
                Some(span),
                Some("parent"),
                format!("parent cycle: {}", cycle.join(" → ")),
            ));
            break;
        }
        let Some(next) = lookup(&parent) else {
            errors.push(unknown_parent(&current, &parent, span));
            break;
        };
        visited.push(parent);
        current = next;
    }
    let mut defined = BTreeMap::new();
    for tokens in layers.into_iter().rev() {
        defined.extend(tokens);
    }
    defined
}

fn unknown_parent(source: &SourceFile, name: &str, span: Range<usize>) -> ConfigError {
    source.error(
        Some(span),
        Some("parent"),
        format!(
            "unknown parent theme `{name}`; built-in themes: {}",
            BUILTIN_NAMES.join(", ")
        ),
    )
}

fn parse_layer(source: &SourceFile, errors: &mut Vec<ConfigError>) -> Result<Layer, ConfigError> {
    let table = DeTable::parse(&source.text).map_err(|e| source.syntax_error(&e))?;
    let mut layer = Layer {
        parent: None,
        tokens: BTreeMap::new(),
    };
    for (section, value) in table.get_ref().iter() {
        match (section.get_ref().as_ref(), value.get_ref()) {
            ("name" | "description", _) => {}
            ("parent", DeValue::String(name)) => {
                layer.parent = Some((name.to_string(), section.span()));
            }
            ("parent", _) => errors.push(source.error(
                Some(section.span()),
                Some("parent"),
                format!(
                    "expected a built-in theme name in quotes: {}",
                    BUILTIN_NAMES.join(", ")
                ),
            )),
            ("tokens", DeValue::Table(tokens)) => {
                for (name, spec) in tokens.iter() {
                    let key = format!("tokens.{}", name.get_ref());
                    let located = |m: String| source.error(Some(name.span()), Some(&key), m);
                    let Some(token) = Token::from_name(name.get_ref()) else {
                        errors.push(located("unknown token".into()));
                        continue;
                    };
                    match parse_style(spec.get_ref()) {
                        Ok(style) => {
                            layer.tokens.insert(token, style);
                        }
                        Err(message) => errors.push(located(message)),
                    }
                }
            }
            (other, _) => errors.push(source.error(
                Some(section.span()),
                Some(other),
                "unknown section; expected `name`, `description`, `parent` or `[tokens]`",
            )),
        }
    }
    Ok(layer)
}

fn parse_style(value: &DeValue<'_>) -> Result<Style, String> {
    // `token = "red"` is shorthand for a foreground colour.
    if let DeValue::String(colour) = value {
        return Ok(Style::default().fg(parse_colour(colour)?));
    }
    let DeValue::Table(fields) = value else {
        return Err("expected a colour name or a table like { fg = \"red\", bold = true }".into());
    };
    let mut style = Style::default();
    for (field, v) in fields.iter() {
        match (field.get_ref().as_ref(), v.get_ref()) {
            ("fg", DeValue::String(c)) => style = style.fg(parse_colour(c)?),
            ("bg", DeValue::String(c)) => style = style.bg(parse_colour(c)?),
            (flag, DeValue::Boolean(on)) => {
                let modifier = match flag {
                    "bold" => Modifier::BOLD,
                    "italic" => Modifier::ITALIC,
                    "underlined" => Modifier::UNDERLINED,
                    "dim" => Modifier::DIM,
                    "reversed" => Modifier::REVERSED,
                    other => return Err(format!("unknown style field `{other}`")),
                };
                style = if *on {
                    style.add_modifier(modifier)
                } else {
                    style.remove_modifier(modifier)
                };
            }
            (other, _) => {
                return Err(format!(
                    "bad style field `{other}`: fg/bg take colour strings, bold/italic/underlined/dim/reversed take true/false"
                ));
            }
        }
    }
    Ok(style)
}

fn parse_colour(text: &str) -> Result<Color, String> {
    text.parse::<Color>().map_err(|_| {
        format!("unknown colour `{text}`: use a name (red, lightblue, ...), #rrggbb or 0-255")
    })
}

fn style_to_toml(style: Style) -> String {
    let mut fields = Vec::new();
    if let Some(fg) = style.fg {
        fields.push(format!("fg = \"{fg}\""));
    }
    if let Some(bg) = style.bg {
        fields.push(format!("bg = \"{bg}\""));
    }
    for (modifier, name) in [
        (Modifier::BOLD, "bold"),
        (Modifier::ITALIC, "italic"),
        (Modifier::UNDERLINED, "underlined"),
        (Modifier::DIM, "dim"),
        (Modifier::REVERSED, "reversed"),
    ] {
        if style.add_modifier.contains(modifier) {
            fields.push(format!("{name} = true"));
        }
    }
    format!("{{ {} }}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> SourceFile {
        SourceFile::new(
            "defaults",
            "[tokens]\ntext = \"white\"\nerror = { fg = \"red\", bold = true }\nok = \"green\"\n",
        )
    }

    #[test]
    fn undefined_tokens_fall_back_along_the_chain() {
        let (theme, errors) = Theme::load(&defaults(), None);
        assert!(errors.is_empty(), "{errors:?}");
        // open → error; closed → ok; muted → text
        assert_eq!(theme.style(Token::Open), theme.style(Token::Error));
        assert_eq!(theme.style(Token::Closed).fg, Some(Color::Green));
        assert_eq!(theme.style(Token::Muted).fg, Some(Color::White));
        assert!(
            theme
                .style(Token::Error)
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn user_tokens_override_and_errors_are_located() {
        let user = SourceFile::new(
            "theme.toml",
            "[tokens]\nok = \"#00ff00\"\nwarn = \"blurple\"\nsparkle = \"red\"\n",
        );
        let (theme, errors) = Theme::load(&defaults(), Some(&user));
        assert_eq!(theme.style(Token::Ok).fg, Some(Color::Rgb(0, 255, 0)));
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), 2, "{rendered:?}");
        assert!(
            rendered[0].starts_with("theme.toml:3: `tokens.warn`: unknown colour `blurple`"),
            "{}",
            rendered[0]
        );
        assert!(
            rendered[1].starts_with("theme.toml:4: `tokens.sparkle`: unknown token"),
            "{}",
            rendered[1]
        );
    }

    #[test]
    fn no_colour_keeps_emphasis_and_a_visible_selection() {
        let (theme, _) = Theme::load(&defaults(), None);
        let plain = theme.without_colour();
        assert_eq!(plain.style(Token::Error).fg, None);
        assert!(
            plain
                .style(Token::Error)
                .add_modifier
                .contains(Modifier::BOLD)
        );
        assert!(
            plain
                .style(Token::Selection)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }

    #[test]
    fn printed_theme_reads_back_identically() {
        let (theme, _) = Theme::load(&defaults(), None);
        let (reread, errors) = Theme::load(&SourceFile::new("printed", theme.to_toml()), None);
        assert!(errors.is_empty(), "{errors:?}");
        for token in Token::ALL {
            assert_eq!(
                reread.style(*token),
                theme.style(*token),
                "{}",
                token.name()
            );
        }
    }

    #[test]
    fn every_builtin_theme_is_clean_and_complete() {
        assert_eq!(builtin_theme_names()[0], DEFAULT_THEME_NAME);
        for name in builtin_theme_names() {
            let (theme, errors) = Theme::builtin(name).expect("listed themes exist");
            assert!(errors.is_empty(), "{name}: {errors:?}");
            for token in Token::ALL {
                assert!(
                    theme.defined.contains_key(token),
                    "{name} neither defines nor inherits `{}`",
                    token.name()
                );
            }
        }
        assert!(Theme::builtin("sepia").is_none());
    }

    #[test]
    fn open_partial_and_closed_look_different_in_every_builtin_theme() {
        for name in builtin_theme_names() {
            let (theme, _) = Theme::builtin(name).unwrap();
            let [open, partial, closed] =
                [Token::Open, Token::Partial, Token::Closed].map(|t| theme.style(t));
            assert_ne!(open, partial, "{name}: open and partial look the same");
            assert_ne!(open, closed, "{name}: open and closed look the same");
            assert_ne!(partial, closed, "{name}: partial and closed look the same");
        }
    }

    #[test]
    fn colour_blind_status_colours_avoid_red_and_green() {
        let (theme, _) = Theme::builtin("colour-blind").unwrap();
        for token in [Token::Ok, Token::Closed, Token::Open, Token::Error] {
            let fg = theme.style(token).fg;
            assert!(
                !matches!(
                    fg,
                    Some(Color::Red | Color::LightRed | Color::Green | Color::LightGreen)
                ),
                "{}: {fg:?}",
                token.name()
            );
        }
        // Everything else is inherited from dark.
        let (dark, _) = Theme::builtin("dark").unwrap();
        assert_eq!(theme.style(Token::Selection), dark.style(Token::Selection));
    }

    /// Built-ins for chain tests: `base` ← `middle` ← `top`, and a cycle `a` → `b` → `a`.
    fn lookup(name: &str) -> Option<SourceFile> {
        let text = match name {
            "base" => "[tokens]\ntext = \"white\"\nok = \"green\"\nerror = \"red\"\n",
            "middle" => "parent = \"base\"\n[tokens]\nok = \"blue\"\n",
            "top" => "parent = \"middle\"\n[tokens]\ntext = \"gray\"\n",
            "a" => "parent = \"b\"\n[tokens]\ntext = \"red\"\n",
            "b" => "# b\nparent = \"a\"\n",
            "lost" => "\n\nparent = \"nowhere\"\n",
            _ => return None,
        };
        Some(SourceFile::new(format!("{name}.toml"), text))
    }

    #[test]
    fn tokens_resolve_through_the_parent_chain_then_the_fallbacks() {
        let user = SourceFile::new(
            "theme.toml",
            "parent = \"top\"\n[tokens]\nwarn = \"yellow\"\n",
        );
        let (theme, errors) = load_with(&defaults(), Some(&user), &lookup);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(theme.style(Token::Warn).fg, Some(Color::Yellow)); // own
        assert_eq!(theme.style(Token::Text).fg, Some(Color::Gray)); // top
        assert_eq!(theme.style(Token::Ok).fg, Some(Color::Blue)); // middle over base
        assert_eq!(theme.style(Token::Error).fg, Some(Color::Red)); // base
        assert_eq!(theme.style(Token::Closed).fg, Some(Color::Blue)); // fallback to ok
        // Nothing of `defaults` (error is bold there): the parent replaces it.
        assert!(
            !theme
                .style(Token::Error)
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn parent_cycles_are_reported_where_they_close() {
        let user = SourceFile::new("theme.toml", "parent = \"a\"\n");
        let (theme, errors) = load_with(&defaults(), Some(&user), &lookup);
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(rendered, ["b.toml:2: `parent`: parent cycle: a → b → a"]);
        assert_eq!(
            theme.style(Token::Text).fg,
            Some(Color::Red),
            "what was read stands"
        );

        let mut errors = Vec::new();
        resolve_chain(&lookup("b").unwrap(), Some("b"), &lookup, &mut errors);
        assert_eq!(
            errors[0].to_string(),
            "a.toml:1: `parent`: parent cycle: b → a → b"
        );
    }

    #[test]
    fn unknown_parents_are_located_and_the_defaults_stand_in() {
        let user = SourceFile::new(
            "theme.toml",
            "[tokens]\nok = \"blue\"\n\nparent = \"sepia\"\n",
        );
        let (theme, errors) = Theme::load(&defaults(), Some(&user));
        // `parent` after `[tokens]` is inside the table, so it is an unknown token there.
        assert!(
            errors[0]
                .to_string()
                .starts_with("theme.toml:4: `tokens.parent`"),
            "{errors:?}"
        );

        let user = SourceFile::new(
            "theme.toml",
            "parent = \"sepia\"\n[tokens]\nok = \"blue\"\n",
        );
        let (theme_b, errors) = Theme::load(&defaults(), Some(&user));
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), 1, "{rendered:?}");
        assert!(
            rendered[0].starts_with(
                "theme.toml:1: `parent`: unknown parent theme `sepia`; built-in themes: dark, light, high-contrast, colour-blind"
            ),
            "{}",
            rendered[0]
        );
        assert_eq!(theme_b, theme, "defaults, then the user's tokens");
        assert_eq!(theme_b.style(Token::Error).fg, Some(Color::Red));

        // Inside a chain, too.
        let user = SourceFile::new("theme.toml", "parent = \"lost\"\n");
        let (_, errors) = load_with(&defaults(), Some(&user), &lookup);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .to_string()
                .starts_with("lost.toml:3: `parent`: unknown parent theme `nowhere`"),
            "{}",
            errors[0]
        );

        let user = SourceFile::new("theme.toml", "parent = [\"dark\"]\n");
        let (_, errors) = Theme::load(&defaults(), Some(&user));
        assert_eq!(errors[0].line, Some(1), "{errors:?}");
    }

    #[test]
    fn a_user_theme_over_light_overrides_single_tokens() {
        let user = SourceFile::new(
            "theme.toml",
            "parent = \"light\"\n[tokens]\nopen = \"magenta\"\n",
        );
        let (theme, errors) = Theme::load(&defaults(), Some(&user));
        assert!(errors.is_empty(), "{errors:?}");
        let (light, _) = Theme::builtin("light").unwrap();
        assert_eq!(theme.style(Token::Open).fg, Some(Color::Magenta));
        for token in Token::ALL.iter().filter(|t| **t != Token::Open) {
            assert_eq!(theme.style(*token), light.style(*token), "{}", token.name());
        }
    }
}
