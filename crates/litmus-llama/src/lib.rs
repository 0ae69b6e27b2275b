//! In-process llama.cpp backend of litmus, and the built-in default model.
//!
//! - [`open`] / [`LlamaBackend`]: loads any GGUF (after validating it with a
//!   pure-Rust reader, [`gguf`]) and serves it with continuous batching: one
//!   engine thread owns the llama.cpp context and decodes the sequences of all
//!   in-flight requests together; the samples of one prompt share a single
//!   evaluation of it.
//! - [`resolve_model_path`], [`list_cached_models`], [`describe_gguf`]: model
//!   files, the cache directory and the built-in `builtin:gemma3-270m-q4_k_m`
//!   (fetched from the Python package index on first use).
//! - [`peak_rss_bytes`]: the process's peak memory, for reports.
//!
//! Logging from llama.cpp is dropped unless `LITMUS_LLAMA_LOG=1` (stderr) or
//! `LITMUS_LLAMA_LOG=tracing`.
//!
//! Options in `ModelSpec.options` (see [`LlamaSettings`]): `ignore_eos`,
//! `kv_size`, `n_batch`, `n_ubatch`, `kv_unified`, `flash_attn`, `dedupe_greedy`.
//! With the cargo feature `cuda`, `ModelSpec.gpu_layers` and `ModelSpec.device`
//! place the model on a GPU.
//!
//! # Building for speed
//!
//! `llama-cpp-sys-2` compiles llama.cpp only for the SIMD that rustc's target
//! allows: a plain build targets baseline x86-64 (no AVX2/FMA) and runs several
//! times slower than llama.cpp's own tools. Build with
//! `RUSTFLAGS="-C target-cpu=native"` (or the `[build] rustflags` of a
//! `.cargo/config.toml`), and with `LLAMA_LIB_PROFILE=Release` to get `-O3`
//! instead of the `-O2` of CMake's `RelWithDebInfo` that a profile with debug
//! info selects. [`simd_warning`] tells when the build lacks the CPU's SIMD (a
//! one-time warning is also printed when a model is opened).

#![warn(missing_docs)]

mod backend;
mod engine;
pub mod gguf;
pub mod models;
mod sys;
mod text;

pub use backend::{
    describe_source, fallback_chat, llama, open, simd_warning, system_info, ChatFormat,
    LlamaBackend, LlamaSettings, OPTION_KEYS,
};
pub use gguf::{describe_gguf, GgufError, GgufFile, GgufInfo};
pub use models::{
    cache_dir, list_cached_models, resolve_model_path, CachedModel, DEFAULT_MODEL, DEFAULT_SOURCE,
};
pub use sys::{peak_rss_bytes, physical_cores, total_memory_bytes};
pub use text::TextAccumulator;

/// The llama.cpp bindings in use, for callers that need lower-level access.
pub use llama_cpp_2;
