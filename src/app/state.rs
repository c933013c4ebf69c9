//! Everything the console shows, owned by the runtime and changed only by `update`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use k8s_openapi::jiff::Timestamp;

use super::flows::FlowsState;
use super::history::JournalView;
use super::screen::Screen;
use super::telemetry::{SourceKind, Telemetry};
use super::tree::{NodePath, TenantTree};
use crate::config::Keymap;
use crate::config::keys::KeyPress;
use crate::flow::{FlowId, FlowIds};
use crate::isolation::analysis::Analysis;
use crate::isolation::config::{AnalysisChoices, AnalysisConfig};
use crate::isolation::intent::Intent;
use crate::isolation::tenants::TenantRules;
use crate::model::{
    ClusterSnapshot, Coverage, LabelSets, NativeKind, ResourceKind, TierKind, Unevaluated,
};
use crate::policy::IpBlockPodsSetting;

/// How far one kind's data can be trusted, as its watcher last reported (times come from the
/// watcher, never from a clock read here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncState {
    /// Listing, for the first time or again; what is shown is the last data seen, if any.
    Syncing,
    Live,
    /// Listing or watching failed at `since` and is retried; what is shown is the last data seen.
    Reconnecting {
        since: Timestamp,
        error: String,
    },
    /// Nothing heard from the server (no event, bookmark or probe answer) since `since`.
    Stale {
        since: Timestamp,
        reason: String,
    },
    /// The server answered 403 at `since`: the user may not list or watch the kind (retried
    /// with backoff). For a tier kind the analysis goes on without it, marked untrustworthy.
    Forbidden {
        since: Timestamp,
        error: String,
    },
}

impl SyncState {
    /// One word for headers: `live`, `syncing`, `reconnecting`, `stale`.
    pub fn word(&self) -> &'static str {
        match self {
            SyncState::Syncing => "syncing",
            SyncState::Live => "live",
            SyncState::Reconnecting { .. } => "reconnecting",
            SyncState::Stale { .. } => "stale",
            SyncState::Forbidden { .. } => "forbidden",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Tree,
    Detail,
}

/// Selection and expansion in the tenants tree, by stable node paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeNav {
    pub selected: NodePath,
    pub opened: HashSet<NodePath>,
    /// The operator has put the cursor somewhere; until then it follows the first row, so a
    /// node that arrives first (the cluster node, before the namespaces) does not keep it.
    pub chosen: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Command,
    Filter,
}

/// A line being typed at the bottom of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
    /// Completion candidates last shown (command line).
    pub candidates: Vec<String>,
    /// Position in the command history while browsing it with up/down.
    pub history_pos: Option<usize>,
}

/// At most one analysis runs at a time; changes during a run mark the result stale, and one more
/// run follows. A burst of watch events therefore costs at most two analyses. Only the result of
/// the run in flight is taken: one of another context's snapshot is dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalysisJob {
    pub running: Option<FlowId>,
    pub stale: bool,
}

/// What belongs to the operator's session and survives a context switch: keys and chords,
/// what was typed, what the terminal is, the tour, the identities of requests.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub keymap: Keymap,
    /// Keys pressed so far of an unfinished chord (`g` of `g g`); empty between chords.
    pub pending_keys: Vec<KeyPress>,
    pub command_history: Vec<String>,
    /// Kubeconfig contexts, for `:ctx` and its completion.
    pub contexts: Vec<String>,
    /// Theme names, for `:theme` completion.
    pub themes: Vec<String>,
    /// The intent file, if any: analysed with every snapshot.
    pub intent: Option<Intent>,
    /// Config problems, shown until the user fixes the files.
    pub warnings: Vec<String>,
    /// Rows available to lists, for paging; kept from the last resize.
    pub viewport_rows: u16,
    /// How far the text panes scroll, as the last frame measured them.
    pub scroll_limits: ScrollLimits,
    /// The terminal's size, for mapping mouse clicks to rows.
    pub terminal_size: (u16, u16),
    pub quitting: bool,
    /// The guided tour's progress.
    pub tour: super::tour::Tour,
    /// Identities for the asynchronous requests (unique for the whole session).
    pub flows: FlowIds,
    /// The context switch asked last, while it connects.
    pub switching: Option<FlowId>,
    /// Where agent figures come from (the same source follows every context).
    pub metrics_source: SourceKind,
    /// How many flows, and how old, each context keeps (`--flows-max`, `--flows-max-age`).
    pub flow_limits: crate::flows::RingLimits,
    /// `--tenant-label`, `--tenant-pattern`, `--ipblock-pods` as given on the command line.
    pub analysis_choices: AnalysisChoices,
    /// Each context's analysis defaults from contexts.toml; resolved at every context switch.
    pub context_analysis: BTreeMap<String, AnalysisChoices>,
}

/// The last screenful of each scrollable text pane, measured by the view after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrollLimits {
    /// The tenants screen's detail pane, or the explanation on the explain screen.
    pub detail: u16,
    /// The help popup.
    pub help: u16,
}

impl Default for ScrollLimits {
    /// Not measured yet: no limit (the view clamps what it draws).
    fn default() -> Self {
        ScrollLimits {
            detail: u16::MAX,
            help: u16::MAX,
        }
    }
}

impl SessionState {
    pub fn new(keymap: Keymap, warnings: Vec<String>) -> SessionState {
        SessionState {
            keymap,
            pending_keys: Vec::new(),
            command_history: Vec::new(),
            contexts: Vec::new(),
            themes: Vec::new(),
            intent: None,
            warnings,
            viewport_rows: 20,
            scroll_limits: ScrollLimits::default(),
            terminal_size: (80, 24),
            quitting: false,
            tour: super::tour::Tour::default(),
            flows: FlowIds::default(),
            switching: None,
            metrics_source: SourceKind::default(),
            flow_limits: crate::flows::RingLimits::default(),
            analysis_choices: AnalysisChoices::default(),
            context_analysis: BTreeMap::new(),
        }
    }
}

/// Everything the console shows: the session, and the rest, which belongs to one context's
/// cluster and is replaced as a whole by a context switch ([`State::for_context`]).
#[derive(Debug, Clone)]
pub struct State {
    pub session: SessionState,
    /// The kube context name shown in the status bar.
    pub context: String,
    pub tenant_rules: TenantRules,
    pub cluster: ClusterSnapshot,
    /// The pods' label sets, each held once (the watch's pods are given the shared copy).
    pub label_sets: LabelSets,
    /// Derived from `cluster`; rebuilt whenever a watch event changes it.
    pub tree: TenantTree,
    pub sync: BTreeMap<ResourceKind, SyncState>,
    /// Kinds listed at least once in this context: the analysis waits for all of them.
    pub listed: BTreeSet<ResourceKind>,
    /// Tier kinds discovery found the cluster does not serve: not watched, nothing waits.
    pub not_served: BTreeSet<TierKind>,
    /// Cilium's kinds discovery found the cluster does not serve: not watched, not shown.
    pub not_served_natives: BTreeSet<NativeKind>,
    /// The served policy kinds Palisade does not evaluate, as last counted.
    pub unevaluated: Vec<Unevaluated>,
    /// Some namespaces only: what the user can see (`None`: the whole cluster).
    pub scope: Option<crate::model::NamespaceScope>,
    pub nav: TreeNav,
    pub focus: Focus,
    pub detail_scroll: u16,
    /// `Some(scroll)` while the help popup is open.
    pub help: Option<u16>,
    /// What is on screen, and the trail back (esc).
    pub screen: Screen,
    pub back: Vec<Screen>,
    /// The `:` command line or a `/` filter being typed.
    pub input: Option<Input>,
    /// The tenants tree's filter.
    pub tree_filter: String,
    /// A one-line message for the user (unknown command, not available yet, ...).
    pub notice: Option<String>,
    /// The snapshot changed since the last `Msg::Settle`.
    pub cluster_changed: bool,
    /// The engine's latest analysis; `None` until the first one completes.
    pub analysis: Option<Box<Analysis>>,
    pub analysis_job: AnalysisJob,
    /// What changed since the analyses asked for, for the runtime's incremental analyst.
    pub changes: super::changes::ChangeLog,
    pub ip_block_pods: IpBlockPodsSetting,
    /// `--cni` or the context's `cni`, else detected by each analysis.
    pub cni: crate::isolation::cni::CniChoice,
    /// Agent figures: latest reading, violations feed, histories.
    pub telemetry: Telemetry,
    /// The revision journal: its file, the newest change per policy.
    pub journal: JournalView,
    /// The dataplane's flows, from Hubble Relay or Goldmane.
    pub flows: FlowsState,
    /// Recent policy changes and what each closes: the suspects of denials.
    pub suspects: super::suspects::SuspectsView,
}

impl State {
    pub fn new(context: impl Into<String>, keymap: Keymap, warnings: Vec<String>) -> State {
        State::for_context(context, SessionState::new(keymap, warnings))
    }

    /// A context's state before anything of its cluster is known, in `session`.
    pub fn for_context(context: impl Into<String>, session: SessionState) -> State {
        let context = context.into();
        let AnalysisConfig {
            tenant_rules,
            ip_block_pods,
            cni,
        } = AnalysisConfig::resolve(
            &session.analysis_choices,
            session.context_analysis.get(&context),
        );
        let cluster = ClusterSnapshot::default();
        let flows = FlowsState::new(session.flow_limits);
        State {
            session,
            context,
            tree: TenantTree::build(&cluster, &tenant_rules, None),
            tenant_rules,
            cluster,
            label_sets: LabelSets::default(),
            sync: ResourceKind::ALL
                .into_iter()
                .map(|kind| (kind, SyncState::Syncing))
                .collect(),
            listed: BTreeSet::new(),
            not_served: BTreeSet::new(),
            not_served_natives: BTreeSet::new(),
            unevaluated: Vec::new(),
            scope: None,
            nav: TreeNav::default(),
            focus: Focus::Tree,
            detail_scroll: 0,
            help: None,
            screen: Screen::Tenants,
            back: Vec::new(),
            input: None,
            tree_filter: String::new(),
            notice: None,
            cluster_changed: false,
            analysis: None,
            analysis_job: AnalysisJob::default(),
            changes: Default::default(),
            ip_block_pods,
            cni,
            telemetry: Telemetry::default(),
            journal: JournalView::default(),
            flows,
            suspects: Default::default(),
        }
    }

    /// The analysis configuration in force (command line over contexts.toml over defaults), for
    /// what the console computes off the UI loop: blast radii, suspects.
    pub fn analysis_config(&self) -> AnalysisConfig {
        AnalysisConfig {
            tenant_rules: self.tenant_rules.clone(),
            ip_block_pods: self.ip_block_pods,
            cni: self.cni,
        }
    }

    /// The tenant (or group) label of a namespace, as the tree and matrix show it.
    pub fn group_label(&self, namespace: &str) -> String {
        (self.tenant_rules)
            .group_in(&self.cluster, namespace)
            .label()
            .to_string()
    }

    /// True while every watched kind is live, once discovery has said which tier kinds are
    /// watched (before that a served tier kind would be missing from `sync`).
    pub fn is_live(&self) -> bool {
        let discovered = TierKind::ALL.iter().all(|t| {
            self.not_served.contains(t) || self.sync.contains_key(&ResourceKind::Tier(*t))
        }) && NativeKind::ALL.iter().all(|n| {
            self.not_served_natives.contains(n) || self.sync.contains_key(&ResourceKind::Native(*n))
        });
        discovered && self.sync.values().all(|s| *s == SyncState::Live)
    }

    /// True once every watched kind has completed a list and discovery has settled every tier
    /// kind (listed, not served, or forbidden: analysed without it): enough data to analyse.
    pub fn all_listed(&self) -> bool {
        ResourceKind::ALL.iter().all(|k| self.listed.contains(k))
            && TierKind::ALL.iter().all(|t| {
                let kind = ResourceKind::Tier(*t);
                self.not_served.contains(t)
                    || self.listed.contains(&kind)
                    || matches!(self.sync.get(&kind), Some(SyncState::Forbidden { .. }))
            })
            && NativeKind::ALL.iter().all(|n| {
                let kind = ResourceKind::Native(*n);
                self.not_served_natives.contains(n)
                    || self.listed.contains(&kind)
                    || matches!(self.sync.get(&kind), Some(SyncState::Forbidden { .. }))
            })
    }

    /// Whether the screen has its warning line (above the status bar): config problems,
    /// something the analysis cannot see, or a GitOps suspension still in place. The view and
    /// the mouse agree through this.
    pub fn has_warning_line(&self) -> bool {
        !self.session.warnings.is_empty()
            || !self.coverage().lines().is_empty()
            || !self.journal.gitops_reminders.is_empty()
    }

    /// What the analysis cannot see: the tier kinds forbidden to the user, and the policy kinds
    /// Palisade does not evaluate.
    pub fn coverage(&self) -> Coverage {
        Coverage {
            cni: self.analysis.as_ref().map(|a| a.cni.note()),
            forbidden: self
                .sync
                .iter()
                .filter_map(|(kind, sync)| match (kind, sync) {
                    (ResourceKind::Tier(tier), SyncState::Forbidden { .. }) => Some(*tier),
                    _ => None,
                })
                .collect(),
            forbidden_natives: self
                .sync
                .iter()
                .filter_map(|(kind, sync)| match (kind, sync) {
                    (ResourceKind::Native(native), SyncState::Forbidden { .. }) => Some(*native),
                    _ => None,
                })
                .collect(),
            unevaluated: self.unevaluated.clone(),
            scope: self.scope.clone().map(|scope| {
                let scope = scope.with_selectors(&self.cluster);
                match self.analysis.as_ref().and_then(|a| a.unreadable.as_ref()) {
                    Some(u) => scope.with_undecided(u.policies.iter().map(|p| p.id.clone())),
                    None => scope,
                }
            }),
        }
    }

    /// `pods reconnecting, netpol stale` when some kind is not live: what the analysis and the
    /// views derived from it may be missing. `None` when everything is live.
    pub fn partial(&self) -> Option<String> {
        let troubled: Vec<String> = self
            .sync
            .iter()
            .filter(|(_, s)| **s != SyncState::Live)
            .map(|(kind, s)| format!("{} {}", kind.short_name(), s.word()))
            .collect();
        (!troubled.is_empty()).then(|| troubled.join(", "))
    }
}
