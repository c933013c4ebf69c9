//! `palisade timeline`: policy changes (journal revisions) and rollbacks (audit records) in time
//! order, for a tenant or the whole cluster, as a text table or Markdown.
//!
//! A policy change belongs to the tenant of its namespace: the namespace's tenant label on the
//! live cluster when it is reachable (within a few seconds), else a guess from the name
//! (`TENANT-*`: the part before the first `-`, for names outside the platform patterns).
//!
//! A user who may not list the Namespace objects (a Role in a few namespaces) is told its scope
//! in one line, and the tenants are guessed from the names. `-n` keeps the events of those
//! namespaces' policies only.
//!
//! Exit codes: 0 printed (also when no event matched); 1 no journal, or it cannot be read;
//! 2 bad input (a bad `--since`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;

use crate::cli::{ClusterArgs, TimelineArgs, TimelineOutput};
use crate::cluster;
use crate::commands::history::journal_path;
use crate::history::{Error, Journal, Operation, PolicyKey, summarize};
use crate::isolation::tenants::{Group, TenantRules};
use crate::model::Labels;
use crate::rollback::audit;
use crate::timeline::{Event, EventKind, Scope, merge, parse_since, render_markdown, render_text};

/// How long the live cluster may take to list namespaces before the name guess is used.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn run(args: &TimelineArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let now = Timestamp::now();
    let since = match args
        .since
        .as_deref()
        .map(|s| parse_since(s, now))
        .transpose()
    {
        Ok(since) => since,
        Err(problem) => {
            eprintln!("palisade: error: --since {problem}");
            return Ok(ExitCode::from(2));
        }
    };
    let path = journal_path(args.journal.as_deref(), cluster)?;
    let journal = match Journal::open_existing(&path) {
        Ok(journal) => journal,
        Err(err @ Error::Missing(_)) => {
            eprintln!("palisade: error: {err}");
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => {
            return Err(err)
                .wrap_err_with(|| format!("cannot open the journal {}", path.display()));
        }
    };
    let tenants = match live_tenants(cluster, &args.namespaces).await {
        Live::Labels(map) => TenantOf::Live(map),
        Live::Scoped(line) => {
            eprintln!(
                "palisade timeline: {line}; namespace labels are forbidden to you, so tenants are guessed from namespace names (TENANT-*)"
            );
            TenantOf::Guess
        }
        Live::Unreached => {
            eprintln!(
                "palisade timeline: note: no cluster reachable; tenants are guessed from namespace names (TENANT-*)"
            );
            TenantOf::Guess
        }
    };
    let keep = |policy: &PolicyKey| within(policy, &args.namespaces);
    let changes = journal_events_where(&journal, &tenants, &keep)?;
    let rollbacks = audit_events_where(&journal, &tenants, &keep)?;
    let events = merge(vec![changes, rollbacks], since, args.tenant.as_deref());
    let text = match args.output {
        TimelineOutput::Text => render_text(&events),
        TimelineOutput::Md => render_markdown(
            &events,
            &Scope {
                since,
                tenant: args.tenant.clone(),
                source: Some(path.display().to_string()),
            },
        ),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// How a namespace's tenant is found.
pub enum TenantOf {
    /// namespace → tenant (none: platform or unassigned), from the live cluster's labels.
    Live(BTreeMap<String, Option<String>>),
    /// From the name: `acme-web` → `acme`; platform names (kube-system, monitoring, …) → none.
    Guess,
}

impl TenantOf {
    pub fn tenant(&self, namespace: &str) -> Option<String> {
        match self {
            // A namespace the cluster no longer has: the name guess.
            TenantOf::Live(map) => match map.get(namespace) {
                Some(tenant) => tenant.clone(),
                None => guess_tenant(namespace),
            },
            TenantOf::Guess => guess_tenant(namespace),
        }
    }
}

/// `TENANT-*`: the part of the name before the first `-`, unless the name is a platform one.
pub fn guess_tenant(namespace: &str) -> Option<String> {
    let rules = TenantRules::default();
    if rules.group_of(namespace, &Labels::new()) == Group::Platform {
        return None;
    }
    namespace
        .split_once('-')
        .map(|(tenant, _)| tenant)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Whether `policy` is in one of `namespaces` (none given: every policy is).
pub fn within(policy: &PolicyKey, namespaces: &[String]) -> bool {
    namespaces.is_empty()
        || policy
            .namespace_opt()
            .is_some_and(|ns| namespaces.iter().any(|n| n == ns))
}

/// What the live cluster says of the namespaces' tenants.
enum Live {
    /// namespace → tenant, from the labels.
    Labels(BTreeMap<String, Option<String>>),
    /// The Namespace objects are forbidden to this user: its scope, in one line.
    Scoped(String),
    /// No cluster, or it did not answer in time.
    Unreached,
}

/// The tenant of every namespace, when the kubeconfig's cluster answers in time; when the user
/// may not list namespaces, its scope as the console would find it.
async fn live_tenants(cluster_args: &ClusterArgs, asked: &[String]) -> Live {
    let Ok(source) = cluster::resolve_kubeconfig(cluster_args.kubeconfig.as_deref()) else {
        return Live::Unreached;
    };
    let lookup = async {
        let mut connection = cluster::connect(source, cluster_args.context.as_deref())
            .await
            .ok()?;
        let api: kube::Api<Namespace> = kube::Api::all(connection.client.clone());
        match api.list(&kube::api::ListParams::default()).await {
            Ok(list) => Some(Ok(list)),
            Err(kube::Error::Api(status)) if status.code == 403 => {
                crate::commands::input::narrow(&mut connection, asked);
                let scope =
                    cluster::scope::resolve(&connection.client, &connection.scope, CLUSTER_TIMEOUT)
                        .await;
                let line = match scope {
                    Some(scope) => scope.line(),
                    None => format!("namespaces: {}", status.message),
                };
                Some(Err(line))
            }
            Err(_) => None,
        }
    };
    // The scope's probe and access reviews take a few requests more than the list.
    let list = match tokio::time::timeout(CLUSTER_TIMEOUT * 2, lookup).await {
        Ok(Some(Ok(list))) => list,
        Ok(Some(Err(line))) => return Live::Scoped(line),
        _ => return Live::Unreached,
    };
    let rules = TenantRules::default();
    Live::Labels(
        list.items
            .into_iter()
            .filter_map(|ns| {
                let name = ns.metadata.name?;
                let labels: Labels = ns.metadata.labels.unwrap_or_default().into_iter().collect();
                let tenant = match rules.group_of(&name, &labels) {
                    Group::Tenant(tenant) => Some(tenant),
                    _ => None,
                };
                Some((name, tenant))
            })
            .collect(),
    )
}

/// Every journal revision as a policy change, with what changed and who changed it.
pub fn journal_events(journal: &Journal, tenants: &TenantOf) -> Result<Vec<Event>> {
    journal_events_where(journal, tenants, &|_| true)
}

/// As [`journal_events`], for the policies `keep` says yes to.
pub fn journal_events_where(
    journal: &Journal,
    tenants: &TenantOf,
    keep: &dyn Fn(&PolicyKey) -> bool,
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for policy in journal.policies()?.into_iter().filter(|p| keep(p)) {
        let revisions = journal.revisions_of(&policy)?;
        for (i, revision) in revisions.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| &revisions[p]);
            let mut summary = format!("rev {}: {}", revision.number, summarize(previous, revision));
            if revision.operation == Operation::Rollback {
                summary.push_str(" (written by a palisade rollback)");
            }
            if let Some(manager) = &revision.manager {
                summary.push_str(&format!(" by {manager}"));
            }
            let Ok(at) = revision.observed_at.parse::<Timestamp>() else {
                eprintln!(
                    "palisade timeline: warning: {policy} rev {} has an unreadable time `{}`; left out",
                    revision.number, revision.observed_at
                );
                continue;
            };
            events.push(Event {
                at,
                kind: EventKind::PolicyChange,
                // A namespaced CNI policy belongs to its namespace's tenant, as a NetworkPolicy.
                tenant: policy.namespace_opt().and_then(|ns| tenants.tenant(ns)),
                object: Some(policy.to_string()),
                summary,
            });
        }
    }
    Ok(events)
}

/// Every audit record as a rollback event: kind, actor, outcome and reason.
pub fn audit_events(journal: &Journal, tenants: &TenantOf) -> Result<Vec<Event>> {
    audit_events_where(journal, tenants, &|_| true)
}

/// As [`audit_events`], for the records whose policy `keep` says yes to.
pub fn audit_events_where(
    journal: &Journal,
    tenants: &TenantOf,
    keep: &dyn Fn(&PolicyKey) -> bool,
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for record in audit::records(journal, None)?
        .into_iter()
        .filter(|r| keep(&r.object))
    {
        let Ok(at) = record.at.parse::<Timestamp>() else {
            eprintln!(
                "palisade timeline: warning: audit record of {} has an unreadable time `{}`; left out",
                record.object, record.at
            );
            continue;
        };
        let revisions = match (record.from_revision, record.to_revision) {
            (Some(from), Some(to)) => format!(" (rev {from} → {to})"),
            (None, Some(to)) => format!(" (to rev {to})"),
            (Some(from), None) => format!(" (from rev {from})"),
            (None, None) => String::new(),
        };
        events.push(Event {
            at,
            kind: EventKind::Rollback,
            tenant: record
                .object
                .namespace_opt()
                .and_then(|ns| tenants.tenant(ns)),
            object: Some(record.object.to_string()),
            summary: format!(
                "{}{revisions} by {}: {}; reason: {}",
                record.kind,
                record.actor,
                record.outcome.as_str(),
                record.reason
            ),
        });
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_guessed_from_names_outside_the_platform() {
        assert_eq!(guess_tenant("acme-web").as_deref(), Some("acme"));
        assert_eq!(guess_tenant("globex-data-eu").as_deref(), Some("globex"));
        assert_eq!(guess_tenant("kube-system"), None);
        assert_eq!(guess_tenant("ingress-nginx"), None);
        assert_eq!(guess_tenant("shared-services"), None);
        assert_eq!(guess_tenant("monitoring"), None);
        assert_eq!(guess_tenant("default"), None);
    }

    #[test]
    fn dash_n_keeps_the_policies_of_its_namespaces_only() {
        let asked = vec!["acme-web".to_string()];
        assert!(within(&PolicyKey::network("acme-web", "a"), &asked));
        assert!(!within(&PolicyKey::network("globex-web", "a"), &asked));
        let cluster_wide = PolicyKey::parse("cnp/deny-all").unwrap();
        assert!(!within(&cluster_wide, &asked));
        assert!(within(&cluster_wide, &[]), "no -n: everything");
    }

    #[test]
    fn live_labels_win_over_the_guess() {
        let live = TenantOf::Live(BTreeMap::from([
            ("web".to_string(), Some("acme".to_string())),
            ("legacy-tools".to_string(), None),
        ]));
        assert_eq!(live.tenant("web").as_deref(), Some("acme"));
        assert_eq!(live.tenant("legacy-tools"), None);
        // A namespace the cluster does not know (deleted since): the name guess.
        assert_eq!(live.tenant("globex-api").as_deref(), Some("globex"));
    }

    #[test]
    fn a_namespaced_cni_policy_change_belongs_to_its_tenant_and_a_clusterwide_one_to_none() {
        use crate::model::{NativeKind, NativePolicyInfo};
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        for (kind, namespace, name) in [
            (
                NativeKind::CiliumNetworkPolicy,
                Some("acme-web"),
                "to-world",
            ),
            (NativeKind::CiliumClusterwideNetworkPolicy, None, "dns"),
        ] {
            let mut metadata = serde_json::json!({"name": name, "resourceVersion": "1"});
            if let Some(namespace) = namespace {
                metadata["namespace"] = namespace.into();
            }
            let object = serde_json::from_value(serde_json::json!({
                "apiVersion": "cilium.io/v2", "kind": kind.kind(), "metadata": metadata,
                "spec": {"endpointSelector": {}}
            }))
            .unwrap();
            let info = NativePolicyInfo::new(kind, object).unwrap();
            journal
                .observe_object(&info.into(), Timestamp::from_second(1_780_000_000).unwrap())
                .unwrap();
        }
        let mut events: Vec<(Option<String>, Option<String>)> =
            journal_events(&journal, &TenantOf::Guess)
                .unwrap()
                .into_iter()
                .map(|e| (e.object, e.tenant))
                .collect();
        events.sort();
        assert_eq!(
            events,
            [
                (Some("ccnp/dns".to_string()), None),
                (
                    Some("ciliumnp/acme-web/to-world".to_string()),
                    Some("acme".to_string())
                ),
            ]
        );
    }
}
