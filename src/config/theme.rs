//! Themes are data: semantic tokens (ok, warn, error, muted, selection, ...) mapped to styles,
//! with fallbacks between tokens so a theme only has to name what it changes.
//!
//! ```toml
//! [tokens]
//! ok = { fg = "green" }
//! selection = { fg = "black", bg = "#5fd7ff", bold = true }
//! ```

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};
use toml::de::{DeTable, DeValue};

use super::source::{ConfigError, SourceFile};

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

    /// Layers the user file over the defaults; bad entries are skipped and reported.
    pub fn load(defaults: &SourceFile, user: Option<&SourceFile>) -> (Theme, Vec<ConfigError>) {
        let mut theme = Theme::default();
        let mut errors = Vec::new();
        for source in std::iter::once(defaults).chain(user) {
            let mut layer_errors = Vec::new();
            if let Err(err) = theme.apply(source, &mut layer_errors) {
                layer_errors.push(err);
            }
            layer_errors.sort_by_key(|e| e.line);
            errors.extend(layer_errors);
        }
        (theme, errors)
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

    fn apply(
        &mut self,
        source: &SourceFile,
        errors: &mut Vec<ConfigError>,
    ) -> Result<(), ConfigError> {
        let table = DeTable::parse(&source.text).map_err(|e| source.syntax_error(&e))?;
        for (section, value) in table.get_ref().iter() {
            match (section.get_ref().as_ref(), value.get_ref()) {
                ("name" | "description", _) => {}
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
                                self.defined.insert(token, style);
                            }
                            Err(message) => errors.push(located(message)),
                        }
                    }
                }
                (other, _) => errors.push(source.error(
                    Some(section.span()),
                    Some(other),
                    "unknown section; expected `name`, `description` or `[tokens]`",
                )),
            }
        }
        Ok(())
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
}
