//! `palisade analyze`: exit 0 with the result on stdout, 2 on input it cannot analyse as given
//! (the same classification as `check`, see `input::Reader`).

use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};

use super::input::{self, Input};
use super::render;
use crate::cli::{AnalyzeArgs, AnalyzeOutput, ClusterArgs};
use crate::isolation::matrix::tenant_matrix;
use crate::isolation::unreadable::UnreadableLabels;
use crate::policy::{
    Engine, Peer, connlist, explain, format_connlist, format_undecided, render_explanation,
};
use crate::progress::{Phase, Progress};

pub async fn run(args: &AnalyzeArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let progress = Progress::stderr(args.analysis.quiet);
    let input = match input::load_reported(
        &args.analysis,
        cluster,
        input::Reader::Analyze,
        &progress,
    )
    .await
    {
        Ok(input) => input,
        Err(code) => return Ok(code),
    };
    let text = output(args, &input, &progress);
    progress.finish();
    print!("{}", text?);
    Ok(ExitCode::SUCCESS)
}

fn output(args: &AnalyzeArgs, input: &Input, progress: &Progress) -> Result<String> {
    progress.show(&Phase::step("building classes"));
    let engine = input.engine();
    for error in engine.validation_errors() {
        progress.note(&format!("warning: invalid policy left out: {error}"));
    }
    // A namespace-scoped user who cannot read the namespaces' labels: what depends on them is
    // undecided, never closed.
    let unreadable = (input.coverage.as_ref().and_then(|c| c.scope.as_ref()))
        .filter(|scope| !scope.labels_known)
        .map(|_| UnreadableLabels::of(&engine));
    let coverage = input.coverage.clone().map(|mut coverage| {
        if let Some(unreadable) = &unreadable {
            let ids = unreadable.policies.iter().map(|p| p.id.clone());
            coverage.scope = (coverage.scope.take()).map(|scope| scope.with_undecided(ids));
        }
        coverage
    });
    let coverage = coverage.as_ref();
    if let Some(pair) = &args.explain {
        progress.show(&Phase::step("explaining"));
        let text = explain_pair(input, &engine, &pair[0], &pair[1])?;
        return Ok(render::coverage_text(coverage) + &text);
    }
    progress.show(&Phase::step(match args.output {
        AnalyzeOutput::Matrix => "computing the matrix",
        _ => "computing the connections",
    }));
    let lines = || {
        let mut lines = connlist(&engine, &input.peers);
        if let Some(unreadable) = &unreadable {
            unreadable.add_to_connlist(&engine, &input.peers, &mut lines);
        }
        lines
    };
    let text = match args.output {
        AnalyzeOutput::Json => {
            return Ok(render::conn_json(&lines(), coverage));
        }
        AnalyzeOutput::Connlist => {
            let lines = lines();
            format_connlist(&lines) + &format_undecided(&lines)
        }
        AnalyzeOutput::Table => render::conn_table(&lines()),
        AnalyzeOutput::Matrix => {
            let mut matrix = tenant_matrix(&engine, &input.snapshot, &input.tenant_rules);
            if let Some(unreadable) = &unreadable {
                unreadable.mark_matrix(&engine, &input.tenant_rules, &mut matrix);
            }
            render::matrix_text_scoped(&matrix, coverage.is_some_and(|c| c.scope.is_some()))
        }
    };
    // What the result could not see comes first, where it cannot be missed.
    Ok(render::coverage_text(coverage) + &text)
}

fn explain_pair(input: &Input, engine: &Engine, src: &str, dst: &str) -> Result<String> {
    let find = |name: &str| -> Result<Peer> {
        let peer = input
            .peers
            .iter()
            .find(|p| p.name == name || p.name.split('[').next() == Some(name))
            .ok_or_else(|| eyre!("no workload named `{name}`; names are as in the connlist output, e.g. ns/name[Deployment] or ns/name"))?;
        engine
            .class_of(&peer.pod)
            .map(Peer::Class)
            .ok_or_else(|| eyre!("`{name}` has no pods to analyse"))
    };
    let (src_peer, dst_peer) = (find(src)?, find(dst)?);
    Ok(render_explanation(
        &explain(engine, &src_peer, &dst_peer),
        src,
        dst,
    ))
}
