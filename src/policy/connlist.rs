//! The connectivity list (`SRC => DST : conns`) in the corpus' text format.

use super::connset::ConnSet;
use super::engine::{Engine, Peer, Verdict};
use crate::model::ObjectRef;

/// A peer to list under a display name, e.g. a workload `ns/name[Deployment]` and the pod that
/// represents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPeer {
    pub name: String,
    pub pod: ObjectRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnLine {
    pub src: String,
    pub dst: String,
    /// Allowed, with undecidable tier peers taken as not matching (netpol-analyzer's figure).
    pub conns: ConnSet,
    /// What depends on node IPs or DNS names (tier `nodes`/`domainNames` peers).
    pub undecided: ConnSet,
}

/// All pairs with a non-empty allowed or undecided set: peer to peer (never a peer to itself),
/// external source atoms to peers and peers to external destination atoms (never external to
/// external).
pub fn connlist(engine: &Engine, peers: &[NamedPeer]) -> Vec<ConnLine> {
    let resolved: Vec<(&str, Peer)> = peers
        .iter()
        .filter_map(|p| Some((p.name.as_str(), Peer::Class(engine.class_of(&p.pod)?))))
        .collect();
    let ext = engine.externals();
    let ext_name = |r: &super::ipset::IpRange| format!("{r}[External]");
    let mut lines = Vec::new();
    let mut push = |src: String, dst: String, verdict: Verdict| {
        if !verdict.allowed.is_empty() || !verdict.undecided.is_empty() {
            lines.push(ConnLine {
                src,
                dst,
                conns: verdict.allowed,
                undecided: verdict.undecided,
            });
        }
    };
    for (sn, s) in &resolved {
        for (dn, d) in &resolved {
            if sn != dn {
                push(sn.to_string(), dn.to_string(), engine.verdict(s, d));
            }
        }
        for r in &ext.destinations {
            push(
                sn.to_string(),
                ext_name(r),
                engine.verdict(s, &Peer::External(*r)),
            );
        }
    }
    for r in &ext.sources {
        for (dn, d) in &resolved {
            push(
                ext_name(r),
                dn.to_string(),
                engine.verdict(&Peer::External(*r), d),
            );
        }
    }
    sort_lines(&mut lines);
    lines
}

/// Sorted by source, then destination, in byte order.
pub fn sort_lines(lines: &mut [ConnLine]) {
    lines.sort_by(|a, b| {
        (a.src.as_bytes(), a.dst.as_bytes()).cmp(&(b.src.as_bytes(), b.dst.as_bytes()))
    });
}

/// One line per pair with allowed connections, `SRC => DST : conns`, each followed by a
/// newline (the corpus format; undecided connections are not part of it, see
/// [`format_undecided`]).
pub fn format_connlist(lines: &[ConnLine]) -> String {
    let mut out = String::new();
    for l in lines.iter().filter(|l| !l.conns.is_empty()) {
        out.push_str(&format!("{} => {} : {}\n", l.src, l.dst, l.conns));
    }
    out
}

/// The pairs with undecided connections, after a blank line and a heading; empty when none.
pub fn format_undecided(lines: &[ConnLine]) -> String {
    let undecided: Vec<&ConnLine> = lines.iter().filter(|l| !l.undecided.is_empty()).collect();
    if undecided.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\nUndecided (tier rules with nodes or domainNames peers; palisade cannot resolve node IPs \
         or DNS answers from objects):\n",
    );
    for l in undecided {
        out.push_str(&format!("{} => {} : {}\n", l.src, l.dst, l.undecided));
    }
    out
}

/// Every pod of a snapshot as its own peer, named `ns/name[Pod]`.
pub fn pod_peers<'a>(pods: impl Iterator<Item = &'a ObjectRef>) -> Vec<NamedPeer> {
    pods.map(|id| NamedPeer {
        name: format!("{id}[Pod]"),
        pod: id.clone(),
    })
    .collect()
}
