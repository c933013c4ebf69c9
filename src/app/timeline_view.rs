//! The `:timeline` screen: the journal's policy changes and the audit's rollbacks (read by the
//! journal thread), merged with this session's violation spikes and latency breaches. Newest
//! first, with a cursor; a journal's seeding (dozens of "first seen" revisions within a minute)
//! is one row until opened. Pure data; the transitions are in `timeline_flow.rs`.

use k8s_openapi::jiff::SignedDuration;

use super::action::Action;
use crate::flow::FlowId;
use crate::timeline::{Event, EventKind};

/// First-seen revisions this close to the run's newest are one seeding.
const SEEDING_SPAN: SignedDuration = SignedDuration::from_secs(60);

/// One row of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineRow {
    /// An event, by its index in the screen's events.
    Event(usize),
    /// `count` (two or more) policies first seen together, from `newest` down to `oldest`
    /// (indices; rows the filter hides may lie between).
    Seeding {
        newest: usize,
        oldest: usize,
        count: usize,
    },
}

/// What the rows are narrowed to (`f` cycles the kind, `t` keeps the selected row's tenant).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineFilter {
    pub kind: Option<EventKind>,
    pub tenant: Option<String>,
}

impl TimelineFilter {
    fn keeps(&self, event: &Event) -> bool {
        self.kind.is_none_or(|k| event.kind == k)
            && self
                .tenant
                .as_deref()
                .is_none_or(|t| event.tenant.as_deref() == Some(t))
    }

    /// `kind: rollback, tenant: acme`, or `None` without a filter.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.kind.map(|k| format!("kind: {k}")),
            self.tenant.as_ref().map(|t| format!("tenant: {t}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// The kinds `f` steps through, then back to all.
const KIND_CYCLE: [EventKind; 4] = [
    EventKind::PolicyChange,
    EventKind::Rollback,
    EventKind::ViolationSpike,
    EventKind::LatencyBreach,
];

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineScreen {
    /// The load asked for this screen; only its answer is shown.
    pub flow: FlowId,
    /// `:timeline TENANT` keeps only that tenant's events.
    pub tenant: Option<String>,
    /// `None` while the journal is read; oldest first, as merged.
    pub events: Option<Result<Vec<Event>, String>>,
    /// The selected row, counted from the top (the newest).
    pub cursor: usize,
    pub filter: TimelineFilter,
    /// Whether seedings are listed event by event.
    pub seeding_open: bool,
}

impl TimelineScreen {
    pub fn new(flow: FlowId, tenant: Option<String>) -> TimelineScreen {
        TimelineScreen {
            flow,
            tenant,
            events: None,
            cursor: 0,
            filter: TimelineFilter::default(),
            seeding_open: false,
        }
    }

    pub fn events(&self) -> &[Event] {
        match &self.events {
            Some(Ok(events)) => events,
            _ => &[],
        }
    }

    /// The rows shown, newest first.
    pub fn rows(&self) -> Vec<TimelineRow> {
        let events = self.events();
        let shown: Vec<usize> = (0..events.len())
            .rev()
            .filter(|&i| self.filter.keeps(&events[i]))
            .collect();
        let mut rows = Vec::new();
        let mut at = 0;
        while at < shown.len() {
            let newest = shown[at];
            let mut end = at;
            if !self.seeding_open && is_seeding(&events[newest]) {
                while end + 1 < shown.len()
                    && is_seeding(&events[shown[end + 1]])
                    && events[newest].at.duration_since(events[shown[end + 1]].at) <= SEEDING_SPAN
                {
                    end += 1;
                }
            }
            rows.push(match end > at {
                true => TimelineRow::Seeding {
                    newest,
                    oldest: shown[end],
                    count: end - at + 1,
                },
                false => TimelineRow::Event(newest),
            });
            at = end + 1;
        }
        rows
    }

    /// The row under the cursor (the cursor kept inside the rows).
    pub fn selected(&self) -> Option<TimelineRow> {
        let rows = self.rows();
        rows.get(self.cursor.min(rows.len().saturating_sub(1)))
            .copied()
    }

    /// The event under the cursor; `None` on a seeding row.
    pub fn selected_event(&self) -> Option<&Event> {
        match self.selected()? {
            TimelineRow::Event(i) => self.events().get(i),
            TimelineRow::Seeding { .. } => None,
        }
    }

    /// Up, down, pages, top and bottom, never past the last row.
    pub fn select(&mut self, action: Action, page: usize) {
        let last = self.rows().len().saturating_sub(1);
        let cursor = self.cursor.min(last);
        self.cursor = match action {
            Action::Down => (cursor + 1).min(last),
            Action::Up => cursor.saturating_sub(1),
            Action::PageDown => (cursor + page.max(1)).min(last),
            Action::PageUp => cursor.saturating_sub(page.max(1)),
            Action::Top => 0,
            Action::Bottom => last,
            _ => cursor,
        };
    }

    /// `f`: the next kind, then every kind again.
    pub fn cycle_kind(&mut self) {
        self.filter.kind = match self.filter.kind {
            None => Some(KIND_CYCLE[0]),
            Some(kind) => KIND_CYCLE
                .iter()
                .position(|k| *k == kind)
                .and_then(|i| KIND_CYCLE.get(i + 1))
                .copied(),
        };
        self.cursor = 0;
    }

    /// `t`: only the selected event's tenant; again: every tenant.
    pub fn toggle_tenant(&mut self) -> Result<(), &'static str> {
        if self.filter.tenant.take().is_none() {
            let tenant = self
                .selected_event()
                .and_then(|e| e.tenant.clone())
                .ok_or("the selected row concerns no tenant")?;
            self.filter.tenant = Some(tenant);
        }
        self.cursor = 0;
        Ok(())
    }

    /// `c`: no filter.
    pub fn clear_filters(&mut self) {
        self.filter = TimelineFilter::default();
        self.cursor = 0;
    }

    /// `enter` on a seeding row lists its events (and again folds them), keeping the cursor
    /// on the same event.
    pub fn toggle_seeding(&mut self) {
        let anchor = match self.selected() {
            Some(TimelineRow::Seeding { newest, .. } | TimelineRow::Event(newest)) => newest,
            None => return,
        };
        self.seeding_open = !self.seeding_open;
        self.cursor = self
            .rows()
            .iter()
            .position(|row| match *row {
                TimelineRow::Event(i) => i == anchor,
                TimelineRow::Seeding { newest, oldest, .. } => (oldest..=newest).contains(&anchor),
            })
            .unwrap_or(0);
    }
}

/// A policy's first revision (`rev 1: first seen: …`, as `commands::timeline` words it): when a
/// journal starts, every policy it finds.
fn is_seeding(event: &Event) -> bool {
    event.kind == EventKind::PolicyChange && event.summary.starts_with("rev 1: first seen")
}
