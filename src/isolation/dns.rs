//! DNS: every egress-isolated workload must reach kube-dns on UDP and TCP 53.

use super::findings::{DNS_BLOCKED, Finding};
use crate::policy::classes::PodClass;
use crate::policy::{ConnSet, Direction, Engine, Peer, Protocol};

pub const DNS_NAMESPACE: &str = "kube-system";
pub const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");
const DNS_PORT: u16 = 53;

/// Classes of the kube-dns pods.
pub fn dns_classes(engine: &Engine) -> Vec<usize> {
    let classes = &engine.classes().classes;
    engine
        .classes()
        .by_namespace
        .get(DNS_NAMESPACE)
        .into_iter()
        .flatten()
        .copied()
        .filter(|c| {
            classes[*c]
                .endpoint
                .labels
                .get(DNS_LABEL.0)
                .map(String::as_str)
                == Some(DNS_LABEL.1)
        })
        .collect()
}

/// Which DNS protocols a class can use, over any kube-dns pod.
pub fn dns_reach(engine: &Engine, class: usize, dns: &[usize]) -> (bool, bool) {
    let mut allowed = ConnSet::none();
    for d in dns {
        allowed.union_with(&engine.allowed(&Peer::Class(class), &Peer::Class(*d)));
    }
    (
        allowed.contains(Protocol::Udp, DNS_PORT),
        allowed.contains(Protocol::Tcp, DNS_PORT),
    )
}

pub fn dns_findings(engine: &Engine) -> Vec<Finding> {
    let dns = dns_classes(engine);
    if dns.is_empty() {
        return Vec::new(); // nothing to check against; a cluster without kube-dns is not ours to judge
    }
    let mut findings = Vec::new();
    for (index, class) in engine.classes().classes.iter().enumerate() {
        if !engine.is_isolated(index, Direction::Egress) || dns.contains(&index) {
            continue;
        }
        let missing = match dns_reach(engine, index, &dns) {
            (true, true) => continue,
            (false, false) => "UDP 53 and TCP 53",
            (true, false) => "TCP 53 (large answers and retries over TCP fail)",
            (false, true) => "UDP 53",
        };
        findings.push(Finding::new(
            DNS_BLOCKED,
            &class.endpoint.namespace,
            describe_class(class),
            format!("cannot reach kube-dns on {missing}"),
        ));
    }
    findings
}

/// `pods NS/first (+N more)`.
pub fn describe_class(class: &PodClass) -> String {
    let Some(first) = class.members.first() else {
        return format!("pods in {}", class.endpoint.namespace);
    };
    match class.members.len() {
        1 => format!("pod {first}"),
        n => format!("pods {first} (+{} more)", n - 1),
    }
}
