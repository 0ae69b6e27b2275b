//! Shared helpers: a tiny llama-architecture GGUF with random weights and an
//! SPM tokenizer, written in the test itself.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use litmus_core::base::backend::{Generation, GenerationRequest, Prompt, SamplingParams};
use litmus_core::base::model::{BackendKind, ModelSpec};
use litmus_gguf::synth::{write_synthetic_model, SynthSpec};

pub const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Write the tests' tiny llama GGUF (2 layers, dim 64, F32 random weights).
pub fn write_tiny_model(path: &Path, chat_template: Option<&str>, seed: u64) {
    let spec = SynthSpec {
        chat_template: chat_template.map(str::to_string),
        seed,
        ..SynthSpec::tiny()
    };
    write_synthetic_model(path, &spec).expect("write tiny model");
}

/// A tiny model in a fresh temporary directory (kept alive by the returned guard).
pub fn tiny_model(chat_template: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.gguf");
    write_tiny_model(&path, chat_template, 7);
    (dir, path)
}

/// A completion request for `samples`.
pub fn req(prompt: &str, params: SamplingParams, samples: Vec<u32>) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Completion(prompt.into()),
        params,
        samples,
    }
}

/// Sampling at temperature 0.9 with a fixed seed.
pub fn sampled(max_tokens: u32) -> SamplingParams {
    SamplingParams {
        temperature: 0.9,
        top_k: 50,
        top_p: 0.95,
        min_p: 0.01,
        max_tokens,
        seed: 1234,
        ..Default::default()
    }
}

/// Each generation's (sample, text), by sample.
pub fn texts(gens: &[Generation]) -> Vec<(u32, String)> {
    let mut v: Vec<(u32, String)> = gens.iter().map(|g| (g.sample, g.text.clone())).collect();
    v.sort();
    v
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
                    g.usage.completion_tokens.unwrap() <= request.params.max_tokens,
                    "request {r}: {} tokens over a budget of {}",
                    g.usage.completion_tokens.unwrap(),
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
