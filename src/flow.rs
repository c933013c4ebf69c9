//! Identities of the console's asynchronous requests. Every request the console starts (a
//! rollback flow, a history or timeline load, an analysis, a context switch, the tour's
//! rehearsal) carries a [`FlowId`]; its reply carries the same id back, and a reply whose id is
//! no longer the current one for its purpose is dropped. Pure data.

use std::fmt;

/// One asynchronous request (or a sequence of requests that belong together, such as the steps
/// of one rollback attempt). Ids are never reused within a console session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId(u64);

impl FlowId {
    /// The id of a headless command's only flow (`palisade rollback`): there is nothing else
    /// its replies could be confused with.
    pub const HEADLESS: FlowId = FlowId(0);

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow {}", self.0)
    }
}

/// Hands out fresh ids; lives in the session part of the console's state, so ids stay unique
/// across context switches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowIds {
    last: u64,
}

impl FlowIds {
    pub fn issue(&mut self) -> FlowId {
        self.last += 1;
        FlowId(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_never_the_headless_one() {
        let mut ids = FlowIds::default();
        let a = ids.issue();
        let b = ids.issue();
        assert_ne!(a, b);
        assert_ne!(a, FlowId::HEADLESS);
        assert_ne!(b, FlowId::HEADLESS);
    }
}
