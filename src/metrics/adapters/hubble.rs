//! Hubble metrics (served by `cilium-agent` when Hubble metrics are enabled).
//!
//! Tenant attribution needs Hubble's context options: `labelsContext=source_namespace,
//! destination_namespace`, or `sourceContext`/`destinationContext` set to `pod` or `workload`
//! (values `ns/name`). A bare `source` value is only a namespace under `sourceContext=namespace`;
//! other contexts (`pod-name`, `app`, `workload-name`) also give bare names, so the caller must
//! say so through [`extract_with`]. Without any of these the namespaces stay `None`.

use super::{AgentMetrics, Drop, MetricSpec, Use, family_samples, namespace_of, owned};
use crate::metrics::parse::{Sample, Scrape};

pub const DROPS: &str = "hubble_drop_total";
pub const VERDICTS: &str = "hubble_policy_verdicts_total";

pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: DROPS,
        kind: "counter",
        labels: &[
            "reason",
            "protocol",
            "source_namespace",
            "destination_namespace",
            "source",
            "destination",
        ],
        used_for: Use::Drops,
        meaning: "Flows dropped, by drop reason and protocol, with optional context labels",
    },
    MetricSpec {
        name: VERDICTS,
        kind: "counter",
        labels: &[
            "action",
            "direction",
            "match",
            "source_namespace",
            "destination_namespace",
            "source",
            "destination",
        ],
        used_for: Use::Drops,
        meaning: "Policy verdicts; Palisade counts action=dropped/denied as denied flows",
    },
];

/// Extracts with bare context values not trusted as namespaces.
pub fn extract(scrape: &Scrape, node: Option<&str>) -> AgentMetrics {
    extract_with(scrape, node, false)
}

/// `bare_is_namespace`: Hubble runs with `sourceContext`/`destinationContext=namespace`.
pub fn extract_with(scrape: &Scrape, node: Option<&str>, bare_is_namespace: bool) -> AgentMetrics {
    let ctx = Ctx {
        node,
        bare_is_namespace,
    };
    let mut drops: Vec<Drop> = family_samples(scrape, DROPS)
        .iter()
        .filter(|s| s.name == DROPS)
        .map(|s| {
            drop(
                s,
                ctx,
                DROPS,
                s.label("reason").unwrap_or("unknown").to_string(),
                None,
            )
        })
        .collect();
    drops.extend(
        family_samples(scrape, VERDICTS)
            .iter()
            .filter(|s| s.name == VERDICTS)
            .filter(|s| matches!(s.label("action"), Some("dropped" | "denied")))
            .map(|s| {
                let how = s.label("match").unwrap_or("none");
                let direction = owned(s.label("direction")).map(|d| d.to_ascii_lowercase());
                drop(
                    s,
                    ctx,
                    VERDICTS,
                    format!("policy verdict (match {how})"),
                    direction,
                )
            }),
    );
    AgentMetrics {
        drops,
        l7: super::hubble_l7::extract(scrape),
        ..Default::default()
    }
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    node: Option<&'a str>,
    bare_is_namespace: bool,
}

fn drop(
    s: &Sample,
    ctx: Ctx,
    metric: &'static str,
    reason: String,
    direction: Option<String>,
) -> Drop {
    let ns = |explicit: &str, context: &str| {
        owned(s.label(explicit)).or_else(|| {
            let v = s.label(context)?;
            if v.contains('/') || ctx.bare_is_namespace {
                namespace_of(v)
            } else {
                None
            }
        })
    };
    Drop {
        metric,
        node: ctx.node.map(str::to_string),
        reason,
        direction,
        source_namespace: ns("source_namespace", "source"),
        destination_namespace: ns("destination_namespace", "destination"),
        policy: None,
        count: s.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse::parse;

    const FIXTURE: &str = r#"# HELP hubble_drop_total Number of drops
# TYPE hubble_drop_total counter
hubble_drop_total{protocol="TCP",reason="POLICY_DENIED",source_namespace="tenant-a",destination_namespace="tenant-b"} 91
hubble_drop_total{protocol="UDP",reason="POLICY_DENIED",source="tenant-c/api-7d9f",destination="10.0.4.12"} 5
hubble_drop_total{protocol="TCP",reason="STALE_OR_UNROUTABLE_IP"} 1
# TYPE hubble_policy_verdicts_total counter
hubble_policy_verdicts_total{action="forwarded",direction="ingress",match="l3-l4",source_namespace="tenant-a",destination_namespace="tenant-a"} 5000
hubble_policy_verdicts_total{action="dropped",direction="egress",match="none",source_namespace="tenant-b",destination_namespace="tenant-a"} 17
"#;

    #[test]
    fn drops_with_and_without_context() {
        let m = extract(&parse(FIXTURE).unwrap(), Some("worker-2"));
        assert_eq!(m.drops.len(), 4);
        let a = &m.drops[0];
        assert_eq!((a.reason.as_str(), a.count), ("POLICY_DENIED", 91.0));
        assert_eq!(a.source_namespace.as_deref(), Some("tenant-a"));
        assert_eq!(a.destination_namespace.as_deref(), Some("tenant-b"));
        let b = &m.drops[1];
        assert_eq!(b.source_namespace.as_deref(), Some("tenant-c"));
        assert_eq!(b.destination_namespace, None, "an IP is not a namespace");
        assert_eq!(m.drops[2].source_namespace, None);
        let v = &m.drops[3];
        assert_eq!(v.reason, "policy verdict (match none)");
        assert_eq!(v.direction.as_deref(), Some("egress"));
        assert_eq!(v.source_namespace.as_deref(), Some("tenant-b"));
        assert_eq!(v.count, 17.0);
    }

    #[test]
    fn bare_context_values_need_namespace_context() {
        let text = "hubble_drop_total{reason=\"POLICY_DENIED\",source=\"tenant-a\",destination=\"web\"} 3\n";
        let scrape = parse(text).unwrap();
        assert_eq!(extract(&scrape, None).drops[0].source_namespace, None);
        let d = &extract_with(&scrape, None, true).drops[0];
        assert_eq!(d.source_namespace.as_deref(), Some("tenant-a"));
        assert_eq!(d.destination_namespace.as_deref(), Some("web"));
    }
}
