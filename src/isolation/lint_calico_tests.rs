//! The Calico lint rules, each from Calico's docs: selectors over pod labels (with Calico's own
//! labels), the first matching rule of a tier decides, Pass goes to the next tier and past the
//! last one to the profile.

use std::path::Path;

use kube::core::DynamicObject;

use super::calico_findings;
use crate::isolation::findings::Finding;
use crate::manifest::{build_topology, parse_text};
use crate::model::{NativeKind, NativePolicyInfo};
use crate::policy::{Cni, Engine, IpBlockPods, Settings};

const PODS: &str = "kind: Namespace
metadata: {name: a, labels: {team: red}}
---
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
status: {podIP: 10.0.0.1}
---
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
status: {podIP: 10.0.0.2}
";

fn findings(docs: &[String]) -> Vec<Finding> {
    let (parsed, _) = parse_text(Path::new("t.yaml"), PODS);
    let mut snapshot = build_topology(&parsed).snapshot;
    for doc in docs {
        let kind = if doc.contains("kind: GlobalNetworkPolicy") {
            NativeKind::CalicoGlobalNetworkPolicy
        } else if doc.contains("kind: Tier") {
            NativeKind::CalicoTier
        } else {
            NativeKind::CalicoNetworkPolicy
        };
        let object: DynamicObject = crate::yaml::from_str(doc).expect("yaml");
        let info = NativePolicyInfo::new(kind, object).expect("named");
        snapshot.natives.insert(info.id.clone(), info);
    }
    let settings = Settings {
        ip_block_pods: IpBlockPods::Match,
        tier_networks: IpBlockPods::Match,
        cni: Cni::Calico,
    };
    calico_findings(&Engine::new(&snapshot, settings))
}

fn with_id<'a>(findings: &'a [Finding], id: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.id == id).collect()
}

fn gnp(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n{spec}"
    )
}

#[test]
fn malformed_objects_are_reported_with_the_field() {
    let f = findings(&[gnp("bad", "  selector: app = 'web'\n")]);
    let invalid = with_id(&f, "PAL090");
    assert_eq!(invalid.len(), 1, "{f:#?}");
    assert!(invalid[0].message.contains("spec.selector"), "{f:#?}");
    assert!(invalid[0].message.contains("at character 5"), "{f:#?}");
}

#[test]
fn selectors_that_match_no_pod_are_reported_but_not_all() {
    let f = findings(&[gnp(
        "p",
        "  selector: app == 'cache'\n  ingress: [{action: Allow, source: {selector: app == 'api'}}, {action: Deny, source: {selector: all()}}]\n",
    )]);
    let nothing = with_id(&f, "PAL091");
    assert_eq!(nothing.len(), 2, "{f:#?}");
    assert!(nothing[0].message.contains("\"app == 'cache'\""), "{f:#?}");
    assert!(
        nothing[1].message.contains("ingress rule #0 source"),
        "{f:#?}"
    );
    // Calico's own labels count: pcns.team and projectcalico.org/namespace match.
    let f = findings(&[gnp(
        "q",
        "  selector: pcns.team == 'red' && projectcalico.org/namespace == 'a'\n  ingress: [{action: Allow}]\n",
    )]);
    assert!(with_id(&f, "PAL091").is_empty(), "{f:#?}");
}

#[test]
fn a_rule_behind_a_wider_decisive_rule_of_its_tier_is_shadowed() {
    // The first matching rule of a tier decides: a later rule taking in no more is dead.
    let early = gnp(
        "early",
        "  order: 10\n  selector: all()\n  ingress: [{action: Deny, source: {selector: has(app)}}]\n",
    );
    let late = gnp(
        "late",
        "  order: 20\n  selector: app == 'web'\n  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'db'}, destination: {ports: [80]}}]\n",
    );
    let f = findings(&[early.clone(), late.clone()]);
    let shadowed = with_id(&f, "PAL092");
    assert_eq!(shadowed.len(), 1, "{f:#?}");
    assert_eq!(shadowed[0].object, "gnp/late");
    assert!(
        shadowed[0]
            .message
            .contains("GlobalNetworkPolicy early ingress rule #0 (Deny)"),
        "{f:#?}"
    );
    // In another tier it is not shadowed (Deny there ends it anyway, but not by this rule);
    // a narrower earlier rule does not shadow; nor does a Log.
    let other_tier = late.replace("  order: 20\n", "  order: 20\n  tier: other\n");
    let tier =
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: other}\nspec: {order: 1}"
            .to_string();
    assert!(with_id(&findings(&[early.clone(), other_tier, tier]), "PAL092").is_empty());
    let narrow = early.replace("has(app)", "app == 'web'");
    assert!(with_id(&findings(&[narrow, late.clone()]), "PAL092").is_empty());
    let log = early.replace("Deny", "Log");
    assert!(with_id(&findings(&[log, late]), "PAL092").is_empty());
}

#[test]
fn a_pass_in_the_last_tier_is_reported() {
    // Pass goes to the next tier; after the last one, the profile allows.
    let pass = gnp("p", "  selector: all()\n  ingress: [{action: Pass}]\n");
    let f = findings(&[pass]);
    let passes = with_id(&f, "PAL093");
    assert_eq!(passes.len(), 1, "{f:#?}");
    assert!(
        passes[0]
            .message
            .contains("tier default (order 1000000) is the last tier")
    );
    let in_first = gnp(
        "first.p",
        "  tier: first\n  selector: all()\n  ingress: [{action: Pass}]\n",
    );
    let tier =
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: first}\nspec: {order: 100}"
            .to_string();
    let deny = gnp("d", "  selector: all()\n  ingress: [{action: Deny}]\n");
    assert!(with_id(&findings(&[in_first, tier, deny]), "PAL093").is_empty());
}
