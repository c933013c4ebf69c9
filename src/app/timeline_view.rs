//! The `:timeline` screen: the journal's policy changes and the audit's rollbacks (read by the
//! journal thread), merged with this session's violation spikes and latency breaches. Pure data;
//! the transitions are in `timeline_flow.rs`.

use crate::flow::FlowId;
use crate::timeline::Event;

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineScreen {
    /// The load asked for this screen; only its answer is shown.
    pub flow: FlowId,
    /// `:timeline TENANT` keeps only that tenant's events.
    pub tenant: Option<String>,
    /// `None` while the journal is read.
    pub events: Option<Result<Vec<Event>, String>>,
    pub scroll: u16,
}
