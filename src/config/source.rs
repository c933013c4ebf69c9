//! Config files as text with a name, so that every error can point at a file and line.

use std::fmt;
use std::ops::Range;
use std::path::Path;

/// A config file's text and where it came from.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Shown in messages: a path, or `<built-in keymaps/default.toml>` for embedded defaults.
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Reads a user file; `Ok(None)` when it does not exist.
    pub fn read_optional(path: &Path) -> Result<Option<Self>, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Self::new(path.display().to_string(), text))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(ConfigError {
                file: path.display().to_string(),
                line: None,
                key: None,
                message: format!("cannot read: {err}"),
            }),
        }
    }

    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.name.clone(),
            line: span.map(|s| self.line_of(s.start)),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }

    /// A TOML syntax error, located.
    pub fn syntax_error(&self, err: &toml::de::Error) -> ConfigError {
        self.error(err.span(), None, err.message().trim().to_string())
    }
}

/// A problem in a config file. The console still starts (with defaults) and shows it as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}
