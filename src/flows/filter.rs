//! Which flows a list shows: by verdict, tenant, namespace, port, and text.

use super::judge::Judgement;
use super::record::{DataplaneVerdict, FlowRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerdictFilter {
    /// Dropped (and audit) flows: what an operator chasing a block wants first.
    #[default]
    Dropped,
    /// Flows where palisade's verdict and the dataplane's differ.
    Drift,
    /// Everything, forwarded flows included.
    All,
}

impl VerdictFilter {
    pub fn parse(text: &str) -> Option<VerdictFilter> {
        match text {
            "dropped" => Some(VerdictFilter::Dropped),
            "drift" => Some(VerdictFilter::Drift),
            "all" => Some(VerdictFilter::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VerdictFilter::Dropped => "dropped",
            VerdictFilter::Drift => "drift",
            VerdictFilter::All => "all",
        }
    }
}

/// A flow list's filter. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowQuery {
    pub verdict: VerdictFilter,
    /// Either end in this tenant.
    pub tenant: Option<String>,
    /// Either end in this namespace.
    pub namespace: Option<String>,
    pub port: Option<u16>,
}

impl FlowQuery {
    /// Whether `flow` passes; `tenant_of` maps a namespace to its tenant, `judgement` is
    /// palisade's verdict when there is one (needed for [`VerdictFilter::Drift`]).
    pub fn matches(
        &self,
        flow: &FlowRecord,
        judgement: Option<&Judgement>,
        tenant_of: impl Fn(&str) -> Option<String>,
    ) -> bool {
        let verdict_ok = match self.verdict {
            VerdictFilter::All => true,
            VerdictFilter::Dropped => matches!(
                flow.verdict,
                DataplaneVerdict::Dropped | DataplaneVerdict::Audit
            ),
            VerdictFilter::Drift => judgement.is_some_and(|j| j.drift.is_some()),
        };
        let namespaces = [flow.src.namespace.as_deref(), flow.dst.namespace.as_deref()];
        let namespace_ok = self
            .namespace
            .as_deref()
            .is_none_or(|want| namespaces.contains(&Some(want)));
        let tenant_ok = self.tenant.as_deref().is_none_or(|want| {
            namespaces
                .iter()
                .flatten()
                .any(|ns| tenant_of(ns).as_deref() == Some(want))
        });
        let port_ok = self.port.is_none_or(|p| flow.port == Some(p));
        verdict_ok && namespace_ok && tenant_ok && port_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::record::tests::test_flow;

    fn tenant_of(ns: &str) -> Option<String> {
        ns.split('-').next().map(str::to_string)
    }

    #[test]
    fn by_default_only_drops_pass() {
        let q = FlowQuery::default();
        assert!(q.matches(&test_flow(DataplaneVerdict::Dropped, None), None, tenant_of));
        assert!(q.matches(&test_flow(DataplaneVerdict::Audit, None), None, tenant_of));
        assert!(!q.matches(
            &test_flow(DataplaneVerdict::Forwarded, None),
            None,
            tenant_of
        ));
    }

    #[test]
    fn tenant_namespace_and_port_match_either_end() {
        let mut f = test_flow(DataplaneVerdict::Dropped, None);
        f.src.namespace = Some("acme-web".into());
        f.dst.namespace = Some("kube-system".into());
        let q = |tenant: Option<&str>, ns: Option<&str>, port| FlowQuery {
            verdict: VerdictFilter::All,
            tenant: tenant.map(str::to_string),
            namespace: ns.map(str::to_string),
            port,
        };
        assert!(q(Some("acme"), None, None).matches(&f, None, tenant_of));
        assert!(q(Some("kube"), None, None).matches(&f, None, tenant_of));
        assert!(!q(Some("globex"), None, None).matches(&f, None, tenant_of));
        assert!(q(None, Some("kube-system"), Some(53)).matches(&f, None, tenant_of));
        assert!(!q(None, Some("acme-db"), None).matches(&f, None, tenant_of));
        assert!(!q(None, None, Some(80)).matches(&f, None, tenant_of));
    }

    #[test]
    fn drift_needs_a_judgement_with_drift() {
        let f = test_flow(DataplaneVerdict::Dropped, Some("POLICY_DENIED"));
        let q = FlowQuery {
            verdict: VerdictFilter::Drift,
            ..FlowQuery::default()
        };
        assert!(!q.matches(&f, None, tenant_of));
        let judged = Judgement {
            prediction: crate::flows::Prediction::Allowed { by: "x".into() },
            drift: Some(crate::flows::Drift::DroppedButAllowed),
            peers: None,
        };
        assert!(q.matches(&f, Some(&judged), tenant_of));
    }
}
