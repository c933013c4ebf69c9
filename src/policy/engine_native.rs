//! The Cilium part of the engine: incremental updates of CNP/CCNP and the rules selecting a
//! class. A child of `engine`.

use super::*;

impl Engine {
    /// Applies one native policy change (`None` = deleted): Cilium's kinds re-evaluate the
    /// classes the old or new version selects, Calico's as `update_calico` says. Returns the
    /// new version's validation errors.
    pub fn update_native(
        &mut self,
        id: &NativeRef,
        policy: Option<&NativePolicyInfo>,
    ) -> (UpdateStats, Vec<ValidationError>) {
        match id.kind.family() {
            crate::model::NativeFamily::Cilium => self.update_cilium(id, policy),
            crate::model::NativeFamily::Calico => self.update_calico(id, policy),
        }
    }

    /// Applies one Cilium policy change (`None` = deleted) and re-evaluates only the classes
    /// the old or new version selects. Returns the new version's validation errors.
    pub(super) fn update_cilium(
        &mut self,
        id: &NativeRef,
        policy: Option<&NativePolicyInfo>,
    ) -> (UpdateStats, Vec<ValidationError>) {
        let old = Arc::make_mut(&mut self.natives).remove(id);
        self.native_invalid.remove(id);
        let mut errors = Vec::new();
        let new = match policy {
            Some(p) => {
                self.snapshot.natives.insert(id.clone(), p.clone());
                match compile_native(p) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors = e.clone();
                        self.native_invalid.insert(id.clone(), e);
                        None
                    }
                }
            }
            None => {
                self.snapshot.natives.remove(id);
                None
            }
        };
        let affected: Vec<usize> = (0..self.classes.classes.len())
            .filter(|&c| {
                let ep = &self.classes.classes[c].endpoint;
                old.iter()
                    .chain(new.iter())
                    .flat_map(|p| &p.rules)
                    .any(|r| r.subject.matches(ep) == Matched::Yes)
            })
            .collect();
        if let Some(new) = new {
            Arc::make_mut(&mut self.natives).insert(id.clone(), new);
        }
        (self.refresh_after_change(affected), errors)
    }

    /// The Cilium rules selecting `class` in `dir`.
    pub fn native_rules(
        &self,
        class: usize,
        dir: Direction,
    ) -> Vec<(&CompiledNative, &CiliumRule)> {
        self.natives_selecting(class, dir)
            .iter()
            .filter_map(|(id, index)| {
                let p = self.natives.get(id)?;
                Some((p, p.rules.iter().find(|r| r.index == *index)?))
            })
            .collect()
    }

    /// Cilium rules (policy, rule index) selecting a class in one direction.
    pub fn natives_selecting(&self, class: usize, dir: Direction) -> &[(NativeRef, usize)] {
        self.native_selecting
            .get(class)
            .map(|s| s[di(dir)].as_slice())
            .unwrap_or_default()
    }

    /// Valid Cilium policies.
    pub fn natives(&self) -> &BTreeMap<NativeRef, CompiledNative> {
        &self.natives
    }

    /// Cilium rules palisade does not evaluate (host policies, selectors over labels it
    /// does not know), with the reason.
    pub fn natives_not_evaluated(&self) -> impl Iterator<Item = (&NativeRef, &str)> {
        self.natives
            .iter()
            .flat_map(|(id, p)| p.not_evaluated.iter().map(move |r| (id, r.as_str())))
    }
}

/// Whether a rule has a peer whose match against some pod may be unknown.
pub(super) fn may_be_pod_unknown(rule: &CiliumRule) -> bool {
    [
        &rule.ingress,
        &rule.ingress_deny,
        &rule.egress,
        &rule.egress_deny,
    ]
    .into_iter()
    .flatten()
    .flat_map(|pr| pr.peers.iter().flatten())
    .any(|peer| match peer {
        CiliumPeer::Undecidable { pods, .. } => *pods,
        CiliumPeer::Entity(e) => *e == Entity::Unmanaged,
        CiliumPeer::Endpoints { selector, .. } => selector.unknown.is_some(),
        CiliumPeer::Cidr { .. } => false,
    })
}
