//! The fields the tier CRDs declare (experimental channel, so `nodes`, `networks` and
//! `domainNames` peers are known). A real API server drops undeclared fields of a custom resource
//! (pruning), or refuses them with 400 under `fieldValidation=Strict`, kubectl's default: a typo
//! such as `priorty` never reaches the stored object.

use serde_json::Value;

use crate::model::TierKind;

/// A node of the declared structure.
enum Node {
    /// Anything below is kept (maps of labels, lists of strings, status).
    Any,
    Object(Vec<(&'static str, Node)>),
    List(Box<Node>),
}

fn object(fields: Vec<(&'static str, Node)>) -> Node {
    Node::Object(fields)
}

fn list(item: Node) -> Node {
    Node::List(Box::new(item))
}

fn label_selector() -> Node {
    object(vec![
        ("matchLabels", Node::Any),
        (
            "matchExpressions",
            list(object(vec![
                ("key", Node::Any),
                ("operator", Node::Any),
                ("values", Node::Any),
            ])),
        ),
    ])
}

fn pods() -> Node {
    object(vec![
        ("namespaceSelector", label_selector()),
        ("podSelector", label_selector()),
    ])
}

fn peer(egress: bool) -> Node {
    let mut fields = vec![("namespaces", label_selector()), ("pods", pods())];
    if egress {
        fields.extend([
            ("nodes", label_selector()),
            ("networks", Node::Any),
            ("domainNames", Node::Any),
        ]);
    }
    object(fields)
}

/// v1alpha2 `protocols[]`.
fn protocol() -> Node {
    let port = || {
        object(vec![(
            "destinationPort",
            object(vec![
                ("number", Node::Any),
                (
                    "range",
                    object(vec![("start", Node::Any), ("end", Node::Any)]),
                ),
            ]),
        )])
    };
    object(vec![
        ("tcp", port()),
        ("udp", port()),
        ("sctp", port()),
        ("destinationNamedPort", Node::Any),
    ])
}

/// v1alpha1 `ports[]`.
fn port() -> Node {
    object(vec![
        (
            "portNumber",
            object(vec![("protocol", Node::Any), ("port", Node::Any)]),
        ),
        ("namedPort", Node::Any),
        (
            "portRange",
            object(vec![
                ("protocol", Node::Any),
                ("start", Node::Any),
                ("end", Node::Any),
            ]),
        ),
    ])
}

fn schema(kind: TierKind) -> Node {
    let v1alpha2 = kind == TierKind::ClusterNetworkPolicy;
    let rule = |egress: bool| {
        let peers = if egress { "to" } else { "from" };
        let ports = if v1alpha2 {
            ("protocols", list(protocol()))
        } else {
            ("ports", list(port()))
        };
        list(object(vec![
            ("name", Node::Any),
            ("action", Node::Any),
            (peers, list(peer(egress))),
            ports,
        ]))
    };
    let mut spec = vec![
        (
            "subject",
            object(vec![("namespaces", label_selector()), ("pods", pods())]),
        ),
        ("ingress", rule(false)),
        ("egress", rule(true)),
    ];
    if kind != TierKind::BaselineAdminNetworkPolicy {
        spec.push(("priority", Node::Any));
    }
    if v1alpha2 {
        spec.push(("tier", Node::Any));
    }
    object(vec![
        ("apiVersion", Node::Any),
        ("kind", Node::Any),
        ("metadata", Node::Any),
        ("spec", object(spec)),
        ("status", Node::Any),
    ])
}

/// Removes the fields `kind`'s CRD does not declare; returns their paths (`spec.priorty`,
/// `spec.ingress[0].form`).
pub fn prune(kind: TierKind, object: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    walk(&schema(kind), object, "", &mut unknown);
    unknown
}

fn walk(node: &Node, value: &mut Value, path: &str, unknown: &mut Vec<String>) {
    match (node, value) {
        (Node::Object(fields), Value::Object(map)) => {
            let join = |key: &str| {
                if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                }
            };
            map.retain(|key, _| {
                let known = fields.iter().any(|(name, _)| name == key);
                if !known {
                    unknown.push(join(key));
                }
                known
            });
            for (name, child) in fields {
                if let Some(value) = map.get_mut(*name) {
                    walk(child, value, &join(name), unknown);
                }
            }
        }
        (Node::List(item), Value::Array(items)) => {
            for (i, value) in items.iter_mut().enumerate() {
                walk(item, value, &format!("{path}[{i}]"), unknown);
            }
        }
        // Wrong types are the schema validation's to report.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn undeclared_fields_are_pruned_with_their_paths() {
        let mut cnp = json!({
            "apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": "x", "labels": {"any": "thing"}},
            "spec": {
                "tier": "Admin", "priorty": 3,
                "subject": {"namespaces": {"matchLabels": {"a": "b"}}},
                "egress": [{"action": "Deny", "to": [{"networks": ["10.0.0.0/8"], "ipBlock": {}}],
                            "protocols": [{"tcp": {"destinationPort": {"number": 80}}}],
                            "ports": []}],
            },
        });
        let unknown = prune(TierKind::ClusterNetworkPolicy, &mut cnp);
        assert_eq!(
            unknown,
            [
                "spec.priorty",
                "spec.egress[0].ports",
                "spec.egress[0].to[0].ipBlock"
            ]
        );
        assert_eq!(
            cnp["spec"]["egress"][0]["to"][0],
            json!({"networks": ["10.0.0.0/8"]})
        );
        assert_eq!(cnp["metadata"]["labels"], json!({"any": "thing"}));
        // v1alpha1 says `ports`, and BaselineAdminNetworkPolicy has no priority.
        let mut banp = json!({"spec": {"priority": 1, "subject": {"namespaces": {}},
            "ingress": [{"action": "Allow", "from": [{"namespaces": {}}],
                         "ports": [{"portNumber": {"protocol": "TCP", "port": 80}}]}]}});
        let unknown = prune(TierKind::BaselineAdminNetworkPolicy, &mut banp);
        assert_eq!(unknown, ["spec.priority"]);
    }
}
