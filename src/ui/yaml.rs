//! YAML with light syntax highlighting: keys, values, comments and list dashes.

use ratatui::text::{Line, Span};

use crate::config::{Theme, Token};

pub fn highlight(text: &str, theme: &Theme) -> Vec<Line<'static>> {
    text.lines()
        .map(|line| highlight_line(line, theme))
        .collect()
}

fn highlight_line(line: &str, theme: &Theme) -> Line<'static> {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    if trimmed.starts_with('#') {
        return Line::from(Span::styled(
            line.to_string(),
            theme.style(Token::YamlComment),
        ));
    }
    let (dash, rest) = match trimmed.strip_prefix("- ") {
        Some(rest) => ("- ", rest),
        None => ("", trimmed),
    };
    let mut spans = vec![Span::raw(format!("{indent}{dash}"))];
    match split_key(rest) {
        Some((key, value)) => {
            spans.push(Span::styled(key.to_string(), theme.style(Token::YamlKey)));
            spans.push(Span::styled(
                value.to_string(),
                theme.style(Token::YamlValue),
            ));
        }
        None => spans.push(Span::styled(
            rest.to_string(),
            theme.style(Token::YamlValue),
        )),
    }
    Line::from(spans)
}

/// Splits `key: value` at the first `: ` (or a trailing `:`) outside quotes.
fn split_key(text: &str) -> Option<(&str, &str)> {
    if text.starts_with(['"', '\'']) && !text.contains(":") {
        return None;
    }
    let end = text
        .find(": ")
        .or_else(|| text.ends_with(':').then(|| text.len() - 1))?;
    let key = &text[..end];
    (!key.contains(' ') || key.starts_with('"')).then(|| (&text[..=end], &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_and_comments_are_split() {
        assert_eq!(split_key("name: web"), Some(("name:", " web")));
        assert_eq!(split_key("spec:"), Some(("spec:", "")));
        assert_eq!(split_key("plain value"), None);
        let theme = Theme::default();
        let lines = highlight("# c\n  - port: 80\n", &theme);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].spans[0].content, "  - ");
        assert_eq!(lines[1].spans[1].content, "port:");
    }
}
