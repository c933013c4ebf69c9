//! `palisade record`: headless kube-rs watchers on NetworkPolicies, on every tier policy kind
//! the cluster serves (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy)
//! and on every CNI policy kind it serves (Cilium's; Calico's at `projectcalico.org/v3` or its
//! CRDs' `crd.projectcalico.org/v1`), the last two through `Api<DynamicObject>`, journalling
//! every change.
//!
//! A user whose Role covers a few namespaces only has the namespaced kinds watched in each of
//! them (`record_within`); the cluster-scoped kinds are tried and, when forbidden, said.
//!
//! The initial list of a kind (and every relist after a `410 Gone`) seeds the journal for that
//! kind (in that namespace, when watched per namespace): unchanged policies add nothing,
//! policies of the kind gone while nobody watched get tombstones. Each watch event is one transaction. SIGTERM and SIGINT are only looked at between
//! events, so the recorder exits after the current transaction has committed.

use std::collections::BTreeMap;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::core::{ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client};
use tokio::signal::unix::{SignalKind, signal};

use super::key::{native_resource, tier_resource};
use super::{Journal, JournalEvent, PolicyKind, PolicyObject, Result, Revision};
use crate::cluster::convert::keep_latest_managed_field;
use crate::model::{NativeKind, NativePolicyInfo, NativeRef, TierKind, TierPolicyInfo, TierRef};
use crate::progress::{Phase, Progress};

const LISTING: &str = "listing policies";

/// How the recorder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM or SIGINT.
    Signal,
    /// The watch stream ended (it does not, short of the runtime shutting down).
    StreamEnded,
}

/// What one kind's watcher delivered (in one namespace, when watched per namespace), with
/// objects of either kind.
type Seen = (
    Watched,
    std::result::Result<Event<PolicyObject>, watcher::Error>,
);

/// One watcher: a kind, across all namespaces (`None`) or in one.
type Watched = (PolicyKind, Option<String>);

/// A kind's watcher as a stream of [`Seen`].
fn seen<K, S>(
    kind: PolicyKind,
    namespace: Option<String>,
    stream: S,
    wrap: impl Fn(K) -> PolicyObject + Send + 'static,
) -> BoxStream<'static, Seen>
where
    S: Stream<Item = std::result::Result<Event<K>, watcher::Error>> + Send + 'static,
    K: Send + 'static,
{
    stream
        .map(move |item| {
            let event = item.map(|event| match event {
                Event::Init => Event::Init,
                Event::InitApply(object) => Event::InitApply(wrap(object)),
                Event::InitDone => Event::InitDone,
                Event::Apply(object) => Event::Apply(wrap(object)),
                Event::Delete(object) => Event::Delete(wrap(object)),
            });
            ((kind, namespace.clone()), event)
        })
        .boxed()
}

fn tier(kind: TierKind, object: DynamicObject) -> PolicyObject {
    let name = object.metadata.name.clone().unwrap_or_default();
    PolicyObject::Tier(TierPolicyInfo {
        id: TierRef::new(kind, name),
        object,
    })
}

fn native(kind: NativeKind, object: DynamicObject) -> PolicyObject {
    let name = object.metadata.name.clone().unwrap_or_default();
    let namespace = match kind.namespaced() {
        true => object.metadata.namespace.clone().unwrap_or_default(),
        false => String::new(),
    };
    PolicyObject::Native(NativePolicyInfo {
        id: NativeRef::new(kind, namespace, name),
        object,
    })
}

/// Whether the recorder can watch a tier kind: served, and listable by this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TierAccess {
    Watch,
    NotServed,
    Forbidden(String),
}

/// Asks discovery whether `kind`'s version is served, then lists one object to learn whether
/// the user may read it.
pub async fn tier_access(client: &Client, kind: TierKind) -> TierAccess {
    resource_access(client, &tier_resource(kind)).await
}

/// Whether discovery lists `resource` in its group version (`None`: discovery failed otherwise).
async fn served(client: &Client, resource: &ApiResource) -> Option<bool> {
    match client.list_api_group_resources(&resource.api_version).await {
        Ok(list) => Some(list.resources.iter().any(|r| r.name == resource.plural)),
        Err(kube::Error::Api(status)) if status.code == 404 => Some(false),
        Err(_) => None,
    }
}

/// Where the cluster serves a native kind: its preferred group version, else (Calico) the
/// datastore's CRDs; the preferred one when discovery cannot tell (the list then says why).
pub async fn native_served_resource(client: &Client, kind: NativeKind) -> Option<ApiResource> {
    let preferred = native_resource(kind, &kind.api_version());
    match served(client, &preferred).await {
        Some(true) | None => return Some(preferred),
        Some(false) => {}
    }
    let (group, version) = kind.crd_group_version()?;
    let crd = native_resource(kind, &format!("{group}/{version}"));
    served(client, &crd).await.unwrap_or(true).then_some(crd)
}

/// [`tier_access`] for a native kind, with the resource it is served as.
pub async fn native_access(client: &Client, kind: NativeKind) -> (TierAccess, Option<ApiResource>) {
    match native_served_resource(client, kind).await {
        None => (TierAccess::NotServed, None),
        Some(resource) => (resource_access(client, &resource).await, Some(resource)),
    }
}

async fn resource_access(client: &Client, resource: &ApiResource) -> TierAccess {
    resource_access_in(client, resource, None).await
}

/// As [`resource_access`], listing in `namespace` when given.
async fn resource_access_in(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> TierAccess {
    if served(client, resource).await == Some(false) {
        return TierAccess::NotServed;
    }
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => TierAccess::Watch,
        Err(kube::Error::Api(status)) if status.code == 404 => TierAccess::NotServed,
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 401 => {
            TierAccess::Forbidden(status.message)
        }
        Err(err) => TierAccess::Forbidden(err.to_string()),
    }
}

/// The tier kinds to watch; each kind left out is said once to `say`.
async fn tier_kinds(client: &Client, say: &dyn Fn(&str)) -> Vec<TierKind> {
    let mut kinds = Vec::new();
    for kind in TierKind::ALL {
        match tier_access(client, kind).await {
            TierAccess::Watch => kinds.push(kind),
            TierAccess::NotServed => say(&format!(
                "palisade record: {} ({}) is not served by this cluster; not recorded",
                kind.plural(),
                kind.api_version()
            )),
            TierAccess::Forbidden(why) => say(&format!(
                "palisade record: {} ({}) is served but this user may not list it ({why}); not recorded",
                kind.plural(),
                kind.api_version()
            )),
        }
    }
    kinds
}

/// The native kinds to watch, each with the resource it is served as; each kind left out is
/// said once to `say`.
async fn native_kinds(
    client: &Client,
    namespaces: Option<&[String]>,
    say: &dyn Fn(&str),
) -> Vec<(NativeKind, ApiResource)> {
    let mut kinds = Vec::new();
    // Calico's kinds are recorded whether or not the console evaluates them yet (`ALL`); each
    // kind once, should `ALL` come to hold them.
    let calico = NativeKind::CALICO
        .into_iter()
        .filter(|k| !NativeKind::ALL.contains(k));
    for kind in NativeKind::ALL.into_iter().chain(calico) {
        // Watched per namespace: whether it may be listed in the first (a Role is alike in each).
        let access = match namespaces.and_then(|n| n.first()) {
            Some(namespace) if kind.namespaced() => {
                match native_served_resource(client, kind).await {
                    None => (TierAccess::NotServed, None),
                    Some(resource) => (
                        resource_access_in(client, &resource, Some(namespace)).await,
                        Some(resource),
                    ),
                }
            }
            _ => native_access(client, kind).await,
        };
        match access {
            (TierAccess::Watch, Some(resource)) => kinds.push((kind, resource)),
            // Calico's kinds are absent from most clusters: only a forbidden one is worth a line.
            (TierAccess::NotServed, _) | (TierAccess::Watch, None)
                if kind.family() == crate::model::NativeFamily::Calico => {}
            (TierAccess::NotServed, _) | (TierAccess::Watch, None) => say(&format!(
                "palisade record: {} ({}) is not served by this cluster; not recorded",
                kind.plural(),
                kind.api_version()
            )),
            (TierAccess::Forbidden(why), resource) => say(&format!(
                "palisade record: {} ({}) is served but this user may not list it ({why}); not recorded",
                kind.plural(),
                resource.map_or_else(|| kind.api_version(), |r| r.api_version)
            )),
        }
    }
    kinds
}

/// Watches every namespace's NetworkPolicies and the served tier policy kinds, and journals
/// them until a stop signal arrives. `report` is called once per recorded revision, after its
/// transaction committed (the command prints it to stderr).
/// The lists and the seeding are shown on `progress` (nothing once watching).
pub async fn record(
    client: Client,
    journal: &mut Journal,
    progress: &Progress,
    report: impl FnMut(&Journal, &Revision),
) -> Result<Stopped> {
    let say = |line: &str| progress.note(line);
    record_saying(client, journal, progress, &say, report).await
}

/// As [`record`], with what it has to say (kinds left out, lists done, watch errors) given to
/// `say` (the demo's in-process recorder says nothing on the console's terminal).
pub async fn record_saying(
    client: Client,
    journal: &mut Journal,
    progress: &Progress,
    say: &dyn Fn(&str),
    report: impl FnMut(&Journal, &Revision),
) -> Result<Stopped> {
    record_within(client, None, journal, progress, say, report).await
}

/// As [`record_saying`], watching the namespaced kinds in `namespaces` only when given (a user
/// whose Role covers a few namespaces); each namespace's list seeds that namespace alone.
pub async fn record_within(
    client: Client,
    namespaces: Option<&[String]>,
    journal: &mut Journal,
    progress: &Progress,
    say: &dyn Fn(&str),
    mut report: impl FnMut(&Journal, &Revision),
) -> Result<Stopped> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let config = || watcher::Config::default().page_size(500);
    // Each namespace watched, or `None` once: the whole cluster.
    let places: Vec<Option<String>> = match namespaces {
        Some(names) => names.iter().cloned().map(Some).collect(),
        None => vec![None],
    };
    let mut streams = Vec::new();
    for place in &places {
        let api: Api<NetworkPolicy> = match place {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let policies = watcher(api, config())
            .default_backoff()
            .modify(keep_latest_managed_field);
        streams.push(seen(
            PolicyKind::NetworkPolicy,
            place.clone(),
            policies,
            PolicyObject::Network,
        ));
    }
    for kind in tier_kinds(&client, say).await {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &tier_resource(kind));
        let objects = watcher(api, config())
            .default_backoff()
            .modify(keep_latest_managed_field);
        streams.push(seen(PolicyKind::Tier(kind), None, objects, move |o| {
            tier(kind, o)
        }));
    }
    for (kind, resource) in native_kinds(&client, namespaces, say).await {
        let places = match kind.namespaced() {
            true => places.clone(),
            false => vec![None],
        };
        for place in places {
            let api: Api<DynamicObject> = match &place {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let objects = watcher(api, config())
                .default_backoff()
                .modify(keep_latest_managed_field);
            streams.push(seen(PolicyKind::Native(kind), place, objects, move |o| {
                native(kind, o)
            }));
        }
    }
    let mut stream = futures::stream::select_all(streams);
    let mut listed: BTreeMap<Watched, Vec<PolicyObject>> = BTreeMap::new();
    loop {
        let item = tokio::select! {
            biased;
            _ = sigterm.recv() => return Ok(Stopped::Signal),
            _ = sigint.recv() => return Ok(Stopped::Signal),
            item = stream.next() => item,
        };
        let Some(((kind, namespace), item)) = item else {
            return Ok(Stopped::StreamEnded);
        };
        let place = (kind, namespace.clone());
        let now = Timestamp::now();
        let recorded = match item {
            Ok(Event::Init) => {
                listed.insert(place, Vec::new());
                progress.show(&Phase::counted(LISTING, 0, None));
                Vec::new()
            }
            Ok(Event::InitApply(object)) => {
                let list = listed.entry(place).or_default();
                list.push(object);
                if list.len().is_multiple_of(100) {
                    progress.show(&Phase::counted(LISTING, list.len() as u64, None));
                }
                Vec::new()
            }
            Ok(Event::InitDone) => {
                let list = listed.remove(&place).unwrap_or_default();
                let seeded = journal.seed_within(
                    kind,
                    namespace.as_ref().map(std::slice::from_ref),
                    &list,
                    now,
                    &mut progress.observer(),
                );
                progress.finish();
                let revisions = seeded?;
                let what = match kind {
                    PolicyKind::NetworkPolicy => "policies".to_string(),
                    PolicyKind::Tier(tier) => tier.plural().to_string(),
                    PolicyKind::Native(native) => native.plural().to_string(),
                };
                let within = namespace.map(|ns| format!(" in {ns}")).unwrap_or_default();
                say(&format!(
                    "palisade record: listed {} {what}{within}, {} new revision(s); watching",
                    list.len(),
                    revisions.len()
                ));
                revisions
            }
            Ok(Event::Apply(object)) => journal.observe_object(&object, now)?.into_iter().collect(),
            Ok(Event::Delete(object)) => match object.key() {
                Some(key) => journal.record_all(
                    &[JournalEvent::Deleted {
                        key,
                        last: Some(object),
                    }],
                    now,
                )?,
                None => Vec::new(),
            },
            Err(err) => {
                // kube-rs retries with backoff; the journal keeps what it has.
                let within = namespace.map(|ns| format!(" in {ns}")).unwrap_or_default();
                say(&format!(
                    "palisade record: {}{within} watch error (retrying): {err}",
                    kind.plural()
                ));
                Vec::new()
            }
        };
        for revision in &recorded {
            report(journal, revision);
        }
    }
}

/// The stderr line for a recorded revision: object (`NS/NAME` or `cnp/NAME`), number,
/// operation, version, manager.
pub fn describe(revision: &Revision, previous: Option<&Revision>) -> String {
    format!(
        "recorded {} #{} {} rv={} by {}: {}",
        revision.key(),
        revision.number,
        revision.operation,
        revision.resource_version.as_deref().unwrap_or("-"),
        revision.manager.as_deref().unwrap_or("unknown"),
        super::summarize(previous, revision)
    )
}
