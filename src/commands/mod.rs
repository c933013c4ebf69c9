//! The headless commands (`analyze`, `check`): input at the edge, pure analysis, text out.

pub mod analyze;
pub mod check;
pub mod input;
pub mod render;
