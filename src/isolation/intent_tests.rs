use super::intent::{Intent, check_intent};
use super::tenants::TenantRules;
use crate::model::ClusterSnapshot;
use crate::model::fixture::{policy, small_cluster};
use crate::policy::{Engine, Settings};

const INTENT: &str = "
required:
  - name: dns
    from: {tenant: '*'}
    to: {namespace: kube-system, pods: {k8s-app: kube-dns}}
    ports: [UDP/53, TCP/53]
forbidden:
  - name: cross-tenant
    from: {tenant: '*'}
    to: {tenant: '*'}
    scope: other-tenant
";

fn check(extra: &[&str]) -> Vec<crate::isolation::findings::Finding> {
    check_with(INTENT, extra)
}

fn check_with(intent: &str, extra: &[&str]) -> Vec<crate::isolation::findings::Finding> {
    let mut snapshot = ClusterSnapshot::default();
    for object in small_cluster() {
        snapshot.upsert(object);
    }
    for yaml in extra {
        snapshot.upsert(policy(yaml));
    }
    let engine = Engine::new(&snapshot, Settings::default());
    check_intent(
        &Intent::from_yaml(intent).unwrap(),
        &engine,
        &snapshot,
        &TenantRules::default(),
    )
}

#[test]
fn required_dns_is_closed_for_egress_isolated_tenants_and_names_the_policy() {
    let findings = check(&[]);
    let dns: Vec<_> = findings.iter().filter(|f| f.id == "PAL060").collect();
    let objects: Vec<&str> = dns.iter().map(|f| f.object.as_str()).collect();
    // acme's namespaces deny all egress; globex's egress is not isolated, so its DNS works.
    assert_eq!(
        objects,
        [
            "intent `dns`: acme-db → kube-system",
            "intent `dns`: acme-web → kube-system"
        ]
    );
    assert!(
        dns[1].message.contains("closed for TCP 53,UDP 53"),
        "{}",
        dns[1].message
    );
    assert!(
        dns[1]
            .message
            .contains("egress of the source: limited by acme-web/deny-all"),
        "{}",
        dns[1].message
    );
    assert!(
        dns[1]
            .message
            .contains("ingress of the destination: no policy isolates it"),
        "{}",
        dns[1].message
    );
}

#[test]
fn forbidden_cross_tenant_path_opened_by_a_policy_is_a_breach_naming_it() {
    assert!(
        check(&[]).iter().all(|f| f.id != "PAL061"),
        "the fixture keeps tenants apart"
    );
    let opener = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-anywhere, namespace: acme-web}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n";
    let findings = check(&[opener]);
    let breach = findings.iter().find(|f| f.id == "PAL061").expect("breach");
    assert_eq!(
        breach.object,
        "intent `cross-tenant`: globex-app → acme-web"
    );
    assert!(
        breach.message.contains("open for All Connections"),
        "{}",
        breach.message
    );
    assert!(
        breach.message.contains("allowed by acme-web/from-anywhere"),
        "{}",
        breach.message
    );
    assert!(
        !breach.message.contains("deny-all"),
        "deny-all allows nothing: {}",
        breach.message
    );
}

#[test]
fn bad_intent_files_are_clear_errors() {
    let err = Intent::from_yaml(
        "required:\n  - name: x\n    from: {}\n    to: {}\n    ports: [TCP/http]\n",
    )
    .unwrap_err();
    assert!(
        err.contains("rule `x`: ports: `TCP/http`: port must be 1-65535"),
        "{err}"
    );
    let err = Intent::from_yaml("required:\n  - name: x\n    form: {}\n").unwrap_err();
    assert!(err.starts_with("line 3:") && err.contains("form"), "{err}");
    let err =
        Intent::from_yaml("forbidden:\n  - name: y\n    from: {group: tenants}\n    to: {}\n")
            .unwrap_err();
    assert!(err.contains("from.group"), "{err}");
}

#[test]
fn the_documented_example_parses() {
    let intent = Intent::from_yaml(include_str!("../../docs/examples/intent.yaml")).unwrap();
    assert_eq!(intent.required.len(), 2);
    assert_eq!(intent.forbidden.len(), 2);
}

#[test]
fn a_rule_that_selects_nothing_is_a_warning_naming_the_empty_end() {
    assert!(
        check(&[]).iter().all(|f| f.id != "PAL062"),
        "every rule of the fixture's intent selects pods"
    );
    let findings = check_with(
        "forbidden:
  - name: typo
    from: {tenant: acme}
    to: {namespace: kube-sytem, pods: {k8s-app: kube-dns}}
  - name: nobody
    from: {tenant: initech}
    to: {group: unassigned}
  - name: alone
    from: {tenant: acme}
    to: {tenant: globex}
    scope: same-tenant
",
        &[],
    );
    let empty: Vec<(&str, &str, &str)> = findings
        .iter()
        .filter(|f| f.id == "PAL062")
        .map(|f| (f.object.as_str(), f.namespace.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        empty,
        [
            (
                "intent `typo`",
                "kube-sytem",
                "`to` (namespace=kube-sytem, pods k8s-app=kube-dns) selects no pod; the rule checks nothing"
            ),
            (
                "intent `nobody`",
                "",
                "`from` (tenant=initech) selects no pod and `to` (group=unassigned) selects no pod; the rule checks nothing"
            ),
            (
                "intent `alone`",
                "",
                "both ends select pods, but no pair of different pods is in scope `same-tenant`; the rule checks nothing"
            ),
        ]
    );
    assert!(
        findings.iter().all(
            |f| f.id != "PAL062" || f.severity == crate::isolation::findings::Severity::Warning
        )
    );
}
