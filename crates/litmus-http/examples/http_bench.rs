//! A small generation workload through an HTTP backend, for BENCH_NOTES.md.
//!
//! ```text
//! PORT=$(scripts/llama-server.sh)
//! cargo run --release -p litmus-http --example http_bench -- openai:http://127.0.0.1:$PORT/v1 [PROMPTS] [SAMPLES] [MAX_TOKENS]
//! ```
//!
//! Sends PROMPTS (default 20) chat prompts × SAMPLES (default 4) samples,
//! MAX_TOKENS (default 64) tokens each at temperature 0.7, keeping
//! `parallelism()` requests in flight, and prints throughput.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use litmus_core::base::backend::{Generation, GenerationRequest, Prompt, SamplingParams};
use litmus_core::base::model::ModelSpec;

const TOPICS: &[&str] = &[
    "the sea",
    "a city at night",
    "bread",
    "winter",
    "a lost key",
    "mountains",
    "a library",
    "rain",
    "a train journey",
    "coffee",
    "the moon",
    "a garden",
    "an old clock",
    "friendship",
    "a storm",
    "the desert",
    "a market",
    "snow",
    "a bridge",
    "music",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let spec_str = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("openai:http://127.0.0.1:8080/v1");
    let prompts: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let samples: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let max_tokens: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(64);
    let spec = ModelSpec::parse(spec_str).expect("a spec such as openai:http://127.0.0.1:8080/v1");
    let backend = litmus_http::open(&spec).expect("open the backend");
    let info = backend.model().clone();
    let workers = backend.parallelism();
    println!(
        "model {} ({}; {:?}), parallelism {workers}; {prompts} prompts x {samples} samples, {max_tokens} max tokens, T=0.7",
        info.name, info.backend, info.quantization
    );
    // One request per (prompt, sample) so that `parallelism()` requests stay in flight,
    // as the runner does.
    let jobs: Vec<(usize, u32)> = (0..prompts)
        .flat_map(|p| (0..samples).map(move |s| (p, s)))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Generation>> = Mutex::new(Vec::new());
    let errors = AtomicUsize::new(0);
    let backend = Arc::clone(&backend);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(p, s)) = jobs.get(i) else { break };
                let topic = TOPICS[p % TOPICS.len()];
                let req = GenerationRequest {
                    prompt: Prompt::user(format!("Write a short paragraph about {topic}.")),
                    params: SamplingParams {
                        temperature: 0.7,
                        max_tokens,
                        seed: 1,
                        ..SamplingParams::default()
                    },
                    samples: vec![s],
                };
                match backend.generate(&req) {
                    Ok(g) => results.lock().unwrap().extend(g),
                    Err(e) => {
                        eprintln!("error: {e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let results = results.into_inner().unwrap();
    let gen_tokens: u64 = results
        .iter()
        .filter_map(|g| g.usage.completion_tokens.map(u64::from))
        .sum();
    let prompt_tokens: u64 = results
        .iter()
        .filter_map(|g| g.usage.prompt_tokens.map(u64::from))
        .sum();
    let mean = |f: &dyn Fn(&Generation) -> Option<f64>| {
        let v: Vec<f64> = results.iter().filter_map(f).collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    println!(
        "samples ok {} / errors {}",
        results.len(),
        errors.load(Ordering::Relaxed)
    );
    println!("wall {wall:.2} s; generated {gen_tokens} tokens, prompt {prompt_tokens} tokens");
    println!(
        "aggregate generation throughput: {:.2} tokens/s (generated tokens / wall time)",
        gen_tokens as f64 / wall
    );
    println!(
        "per request (server timings): mean generation {:.2} tokens/s, mean prompt {:.2} tokens/s, mean ttft {:.1} ms, mean latency {:.1} ms",
        mean(&|g| g.timings.generation_tps(&g.usage)),
        mean(&|g| g.timings.prompt_tps(&g.usage)),
        mean(&|g| g.timings.ttft_ms),
        mean(&|g| Some(g.timings.total_ms)),
    );
}
