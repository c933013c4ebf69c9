//! Per-context settings from the user's `contexts.toml` (in the user config dir):
//!
//! ```toml
//! [contexts."prod-admin@prod"]
//! read_only = true        # palisade refuses every write (rollbacks) on this context
//! recorder = "palisade/palisade-recorder"   # the team's recorder Service, or "off"
//! tenant_label = "team"                     # analysis defaults, as --tenant-label,
//! tenant_patterns = ["acme=acme-*"]         # --tenant-pattern and --ipblock-pods
//! ipblock_pods = "ignore"
//! namespaces = ["acme-web", "acme-api"]     # watch only these (as -n), e.g. for a Role
//! cni = "calico"                            # as --cni: auto, cilium, calico or generic
//! ```
//!
//! Problems are located warnings, like the other user files. For safety a context whose entry
//! is broken, or every context when the file cannot be parsed, counts as read-only.

use std::collections::BTreeMap;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::{ConfigError, SourceFile};
use crate::isolation::config::AnalysisChoices;
use crate::isolation::tenants::parse_name_pattern;

pub const CONTEXTS_FILE: &str = "contexts.toml";

/// One context's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextSetting {
    pub read_only: bool,
    /// The entry has an error, so the context counts as read-only (fail-closed).
    pub broken: bool,
    /// `file:line` of the entry, for messages.
    pub origin: String,
    /// `recorder = "NS/NAME"` or `"off"`: the team's recorder for this context.
    pub recorder: Option<crate::team::RecorderChoice>,
    /// Analysis defaults for this context; the command line's flags win over them.
    pub analysis: AnalysisChoices,
    /// `namespaces = [...]`: watch only these (the command line's `-n` wins).
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextSettings {
    pub contexts: BTreeMap<String, ContextSetting>,
    /// The file could not be read or parsed: every context is read-only until it is fixed.
    pub unreadable: Option<String>,
}

impl ContextSettings {
    /// The context's analysis defaults, if it has an entry.
    pub fn analysis(&self, context: &str) -> Option<&AnalysisChoices> {
        Some(&self.contexts.get(context)?.analysis)
    }

    /// The context's `namespaces` (empty: the whole cluster, or its kubeconfig namespace).
    pub fn namespaces(&self, context: &str) -> &[String] {
        self.contexts
            .get(context)
            .map(|c| c.namespaces.as_slice())
            .unwrap_or_default()
    }

    /// The context's `recorder` setting, if it has one.
    pub fn recorder(&self, context: &str) -> Option<&crate::team::RecorderChoice> {
        self.contexts.get(context)?.recorder.as_ref()
    }

    /// Why `context` is read-only by configuration, if it is.
    pub fn read_only(&self, context: &str) -> Option<String> {
        if let Some(problem) = &self.unreadable {
            return Some(format!(
                "{CONTEXTS_FILE} has an error ({problem}); every context is read-only until it is fixed"
            ));
        }
        self.contexts
            .get(context)
            .filter(|c| c.read_only)
            .map(|c| format!("context `{context}` is read-only ({})", c.origin))
    }
}

/// Reads `contexts.toml` from `dir`, if there is one.
pub fn load_contexts(dir: Option<&Path>) -> (ContextSettings, Vec<ConfigError>) {
    let Some(path) = dir.map(|d| d.join(CONTEXTS_FILE)) else {
        return (ContextSettings::default(), Vec::new());
    };
    match SourceFile::read_optional(&path) {
        Ok(None) => (ContextSettings::default(), Vec::new()),
        Ok(Some(source)) => contexts_from(&source),
        Err(err) => unusable(err),
    }
}

/// What counts when the file cannot be used at all: every context read-only, and the error
/// says so (it is what the console shows, and what `config check` prints).
const FAIL_CLOSED: &str = "every context is read-only until this is fixed";

fn unusable(mut err: ConfigError) -> (ContextSettings, Vec<ConfigError>) {
    let settings = ContextSettings {
        unreadable: Some(err.to_string()),
        ..ContextSettings::default()
    };
    err.message = format!("{}; {FAIL_CLOSED}", err.message);
    (settings, vec![err])
}

impl ContextSettings {
    /// What the console does about the file's problems, for `config check`'s summary; `None`
    /// when they change nothing beyond the entries named (unknown settings are ignored).
    pub fn consequence(&self) -> Option<String> {
        if self.unreadable.is_some() {
            return Some(format!(
                "{CONTEXTS_FILE} cannot be used, so {FAIL_CLOSED} (fail-closed)"
            ));
        }
        let broken: Vec<&str> = self
            .contexts
            .iter()
            .filter(|(_, c)| c.broken)
            .map(|(name, _)| name.as_str())
            .collect();
        (!broken.is_empty()).then(|| {
            format!(
                "{CONTEXTS_FILE}: context(s) {} count as read-only while their entry is broken",
                broken.join(", ")
            )
        })
    }
}

pub fn contexts_from(source: &SourceFile) -> (ContextSettings, Vec<ConfigError>) {
    let mut settings = ContextSettings::default();
    let table = match DeTable::parse(&source.text) {
        Ok(table) => table,
        Err(err) => return unusable(source.syntax_error(&err)),
    };
    let mut errors = Vec::new();
    for (key, value) in table.get_ref().iter() {
        if key.get_ref() != "contexts" {
            errors.push(source.error(
                Some(key.span()),
                Some(key.get_ref()),
                "unknown section; expected [contexts.\"NAME\"]",
            ));
            continue;
        }
        let DeValue::Table(contexts) = value.get_ref() else {
            errors.push(source.error(
                Some(value.span()),
                Some("contexts"),
                "expected tables, e.g. [contexts.\"prod\"] with read_only = true",
            ));
            continue;
        };
        for (name, entry) in contexts.iter() {
            let name_text = name.get_ref().to_string();
            let origin = format!("{}:{}", source.name, source.line_of(name.span().start));
            let mut setting = ContextSetting {
                read_only: false,
                broken: false,
                origin,
                recorder: None,
                analysis: AnalysisChoices::default(),
                namespaces: Vec::new(),
            };
            let DeValue::Table(entries) = entry.get_ref() else {
                errors.push(source.error(
                    Some(entry.span()),
                    Some(&format!("contexts.{name_text}")),
                    "expected a table of settings (read_only = true); the context counts as read-only",
                ));
                setting.read_only = true;
                setting.broken = true;
                settings.contexts.insert(name_text, setting);
                continue;
            };
            for (key, value) in entries.iter() {
                let located = |message: &str| {
                    source.error(
                        Some(key.span()),
                        Some(&format!("contexts.\"{name_text}\".{}", key.get_ref())),
                        message.to_string(),
                    )
                };
                match (key.get_ref().as_ref(), value.get_ref()) {
                    ("read_only", DeValue::Boolean(b)) => setting.read_only |= *b,
                    ("read_only", _) => {
                        errors.push(located(
                            "expected true or false; the context counts as read-only",
                        ));
                        setting.read_only = true;
                        setting.broken = true;
                    }
                    ("recorder", DeValue::String(text)) if text.as_ref() == "off" => {
                        setting.recorder = Some(crate::team::RecorderChoice::Off);
                    }
                    ("recorder", DeValue::String(text)) => {
                        match crate::team::RecorderRef::parse(text) {
                            Ok(service) => {
                                setting.recorder =
                                    Some(crate::team::RecorderChoice::Service(service));
                            }
                            Err(why) => errors.push(located(&format!(
                                "{why}, or \"off\"; the default Service is used"
                            ))),
                        }
                    }
                    ("recorder", _) => errors.push(located(
                        "expected \"NAMESPACE/NAME\" or \"off\"; the default Service is used",
                    )),
                    ("tenant_label", DeValue::String(text)) if !text.is_empty() => {
                        setting.analysis.tenant_label = Some(text.to_string());
                    }
                    ("tenant_label", _) => errors.push(located(
                        "expected a namespace label key such as \"team\"; the default labels are used",
                    )),
                    ("tenant_patterns", DeValue::Array(items)) => {
                        let parsed: Result<Vec<_>, String> = items
                            .iter()
                            .map(|item| match item.get_ref() {
                                DeValue::String(text) => parse_name_pattern(text),
                                _ => Err("expected strings \"TENANT=PATTERN\"".into()),
                            })
                            .collect();
                        match parsed {
                            Ok(patterns) => setting.analysis.tenant_patterns = patterns,
                            Err(why) => errors.push(located(&format!(
                                "{why}; no pattern of this entry is used"
                            ))),
                        }
                    }
                    ("tenant_patterns", _) => errors.push(located(
                        "expected a list such as [\"acme=acme-*\"]; no pattern is used",
                    )),
                    ("ipblock_pods", DeValue::String(text)) => match text.parse() {
                        Ok(mode) => setting.analysis.ipblock_pods = Some(mode),
                        Err(why) => errors.push(located(&format!("{why}; auto is used"))),
                    },
                    ("ipblock_pods", _) => errors.push(located(
                        "expected \"match\", \"ignore\" or \"auto\"; auto is used",
                    )),
                    ("cni", DeValue::String(text)) => match text.parse() {
                        Ok(cni) => setting.analysis.cni = Some(cni),
                        Err(why) => errors.push(located(&format!("{why}; auto is used"))),
                    },
                    ("cni", _) => errors.push(located(
                        "expected \"auto\", \"cilium\", \"calico\" or \"generic\"; auto is used",
                    )),
                    ("namespaces", DeValue::Array(items)) => {
                        let names: Option<Vec<String>> = items
                            .iter()
                            .map(|item| match item.get_ref() {
                                DeValue::String(text) if !text.is_empty() => Some(text.to_string()),
                                _ => None,
                            })
                            .collect();
                        match names {
                            Some(names) => setting.namespaces = names,
                            None => errors.push(located(
                                "expected namespace names such as [\"acme-web\"]; the whole cluster is watched",
                            )),
                        }
                    }
                    ("namespaces", _) => errors.push(located(
                        "expected a list such as [\"acme-web\", \"acme-api\"]; the whole cluster is watched",
                    )),
                    (other, _) => errors.push(located(&format!(
                        "unknown setting `{other}`; expected read_only, recorder, tenant_label, tenant_patterns, ipblock_pods, cni or namespaces"
                    ))),
                }
            }
            settings.contexts.insert(name_text, setting);
        }
    }
    errors.sort_by_key(|e| e.line);
    (settings, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (ContextSettings, Vec<ConfigError>) {
        contexts_from(&SourceFile::new("contexts.toml", text))
    }

    #[test]
    fn read_only_contexts_are_named_with_their_line() {
        let (settings, errors) = load(
            "[contexts.\"prod@eu\"]\nread_only = true\n\n[contexts.staging]\nread_only = false\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            settings.read_only("prod@eu").as_deref(),
            Some("context `prod@eu` is read-only (contexts.toml:1)")
        );
        assert_eq!(settings.read_only("staging"), None);
        assert_eq!(settings.read_only("other"), None);
    }

    #[test]
    fn a_context_names_its_recorder_or_turns_it_off() {
        let (settings, errors) = load(
            "[contexts.a]\nrecorder = \"team/rec\"\n[contexts.b]\nrecorder = \"off\"\n[contexts.c]\nrecorder = \"x\"\n",
        );
        assert_eq!(
            settings.recorder("a"),
            Some(&crate::team::RecorderChoice::Service(
                crate::team::RecorderRef::parse("team/rec").unwrap()
            ))
        );
        assert_eq!(
            settings.recorder("b"),
            Some(&crate::team::RecorderChoice::Off)
        );
        assert_eq!(settings.recorder("c"), None);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].to_string().contains("contexts.toml:6"),
            "{errors:?}"
        );
    }

    #[test]
    fn broken_entries_fail_closed_with_located_errors() {
        let (settings, errors) =
            load("[contexts.prod]\nread_only = \"yes\"\ncolour = 1\n[other]\n");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "contexts.toml:2: `contexts.\"prod\".read_only`: expected true or false; the context counts as read-only",
                "contexts.toml:3: `contexts.\"prod\".colour`: unknown setting `colour`; expected read_only, recorder, tenant_label, tenant_patterns, ipblock_pods, cni or namespaces",
                "contexts.toml:4: `other`: unknown section; expected [contexts.\"NAME\"]",
            ]
        );
        assert!(settings.read_only("prod").is_some());
        let (settings, errors) = load("[contexts.prod\nread_only = true\n");
        assert_eq!(errors.len(), 1);
        assert!(
            settings
                .read_only("anything")
                .is_some_and(|r| r.contains("every context is read-only")),
            "{settings:?}"
        );
    }

    #[test]
    fn a_context_sets_its_analysis_defaults_and_bad_values_are_located_and_ignored() {
        let (settings, errors) = load(concat!(
            "[contexts.a]\n",
            "tenant_label = \"team\"\n",
            "tenant_patterns = [\"acme=acme-*\", \"globex=gx-*\"]\n",
            "ipblock_pods = \"ignore\"\n",
            "cni = \"calico\"\n",
            "[contexts.b]\n",
            "tenant_patterns = [\"acme\"]\n",
            "ipblock_pods = \"sometimes\"\n",
            "cni = \"flannel\"\n",
        ));
        let a = settings.analysis("a").unwrap();
        assert_eq!(a.tenant_label.as_deref(), Some("team"));
        assert_eq!(
            a.tenant_patterns,
            vec![
                ("acme".to_string(), "acme-*".to_string()),
                ("globex".to_string(), "gx-*".to_string())
            ]
        );
        assert_eq!(
            a.ipblock_pods,
            Some(crate::policy::IpBlockPodsSetting::Ignore)
        );
        assert_eq!(settings.analysis("b"), Some(&AnalysisChoices::default()));
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            a.cni,
            Some(crate::policy::CniSetting::Fixed(crate::policy::Cni::Calico))
        );
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("contexts.toml:7:") && shown[0].contains("TENANT=PATTERN"));
        assert!(shown[1].starts_with("contexts.toml:8:") && shown[1].contains("auto is used"));
        assert!(
            shown[2].starts_with("contexts.toml:9:") && shown[2].contains("\"flannel\""),
            "{shown:?}"
        );
        // Analysis settings are not safety settings: a bad one does not make a context read-only.
        assert_eq!(settings.read_only("b"), None);
    }

    #[test]
    fn a_context_names_the_namespaces_to_watch() {
        let (settings, errors) = load(concat!(
            "[contexts.a]\n",
            "namespaces = [\"acme-web\", \"acme-api\"]\n",
            "[contexts.b]\n",
            "namespaces = \"acme-web\"\n",
        ));
        assert_eq!(settings.namespaces("a"), ["acme-web", "acme-api"]);
        assert!(settings.namespaces("b").is_empty() && settings.namespaces("c").is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].to_string().starts_with("contexts.toml:4:"),
            "{errors:?}"
        );
    }
}
