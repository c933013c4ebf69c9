//! The console's revision journal: a thread that owns the SQLite connection, so a slow disk never
//! stalls a frame. The loop hands it NetworkPolicy and tier policy watch events; it writes each burst in one
//! transaction and answers with the newest change per policy, and with a policy's revisions
//! when the history screen asks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;

use k8s_openapi::jiff::Timestamp;
use tokio::sync::mpsc;

use crate::app::Msg;
use crate::app::msg::{JournalNews, PolicyRecord};
use crate::cluster::Connection;
use crate::commands::timeline::{TenantOf, audit_events, journal_events};
use crate::flow::FlowId;
use crate::history::{
    Journal, JournalEvent, JournalIdentity, PolicyKey, PolicyKind, PolicyObject,
    default_journal_path,
};

/// What the loop asks of the journal thread.
enum Request {
    /// A complete list of one kind (in these namespaces only, when given): seed (records the
    /// present, tombstones the vanished).
    Seed(PolicyKind, Option<Vec<String>>, Vec<PolicyObject>),
    Event(Box<JournalEvent>),
    /// A policy's revisions, for the history screen.
    Revisions(FlowId, PolicyKey),
    /// Policy changes and rollbacks for the timeline (namespace → tenant).
    Timeline(FlowId, BTreeMap<String, Option<String>>),
    /// The recent policy changes, for suspects.
    RecentChanges,
}

/// Where the journal lives for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalChoice {
    /// No journal; the reason is shown on the history screen.
    Off(String),
    /// This file, whatever the context (`--journal`, and the demo's own file).
    Fixed(PathBuf),
    /// The context's own journal under the data dir (what `palisade record` and `history` use).
    PerContext,
}

impl JournalChoice {
    /// The file for `connection`'s context.
    fn path(&self, connection: &Connection) -> Result<PathBuf, String> {
        match self {
            JournalChoice::Off(why) => Err(why.clone()),
            JournalChoice::Fixed(path) => Ok(path.clone()),
            JournalChoice::PerContext => {
                let identity = JournalIdentity {
                    server: connection.server.clone(),
                    context: connection.context.clone(),
                };
                default_journal_path(&identity).map_err(|e| e.to_string())
            }
        }
    }
}

/// The running journal thread of one context; dropping it lets the thread finish and exit.
pub struct JournalFeed {
    requests: std_mpsc::Sender<Request>,
    /// The file the thread opens (rollback steps open it too).
    path: PathBuf,
}

impl JournalFeed {
    /// Opens the journal on its own thread. Failures arrive as `JournalNews::Failed`.
    pub fn start(
        choice: &JournalChoice,
        connection: &Connection,
        tx: &mpsc::UnboundedSender<Msg>,
    ) -> Option<JournalFeed> {
        let path = match choice.path(connection) {
            Ok(path) => path,
            Err(why) => {
                let _ = tx.send(Msg::Journal(JournalNews::Failed(why)));
                return None;
            }
        };
        let (cluster, context) = (connection.server.clone(), connection.context.clone());
        let (requests, inbox) = std_mpsc::channel();
        let tx = tx.clone();
        let thread_path = path.clone();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || serve(thread_path, cluster, context, inbox, tx))
            .ok()?;
        Some(JournalFeed { requests, path })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Records what `update` asked to record of a policy watch event.
    pub fn record(&self, record: PolicyRecord) {
        let request = match record {
            PolicyRecord::Seed(kind, objects) => Request::Seed(kind, None, objects),
            PolicyRecord::SeedWithin(kind, namespaces, objects) => {
                Request::Seed(kind, Some(namespaces), objects)
            }
            PolicyRecord::Event(event) => Request::Event(event),
        };
        let _ = self.requests.send(request);
    }

    pub fn ask_revisions(&self, flow: FlowId, policy: PolicyKey) {
        let _ = self.requests.send(Request::Revisions(flow, policy));
    }

    /// Merges the policy's revisions on the team's recorder into the journal (in a task: the
    /// loop never waits for the network), says what happened, then asks for the revisions again.
    pub fn ask_revisions_after_team(
        &self,
        flow: FlowId,
        policy: PolicyKey,
        team: crate::team::client::TeamClient,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let requests = self.requests.clone();
        let path = self.path.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let note = match crate::team::sync::sync_policy(&team, &path, &policy).await {
                Ok(history) => {
                    let note = format!(
                        "team: {} ({} new here, {} audit record(s))",
                        team.recorder(),
                        history.imported.imported,
                        history.audit.len()
                    );
                    let _ = tx.send(Msg::Journal(JournalNews::Audit {
                        flow,
                        policy: policy.clone(),
                        records: history.audit,
                    }));
                    note
                }
                Err(err) => format!("{err}; local history only"),
            };
            let _ = tx.send(Msg::Journal(JournalNews::Team {
                flow,
                policy: policy.clone(),
                note,
            }));
            let _ = requests.send(Request::Revisions(flow, policy));
        });
    }

    pub fn ask_timeline(&self, flow: FlowId, tenants: BTreeMap<String, Option<String>>) {
        let _ = self.requests.send(Request::Timeline(flow, tenants));
    }

    /// False when the journal's thread has ended: no answer will come.
    pub fn ask_recent_changes(&self) -> bool {
        self.requests.send(Request::RecentChanges).is_ok()
    }
}

/// The thread: waits for a request, takes every request already queued, writes the events in
/// one transaction, answers history questions, and reports the newest changes once per burst.
fn serve(
    path: PathBuf,
    cluster: String,
    context: String,
    inbox: std_mpsc::Receiver<Request>,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let fail = |tx: &mpsc::UnboundedSender<Msg>, what: String| {
        let _ = tx.send(Msg::Journal(JournalNews::Failed(what)));
    };
    let mut journal = match Journal::open(&path) {
        Ok(j) => j.with_source(&cluster, &context),
        Err(err) => return fail(&tx, format!("journal {}: {err}", path.display())),
    };
    let _ = tx.send(Msg::Journal(JournalNews::Opened(path.clone())));
    while let Ok(first) = inbox.recv() {
        let mut burst = vec![first];
        burst.extend(inbox.try_iter());
        let mut events = Vec::new();
        // What the burst recorded: after a seed every policy may have changed, else only these.
        let mut seeded = false;
        let mut changed: BTreeSet<PolicyKey> = BTreeSet::new();
        for request in burst {
            match request {
                Request::Event(event) => events.push(*event),
                Request::Seed(kind, within, objects) => {
                    changed.extend(flush(&mut journal, &mut events, &tx));
                    let at = Timestamp::now();
                    let within = within.as_deref();
                    match journal.seed_within(kind, within, &objects, at, &mut |_| {}) {
                        Ok(_) => seeded = true,
                        Err(err) => fail(&tx, format!("journal seed: {err}")),
                    }
                }
                Request::Timeline(flow, tenants) => {
                    changed.extend(flush(&mut journal, &mut events, &tx));
                    let tenants = TenantOf::Live(tenants);
                    let events = journal_events(&journal, &tenants).and_then(|mut events| {
                        events.extend(audit_events(&journal, &tenants)?);
                        Ok(events)
                    });
                    let news = JournalNews::Timeline {
                        flow,
                        events: events.map_err(|e| e.to_string()),
                    };
                    let _ = tx.send(Msg::Journal(news));
                }
                Request::RecentChanges => {
                    changed.extend(flush(&mut journal, &mut events, &tx));
                    let since = Timestamp::now()
                        .checked_sub(crate::app::suspects::CHANGES_KEPT)
                        .unwrap_or(Timestamp::UNIX_EPOCH);
                    let changes = crate::suspects::recent_from_journal(
                        &journal,
                        since,
                        crate::app::suspects::CHANGES_AT_MOST,
                    )
                    .map(|(changes, older)| crate::app::suspects::Recent { changes, older })
                    .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Journal(JournalNews::RecentChanges(changes)));
                }
                Request::Revisions(flow, id) => {
                    changed.extend(flush(&mut journal, &mut events, &tx));
                    let revisions = journal
                        .revisions_of(&id)
                        .map(with_last_applied)
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Journal(JournalNews::Revisions {
                        flow,
                        policy: id.clone(),
                        revisions,
                    }));
                    // The local audit of the policy; an unreadable one shows as no records (the
                    // revisions above are what the screen needs).
                    if let Ok(records) = crate::rollback::audit::records(&journal, Some(&id)) {
                        let _ = tx.send(Msg::Journal(JournalNews::Audit {
                            flow,
                            policy: id,
                            records,
                        }));
                    }
                }
            }
        }
        changed.extend(flush(&mut journal, &mut events, &tx));
        let news = if seeded {
            journal
                .latest_changes()
                .map(|all| JournalNews::Changes(Box::new(all)))
        } else if !changed.is_empty() {
            // Only the policies this burst revised: a churning cluster must not cost a read of
            // every policy's newest revisions per burst.
            changed
                .into_iter()
                .filter_map(|id| match journal.latest_change_of(&id) {
                    Ok(change) => change.map(|c| Ok((id, c))),
                    Err(err) => Some(Err(err)),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(|some| JournalNews::ChangesFor(Box::new(some)))
        } else {
            continue;
        };
        match news {
            Ok(news) => {
                let _ = tx.send(Msg::Journal(news));
            }
            Err(err) => fail(&tx, format!("journal read: {err}")),
        }
    }
}

/// Writes the pending events in one transaction; the policies that got a new revision.
fn flush(
    journal: &mut Journal,
    events: &mut Vec<JournalEvent>,
    tx: &mpsc::UnboundedSender<Msg>,
) -> Vec<PolicyKey> {
    if events.is_empty() {
        return Vec::new();
    }
    let result = journal.record_all(events, Timestamp::now());
    events.clear();
    match result {
        Ok(revisions) => revisions.iter().map(|r| r.key()).collect(),
        Err(err) => {
            let _ = tx.send(Msg::Journal(JournalNews::Failed(format!(
                "journal write: {err}"
            ))));
            Vec::new()
        }
    }
}

/// Revisions with kubectl's last-applied configuration first (revision 0), when the newest
/// alive revision (what the console saw live) carries one that differs. A malformed annotation
/// offers nothing here; `palisade history` says why.
fn with_last_applied(
    mut revisions: Vec<crate::history::Revision>,
) -> Vec<crate::history::Revision> {
    use crate::rollback::last_applied;
    let fallback = revisions
        .last()
        .filter(|r| !r.deleted)
        .and_then(|r| last_applied::of_object(&r.to_object(), &r.cluster, &r.context).ok())
        .flatten();
    if let Some(revision) = fallback {
        revisions.insert(0, revision);
    }
    revisions
}
