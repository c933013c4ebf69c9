//! The Kubernetes Event a rollback leaves on its policy (reason `PalisadeRollback`, or
//! `PalisadeRollbackFailed` as a Warning), so `kubectl get events` and event exporters show who
//! rolled back what and why. Building the Event is pure; [`emit`] creates it.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};

use super::audit::{AuditRecord, Outcome, new_uid};
use super::plan::Plan;
use super::preflight::Access;
use crate::history::{PolicyKey, PolicyObject};
use crate::model::TIER_GROUP;

pub const REASON_DONE: &str = "PalisadeRollback";
pub const REASON_FAILED: &str = "PalisadeRollbackFailed";
pub const COMPONENT: &str = "palisade";

/// Where the Event goes: the policy's namespace; `default` for a cluster-scoped policy, as
/// kubectl and the controllers do for cluster-scoped objects.
pub fn event_namespace(target: &PolicyKey) -> String {
    target.namespace_opt().unwrap_or("default").to_string()
}

/// The apiVersion of the policy's kind (a CNI kind's preferred one).
fn api_version(target: &PolicyKey) -> String {
    match target {
        PolicyKey::Tier(tier) => format!("{TIER_GROUP}/{}", tier.kind.version()),
        PolicyKey::Native(native) => native.kind.api_version(),
        PolicyKey::Network(_) => "networking.k8s.io/v1".to_string(),
    }
}

/// "alice rolled back to revision 2 (revert): INC-42", or for an attempt that failed after the
/// apply was tried: "alice's rollback to revision 2 (revert) failed: conflict: …; reason: INC-42".
pub fn message(record: &AuditRecord) -> String {
    let what = match (record.kind.as_str(), record.to_revision) {
        ("remove", _) => "by removing the policy".to_string(),
        (_, Some(super::last_applied::NUMBER)) => {
            format!("to the configuration {}", super::last_applied::LABEL)
        }
        (_, Some(n)) => format!("to revision {n}"),
        (_, None) => "to an earlier state".to_string(),
    };
    match record.outcome {
        Outcome::Done => format!(
            "{} rolled back {what} ({}): {}",
            record.actor, record.kind, record.reason
        ),
        _ => format!(
            "{}'s rollback {what} ({}) failed: {}; reason: {}",
            record.actor, record.kind, record.apply, record.reason
        ),
    }
}

/// The Event for an attempt at `plan` that reached the apply. `object` is the policy as the
/// server returned it (written or deleted); else the planned live object names it.
pub fn rollback_event(
    plan: &Plan,
    object: Option<&PolicyObject>,
    record: &AuditRecord,
    host: &str,
    now: Timestamp,
) -> Event {
    let meta = object.or(plan.live.as_ref()).map(PolicyObject::meta);
    let done = record.outcome == Outcome::Done;
    let namespace = event_namespace(&plan.target);
    let suffix: String = new_uid().chars().take(16).collect();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{suffix}", plan.target.name())),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(
                object
                    .or(plan.live.as_ref())
                    .and_then(PolicyObject::api_version)
                    .map_or_else(|| api_version(&plan.target), str::to_string),
            ),
            kind: Some(match &plan.target {
                PolicyKey::Native(native) => native.kind.kind().to_string(),
                other => other.kind().as_str().to_string(),
            }),
            namespace: plan.target.namespace_opt().map(str::to_string),
            name: Some(plan.target.name().to_string()),
            uid: meta.and_then(|m| m.uid.clone()),
            resource_version: meta.and_then(|m| m.resource_version.clone()),
            ..ObjectReference::default()
        },
        reason: Some(if done { REASON_DONE } else { REASON_FAILED }.to_string()),
        message: Some(message(record)),
        type_: Some(if done { "Normal" } else { "Warning" }.to_string()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_string()),
            host: Some(host.to_string()),
        }),
        reporting_component: Some(COMPONENT.to_string()),
        reporting_instance: Some(host.to_string()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        action: Some("Rollback".to_string()),
        ..Event::default()
    }
}

/// This machine's host name (the Event's reporting instance).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Emits the Event for an attempt that reached the apply, if the pre-flight found `create
/// events` allowed; the line to add to the audit's apply text either way. A failure to emit
/// never fails the rollback.
pub async fn emit(
    client: &Client,
    access: Option<&Access>,
    plan: &Plan,
    object: Option<&PolicyObject>,
    record: &AuditRecord,
) -> String {
    let namespace = event_namespace(&plan.target);
    if let Some(access) = access.filter(|a| !a.allowed) {
        return format!("Event not emitted: forbidden ({})", access.reason);
    }
    let event = rollback_event(plan, object, record, &host_name(), Timestamp::now());
    let reason = event.reason.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    match api.create(&PostParams::default(), &event).await {
        Ok(_) => format!("Event {reason} emitted in namespace {namespace}"),
        Err(kube::Error::Api(status)) if status.code == 403 => {
            format!("Event not emitted: forbidden ({})", status.message)
        }
        Err(err) => format!("Event not emitted: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollback::RollbackKind;
    use crate::rollback::diff::Diff;
    use k8s_openapi::api::networking::v1::NetworkPolicy;

    fn plan(target: PolicyKey, live: Option<PolicyObject>) -> Plan {
        Plan {
            kind: RollbackKind::Revert { to: 2 },
            target,
            live,
            live_revision: Some(3),
            desired: None,
            to_revision: Some(2),
            diff: Diff::of_objects(None, None),
            owner: None,
            created_revision: None,
            notes: Vec::new(),
        }
    }

    fn policy(rv: &str) -> PolicyObject {
        PolicyObject::Network(
            serde_json::from_value::<NetworkPolicy>(serde_json::json!({
                "metadata": {"name": "allow-dns", "namespace": "acme-web", "uid": "u-1",
                             "resourceVersion": rv},
                "spec": {"podSelector": {}}
            }))
            .unwrap(),
        )
    }

    fn record(plan: &Plan, outcome: Outcome, apply: &str) -> AuditRecord {
        let mut record = AuditRecord::for_plan(
            plan,
            "alice",
            "https://x",
            "ctx",
            "INC-42",
            Timestamp::UNIX_EPOCH,
        );
        record.outcome = outcome;
        record.apply = apply.to_string();
        record
    }

    #[test]
    fn a_done_rollback_is_a_normal_event_on_the_written_object() {
        let p = plan(
            PolicyKey::network("acme-web", "allow-dns"),
            Some(policy("7")),
        );
        let r = record(&p, Outcome::Done, "written");
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let e = rollback_event(&p, Some(&policy("9")), &r, "laptop", now);
        assert_eq!(e.reason.as_deref(), Some("PalisadeRollback"));
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(
            e.message.as_deref(),
            Some("alice rolled back to revision 2 (revert): INC-42")
        );
        assert_eq!(e.metadata.namespace.as_deref(), Some("acme-web"));
        assert!(
            e.metadata
                .name
                .as_deref()
                .unwrap()
                .starts_with("allow-dns.")
        );
        let o = &e.involved_object;
        assert_eq!(o.api_version.as_deref(), Some("networking.k8s.io/v1"));
        assert_eq!(o.kind.as_deref(), Some("NetworkPolicy"));
        assert_eq!(o.namespace.as_deref(), Some("acme-web"));
        assert_eq!(o.uid.as_deref(), Some("u-1"));
        assert_eq!(o.resource_version.as_deref(), Some("9"), "the written one");
        assert_eq!(e.reporting_component.as_deref(), Some("palisade"));
        assert_eq!(e.reporting_instance.as_deref(), Some("laptop"));
        assert_eq!(e.source.unwrap().component.as_deref(), Some("palisade"));
        assert_eq!(e.count, Some(1));
        assert_eq!(e.first_timestamp, Some(Time(now)));
        assert_eq!(e.last_timestamp, Some(Time(now)));
    }

    #[test]
    fn a_failed_apply_is_a_warning_naming_what_failed() {
        let p = plan(
            PolicyKey::network("acme-web", "allow-dns"),
            Some(policy("7")),
        );
        let r = record(&p, Outcome::Conflict, "conflict: changed since planned");
        let e = rollback_event(&p, None, &r, "h", Timestamp::UNIX_EPOCH);
        assert_eq!(e.reason.as_deref(), Some("PalisadeRollbackFailed"));
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(
            e.message.as_deref(),
            Some(
                "alice's rollback to revision 2 (revert) failed: conflict: changed since planned; reason: INC-42"
            )
        );
        assert_eq!(
            e.involved_object.resource_version.as_deref(),
            Some("7"),
            "the live one, as planned"
        );
    }

    #[tokio::test]
    async fn a_denied_create_events_is_said_and_nothing_is_sent() {
        // Nothing listens there: a request would fail with another text.
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let p = plan(
            PolicyKey::network("acme-web", "allow-dns"),
            Some(policy("7")),
        );
        let r = record(&p, Outcome::Done, "written");
        let denied = Access {
            allowed: false,
            reason: "no RBAC rule allows it".into(),
        };
        let note = emit(&client, Some(&denied), &p, None, &r).await;
        assert_eq!(
            note,
            "Event not emitted: forbidden (no RBAC rule allows it)"
        );
        let note = emit(&client, None, &p, None, &r).await;
        assert!(note.starts_with("Event not emitted: "), "{note}");
        assert!(!note.contains("forbidden"), "{note}");
    }

    #[test]
    fn the_last_applied_revision_is_named_in_the_message() {
        let mut p = plan(
            PolicyKey::network("acme-web", "allow-dns"),
            Some(policy("7")),
        );
        p.to_revision = Some(0);
        let r = record(&p, Outcome::Done, "written");
        assert_eq!(
            message(&r),
            "alice rolled back to the configuration last applied by kubectl (revert): INC-42"
        );
    }

    #[test]
    fn cluster_scoped_tier_policies_report_in_default() {
        let target = PolicyKey::parse("cnp/block-all").unwrap();
        let p = plan(target.clone(), None);
        let r = record(&p, Outcome::Done, "");
        let e = rollback_event(&p, None, &r, "h", Timestamp::UNIX_EPOCH);
        assert_eq!(event_namespace(&target), "default");
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(e.involved_object.namespace, None);
        assert_eq!(
            e.involved_object.kind.as_deref(),
            Some("ClusterNetworkPolicy")
        );
        assert!(
            e.involved_object
                .api_version
                .as_deref()
                .unwrap()
                .starts_with("policy.networking.k8s.io/")
        );
    }
}
