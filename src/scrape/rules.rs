//! Which pods are CNI agents and where their metrics are: one [`AgentRule`] per CNI, built in,
//! overridable key by key in the user's `agents.toml`, plus explicit `--metrics-url CNI=URL`s.
//!
//! ```toml
//! # ~/.config/palisade/agents.toml
//! [cilium]
//! namespace = "kube-system"        # default: any namespace
//! port = 9962
//! [cilium.selector]                # replaces the built-in selector whole
//! "k8s-app" = "cilium"
//! [antrea]
//! enabled = false                  # do not look for Antrea agents
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::config::{ConfigError, SourceFile};
use crate::metrics::Cni;

/// The user file with agent rules, in the user config dir.
pub const AGENTS_FILE: &str = "agents.toml";

/// How the agent's metrics port speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// How to find one CNI's agents among the cluster's pods, and how to reach their metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRule {
    pub cni: Cni,
    /// Only pods in this namespace; `None` for any namespace.
    pub namespace: Option<String>,
    /// Labels a pod must carry, all of them (never empty).
    pub selector: BTreeMap<String, String>,
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
    pub scheme: Scheme,
    /// For the Prometheus source: a PromQL regular expression (`job=~"..."`) matching the jobs
    /// that scrape these agents.
    pub job: String,
}

fn rule(cni: Cni, labels: &[(&str, &str)], port: u16, scheme: Scheme, job: &str) -> AgentRule {
    AgentRule {
        cni,
        namespace: None,
        selector: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        port,
        path: "/metrics".to_string(),
        scheme,
        job: job.to_string(),
    }
}

/// The built-in rules, in [`Cni::ALL`] order.
pub fn default_rules() -> Vec<AgentRule> {
    vec![
        rule(
            Cni::Cilium,
            &[("k8s-app", "cilium")],
            9962,
            Scheme::Http,
            ".*cilium.*",
        ),
        rule(
            Cni::Hubble,
            &[("k8s-app", "cilium")],
            9965,
            Scheme::Http,
            ".*hubble.*",
        ),
        rule(
            Cni::Calico,
            &[("k8s-app", "calico-node")],
            9091,
            Scheme::Http,
            ".*(calico|felix).*",
        ),
        rule(
            Cni::Antrea,
            &[("app", "antrea"), ("component", "antrea-agent")],
            10350,
            Scheme::Https,
            ".*antrea.*",
        ),
    ]
}

/// Reads `agents.toml` from `dir` (if there is one) over the built-in rules. Never fails: each
/// problem is a located warning and the built-in value stands in for the broken entry.
pub fn load_rules(dir: Option<&Path>) -> (Vec<AgentRule>, Vec<ConfigError>) {
    let Some(path) = dir.map(|d| d.join(AGENTS_FILE)) else {
        return (default_rules(), Vec::new());
    };
    match SourceFile::read_optional(&path) {
        Ok(source) => rules_from(source.as_ref()),
        Err(err) => (default_rules(), vec![err]),
    }
}

/// The built-in rules with `user`'s overrides applied; a file with a syntax error is ignored whole.
pub fn rules_from(user: Option<&SourceFile>) -> (Vec<AgentRule>, Vec<ConfigError>) {
    let mut rules = default_rules();
    let Some(source) = user else {
        return (rules, Vec::new());
    };
    let table = match DeTable::parse(&source.text) {
        Ok(table) => table,
        Err(err) => return (rules, vec![source.syntax_error(&err)]),
    };
    let mut errors = Vec::new();
    let mut disabled = Vec::new();
    for (name, value) in table.get_ref().iter() {
        let located = |span: Range<usize>, key: &str, message: String| {
            source.error(Some(span), Some(key), message)
        };
        let Some(cni) = Cni::from_name(name.get_ref()) else {
            let known: Vec<_> = Cni::ALL.iter().map(|c| c.name()).collect();
            errors.push(located(
                name.span(),
                name.get_ref(),
                format!("unknown CNI; expected one of {}", known.join(", ")),
            ));
            continue;
        };
        let DeValue::Table(entries) = value.get_ref() else {
            errors.push(located(
                value.span(),
                name.get_ref(),
                "expected a table of settings, e.g. [cilium] with port = 9962".into(),
            ));
            continue;
        };
        let Some(rule) = rules.iter_mut().find(|r| r.cni == cni) else {
            continue;
        };
        for (key, value) in entries.iter() {
            let key_name = format!("{}.{}", cni.name(), key.get_ref());
            let fail = |message: &str| located(key.span(), &key_name, message.to_string());
            match apply(rule, key.get_ref(), value.get_ref()) {
                Ok(Some(false)) => disabled.push(cni),
                Ok(_) => {}
                Err(message) => errors.push(fail(&message)),
            }
        }
    }
    rules.retain(|r| !disabled.contains(&r.cni));
    errors.sort_by_key(|e| e.line);
    (rules, errors)
}

/// Applies one `key = value` to a rule; `Ok(Some(enabled))` for the `enabled` key.
fn apply(rule: &mut AgentRule, key: &str, value: &DeValue) -> Result<Option<bool>, String> {
    let text = |what: &str| match value {
        DeValue::String(s) => Ok(s.to_string()),
        _ => Err(format!("expected {what} in quotes")),
    };
    match key {
        "enabled" => match value {
            DeValue::Boolean(b) => return Ok(Some(*b)),
            _ => return Err("expected true or false".into()),
        },
        "namespace" => {
            let ns = text("a namespace name")?;
            rule.namespace = (!ns.is_empty()).then_some(ns);
        }
        "port" => {
            let port = match value {
                DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
                _ => None,
            };
            rule.port = port
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or("expected a port number from 1 to 65535")?;
        }
        "path" => {
            let path = text("a URL path such as \"/metrics\"")?;
            if !path.starts_with('/') || path.contains(char::is_whitespace) {
                return Err(format!(
                    "`{path}` is not a URL path: it must start with `/` and have no spaces"
                ));
            }
            rule.path = path;
        }
        "scheme" => {
            rule.scheme = match text("\"http\" or \"https\"")?.as_str() {
                "http" => Scheme::Http,
                "https" => Scheme::Https,
                other => return Err(format!("unknown scheme `{other}`; expected http or https")),
            };
        }
        "job" => {
            let job = text("a PromQL regular expression")?;
            if job.is_empty() || job.contains('"') {
                return Err("expected a non-empty regular expression without `\"`".into());
            }
            rule.job = job;
        }
        "selector" => {
            let DeValue::Table(labels) = value else {
                return Err("expected a table of label = \"value\" pairs".into());
            };
            let mut selector = BTreeMap::new();
            for (label, v) in labels.iter() {
                let DeValue::String(v) = v.get_ref() else {
                    return Err(format!(
                        "label `{}`: expected a value in quotes",
                        label.get_ref()
                    ));
                };
                selector.insert(label.get_ref().to_string(), v.to_string());
            }
            if selector.is_empty() {
                return Err(
                    "an empty selector would match every pod; name at least one label".into(),
                );
            }
            rule.selector = selector;
        }
        other => {
            return Err(format!(
                "unknown setting `{other}`; expected enabled, namespace, selector, port, path, scheme or job"
            ));
        }
    }
    Ok(None)
}

/// Parses `--metrics-url CNI=URL` (http or https).
pub fn parse_metrics_url(text: &str) -> Result<(Cni, String), String> {
    let (cni, url) = text.split_once('=').ok_or_else(|| {
        format!("expected CNI=URL, e.g. cilium=http://10.0.0.5:9962/metrics, got `{text}`")
    })?;
    let cni = Cni::from_name(cni.trim()).ok_or_else(|| {
        let known: Vec<_> = Cni::ALL.iter().map(|c| c.name()).collect();
        format!("unknown CNI `{cni}`; expected one of {}", known.join(", "))
    })?;
    let url = url.trim();
    check_url(url)?;
    Ok((cni, url.to_string()))
}

/// An absolute http(s) URL with a host, as the HTTP client accepts it.
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("`{}` is not a URL: {e}", super::redact_url(url)))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(format!(
            "`{}`: expected an http:// or https:// URL with a host",
            super::redact_url(url)
        )),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
