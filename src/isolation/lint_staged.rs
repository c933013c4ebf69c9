//! What Calico's staged policies would change, said as findings: the tenant matrix as it is,
//! against the matrix with every staged object applied (`policy::calico::staged::promote`).
//! Staged kinds are not enforced; operators stage a policy to rehearse it, so the question is
//! which tenant cells it would open or close ("staged: would deny umbrella → ext-out").

use super::findings::{Finding, STAGED_CHANGE};
use super::matrix::{Cell, tenant_matrix};
use super::tenants::TenantRules;
use crate::model::{ClusterSnapshot, NativeKind};
use crate::policy::Engine;
use crate::policy::calico::staged::promote;

/// One finding per tenant cell the staged objects would change; none without staged objects.
/// Costs one more engine build and two matrices, only when staged objects exist.
pub fn staged_findings(
    engine: &Engine,
    snapshot: &ClusterSnapshot,
    rules: &TenantRules,
) -> Vec<Finding> {
    let staged: Vec<String> = snapshot
        .natives
        .keys()
        .filter(|id| is_staged(id.kind))
        .map(ToString::to_string)
        .collect();
    if staged.is_empty() {
        return Vec::new();
    }
    let now = tenant_matrix(engine, snapshot, rules);
    let (promoted, _) = promote(snapshot);
    let rehearsal = Engine::new(&promoted, engine.settings());
    let then = tenant_matrix(&rehearsal, &promoted, rules);
    let (object, which) = match staged.len() {
        1 => (staged[0].clone(), String::new()),
        n => (
            format!("{n} staged policies"),
            format!(" (with {})", staged.join(", ")),
        ),
    };
    let mut findings = Vec::new();
    let mut say = |from: &str, to: &str, before: &Cell, after: &Cell| {
        if before.level == after.level && before.conns == after.conns {
            return;
        }
        let denied = before.conns.subtract(&after.conns);
        let allowed = after.conns.subtract(&before.conns);
        let mut parts = Vec::new();
        if !denied.is_empty() {
            parts.push(format!("would deny {from} → {to} ({denied})"));
        }
        if !allowed.is_empty() {
            parts.push(format!("would allow {from} → {to} ({allowed})"));
        }
        if parts.is_empty() {
            parts.push(format!("would change which pairs of {from} → {to} connect"));
        }
        findings.push(Finding::new(
            STAGED_CHANGE,
            "",
            object.clone(),
            format!(
                "staged: {}: {} → {}{which}",
                parts.join("; "),
                before.level.as_str(),
                after.level.as_str(),
            ),
        ));
    };
    for (i, from) in now.groups.iter().enumerate() {
        let Some(i2) = then.index_of(from) else {
            continue;
        };
        for (j, to) in now.groups.iter().enumerate() {
            if let Some(j2) = then.index_of(to) {
                say(
                    from.label(),
                    to.label(),
                    &now.cells[i][j],
                    &then.cells[i2][j2],
                );
            }
        }
        say(
            "outside",
            from.label(),
            &now.external_in[i],
            &then.external_in[i2],
        );
        say(
            from.label(),
            "outside",
            &now.external_out[i],
            &then.external_out[i2],
        );
    }
    findings
}

fn is_staged(kind: NativeKind) -> bool {
    matches!(
        kind,
        NativeKind::CalicoStagedNetworkPolicy
            | NativeKind::CalicoStagedGlobalNetworkPolicy
            | NativeKind::CalicoStagedKubernetesNetworkPolicy
    )
}
