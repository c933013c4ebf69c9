//! One analysis configuration for every view of a cluster: how namespaces map to tenants and
//! whether CIDR peers match pods. Built once per context from the command line, over the
//! context's `contexts.toml` entry, over the defaults; the console, `analyze`, `check`,
//! `flows`, rollback blast radii and suspects all read it, so they cannot show two matrices of
//! one cluster.

use super::cni::{self, CniChoice, ResolvedCni};
use super::tenants::TenantRules;
use crate::model::ClusterSnapshot;
use crate::policy::{CniSetting, IpBlockPodsSetting, Settings};

/// What one source (the command line, or a context's entry) chose; unset falls through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalysisChoices {
    pub tenant_label: Option<String>,
    /// `(tenant, pattern)` pairs; empty: not chosen here.
    pub tenant_patterns: Vec<(String, String)>,
    pub ipblock_pods: Option<IpBlockPodsSetting>,
    pub cni: Option<CniSetting>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalysisConfig {
    pub tenant_rules: TenantRules,
    pub ip_block_pods: IpBlockPodsSetting,
    /// Whose order of evaluation applies: chosen (`--cni`, contexts.toml) or detected.
    pub cni: CniChoice,
}

impl AnalysisConfig {
    /// The command line's choices over the context's over the defaults, field by field.
    pub fn resolve(
        command_line: &AnalysisChoices,
        context: Option<&AnalysisChoices>,
    ) -> AnalysisConfig {
        let none = AnalysisChoices::default();
        let context = context.unwrap_or(&none);
        let mut tenant_rules = TenantRules::default();
        if let Some(label) = command_line
            .tenant_label
            .as_ref()
            .or(context.tenant_label.as_ref())
        {
            tenant_rules.label_keys = vec![label.clone()];
        }
        tenant_rules.name_patterns = match command_line.tenant_patterns.is_empty() {
            false => command_line.tenant_patterns.clone(),
            true => context.tenant_patterns.clone(),
        };
        AnalysisConfig {
            tenant_rules,
            ip_block_pods: command_line
                .ipblock_pods
                .or(context.ipblock_pods)
                .unwrap_or_default(),
            cni: CniChoice::resolve(command_line.cni, context.cni),
        }
    }

    /// The CNI of a live cluster, chosen or detected, and why.
    pub fn cni_for(&self, snapshot: &ClusterSnapshot) -> ResolvedCni {
        cni::resolve(self.cni, snapshot)
    }

    /// The engine's settings for a live cluster (`auto` follows the CNI).
    pub fn settings_for(&self, snapshot: &ClusterSnapshot) -> Settings {
        self.ip_block_pods.for_cni(self.cni_for(snapshot).cni)
    }

    /// The engine's settings for manifests (no agents to look at: the CNI is the family of
    /// the native kinds the files hold), the CNI, and a warning when both families are there.
    pub fn settings_for_manifests(
        &self,
        snapshot: &ClusterSnapshot,
    ) -> (Settings, ResolvedCni, Option<String>) {
        let (cni, warning) = cni::for_manifests(self.cni, snapshot);
        (self.ip_block_pods.for_manifests_with(cni.cni), cni, warning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(label: Option<&str>, pattern: Option<(&str, &str)>) -> AnalysisChoices {
        AnalysisChoices {
            tenant_label: label.map(str::to_string),
            tenant_patterns: pattern
                .map(|(t, p)| vec![(t.to_string(), p.to_string())])
                .unwrap_or_default(),
            ipblock_pods: None,
            cni: None,
        }
    }

    #[test]
    fn nothing_chosen_is_the_default_rules() {
        let config = AnalysisConfig::resolve(&AnalysisChoices::default(), None);
        assert_eq!(config.tenant_rules, TenantRules::default());
        assert_eq!(config.ip_block_pods, IpBlockPodsSetting::Auto);
    }

    #[test]
    fn the_command_line_wins_field_by_field_over_the_context() {
        let mut context = choices(Some("team"), Some(("acme", "acme-*")));
        context.ipblock_pods = Some(IpBlockPodsSetting::Match);
        // Only a label on the command line: the context's pattern and mode still hold.
        let config = AnalysisConfig::resolve(&choices(Some("owner"), None), Some(&context));
        assert_eq!(config.tenant_rules.label_keys, vec!["owner".to_string()]);
        assert_eq!(
            config.tenant_rules.name_patterns,
            vec![("acme".to_string(), "acme-*".to_string())]
        );
        assert_eq!(config.ip_block_pods, IpBlockPodsSetting::Match);
        // The context alone.
        let config = AnalysisConfig::resolve(&AnalysisChoices::default(), Some(&context));
        assert_eq!(config.tenant_rules.label_keys, vec!["team".to_string()]);
        // A pattern and a mode on the command line replace the context's.
        let mut cli = choices(None, Some(("globex", "gx-*")));
        cli.ipblock_pods = Some(IpBlockPodsSetting::Ignore);
        let config = AnalysisConfig::resolve(&cli, Some(&context));
        assert_eq!(
            config.tenant_rules.name_patterns,
            vec![("globex".to_string(), "gx-*".to_string())]
        );
        assert_eq!(config.ip_block_pods, IpBlockPodsSetting::Ignore);
    }

    #[test]
    fn the_cni_comes_from_the_command_line_over_the_context() {
        use crate::policy::Cni;
        let mut context = choices(None, None);
        context.cni = Some(CniSetting::Fixed(Cni::Calico));
        let config = AnalysisConfig::resolve(&AnalysisChoices::default(), Some(&context));
        assert_eq!(config.cni, CniChoice::Context(Cni::Calico));
        let snapshot = ClusterSnapshot::default();
        assert_eq!(config.settings_for(&snapshot).cni, Cni::Calico);
        // Calico matches ipBlocks against pods in auto mode.
        assert_eq!(
            config.settings_for(&snapshot).ip_block_pods,
            crate::policy::IpBlockPods::Match
        );
        let mut cli = choices(None, None);
        cli.cni = Some(CniSetting::Fixed(Cni::Cilium));
        let config = AnalysisConfig::resolve(&cli, Some(&context));
        assert_eq!(config.cni, CniChoice::Flag(Cni::Cilium));
        assert_eq!(config.cni_for(&snapshot).line(), "CNI: Cilium (--cni)");
    }
}
