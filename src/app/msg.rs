//! Messages into `update` and effects out of it. Both are plain data.

use super::mouse::MouseInput;
use super::rollback::{Prepared, RollbackNews};
use crate::config::keys::KeyPress;
use crate::history::{Change, Revision};
use crate::isolation::analysis::Analysis;
use crate::metrics::Reading;
use crate::model::{ClusterObject, ObjectRef, ResourceKind};
use crate::rollback::RollbackKind;

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyPress),
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
    /// The runtime has applied a batch of messages and is about to draw: time to rebuild what
    /// derives from the snapshot (once per batch, not once per watch event).
    Settle,
    /// The engine's analysis of the snapshot as it was when `Effect::Analyze` was issued.
    Analyzed(Box<Analysis>),
    /// A message for the status line (e.g. an effect failed).
    Notice(String),
    /// The console now talks to another context: forget the old cluster.
    ContextSwitched(String),
    /// One round of agent figures (direct scraping or Prometheus).
    Metrics(Box<Reading>),
    /// A metrics round is under way: `done` of `total` agents answered so far.
    MetricsProgress {
        done: usize,
        total: usize,
    },
    /// News from the revision journal thread.
    Journal(JournalNews),
    /// News from a rollback in progress.
    Rollback(RollbackNews),
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
}

/// What the journal thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalNews {
    Opened(std::path::PathBuf),
    /// The newest revision of every policy the journal knows.
    Changes(Box<std::collections::BTreeMap<ObjectRef, Change>>),
    /// The newest revision of the policies a burst of watch events revised (the others are as
    /// they were).
    ChangesFor(Box<std::collections::BTreeMap<ObjectRef, Change>>),
    /// A policy's revisions, oldest first, as asked by `Effect::LoadHistory`.
    Revisions {
        policy: ObjectRef,
        revisions: Result<Vec<Revision>, String>,
    },
    /// The journal's policy changes and the audit's rollbacks, for `:timeline`.
    Timeline(Result<Vec<crate::timeline::Event>, String>),
    /// The journal cannot be used (or one write failed); shown, never fatal.
    Failed(String),
}

/// A watcher's news, already converted to Palisade's model.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// The watcher (re)started listing; the data shown may be stale until `Listed`.
    Restarted,
    /// A complete list: replaces every object of the kind at once.
    Listed(Vec<ClusterObject>),
    Applied(Box<ClusterObject>),
    Deleted {
        namespace: Option<String>,
        name: String,
    },
    /// The watch failed; it retries with backoff. The data shown is what was last seen.
    Failed(String),
}

/// What `update` asks the runtime to do. Results come back as `Msg`s.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// Run the isolation analysis of the current snapshot off the UI thread; the result comes
    /// back as `Msg::Analyzed`.
    Analyze,
    /// Switch to another built-in theme.
    SetTheme(String),
    /// Reconnect to another kubeconfig context; the watchers restart.
    SwitchContext(String),
    /// Ask the journal for a policy's revisions; they come back as `JournalNews::Revisions`.
    LoadHistory(ObjectRef),
    /// Ask the journal for the timeline's events (namespace → tenant for attribution); they come
    /// back as `JournalNews::Timeline`.
    LoadTimeline(std::collections::BTreeMap<String, Option<String>>),
    /// Rollback, step 1–4: plan, diff, blast radius and pre-flight (`RollbackNews::Prepared`).
    PrepareRollback {
        policy: ObjectRef,
        kind: RollbackKind,
    },
    /// Rollback, steps 5–6 once confirmed: the server-side dry run (a refusal is audited).
    DryRunRollback {
        prepared: Box<Prepared>,
        reason: String,
        acknowledge_owner: bool,
    },
    /// Rollback, steps 7–9: the guarded apply, verification and the audit record.
    ApplyRollback {
        prepared: Box<Prepared>,
        reason: String,
        acknowledge_owner: bool,
        dry_run: String,
    },
    /// The operator left after a successful dry run: audited as a dry run only.
    AbandonRollback {
        prepared: Box<Prepared>,
        reason: String,
        dry_run: String,
    },
    /// Save the tour's progress (the current step, 0-based) for the next start.
    SaveTour(usize),
    /// The tour's rollback rehearsal: break this policy's DNS egress (port 5353) — only on the
    /// demo cluster; the runtime refuses elsewhere.
    TourBreak(ObjectRef),
}
