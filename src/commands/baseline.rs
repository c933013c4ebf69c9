//! `palisade baseline`: a tenant's baseline NetworkPolicy set, built as typed objects, checked
//! by the engine's compiler, printed as multi-document YAML.
//!
//! The set follows the demo scenario's conventions (see `src/sim/scenario.yaml`, tenant acme):
//! per namespace `default-deny` (ingress and egress), `allow-dns` (egress to kube-dns in
//! kube-system, UDP and TCP 53), `allow-same-tenant` (ingress and egress with the namespaces
//! carrying the tenant label), and optionally `allow-monitoring` (ingress from Prometheus in the
//! `monitoring` namespace to the ports named `metrics`).
//!
//! Exit codes: 0 printed; 1 the tenant's namespaces cannot be found (no cluster, or none
//! labelled); 2 bad input (an invalid tenant or namespace name) or a generated policy the engine
//! rejects (a bug: the message names the policy and field).

use std::collections::BTreeMap;
use std::process::ExitCode;

use color_eyre::eyre::{Result, WrapErr, eyre};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cli::{BaselineArgs, ClusterArgs};
use crate::cluster::{self, snapshot::fetch_snapshot_reporting};
use crate::isolation::tenants::{Group, TenantRules};
use crate::model::{ObjectRef, PolicyInfo};
use crate::policy::compile::compile_policy;

/// The namespace label naming the tenant when `--tenant-label` is not given.
pub const DEFAULT_TENANT_LABEL: &str = "tenant";
/// The label every namespace carries with its own name (set by the API server).
const NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Labels the generated policies carry, so they can be found (`-l app.kubernetes.io/managed-by=palisade`).
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "palisade");

/// What to generate: the pure input of [`baseline_policies`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineSpec {
    pub tenant: String,
    pub tenant_label: String,
    pub namespaces: Vec<String>,
    pub monitoring: bool,
}

pub async fn run(args: &BaselineArgs, cluster: &ClusterArgs) -> Result<ExitCode> {
    let tenant_label = args
        .tenant_label
        .clone()
        .unwrap_or_else(|| DEFAULT_TENANT_LABEL.to_string());
    if let Err(problem) = check_input(&args.tenant, &tenant_label, &args.namespaces) {
        eprintln!("palisade: error: {problem}");
        return Ok(ExitCode::from(2));
    }
    if args.tiers {
        return super::baseline_tiers::run(&args.tenant, &tenant_label);
    }
    let namespaces = if args.namespaces.is_empty() {
        match live_namespaces(&args.tenant, &tenant_label, cluster).await {
            Ok(found) => found,
            Err(err) => {
                eprintln!("palisade: error: {err}");
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    } else {
        // In the order given, each once.
        let mut given: Vec<String> = Vec::new();
        for ns in &args.namespaces {
            if !given.contains(ns) {
                given.push(ns.clone());
            }
        }
        given
    };
    let spec = BaselineSpec {
        tenant: args.tenant.clone(),
        tenant_label,
        namespaces,
        monitoring: args.monitoring,
    };
    let policies = baseline_policies(&spec);
    if let Err(problems) = validate(&policies) {
        eprintln!("palisade: error: the generated baseline does not compile (a palisade bug):");
        for problem in &problems {
            eprintln!("  {problem}");
        }
        return Ok(ExitCode::from(2));
    }
    print!("{}", render_yaml(&spec, &policies)?);
    Ok(ExitCode::SUCCESS)
}

/// The tenant's namespaces on the live cluster, by the tenant label.
async fn live_namespaces(
    tenant: &str,
    tenant_label: &str,
    cluster_args: &ClusterArgs,
) -> Result<Vec<String>> {
    let source = cluster::resolve_kubeconfig(cluster_args.kubeconfig.as_deref())
        .wrap_err("no --namespace given and no cluster to read the tenant's namespaces from")?;
    let mut connection = cluster::connect(source, cluster_args.context.as_deref())
        .await
        .wrap_err("no --namespace given and the cluster is unreachable")?;
    crate::commands::input::narrow(&mut connection, &[]);
    let live = fetch_snapshot_reporting(&connection, &mut |_| {}).await?;
    if let Some(scope) = live.coverage.scope.as_ref().filter(|s| !s.labels_known) {
        // Without the Namespace objects no tenant label can be read.
        return Err(eyre!(
            "the namespaces' labels are forbidden to context `{}` ({}): pass -n/--namespace NS for each of the tenant's namespaces",
            connection.context,
            scope.line()
        ));
    }
    let snapshot = live.snapshot;
    let rules = TenantRules {
        label_keys: vec![tenant_label.to_string()],
        ..TenantRules::default()
    };
    let found: Vec<String> = snapshot
        .namespaces
        .values()
        .filter(|ns| rules.group_of(&ns.name, &ns.labels) == Group::Tenant(tenant.to_string()))
        .map(|ns| ns.name.clone())
        .collect();
    if found.is_empty() {
        return Err(eyre!(
            "no namespace of context `{}` is labelled {tenant_label}={tenant}; pass --namespace NS",
            connection.context
        ));
    }
    Ok(found)
}

/// Names the API server would reject, caught before generating anything.
fn check_input(tenant: &str, label: &str, namespaces: &[String]) -> Result<(), String> {
    let label_value = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if !label_value(tenant) {
        return Err(format!(
            "`{tenant}` is not a valid label value for a tenant (letters, digits, - _ . ; at most 63)"
        ));
    }
    if label.is_empty() || label.contains(char::is_whitespace) {
        return Err(format!("`{label}` is not a valid label key"));
    }
    for ns in namespaces {
        let dns_label = !ns.is_empty()
            && ns.len() <= 63
            && ns
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !ns.starts_with('-')
            && !ns.ends_with('-');
        if !dns_label {
            return Err(format!(
                "`{ns}` is not a valid namespace name (lowercase letters, digits and -)"
            ));
        }
    }
    Ok(())
}

/// The baseline set: four (three without monitoring) policies per namespace, in namespace order.
pub fn baseline_policies(spec: &BaselineSpec) -> Vec<NetworkPolicy> {
    let mut out = Vec::new();
    for namespace in &spec.namespaces {
        out.push(policy(
            spec,
            namespace,
            "default-deny",
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ..NetworkPolicySpec::default()
            },
        ));
        out.push(policy(
            spec,
            namespace,
            "allow-dns",
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Egress".into()]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![peer(
                        Some((NAME_LABEL, "kube-system")),
                        Some(("k8s-app", "kube-dns")),
                    )]),
                    ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
                }]),
                ..NetworkPolicySpec::default()
            },
        ));
        let same_tenant = || vec![peer(Some((&spec.tenant_label, &spec.tenant)), None)];
        out.push(policy(
            spec,
            namespace,
            "allow-same-tenant",
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(same_tenant()),
                    ports: None,
                }]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(same_tenant()),
                    ports: None,
                }]),
            },
        ));
        if spec.monitoring {
            out.push(policy(
                spec,
                namespace,
                "allow-monitoring",
                NetworkPolicySpec {
                    pod_selector: Some(LabelSelector::default()),
                    policy_types: Some(vec!["Ingress".into()]),
                    ingress: Some(vec![NetworkPolicyIngressRule {
                        from: Some(vec![peer(
                            Some((NAME_LABEL, "monitoring")),
                            Some(("app.kubernetes.io/name", "prometheus")),
                        )]),
                        ports: Some(vec![NetworkPolicyPort {
                            port: Some(IntOrString::String("metrics".into())),
                            ..NetworkPolicyPort::default()
                        }]),
                    }]),
                    ..NetworkPolicySpec::default()
                },
            ));
        }
    }
    out
}

fn policy(
    spec: &BaselineSpec,
    namespace: &str,
    name: &str,
    body: NetworkPolicySpec,
) -> NetworkPolicy {
    let labels = BTreeMap::from([
        (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
        (spec.tenant_label.clone(), spec.tenant.clone()),
    ]);
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(body),
    }
}

fn selector(pair: (&str, &str)) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(pair.0.to_string(), pair.1.to_string())])),
        ..LabelSelector::default()
    }
}

fn peer(namespace: Option<(&str, &str)>, pods: Option<(&str, &str)>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: namespace.map(selector),
        pod_selector: pods.map(selector),
        ip_block: None,
    }
}

fn port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_string()),
        port: Some(IntOrString::Int(number)),
        end_port: None,
    }
}

/// Compiles every policy with the engine's compiler; the errors, one line each.
pub fn validate(policies: &[NetworkPolicy]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for object in policies {
        let id = ObjectRef::new(
            object.metadata.namespace.clone().unwrap_or_default(),
            object.metadata.name.clone().unwrap_or_default(),
        );
        let info = PolicyInfo {
            id,
            object: object.clone(),
        };
        if let Err(errors) = compile_policy(&info) {
            problems.extend(errors.iter().map(ToString::to_string));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A comment header, then one `---` document per policy.
pub fn render_yaml(spec: &BaselineSpec, policies: &[NetworkPolicy]) -> Result<String> {
    let mut out = format!(
        "# Baseline NetworkPolicies of tenant `{}` ({}={}), namespaces: {}.\n\
         # Per namespace: default-deny ingress and egress, DNS egress to kube-dns (UDP and TCP 53),\n\
         # traffic within the tenant{}.\n\
         # Generated by palisade {} (`palisade baseline`); check with `palisade check --manifests`.\n",
        spec.tenant,
        spec.tenant_label,
        spec.tenant,
        spec.namespaces.join(", "),
        if spec.monitoring {
            ", and ingress from Prometheus (monitoring) to ports named `metrics`"
        } else {
            ""
        },
        env!("CARGO_PKG_VERSION"),
    );
    for policy in policies {
        out.push_str("---\n");
        out.push_str(&crate::yaml::to_string(policy).wrap_err("cannot serialise a policy")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(monitoring: bool) -> BaselineSpec {
        BaselineSpec {
            tenant: "acme".into(),
            tenant_label: "tenant".into(),
            namespaces: vec!["acme-web".into(), "acme-api".into()],
            monitoring,
        }
    }

    fn named<'a>(policies: &'a [NetworkPolicy], ns: &str, name: &str) -> &'a NetworkPolicySpec {
        policies
            .iter()
            .find(|p| {
                p.metadata.namespace.as_deref() == Some(ns)
                    && p.metadata.name.as_deref() == Some(name)
            })
            .and_then(|p| p.spec.as_ref())
            .unwrap_or_else(|| panic!("{ns}/{name} missing"))
    }

    #[test]
    fn every_namespace_gets_the_set_in_order() {
        let policies = baseline_policies(&spec(false));
        let names: Vec<String> = policies
            .iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "acme-web/default-deny",
                "acme-web/allow-dns",
                "acme-web/allow-same-tenant",
                "acme-api/default-deny",
                "acme-api/allow-dns",
                "acme-api/allow-same-tenant",
            ]
        );
        assert_eq!(baseline_policies(&spec(true)).len(), 8);
        assert!(validate(&baseline_policies(&spec(true))).is_ok());
    }

    #[test]
    fn the_policies_have_the_conventional_shape() {
        let policies = baseline_policies(&spec(true));
        let deny = named(&policies, "acme-web", "default-deny");
        assert_eq!(
            deny.policy_types.as_deref(),
            Some(&["Ingress".to_string(), "Egress".to_string()][..])
        );
        assert!(deny.ingress.is_none() && deny.egress.is_none());
        assert_eq!(deny.pod_selector, Some(LabelSelector::default()));

        let dns = named(&policies, "acme-web", "allow-dns");
        let rule = &dns.egress.as_ref().unwrap()[0];
        let to = &rule.to.as_ref().unwrap()[0];
        assert_eq!(
            to.namespace_selector,
            Some(selector((NAME_LABEL, "kube-system")))
        );
        assert_eq!(to.pod_selector, Some(selector(("k8s-app", "kube-dns"))));
        assert_eq!(rule.ports, Some(vec![port("UDP", 53), port("TCP", 53)]));

        let same = named(&policies, "acme-api", "allow-same-tenant");
        let tenant = Some(selector(("tenant", "acme")));
        assert_eq!(
            same.ingress.as_ref().unwrap()[0].from.as_ref().unwrap()[0].namespace_selector,
            tenant
        );
        assert_eq!(
            same.egress.as_ref().unwrap()[0].to.as_ref().unwrap()[0].namespace_selector,
            tenant
        );
        assert!(
            same.ingress.as_ref().unwrap()[0].from.as_ref().unwrap()[0]
                .pod_selector
                .is_none()
        );

        let monitoring = named(&policies, "acme-api", "allow-monitoring");
        assert_eq!(
            monitoring.policy_types.as_deref(),
            Some(&["Ingress".to_string()][..])
        );
        let from = &monitoring.ingress.as_ref().unwrap()[0]
            .from
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            from.namespace_selector,
            Some(selector((NAME_LABEL, "monitoring")))
        );
    }

    #[test]
    fn a_custom_tenant_label_is_used_in_selectors_and_labels() {
        let spec = BaselineSpec {
            tenant_label: "capsule.clastix.io/tenant".into(),
            ..spec(false)
        };
        let policies = baseline_policies(&spec);
        let same = named(&policies, "acme-web", "allow-same-tenant");
        assert_eq!(
            same.ingress.as_ref().unwrap()[0].from.as_ref().unwrap()[0].namespace_selector,
            Some(selector(("capsule.clastix.io/tenant", "acme")))
        );
        let labels = policies[0].metadata.labels.as_ref().unwrap();
        assert_eq!(labels["capsule.clastix.io/tenant"], "acme");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "palisade");
    }

    #[test]
    fn the_yaml_has_a_header_and_parses_back() {
        let spec = spec(true);
        let policies = baseline_policies(&spec);
        let yaml = render_yaml(&spec, &policies).unwrap();
        assert!(yaml.starts_with("# Baseline NetworkPolicies of tenant `acme`"));
        assert!(yaml.contains("Generated by palisade"));
        let back: Vec<NetworkPolicy> = crate::yaml::documents(&yaml).unwrap();
        assert_eq!(back, policies);
        assert!(yaml.contains("apiVersion: networking.k8s.io/v1"));
        assert!(yaml.contains("kind: NetworkPolicy"));
    }

    #[test]
    fn a_broken_policy_is_reported_by_the_compiler() {
        let mut policies = baseline_policies(&spec(false));
        policies[1].spec.as_mut().unwrap().egress.as_mut().unwrap()[0].ports =
            Some(vec![port("SCTPX", 53)]);
        let problems = validate(&policies).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("allow-dns")),
            "{problems:?}"
        );
    }

    #[test]
    fn bad_names_are_bad_input() {
        assert!(check_input("acme", "tenant", &["acme-web".into()]).is_ok());
        assert!(check_input("", "tenant", &[]).is_err());
        assert!(check_input("ac me", "tenant", &[]).is_err());
        assert!(check_input("acme", "tenant", &["Acme_Web".into()]).is_err());
    }
}
