//! Feeding a `State` the way the runtime would, for tests of `update` and of the views.

use super::msg::{Msg, WatchEvent};
use super::state::State;
use super::update::update;
use crate::model::{ClusterObject, ResourceKind};

/// Every kind's initial list, then the end of the batch.
pub fn listed(state: &mut State, objects: Vec<ClusterObject>) {
    for kind in ResourceKind::ALL {
        let of_kind = objects
            .iter()
            .filter(|o| o.kind() == kind)
            .cloned()
            .collect();
        update(
            state,
            Msg::Watch {
                kind,
                event: WatchEvent::Listed(of_kind),
            },
        );
    }
    update(state, Msg::Settle);
}
