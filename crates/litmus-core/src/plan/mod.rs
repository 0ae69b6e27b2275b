//! The plan phase: configuration (`litmus.toml`, [`config`]) and flags →
//! a [`Plan`](matrix::Plan) ([`resolve`]) → per model, the list of instances
//! to run, resume filtering included ([`matrix`]); where configurations go
//! on the machine's devices ([`placement`]).

pub mod config;
pub mod matrix;
pub mod partition;
pub mod placement;
pub mod resolve;
