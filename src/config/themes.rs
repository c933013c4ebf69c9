//! Built-in themes by name, for `:theme NAME`.

use super::{Theme, default_theme_source};

pub fn names() -> Vec<String> {
    vec!["dark".to_string()]
}

pub fn load(name: &str, no_colour: bool) -> Result<Theme, String> {
    if name != "dark" && name != "default" {
        return Err(format!(
            "no theme `{name}`; built-in themes: {}",
            names().join(", ")
        ));
    }
    let (theme, _) = Theme::load(&default_theme_source(), None);
    Ok(if no_colour {
        theme.without_colour()
    } else {
        theme
    })
}
