//! Synthetic models: a llama-architecture GGUF with random weights and a
//! small SPM vocabulary, written without llama.cpp, of any size. Tests use
//! tiny ones; `scripts/gpu-check.sh` writes one of a few hundred MiB
//! (`cargo run --release -p litmus-gguf --example synth-gguf`) so that a
//! GPU machine needs no model download. The answers are noise; the shapes,
//! the memory and the speed are those of a real model of these dimensions.

use std::io;
use std::path::Path;

use crate::gguf::{GgufType, GgufValue, GgufWriter};

/// The dimensions of a synthetic model.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSpec {
    /// Repeating layers.
    pub n_layer: u64,
    /// Embedding width.
    pub n_embd: u64,
    /// Feed-forward width.
    pub n_ff: u64,
    /// Attention heads.
    pub n_head: u64,
    /// KV heads (grouped-query attention when fewer than `n_head`).
    pub n_head_kv: u64,
    /// Training context written into the header.
    pub context_length: u32,
    /// Matrices in F16 (else F32; norms are F32 either way).
    pub f16: bool,
    /// A chat template to store (`tokenizer.chat_template`).
    pub chat_template: Option<String>,
    /// Seed of the weights.
    pub seed: u64,
    /// One scale for every matrix's uniform weights (the tests' tiny model:
    /// 0.3); `None`: 1/√fan-in, which keeps activations finite through many
    /// layers.
    pub weight_scale: Option<f32>,
    /// `general.name`.
    pub name: String,
}

impl SynthSpec {
    /// The tests' tiny model: 2 layers of width 64, F32.
    pub fn tiny() -> Self {
        SynthSpec {
            n_layer: 2,
            n_embd: 64,
            n_ff: 128,
            n_head: 4,
            n_head_kv: 2,
            context_length: 4096,
            f16: false,
            chat_template: None,
            seed: 7,
            weight_scale: Some(0.3),
            name: "tiny-test".into(),
        }
    }

    /// A model of about `mib` MiB in F16 (width 1024, FFN 4096, 16 heads, 4
    /// KV heads: about 30 MiB per layer).
    pub fn of_size_mib(mib: u64) -> Self {
        let per_layer = (2 * 1024 * 1024 + 2 * 1024 * 256 + 3 * 1024 * 4096) * 2;
        SynthSpec {
            n_layer: ((mib << 20) / per_layer).max(1),
            n_embd: 1024,
            n_ff: 4096,
            n_head: 16,
            n_head_kv: 4,
            context_length: 8192,
            f16: true,
            chat_template: None,
            seed: 7,
            weight_scale: None,
            name: format!("synthetic-{mib}m"),
        }
    }
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn fill(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_f32() * scale).collect()
    }
}

/// The vocabulary: specials, 256 byte tokens and some pieces.
fn vocab(chat: bool) -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
    let mut types = vec![2, 3, 3];
    if chat {
        tokens.push("<|im_start|>".into());
        tokens.push("<|im_end|>".into());
        types.extend([3, 3]);
    }
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    let mut pieces: Vec<String> = Vec::new();
    for c in ('a'..='z').chain('A'..='Z').chain('0'..='9') {
        pieces.push(c.to_string());
        pieces.push(format!("\u{2581}{c}"));
    }
    for p in [".", ",", "!", "?", "\u{2581}", "\n"] {
        pieces.push(p.to_string());
    }
    for w in [
        "the", "and", "is", "of", "to", "in", "it", "you", "that", "he", "was", "for", "on", "are",
        "with",
    ] {
        pieces.push(format!("\u{2581}{w}"));
        pieces.push(w.to_string());
    }
    let mut scores = vec![0.0; tokens.len()];
    for (i, p) in pieces.into_iter().enumerate() {
        if tokens.contains(&p) {
            continue;
        }
        // Longer pieces score higher so that they win merges.
        scores.push(-(1000.0 - p.chars().count() as f32 * 10.0) - i as f32 * 0.001);
        tokens.push(p);
        types.push(1);
    }
    (tokens, scores, types)
}

/// Writes the model.
pub fn write_synthetic_model(path: &Path, s: &SynthSpec) -> io::Result<()> {
    let (tokens, scores, types) = vocab(s.chat_template.is_some());
    let n_vocab = tokens.len() as u64;
    let (n_embd, n_ff, n_head, n_head_kv) = (s.n_embd, s.n_ff, s.n_head, s.n_head_kv);
    let head_dim = n_embd / n_head;
    let mut w = GgufWriter::new();
    w.kv("general.architecture", GgufValue::String("llama".into()))
        .kv("general.name", GgufValue::String(s.name.clone()))
        .kv("general.file_type", GgufValue::U32(u32::from(s.f16)))
        .kv("llama.context_length", GgufValue::U32(s.context_length))
        .kv("llama.embedding_length", GgufValue::U32(n_embd as u32))
        .kv("llama.block_count", GgufValue::U32(s.n_layer as u32))
        .kv("llama.feed_forward_length", GgufValue::U32(n_ff as u32))
        .kv("llama.attention.head_count", GgufValue::U32(n_head as u32))
        .kv(
            "llama.attention.head_count_kv",
            GgufValue::U32(n_head_kv as u32),
        )
        .kv(
            "llama.attention.layer_norm_rms_epsilon",
            GgufValue::F32(1e-5),
        )
        .kv(
            "llama.rope.dimension_count",
            GgufValue::U32(head_dim as u32),
        )
        .kv("llama.rope.freq_base", GgufValue::F32(10000.0))
        .kv("tokenizer.ggml.model", GgufValue::String("llama".into()))
        .kv_array(
            "tokenizer.ggml.tokens",
            GgufType::String,
            tokens.into_iter().map(GgufValue::String).collect(),
        )
        .kv_array(
            "tokenizer.ggml.scores",
            GgufType::F32,
            scores.into_iter().map(GgufValue::F32).collect(),
        )
        .kv_array(
            "tokenizer.ggml.token_type",
            GgufType::I32,
            types.into_iter().map(GgufValue::I32).collect(),
        )
        .kv("tokenizer.ggml.bos_token_id", GgufValue::U32(1))
        .kv("tokenizer.ggml.eos_token_id", GgufValue::U32(2))
        .kv("tokenizer.ggml.unknown_token_id", GgufValue::U32(0))
        .kv("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
    if let Some(t) = &s.chat_template {
        w.kv("tokenizer.chat_template", GgufValue::String(t.clone()));
    }
    let mut rng = Rng(s.seed.max(1));
    let ones = vec![1.0f32; n_embd as usize];
    let matrix = |w: &mut GgufWriter, name: &str, dims: &[u64], data: &[f32]| {
        if s.f16 {
            w.tensor_f16(name, dims, data);
        } else {
            w.tensor_f32(name, dims, data);
        }
    };
    matrix(
        &mut w,
        "token_embd.weight",
        &[n_embd, n_vocab],
        &rng.fill((n_embd * n_vocab) as usize, 1.0),
    );
    w.tensor_f32("output_norm.weight", &[n_embd], &ones);
    let kv_dim = head_dim * n_head_kv;
    // Scaled so that activations stay finite through many layers.
    let s_in = s.weight_scale.unwrap_or(1.0 / (n_embd as f32).sqrt());
    let s_ff = s.weight_scale.unwrap_or(1.0 / (n_ff as f32).sqrt());
    for l in 0..s.n_layer {
        let t = |n: &str| format!("blk.{l}.{n}.weight");
        w.tensor_f32(&t("attn_norm"), &[n_embd], &ones);
        for (name, out) in [
            ("attn_q", n_embd),
            ("attn_k", kv_dim),
            ("attn_v", kv_dim),
            ("attn_output", n_embd),
        ] {
            let data = rng.fill((n_embd * out) as usize, s_in);
            matrix(&mut w, &t(name), &[n_embd, out], &data);
        }
        w.tensor_f32(&t("ffn_norm"), &[n_embd], &ones);
        let gate = rng.fill((n_embd * n_ff) as usize, s_in);
        matrix(&mut w, &t("ffn_gate"), &[n_embd, n_ff], &gate);
        let down = rng.fill((n_ff * n_embd) as usize, s_ff);
        matrix(&mut w, &t("ffn_down"), &[n_ff, n_embd], &down);
        let up = rng.fill((n_embd * n_ff) as usize, s_in);
        matrix(&mut w, &t("ffn_up"), &[n_embd, n_ff], &up);
    }
    w.write(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufFile;

    #[test]
    fn synthetic_models_have_the_asked_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gguf");
        let spec = SynthSpec {
            n_layer: 3,
            f16: true,
            ..SynthSpec::tiny()
        };
        write_synthetic_model(&path, &spec).unwrap();
        let g = GgufFile::open(&path).unwrap();
        assert_eq!(g.arch_u64("block_count"), Some(3));
        assert_eq!(g.quantization().as_deref(), Some("F16"));
        let q = g
            .tensors
            .iter()
            .find(|t| t.name == "blk.0.attn_q.weight")
            .unwrap();
        assert_eq!((q.ggml_type, q.size), (1, 64 * 64 * 2));
        // A 300 MiB model is within 10% of 300 MiB.
        let big = SynthSpec::of_size_mib(300);
        let per_layer = (2 * 1024 * 1024 + 2 * 1024 * 256 + 3 * 1024 * 4096) * 2;
        let bytes = big.n_layer * per_layer;
        assert!(
            (bytes as f64 / (300 << 20) as f64 - 1.0).abs() < 0.1,
            "{bytes}"
        );
    }
}
