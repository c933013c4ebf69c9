//! `palisade baseline`.

use clap::Args;

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The tenant, as its namespaces' tenant label value, e.g. acme
    #[arg(long, value_name = "NAME")]
    pub tenant: String,
    /// A namespace of the tenant (repeatable); without it, the live cluster's namespaces
    /// labelled for the tenant, read in the context's scope (contexts.toml `namespaces`, else
    /// the kubeconfig namespace when cluster-wide lists are forbidden to you). The baseline is
    /// written for these namespaces and the cluster is not read: as a user whose Role covers a
    /// few namespaces, name them here (`-n` is this flag, as in the other commands)
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Also allow ingress from Prometheus in the `monitoring` namespace to ports named `metrics`
    #[arg(long)]
    pub monitoring: bool,
    /// Namespace label naming the tenant (default: tenant)
    #[arg(long, value_name = "KEY")]
    pub tenant_label: Option<String>,
    /// Print the ClusterNetworkPolicy (v1alpha2, Admin tier) form of the tenant's isolation
    /// instead: intra-tenant traffic passed to the NetworkPolicies, other tenants denied
    #[arg(long, conflicts_with_all = ["namespaces", "monitoring"])]
    pub tiers: bool,
}
