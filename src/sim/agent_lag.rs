//! `--agent-lag`: the demo's deliberate drift. A lagging node's agent enforces the policies as
//! they were some seconds ago, so after a change its flows disagree with the policies for that
//! long, then agree again by themselves.

use std::str::FromStr;
use std::time::Duration;

use super::parse_duration;
use crate::flows::Name;

/// The demo's lag when none is asked for: the last node, this long.
pub const DEFAULT_LAG: Duration = Duration::from_secs(20);
/// Longer lags would only keep more old evaluations.
pub const MAX_LAG: Duration = Duration::from_secs(3600);

/// Which agents lag, and by how much.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AgentLag {
    /// The demo's: the last node, [`DEFAULT_LAG`].
    #[default]
    Default,
    /// Every agent is up to date (`--agent-lag none`).
    Off,
    Nodes(Vec<(String, Duration)>),
}

/// One `--agent-lag` value: `NODE=SECS` (or a duration such as `1500ms`, `2m`) or `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LagArg {
    None,
    Node(String, Duration),
}

impl FromStr for LagArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "none" {
            return Ok(LagArg::None);
        }
        let usage = || format!("{text:?}: expected NODE=SECS (e.g. demo-node-c=20) or none");
        let (node, secs) = text.split_once('=').ok_or_else(usage)?;
        let (node, secs) = (node.trim(), secs.trim());
        if node.is_empty() {
            return Err(usage());
        }
        let lag = match secs.parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => parse_duration(secs)?,
        };
        if lag.is_zero() || lag > MAX_LAG {
            return Err(format!(
                "{text:?}: the lag must be more than 0 and at most {} s",
                MAX_LAG.as_secs()
            ));
        }
        Ok(LagArg::Node(node.to_string(), lag))
    }
}

impl AgentLag {
    /// From the repeated flag: nothing means the default; `none` stands alone.
    pub fn from_args(args: &[LagArg]) -> Result<AgentLag, String> {
        if args.is_empty() {
            return Ok(AgentLag::Default);
        }
        if args.contains(&LagArg::None) {
            return match args.len() {
                1 => Ok(AgentLag::Off),
                _ => Err("--agent-lag none cannot be combined with NODE=SECS".into()),
            };
        }
        let mut nodes: Vec<(String, Duration)> = Vec::new();
        for arg in args {
            if let LagArg::Node(node, lag) = arg {
                if nodes.iter().any(|(n, _)| n == node) {
                    return Err(format!("--agent-lag: node {node} given twice"));
                }
                nodes.push((node.clone(), *lag));
            }
        }
        Ok(AgentLag::Nodes(nodes))
    }

    /// The lagging nodes with their lag in seconds, checked against the cluster's nodes.
    pub fn resolve(&self, nodes: &[String]) -> Result<Vec<(Name, f64)>, String> {
        match self {
            AgentLag::Off => Ok(Vec::new()),
            AgentLag::Default => Ok(nodes
                .last()
                .map(|n| (Name::from(n.as_str()), DEFAULT_LAG.as_secs_f64()))
                .into_iter()
                .collect()),
            AgentLag::Nodes(lags) => lags
                .iter()
                .map(|(node, lag)| {
                    if nodes.contains(node) {
                        Ok((Name::from(node.as_str()), lag.as_secs_f64()))
                    } else {
                        Err(format!(
                            "--agent-lag: no node {node} in the demo cluster (nodes: {})",
                            nodes.join(", ")
                        ))
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(texts: &[&str]) -> Result<AgentLag, String> {
        let parsed: Result<Vec<LagArg>, String> = texts.iter().map(|t| t.parse()).collect();
        AgentLag::from_args(&parsed?)
    }

    #[test]
    fn lags_parse_as_node_and_seconds_or_none() {
        let nodes = ["demo-node-a".to_string(), "demo-node-c".to_string()];
        assert_eq!(
            args(&[]).unwrap().resolve(&nodes).unwrap(),
            [(Name::from("demo-node-c"), 20.0)]
        );
        assert_eq!(args(&["none"]).unwrap().resolve(&nodes).unwrap(), []);
        let two = args(&["demo-node-a=5", "demo-node-c=1500ms"]).unwrap();
        assert_eq!(
            two.resolve(&nodes).unwrap(),
            [
                (Name::from("demo-node-a"), 5.0),
                (Name::from("demo-node-c"), 1.5)
            ]
        );
    }

    #[test]
    fn bad_lags_say_what_is_wrong() {
        let nodes = ["demo-node-a".to_string()];
        for (bad, says) in [
            (&["demo-node-a"][..], "expected NODE=SECS"),
            (&["=5"], "expected NODE=SECS"),
            (&["demo-node-a=0"], "more than 0"),
            (&["demo-node-a=9999"], "at most 3600"),
            (&["demo-node-a=soon"], "expected a duration"),
            (&["none", "demo-node-a=5"], "cannot be combined"),
            (&["demo-node-a=5", "demo-node-a=6"], "given twice"),
        ] {
            let error = args(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
        let unknown = args(&["node-z=5"]).unwrap().resolve(&nodes).unwrap_err();
        assert!(unknown.contains("no node node-z"), "{unknown}");
        assert!(unknown.contains("demo-node-a"), "{unknown}");
    }
}
