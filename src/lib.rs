//! Palisade: a terminal operations console for multi-tenant Kubernetes network isolation.
//!
//! Pure core (`model`, `isolation`, `app`, `ui`, `config`) and IO at the edges (`cluster`, `sim`,
//! `runtime`, `terminal`); the command line is defined in `cli` and run in `commands`. See
//! `docs/architecture.md` for the module map and data flow.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod flow;
pub mod flows;
pub mod flowsrc;
pub mod history;
pub mod isolation;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod private_file;
pub mod progress;
pub mod rollback;
pub mod runtime;
pub mod scrape;
pub mod sim;
pub mod suspects;
pub mod team;
pub mod terminal;
pub mod timeline;
pub mod ui;
pub mod yaml;
