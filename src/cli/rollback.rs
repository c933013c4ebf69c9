//! `palisade rollback`.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use crate::rollback::RollbackKind;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("action").required(true).args(["to", "restore", "remove", "undo"])))]
pub struct RollbackArgs {
    #[command(flatten)]
    pub scope: super::ScopeArgs,
    /// The policy, as NAMESPACE/NAME, a tier policy as cnp/NAME, anp/NAME or banp/NAME, or a
    /// CNI policy as ciliumnp/NAMESPACE/NAME, ccnp/NAME (Calico: caliconp/NAMESPACE/NAME,
    /// gnp/NAME, ...)
    #[arg(value_name = "NS/NAME|cnp/NAME")]
    pub policy: String,
    /// Revert the live policy to this journal revision, or to `last-applied`: the spec and
    /// labels of its kubectl.kubernetes.io/last-applied-configuration (no journal needed)
    #[arg(long, value_name = "REV|last-applied", value_parser = parse_revision)]
    pub to: Option<u32>,
    /// Re-create the deleted policy (its last spec, or --revision REV)
    #[arg(long)]
    pub restore: bool,
    /// With --restore: the revision to re-create
    #[arg(long, value_name = "REV", requires = "restore")]
    pub revision: Option<u32>,
    /// Delete the live policy (e.g. a new deny that broke traffic)
    #[arg(long)]
    pub remove: bool,
    /// Reverse the last successful rollback of this policy
    #[arg(long)]
    pub undo: bool,
    /// Why (free text or a ticket id); recorded in the audit
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Do not ask for the typed confirmation
    #[arg(long)]
    pub yes: bool,
    /// Stop after the server-side dry run
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse every write (also per context in contexts.toml)
    #[arg(long)]
    pub read_only: bool,
    /// Proceed although a GitOps controller owns the policy (recorded in the audit)
    #[arg(long)]
    pub ack_gitops: bool,
    /// Suspend the policy's GitOps owner first (Flux Kustomization: spec.suspend; Argo CD
    /// Application: its automated sync), as a guarded, audited write of its own
    #[arg(long)]
    pub suspend_gitops: bool,
    /// Journal file (default: the context's journal in the data dir); the audit goes next to it
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// How long to wait for the watch to show the result
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub verify_timeout: u64,
    #[command(flatten)]
    pub recorder: super::RecorderArgs,
}

impl RollbackArgs {
    pub fn kind(&self) -> RollbackKind {
        match (self.to, self.restore, self.remove) {
            (Some(to), _, _) => RollbackKind::Revert { to },
            (None, true, _) => RollbackKind::Restore {
                revision: self.revision,
            },
            (None, false, true) => RollbackKind::Remove,
            _ => RollbackKind::Undo,
        }
    }
}

/// A journal revision (1, 2, …) or `last-applied` (the synthetic revision 0).
fn parse_revision(text: &str) -> Result<u32, String> {
    use crate::rollback::last_applied;
    if text == last_applied::ARG {
        return Ok(last_applied::NUMBER);
    }
    match text.parse::<u32>() {
        Ok(0) => Err(format!(
            "journal revisions start at 1 (`{}` is the kubectl last-applied configuration)",
            last_applied::ARG
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "expected a revision number or `{}`",
            last_applied::ARG
        )),
    }
}
