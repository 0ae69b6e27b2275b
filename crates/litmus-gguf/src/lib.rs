//! GGUF model files without llama.cpp: what `cargo eval models` and `cargo
//! eval quantize` need before (or instead of) loading a model, kept apart from
//! `litmus-llama` so that installing `cargo-eval` does not compile llama.cpp.
//! `litmus-llama` re-exports all of it under its old paths
//! (`litmus_llama::gguf`, `litmus_llama::models`).
//!
//! - [`gguf`]: a pure-Rust GGUF reader, validator and writer.
//! - [`models`]: the built-in default model (fetched from the Python package
//!   index on first use), the model cache, resolving `builtin:NAME` or a path.
//! - [`ladder`]: quantization type names, the default ladder and where its
//!   rungs go, and the job `cargo eval quantize` hands to an eval target.
//! - [`fidelity`]: the job `cargo eval fidelity` hands to an eval target, the
//!   KL-divergence statistics and the `fidelity.json` of a run.

#![warn(missing_docs)]

pub mod fidelity;
pub mod gguf;
pub mod ladder;
pub mod models;

pub use gguf::{describe_gguf, GgufError, GgufFile, GgufInfo};
pub use models::{
    cache_dir, list_cached_models, resolve_model_path, CachedModel, DEFAULT_MODEL, DEFAULT_SOURCE,
};
