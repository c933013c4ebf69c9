//! Flows the dataplane reported (Cilium's Hubble Relay, Calico's Goldmane), pure: the record
//! Palisade keeps of one flow, the bounded ring of recent flows and the gaps the sources
//! announced, the aggregation per workload pair, filters, and the engine's own verdict beside
//! the dataplane's (drift). The sources that fill them live in `flowsrc/`.
//!
//! Not to be confused with [`crate::flow`], the identities of the console's own requests.

pub mod aggregate;
pub mod describe;
pub mod filter;
pub mod goldmane_wire;
pub mod hubble_convert;
pub mod hubble_wire;
pub mod judge;
pub mod record;
pub mod ring;

pub use aggregate::{AggregateKey, AggregateStats, Aggregates, WorkloadId};
pub use filter::{FlowQuery, VerdictFilter};
pub use judge::{Drift, Judge, Judgement, Prediction};
pub use record::{
    DataplanePolicy, DataplaneVerdict, FlowEndpoint, FlowNews, FlowRecord, FlowSourceKind, Gap,
    Interner, Name, SourceStatus,
};
pub use ring::{FlowRing, RingLimits};
