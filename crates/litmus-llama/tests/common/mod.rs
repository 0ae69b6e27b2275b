//! Shared helpers: a tiny llama-architecture GGUF with random weights and an
//! SPM tokenizer, written in the test itself.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use litmus_core::base::model::{BackendKind, ModelSpec};
use litmus_llama::gguf::{GgufType, GgufValue, GgufWriter};

pub const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

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

/// The tiny model's vocabulary: specials, 256 byte tokens and some pieces.
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

/// Write a tiny llama GGUF (2 layers, dim 64, F32 random weights).
pub fn write_tiny_model(path: &Path, chat_template: Option<&str>, seed: u64) {
    let (tokens, scores, types) = vocab(chat_template.is_some());
    let n_vocab = tokens.len() as u64;
    let (n_embd, n_ff, n_head, n_head_kv, n_layer) = (64u64, 128u64, 4u64, 2u64, 2u64);
    let head_dim = n_embd / n_head;
    let mut w = GgufWriter::new();
    w.kv("general.architecture", GgufValue::String("llama".into()))
        .kv("general.name", GgufValue::String("tiny-test".into()))
        .kv("general.file_type", GgufValue::U32(0))
        .kv("llama.context_length", GgufValue::U32(4096))
        .kv("llama.embedding_length", GgufValue::U32(n_embd as u32))
        .kv("llama.block_count", GgufValue::U32(n_layer as u32))
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
    if let Some(t) = chat_template {
        w.kv("tokenizer.chat_template", GgufValue::String(t.into()));
    }
    let mut rng = Rng(seed.max(1));
    let ones = vec![1.0f32; n_embd as usize];
    w.tensor_f32(
        "token_embd.weight",
        &[n_embd, n_vocab],
        &rng.fill((n_embd * n_vocab) as usize, 1.0),
    );
    w.tensor_f32("output_norm.weight", &[n_embd], &ones);
    let kv_dim = head_dim * n_head_kv;
    for l in 0..n_layer {
        let t = |n: &str| format!("blk.{l}.{n}.weight");
        let s = 0.3;
        w.tensor_f32(&t("attn_norm"), &[n_embd], &ones);
        w.tensor_f32(
            &t("attn_q"),
            &[n_embd, n_embd],
            &rng.fill((n_embd * n_embd) as usize, s),
        );
        w.tensor_f32(
            &t("attn_k"),
            &[n_embd, kv_dim],
            &rng.fill((n_embd * kv_dim) as usize, s),
        );
        w.tensor_f32(
            &t("attn_v"),
            &[n_embd, kv_dim],
            &rng.fill((n_embd * kv_dim) as usize, s),
        );
        w.tensor_f32(
            &t("attn_output"),
            &[n_embd, n_embd],
            &rng.fill((n_embd * n_embd) as usize, s),
        );
        w.tensor_f32(&t("ffn_norm"), &[n_embd], &ones);
        w.tensor_f32(
            &t("ffn_gate"),
            &[n_embd, n_ff],
            &rng.fill((n_embd * n_ff) as usize, s),
        );
        w.tensor_f32(
            &t("ffn_down"),
            &[n_ff, n_embd],
            &rng.fill((n_ff * n_embd) as usize, s),
        );
        w.tensor_f32(
            &t("ffn_up"),
            &[n_embd, n_ff],
            &rng.fill((n_embd * n_ff) as usize, s),
        );
    }
    w.write(path).expect("write tiny model");
}

/// A tiny model in a fresh temporary directory (kept alive by the returned guard).
pub fn tiny_model(chat_template: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.gguf");
    write_tiny_model(&path, chat_template, 7);
    (dir, path)
}

/// A spec for a GGUF path with a few options.
pub fn spec(path: &Path, parallel: u32, context: u32, options: &[(&str, &str)]) -> ModelSpec {
    ModelSpec {
        name: "tiny".into(),
        backend: BackendKind::Llama,
        source: path.display().to_string(),
        parallel: Some(parallel),
        context: Some(context),
        threads: Some(2),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ModelSpec::default()
    }
}

/// Deterministic choices for randomized tests (SplitMix64).
pub struct Choices(pub u64);

impl Choices {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A randomized mix of requests against `b`, sent from many threads at
/// staggered times: token budgets from 1 up, 1..=6 samples (arbitrary sample
/// indices), greedy and sampled, stop strings that end a sample at its first
/// token, prompts longer than a batch, more requests than slots. Checks that
/// every request completes exactly once with exactly its samples, within its
/// budget, and that the engine holds no KV cells afterwards.
pub fn random_workload(
    b: &std::sync::Arc<litmus_llama::LlamaBackend>,
    seed: u64,
    n_requests: usize,
) {
    use litmus_core::base::backend::{Backend, GenerationRequest, Prompt, SamplingParams};
    let words = [
        "the", "cat", "is", "on", "a", "mat", "and", "it", "was", "blue", "7", ".",
    ];
    let mut c = Choices(seed);
    let mut handles = Vec::new();
    for r in 0..n_requests {
        let n_words = if c.range(0, 4) == 0 {
            c.range(40, 90)
        } else {
            c.range(1, 12)
        };
        let prompt: Vec<&str> = (0..n_words)
            .map(|_| words[c.range(0, 11) as usize])
            .collect();
        let n_samples = c.range(1, 6) as usize;
        let mut samples: Vec<u32> = Vec::new();
        while samples.len() < n_samples {
            let s = c.range(0, 20) as u32;
            if !samples.contains(&s) {
                samples.push(s);
            }
        }
        let max_tokens = match c.range(0, 3) {
            0 => 1,
            1 => c.range(2, 4) as u32,
            _ => c.range(5, 40) as u32,
        };
        let stop = match c.range(0, 3) {
            0 => vec![" ".to_string()],
            1 => vec!["e".to_string(), "a".to_string()],
            _ => vec![],
        };
        let params = SamplingParams {
            temperature: if c.range(0, 1) == 0 { 0.0 } else { 0.9 },
            top_k: if c.range(0, 2) == 0 { 0 } else { 40 },
            max_tokens,
            stop,
            seed: c.next(),
            ..SamplingParams::default()
        };
        let request = GenerationRequest {
            prompt: Prompt::Completion(prompt.join(" ")),
            params,
            samples,
        };
        let delay = std::time::Duration::from_millis(c.range(0, 30));
        let b = std::sync::Arc::clone(b);
        handles.push(std::thread::spawn(move || {
            std::thread::sleep(delay);
            let gens = b
                .generate(&request)
                .unwrap_or_else(|e| panic!("request {r} failed: {e}"));
            let mut got: Vec<u32> = gens.iter().map(|g| g.sample).collect();
            got.sort();
            let mut want = request.samples.clone();
            want.sort();
            assert_eq!(got, want, "request {r}: each sample exactly once");
            for g in &gens {
                assert!(
                    g.usage.completion_tokens <= request.params.max_tokens,
                    "request {r}: {} tokens over a budget of {}",
                    g.usage.completion_tokens,
                    request.params.max_tokens
                );
            }
        }));
    }
    for h in handles {
        h.join().expect("a request thread panicked");
    }
    let stats = b.engine_stats();
    assert_eq!(stats.kv_positions_held, 0, "KV cells leaked: {stats:?}");
    // The engine still answers after all of it.
    let again = b
        .generate(&GenerationRequest {
            prompt: Prompt::Completion("the cat".into()),
            params: SamplingParams {
                max_tokens: 3,
                ..SamplingParams::default()
            },
            samples: vec![0],
        })
        .expect("the engine answers after the workload");
    assert_eq!(again.len(), 1);
}
