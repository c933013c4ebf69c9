//! The console's vocabulary: typed actions that keymaps bind keys to.

/// Where a key is being pressed; bindings are looked up in the context first, then in `global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyContext {
    Global,
    Tree,
    Detail,
    Matrix,
    Table,
    History,
    Flows,
    Timeline,
    Help,
    Rollback,
}

impl KeyContext {
    pub const ALL: [KeyContext; 10] = [
        Self::Global,
        Self::Tree,
        Self::Detail,
        Self::Matrix,
        Self::Table,
        Self::History,
        Self::Flows,
        Self::Timeline,
        Self::Help,
        Self::Rollback,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Tree => "tree",
            Self::Detail => "detail",
            Self::Matrix => "matrix",
            Self::Table => "table",
            Self::History => "history",
            Self::Flows => "flows",
            Self::Timeline => "timeline",
            Self::Help => "help",
            Self::Rollback => "rollback",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

macro_rules! actions {
    ($($variant:ident => $name:literal, $description:literal;)*) => {
        /// Something the user can ask for. Keymaps map keys to these by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The name used in keymap files.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// One line for the help screen and the hint bar.
            pub fn description(self) -> &'static str {
                match self {
                    $(Action::$variant => $description,)*
                }
            }
        }
    };
}

actions! {
    Quit => "quit", "Quit Palisade";
    Suspend => "suspend", "Suspend Palisade to the shell (fg resumes it)";
    Help => "help", "Show or hide this help";
    Back => "back", "Close the popup or go back";
    Up => "up", "Move up";
    Down => "down", "Move down";
    Top => "top", "Jump to the top";
    Bottom => "bottom", "Jump to the bottom";
    PageUp => "page-up", "Move up one page";
    PageDown => "page-down", "Move down one page";
    Expand => "expand", "Expand the node, or step into it";
    Collapse => "collapse", "Collapse the node, or go to its parent";
    Toggle => "toggle", "Expand or collapse the node";
    ExpandAll => "expand-all", "Expand every node";
    CollapseAll => "collapse-all", "Collapse every node";
    NextPane => "next-pane", "Switch focus between the tree and the detail pane";
    Command => "command", "Open the command line (:matrix, :policies, :findings, :ctx, :theme ...)";
    Filter => "filter", "Filter the list (fuzzy)";
    Open => "open", "Open the selection: drill into a cell, explain a pair, jump to an object";
    Left => "left", "Move left";
    Right => "right", "Move right";
    Sort => "sort", "Sort by the next column";
    ShowTenants => "show-tenants", "Show the tenants tree";
    ShowMatrix => "show-matrix", "Show the isolation matrix";
    ShowPolicies => "show-policies", "Show the policies table";
    ShowFindings => "show-findings", "Show the findings";
    ShowHistory => "show-history", "Show the revision history of the selected policy";
    Revert => "revert", "Roll back to the selected revision (restore it if the policy was deleted)";
    RemovePolicy => "remove-policy", "Roll back by deleting the policy (a new policy that broke traffic)";
    UndoRollback => "undo-rollback", "Undo the last rollback of this policy";
    SuspendGitOps => "suspend-gitops", "Rollback review: also suspend the policy's GitOps owner first (Flux/Argo CD)";
    ShowFlows => "show-flows", "Show the dataplane's flows (Hubble Relay, Goldmane) beside palisade's verdict";
    CycleVerdict => "cycle-verdict", "Flows: show dropped, then drift, then all flows";
    FilterTenant => "filter-tenant", "Flows, timeline: only the selected row's tenant (again: every tenant on the timeline)";
    FilterNamespace => "filter-namespace", "Flows: only the selected flow's namespace";
    FilterPort => "filter-port", "Flows: only the selected flow's port";
    ClearFilters => "clear-filters", "Flows, timeline: clear the filters";
    CycleKind => "cycle-kind", "Timeline: show policy changes, then rollbacks, spikes, latency breaches, then everything";
    Pause => "pause", "Flows: freeze the list (new flows are still counted and kept) or resume";
    RollbackSuspect => "rollback-suspect", "Roll back the likely cause of the selected denial (:violations, :flows, a :timeline spike): back to the revision before it";
}

impl Action {
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_guide_lists_every_action() {
        let guide = include_str!("../../docs/configuration.md");
        let list = guide
            .split("\nActions: ")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .expect("docs/configuration.md has an `Actions: ` paragraph");
        for action in Action::ALL {
            assert!(
                list.contains(&format!("`{}`", action.name())),
                "docs/configuration.md does not list `{}`",
                action.name()
            );
        }
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(*action));
        }
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
