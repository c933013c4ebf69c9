//! `palisade rollback`: the headless rollback (filled in below).
