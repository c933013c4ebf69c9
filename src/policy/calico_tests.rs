//! Calico's policies under `Cni::Calico`, one test per rule of Calico's documentation
//! (docs.tigera.io, Calico Open Source: "NetworkPolicy", "GlobalNetworkPolicy", "Tier", "Rule",
//! "Selectors", "Get started with policy tiers", "Staged network policies"), on the small
//! cluster of `semantics_tests`: namespaces `a` (team=red: pods web (ports http 8080/TCP,
//! dns 53/UDP, 10.0.0.1) and db (10.0.0.2)) and `b` (team=blue: pod client, 10.1.0.1).
//! The order of evaluation (policy `order`, tiers, `Pass`, the profile) is tested in
//! `calico_order_tests`, with the fixtures below.

use kube::core::DynamicObject;

use super::calico::staged::staged_changes;
use super::semantics_tests::{PODS, conns, snapshot};
use super::*;
use crate::model::{ClusterSnapshot, NativeKind, NativePolicyInfo, NativeRef, ObjectRef};

pub(super) const ALL: &str = "All Connections";
pub(super) const NONE: &str = "No Connections";

pub(super) fn calico_settings() -> Settings {
    Settings {
        ip_block_pods: IpBlockPods::Match,
        tier_networks: IpBlockPods::Match,
        cni: Cni::Calico,
    }
}

/// Splits a YAML stream: documents of Calico's or Cilium's groups become natives, the rest
/// goes to the manifest reader.
pub(super) fn cluster(yaml: &str) -> ClusterSnapshot {
    let mut rest = Vec::new();
    let mut natives = Vec::new();
    for doc in yaml.split("\n---\n") {
        let field = |name: &str| {
            doc.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let group = field("apiVersion: ")
            .map(|v| v.split('/').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        let kind = field("kind: ").and_then(|k| NativeKind::from_group_kind(&group, &k));
        match kind {
            Some(kind) => natives.push(native(kind, doc)),
            None => rest.push(doc),
        }
    }
    let mut snap = snapshot(&rest.join("\n---\n"));
    for n in natives {
        snap.natives.insert(n.id.clone(), n);
    }
    snap
}

pub(super) fn native(kind: NativeKind, doc: &str) -> NativePolicyInfo {
    let object: DynamicObject = crate::yaml::from_str(doc).expect("test yaml");
    NativePolicyInfo::new(kind, object).expect("named")
}

fn with_pods(docs: &[&str]) -> ClusterSnapshot {
    let mut yaml = PODS.to_string();
    for d in docs {
        yaml.push_str("\n---\n");
        yaml.push_str(d);
    }
    cluster(&yaml)
}

fn engine_as(docs: &[&str], cni: Cni) -> Engine {
    let e = Engine::new(
        &with_pods(docs),
        Settings {
            cni,
            ..calico_settings()
        },
    );
    let errors: Vec<_> = e.validation_errors().collect();
    assert!(errors.is_empty(), "{errors:?}");
    e
}

pub(super) fn engine(docs: &[&str]) -> Engine {
    engine_as(docs, Cni::Calico)
}

fn errors(docs: &[&str]) -> Vec<String> {
    let e = Engine::new(&with_pods(docs), calico_settings());
    e.validation_errors().map(|e| e.to_string()).collect()
}

fn class(e: &Engine, pod: &str) -> usize {
    let (ns, n) = pod.split_once('/').unwrap();
    e.class_of(&ObjectRef::new(ns, format!("{n}[Pod]")))
        .unwrap()
}

fn ext(ranges: &[ipset::IpRange], ip: &str) -> Peer {
    let addr: std::net::Ipv4Addr = ip.parse().unwrap();
    let r = ranges
        .iter()
        .find(|r| (r.lo..=r.hi).contains(&(u32::from(addr) as u128)))
        .unwrap();
    Peer::External(*r)
}

fn to_ip(e: &Engine, src: &str, ip: &str) -> Verdict {
    let dst = ext(&e.externals().destinations, ip);
    e.verdict(&Peer::Class(class(e, src)), &dst)
}

fn from_ip(e: &Engine, ip: &str, dst: &str) -> Verdict {
    let src = ext(&e.externals().sources, ip);
    e.verdict(&src, &Peer::Class(class(e, dst)))
}

pub(super) fn explain_text(e: &Engine, src: &str, dst: &str) -> String {
    let x = explain(e, &Peer::Class(class(e, src)), &Peer::Class(class(e, dst)));
    render_explanation(&x, src, dst)
}

pub(super) fn cnp(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
    )
}

pub(super) fn gnp(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec}"
    )
}

pub(super) fn tier(name: &str, order: u32, default_action: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: {name}}}\nspec: {{order: {order}, defaultAction: {default_action}}}"
    )
}

pub(super) fn knp(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
    )
}

#[test]
fn a_namespaced_policy_selects_only_its_namespace() {
    // NetworkPolicy: "NetworkPolicy in a specific namespace only applies to workload endpoint
    // resources in that namespace." No rules and no types: Ingress, so ingress is denied at
    // the end of the default tier.
    let p = cnp("a", "deny-in", "  selector: all()\n");
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "a/web", "a/db"), NONE, "a/db's ingress too");
    assert_eq!(conns(&e, "a/web", "b/client"), ALL, "b is not selected");
}

#[test]
fn types_default_to_ingress_plus_egress_when_egress_rules_exist() {
    // "Default if types not specified": Ingress alone without egress rules; Egress alone with
    // egress rules and no ingress rules; both with both.
    let egress_only = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  egress: [{action: Allow, destination: {selector: app == 'db'}}]\n",
    );
    let e = engine(&[&egress_only]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "ingress not selected");
    assert_eq!(conns(&e, "a/web", "b/client"), NONE);
    assert_eq!(conns(&e, "a/web", "a/db"), ALL);
    let explicit = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  types: [Ingress, Egress]\n  egress: [{action: Allow}]\n",
    );
    let e = engine(&[&explicit]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "types says Ingress too"
    );
    assert_eq!(conns(&e, "a/web", "b/client"), ALL);
}

#[test]
fn a_rule_selector_means_the_policys_namespace_in_a_networkpolicy_and_every_namespace_in_a_gnp() {
    // Rule `selector`: "If namespaceSelector is not given, in a NetworkPolicy the selector
    // applies to endpoints in the same namespace; in a GlobalNetworkPolicy, to all."
    let rule =
        "  selector: app == 'web'\n  ingress: [{action: Allow, source: {selector: has(app)}}]\n";
    let e = engine(&[&cnp("a", "p", rule)]);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    let e = engine(&[&gnp("p", rule)]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    // With namespaceSelector: the namespaces it selects (projectcalico.org/name included).
    let ns_rule = "  selector: app == 'web'\n  ingress: [{action: Allow, source: {namespaceSelector: projectcalico.org/name == 'b'}}]\n";
    let e = engine(&[&cnp("a", "p", ns_rule)]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    // A rule without selectors or nets takes in every source, in any namespace.
    let any = "  selector: app == 'web'\n  ingress: [{action: Allow, protocol: TCP}]\n";
    let e = engine(&[&cnp("a", "p", any)]);
    assert_eq!(conns(&e, "b/client", "a/web"), "TCP 1-65535");
}

#[test]
fn calico_adds_namespace_labels_to_pods_as_pcns_and_their_namespace() {
    // Selectors: a pod carries `projectcalico.org/namespace`, `projectcalico.org/orchestrator`
    // and its namespace's labels prefixed `pcns.`.
    let p = gnp(
        "red-only",
        "  selector: pcns.team == 'red' && projectcalico.org/orchestrator == 'k8s'\n  ingress: [{action: Allow, source: {selector: pcns.team == 'red'}}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "a/web", "b/client"), ALL, "client is not red");
    let g = gnp(
        "ns",
        "  namespaceSelector: team == 'blue'\n  selector: all()\n  egress: [{action: Deny}]\n",
    );
    let e = engine(&[&g]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "GNP namespaceSelector"
    );
    assert_eq!(conns(&e, "a/db", "a/web"), ALL);
}

#[test]
fn ports_ranges_named_ports_and_not_ports() {
    // Rule ports: numbers, "lo:hi" ranges and named ports (resolved against the
    // destination); notPorts excludes; protocol restricts, notProtocol removes.
    let rule = |r: &str| {
        cnp(
            "a",
            "p",
            &format!("  selector: app == 'web'\n  ingress: [{r}]\n"),
        )
    };
    let e = engine(&[&rule(
        "{action: Allow, protocol: TCP, destination: {ports: [80, '8000:8100']}}",
    )]);
    assert_eq!(conns(&e, "a/db", "a/web"), "TCP 80,8000-8100");
    let e = engine(&[&rule(
        "{action: Allow, protocol: UDP, destination: {ports: [dns]}}",
    )]);
    assert_eq!(conns(&e, "a/db", "a/web"), "UDP 53");
    let e = engine(&[&rule(
        "{action: Allow, protocol: TCP, destination: {notPorts: ['1:1000']}}",
    )]);
    assert_eq!(conns(&e, "a/db", "a/web"), "TCP 1001-65535");
    let e = engine(&[&rule("{action: Allow, notProtocol: UDP}")]);
    assert_eq!(conns(&e, "a/db", "a/web"), "SCTP 1-65535,TCP 1-65535");
}

#[test]
fn nets_match_pod_ips_and_external_addresses() {
    // Rule `nets`/`notNets`: CIDRs (or addresses) matched against the peer's IPs; under
    // Calico a pod's IP matches.
    let p = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  egress: [{action: Allow, destination: {nets: [10.1.0.0/16, 8.8.8.8]}}]\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/web", "b/client"), ALL);
    assert_eq!(conns(&e, "a/web", "a/db"), NONE);
    assert_eq!(to_ip(&e, "a/web", "8.8.8.8").allowed.to_string(), ALL);
    assert_eq!(to_ip(&e, "a/web", "1.1.1.1").allowed.to_string(), NONE);
    let not = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  ingress: [{action: Allow, source: {notNets: [10.0.0.0/16]}}]\n",
    );
    let e = engine(&[&not]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(from_ip(&e, "1.2.3.4", "a/web").allowed.to_string(), ALL);
}

#[test]
fn not_selector_excludes_and_log_goes_on() {
    // Rule `notSelector`: the rule matches peers the selector does not match. `Log` records
    // and continues with the next rule.
    let p = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  ingress:\n  - {action: Log}\n  - {action: Allow, source: {notSelector: app == 'db'}}\n",
    );
    let e = engine(&[&p]);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "notSelector is scoped to the policy's namespace"
    );
    let g = gnp(
        "p",
        "  selector: app == 'web'\n  ingress:\n  - {action: Log}\n  - {action: Allow, source: {notSelector: app == 'db'}}\n",
    );
    let e = engine(&[&g]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(conns(&e, "a/db", "a/web"), NONE);
}

#[test]
fn services_and_service_accounts_are_undecided_and_http_is_allowed_at_l4() {
    // Rule `services` and `serviceAccounts` match what palisade does not read: undecided,
    // never guessed. An `http` match is enforced at L7: allowed at L4, noted.
    let p = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  ingress: [{action: Allow, source: {serviceAccounts: {names: [api]}}}]\n",
    );
    let e = engine(&[&p]);
    let v = e.verdict(
        &Peer::Class(class(&e, "b/client")),
        &Peer::Class(class(&e, "a/web")),
    );
    assert_eq!(v.allowed.to_string(), NONE);
    assert_eq!(v.undecided.to_string(), ALL);
    let text = explain_text(&e, "b/client", "a/web");
    assert!(
        text.contains("undecided on All Connections (matches pods by service account"),
        "{text}"
    );
    let s = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  egress: [{action: Deny, destination: {services: {name: kube-dns, namespace: kube-system}}}, {action: Allow}]\n",
    );
    let e = engine(&[&s]);
    let v = e.verdict(
        &Peer::Class(class(&e, "a/web")),
        &Peer::Class(class(&e, "b/client")),
    );
    assert_eq!(v.allowed.to_string(), ALL);
    assert_eq!(v.undecided.to_string(), ALL);
    let h = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  ingress: [{action: Allow, http: {methods: [GET]}}]\n",
    );
    let e = engine(&[&h]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    let notes = e.native_notes();
    assert!(
        notes.iter().any(|(_, n)| n.contains("enforced at L7")),
        "{notes:?}"
    );
}

#[test]
fn icmp_rules_decide_nothing_and_host_only_policies_are_not_evaluated() {
    // ICMP is outside palisade's connections; doNotTrack/preDNAT policies apply to host
    // endpoints only.
    let icmp = cnp(
        "a",
        "p",
        "  selector: app == 'web'\n  ingress: [{action: Allow, protocol: ICMP}]\n",
    );
    let e = engine(&[&icmp]);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "selected, nothing allowed"
    );
    let notes = e.native_notes();
    assert!(
        notes.iter().any(|(_, n)| n.contains("protocol \"ICMP\"")),
        "{notes:?}"
    );
    let host = gnp(
        "host",
        "  selector: all()\n  doNotTrack: true\n  applyOnForward: true\n  ingress: [{action: Deny}]\n",
    );
    let e = engine(&[&host]);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert!(
        e.native_notes()
            .iter()
            .any(|(_, n)| n.contains("host endpoints"))
    );
}

#[test]
fn each_cni_evaluates_its_own_kinds_only() {
    // Under Cilium, Calico's kinds are not enforced; under Calico, Cilium's are not; under a
    // generic CNI, neither. Each is reported.
    let calico = gnp("deny", "  selector: all()\n  ingress: [{action: Deny}]\n");
    let cilium = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n";
    let e = engine_as(&[&calico, cilium], Cni::Calico);
    assert_eq!(conns(&e, "b/client", "b/client"), NONE, "the GNP");
    let e = engine_as(&[cilium], Cni::Calico);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        ALL,
        "the CNP is not enforced"
    );
    assert!(e.native_notes().iter().any(|(id, n)| {
        id.kind == NativeKind::CiliumNetworkPolicy && n.contains("the CNI is Calico")
    }));
    let e = engine_as(&[&calico, cilium], Cni::Cilium);
    assert_eq!(
        conns(&e, "b/client", "b/client"),
        ALL,
        "the GNP is not enforced"
    );
    assert_eq!(conns(&e, "b/client", "a/web"), NONE, "the CNP is");
    let e = engine_as(&[&calico, cilium], Cni::Generic);
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
    assert_eq!(e.native_notes().len(), 2);
}

#[test]
fn malformed_policies_are_reported_with_the_field_and_position() {
    let bad_selector = cnp("a", "p", "  selector: app == web\n");
    let errs = errors(&[&bad_selector]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("spec.selector"), "{errs:?}");
    assert!(errs[0].contains("at character 8"), "{errs:?}");
    let bad_action = cnp(
        "a",
        "p",
        "  selector: all()\n  ingress: [{action: Reject}]\n",
    );
    let errs = errors(&[&bad_action]);
    assert!(
        errs[0].contains("spec.ingress[0].action") && errs[0].contains("Reject"),
        "{errs:?}"
    );
    let bad_port = cnp(
        "a",
        "p",
        "  ingress: [{action: Allow, protocol: TCP, destination: {ports: ['90:80', 70000]}}]\n",
    );
    let errs = errors(&[&bad_port]);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("destination.ports[0]"), "{errs:?}");
    let bad_cidr = cnp(
        "a",
        "p",
        "  egress: [{action: Allow, destination: {nets: [10.0.0.0/33]}}]\n",
    );
    assert!(errors(&[&bad_cidr])[0].contains("destination.nets[0]"));
    let no_protocol = cnp(
        "a",
        "p",
        "  ingress: [{action: Allow, destination: {ports: [80]}}]\n",
    );
    assert!(errors(&[&no_protocol])[0].contains("only valid with protocol"));
    let bad_tier = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {order: 1, defaultAction: Allow}";
    assert!(errors(&[bad_tier])[0].contains("spec.defaultAction"));
    // A malformed policy is left out: the rest is evaluated.
    let e = Engine::new(&with_pods(&[&bad_action]), calico_settings());
    assert_eq!(conns(&e, "b/client", "a/web"), ALL);
}

#[test]
fn staged_policies_are_not_enforced_and_say_what_they_would_change() {
    // Staged network policies: a staged policy "is not enforced"; promoting it shows its
    // effect. stagedAction Delete rehearses removing the enforced policy of that name.
    let staged = "apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: deny-blue}\nspec:\n  selector: projectcalico.org/namespace == 'a'\n  ingress: [{action: Deny, source: {namespaceSelector: team == 'blue'}}, {action: Allow}]\n";
    let snap = with_pods(&[staged]);
    let e = Engine::new(&snap, calico_settings());
    assert_eq!(conns(&e, "b/client", "a/web"), ALL, "not enforced");
    let changes = staged_changes(&snap, calico_settings());
    let texts: Vec<String> = changes.iter().map(|c| c.describe()).collect();
    assert_eq!(texts, ["staged: would deny b → a (All Connections)"]);
    let enforced = gnp(
        "deny-blue",
        "  selector: all()\n  ingress: [{action: Deny, source: {namespaceSelector: team == 'blue'}}, {action: Allow}]\n",
    );
    let delete = "apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: deny-blue}\nspec: {stagedAction: Delete}\n";
    let snap = with_pods(&[&enforced, delete]);
    let texts: Vec<String> = staged_changes(&snap, calico_settings())
        .iter()
        .map(|c| c.describe())
        .collect();
    assert_eq!(
        texts,
        [
            "staged: would allow b → a (All Connections)",
            "staged: would allow b → b (All Connections)"
        ]
    );
    let sknp = "apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\nmetadata: {name: iso, namespace: b}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";
    let snap = with_pods(&[sknp]);
    let texts: Vec<String> = staged_changes(&snap, calico_settings())
        .iter()
        .map(|c| c.describe())
        .collect();
    assert_eq!(
        texts,
        [
            "staged: would deny a → b (All Connections)",
            "staged: would deny b → b (All Connections)"
        ]
    );
}

#[test]
fn an_incremental_update_equals_a_rebuild_and_a_tier_change_rebuilds() {
    let deny = gnp(
        "security.deny-blue",
        "  tier: security\n  order: 1\n  selector: all()\n  ingress: [{action: Deny, source: {namespaceSelector: team == 'blue'}}, {action: Pass}]\n",
    );
    let allow = cnp(
        "a",
        "web",
        "  selector: app == 'web'\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [http]}}]\n",
    );
    let security = tier("security", 100, "Deny");
    let full = with_pods(&[&security, &deny, &allow]);
    let mut e = Engine::new(&with_pods(&[&security]), calico_settings());
    for doc in [&deny, &allow] {
        let kind = if doc.contains("GlobalNetworkPolicy") {
            NativeKind::CalicoGlobalNetworkPolicy
        } else {
            NativeKind::CalicoNetworkPolicy
        };
        let info = native(kind, doc);
        let (stats, errs) = e.update_native(&info.id.clone(), Some(&info));
        assert!(errs.is_empty() && !stats.full_rebuild, "{errs:?} {stats:?}");
    }
    let rebuilt = Engine::new(&full, calico_settings());
    assert_eq!(e.rows_fingerprint(), rebuilt.rows_fingerprint());
    assert_eq!(conns(&e, "b/client", "a/web"), NONE);
    assert_eq!(conns(&e, "a/db", "a/web"), "TCP 8080");
    let pass_tier = native(NativeKind::CalicoTier, &tier("security", 100, "Pass"));
    let (stats, _) = e.update_native(&pass_tier.id.clone(), Some(&pass_tier));
    assert!(stats.full_rebuild);
    assert_eq!(
        conns(&e, "b/client", "a/web"),
        NONE,
        "still denied by the rule"
    );
    let gone = NativeRef::new(
        NativeKind::CalicoGlobalNetworkPolicy,
        "",
        "security.deny-blue",
    );
    e.update_native(&gone, None);
    assert_eq!(conns(&e, "b/client", "a/web"), "TCP 8080");
    let without = with_pods(&[&tier("security", 100, "Pass"), &allow]);
    assert_eq!(
        e.rows_fingerprint(),
        Engine::new(&without, calico_settings()).rows_fingerprint()
    );
}
