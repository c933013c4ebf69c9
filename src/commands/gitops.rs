//! `palisade gitops suspended [-o text|json]`: the GitOps owners Palisade suspended before a
//! rollback (audit records of kind `suspend`, outcome done, in this journal's audit and the
//! team's recorder's) that the cluster still shows suspended, with who, when, why and the
//! command to resume each. Exit 0, also when there are none; an owner that cannot be read is
//! listed with the reason (a user whose Role does not cover its namespace: the API server's
//! 403). `-n` keeps the suspensions made for policies in those namespaces.

use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr};
use k8s_openapi::jiff::Timestamp;

use super::history::journal_path;
use crate::cli::{ClusterArgs, GitOpsCommand, GitOpsOutput, GitOpsSuspendedArgs};
use crate::cluster::{connect, resolve_kubeconfig};
use crate::config::{load_contexts, user_config_dir};
use crate::history::Journal;
use crate::rollback::audit;
use crate::rollback::reminders::reminders;
use crate::team::client::TeamClient;
use crate::team::sync::merge_audit;

pub async fn run(command: &GitOpsCommand, cluster: &ClusterArgs) -> Result<ExitCode> {
    match command {
        GitOpsCommand::Suspended(args) => suspended(args, cluster).await,
    }
}

async fn suspended(args: &GitOpsSuspendedArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let path = journal_path(args.journal.as_deref(), cluster)?;
    let local = match Journal::open_existing(&path) {
        Ok(journal) => audit::records(&journal, None).wrap_err("cannot read the audit")?,
        Err(crate::history::Error::Missing(_)) => Vec::new(),
        Err(err) => {
            return Err(err)
                .wrap_err_with(|| format!("cannot open the journal {}", path.display()));
        }
    };
    let source = resolve_kubeconfig(cluster.kubeconfig.as_deref())?;
    let connection = connect(source, cluster.context.as_deref()).await?;
    let (contexts, _) = load_contexts(user_config_dir().as_deref());
    let choice = args.recorder.choice(contexts.recorder(&connection.context));
    // A suspension made from another laptop is in the team's audit, not in this journal's.
    let records = match TeamClient::of(&connection, &choice) {
        None => local,
        Some(team) => match team.audit_all().await {
            Ok(shared) => merge_audit(local, shared),
            Err(err) => {
                eprintln!("palisade: {err}; this journal's audit only");
                local
            }
        },
    };
    let records: Vec<_> = records
        .into_iter()
        .filter(|r| super::timeline::within(&r.object, &args.namespaces))
        .collect();
    let found = reminders(&connection.client, &records).await;
    let now = Timestamp::now();
    match args.output {
        GitOpsOutput::Json => println!("{}", serde_json::to_string_pretty(&found)?),
        GitOpsOutput::Text if found.is_empty() => {
            println!("no GitOps suspension made by palisade is still in place")
        }
        GitOpsOutput::Text => {
            for r in &found {
                println!("{}", r.status_line(now));
                println!("  {} for the rollback of {}: {}", r.at, r.policy, r.reason);
                if let Some(why) = &r.unknown {
                    println!("  state unknown: {why}");
                }
                println!("  resume: {}", r.resume);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
