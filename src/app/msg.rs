//! Messages into `update` and effects out of it. Both are plain data.

use super::rollback::{Attempt, RollbackNews};
use crate::config::keys::KeyPress;
use crate::flow::FlowId;
use crate::history::{Change, Revision};
use crate::isolation::analysis::Analysis;
use crate::metrics::Reading;
pub use crate::model::WatchEvent;
use crate::model::{ObjectRef, ResourceKind};
use crate::rollback::{DryRunPassed, RollbackKind};

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyPress),
    /// How far the text panes scroll, measured after a frame that changed it.
    ScrollLimits(super::state::ScrollLimits),
    /// The terminal's size changed (also sent once at start).
    Resize {
        width: u16,
        height: u16,
    },
    Mouse(MouseInput),
    /// Something a watcher saw.
    Watch {
        kind: ResourceKind,
        event: WatchEvent,
    },
    /// The served policy kinds Palisade does not evaluate, counted (after discovery, then every
    /// few minutes).
    Unevaluated(Vec<crate::model::Unevaluated>),
    /// The watchers see some namespaces only (see `model::NamespaceScope`).
    Scope(crate::model::NamespaceScope),
    /// The runtime has applied a batch of messages and is about to draw: time to rebuild what
    /// derives from the snapshot (once per batch, not once per watch event).
    Settle,
    /// The runtime's analyst counted its full builds and incremental updates.
    Analyst(super::changes::AnalystReport),
    /// The engine's analysis of the snapshot as it was when `Effect::Analyze` was issued.
    Analyzed {
        flow: FlowId,
        analysis: Box<Analysis>,
    },
    /// A message for the status line (e.g. an effect failed).
    Notice(String),
    /// The connection to another context asked by `Effect::SwitchContext` is ready (`Ok`: its
    /// context name) or failed.
    ContextConnected {
        flow: FlowId,
        result: Result<String, String>,
    },
    /// One round of agent figures (direct scraping or Prometheus).
    Metrics(Box<Reading>),
    /// A metrics round is under way: `done` of `total` agents answered so far.
    MetricsProgress {
        done: usize,
        total: usize,
    },
    /// News from a flow source (Hubble Relay, Goldmane): flows in batches, gaps, its state.
    Flows(crate::flows::FlowNews),
    /// News from the revision journal thread.
    Journal(JournalNews),
    /// News from a rollback in progress, for the flow that asked.
    Rollback {
        flow: FlowId,
        news: RollbackNews,
    },
    /// The console's own lag from receiving a watch event to drawing it, over recent frames.
    WatchLag {
        p50: std::time::Duration,
        p95: std::time::Duration,
    },
    /// The runtime read the tour's progress file at start (`saved`: the step it names); `offer`
    /// shows the first-start notice, `start` starts the tour (`palisade tour`).
    TourLoaded {
        saved: Option<usize>,
        offer: bool,
        start: bool,
    },
    /// The runtime refused the tour's rehearsal break (read-only, or not the demo cluster):
    /// nothing was changed, and the step says why.
    TourBreakRefused {
        policy: ObjectRef,
        reason: String,
    },
    /// What the changes of `Effect::ComputeRadii` close, by policy and revision.
    Radii {
        flow: FlowId,
        radii: Vec<((crate::history::PolicyKey, u32), crate::suspects::Radius)>,
    },
}

/// What the journal thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalNews {
    Opened(std::path::PathBuf),
    /// The newest revision of every policy the journal knows.
    Changes(Box<std::collections::BTreeMap<crate::history::PolicyKey, Change>>),
    /// The newest revision of the policies a burst of watch events revised (the others are as
    /// they were).
    ChangesFor(Box<std::collections::BTreeMap<crate::history::PolicyKey, Change>>),
    /// A policy's revisions, oldest first, as asked by `Effect::LoadHistory`.
    Revisions {
        flow: FlowId,
        policy: crate::history::PolicyKey,
        revisions: Result<Vec<Revision>, String>,
    },
    /// What the team's recorder added to a policy's history (or why it could not), for the
    /// history screen's title; the revisions follow as `Revisions` of the same flow.
    Team {
        flow: FlowId,
        policy: crate::history::PolicyKey,
        note: String,
    },
    /// Audit records of a policy for its history screen: the local journal's (after each
    /// `Revisions`), or the team recorder's; merged with those shown, each once (by uid).
    Audit {
        flow: FlowId,
        policy: crate::history::PolicyKey,
        records: Vec<crate::rollback::AuditRecord>,
    },
    /// The journal's policy changes and the audit's rollbacks, for `:timeline`.
    Timeline {
        flow: FlowId,
        events: Result<Vec<crate::timeline::Event>, String>,
    },
    /// The journal's newest policy changes of the last hours, for suspects
    /// (`Effect::LoadChanges`).
    RecentChanges(Result<super::suspects::Recent, String>),
    /// The journal cannot be used (or one write failed); shown, never fatal.
    Failed(String),
    /// The GitOps suspensions still in place, as status lines (`Effect::LoadGitOpsReminders`).
    GitOpsReminders(Vec<String>),
}

/// What `update` asks the runtime to do. Results come back as `Msg`s.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Give the terminal back to the shell and stop the process (job control); on resume the
    /// runtime takes the terminal again and redraws everything.
    Suspend,
    /// Run the isolation analysis of the current snapshot off the UI thread; the result comes
    /// back as `Msg::Analyzed` with the same flow.
    Analyze(FlowId),
    /// Switch to another built-in theme.
    SetTheme(String),
    /// Connect to another kubeconfig context, in a task (`Msg::ContextConnected`); the console
    /// moves to it with `Effect::AdoptContext` only if this is still the switch asked last.
    SwitchContext {
        flow: FlowId,
        name: String,
    },
    /// Replace the watchers, metrics and journal with those of the connection `flow` made.
    AdoptContext(FlowId),
    /// Read the audit's GitOps suspensions and which are still in place on the cluster; they
    /// come back as `JournalNews::GitOpsReminders`.
    LoadGitOpsReminders,
    /// Ask the journal for a policy's revisions; they come back as `JournalNews::Revisions`.
    LoadHistory {
        flow: FlowId,
        policy: crate::history::PolicyKey,
    },
    /// Ask the journal for the timeline's events (namespace → tenant for attribution); they come
    /// back as `JournalNews::Timeline`.
    LoadTimeline {
        flow: FlowId,
        tenants: std::collections::BTreeMap<String, Option<String>>,
    },
    /// Rollback, step 1–4: plan, diff, blast radius and pre-flight (`RollbackNews::Prepared`).
    PrepareRollback {
        flow: FlowId,
        policy: crate::history::PolicyKey,
        kind: RollbackKind,
    },
    /// Rollback, steps 5–6 once confirmed: the server-side dry run (a refusal is audited).
    DryRunRollback(Box<Attempt>),
    /// Rollback, before the apply when the operator chose it: suspend the GitOps owner (its own
    /// audited write, linked to the rollback's record); `RollbackNews::Suspended`, or `Finished`
    /// when it failed (the policy is then not written).
    SuspendOwner {
        attempt: Box<Attempt>,
        passed: DryRunPassed,
    },
    /// Rollback, steps 7–9: the guarded apply, verification and the audit record. The apply
    /// refuses unless the attempt's confirmation and the passed dry run are of the same plan.
    ApplyRollback {
        attempt: Box<Attempt>,
        passed: DryRunPassed,
    },
    /// The operator left the flow: after a passed dry run (`in_flight: None`, audited as a dry
    /// run only), or while the dry run or the apply was in flight (audited as abandoned, naming
    /// the step; an apply in flight still audits its own outcome).
    AbandonRollback {
        attempt: Box<Attempt>,
        dry_run: String,
        in_flight: Option<String>,
    },
    /// A dry run passed for a flow nobody is on any more: audited as a dry run only.
    AuditDroppedDryRun {
        attempt: Box<Attempt>,
        dry_run: String,
        why: String,
    },
    /// Ask the journal for its recent policy changes (`JournalNews::RecentChanges`).
    LoadChanges,
    /// Compute what each change closes on a copy of the snapshot, off the UI loop
    /// (`Msg::Radii`).
    ComputeRadii {
        flow: FlowId,
        changes: Vec<crate::suspects::PolicyChange>,
    },
    /// Record a NetworkPolicy or tier policy watch event in the revision journal.
    Journal(Box<PolicyRecord>),
    /// Save the tour's progress (the current step, 0-based) for the next start.
    SaveTour(usize),
    /// The tour's rollback rehearsal: break this policy's DNS egress (port 5353) — only on the
    /// demo cluster; the runtime refuses elsewhere.
    TourBreak(ObjectRef),
}

/// What the revision journal records of a NetworkPolicy or tier policy watch event.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyRecord {
    /// A complete list of one kind: seed (record the present, tombstone the vanished of that
    /// kind).
    Seed(
        crate::history::PolicyKind,
        Vec<crate::history::PolicyObject>,
    ),
    /// A complete list of one namespaced kind in these namespaces only (a namespace-scoped
    /// user): the vanished are tombstoned there only, other namespaces' histories kept.
    SeedWithin(
        crate::history::PolicyKind,
        Vec<String>,
        Vec<crate::history::PolicyObject>,
    ),
    /// One change; a deletion carries the object as the console last had it.
    Event(Box<crate::history::JournalEvent>),
}

/// A mouse event the console acts on (`mouse.rs` turns it into a selection or an action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseInput {
    Click { column: u16, row: u16 },
    WheelUp,
    WheelDown,
}
