//! The topology conventions of corpus FORMAT.md §1.

use std::path::Path;

use super::{build_topology, parse_text};
use crate::model::{NativeKind, NativeRef, ObjectRef};

fn topology(yaml: &str) -> super::Topology {
    let (docs, warnings) = parse_text(Path::new("m.yaml"), yaml);
    assert!(warnings.is_empty(), "{warnings:?}");
    build_topology(&docs)
}

fn names(t: &super::Topology) -> Vec<&str> {
    t.peers.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn workloads_and_owned_pods_become_one_peer_each() {
    let t = topology(
        "kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{ports: [{name: http, containerPort: 80}]}]}}}
---
kind: CronJob
metadata: {name: nightly}
spec: {jobTemplate: {spec: {template: {metadata: {labels: {app: batch}}}}}}
---
kind: PodList
items:
- metadata:
    name: fe-1
    namespace: shop
    ownerReferences: [{kind: ReplicaSet, name: fe-99, controller: true}]
- metadata:
    name: fe-2
    namespace: shop
    labels: {other: x}
    ownerReferences: [{kind: ReplicaSet, name: fe-99, controller: true}]
- metadata:
    name: kindless
    ownerReferences: [{name: own, controller: true}]
- metadata:
    name: static
    ownerReferences: [{kind: Node, name: n1, controller: true}]
- metadata: {name: lonely}",
    );
    assert_eq!(
        names(&t),
        [
            "shop/web[Deployment]",
            "default/nightly[CronJob]",
            "shop/fe-99[ReplicaSet]",
            "default/own[Pod]",
            "default/static[Pod]",
            "default/lonely[Pod]",
        ]
    );
    // The first pod of an owner represents it.
    let fe = &t.snapshot.pods[&ObjectRef::new("shop", "fe-99[ReplicaSet]")];
    assert!(fe.labels.is_empty());
    let web = &t.snapshot.pods[&ObjectRef::new("shop", "web[Deployment]")];
    assert_eq!(web.labels["app"], "web");
    assert_eq!(web.ports[0].name, "http");
    assert_eq!(web.ips, ["127.0.0.1"], "pods without IPs get 127.0.0.1");
}

#[test]
fn namespaces_are_created_and_labelled_with_their_name() {
    let t = topology(
        "kind: Namespace
metadata: {name: shop, labels: {env: prod}}
---
kind: Pod
metadata: {name: p, namespace: other}
---
kind: NetworkPolicy
metadata: {name: np}
spec: {podSelector: {}}",
    );
    let ns = &t.snapshot.namespaces;
    assert_eq!(ns["shop"].labels["kubernetes.io/metadata.name"], "shop");
    assert_eq!(ns["shop"].labels["env"], "prod");
    assert_eq!(ns["other"].labels.len(), 1);
    assert!(ns.contains_key("default"), "the policy's namespace");
    assert!(
        t.snapshot
            .policies
            .contains_key(&ObjectRef::new("default", "np"))
    );
}

#[test]
fn unknown_kinds_and_bad_objects_warn() {
    let (docs, _) = parse_text(
        Path::new("m.yaml"),
        "kind: ConfigMap\nmetadata: {name: c}\n---\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: 5\n---\nkind: Deployment\nmetadata: {name: d}\n",
    );
    let t = build_topology(&docs);
    assert_eq!(t.warnings.len(), 3, "{:?}", t.warnings);
    assert!(t.warnings[0].to_string().contains("ConfigMap"));
    assert!(t.warnings[1].to_string().starts_with("m.yaml (document 1)"));
    assert!(t.peers.is_empty());
}

#[test]
fn strict_validation_problems_name_the_list_item_and_skip_unused_kinds() {
    let (docs, warnings) = parse_text(
        Path::new("l.yaml"),
        "apiVersion: v1
kind: List
items:
- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: a}, spec: {podSelector: {}}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: b, namespace: x}
  spec: {podSelector: {}, podSelector: {}, egres: []}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {k: 1, k: 2}
",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let t = build_topology(&docs);
    let rejected: Vec<String> = t
        .warnings
        .iter()
        .filter(|w| w.class == super::WarningClass::Rejected)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        rejected,
        [
            "l.yaml (document 0): NetworkPolicy x/b: unknown field(s) `spec.egres`; key(s) given \
          twice in one mapping `spec.podSelector` (the last one is read); the API server's \
          strict field validation rejects this object"
        ]
    );
    assert_eq!(t.snapshot.policies.len(), 2, "analysed as written");
}

#[test]
fn cilium_policies_are_read_in_their_namespace_and_cluster_wide() {
    let (docs, warnings) = parse_text(
        Path::new("c.yaml"),
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-to-world, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress: [{toEntities: [world]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-namespace}
spec: {endpointSelector: {}}
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: dns, namespace: ignored}
spec: {endpointSelector: {}}
---
apiVersion: example.com/v1
kind: CiliumNetworkPolicy
metadata: {name: impostor, namespace: shop}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {namespace: shop}
",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let t = build_topology(&docs);
    let ids: Vec<String> = t.snapshot.natives.keys().map(ToString::to_string).collect();
    assert_eq!(
        ids,
        [
            "ciliumnp/default/no-namespace",
            "ciliumnp/shop/web-to-world",
            "ccnp/dns"
        ]
    );
    let web = &t.snapshot.natives
        [&NativeRef::new(NativeKind::CiliumNetworkPolicy, "shop", "web-to-world")];
    assert_eq!(
        web.object.data["spec"]["egress"][0]["toEntities"][0],
        "world"
    );
    // The policy's namespace exists in the topology, as a NetworkPolicy's would.
    assert!(t.snapshot.namespaces.contains_key("shop"));
    let warned: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(
        warned[0].contains("is not cilium.io; skipped"),
        "{warned:?}"
    );
    assert!(
        warned[1].contains("CiliumNetworkPolicy without a name"),
        "{warned:?}"
    );
}

/// Calico's kinds by apiVersion group and kind, in either of its groups; its NetworkPolicy
/// is never read as Kubernetes' (nor checked against Kubernetes' schema), and Kubernetes'
/// never as Calico's.
#[test]
fn calico_kinds_are_read_by_group_and_kind() {
    let t = topology(
        "apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-web, namespace: shop}
spec:
  selector: app == 'db'
  ingress: [{action: Deny, source: {selector: app == 'web'}}]
---
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata: {name: security.isolate}
spec: {tier: security, order: 10, selector: all()}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: security.would-deny}
spec: {tier: security, selector: all()}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k8s, namespace: shop}
spec: {podSelector: {}}
",
    );
    let ids: Vec<String> = t.snapshot.natives.keys().map(ToString::to_string).collect();
    assert_eq!(
        ids,
        [
            "caliconp/shop/deny-web",
            "gnp/security.isolate",
            "tier/security",
            "sgnp/security.would-deny"
        ]
    );
    assert_eq!(
        t.snapshot.policies.keys().collect::<Vec<_>>(),
        [&ObjectRef::new("shop", "k8s")]
    );
    let gnp = &t.snapshot.natives[&NativeRef::new(
        NativeKind::CalicoGlobalNetworkPolicy,
        "",
        "security.isolate",
    )];
    assert_eq!(gnp.api_version(), "crd.projectcalico.org/v1");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}
