//! Runtime of litmus: the eval registry, the backend interface, the runner,
//! the results store and the libtest-compatible harness.
//!
//! Users depend on the `litmus` facade crate, which re-exports what is public
//! here and adds the backends.

pub mod backend;
pub mod case;
pub mod ci;
pub mod config;
pub mod context;
pub mod harness;
pub mod judge;
pub mod model;
pub mod placement;
pub mod registry;
pub mod replay;
pub mod report;
pub mod runner;
pub mod score;
pub mod scoring;
pub mod snapshot;
pub mod store;
pub mod study;
pub mod summary;
pub mod template;
mod templates;
pub mod util;
pub mod validate;
