//! An incremental policy update must give exactly what a full rebuild gives, while touching
//! only the classes the policy can select.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::manifest::{build_topology, parse_text};
use crate::model::{ClusterSnapshot, ObjectRef, PolicyInfo};

pub(super) fn snapshot(yaml: &str) -> ClusterSnapshot {
    let (docs, _) = parse_text(Path::new("t.yaml"), yaml);
    build_topology(&docs).snapshot
}

pub(super) fn cluster() -> String {
    let mut y = String::new();
    for ns in ["a", "b", "c"] {
        y.push_str(&format!(
            "kind: Namespace\nmetadata: {{name: {ns}, labels: {{tier: t{ns}}}}}\n---\n"
        ));
        for (i, app) in ["web", "db", "cache", "web"].iter().enumerate() {
            y.push_str(&format!(
                "kind: Pod\nmetadata: {{name: p{i}, namespace: {ns}, labels: {{app: {app}}}}}\n\
                 spec: {{containers: [{{ports: [{{name: http, containerPort: 80{i}}}]}}]}}\n\
                 status: {{podIP: 10.0.{}.{i}}}\n---\n",
                ns.as_bytes()[0]
            ));
        }
    }
    y
}

/// A policy drawn from a few shapes: selector, peer and ports vary.
pub(super) fn policy(ns: &str, name: &str, sel: usize, peer: usize, port: usize) -> PolicyInfo {
    let sels = [
        "{}",
        "{matchLabels: {app: web}}",
        "{matchLabels: {app: db}}",
    ];
    let peers = [
        "[{podSelector: {matchLabels: {app: cache}}}]",
        "[{namespaceSelector: {matchLabels: {tier: tb}}}]",
        "[{ipBlock: {cidr: 10.0.97.0/24}}]",
        "[]",
    ];
    let ports = ["[{port: 80}]", "[{port: http}]", "[]"];
    let yaml = format!(
        "metadata: {{name: {name}, namespace: {ns}}}\nspec:\n  podSelector: {}\n  \
         ingress: [{{from: {}, ports: {}}}]\n  egress: [{{to: {}, ports: {}}}]\n",
        sels[sel % 3],
        peers[peer % 4],
        ports[port % 3],
        peers[(peer + 1) % 4],
        ports[(port + 1) % 3]
    );
    PolicyInfo {
        id: ObjectRef::new(ns, name),
        object: crate::yaml::from_str(&yaml).expect("test yaml"),
    }
}

pub(super) fn assert_same(a: &Engine, b: &Engine) {
    assert_eq!(a.classes(), b.classes());
    assert_eq!(a.rows_fingerprint(), b.rows_fingerprint());
    let ext = b.externals();
    assert_eq!(a.externals(), ext);
    for c in 0..b.classes().classes.len() {
        for r in ext.sources.iter() {
            let (s, d) = (Peer::External(*r), Peer::Class(c));
            assert_eq!(a.allowed(&s, &d), b.allowed(&s, &d));
        }
    }
}

fn check(mode: IpBlockPods, changes: &[(usize, usize, usize, usize, bool)]) {
    let settings = Settings::uniform(mode);
    let mut snap = snapshot(&cluster());
    let mut inc = Engine::new(&snap, settings);
    for &(ns, sel, peer, port, delete) in changes {
        let ns = ["a", "b", "c"][ns % 3];
        let id = ObjectRef::new(ns, format!("p{}", sel % 2));
        let new = (!delete).then(|| policy(ns, &id.name, sel, peer, port));
        let (stats, errors) = inc.update_policy(&id, new.as_ref());
        assert!(errors.is_empty());
        match new {
            Some(p) => snap.policies.insert(id.clone(), p),
            None => snap.policies.remove(&id),
        };
        if !stats.full_rebuild {
            // Only classes of the policy's namespace (4 pods there) can be selected.
            assert!(stats.recomputed_classes <= 4, "{stats:?}");
        }
        assert_same(&inc, &Engine::new(&snap, settings));
    }
}

#[test]
fn a_narrow_policy_recomputes_only_its_classes() {
    let snap = snapshot(&cluster());
    let mut e = Engine::new(&snap, Settings::default());
    let p = policy("a", "x", 2, 0, 0);
    let (stats, _) = e.update_policy(&p.id, Some(&p));
    assert_eq!(stats.recomputed_classes, 1);
    assert!(!stats.full_rebuild);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn incremental_equals_full_recompute(
        changes in prop::collection::vec((0usize..3, 0usize..6, 0usize..4, 0usize..3, any::<bool>()), 1..6),
        matched in any::<bool>(),
    ) {
        let mode = if matched { IpBlockPods::Match } else { IpBlockPods::Ignore };
        check(mode, &changes);
    }
}
