//! Open a model with the default settings and print what the backend knows.
//!
//! ```text
//! cargo run --release -p litmus-llama --example info -- [SOURCE] [PROMPT]
//! ```
//! `SOURCE` is `builtin:gemma3-270m-q4_k_m` (default) or a GGUF path.

use litmus_core::base::backend::{Backend, GenerationRequest, Prompt, SamplingParams};
use litmus_core::base::model::ModelSpec;
use litmus_llama::{
    describe_gguf, list_cached_models, peak_rss_bytes, resolve_model_path, LlamaBackend,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let source = args
        .next()
        .unwrap_or_else(|| litmus_llama::DEFAULT_SOURCE.to_string());
    let prompt = args
        .next()
        .unwrap_or_else(|| "What is the capital of France?".to_string());
    println!("cached models in {}:", litmus_llama::cache_dir().display());
    for m in list_cached_models() {
        let q = m
            .info
            .as_ref()
            .and_then(|i| i.quantization.clone())
            .unwrap_or_default();
        println!(
            "  {:<28} {:>8} MiB  {q:<8} verified={}  {}",
            m.source,
            m.size_bytes >> 20,
            m.verified,
            m.path.display()
        );
    }
    let path = resolve_model_path(&source).expect("resolve");
    println!("{:#?}", describe_gguf(&path).expect("describe"));
    let spec = ModelSpec::parse(&source).unwrap_or_else(|| ModelSpec {
        source: source.clone(),
        ..Default::default()
    });
    let b = LlamaBackend::open(&spec).expect("open");
    println!("{:#?}", b.model());
    println!("{:#?}", b.settings());
    println!("chat format: {}", b.chat_format());
    println!("llama.cpp: {}", litmus_llama::system_info());
    let rss_loaded = peak_rss_bytes().unwrap_or(0);
    let req = GenerationRequest {
        prompt: Prompt::user(prompt),
        params: SamplingParams {
            temperature: 0.0,
            max_tokens: 48,
            ..Default::default()
        },
        samples: vec![0],
    };
    let g = b.generate(&req).expect("generate");
    println!(
        "answer: {:?}\n{:?} {:?} {:?}",
        g[0].text, g[0].finish, g[0].usage, g[0].timings
    );
    println!(
        "peak RSS: {} MiB after loading, {} MiB after generating",
        rss_loaded >> 20,
        peak_rss_bytes().unwrap_or(0) >> 20
    );
}
