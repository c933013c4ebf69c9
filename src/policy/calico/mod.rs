//! Calico's own policy kinds (`projectcalico.org/v3`): the selector language first.

pub mod selector;
