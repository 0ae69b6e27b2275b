//! The list phase: configuration (`litmus.toml`) and flags → what to run.

pub mod config;
pub mod placement;
