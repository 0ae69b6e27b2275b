//! GGUF model files without llama.cpp: what `cargo eval models` and `cargo
//! eval quantize` need before (or instead of) loading a model, kept apart from
//! `litmus-llama` so that installing `cargo-eval` does not compile llama.cpp.
//! `litmus-llama` re-exports all of it under its old paths
//! (`litmus_llama::gguf`, `litmus_llama::models`).
//!
//! - [`gguf`]: a pure-Rust GGUF reader, validator and writer.
//! - [`models`]: the built-in default model (fetched from the Python package
//!   index on first use), the model cache, resolving `builtin:NAME` or a path.
//! - [`memory`]: what a model needs at a context size and number of
//!   parallel sequences (weights per layer, KV cache, compute buffers), for
//!   the placement planner.
//! - [`synth`]: synthetic llama-architecture models of any size (random
//!   weights), for tests and the GPU check script.
//! - [`ladder`]: quantization type names, the default ladder and where its
//!   rungs go, and the job `cargo eval quantize` hands to an eval target.

#![warn(missing_docs)]

pub mod gguf;
pub mod ladder;
pub mod memory;
pub mod models;
pub mod synth;

pub use gguf::{describe_gguf, GgufError, GgufFile, GgufInfo};
pub use models::{
    cache_dir, list_cached_models, resolve_model_path, CachedModel, DEFAULT_MODEL, DEFAULT_SOURCE,
};
