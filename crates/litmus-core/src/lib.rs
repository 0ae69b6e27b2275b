//! Runtime of litmus: the eval registry, the backend interface, the runner,
//! the results store and the libtest-compatible harness.
//!
//! Users depend on the `litmus` facade crate, which re-exports the stable
//! part of this crate (the eval-writing API and the backend interface) and
//! keeps the rest behind `litmus::internals`.
//!
//! The modules follow the phases of a run; a module only uses modules of its
//! own phase or of the phases before it (`tests/architecture.rs` checks it):
//!
//! 1. [`base`]: what every phase shares: the backend interface, model specs,
//!    exit codes, paths.
//! 2. [`eval`]: what an eval declares: cases, scores, judges, prompt
//!    templates, the context of an imperative eval, the registry.
//! 3. [`plan`]: configuration and flags → the list of what to run.
//! 4. [`run`]: generation, scoring and collection; the results store.
//! 5. [`output`]: the console, CI files, score snapshots, the study report.
//! 6. [`harness`]: the `main` of an eval target: args → plan → run → output → exit.
//!
//! See `ARCHITECTURE.md` at the repository root.

pub mod base;
pub mod eval;
pub mod harness;
pub mod output;
pub mod plan;
pub mod run;
