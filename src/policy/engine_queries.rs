//! What the engine answers: the connections one side or both sides of a pair allow, with what
//! depends on peers palisade cannot decide. A child of `engine`.

use super::*;

impl Engine {
    /// What the policies in `selecting` (all selecting `subject`) allow between `subject` and
    /// `other` in direction `dir`.
    pub(crate) fn direction_allows(
        &self,
        dir: Direction,
        subject: &Endpoint,
        selecting: &[ObjectRef],
        other: Target,
    ) -> ConnSet {
        let mut acc = ConnSet::none();
        for p in selecting.iter().filter_map(|id| self.policies.get(id)) {
            for rule in p.rules(dir).unwrap_or_default() {
                if rule_peer_matches(rule, p.namespace(), other, self.settings.ip_block_pods) {
                    // Named ports always resolve against the destination.
                    let dst = match (dir, other) {
                        (Direction::Ingress, _) => Some(subject),
                        (Direction::Egress, Target::Pod(e)) => Some(e),
                        (Direction::Egress, Target::External(_)) => None,
                    };
                    acc.union_with(&rule_ports(rule, dst));
                }
            }
        }
        acc
    }

    /// One side's outcome between class `subject` and `other`, with a trace when asked.
    pub(crate) fn side_result(
        &self,
        dir: Direction,
        subject: usize,
        other: &Peer,
        trace: Option<&mut Trace>,
    ) -> SideResult {
        if self.settings.cni == Cni::Calico {
            // Explanations trace Calico's walk through `calico_side` itself.
            return self.calico_side(dir, subject, other, None);
        }
        let decided = |allowed: ConnSet| SideResult {
            allowed,
            undecided: ConnSet::none(),
        };
        if trace.is_none()
            && !self.native_pod_unknown[subject][di(dir)]
            && let (Some(row), Peer::Class(o)) = (&self.rows[subject][di(dir)], other)
        {
            return decided(match *o < self.classes.classes.len() {
                true => row.get(*o).clone(),
                false => ConnSet::none(),
            });
        }
        let sel = &self.selecting[subject][di(dir)];
        let tier_ids = &self.tier_selecting[subject][di(dir)];
        let native_rules = self.native_rules(subject, dir);
        if sel.is_empty() && tier_ids.is_empty() && native_rules.is_empty() && trace.is_none() {
            return decided(ConnSet::all());
        }
        let ep: &Endpoint = &self.classes.classes[subject].endpoint;
        let other_ep = match other {
            Peer::Class(o) => match self.classes.classes.get(*o) {
                Some(oc) => Some(&*oc.endpoint),
                None => return decided(ConnSet::none()),
            },
            Peer::External(_) => None,
        };
        let target = match (other, other_ep) {
            (Peer::External(r), _) => Target::External(r),
            (_, Some(e)) => Target::Pod(e),
            (Peer::Class(_), None) => return decided(ConnSet::none()),
        };
        // Named ports resolve against the destination.
        let dst = match dir {
            Direction::Ingress => Some(ep),
            Direction::Egress => other_ep,
        };
        let native = cilium::native_side(&native_rules, dir, target, dst);
        let isolated = !sel.is_empty() || native.isolates;
        let np = isolated.then(|| {
            let mut allow = self.direction_allows(dir, ep, sel, target);
            allow.union_with(&native.allow);
            allow
        });
        let tiers: Vec<&CompiledTier> = tier_ids
            .iter()
            .filter_map(|id| self.tiers.get(id))
            .collect();
        let ingress = dir == Direction::Ingress;
        let steps = decide::steps(&tiers, ingress);
        let networks = self.settings.tier_networks;
        let mut result = decide::decide(
            &steps,
            np.as_ref(),
            &native.deny,
            |i| tier_rule_matches(steps[i].rule, target, networks),
            |i| tier_rule_ports(steps[i].rule, dst),
            trace,
        );
        // Rules of unknown match: an allow could add what is not allowed, a deny could take
        // away what is.
        let could_add = native.unknown_allow.subtract(&result.allowed);
        let could_remove = native.unknown_deny.intersect(&result.allowed);
        result.undecided.union_with(&could_add);
        result.undecided.union_with(&could_remove);
        result
    }

    /// The tier rules of the policies selecting `class` in `dir`, in evaluation order (the
    /// steps a [`Trace`] indexes).
    pub fn tier_steps(&self, class: usize, dir: Direction) -> Vec<decide::Step<'_>> {
        let tiers: Vec<&CompiledTier> = self
            .tier_selecting(class, dir)
            .iter()
            .filter_map(|id| self.tiers.get(id))
            .collect();
        decide::steps(&tiers, dir == Direction::Ingress)
    }

    fn side(&self, dir: Direction, subject: usize, other: &Peer) -> SideResult {
        self.side_result(dir, subject, other, None)
    }

    /// One side alone: what `dir` of `subject` allows with `other` (the source's egress or the
    /// destination's ingress), for judging a flow observed at that side's hook. An external
    /// subject has no policies: all allowed.
    pub fn side_verdict(&self, dir: Direction, subject: &Peer, other: &Peer) -> Verdict {
        match subject {
            Peer::Class(c) if *c < self.classes.classes.len() => {
                let side = self.side(dir, *c, other);
                Verdict {
                    allowed: side.allowed,
                    undecided: side.undecided,
                }
            }
            Peer::Class(_) => Verdict {
                allowed: ConnSet::none(),
                undecided: ConnSet::none(),
            },
            Peer::External(_) => Verdict {
                allowed: ConnSet::all(),
                undecided: ConnSet::none(),
            },
        }
    }

    /// Connections from `src` to `dst`: source egress AND destination ingress, with what
    /// depends on undecidable peers. External ends have no policies: their side allows all.
    pub fn verdict(&self, src: &Peer, dst: &Peer) -> Verdict {
        let valid = |p: &Peer| match p {
            Peer::Class(c) => *c < self.classes.classes.len(),
            Peer::External(_) => true,
        };
        if !valid(src) || !valid(dst) {
            return Verdict {
                allowed: ConnSet::none(),
                undecided: ConnSet::none(),
            };
        }
        let open = || SideResult {
            allowed: ConnSet::all(),
            undecided: ConnSet::none(),
        };
        let egress = match src {
            Peer::Class(s) => self.side(Direction::Egress, *s, dst),
            Peer::External(_) => open(),
        };
        let ingress = match dst {
            Peer::Class(d) => self.side(Direction::Ingress, *d, src),
            Peer::External(_) => open(),
        };
        Verdict {
            allowed: egress.allowed.intersect(&ingress.allowed),
            undecided: egress.undecided.union(&ingress.undecided),
        }
    }

    /// Connections allowed from `src` to `dst` (undecidable peers taken as not matching; see
    /// [`Engine::verdict`]).
    pub fn allowed(&self, src: &Peer, dst: &Peer) -> ConnSet {
        self.verdict(src, dst).allowed
    }

    /// Shortcut for two pods of the snapshot.
    pub fn allowed_between_pods(&self, src: &ObjectRef, dst: &ObjectRef) -> Option<ConnSet> {
        let s = self.class_of(src)?;
        let d = self.class_of(dst)?;
        Some(self.allowed(&Peer::Class(s), &Peer::Class(d)))
    }

    pub fn class_of(&self, pod: &ObjectRef) -> Option<usize> {
        self.classes.class_of(pod)
    }
}
