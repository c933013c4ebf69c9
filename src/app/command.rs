//! The `:` command line: parsing and completion. Pure.

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Tenants,
    Matrix,
    Policies,
    Findings,
    Violations,
    Latency,
    Agents,
    /// `:flows`: the dataplane's flows beside palisade's verdict.
    Flows,
    /// `:history` for the selected policy, `:history NS/NAME` for another.
    History(Option<String>),
    /// `:timeline`, or `:timeline TENANT`.
    Timeline(Option<String>),
    /// `:ctx` lists contexts; `:ctx NAME` switches.
    Context(Option<String>),
    Theme(String),
    Help,
    Quit,
    /// `:tour` starts or resumes the guided tour; `:tour off` leaves, `:tour restart`.
    Tour(Option<String>),
}

/// Command names, for completion and help.
pub const NAMES: &[&str] = &[
    "tenants",
    "matrix",
    "policies",
    "findings",
    "ctx",
    "theme",
    "violations",
    "latency",
    "agents",
    "flows",
    "history",
    "timeline",
    "help",
    "quit",
    "tour",
];

pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Err("empty command; try :matrix, :policies, :findings, :tenants or :ctx".into());
    };
    let arg = words.next().map(str::to_string);
    Ok(match name {
        "tenants" | "tree" => Command::Tenants,
        "matrix" => Command::Matrix,
        "policies" | "netpol" | "np" => Command::Policies,
        "findings" => Command::Findings,
        "ctx" | "context" => Command::Context(arg),
        "theme" => Command::Theme(arg.ok_or("usage: :theme NAME")?),
        "help" => Command::Help,
        "q" | "quit" => Command::Quit,
        "violations" | "drops" => Command::Violations,
        "latency" => Command::Latency,
        "agents" => Command::Agents,
        "flows" => Command::Flows,
        "history" => Command::History(arg),
        "timeline" => Command::Timeline(arg),
        "tour" => Command::Tour(arg),
        other => {
            return Err(format!(
                "unknown command `{other}`; press tab to see the commands"
            ));
        }
    })
}

/// Completes the word being typed. `arguments` lists candidates for the command's argument
/// (contexts for `ctx`, themes for `theme`). Returns the new line and the candidates shown.
pub fn complete(line: &str, arguments: &dyn Fn(&str) -> Vec<String>) -> (String, Vec<String>) {
    let (head, word) = match line.rsplit_once(' ') {
        Some((head, word)) => (Some(head), word),
        None => (None, line),
    };
    let candidates: Vec<String> = match head {
        None => NAMES.iter().map(|n| n.to_string()).collect(),
        Some(command) => arguments(command.trim()),
    };
    let matching: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.starts_with(word))
        .collect();
    let completed = match matching.as_slice() {
        [] => word.to_string(),
        [only] => format!("{only} "),
        many => common_prefix(many),
    };
    let line = match head {
        Some(head) => format!("{head} {completed}"),
        None => completed,
    };
    (line, matching)
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let len = words.iter().skip(1).fold(first.len(), |len, w| {
        first
            .bytes()
            .zip(w.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count()
    });
    first[..len].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_args(_: &str) -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn parses_views_and_arguments() {
        assert_eq!(parse("matrix"), Ok(Command::Matrix));
        assert_eq!(parse(" netpol "), Ok(Command::Policies));
        assert_eq!(parse("ctx prod"), Ok(Command::Context(Some("prod".into()))));
        assert_eq!(parse("ctx"), Ok(Command::Context(None)));
        assert!(parse("theme").unwrap_err().contains("usage"));
        assert!(
            parse("frobnicate")
                .unwrap_err()
                .contains("unknown command `frobnicate`")
        );
        assert_eq!(parse("latency"), Ok(Command::Latency));
        assert_eq!(parse("flows"), Ok(Command::Flows));
        assert_eq!(parse("history"), Ok(Command::History(None)));
        assert_eq!(
            parse("history a/b"),
            Ok(Command::History(Some("a/b".into())))
        );
    }

    #[test]
    fn completes_commands_and_arguments() {
        assert_eq!(
            complete("ma", &no_args),
            ("matrix ".to_string(), vec!["matrix".to_string()])
        );
        let (line, shown) = complete("t", &no_args);
        assert_eq!(line, "t");
        assert_eq!(shown, ["tenants", "theme", "timeline", "tour"]);
        let (line, _) = complete("te", &no_args);
        assert_eq!(line, "tenants ");
        let themes = |cmd: &str| {
            if cmd == "theme" {
                vec!["dark".into(), "light".into()]
            } else {
                vec![]
            }
        };
        assert_eq!(complete("theme l", &themes).0, "theme light ");
    }
}
