//! `palisade check`: validation + lint; exit 0 clean, 1 on findings at or above `--fail-on`,
//! 2 on bad input.

use std::process::ExitCode;

use color_eyre::eyre::Result;

use super::{input, render};
use crate::cli::{CheckArgs, CheckFormat, ClusterArgs};
use crate::isolation::findings::Finding;
use crate::isolation::intent::check_intent;
use crate::isolation::lint::lint;
use crate::progress::{Phase, Progress};

pub async fn run(args: &CheckArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let intent = match args.intent.as_deref().map(input::read_intent).transpose() {
        Ok(intent) => intent,
        Err(err) => {
            eprintln!("palisade: error: {err}");
            return Ok(ExitCode::from(input::BAD_INPUT));
        }
    };
    let progress = Progress::stderr(args.analysis.quiet);
    let input = match input::load_reported(&args.analysis, cluster, input::Reader::Check, &progress)
        .await
    {
        Ok(input) => input,
        Err(code) => return Ok(code),
    };
    progress.show(&Phase::step("building classes"));
    let engine = input.engine();
    progress.show(&Phase::step("running the lint rules"));
    let mut findings = lint(&engine, &input.snapshot, &input.tenant_rules);
    if let Some(intent) = &intent {
        progress.show(&Phase::step("checking the intent"));
        findings.extend(check_intent(
            intent,
            &engine,
            &input.snapshot,
            &input.tenant_rules,
        ));
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.object.cmp(&b.object))
        });
    }
    progress.finish();
    let coverage = input.coverage.as_ref();
    print!(
        "{}",
        match args.format {
            CheckFormat::Text => render::coverage_text(coverage) + &text(&findings),
            CheckFormat::Json => render::with_coverage(
                "findings",
                serde_json::to_value(&findings).unwrap_or_default(),
                coverage,
            ),
        }
    );
    // A tier kind that could not be read leaves the check incomplete whatever it found; kinds
    // Palisade does not evaluate are reported, and do not change the exit code.
    let untrustworthy = coverage.is_some_and(|c| !c.trustworthy());
    let failing = untrustworthy || findings.iter().any(|f| f.severity >= args.fail_on);
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "ok: no findings\n".to_string();
    }
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!("{f}\n        fix: {}\n", f.hint));
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    use crate::isolation::findings::Severity::{Error, Info, Warning};
    out.push_str(&format!(
        "\n{} error(s), {} warning(s), {} info\n",
        count(Error),
        count(Warning),
        count(Info)
    ));
    out
}
