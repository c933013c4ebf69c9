//! Calico's selector language (`projectcalico.org/v3` policies: `selector`, `namespaceSelector`,
//! `serviceAccountSelector`, and the rules' `source`/`destination` selectors), parsed once and
//! evaluated against a label map.
//!
//! The language, as Calico documents it: `all()`, `global()`, `k == 'v'`, `k != 'v'` (also true
//! without `k`), `has(k)`, `k in {'a', 'b'}`, `k not in {…}` (also true without `k`),
//! `k contains 's'`, `k starts with 's'`, `k ends with 's'`, `!`, `&&`, `||` and parentheses.
//! Precedence from high to low: the match operators, parentheses, `!`, `&&`, `||`. Strings take
//! single or double quotes. An empty selector is `all()`.

use std::fmt;

use crate::model::Labels;

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// `all()`: every resource in scope.
    All,
    /// `global()`: only resources without a namespace (global network sets, host endpoints).
    Global,
    Has(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Contains(String, String),
    StartsWith(String, String),
    EndsWith(String, String),
    Not(Box<Selector>),
    And(Box<Selector>, Box<Selector>),
    Or(Box<Selector>, Box<Selector>),
}

/// What a selector is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub labels: &'a Labels,
    /// Whether the resource lives in a namespace (pods do; global network sets do not).
    pub namespaced: bool,
}

impl Selector {
    /// Whether the selector matches the subject.
    pub fn matches(&self, subject: Subject<'_>) -> bool {
        let value = |key: &str| subject.labels.get(key).map(String::as_str);
        self.matches_with(&value, subject.namespaced)
    }

    /// Whether the selector matches a resource whose labels `value` looks up (Calico adds
    /// labels of its own to pods and namespaces; callers supply them without copying maps).
    pub fn matches_with<'a>(
        &self,
        value: &impl Fn(&str) -> Option<&'a str>,
        namespaced: bool,
    ) -> bool {
        let subject = namespaced;
        match self {
            Selector::All => true,
            Selector::Global => !subject,
            Selector::Has(k) => value(k).is_some(),
            Selector::Equals(k, v) => value(k) == Some(v.as_str()),
            Selector::NotEquals(k, v) => value(k) != Some(v.as_str()),
            Selector::In(k, set) => value(k).is_some_and(|x| set.iter().any(|v| v == x)),
            Selector::NotIn(k, set) => !value(k).is_some_and(|x| set.iter().any(|v| v == x)),
            Selector::Contains(k, s) => value(k).is_some_and(|x| x.contains(s.as_str())),
            Selector::StartsWith(k, s) => value(k).is_some_and(|x| x.starts_with(s.as_str())),
            Selector::EndsWith(k, s) => value(k).is_some_and(|x| x.ends_with(s.as_str())),
            Selector::Not(inner) => !inner.matches_with(value, subject),
            Selector::And(a, b) => a.matches_with(value, subject) && b.matches_with(value, subject),
            Selector::Or(a, b) => a.matches_with(value, subject) || b.matches_with(value, subject),
        }
    }

    /// `a && b`, without nesting `all()`s.
    pub fn and(self, other: Selector) -> Selector {
        match (self, other) {
            (Selector::All, s) | (s, Selector::All) => s,
            (a, b) => Selector::And(Box::new(a), Box::new(b)),
        }
    }
}

/// A string literal in whichever quotes it does not contain (the language has no escapes, so
/// a parsed string never holds both).
fn quoted(s: &str) -> String {
    match s.contains('\'') {
        true => format!("\"{s}\""),
        false => format!("'{s}'"),
    }
}

/// Prints a selector that parses back to the same tree: compound parts in parentheses.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |values: &[String]| {
            values
                .iter()
                .map(|v| quoted(v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Selector::All => f.write_str("all()"),
            Selector::Global => f.write_str("global()"),
            Selector::Has(k) => write!(f, "has({k})"),
            Selector::Equals(k, v) => write!(f, "{k} == {}", quoted(v)),
            Selector::NotEquals(k, v) => write!(f, "{k} != {}", quoted(v)),
            Selector::In(k, v) => write!(f, "{k} in {{{}}}", set(v)),
            Selector::NotIn(k, v) => write!(f, "{k} not in {{{}}}", set(v)),
            Selector::Contains(k, v) => write!(f, "{k} contains {}", quoted(v)),
            Selector::StartsWith(k, v) => write!(f, "{k} starts with {}", quoted(v)),
            Selector::EndsWith(k, v) => write!(f, "{k} ends with {}", quoted(v)),
            Selector::Not(inner) => match **inner {
                Selector::And(..) | Selector::Or(..) => write!(f, "!{inner}"),
                _ => write!(f, "!({inner})"),
            },
            Selector::And(a, b) => write!(f, "({a} && {b})"),
            Selector::Or(a, b) => write!(f, "({a} || {b})"),
        }
    }
}

/// A selector that does not parse: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    /// Byte offset in the selector text.
    pub at: usize,
    pub message: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

impl std::error::Error for SelectorError {}

/// Parses a selector; an empty or blank one is `all()`.
pub fn parse(text: &str) -> Result<Selector, SelectorError> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Ok(Selector::All);
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        end: text.len(),
    };
    let selector = parser.or()?;
    match parser.peek() {
        None => Ok(selector),
        Some((at, token)) => Err(SelectorError {
            at,
            message: format!("unexpected {token} after a complete selector"),
        }),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Eq,
    Ne,
    Bang,
    AndAnd,
    OrOr,
    Open,
    Close,
    OpenSet,
    CloseSet,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "`{w}`"),
            Token::Text(t) => write!(f, "the string '{t}'"),
            Token::Eq => f.write_str("`==`"),
            Token::Ne => f.write_str("`!=`"),
            Token::Bang => f.write_str("`!`"),
            Token::AndAnd => f.write_str("`&&`"),
            Token::OrOr => f.write_str("`||`"),
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::OpenSet => f.write_str("`{`"),
            Token::CloseSet => f.write_str("`}`"),
            Token::Comma => f.write_str("`,`"),
        }
    }
}

/// Characters of a label key or keyword (keys may have a DNS prefix: `projectcalico.org/name`).
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, SelectorError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => Token::Open,
            ')' => Token::Close,
            '{' => Token::OpenSet,
            '}' => Token::CloseSet,
            ',' => Token::Comma,
            '=' | '!' | '&' | '|' => {
                let pair = match (c, chars.peek().map(|&(_, next)| next)) {
                    ('=', Some('=')) => Some(Token::Eq),
                    ('!', Some('=')) => Some(Token::Ne),
                    ('&', Some('&')) => Some(Token::AndAnd),
                    ('|', Some('|')) => Some(Token::OrOr),
                    _ => None,
                };
                match pair {
                    Some(token) => {
                        chars.next();
                        token
                    }
                    None if c == '!' => Token::Bang,
                    None => {
                        return Err(SelectorError {
                            at,
                            message: format!(
                                "`{c}` alone is no operator (use ==, !=, &&, || or !)"
                            ),
                        });
                    }
                }
            }
            '\'' | '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => break,
                        Some((_, ch)) => value.push(ch),
                        None => {
                            return Err(SelectorError {
                                at,
                                message: "a string is not closed".into(),
                            });
                        }
                    }
                }
                Token::Text(value)
            }
            c if is_word(c) => {
                let mut word = String::from(c);
                while let Some(&(_, next)) = chars.peek() {
                    if !is_word(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                Token::Word(word)
            }
            other => {
                return Err(SelectorError {
                    at,
                    message: format!("unexpected character `{other}`"),
                });
            }
        };
        tokens.push((at, token));
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    /// Where the text ends, for "expected … at the end" errors.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<(usize, &Token)> {
        self.tokens.get(self.next).map(|(at, t)| (*at, t))
    }

    fn take(&mut self) -> Option<(usize, Token)> {
        let token = self.tokens.get(self.next).cloned();
        self.next += usize::from(token.is_some());
        token
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |(at, _)| at)
    }

    fn error(&self, message: impl Into<String>) -> SelectorError {
        SelectorError {
            at: self.here(),
            message: message.into(),
        }
    }

    fn expect(&mut self, wanted: &Token) -> Result<(), SelectorError> {
        match self.peek() {
            Some((_, t)) if t == wanted => {
                self.next += 1;
                Ok(())
            }
            Some((_, t)) => Err(self.error(format!("expected {wanted}, found {t}"))),
            None => Err(self.error(format!("expected {wanted} at the end"))),
        }
    }

    fn or(&mut self) -> Result<Selector, SelectorError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some((_, Token::OrOr))) {
            self.next += 1;
            left = Selector::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Selector, SelectorError> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some((_, Token::AndAnd))) {
            self.next += 1;
            left = Selector::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Selector, SelectorError> {
        match self.peek() {
            Some((_, Token::Bang)) => {
                self.next += 1;
                Ok(Selector::Not(Box::new(self.unary()?)))
            }
            Some((_, Token::Open)) => {
                self.next += 1;
                let inner = self.or()?;
                self.expect(&Token::Close)?;
                Ok(inner)
            }
            _ => self.atom(),
        }
    }

    fn text(&mut self, after: &str) -> Result<String, SelectorError> {
        match self.take() {
            Some((_, Token::Text(t))) => Ok(t),
            Some((at, t)) => Err(SelectorError {
                at,
                message: format!("expected a quoted string after {after}, found {t}"),
            }),
            None => Err(self.error(format!("expected a quoted string after {after}"))),
        }
    }

    fn set(&mut self) -> Result<Vec<String>, SelectorError> {
        self.expect(&Token::OpenSet)?;
        let mut values = Vec::new();
        if matches!(self.peek(), Some((_, Token::CloseSet))) {
            self.next += 1;
            return Ok(values);
        }
        loop {
            values.push(self.text("`{` or `,`")?);
            match self.take() {
                Some((_, Token::Comma)) => continue,
                Some((_, Token::CloseSet)) => return Ok(values),
                Some((at, t)) => {
                    return Err(SelectorError {
                        at,
                        message: format!("expected `,` or `}}` in a set, found {t}"),
                    });
                }
                None => return Err(self.error("a set `{…}` is not closed")),
            }
        }
    }

    /// Whether the next words are exactly `words` (`starts with`, `not in`); consumes them if so.
    fn words(&mut self, words: &[&str]) -> bool {
        let found = words.iter().enumerate().all(
            |(i, w)| matches!(self.tokens.get(self.next + i), Some((_, Token::Word(x))) if x == w),
        );
        if found {
            self.next += words.len();
        }
        found
    }

    fn atom(&mut self) -> Result<Selector, SelectorError> {
        let (at, key) = match self.take() {
            Some((at, Token::Word(word))) => (at, word),
            Some((at, t)) => {
                return Err(SelectorError {
                    at,
                    message: format!("expected a label key, `all()`, `has(…)` or `(`, found {t}"),
                });
            }
            None => return Err(self.error("expected a selector at the end")),
        };
        if matches!(self.peek(), Some((_, Token::Open))) {
            self.next += 1;
            let function = match key.as_str() {
                "all" => Selector::All,
                "global" => Selector::Global,
                "has" => match self.take() {
                    Some((_, Token::Word(k))) => Selector::Has(k),
                    _ => return Err(self.error("has(…) takes a label key")),
                },
                other => {
                    return Err(SelectorError {
                        at,
                        message: format!(
                            "unknown function `{other}()` (known: all(), global(), has(key))"
                        ),
                    });
                }
            };
            self.expect(&Token::Close)?;
            return Ok(function);
        }
        if matches!(self.peek(), Some((_, Token::Eq))) {
            self.next += 1;
            return Ok(Selector::Equals(key, self.text("==")?));
        }
        if matches!(self.peek(), Some((_, Token::Ne))) {
            self.next += 1;
            return Ok(Selector::NotEquals(key, self.text("!=")?));
        }
        if self.words(&["in"]) {
            return Ok(Selector::In(key, self.set()?));
        }
        if self.words(&["not", "in"]) {
            return Ok(Selector::NotIn(key, self.set()?));
        }
        if self.words(&["contains"]) {
            return Ok(Selector::Contains(key, self.text("contains")?));
        }
        if self.words(&["starts", "with"]) {
            return Ok(Selector::StartsWith(key, self.text("starts with")?));
        }
        if self.words(&["ends", "with"]) {
            return Ok(Selector::EndsWith(key, self.text("ends with")?));
        }
        let wanted = "expected ==, !=, in, not in, contains, starts with or ends with";
        Err(match self.peek() {
            Some((_, t)) => self.error(format!("{wanted} after `{key}`, found {t}")),
            None => self.error(format!("{wanted} after `{key}`")),
        })
    }
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "selector_fuzz.rs"]
mod fuzz;
