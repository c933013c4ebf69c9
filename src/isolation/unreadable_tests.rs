//! Namespace labels a scoped user cannot read. Kubernetes' NetworkPolicy docs: a peer's
//! `namespaceSelector` "selects particular namespaces for which all Pods should be allowed";
//! the API server sets `kubernetes.io/metadata.name` on every namespace, so that label alone
//! is known. A selector on any other label may or may not match: the cell is unknown.

use super::analysis::{Analysis, analyze_scoped};
use super::cni::CniChoice;
use super::matrix::Level;
use super::tenants::{Group, TenantRules};
use crate::model::fixture::{namespace, pod, policy};
use crate::model::{ClusterObject, ClusterSnapshot};
use crate::policy::{ConnSet, IpBlockPodsSetting, Protocol};

const DENY_INGRESS: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: acme-web}
spec: {podSelector: {}, policyTypes: [Ingress]}
";

/// acme-web admits TCP 8080 from the namespaces `selector` picks.
fn allow_from(selector: &str) -> ClusterObject {
    policy(&format!(
        "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-from-ops, namespace: acme-web}}
spec:
  podSelector: {{}}
  ingress:
  - from: [{{namespaceSelector: {selector}}}]
    ports: [{{protocol: TCP, port: 8080}}]
"
    ))
}

/// Two tenants whose namespaces carry only the name label, as a scoped user sees them.
fn analysis(extra: Vec<ClusterObject>, labels_known: bool) -> Analysis {
    let mut snapshot = ClusterSnapshot::default();
    let objects = [
        namespace("acme-web", &[("kubernetes.io/metadata.name", "acme-web")]),
        namespace(
            "globex-app",
            &[("kubernetes.io/metadata.name", "globex-app")],
        ),
        pod("acme-web", "storefront", &[("app", "storefront")]),
        pod("globex-app", "billing", &[("app", "billing")]),
        policy(DENY_INGRESS),
    ];
    for object in objects.into_iter().chain(extra) {
        snapshot.upsert(object);
    }
    let rules = TenantRules {
        name_patterns: vec![
            ("acme".into(), "acme-*".into()),
            ("globex".into(), "globex-*".into()),
        ],
        ..TenantRules::default()
    };
    let setting = IpBlockPodsSetting::default();
    analyze_scoped(
        snapshot,
        &rules,
        setting,
        CniChoice::Auto,
        None,
        labels_known,
    )
}

fn globex_to_acme(analysis: &Analysis) -> super::matrix::Cell {
    let (globex, acme) = (Group::Tenant("globex".into()), Group::Tenant("acme".into()));
    analysis.matrix.cell(&globex, &acme).unwrap().clone()
}

const REASON: &str = "namespace labels unreadable: namespaceSelector of acme-web/allow-from-ops";

#[test]
fn a_selector_on_an_unreadable_label_makes_the_cell_unknown_not_closed() {
    let selector = "{matchLabels: {team: ops}}";
    let known = analysis(vec![allow_from(selector)], true);
    // Evaluated with only the name label, the selector matches nothing: closed.
    assert_eq!(globex_to_acme(&known).level, Level::Closed);
    let scoped = analysis(vec![allow_from(selector)], false);
    let cell = globex_to_acme(&scoped);
    assert_eq!(cell.level, Level::Unknown);
    assert_eq!(cell.undecided, ConnSet::ports(Protocol::Tcp, 8080, 8080));
    assert_eq!(cell.undecided_reasons, [REASON]);
    // Cells the selector cannot reach keep their level: acme's egress is not isolated.
    let (globex, acme) = (Group::Tenant("globex".into()), Group::Tenant("acme".into()));
    assert_eq!(
        scoped.matrix.cell(&acme, &globex).unwrap().level,
        Level::Open
    );
    // The namespace level below says the same.
    let grid = scoped.namespace_grid(vec!["globex-app".into()], vec!["acme-web".into()], false);
    assert_eq!(grid.cells[0][0].level, Level::Unknown);
    assert_eq!(grid.cells[0][0].undecided_reasons, [REASON]);
}

#[test]
fn the_name_label_is_known_so_selectors_on_it_stay_decided() {
    let by_name = analysis(
        vec![allow_from(
            "{matchLabels: {kubernetes.io/metadata.name: globex-app}}",
        )],
        false,
    );
    let cell = globex_to_acme(&by_name);
    assert_eq!(cell.level, Level::Partial);
    assert!(cell.undecided.is_empty());
    // matchLabels are ANDed: a name requirement that fails decides, whatever the other label.
    let other_name = analysis(
        vec![allow_from(
            "{matchLabels: {kubernetes.io/metadata.name: monitoring, team: ops}}",
        )],
        false,
    );
    assert_eq!(globex_to_acme(&other_name).level, Level::Closed);
    // With the name and another label, the other label decides: unknown.
    let both = analysis(
        vec![allow_from(
            "{matchLabels: {kubernetes.io/metadata.name: globex-app, team: ops}}",
        )],
        false,
    );
    assert_eq!(globex_to_acme(&both).level, Level::Unknown);
}

#[test]
fn a_negative_requirement_on_an_unreadable_label_is_unknown_not_open() {
    // `NotIn` matches a namespace without the label, as the name-only view has it; the real
    // namespace may carry `team: ops`.
    let scoped = analysis(
        vec![allow_from(
            "{matchExpressions: [{key: team, operator: NotIn, values: [ops]}]}",
        )],
        false,
    );
    assert_eq!(globex_to_acme(&scoped).level, Level::Unknown);
}

#[test]
fn a_cell_open_anyway_stays_open() {
    let open_to_all = policy(
        "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: acme-web}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
",
    );
    let scoped = analysis(
        vec![allow_from("{matchLabels: {team: ops}}"), open_to_all],
        false,
    );
    let cell = globex_to_acme(&scoped);
    assert_eq!(cell.level, Level::Open);
    assert!(cell.undecided_reasons.is_empty());
}

/// Cilium's docs: `fromEndpoints` may select by `k8s:io.cilium.k8s.namespace.labels.<key>`,
/// the labels of the peer's namespace. A deny on such a label may or may not apply.
#[test]
fn a_cilium_deny_on_an_unreadable_namespace_label_makes_the_cell_unknown_not_open() {
    let open_to_all = policy(
        "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: acme-web}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
",
    );
    let object: kube::api::DynamicObject = crate::yaml::from_str(
        "
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-initech, namespace: acme-web}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false}
  ingressDeny:
  - fromEndpoints:
    - matchLabels: {k8s:io.cilium.k8s.namespace.labels.tenant: initech}
",
    )
    .unwrap();
    let kind = crate::model::NativeKind::CiliumNetworkPolicy;
    let deny = ClusterObject::Native(crate::model::NativePolicyInfo::new(kind, object).unwrap());
    let objects = || vec![open_to_all.clone(), deny.clone()];
    // Evaluated with only the name label, the deny matches no namespace: open.
    assert_eq!(
        globex_to_acme(&analysis(objects(), true)).level,
        Level::Open
    );
    let cell = globex_to_acme(&analysis(objects(), false));
    assert_eq!(cell.level, Level::Unknown);
    assert_eq!(cell.undecided, ConnSet::all());
    assert_eq!(
        cell.undecided_reasons.len(),
        1,
        "{:?}",
        cell.undecided_reasons
    );
    let reason = &cell.undecided_reasons[0];
    assert!(
        reason.starts_with("namespace labels unreadable: fromEndpoints of ")
            && reason.ends_with("acme-web/deny-initech"),
        "{reason}"
    );
}

/// A Calico NetworkPolicy (`projectcalico.org/v3`) in acme-web: Calico's docs say a rule's
/// `source.namespaceSelector` picks the namespaces whose labels match the expression.
fn calico(yaml_spec: &str) -> ClusterObject {
    let object: kube::api::DynamicObject = crate::yaml::from_str(&format!(
        "
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: from-ops, namespace: acme-web}}
spec:
{yaml_spec}"
    ))
    .unwrap();
    let kind = crate::model::NativeKind::CalicoNetworkPolicy;
    ClusterObject::Native(crate::model::NativePolicyInfo::new(kind, object).unwrap())
}

const CALICO_REASON: &str =
    "namespace labels unreadable: namespaceSelector of caliconp/acme-web/from-ops";

#[test]
fn a_calico_allow_on_an_unreadable_namespace_label_makes_the_cell_unknown_not_closed() {
    let allow = calico(
        "  selector: all()
  types: [Ingress]
  ingress:
  - action: Allow
    source: {namespaceSelector: team == 'ops'}
",
    );
    // With only the name label, the Allow matches nothing and the default tier's end denies.
    let known = globex_to_acme(&analysis(vec![allow.clone()], true));
    assert_eq!(known.level, Level::Closed);
    let cell = globex_to_acme(&analysis(vec![allow], false));
    assert_eq!(cell.level, Level::Unknown);
    assert_eq!(cell.undecided, ConnSet::all());
    assert_eq!(cell.undecided_reasons, [CALICO_REASON]);
}

#[test]
fn a_calico_deny_on_an_unreadable_namespace_label_makes_the_cell_unknown_not_open() {
    let deny_then_allow = calico(
        "  selector: all()
  order: 10
  types: [Ingress]
  ingress:
  - action: Deny
    source: {namespaceSelector: tenant == 'globex'}
  - action: Allow
",
    );
    let known = globex_to_acme(&analysis(vec![deny_then_allow.clone()], true));
    assert_eq!(known.level, Level::Open);
    let cell = globex_to_acme(&analysis(vec![deny_then_allow], false));
    assert_eq!(cell.level, Level::Unknown);
    assert_eq!(cell.undecided_reasons, [CALICO_REASON]);
}

#[test]
fn a_calico_selector_on_the_name_labels_stays_decided() {
    let allow = calico(
        "  selector: all()
  types: [Ingress]
  ingress:
  - action: Allow
    source: {namespaceSelector: projectcalico.org/name == 'globex-app'}
",
    );
    let cell = globex_to_acme(&analysis(vec![allow], false));
    assert_eq!(cell.level, Level::Open);
    assert!(cell.undecided_reasons.is_empty());
}
