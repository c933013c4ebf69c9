//! A flow in words, for `palisade flows`: one text line or one JSON object per flow (or gap),
//! with the dataplane's verdict and palisade's side by side. Pure.

use std::time::SystemTime;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::aggregate::WorkloadId;
use super::judge::{Drift, Judgement};
use super::record::{FlowEndpoint, FlowRecord, Gap};

/// RFC 3339 to the second, UTC.
pub fn time_text(at: SystemTime) -> String {
    Timestamp::try_from(at)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "?".to_string())
}

fn end_text(end: &FlowEndpoint, tenant: Option<&str>) -> String {
    let workload = WorkloadId::of(end).to_string();
    match tenant {
        Some(t) => format!("{workload} ({t})"),
        None => workload,
    }
}

fn drift_word(drift: Drift) -> &'static str {
    match drift {
        Drift::DroppedButAllowed => "dropped_but_allowed",
        Drift::ForwardedButDenied => "forwarded_but_denied",
    }
}

/// `TIME  SRC (tenant) -> DST (tenant)  UDP/53  dropped POLICY_DENIED  on NODE  dataplane: …
/// palisade: denied (…)  DRIFT: …`.
pub fn text_line(
    flow: &FlowRecord,
    judgement: Option<&Judgement>,
    tenant_of: &dyn Fn(&FlowEndpoint) -> Option<String>,
) -> String {
    let mut line = format!(
        "{}  {} -> {}  {}  {}",
        time_text(flow.time),
        end_text(&flow.src, tenant_of(&flow.src).as_deref()),
        end_text(&flow.dst, tenant_of(&flow.dst).as_deref()),
        flow.service(),
        flow.verdict,
    );
    if let Some(reason) = &flow.reason {
        line.push(' ');
        line.push_str(reason);
    }
    if flow.count > 1 {
        line.push_str(&format!(" ×{}", flow.count));
    }
    if let Some(node) = &flow.node {
        line.push_str(&format!("  on {node}"));
    }
    if !flow.policies.is_empty() {
        let named: Vec<String> = flow.policies.iter().map(|p| p.to_string()).collect();
        line.push_str(&format!("  dataplane: {}", named.join(", ")));
    }
    if let Some(j) = judgement {
        line.push_str(&format!("  palisade: {}", j.prediction.word()));
        if !j.prediction.detail().is_empty() {
            line.push_str(&format!(" ({})", j.prediction.detail()));
        }
        if let Some(drift) = j.drift {
            line.push_str(&format!("  DRIFT: {}", drift.describe()));
        }
    }
    line
}

fn end_json(end: &FlowEndpoint, tenant: Option<String>) -> Value {
    json!({
        "namespace": end.namespace.as_deref(),
        "pod": end.pod.as_deref(),
        "workload": WorkloadId::of(end).name.as_ref(),
        "tenant": tenant,
        "ip": end.ip.map(|ip| ip.to_string()),
        "entity": end.entity.as_deref(),
    })
}

pub fn json_flow(
    flow: &FlowRecord,
    judgement: Option<&Judgement>,
    tenant_of: &dyn Fn(&FlowEndpoint) -> Option<String>,
) -> Value {
    let policies: Vec<Value> = flow
        .policies
        .iter()
        .map(|p| {
            json!({
                "kind": p.kind.as_ref(),
                "namespace": p.namespace.as_deref(),
                "name": p.name.as_ref(),
                "tier": p.tier.as_deref(),
                "action": p.action.as_deref(),
                "rule": p.rule.as_deref(),
            })
        })
        .collect();
    json!({
        "time": time_text(flow.time),
        "source_api": flow.source_kind.display_name(),
        "source": end_json(&flow.src, tenant_of(&flow.src)),
        "destination": end_json(&flow.dst, tenant_of(&flow.dst)),
        "protocol": flow.protocol.map(|p| p.as_str()),
        "port": flow.port,
        "verdict": flow.verdict.as_str(),
        "reason": flow.reason.as_deref(),
        "direction": flow.direction.map(|d| d.as_str().to_ascii_lowercase()),
        "node": flow.node.as_deref(),
        "count": flow.count,
        "dataplane_policies": policies,
        "palisade": judgement.map(|j| json!({
            "verdict": j.prediction.word(),
            "by": j.prediction.detail(),
        })),
        "drift": judgement.and_then(|j| j.drift).map(drift_word),
    })
}

pub fn text_gap(gap: &Gap) -> String {
    if gap.lost > 0 {
        format!(
            "{}  ⋯ gap: {} events lost ({})",
            time_text(gap.at),
            gap.lost,
            gap.what
        )
    } else {
        format!("{}  ⋯ gap: {}", time_text(gap.at), gap.what)
    }
}

pub fn json_gap(gap: &Gap) -> Value {
    json!({ "gap": { "time": time_text(gap.at), "lost": gap.lost, "what": gap.what } })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::flows::record::tests::test_flow;
    use crate::flows::{DataplanePolicy, DataplaneVerdict, Prediction};

    fn flow() -> FlowRecord {
        let mut f = test_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
        f.time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        f.src.namespace = Some("acme-web".into());
        f.src.pod = Some("frontend-7d9f8b6c5d-x2k4q".into());
        f.dst.namespace = Some("kube-system".into());
        f.dst.pod = Some("coredns-5d78c9869d-bcdfg".into());
        f.node = Some("worker-1".into());
        f.policies = vec![DataplanePolicy {
            kind: "CiliumNetworkPolicy".into(),
            namespace: Some("acme-web".into()),
            name: "deny-dns".into(),
            tier: None,
            action: None,
            rule: None,
        }];
        f
    }

    fn tenant_of(end: &FlowEndpoint) -> Option<String> {
        end.namespace
            .as_deref()
            .map(|ns| ns.split('-').next().unwrap_or(ns).to_string())
    }

    #[test]
    fn a_line_shows_both_verdicts_and_the_drift() {
        let judged = Judgement {
            prediction: Prediction::Allowed {
                by: "acme-web/allow-dns allow egress (NetworkPolicy)".into(),
            },
            drift: Some(Drift::DroppedButAllowed),
            peers: None,
        };
        let line = text_line(&flow(), Some(&judged), &tenant_of);
        assert_eq!(
            line,
            "2026-09-21T14:13:20Z  acme-web/frontend (acme) -> kube-system/coredns (kube)  \
             UDP/53  dropped POLICY_DENIED  on worker-1  dataplane: CiliumNetworkPolicy \
             acme-web/deny-dns  palisade: allowed (acme-web/allow-dns allow egress \
             (NetworkPolicy))  DRIFT: dropped by the dataplane, allowed by the policies"
        );
        let value = json_flow(&flow(), Some(&judged), &tenant_of);
        assert_eq!(value["drift"], "dropped_but_allowed");
        assert_eq!(value["palisade"]["verdict"], "allowed");
        assert_eq!(value["source"]["workload"], "frontend");
        assert_eq!(value["source"]["tenant"], "acme");
        assert_eq!(value["dataplane_policies"][0]["name"], "deny-dns");
    }

    #[test]
    fn without_a_judgement_there_is_no_palisade_column() {
        let line = text_line(&flow(), None, &|_| None);
        assert!(!line.contains("palisade:"), "{line}");
        assert!(json_flow(&flow(), None, &|_| None)["palisade"].is_null());
    }
}
