//! How much memory llama.cpp will allocate for a model at some context size
//! and number of parallel sequences, from the GGUF alone: weights per
//! layer (from the tensor sizes), the KV cache (per layer, sliding-window
//! layers sized as llama.cpp sizes them) and the compute and output
//! buffers. The result is a [`ModelMemory`], which the placement planner
//! ([`litmus_core::plan::placement`]) splits over devices.
//!
//! The rules follow llama.cpp (the version `litmus-llama` links):
//!
//! - weights: each tensor's size; `blk.N.*` belong to layer N, token
//!   embeddings to the input (always on the CPU), the rest (final norm,
//!   output head) to the output layer; a model without `output.weight`
//!   reuses the token embeddings there (`tied_output`);
//! - KV cache (`llama_kv_cache`): per layer `cells × streams × (K row + V
//!   row)`, a row being `head_count_kv(l) × key_length` elements of the
//!   cache type. With separate streams per sequence (litmus's default,
//!   `kv_unified = false`) there are `parallel` streams of
//!   `seq_context` cells each (padded to 256); with one unified cache,
//!   one stream of `kv_size` cells. Sliding-window layers (Gemma 2/3,
//!   Cohere 2, gpt-oss, ...) keep only `pad256(min(cells, window ×
//!   (unified ? parallel : 1) + n_ubatch))` cells per stream
//!   (`llama_kv_cache_iswa`);
//! - compute buffer (`sched_reserve`): the worst-case graph of one
//!   micro-batch: its logits (`min(n_ubatch, n_batch) × n_vocab` floats,
//!   what dominates for large vocabularies) or the widest layer activations,
//!   whichever is larger, plus attention masks; an estimate, validated
//!   against llama.cpp's load log in `litmus-llama/tests/memory.rs`;
//! - output buffer: `parallel × n_vocab` floats.

use litmus_core::plan::placement::{LayerMemory, ModelMemory};
use serde::{Deserialize, Serialize};

use crate::gguf::{GgufFile, GgufValue};

/// The settings that decide a configuration's memory (as litmus-llama
/// resolves them: see `LlamaSettings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryParams {
    /// Most tokens of one sequence.
    pub seq_context: u32,
    /// Sequences decoded together.
    pub parallel: u32,
    /// One KV cache shared by all sequences (else one stream each).
    pub kv_unified: bool,
    /// Total KV cells when unified (0: `parallel × seq_context`).
    pub kv_size: u32,
    /// Logical batch (most tokens per decode call).
    pub n_batch: u32,
    /// Physical batch.
    pub n_ubatch: u32,
    /// K cache type: `f16` (default), `f32`, `bf16`, `q8_0`, `q4_0`, ...
    pub cache_type_k: String,
    /// V cache type.
    pub cache_type_v: String,
    /// Flash attention (`None`: llama.cpp's `auto`, which turns it on where
    /// the device supports it: CPU and CUDA do).
    pub flash_attn: Option<bool>,
}

impl Default for MemoryParams {
    fn default() -> Self {
        MemoryParams {
            seq_context: 4096,
            parallel: 1,
            kv_unified: false,
            kv_size: 0,
            n_batch: 512,
            n_ubatch: 512,
            cache_type_k: "f16".into(),
            cache_type_v: "f16".into(),
            flash_attn: None,
        }
    }
}

/// Bytes of `n` elements of a cache type (block-quantized types round up
/// to whole blocks).
fn type_bytes(ty: &str, n: u64) -> Option<u64> {
    let (block, size) = match ty.to_ascii_lowercase().as_str() {
        "f32" => (1, 4),
        "f16" | "bf16" => (1, 2),
        "q8_0" => (32, 34),
        "q4_0" => (32, 18),
        "q4_1" => (32, 20),
        "q5_0" => (32, 22),
        "q5_1" => (32, 24),
        "iq4_nl" => (32, 18),
        _ => return None,
    };
    Some(n.div_ceil(block) * size)
}

/// Which layers use sliding-window attention, and the window. llama.cpp
/// reads `<arch>.attention.sliding_window_pattern` (a per-layer array of
/// booleans, or a period) and otherwise uses the architecture's own period
/// (`load_swa_pattern` in each model's source).
fn swa_layers(g: &GgufFile, n_layer: usize) -> (Vec<bool>, u64) {
    let window = g.arch_u64("attention.sliding_window").unwrap_or(0);
    if window == 0 {
        return (vec![false; n_layer], 0);
    }
    let arch = g.architecture().unwrap_or_default();
    let key = format!("{arch}.attention.sliding_window_pattern");
    let (mut period, mut dense_first) = match arch {
        "gemma2" | "gpt-oss" => (2, false),
        "gemma3" | "gemma-embedding" => (6, false),
        "gemma3n" => (5, false),
        "cohere2moe" | "laguna" | "smallthinker" => (4, true),
        "modern-bert" => (3, true),
        "plamo3" => (8, false),
        "phi3" => (1, false),
        _ => (4, false),
    };
    match g.get(&key) {
        Some(GgufValue::Array {
            values: Some(v), ..
        }) if v.len() >= n_layer => {
            let flags = v
                .iter()
                .take(n_layer)
                .map(|x| matches!(x, GgufValue::Bool(true)) || x.as_u64().is_some_and(|n| n != 0))
                .collect();
            return (flags, window);
        }
        Some(v) => {
            if let Some(n) = v.as_u64() {
                period = n;
                dense_first = false;
            }
        }
        None => {}
    }
    let flags = (0..n_layer as u64)
        .map(|il| {
            if period == 0 {
                true
            } else if dense_first {
                il % period != 0
            } else {
                il % period < period - 1
            }
        })
        .collect();
    (flags, window)
}

/// A per-layer value: an array's element for `il`, else the scalar.
fn per_layer(g: &GgufFile, suffix: &str, il: usize) -> Option<u64> {
    let arch = g.architecture()?;
    match g.get(&format!("{arch}.{suffix}"))? {
        GgufValue::Array {
            values: Some(v), ..
        } => v.get(il).and_then(GgufValue::as_u64),
        v => v.as_u64(),
    }
    .or_else(|| g.arch_u64(suffix))
}

/// The layer index of `blk.N.…`.
fn block_of(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

/// Input tensors (llama.cpp keeps them on the CPU).
fn is_input(name: &str) -> bool {
    name.starts_with("token_embd")
        || name.starts_with("token_types")
        || name.starts_with("position_embd")
        || name.starts_with("per_layer_token_embd")
}

/// What a configuration of the model in `g` needs; `None` when the GGUF
/// lacks the hyperparameters (block count, heads, embedding length).
pub fn estimate(g: &GgufFile, p: &MemoryParams) -> Option<ModelMemory> {
    let n_layer = g.arch_u64("block_count")? as usize;
    let n_embd = g.arch_u64("embedding_length")?;
    let n_head = g.arch_u64("attention.head_count")?.max(1);
    let n_ff = g.arch_u64("feed_forward_length").unwrap_or(4 * n_embd);
    let n_vocab = g
        .array_len("tokenizer.ggml.tokens")
        .or_else(|| g.arch_u64("vocab_size"))
        .unwrap_or(32000);
    let head_k = g
        .arch_u64("attention.key_length")
        .unwrap_or(n_embd / n_head);
    let head_v = g
        .arch_u64("attention.value_length")
        .unwrap_or(n_embd / n_head);

    // Weights.
    let mut layers = vec![LayerMemory::default(); n_layer];
    let (mut input, mut output) = (0u64, 0u64);
    let mut token_embd = 0;
    let mut has_output_head = false;
    for t in &g.tensors {
        match block_of(&t.name) {
            Some(il) if il < n_layer => layers[il].weights += t.size,
            // Extra blocks (e.g. a multi-token-prediction head): not loaded
            // by default; left out.
            Some(_) => {}
            None if is_input(&t.name) => {
                input += t.size;
                if t.name == "token_embd.weight" {
                    token_embd = t.size;
                }
            }
            None => {
                has_output_head |= t.name == "output.weight";
                output += t.size;
            }
        }
    }
    // Tied embeddings: the output layer uses token_embd (a copy where the
    // output layer is offloaded; the same mapping on the CPU).
    let tied_output = if has_output_head { 0 } else { token_embd };
    output += tied_output;

    // KV cache.
    let parallel = u64::from(p.parallel.max(1));
    let ctx = u64::from(p.seq_context.max(1));
    let (cells_base, streams) = if p.kv_unified {
        let kv = if p.kv_size > 0 {
            u64::from(p.kv_size)
        } else {
            parallel * ctx
        };
        (kv.next_multiple_of(256), 1)
    } else {
        (ctx.next_multiple_of(256), parallel)
    };
    let n_ubatch = u64::from(p.n_ubatch.min(p.n_batch).max(1));
    let (swa, window) = swa_layers(g, n_layer);
    let cells_swa = (cells_base.min(window * if p.kv_unified { parallel } else { 1 } + n_ubatch))
        .next_multiple_of(256);
    let mut n_kv_max = 0u64;
    for (il, layer) in layers.iter_mut().enumerate() {
        let kv_heads = per_layer(g, "attention.head_count_kv", il).unwrap_or(n_head);
        if kv_heads == 0 {
            // Recurrent or attention-free layer: no KV cache.
            continue;
        }
        let cells = if swa[il] { cells_swa } else { cells_base };
        n_kv_max = n_kv_max.max(cells);
        let k = type_bytes(&p.cache_type_k, kv_heads * head_k)?;
        let v = type_bytes(&p.cache_type_v, kv_heads * head_v)?;
        layer.kv = cells * streams * (k + v);
    }

    // Compute buffers: the larger of the logits phase and a layer's
    // activations, for one micro-batch.
    let outputs = n_ubatch.min(u64::from(p.n_batch.max(1)));
    let logits = outputs * n_vocab * 4 + 2 * outputs * n_embd * 4;
    let fa = p.flash_attn.unwrap_or(true);
    let attention = if fa {
        n_ubatch * n_head * head_v * 4
    } else {
        2 * n_kv_max * n_ubatch * n_head * 4
    };
    // Live at the widest point: the residual stream and norms, Q, the
    // attention output, and the FFN's gate and up projections.
    let activations =
        n_ubatch * 4 * (3 * n_embd + n_head * head_k + 2 * n_head * head_v + 2 * n_ff) + attention;
    // One f16 mask per attention kind (full, sliding-window).
    let n_masks = 1 + u64::from(swa.iter().any(|s| *s));
    let masks = n_masks * n_kv_max * n_ubatch * 2;
    let compute_main = logits.max(activations) + masks;
    let compute_other = activations + masks;
    let compute_host = n_ubatch * n_embd * 4 * 2;
    let output_buffer = parallel * n_vocab * 4;
    Some(ModelMemory {
        layers,
        input,
        output,
        tied_output,
        compute_main,
        compute_other,
        compute_host,
        output_buffer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgufType, GgufWriter};

    /// A 6-layer gemma3-like header with tiny tensors (tied embeddings).
    fn gemma_like(dir: &std::path::Path) -> GgufFile {
        let path = dir.join("g.gguf");
        let mut w = GgufWriter::new();
        w.kv("general.architecture", GgufValue::String("gemma3".into()))
            .kv("gemma3.block_count", GgufValue::U32(6))
            .kv("gemma3.embedding_length", GgufValue::U32(64))
            .kv("gemma3.feed_forward_length", GgufValue::U32(128))
            .kv("gemma3.attention.head_count", GgufValue::U32(4))
            .kv("gemma3.attention.head_count_kv", GgufValue::U32(1))
            .kv("gemma3.attention.key_length", GgufValue::U32(32))
            .kv("gemma3.attention.value_length", GgufValue::U32(32))
            .kv("gemma3.attention.sliding_window", GgufValue::U32(512))
            .kv_array(
                "tokenizer.ggml.tokens",
                GgufType::String,
                (0..100)
                    .map(|i| GgufValue::String(format!("t{i}")))
                    .collect(),
            );
        w.tensor_f32("token_embd.weight", &[64, 100], &vec![0.0; 6400]);
        w.tensor_f32("output_norm.weight", &[64], &[1.0; 64]);
        for l in 0..6 {
            w.tensor_f32(
                &format!("blk.{l}.attn_q.weight"),
                &[64, 64],
                &vec![0.0; 4096],
            );
        }
        w.write(&path).unwrap();
        GgufFile::open(&path).unwrap()
    }

    #[test]
    fn weights_layers_and_tied_output() {
        let dir = tempfile::tempdir().unwrap();
        let g = gemma_like(dir.path());
        let m = estimate(&g, &MemoryParams::default()).unwrap();
        assert_eq!(m.layers.len(), 6);
        assert!(m.layers.iter().all(|l| l.weights == 64 * 64 * 4));
        assert_eq!(m.input, 6400 * 4);
        assert_eq!(m.tied_output, 6400 * 4);
        assert_eq!(m.output, 64 * 4 + 6400 * 4);
        // On the CPU the tied head is counted once: all weights = tensors.
        let tensors: u64 = g.tensors.iter().map(|t| t.size).sum();
        assert_eq!(m.weights() - m.tied_output, tensors);
    }

    #[test]
    fn kv_follows_streams_and_sliding_windows() {
        let dir = tempfile::tempdir().unwrap();
        let g = gemma_like(dir.path());
        // Row: 1 head × 32 × f16 = 64 bytes, K and V.
        let row = 2 * 64;
        let p = |parallel, kv_unified| MemoryParams {
            seq_context: 4000,
            parallel,
            kv_unified,
            ..Default::default()
        };
        // Gemma 3: layer 5 global, 0-4 sliding (window 512 + ubatch 512).
        let m = estimate(&g, &p(1, false)).unwrap();
        assert_eq!(m.layers[5].kv, 4096 * row);
        assert_eq!(m.layers[0].kv, 1024 * row);
        // 8 streams: 8 × each.
        let m8 = estimate(&g, &p(8, false)).unwrap();
        assert_eq!(m8.layers[5].kv, 8 * 4096 * row);
        assert_eq!(m8.layers[0].kv, 8 * 1024 * row);
        // One unified cache of 8 × 4000 cells: the window grows with the
        // sequences (512 × 8 + 512).
        let mu = estimate(&g, &p(8, true)).unwrap();
        assert_eq!(mu.layers[5].kv, 32000u64.next_multiple_of(256) * row);
        assert_eq!(mu.layers[0].kv, 4608 * row);
        // q8_0 cache: 34 bytes per 32 elements.
        let q8 = MemoryParams {
            cache_type_k: "q8_0".into(),
            cache_type_v: "q8_0".into(),
            ..p(1, false)
        };
        assert_eq!(estimate(&g, &q8).unwrap().layers[5].kv, 4096 * 2 * 34);
        // Logits dominate the compute buffer of a 100-token vocabulary? No:
        // activations do; both are positive.
        assert!(m.compute_main >= m.compute_other && m.compute_other > 0);
        assert_eq!(m.output_buffer, 100 * 4);
        assert_eq!(m8.output_buffer, 8 * 100 * 4);
    }
}
