//! Every PromQL query the Prometheus source sends, in one table (`docs/metrics.md` lists it).
//!
//! `{job}` stands for the agent rule's `job` regular expression of that CNI.

use crate::metrics::Cni;
use crate::metrics::adapters::hubble_l7::{
    DNS_QUERIES, DNS_RESPONSES, HTTP_DURATION, HTTP_REQUESTS, HTTP_RESPONSES,
};
use crate::metrics::adapters::{antrea, calico, cilium};

/// What a query's answer is used for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// Per-second rates of a drop counter, fed through the CNI's adapter like a scrape.
    Drops { metric: &'static str },
    /// One quantile of a histogram over the latency window; `scale` turns it into seconds.
    Quantile {
        metric: &'static str,
        q: f64,
        scale: f64,
    },
    /// Observations of a histogram over the latency window.
    Observations { metric: &'static str },
    /// A summary's exported quantiles per agent (fed through the adapter).
    SummaryQuantiles { metric: &'static str },
    /// A summary's lifetime count per agent.
    SummaryCount { metric: &'static str },
    /// Prometheus' own `up` per target: the agents.
    Up,
    /// How long Prometheus' last scrape of each target took.
    ScrapeDuration,
    /// A policy-count gauge per agent (fed through the adapter).
    Health { metric: &'static str },
    /// Hubble's L7 figures per namespace pair: counter rates and histogram increases over the
    /// latency window, fed through Hubble's L7 adapter as samples named `sample` of the family
    /// `family`.
    L7 {
        family: &'static str,
        sample: &'static str,
    },
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuerySpec {
    pub cni: Cni,
    pub role: Role,
    pub promql: &'static str,
}

/// The labels drop rates are kept apart by: `node` (or `instance`, when the scrape config sets
/// no `node`) and every label an adapter reads.
macro_rules! by_drop {
    () => {
        "node, instance, reason, direction, protocol, source_namespace, destination_namespace, source, destination, policy, action, match"
    };
}

macro_rules! drops {
    ($cni:expr, $metric:expr, $selector:expr) => {
        QuerySpec {
            cni: $cni,
            role: Role::Drops { metric: $metric },
            promql: concat!(
                "sum by (",
                by_drop!(),
                ") (rate(",
                $metric,
                $selector,
                "[1m]))"
            ),
        }
    };
}

macro_rules! histogram {
    ($cni:expr, $metric:expr, $scale:expr) => {
        [
            histogram!(@q $cni, $metric, $scale, 0.5, "0.5"),
            histogram!(@q $cni, $metric, $scale, 0.95, "0.95"),
            histogram!(@q $cni, $metric, $scale, 0.99, "0.99"),
            QuerySpec {
                cni: $cni,
                role: Role::Observations { metric: $metric },
                promql: concat!("sum(increase(", $metric, "_count[5m]))"),
            },
        ]
    };
    (@q $cni:expr, $metric:expr, $scale:expr, $q:expr, $qtext:expr) => {
        QuerySpec {
            cni: $cni,
            role: Role::Quantile { metric: $metric, q: $q, scale: $scale },
            promql: concat!(
                "histogram_quantile(", $qtext, ", sum by (le) (rate(", $metric, "_bucket[5m])))"
            ),
        }
    };
}

macro_rules! per_agent {
    ($cni:expr, $role:expr, $metric:expr) => {
        QuerySpec {
            cni: $cni,
            role: $role,
            promql: concat!("sum by (node, instance) (", $metric, ")"),
        }
    };
}

macro_rules! agents {
    ($cni:expr) => {
        [
            QuerySpec {
                cni: $cni,
                role: Role::Up,
                promql: "up{job=~\"{job}\"}",
            },
            QuerySpec {
                cni: $cni,
                role: Role::ScrapeDuration,
                promql: "scrape_duration_seconds{job=~\"{job}\"}",
            },
        ]
    };
}

const CILIUM_POLICY: [QuerySpec; 4] =
    histogram!(Cni::Cilium, "cilium_policy_implementation_delay", 1.0);
const CILIUM_PROPAGATION: [QuerySpec; 4] = histogram!(
    Cni::Cilium,
    "cilium_endpoint_propagation_delay_seconds",
    1.0
);
const ANTREA_FLOW_OPS: [QuerySpec; 4] = histogram!(
    Cni::Antrea,
    "antrea_agent_ovs_flow_ops_latency_milliseconds",
    0.001
);
const AGENTS: [[QuerySpec; 2]; 4] = [
    agents!(Cni::Cilium),
    agents!(Cni::Hubble),
    agents!(Cni::Calico),
    agents!(Cni::Antrea),
];

const OTHERS: [QuerySpec; 10] = [
    drops!(Cni::Cilium, "cilium_drop_count_total", ""),
    drops!(Cni::Hubble, "hubble_drop_total", ""),
    drops!(
        Cni::Hubble,
        "hubble_policy_verdicts_total",
        "{action=~\"dropped|denied\"}"
    ),
    drops!(Cni::Calico, "calico_denied_packets", ""),
    drops!(Cni::Antrea, "antrea_agent_denied_connection_count", ""),
    QuerySpec {
        cni: Cni::Calico,
        role: Role::SummaryQuantiles {
            metric: calico::APPLY_TIME,
        },
        promql: concat!(
            "sum by (node, instance, quantile) (",
            "felix_int_dataplane_apply_time_seconds",
            ")"
        ),
    },
    per_agent!(
        Cni::Calico,
        Role::SummaryCount {
            metric: calico::APPLY_TIME
        },
        "felix_int_dataplane_apply_time_seconds_count"
    ),
    per_agent!(
        Cni::Cilium,
        Role::Health {
            metric: cilium::POLICY_COUNT
        },
        "cilium_policy"
    ),
    per_agent!(
        Cni::Calico,
        Role::Health {
            metric: calico::ACTIVE_POLICIES
        },
        "felix_active_local_policies"
    ),
    per_agent!(
        Cni::Antrea,
        Role::Health {
            metric: antrea::POLICY_COUNT
        },
        "antrea_agent_networkpolicy_count"
    ),
];

/// The labels Hubble's L7 adapter reads a namespace pair from (`labelsContext` or
/// `sourceContext`/`destinationContext` values `ns/pod`), and `reporter`.
macro_rules! by_pair {
    () => {
        "source_namespace, destination_namespace, source, destination, reporter"
    };
}

macro_rules! l7 {
    ($family:expr, $sample:expr, $promql:expr) => {
        QuerySpec {
            cni: Cni::Hubble,
            role: Role::L7 {
                family: $family,
                sample: $sample,
            },
            promql: $promql,
        }
    };
}

/// Hubble's `httpV2` (or `http`) and `dns` metrics: rates over the drop window, the request
/// duration histogram's increase over the latency window.
const HUBBLE_L7: [QuerySpec; 7] = [
    l7!(
        HTTP_REQUESTS,
        HTTP_REQUESTS,
        concat!(
            "sum by (",
            by_pair!(),
            ", status) (rate(hubble_http_requests_total[1m]))"
        )
    ),
    l7!(
        HTTP_RESPONSES,
        HTTP_RESPONSES,
        concat!(
            "sum by (",
            by_pair!(),
            ", status) (rate(hubble_http_responses_total[1m]))"
        )
    ),
    l7!(
        HTTP_DURATION,
        "hubble_http_request_duration_seconds_bucket",
        concat!(
            "sum by (",
            by_pair!(),
            ", le) (increase(hubble_http_request_duration_seconds_bucket[5m]))"
        )
    ),
    l7!(
        HTTP_DURATION,
        "hubble_http_request_duration_seconds_sum",
        concat!(
            "sum by (",
            by_pair!(),
            ") (increase(hubble_http_request_duration_seconds_sum[5m]))"
        )
    ),
    l7!(
        HTTP_DURATION,
        "hubble_http_request_duration_seconds_count",
        concat!(
            "sum by (",
            by_pair!(),
            ") (increase(hubble_http_request_duration_seconds_count[5m]))"
        )
    ),
    l7!(
        DNS_RESPONSES,
        DNS_RESPONSES,
        concat!(
            "sum by (",
            by_pair!(),
            ", rcode) (rate(hubble_dns_responses_total[1m]))"
        )
    ),
    l7!(
        DNS_QUERIES,
        DNS_QUERIES,
        concat!(
            "sum by (",
            by_pair!(),
            ") (rate(hubble_dns_queries_total[1m]))"
        )
    ),
];

/// The whole table, in a fixed order.
pub fn table() -> Vec<QuerySpec> {
    let mut all: Vec<QuerySpec> = OTHERS[..5].to_vec();
    all.extend(CILIUM_POLICY);
    all.extend(CILIUM_PROPAGATION);
    all.extend(ANTREA_FLOW_OPS);
    all.extend_from_slice(&OTHERS[5..]);
    all.extend(AGENTS.iter().flatten());
    all.extend(HUBBLE_L7);
    all
}

/// A query ready to send: the row and its PromQL with `{job}` filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub spec: QuerySpec,
    pub promql: String,
}

/// The table with each CNI's job regular expression filled in; CNIs without a rule (disabled in
/// `agents.toml`) are left out.
pub fn queries(rules: &[crate::scrape::AgentRule]) -> Vec<Query> {
    table()
        .into_iter()
        .filter_map(|spec| {
            let rule = rules.iter().find(|r| r.cni == spec.cni)?;
            Some(Query {
                spec,
                promql: spec.promql.replace("{job}", &rule.job),
            })
        })
        .collect()
}
