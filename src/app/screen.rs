//! The screens the console can show, and what each remembers (cursor, filter, drill level).
//! Esc goes back along `State::back`, a breadcrumb trail of earlier screens.

use super::fuzzy;
use super::history::HistoryScreen;
use super::rollback::RollbackScreen;
use super::timeline_view::TimelineScreen;
use crate::isolation::matrix::{ClassPair, NamespaceGrid};
use crate::isolation::tenants::Group;

#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Tenants,
    Matrix(MatrixScreen),
    Policies(TableScreen),
    Findings(TableScreen),
    Explain(ExplainScreen),
    Violations(TableScreen),
    Latency(TableScreen),
    Agents(TableScreen),
    History(HistoryScreen),
    Rollback(Box<RollbackScreen>),
    Timeline(TimelineScreen),
    /// `:flows`: its list lives in `State::flows` (the context's), not here.
    Flows,
}

impl Screen {
    /// The breadcrumb label.
    pub fn title(&self) -> String {
        match self {
            Screen::Tenants => "tenants".into(),
            Screen::Matrix(m) => match &m.level {
                MatrixLevel::Groups => "matrix".into(),
                MatrixLevel::Namespaces { from, to, .. } => {
                    format!("{} → {}", from.label(), to.label())
                }
                MatrixLevel::Pairs { from, to, .. } => format!("{from} → {to}"),
            },
            Screen::Policies(_) => "policies".into(),
            Screen::Findings(_) => "findings".into(),
            Screen::Explain(e) => format!("explain {}", e.title),
            Screen::Violations(_) => "violations".into(),
            Screen::Latency(_) => "latency".into(),
            Screen::Agents(_) => "agents".into(),
            Screen::History(h) => format!("history {}", h.policy),
            Screen::Rollback(r) => format!("{} {}", r.kind.name(), r.policy),
            Screen::Flows => "flows".into(),
            Screen::Timeline(t) => match &t.tenant {
                Some(tenant) => format!("timeline {tenant}"),
                None => "timeline".into(),
            },
        }
    }
}

impl Screen {
    /// The list state of the table screens.
    pub fn table(&self) -> Option<&TableScreen> {
        match self {
            Screen::Policies(t)
            | Screen::Findings(t)
            | Screen::Violations(t)
            | Screen::Latency(t)
            | Screen::Agents(t) => Some(t),
            _ => None,
        }
    }

    pub fn table_mut(&mut self) -> Option<&mut TableScreen> {
        match self {
            Screen::Policies(t)
            | Screen::Findings(t)
            | Screen::Violations(t)
            | Screen::Latency(t)
            | Screen::Agents(t) => Some(t),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatrixScreen {
    pub level: MatrixLevel,
    pub row: usize,
    pub col: usize,
}

impl MatrixScreen {
    pub fn groups() -> MatrixScreen {
        MatrixScreen {
            level: MatrixLevel::Groups,
            row: 0,
            col: 0,
        }
    }
}

/// Drill-down levels. Lower levels hold what was computed when they were opened.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixLevel {
    /// Tenant × tenant (plus platform, unassigned, external in/out), from the analysis.
    Groups,
    Namespaces {
        from: Group,
        to: Group,
        grid: NamespaceGrid,
    },
    /// Workload pairs; `row` selects one.
    Pairs {
        from: String,
        to: String,
        pairs: Vec<PairRow>,
        filter: String,
    },
}

impl MatrixLevel {
    /// The workload pairs the filter lets through (empty above the pairs level).
    pub fn shown_pairs(&self) -> Vec<&PairRow> {
        match self {
            MatrixLevel::Pairs { pairs, filter, .. } => pairs
                .iter()
                .filter(|p| fuzzy::matches(filter, &format!("{} {}", p.src, p.dst)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    pub src: String,
    pub dst: String,
    pub pair: ClassPair,
    /// What depends on namespace labels the user cannot read (empty: nothing).
    pub undecided: crate::policy::ConnSet,
}

/// A filterable, sortable list. The selection is a row key, never an index, so it survives
/// updates that add or remove rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableScreen {
    pub selected: Option<String>,
    pub filter: String,
    pub sort: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExplainScreen {
    pub title: String,
    pub text: String,
    pub scroll: u16,
}
