//! The headless commands (`analyze`, `check`, `baseline`, `timeline`): input at the edge, pure analysis, text out.

pub mod analyze;
pub mod baseline;
pub mod check;
pub mod input;
pub mod render;
pub mod timeline;
