//! Staged policies: what they would change.
